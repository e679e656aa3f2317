import { ConfigurationError } from './errors.ts';

/**
 * The one template engine: `{{ name }}` placeholders in release names, values-file paths, smoke
 * URLs, check paths and headers, metric queries and the root action's smoke URL. No expressions,
 * no filters, no environment: a placeholder names a value the caller hands in, nothing else.
 *
 * Each use states its dialect (the names it knows), so a typo (`{{ tenant.slugg }}`) or a stray
 * brace (`{{ tenant.slug }`) fails when the input is read, before anything is deployed or sent.
 */
export interface Dialect {
  /** Names that stand for one value: `tenant.slug`, `release`. */
  fields: readonly string[];
  /** Names of maps read by key: `tenant.labels` for `{{ tenant.labels.ring }}`, `secrets`. */
  maps?: readonly string[];
  /** Known names this use refuses (a release-name template cannot use the release). */
  forbid?: readonly string[];
  /** How to write a placeholder this dialect knows, shown with every refusal. */
  hint: string;
}

/** One placeholder: a field (`name`), or a map entry (`name` and `key`). */
export interface Ref {
  name: string;
  key?: string;
  /** As written, e.g. `{{tenant.slug}}`. */
  raw: string;
}

export interface Template {
  /** What holds the template, for messages: `input "release-name"`, `check "h": field "path"`. */
  subject: string;
  source: string;
  /** Literal text and placeholders, in order. */
  parts: Array<string | Ref>;
}

/** The values a template may read: a string per field, a map per map name. Own properties only. */
export type TemplateValues = Readonly<Record<string, string | Readonly<Record<string, string>> | undefined>>;

export interface ExpandOptions {
  /** Applied to each substituted value: `encodeURIComponent` in URLs, PromQL string escaping in queries. */
  escape?: (value: string) => string;
  /** Placeholders this pass leaves as written, for a later pass (secrets at parse time, the tenant per target). */
  keep?: (ref: Ref) => boolean;
  /** What a placeholder with no value gives (or throws). Default: an error naming the template. */
  missing?: (ref: Ref, t: Template) => string;
}

const PLACEHOLDER = /\{\{\s*([^{}]*?)\s*\}\}/g;
// A map key: label keys such as `dotmac.io/region`, secret names such as `API_TOKEN`.
const KEY = /^[A-Za-z0-9_][-A-Za-z0-9_./]*$/;

function shown(raw: string, source: string): string {
  return raw === source ? '' : ` of template "${source}"`;
}

function parseRef(raw: string, expr: string, d: Dialect, subject: string, source: string): Ref {
  const ref: Ref | undefined = d.fields.includes(expr)
    ? { name: expr, raw }
    : d.maps
        ?.filter((m) => expr.startsWith(`${m}.`) && KEY.test(expr.slice(m.length + 1)))
        .map((m) => ({ name: m, key: expr.slice(m.length + 1), raw }))[0];
  if (!ref) {
    // A known root with a wrong field (`tenant.slugg`) says so; anything else is not a placeholder here.
    const root = expr.split('.')[0]!;
    const known = [...d.fields, ...(d.maps ?? [])].some((n) => n.startsWith(`${root}.`));
    const problem = known ? `unknown ${root} field in "${raw}"` : `unsupported placeholder "${raw}"`;
    throw new ConfigurationError(subject, `${problem}${shown(raw, source)}`, d.hint);
  }
  if (d.forbid?.includes(ref.name)) throw new ConfigurationError(subject, `may not use "${ref.name}" in template "${source}"`, d.hint);
  return ref;
}

/** Parses and checks a template: every brace balanced, every placeholder known to the dialect. */
export function compileTemplate(source: string, subject: string, dialect: Dialect): Template {
  const matches = [...source.matchAll(PLACEHOLDER)];
  const literals = matches.map((m, i) => source.slice(i ? matches[i - 1]!.index + matches[i - 1]![0].length : 0, m.index));
  literals.push(source.slice(matches.length ? matches.at(-1)!.index + matches.at(-1)![0].length : 0));
  // Braces first: `{{ tenant.slug }` is a typo of the placeholder, whatever the rest of the template says.
  if (literals.some((l) => l.includes('{{') || l.includes('}}')))
    throw new ConfigurationError(subject, `template "${source}" has an unbalanced "{{" or "}}"`, dialect.hint);
  const parts: Template['parts'] = [literals[0]!];
  matches.forEach((m, i) => parts.push(parseRef(m[0], m[1]!, dialect, subject, source), literals[i + 1]!));
  return { subject, source, parts };
}

/** The value of one placeholder, reading own properties only (`labels.constructor` is no label). */
export function lookup(values: TemplateValues, ref: Ref): string | undefined {
  const v = Object.hasOwn(values, ref.name) ? values[ref.name] : undefined;
  if (ref.key === undefined) return typeof v === 'string' ? v : undefined;
  return v !== undefined && typeof v !== 'string' && Object.hasOwn(v, ref.key) ? v[ref.key] : undefined;
}

export function expandTemplate(t: Template, values: TemplateValues, opts: ExpandOptions = {}): string {
  let out = '';
  for (const p of t.parts) {
    if (typeof p === 'string') out += p;
    else if (opts.keep?.(p)) out += p.raw;
    else {
      const v = lookup(values, p);
      if (v !== undefined) out += opts.escape ? opts.escape(v) : v;
      else if (opts.missing) out += opts.missing(p, t);
      else throw new ConfigurationError(t.subject, `template "${t.source}" has no value for "${p.raw}"`);
    }
  }
  return out;
}

/** Escapes a value for a double-quoted PromQL string (label matchers). */
export function promqlString(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}
