import path from 'node:path';
import { ConfigurationError, inputError } from '../core/errors.ts';
import { isReleaseName } from '../core/names.ts';
import type { Tenant } from './model.ts';

/**
 * `{{ tenant.<field> }}` templates for release names and per-tenant values-file paths.
 * Only tenant fields exist: id, slug, namespace, release and labels.<key>. No expressions, no
 * filters, no environment: a template cannot reach anything but the tenant it is expanded for.
 */
export type TemplateField = { field: 'id' | 'slug' | 'namespace' | 'release' } | { label: string };

/** What a template may read; `release` is absent while the release name itself is being made. */
export type TemplateContext = Pick<Tenant, 'id' | 'slug' | 'namespace' | 'labels'> & { release?: string };

export interface Template {
  /** The input that holds the template, for messages (e.g. `release-name`). */
  input: string;
  source: string;
  /** Literal text and fields, alternating. */
  parts: Array<string | TemplateField>;
}

const PLACEHOLDER = /\{\{\s*([^{}]*?)\s*\}\}/g;
const FIELDS_HINT = 'use {{ tenant.id }}, {{ tenant.slug }}, {{ tenant.namespace }}, {{ tenant.release }} or {{ tenant.labels.<key> }}';

export function compileTemplate(
  input: string,
  source: string,
  opts: { forbid?: ReadonlyArray<'id' | 'slug' | 'namespace' | 'release'> } = {},
): Template {
  const parts: Template['parts'] = [];
  let last = 0;
  for (const m of source.matchAll(PLACEHOLDER)) {
    const literal = source.slice(last, m.index);
    if (literal.includes('{{') || literal.includes('}}')) throw inputError(input, source, 'has an unbalanced "{{" or "}}"', FIELDS_HINT);
    parts.push(literal);
    const expr = m[1]!;
    let field: TemplateField;
    const label = /^tenant\.labels\.([A-Za-z0-9][-A-Za-z0-9_./]*)$/.exec(expr);
    if (label) field = { label: label[1]! };
    else if (/^tenant\.(id|slug|namespace|release)$/.test(expr))
      field = { field: expr.slice('tenant.'.length) as 'id' | 'slug' | 'namespace' | 'release' };
    else throw inputError(input, source, `uses unknown field "${expr}"`, FIELDS_HINT);
    if ('field' in field && opts.forbid?.includes(field.field)) throw inputError(input, source, `may not use "${expr}"`, FIELDS_HINT);
    parts.push(field);
    last = m.index + m[0].length;
  }
  const tail = source.slice(last);
  if (tail.includes('{{') || tail.includes('}}')) throw inputError(input, source, 'has an unbalanced "{{" or "}}"', FIELDS_HINT);
  parts.push(tail);
  return { input, source, parts };
}

export function expandTemplate(t: Template, tenant: TemplateContext): string {
  let out = '';
  for (const p of t.parts) {
    if (typeof p === 'string') out += p;
    else if ('label' in p) {
      const v = Object.hasOwn(tenant.labels, p.label) ? tenant.labels[p.label] : undefined;
      if (v === undefined) {
        throw new ConfigurationError(
          `input "${t.input}"`,
          `template "${t.source}" needs label "${p.label}", which tenant "${tenant.id}" does not have`,
          `label every tenant with "${p.label}" or change the template`,
        );
      }
      out += v;
    } else {
      const v = tenant[p.field];
      if (v === undefined)
        throw new ConfigurationError(`input "${t.input}"`, `template "${t.source}" cannot use tenant.${p.field} here`, FIELDS_HINT);
      out += v;
    }
  }
  return out;
}

/** Release-name templates may not refer to the release itself. */
export function compileReleaseTemplate(input: string, source: string): Template {
  return compileTemplate(input, source, { forbid: ['release'] });
}

export function expandReleaseName(t: Template, tenant: TemplateContext): string {
  const name = expandTemplate(t, tenant);
  if (!isReleaseName(name)) {
    throw new ConfigurationError(
      `input "${t.input}"`,
      `template "${t.source}" gives "${name}" for tenant "${tenant.id}", which is not a valid Helm release name`,
      'the result must be at most 53 lowercase letters, digits, "-" and "."',
    );
  }
  return name;
}

/**
 * Joins a relative path onto `baseDir`, refusing anything that would leave it: absolute paths,
 * `..` that climbs above the base, NUL bytes. Returns the joined path (posix separators).
 */
export function containedPath(subject: string, relative: string, baseDir: string): string {
  const problem =
    relative === ''
      ? 'is empty'
      : relative.includes('\0')
        ? 'contains a NUL byte'
        : path.posix.isAbsolute(relative) || path.win32.isAbsolute(relative)
          ? 'is absolute'
          : undefined;
  const normal = path.posix.normalize(relative.replaceAll('\\', '/'));
  const escapes = normal === '..' || normal.startsWith('../');
  if (problem || escapes) {
    throw new ConfigurationError(
      subject,
      `path "${relative}" ${problem ?? `leaves the base directory "${baseDir}"`}`,
      'use a path relative to the base directory, without ".." above it',
    );
  }
  return path.posix.join(baseDir.replaceAll('\\', '/') || '.', normal);
}

/** Expands a values-file path template for one tenant and keeps it inside `baseDir`. */
export function expandValuesPath(t: Template, tenant: TemplateContext, baseDir: string): string {
  const rel = expandTemplate(t, tenant);
  return containedPath(`input "${t.input}" (template "${t.source}", tenant "${tenant.id}")`, rel, baseDir);
}
