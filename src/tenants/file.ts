import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import { LineCounter, isMap, isPair, isScalar, isSeq, parseDocument, type Document, type Node as YamlNode } from 'yaml';
import schema from '../../schemas/tenants.schema.json' with { type: 'json' };
import { ConfigurationError } from '../core/errors.ts';
import { closest, suggest } from '../core/closest.ts';
import type { ClusterSpec } from '../clusters/model.ts';
import { containedPath } from '../core/paths.ts';
import {
  DEFAULT_NAMESPACE_PREFIX,
  checkUniqueTenants,
  compileReleaseTemplate,
  expandReleaseName,
  tenantProblem,
  type Tenant,
} from './model.ts';

/**
 * The tenants file: `{ tenants: [ { id, slug?, namespace?, release?, labels?, values?, valuesFiles? } ] }`,
 * validated with the published schema `schemas/tenants.schema.json`. Every error names the file
 * and the line and column of the offending node, so the action can annotate it.
 */
export interface TenantsFileOptions {
  /** Namespace of a tenant without one: prefix + slug. Default `tenant-`. */
  namespacePrefix?: string;
  /** Release name of a tenant without one. Default `{{ tenant.slug }}`. */
  releaseTemplate?: string;
  /** Input that holds `releaseTemplate`, for messages. Default `release-name`. */
  releaseTemplateInput?: string;
}

interface RawTenant {
  id: string;
  cluster?: string;
  slug?: string;
  namespace?: string;
  release?: string;
  labels?: Record<string, string>;
  values?: Record<string, unknown>;
  valuesFiles?: string[];
  hold?: { reason: string; until?: string };
}

let validator: ValidateFunction | undefined;
function validate(data: unknown): ErrorObject[] {
  validator ??= new Ajv2020({ allErrors: false, strict: true }).compile(schema);
  return validator(data) ? [] : [...(validator.errors ?? [])];
}

type Where = { line: number; column: number };

interface RawCluster {
  name: string;
  context?: string;
  kubeconfigEnv?: string;
  labels?: Record<string, string>;
  home?: boolean;
}

/** A tenants file: its tenants and the clusters it declares (empty: the run's one cluster). */
export interface TenantsDocument {
  tenants: Tenant[];
  clusters: ClusterSpec[];
}

/** Reads and parses a tenants file from disk. */
export async function loadTenantsFile(file: string, opts: TenantsFileOptions = {}): Promise<Tenant[]> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new ConfigurationError(
      file,
      code === 'ENOENT' ? 'tenants file not found' : `cannot read the tenants file (${code ?? String(err)})`,
      'check the tenants-file path (relative to the workspace)',
      { file },
    );
  }
  return parseTenantsFile(text, file, opts);
}

/**
 * Parses the text of a tenants file named `file` (used in messages and as the base directory of
 * `valuesFiles`, which must stay inside it).
 */
export function parseTenantsFile(text: string, file: string, opts: TenantsFileOptions = {}): Tenant[] {
  return parseTenantsDocument(text, file, opts).tenants;
}

/** The whole document: tenants, each tagged with its cluster, and the `clusters:` section. */
export function parseTenantsDocument(text: string, file: string, opts: TenantsFileOptions = {}): TenantsDocument {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const at = (offset: number): Where => {
    const { line, col } = lineCounter.linePos(offset);
    return { line, column: col };
  };
  const fail = (where: Where, message: string, hint?: string): never => {
    throw new ConfigurationError(`${file}:${where.line}:${where.column}`, message, hint, { file, line: where.line, column: where.column });
  };

  const syntax = doc.errors[0];
  if (syntax) {
    const pos = syntax.linePos?.[0];
    const where = pos ? { line: pos.line, column: pos.col } : at(syntax.pos[0]);
    fail(where, `malformed YAML: ${firstLine(syntax.message)}`, 'fix the YAML syntax');
  }
  const data: unknown = doc.toJS({ maxAliasCount: 1000 });
  const errors = validate(data);
  if (errors.length > 0) {
    const { offset, message, hint } = explain(errors, doc, data);
    fail(at(offset), message, hint);
  }

  const raws = (data as { tenants: RawTenant[] }).tenants;
  const clusters = parseClusters((data as { clusters?: RawCluster[] }).clusters ?? [], doc, at, fail);
  const names = clusters.map((c) => c.name);
  const prefix = opts.namespacePrefix ?? DEFAULT_NAMESPACE_PREFIX;
  const release = compileReleaseTemplate(opts.releaseTemplateInput, opts.releaseTemplate);
  const baseDir = path.posix.dirname(file.replaceAll('\\', '/'));
  const itemWhere = (i: number): Where => at(rangeStart(nodeAt(doc, ['tenants', i])?.node) ?? 0);

  const tenants = raws.map((r, i): Tenant => {
    const where = itemWhere(i);
    // With one declared cluster a tenant may leave it out; with several, guessing would deploy to the wrong one.
    const cluster = r.cluster ?? (clusters.length === 1 ? clusters[0]!.name : undefined);
    if (clusters.length > 1 && r.cluster === undefined)
      fail(where, `tenant "${r.id}" names no cluster`, `add cluster: <one of ${names.join(', ')}>`);
    if (r.cluster !== undefined && !names.includes(r.cluster)) {
      const w = at(locate(doc, ['tenants', i, 'cluster']));
      fail(
        w,
        `tenant "${r.id}" names unknown cluster "${r.cluster}"`,
        clusters.length ? suggest(r.cluster, names) : 'declare it in a clusters: section',
      );
    }
    const slug = r.slug ?? r.id;
    const namespace = r.namespace ?? `${prefix}${slug}`;
    const labels = r.labels ?? {};
    try {
      const t: Tenant = {
        id: r.id,
        slug,
        namespace,
        release: r.release ?? expandReleaseName(release, { id: r.id, slug, namespace, labels }),
        labels,
        values: r.values ?? {},
        valuesFiles: (r.valuesFiles ?? []).map((f) => containedPath(`tenant "${r.id}" valuesFiles`, f, baseDir)),
        ...(cluster ? { cluster } : {}),
        ...(r.hold ? { hold: { ...r.hold, source: `tenants file ${file}` } } : {}),
      };
      if (r.hold?.until && Number.isNaN(Date.parse(r.hold.until)))
        fail(
          where,
          `tenant "${r.id}": hold.until "${r.hold.until}" is not a time`,
          'write an ISO 8601 time with a zone, e.g. 2026-12-24T00:00:00Z',
        );
      const p = tenantProblem(t);
      if (p) fail(where, `tenant "${r.id}": ${p.message}`, p.hint);
      return t;
    } catch (err) {
      // Derived names (default namespace, templated release, values paths) point at the tenant.
      if (err instanceof ConfigurationError && !err.location) fail(where, err.message);
      throw err;
    }
  });

  checkUniqueTenants(tenants, (i) => {
    const w = itemWhere(i);
    return { subject: `${file}:${w.line}:${w.column}`, location: { file, ...w }, short: `line ${w.line}` };
  });
  return { tenants, clusters };
}

/** The `clusters:` section: unique names, one home when there are several, a reach each. */
function parseClusters(
  raws: RawCluster[],
  doc: Document,
  at: (offset: number) => Where,
  fail: (where: Where, message: string, hint?: string) => never,
): ClusterSpec[] {
  const where = (i: number, key?: string) => at(locate(doc, key ? ['clusters', i, key] : ['clusters', i]));
  const seen = new Map<string, number>();
  const out = raws.map((c, i): ClusterSpec => {
    const first = seen.get(c.name);
    if (first !== undefined) fail(where(i, 'name'), `duplicate cluster name "${c.name}" (also at line ${where(first).line})`);
    seen.set(c.name, i);
    const reach: ClusterSpec['reach'] = c.kubeconfigEnv
      ? { kind: 'kubeconfig-env', env: c.kubeconfigEnv, ...(c.context ? { context: c.context } : {}) }
      : { kind: 'context', context: c.context ?? c.name };
    return { name: c.name, reach, labels: c.labels ?? {}, home: c.home === true };
  });
  const homes = out.map((c, i) => ({ c, i })).filter((x) => x.c.home);
  if (homes.length > 1)
    fail(
      where(homes[1]!.i, 'home'),
      `clusters "${homes[0]!.c.name}" and "${homes[1]!.c.name}" are both home`,
      'mark exactly one cluster home: true',
    );
  if (out.length > 1 && homes.length === 0)
    fail(
      where(0),
      'no cluster is the home cluster',
      'mark the one that holds fleet-level objects (pause, lock, shard coordination) with home: true',
    );
  return out;
}

function firstLine(s: string): string {
  return s.split('\n')[0]!.trim();
}

function rangeStart(node: unknown): number | undefined {
  return (node as { range?: [number, number, number] } | undefined)?.range?.[0];
}

/** The YAML node at a data path, and the key node when it is a map entry. */
function nodeAt(doc: Document, segments: Array<string | number>): { node: YamlNode | undefined; key?: YamlNode } | undefined {
  let node: unknown = doc.contents;
  let key: YamlNode | undefined;
  for (const seg of segments) {
    if (isSeq(node)) {
      node = node.items[Number(seg)];
      key = undefined;
    } else if (isMap(node)) {
      const pair = node.items.find((p) => isPair(p) && (isScalar(p.key) ? String(p.key.value) : String(p.key)) === String(seg));
      if (!pair) return undefined;
      key = pair.key as YamlNode;
      node = pair.value ?? pair.key;
    } else {
      return undefined;
    }
  }
  return { node: node as YamlNode | undefined, key };
}

/** Finds the node of the deepest existing prefix of `segments`. */
function locate(doc: Document, segments: Array<string | number>, useKey = false): number {
  for (let n = segments.length; n >= 0; n--) {
    const found = nodeAt(doc, segments.slice(0, n));
    const offset = rangeStart(useKey && n === segments.length ? (found?.key ?? found?.node) : found?.node);
    if (offset !== undefined) return offset;
  }
  return 0;
}

function pointerSegments(pointer: string): Array<string | number> {
  if (!pointer) return [];
  return pointer
    .slice(1)
    .split('/')
    .map((s) => s.replaceAll('~1', '/').replaceAll('~0', '~'))
    .map((s) => (/^\d+$/.test(s) ? Number(s) : s));
}

function display(segments: Array<string | number>): string {
  return segments.map((s, i) => (typeof s === 'number' ? `[${s}]` : i === 0 ? s : `.${s}`)).join('') || 'the document';
}

const ID_HINT = 'use at most 63 lowercase letters, digits and "-", starting and ending with a letter or digit';
const FIELD_RULES: Record<string, { what: string; hint: string }> = {
  id: { what: 'tenant id', hint: ID_HINT },
  slug: { what: 'slug', hint: ID_HINT },
  namespace: { what: 'namespace name', hint: ID_HINT },
  release: {
    what: 'Helm release name',
    hint: 'use at most 53 lowercase letters, digits, "-" and ".", starting and ending with a letter or digit',
  },
};
const TENANT_KEYS = ['id', 'slug', 'namespace', 'release', 'cluster', 'labels', 'values', 'valuesFiles', 'hold'];
const CLUSTER_KEYS = ['name', 'context', 'kubeconfigEnv', 'labels', 'home'];
const TOP_KEYS = ['clusters', 'tenants'];

function valueAt(data: unknown, segments: Array<string | number>): unknown {
  let v = data;
  for (const s of segments) v = (v as Record<string | number, unknown> | undefined)?.[s];
  return v;
}

/** One clear sentence and a position for the first schema error. */
function explain(errors: ErrorObject[], doc: Document, data: unknown): { offset: number; message: string; hint?: string } {
  const named = errors.find((e) => e.keyword === 'propertyNames' || (e.params as { propertyName?: string }).propertyName !== undefined);
  const e = named ?? errors[0]!;
  const segs = pointerSegments(e.instancePath);
  const where = display(segs);
  const params = e.params as Record<string, unknown>;
  const inTenant = segs[0] === 'tenants' && typeof segs[1] === 'number';

  if (named) {
    const name = String(params.propertyName ?? '');
    return {
      offset: locate(doc, [...segs, name], true),
      message: `${where}: label key "${name}" is not valid`,
      hint: 'use a Kubernetes label key such as "ring" or "dotmac.io/ring"',
    };
  }
  switch (e.keyword) {
    case 'additionalProperties': {
      const key = String(params.additionalProperty);
      const inCluster = segs[0] === 'clusters' && typeof segs[1] === 'number' && segs.length === 2;
      const allowed = inTenant && segs.length === 2 ? TENANT_KEYS : inCluster ? CLUSTER_KEYS : segs.length === 0 ? TOP_KEYS : undefined;
      const near = allowed && closest(key, allowed);
      return {
        offset: locate(doc, [...segs, key], true),
        message: `${where}: unknown key "${key}"${near ? ` (did you mean "${near}"?)` : ''}`,
        hint: allowed ? `allowed keys: ${allowed.join(', ')}` : undefined,
      };
    }
    case 'required':
      return { offset: locate(doc, segs), message: `${where}: missing required key "${String(params.missingProperty)}"` };
    case 'type':
      return {
        offset: locate(doc, segs),
        message: `${where} must be ${params.type === 'object' ? 'a mapping' : params.type === 'array' ? 'a list' : `a ${String(params.type)}`}`,
        hint: params.type === 'string' ? 'quote the value' : undefined,
      };
  }
  const leaf = segs[segs.length - 1];
  const value = valueAt(data, segs);
  if (inTenant && segs.length === 3 && typeof leaf === 'string' && FIELD_RULES[leaf]) {
    const rule = FIELD_RULES[leaf];
    return { offset: locate(doc, segs), message: `${where}: "${String(value)}" is not a valid ${rule.what}`, hint: rule.hint };
  }
  if (inTenant && segs[2] === 'labels' && segs.length === 4) {
    return {
      offset: locate(doc, segs),
      message: `${where}: "${String(value)}" is not a valid label value`,
      hint: 'use at most 63 letters, digits, "-", "_" and ".", starting and ending with a letter or digit',
    };
  }
  return { offset: locate(doc, segs), message: `${where} ${e.message ?? 'is invalid'}` };
}
