import { LineCounter, isMap, isSeq, parseDocument } from 'yaml';
import type { Node } from 'yaml';
import { ConfigurationError } from '../core/errors.ts';
import { parseDuration } from '../core/duration.ts';
import { ExpressionError, parseJsonExpectation } from './expression.ts';
import type { JsonExpectation } from './expression.ts';
import { compileTemplate, expandTemplate } from '../core/template.ts';
import type { Dialect } from '../core/template.ts';
import { TENANT_FIELDS, TENANT_TEMPLATE } from '../tenants/model.ts';

/** Check paths, headers and bodies: the tenant's fields, and the named secrets of the `secrets` input. */
export const CHECK_TEMPLATE: Dialect = {
  fields: TENANT_FIELDS,
  maps: ['tenant.labels', 'secrets'],
  hint: `${TENANT_TEMPLATE.hint}, or {{ secrets.NAME }}`,
};

/** One HTTP smoke check, validated. `path` and header values may hold `{{ tenant.* }}` placeholders. */
export interface HttpCheck {
  name: string;
  /** Joined to the target's base URL; an absolute URL is used as is. */
  path: string;
  method: string;
  headers: Record<string, string>;
  /** Request body, sent as given. */
  body?: string;
  /** Accepted status codes: exact codes and classes such as `2xx`. */
  status: StatusMatcher;
  bodyContains: string[];
  bodyRegex: RegExp[];
  json: JsonExpectation[];
  maxLatencyMs?: number;
  timeoutMs: number;
  /** Extra attempts after the first failed one. */
  retries: number;
  /** Wait before the first retry; doubled for each further one (capped at 30s). */
  retryDelayMs: number;
  followRedirects: boolean;
}

export interface StatusMatcher {
  /** As written, e.g. `200`, `2xx`, `200|204`. */
  source: string;
  codes: number[];
  classes: number[];
}

export interface CheckDefaults {
  timeoutMs: number;
  retries: number;
  retryDelayMs: number;
  maxLatencyMs?: number;
}

export const DEFAULT_CHECK_DEFAULTS: CheckDefaults = { timeoutMs: 10_000, retries: 2, retryDelayMs: 2_000 };

const FIELDS = [
  'name',
  'path',
  'method',
  'headers',
  'body',
  'status',
  'body-contains',
  'body-regex',
  'json',
  'max-latency',
  'timeout',
  'retries',
  'retry-delay',
  'follow-redirects',
] as const;
const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'];

/**
 * The seeds' smoke test (`smoke-test.sh`): `curl -sf` on `/`, `/login`, `/api/health` with
 * `.status == "ok"` and `/api/ready` with `.ready == true`. `curl -f` fails on status >= 400 and
 * does not follow redirects, hence the default status `2xx|3xx` with redirects not followed.
 */
export const DEFAULT_CHECKS_YAML = `
- name: home
  path: /
- name: login
  path: /login
- name: api-health
  path: /api/health
  json: '$.status == "ok"'
- name: api-ready
  path: /api/ready
  json: '$.ready == true'
`;

export function parseStatus(value: unknown, fail: (problem: string, hint: string) => never): StatusMatcher {
  const items = Array.isArray(value) ? value : typeof value === 'string' ? value.split(/[|,\s]+/).filter(Boolean) : [value];
  if (items.length === 0) fail('is empty', 'use a code (200), a list ([200, 204]) or a class (2xx)');
  const codes: number[] = [];
  const classes: number[] = [];
  for (const item of items) {
    const s = String(item).trim();
    if (/^[1-5]\d\d$/.test(s)) codes.push(Number(s));
    else if (/^[1-5]xx$/i.test(s)) classes.push(Number(s[0]));
    else fail(`${JSON.stringify(item)} is not a status code or class`, 'use a code (200), a list ([200, 204]) or a class (2xx)');
  }
  return { source: items.map((i) => String(i).trim()).join('|'), codes, classes };
}

export function statusMatches(m: StatusMatcher, code: number): boolean {
  return m.codes.includes(code) || m.classes.includes(Math.floor(code / 100));
}

export interface ParseChecksOptions {
  /** What the YAML came from, for messages: `input "checks"` or a file path. */
  source: string;
  /** Set when the YAML came from a file: errors then carry a file/line annotation. */
  file?: string;
  defaults?: CheckDefaults;
  /** Named secrets for `{{ secrets.NAME }}` in header values and bodies. */
  secrets?: Record<string, string>;
}

/** Parses the checks YAML: a list of checks, or a mapping with a `checks:` list. */
export function parseChecks(text: string, opts: ParseChecksOptions): HttpCheck[] {
  const defaults = opts.defaults ?? DEFAULT_CHECK_DEFAULTS;
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter });
  const where = (node: Node | null | undefined) => {
    if (!opts.file || !node?.range) return opts.file ? { file: opts.file } : undefined;
    const { line, col } = lineCounter.linePos(node.range[0]);
    return { file: opts.file, line, column: col };
  };
  if (doc.errors.length > 0) {
    const e = doc.errors[0]!;
    const [line, col] = e.linePos?.[0] ? [e.linePos[0].line, e.linePos[0].col] : [undefined, undefined];
    throw new ConfigurationError(
      opts.source,
      `is not valid YAML: ${e.message.split('\n')[0]}`,
      'fix the YAML syntax',
      opts.file ? { file: opts.file, line, column: col } : undefined,
    );
  }
  let seq: unknown = doc.contents;
  if (isMap(seq) && seq.has('checks')) seq = seq.get('checks', true);
  if (!isSeq(seq)) {
    throw new ConfigurationError(
      opts.source,
      'must be a YAML list of checks (or a mapping with a "checks:" list)',
      'write e.g. "- name: health\\n  path: /api/health\\n  json: \'$.status == \\"ok\\"\'"',
      where(doc.contents as Node),
    );
  }
  const checks: HttpCheck[] = [];
  seq.items.forEach((node, i) => {
    const raw = (node as Node | null)?.toJSON?.() as unknown;
    // Named as the user would find it: by its name, else by its path (the default name), else by position.
    const r = (raw && typeof raw === 'object' ? raw : {}) as { name?: unknown; path?: unknown };
    const label = typeof r.name === 'string' ? `check "${r.name}"` : typeof r.path === 'string' ? `check "${r.path}"` : `check #${i + 1}`;
    const subject = `${opts.source}: ${label}`;
    const loc = where(node as Node);
    const fail = (field: string, problem: string, hint: string): never => {
      throw new ConfigurationError(subject, `field "${field}" ${problem}`, hint, loc);
    };
    if (!raw || typeof raw !== 'object' || Array.isArray(raw)) {
      throw new ConfigurationError(subject, 'is not a mapping', 'each check is a mapping with at least a "path"', loc);
    }
    checks.push(parseCheck(raw as Record<string, unknown>, subject, fail, defaults, opts.secrets ?? {}, loc));
  });
  if (checks.length === 0)
    throw new ConfigurationError(opts.source, 'holds no checks', 'list at least one check, or leave the input empty for the default set');
  const seen = new Set<string>();
  for (const c of checks) {
    if (seen.has(c.name)) throw new ConfigurationError(opts.source, `two checks are named "${c.name}"`, 'give each check a distinct name');
    seen.add(c.name);
  }
  return checks;
}

function parseCheck(
  raw: Record<string, unknown>,
  subject: string,
  fail: (field: string, problem: string, hint: string) => never,
  defaults: CheckDefaults,
  secrets: Record<string, string>,
  loc: ConfigurationError['location'],
): HttpCheck {
  for (const k of Object.keys(raw)) {
    if (!(FIELDS as readonly string[]).includes(k)) fail(k, 'is not a known field', `use: ${FIELDS.join(', ')}`);
  }
  const str = (field: string, v: unknown): string => {
    if (typeof v === 'string') return v;
    if (typeof v === 'number' || typeof v === 'boolean') return String(v);
    return fail(field, `must be a string, got ${JSON.stringify(v)}`, 'quote the value');
  };
  const strList = (field: string, v: unknown): string[] =>
    v === undefined ? [] : Array.isArray(v) ? v.map((x) => str(field, x)) : [str(field, v)];
  const duration = (field: string, v: unknown, fallback: number | undefined): number | undefined => {
    if (v === undefined || v === null) return fallback;
    try {
      return parseDuration(field, str(field, v));
    } catch {
      return fail(field, `${JSON.stringify(v)} is not a duration`, 'use e.g. 500ms, 10s or 1m (a bare number is seconds)');
    }
  };
  const withPlaceholders = (field: string, v: string): string => {
    try {
      // Secrets now, once; the tenant's fields per target, when the check is sent. That second pass
      // reads the result again, so a secret with braces would be read as a template: refused here,
      // without showing the value.
      const t = compileTemplate(v, `${subject}: field "${field}"`, CHECK_TEMPLATE);
      const braceless = (value: string) => {
        if (value.includes('{{') || value.includes('}}'))
          throw new ConfigurationError(t.subject, 'a secret it uses contains "{{" or "}}"', 'a check cannot carry such a secret');
        return value;
      };
      return expandTemplate(
        t,
        { secrets },
        { escape: braceless, keep: (ref) => ref.name !== 'secrets', missing: (ref) => unknownSecret(ref.raw, secrets, t.subject) },
      );
    } catch (err) {
      throw err instanceof ConfigurationError && loc ? withLocation(err, loc) : err;
    }
  };

  const path =
    raw.path === undefined
      ? fail('path', 'is required', 'give the path to request, e.g. /api/health')
      : withPlaceholders('path', str('path', raw.path));
  if (!path.startsWith('/') && !/^https?:\/\//.test(path))
    fail('path', `"${path}" must start with "/" or be an absolute http(s) URL`, 'write e.g. /api/health');
  const name = raw.name === undefined ? path : str('name', raw.name);
  if (!name.trim()) fail('name', 'is empty', 'name the check, e.g. api-health');

  const method = raw.method === undefined ? 'GET' : str('method', raw.method).toUpperCase();
  if (!METHODS.includes(method)) fail('method', `"${method}" is not supported`, `use one of: ${METHODS.join(', ')}`);

  const headers: Record<string, string> = {};
  if (raw.headers !== undefined && raw.headers !== null) {
    if (typeof raw.headers !== 'object' || Array.isArray(raw.headers))
      fail(
        'headers',
        'must be a mapping of header name to value',
        'write e.g. "headers: { Authorization: \'Bearer {{ secrets.TOKEN }}\' }"',
      );
    for (const [k, v] of Object.entries(raw.headers as Record<string, unknown>)) {
      if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(k)) fail('headers', `"${k}" is not a valid header name`, 'use letters, digits and "-"');
      headers[k] = withPlaceholders(`headers.${k}`, str(`headers.${k}`, v));
    }
  }
  const body = raw.body === undefined ? undefined : withPlaceholders('body', str('body', raw.body));
  const status =
    raw.status === undefined
      ? parseStatus(['2xx', '3xx'], () => fail('status', '', ''))
      : parseStatus(raw.status, (p, h) => fail('status', p, h));

  const bodyRegex = strList('body-regex', raw['body-regex']).map((src) => {
    try {
      return new RegExp(src);
    } catch (err) {
      return fail(
        'body-regex',
        `"${src}" is not a valid regular expression: ${(err as Error).message}`,
        'use JavaScript regular expression syntax',
      );
    }
  });
  const json = strList('json', raw.json).map((src) => {
    try {
      return parseJsonExpectation(src);
    } catch (err) {
      if (err instanceof ExpressionError) {
        return fail(
          'json',
          `expectation ${err.message}`,
          'write a path and a comparison, e.g. $.status == "ok", $.ready == true or $.items.length > 0',
        );
      }
      throw err;
    }
  });

  let retries = defaults.retries;
  if (raw.retries !== undefined) {
    if (typeof raw.retries !== 'number' || !Number.isInteger(raw.retries) || raw.retries < 0 || raw.retries > 20)
      fail('retries', `${JSON.stringify(raw.retries)} is not a whole number from 0 to 20`, 'use e.g. retries: 3');
    retries = raw.retries;
  }
  let followRedirects = false;
  if (raw['follow-redirects'] !== undefined) {
    if (typeof raw['follow-redirects'] !== 'boolean')
      fail('follow-redirects', `${JSON.stringify(raw['follow-redirects'])} is not a boolean`, 'use true or false');
    followRedirects = raw['follow-redirects'];
  }
  const timeoutMs = duration('timeout', raw.timeout, defaults.timeoutMs)!;
  if (timeoutMs <= 0) fail('timeout', 'must be more than zero', 'use e.g. 10s');
  return {
    name,
    path,
    method,
    headers,
    body,
    status,
    bodyContains: strList('body-contains', raw['body-contains']),
    bodyRegex,
    json,
    maxLatencyMs: duration('max-latency', raw['max-latency'], defaults.maxLatencyMs),
    timeoutMs,
    retries,
    retryDelayMs: duration('retry-delay', raw['retry-delay'], defaults.retryDelayMs)!,
    followRedirects,
  };
}

/** The same error, annotated with the file/line it comes from. */
export function withLocation(err: ConfigurationError, loc: NonNullable<ConfigurationError['location']>): ConfigurationError {
  const body = err.message.slice(err.subject.length + 2, err.hint ? -(err.hint.length + 3) : undefined);
  return new ConfigurationError(err.subject, body, err.hint, loc);
}

export function defaultChecks(defaults: CheckDefaults = DEFAULT_CHECK_DEFAULTS): HttpCheck[] {
  return parseChecks(DEFAULT_CHECKS_YAML, { source: 'default checks', defaults });
}

const SENSITIVE_HEADER = /^(authorization|proxy-authorization|cookie|set-cookie)$|token|secret|password|api-?key|auth/i;

/**
 * Header values that must never be printed: every value of a credential-like header
 * (Authorization, Cookie, X-Api-Key, any name containing token, secret, password or auth), and the credential
 * part of `Bearer`/`Basic`/`Token` values wherever they appear. The action registers them with
 * `Secrets`, so logs, reports and the job summary show `***`.
 */
export function secretHeaderValues(checks: HttpCheck[]): string[] {
  const out = new Set<string>();
  for (const c of checks) {
    for (const [k, v] of Object.entries(c.headers)) {
      if (SENSITIVE_HEADER.test(k)) out.add(v);
      const cred = /^(?:bearer|basic|token)\s+(\S.*)$/i.exec(v.trim());
      if (cred) out.add(cred[1]!);
    }
  }
  return [...out].filter((v) => !/\{\{/.test(v));
}

/** Parses `NAME=value` lines (the `secrets` input); names are what `{{ secrets.NAME }}` refers to. */
export function parseNamedSecrets(lines: string[], input: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of lines) {
    const m = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line);
    if (!m) {
      // Never echo the line: it holds a secret.
      throw new ConfigurationError(
        `input "${input}"`,
        'has a line that is not NAME=value',
        'write one NAME=value per line, e.g. TOKEN=${{ secrets.SMOKE_TOKEN }}',
      );
    }
    out[m[1]!] = m[2]!;
  }
  return out;
}

function unknownSecret(raw: string, secrets: Record<string, string>, subject: string): never {
  const known = Object.keys(secrets);
  throw new ConfigurationError(
    subject,
    `"${raw}" names no secret given in the "secrets" input`,
    known.length ? `known secrets: ${known.join(', ')}` : 'add NAME=value lines to the "secrets" input',
  );
}
