import { ConfigurationError, inputError } from '../core/errors.ts';
import type { NamespaceInfo } from '../kube/ports.ts';
import {
  DEFAULT_NAMESPACE_PREFIX,
  HOLD_ANNOTATION,
  HOLD_UNTIL_ANNOTATION,
  TENANT_TEMPLATE,
  checkUniqueTenants,
  compileReleaseTemplate,
  expandReleaseName,
  expandValuesPath,
  isTenantId,
  tenantProblem,
  type Tenant,
  type TenantHold,
} from './model.ts';
import { compileTemplate } from '../core/template.ts';

export { loadTenantsFile, parseTenantsDocument, parseTenantsFile, type TenantsDocument, type TenantsFileOptions } from './file.ts';

/** Seeds convention: tenant namespaces carry this label. */
export const DEFAULT_TENANT_SELECTOR = 'app.kubernetes.io/component=tenant';
export const DEFAULT_ID_KEY = 'dotmac.io/tenant-id';
export const DEFAULT_SLUG_KEY = 'dotmac.io/tenant-slug';

export interface NamespaceSourceOptions {
  /** Label, else annotation, holding the tenant id. Default `dotmac.io/tenant-id`. */
  idKey?: string;
  /** Label, else annotation, holding the slug. Default `dotmac.io/tenant-slug`. */
  slugKey?: string;
  /** Stripped from the namespace name to make the slug when there is no slug key. Default `tenant-`. */
  namespacePrefix?: string;
  /** Default `{{ tenant.slug }}`. */
  releaseTemplate?: string;
  /** Input that holds `releaseTemplate`, for messages. Default `release-name`. */
  releaseTemplateInput?: string;
  /** Namespace labels copied onto the tenant. Default: all of them. */
  labelKeys?: readonly string[];
}

/**
 * Tenants from namespaces (already listed by a label selector, e.g. `app.kubernetes.io/component=tenant`).
 *   slug = slug label/annotation, else the namespace name without the prefix (`tenant-fast-fiber` -> `fast-fiber`);
 *   id   = id label/annotation, else the slug;
 *   labels = the namespace's labels (or `labelKeys` of them).
 * A namespace whose id, slug or release is not valid is an error naming the namespace: silently
 * skipping it would leave a tenant behind on the old version.
 */
export function tenantsFromNamespaces(namespaces: readonly NamespaceInfo[], opts: NamespaceSourceOptions = {}): Tenant[] {
  const idKey = opts.idKey ?? DEFAULT_ID_KEY;
  const slugKey = opts.slugKey ?? DEFAULT_SLUG_KEY;
  const prefix = opts.namespacePrefix ?? DEFAULT_NAMESPACE_PREFIX;
  const release = compileReleaseTemplate(opts.releaseTemplateInput, opts.releaseTemplate);
  const pick = (ns: NamespaceInfo, key: string): string | undefined => {
    const v = Object.hasOwn(ns.labels, key) ? ns.labels[key] : Object.hasOwn(ns.annotations, key) ? ns.annotations[key] : undefined;
    return v === undefined || v.trim() === '' ? undefined : v.trim();
  };

  const tenants = namespaces.map((ns): Tenant => {
    const subject = `namespace "${ns.name}"`;
    const slug =
      pick(ns, slugKey) ??
      (prefix && ns.name.startsWith(prefix) && ns.name.length > prefix.length ? ns.name.slice(prefix.length) : ns.name);
    const id = pick(ns, idKey) ?? slug;
    if (!isTenantId(id))
      throw new ConfigurationError(
        subject,
        `tenant id "${id}" (from "${idKey}") is not valid`,
        'use at most 63 lowercase letters, digits and "-"',
      );
    if (!isTenantId(slug))
      throw new ConfigurationError(subject, `tenant slug "${slug}" is not valid`, `set the "${slugKey}" label to a lowercase DNS label`);
    let labels: Record<string, string>;
    if (opts.labelKeys) {
      labels = {};
      for (const k of opts.labelKeys) if (Object.hasOwn(ns.labels, k)) labels[k] = ns.labels[k]!;
    } else {
      labels = { ...ns.labels };
    }
    const t: Tenant = {
      id,
      slug,
      namespace: ns.name,
      release: expandReleaseName(release, { id, slug, namespace: ns.name, labels }),
      labels,
      values: {},
      valuesFiles: [],
    };
    const hold = namespaceHold(ns);
    if (hold) t.hold = hold;
    const p = tenantProblem(t);
    if (p) throw new ConfigurationError(subject, p.message, p.hint);
    return t;
  });
  checkUniqueTenants(tenants, (i) => ({ subject: `namespace "${namespaces[i]!.name}"`, short: `namespace "${namespaces[i]!.name}"` }));
  return tenants;
}

/**
 * The hold a namespace puts on its tenant: its annotations (`deploy-actions.dotmac.io/hold`,
 * `-until`), or its deletion. A Terminating namespace refuses new objects, so an upgrade there
 * could only fail and spend the failure budget on a tenant somebody is removing: it is held, and
 * every report shows it, until the namespace is gone (then the tenant is no longer found).
 */
export function namespaceHold(ns: NamespaceInfo): TenantHold | undefined {
  if (ns.terminating) return { reason: 'the namespace is being deleted (Terminating)', source: `namespace ${ns.name} status` };
  const reason = ns.annotations[HOLD_ANNOTATION]?.trim();
  if (!reason) return undefined;
  const until = ns.annotations[HOLD_UNTIL_ANNOTATION]?.trim() || undefined;
  if (until && Number.isNaN(Date.parse(until)))
    throw new ConfigurationError(
      `namespace "${ns.name}"`,
      `annotation ${HOLD_UNTIL_ANNOTATION} "${until}" is not a time`,
      'write an ISO 8601 time with a zone, e.g. 2026-12-24T00:00:00Z',
    );
  return { reason, until, source: `annotation on namespace ${ns.name}` };
}

/**
 * Tenants named by a tenants file or a list, with the holds their namespaces' annotations put on
 * them (`lookup`: the namespace as read, undefined when it does not exist). A tenant held both in
 * the file and by its namespace keeps the hold that lasts longer.
 */
export function withNamespaceHolds(tenants: readonly Tenant[], lookup: (t: Tenant) => NamespaceInfo | undefined): Tenant[] {
  const end = (h: TenantHold) => (h.until ? Date.parse(h.until) : Infinity);
  return tenants.map((t) => {
    const ns = lookup(t);
    const hold = ns ? namespaceHold(ns) : undefined;
    if (!hold || (t.hold && end(t.hold) >= end(hold))) return t;
    return { ...t, hold };
  });
}

export interface ListSourceOptions {
  namespacePrefix?: string;
  releaseTemplate?: string;
  releaseTemplateInput?: string;
}

/**
 * Tenants from an inline list (an action input): ids separated by commas, spaces or newlines.
 * Each gets slug = id, namespace = `tenant-<id>`, release from the template, no labels.
 */
export function tenantsFromList(input: string, value: string, opts: ListSourceOptions = {}): Tenant[] {
  const prefix = opts.namespacePrefix ?? DEFAULT_NAMESPACE_PREFIX;
  const release = compileReleaseTemplate(opts.releaseTemplateInput, opts.releaseTemplate);
  const ids = value.split(/[\s,]+/).filter(Boolean);
  const tenants = ids.map((id): Tenant => {
    if (!isTenantId(id))
      throw inputError(
        input,
        id,
        'is not a valid tenant id',
        'use at most 63 lowercase letters, digits and "-", separated by commas or newlines',
      );
    const ctx = { id, slug: id, namespace: `${prefix}${id}`, labels: {} };
    const t: Tenant = { ...ctx, release: expandReleaseName(release, ctx), values: {}, valuesFiles: [] };
    const p = tenantProblem(t);
    if (p) throw inputError(input, id, p.message, p.hint);
    return t;
  });
  checkUniqueTenants(tenants, (i) => ({ subject: `input "${input}"`, short: `position ${i + 1}` }));
  return tenants;
}

export interface ValuesTemplateOptions {
  /** Input that holds the templates, for messages. Default `tenant-values-files`. */
  input?: string;
  /** Each a path template, e.g. `values/{{ tenant.slug }}.yaml`. */
  templates: readonly string[];
  /** Expanded paths are joined onto it and may not leave it. Default `.`. */
  baseDir?: string;
  /** Whether a file exists (the caller's filesystem port). */
  exists: (path: string) => boolean;
  /**
   * What a missing templated file means. Default `skip`: per-tenant overrides are the exception,
   * so most tenants have no file; the caller logs `missing`. `error` when every tenant must have one.
   */
  ifMissing?: 'skip' | 'error';
}

/**
 * Adds templated per-tenant values files. They come before the tenant's own `valuesFiles` from
 * the tenants file (the explicit list is the more specific, and helm lets the later file win);
 * a path the tenant already lists is not added twice. Templates are checked before any tenant
 * is expanded, so an unknown field is an error even for an empty fleet.
 */
export function addTemplatedValuesFiles(
  tenants: readonly Tenant[],
  opts: ValuesTemplateOptions,
): { tenants: Tenant[]; missing: Array<{ id: string; path: string }> } {
  const input = opts.input ?? 'tenant-values-files';
  const templates = opts.templates
    .map((t) => t.trim())
    .filter(Boolean)
    .map((t) => compileTemplate(t, `input "${input}"`, TENANT_TEMPLATE));
  const missing: Array<{ id: string; path: string }> = [];
  const out = tenants.map((t) => {
    const added: string[] = [];
    for (const tpl of templates) {
      const p = expandValuesPath(tpl, t, opts.baseDir ?? '.');
      if (t.valuesFiles.includes(p) || added.includes(p)) continue;
      if (!opts.exists(p)) {
        if ((opts.ifMissing ?? 'skip') === 'error') {
          throw new ConfigurationError(
            `input "${input}"`,
            `values file "${p}" for tenant "${t.id}" does not exist (template "${tpl.source}")`,
            'add the file, or let missing per-tenant files be skipped',
          );
        }
        missing.push({ id: t.id, path: p });
        continue;
      }
      added.push(p);
    }
    return added.length ? { ...t, valuesFiles: [...added, ...t.valuesFiles] } : t;
  });
  return { tenants: out, missing };
}
