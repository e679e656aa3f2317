import { LineCounter, isMap, isSeq, parseDocument } from 'yaml';
import type { Node } from 'yaml';
import { ConfigurationError } from '../core/errors.ts';
import { DEFAULT_CHECKS_YAML, parseChecks } from '../verify/checks.ts';
import type { CheckDefaults, HttpCheck } from '../verify/checks.ts';
import { ExpressionError, parseCondition } from '../verify/expression.ts';
import type { Condition } from '../verify/expression.ts';
import { compileTemplate } from '../core/template.ts';
import { TENANT_TEMPLATE } from '../tenants/model.ts';

export const PROVIDERS = ['prometheus', 'kubernetes', 'http', 'logs'] as const;
export type ProviderName = (typeof PROVIDERS)[number];
export const KUBERNETES_QUERIES = ['restarts', 'not-ready', 'crash-loops'] as const;
export type KubernetesQuery = (typeof KUBERNETES_QUERIES)[number];

/**
 * Fleet comparison: a measurement that breaches the condition fails only when it is also worse
 * than the median of the same metric over the baseline tenants (those not updated) at the same
 * tick, by more than `margin` (absolute, or relative to the median when `relative`).
 */
export interface FleetComparison {
  margin: number;
  relative: boolean;
  /** Baseline tenants with data needed for a comparison; fewer = judged on the condition alone. */
  minBaseline: number;
}

interface MetricBase {
  name: string;
  failureCondition: Condition;
  /** Failed measurements tolerated; one more fails the metric (and the target). */
  failureLimit: number;
  /** Inconclusive measurements (no data, or an error) tolerated; one more makes the metric inconclusive. */
  inconclusiveLimit: number;
  fleet?: FleetComparison;
}

export interface PrometheusMetric extends MetricBase {
  provider: 'prometheus';
  /** PromQL with `{{ tenant.* }}` placeholders; must return one value (scalar or one series). */
  query: string;
}
export interface KubernetesMetric extends MetricBase {
  provider: 'kubernetes';
  query: KubernetesQuery;
}
export interface HttpMetric extends MetricBase {
  provider: 'http';
  /** Base URL template, e.g. `https://{{ tenant.slug }}.isp.example.com`. */
  url: string;
  checks: HttpCheck[];
}
export interface LogsMetric extends MetricBase {
  provider: 'logs';
  errorPattern: RegExp;
  requestPattern: RegExp;
}
export type Metric = PrometheusMetric | KubernetesMetric | HttpMetric | LogsMetric;

const COMMON = ['name', 'provider', 'failure-condition', 'failure-limit', 'inconclusive-limit', 'fleet'];
const FIELDS: Record<ProviderName, string[]> = {
  prometheus: [...COMMON, 'query'],
  kubernetes: [...COMMON, 'query'],
  http: [...COMMON, 'url', 'checks'],
  logs: [...COMMON, 'error-pattern', 'request-pattern'],
};
const DEFAULT_CONDITION: Record<ProviderName, string | undefined> = {
  prometheus: undefined,
  kubernetes: 'result > 0',
  http: 'result > 0',
  // The seeds' auto-rollback.sh: ERROR lines over HTTP lines, threshold 5%.
  logs: 'result > 0.05',
};

/**
 * Without a `metrics` input: the seeds' method (`auto-rollback.sh`: ERROR lines / HTTP lines in the
 * pods' logs over each interval, above 5% fails) plus crash loops seen through the Kubernetes API.
 */
export const DEFAULT_METRICS_YAML = `
- name: log-error-ratio
  provider: logs
  failure-condition: result > 0.05
- name: crash-loops
  provider: kubernetes
  query: crash-loops
  failure-condition: result > 0
`;

export interface ParseMetricsOptions {
  source: string;
  file?: string;
  /** For the checks of `http` metrics. */
  checkDefaults?: CheckDefaults;
  /** For `{{ secrets.NAME }}` in the headers of `http` metric checks. */
  secrets?: Record<string, string>;
}

export function parseMetrics(text: string, opts: ParseMetricsOptions): Metric[] {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter });
  const where = (node: Node | null | undefined) => {
    if (!opts.file) return undefined;
    if (!node?.range) return { file: opts.file };
    const { line, col } = lineCounter.linePos(node.range[0]);
    return { file: opts.file, line, column: col };
  };
  if (doc.errors.length > 0) {
    const e = doc.errors[0]!;
    throw new ConfigurationError(
      opts.source,
      `is not valid YAML: ${e.message.split('\n')[0]}`,
      'fix the YAML syntax',
      opts.file ? { file: opts.file, line: e.linePos?.[0].line, column: e.linePos?.[0].col } : undefined,
    );
  }
  let seq: unknown = doc.contents;
  if (isMap(seq) && seq.has('metrics')) seq = seq.get('metrics', true);
  if (!isSeq(seq))
    throw new ConfigurationError(
      opts.source,
      'must be a YAML list of metrics (or a mapping with a "metrics:" list)',
      'write e.g. "- name: error-rate\\n  provider: prometheus\\n  query: ...\\n  failure-condition: result > 0.05"',
    );
  const metrics = seq.items.map((node, i) => {
    const raw = (node as Node | null)?.toJSON?.() as unknown;
    const named =
      raw && typeof raw === 'object' && typeof (raw as { name?: unknown }).name === 'string' ? (raw as { name: string }).name : undefined;
    const subject = `${opts.source}: ${named ? `metric "${named}"` : `metric #${i + 1}`}`;
    const loc = where(node as Node);
    if (!raw || typeof raw !== 'object' || Array.isArray(raw))
      throw new ConfigurationError(
        subject,
        'is not a mapping',
        'each metric is a mapping with a name, a provider and a failure-condition',
        loc,
      );
    return parseMetric(raw as Record<string, unknown>, subject, loc, opts);
  });
  if (metrics.length === 0)
    throw new ConfigurationError(opts.source, 'holds no metrics', 'list at least one metric, or leave the input empty for the default set');
  const seen = new Set<string>();
  for (const m of metrics) {
    if (seen.has(m.name))
      throw new ConfigurationError(opts.source, `two metrics are named "${m.name}"`, 'give each metric a distinct name');
    seen.add(m.name);
  }
  return metrics;
}

function parseMetric(
  raw: Record<string, unknown>,
  subject: string,
  loc: ConfigurationError['location'],
  opts: ParseMetricsOptions,
): Metric {
  const fail = (field: string, problem: string, hint: string): never => {
    throw new ConfigurationError(subject, `field "${field}" ${problem}`, hint, loc);
  };
  const str = (field: string, v: unknown): string => {
    if (typeof v === 'string' && v.trim()) return v.trim();
    if (typeof v === 'number') return String(v);
    return fail(
      field,
      v === undefined ? 'is required' : `must be a string, got ${JSON.stringify(v)}`,
      field === 'query' ? 'give the query' : 'give a value',
    );
  };
  const count = (field: string, fallback: number): number => {
    const v = raw[field];
    if (v === undefined) return fallback;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0)
      return fail(field, `${JSON.stringify(v)} is not a whole number >= 0`, `use e.g. ${field}: 1`);
    return v;
  };
  const name = str('name', raw.name);
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(name)) fail('name', `"${name}" is not a valid name`, 'use letters, digits, "-", "_" and "."');
  const provider =
    raw.provider === undefined ? fail('provider', 'is required', `use one of: ${PROVIDERS.join(', ')}`) : str('provider', raw.provider);
  if (!(PROVIDERS as readonly string[]).includes(provider))
    fail('provider', `"${provider}" is not a provider`, `use one of: ${PROVIDERS.join(', ')}`);
  const p = provider as ProviderName;
  for (const k of Object.keys(raw)) if (!FIELDS[p].includes(k)) fail(k, `is not a field of a ${p} metric`, `use: ${FIELDS[p].join(', ')}`);

  const condSource =
    raw['failure-condition'] === undefined
      ? (DEFAULT_CONDITION[p] ?? fail('failure-condition', 'is required', 'write e.g. result > 0.05'))
      : str('failure-condition', raw['failure-condition']);
  let failureCondition: Condition;
  try {
    failureCondition = parseCondition(condSource);
  } catch (err) {
    if (err instanceof ExpressionError)
      return fail(
        'failure-condition',
        `${err.message}`,
        'write result, an operator (>, >=, <, <=, ==, !=) and a number, e.g. result > 0.05',
      );
    throw err;
  }
  const base: MetricBase = {
    name,
    failureCondition,
    failureLimit: count('failure-limit', 0),
    inconclusiveLimit: count('inconclusive-limit', 0),
    fleet: raw.fleet === undefined || raw.fleet === false ? undefined : parseFleet(raw.fleet, failureCondition, fail),
  };
  const placeholdersOk = (field: string, v: string) => {
    compileTemplate(v, `${subject}: field "${field}"`, TENANT_TEMPLATE);
    return v;
  };
  switch (p) {
    case 'prometheus':
      return { ...base, provider: p, query: placeholdersOk('query', str('query', raw.query)) };
    case 'kubernetes': {
      const q = raw.query === undefined ? 'crash-loops' : str('query', raw.query);
      if (!(KUBERNETES_QUERIES as readonly string[]).includes(q))
        fail('query', `"${q}" is not a kubernetes measurement`, `use one of: ${KUBERNETES_QUERIES.join(', ')}`);
      return { ...base, provider: p, query: q as KubernetesQuery };
    }
    case 'http': {
      const url = placeholdersOk('url', str('url', raw.url));
      if (!/^https?:\/\//.test(url)) fail('url', `"${url}" is not an http(s) URL`, 'write e.g. https://{{ tenant.slug }}.isp.example.com');
      let checksYaml = DEFAULT_CHECKS_YAML;
      if (raw.checks !== undefined) {
        if (!Array.isArray(raw.checks))
          fail('checks', 'must be a list of checks (the smoke-test checks format)', 'write e.g. "checks: [{ path: /api/health }]"');
        checksYaml = JSON.stringify(raw.checks);
      }
      // One sample per check per measurement: the ratio of failures is the measurement.
      const checks = parseChecks(checksYaml, {
        source: `${subject}: field "checks"`,
        defaults: { ...(opts.checkDefaults ?? { timeoutMs: 10_000, retryDelayMs: 0, retries: 0 }), retries: 0 },
        secrets: opts.secrets,
      }).map((c) => ({ ...c, retries: 0 }));
      return { ...base, provider: p, url, checks };
    }
    case 'logs': {
      const re = (field: string, fallback: string): RegExp => {
        const v = raw[field] === undefined ? fallback : str(field, raw[field]);
        try {
          return new RegExp(v);
        } catch (err) {
          return fail(
            field,
            `"${v}" is not a valid regular expression: ${(err as Error).message}`,
            'use JavaScript regular expression syntax',
          );
        }
      };
      return { ...base, provider: p, errorPattern: re('error-pattern', 'ERROR'), requestPattern: re('request-pattern', 'HTTP') };
    }
  }
}

function parseFleet(v: unknown, cond: Condition, fail: (field: string, problem: string, hint: string) => never): FleetComparison {
  if (cond.op === '==' || cond.op === '!=')
    fail(
      'fleet',
      `needs a condition with <, <=, > or >= (got "${cond.source}")`,
      'fleet comparison decides whether "worse" is higher or lower from the condition',
    );
  const o = v === true ? {} : v;
  if (!o || typeof o !== 'object' || Array.isArray(o))
    return fail('fleet', 'must be true or a mapping', 'write e.g. "fleet: { margin: 0.02 }" or "fleet: { margin: 50% }"');
  const m = o as Record<string, unknown>;
  for (const k of Object.keys(m))
    if (!['margin', 'min-baseline'].includes(k)) fail(`fleet.${k}`, 'is not a known field', 'use: margin, min-baseline');
  let margin = 0;
  let relative = false;
  if (m.margin !== undefined) {
    const s = String(m.margin).trim();
    const pct = /^(\d+(?:\.\d+)?)%$/.exec(s);
    if (pct) {
      margin = Number(pct[1]) / 100;
      relative = true;
    } else if (/^\d+(?:\.\d+)?(?:e-?\d+)?$/i.test(s)) margin = Number(s);
    else
      fail(
        'fleet.margin',
        `${JSON.stringify(m.margin)} is not a number or a percentage`,
        'use an absolute margin (0.02) or one relative to the baseline median (50%)',
      );
  }
  let minBaseline = 1;
  if (m['min-baseline'] !== undefined) {
    const n = m['min-baseline'];
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 1)
      fail('fleet.min-baseline', `${JSON.stringify(n)} is not a whole number >= 1`, 'use e.g. min-baseline: 3');
    minBaseline = n as number;
  }
  return { margin, relative, minBaseline };
}
