import type { Clock } from '../core/clock.ts';
import { errorMessage } from '../core/errors.ts';
import { silentLogger } from '../core/logger.ts';
import type { Logger } from '../core/logger.ts';
import type { Cluster, ReleaseHealth } from '../kube/ports.ts';
import { FATAL_REASONS } from '../kube/health.ts';
import { formatMs } from '../core/format.ts';
import type { Http } from '../core/http.ts';
import { mapLimit } from '../core/pool.ts';
import { runSmokeChecks } from '../verify/smoke.ts';
import { promqlString } from '../core/template.ts';
import { renderForTenant } from '../tenants/model.ts';
import type { TenantTarget } from '../tenants/model.ts';
import type { HttpMetric, KubernetesMetric, LogsMetric, Metric, PrometheusMetric } from './metrics.ts';
import type { PrometheusApi } from './prometheus.ts';

/** What the analysis needs; each provider uses its own port, and asks only for what it needs. */
export interface AnalysisPorts {
  clock: Clock;
  logger: Logger;
  prometheus?: PrometheusApi;
  cluster?: Cluster;
  http?: Http;
}

/** One measurement of one metric for one target. `value` undefined = no data. */
export interface Reading {
  value?: number;
  /** The query after templating (or, for non-PromQL providers, what was measured). */
  query: string;
  /** What was seen: `1 series`, `3 error lines / 120 request lines from 2 pods`. */
  detail: string;
}

/** Per target and metric, kept between measurements (e.g. the restart counts at the start). */
export type ProviderState = Map<string, unknown>;

export interface MeasureContext {
  /** The interval: what "recent" means for logs, and each http measurement's deadline. */
  windowMs: number;
  signal: AbortSignal;
  state: ProviderState;
}

/** The query of a metric for a target, after templating (what the report shows). */
export function renderQuery(metric: Metric, t: TenantTarget): string {
  const subject = `metric "${metric.name}"`;
  switch (metric.provider) {
    case 'prometheus':
      return renderForTenant(metric.query, t, `${subject}: query`, { escape: promqlString });
    case 'kubernetes':
      return `${metric.query} of release ${t.release} in ${t.namespace}`;
    case 'http':
      return `${metric.checks.length} checks at ${renderForTenant(metric.url, t, `${subject}: url`, { escape: encodeURIComponent })}`;
    case 'logs':
      return (
        `lines matching /${metric.errorPattern.source}/ per line matching ` +
        `/${metric.requestPattern.source}/ in the logs of release ${t.release} in ${t.namespace}`
      );
  }
}

/** The port a metric's provider needs, by name, for the "not configured" error. */
export function missingPort(metric: Metric, ports: AnalysisPorts): string | undefined {
  if (metric.provider === 'prometheus' && !ports.prometheus) return 'a Prometheus URL';
  if ((metric.provider === 'kubernetes' || metric.provider === 'logs') && !ports.cluster) return 'a Kubernetes cluster';
  if (metric.provider === 'http' && !ports.http) return 'an HTTP client';
  return undefined;
}

/** Called once per target and metric at the start of the window (e.g. restart counts before). */
export async function begin(metric: Metric, t: TenantTarget, ports: AnalysisPorts, ctx: MeasureContext): Promise<void> {
  if (metric.provider === 'kubernetes' && metric.query === 'restarts') {
    const h = await ports.cluster!.releaseHealth(t.namespace, t.release, { signal: ctx.signal });
    ctx.state.set('restarts', new Map(h.pods.map((p) => [p.name, p.restarts])));
  }
}

export async function measure(metric: Metric, t: TenantTarget, ports: AnalysisPorts, ctx: MeasureContext): Promise<Reading> {
  switch (metric.provider) {
    case 'prometheus':
      return measurePrometheus(metric, t, ports, ctx);
    case 'kubernetes':
      return measureKubernetes(metric, t, ports, ctx);
    case 'http':
      return measureHttp(metric, t, ports, ctx);
    case 'logs':
      return measureLogs(metric, t, ports, ctx);
  }
}

/** A query result that is not one number; in the preflight it is a configuration error. */
export class QueryShapeError extends Error {
  override readonly name = 'QueryShapeError';
}

async function measurePrometheus(metric: PrometheusMetric, t: TenantTarget, ports: AnalysisPorts, ctx: MeasureContext): Promise<Reading> {
  const query = renderQuery(metric, t);
  const r = await ports.prometheus!.query(query, ctx.signal);
  if (r.resultType === 'matrix' || r.resultType === 'string') {
    throw new QueryShapeError(
      `the query returns a ${r.resultType === 'matrix' ? 'range vector' : 'string'}; write an instant query that returns one number`,
    );
  }
  if (r.samples.length === 0) return { query, detail: 'no series' };
  if (r.samples.length > 1) {
    throw new QueryShapeError(
      `the query returns ${r.samples.length} series; aggregate it (e.g. sum(...) or max(...)) so it returns one number`,
    );
  }
  const v = r.samples[0]!.value;
  // 0/0 (no requests at all in the window) is NaN: no data, not success.
  if (Number.isNaN(v)) return { query, detail: 'NaN (e.g. 0/0: no traffic in the window)' };
  return { query, value: v, detail: r.resultType === 'scalar' ? 'scalar' : '1 series' };
}

function noWorkloads(h: ReleaseHealth): boolean {
  return h.workloads.length === 0 && h.pods.length === 0;
}

async function measureKubernetes(metric: KubernetesMetric, t: TenantTarget, ports: AnalysisPorts, ctx: MeasureContext): Promise<Reading> {
  const query = renderQuery(metric, t);
  const h = await ports.cluster!.releaseHealth(t.namespace, t.release, { signal: ctx.signal });
  if (noWorkloads(h)) return { query, detail: 'no workloads or pods found for the release' };
  switch (metric.query) {
    case 'restarts': {
      const before = ctx.state.get('restarts') as Map<string, number> | undefined;
      if (!before) {
        // The start-of-window sample failed: take it now, and count from here.
        ctx.state.set('restarts', new Map(h.pods.map((p) => [p.name, p.restarts])));
        return { query, detail: 'restart counts recorded now (the start-of-window sample failed)' };
      }
      const rising = h.pods.map((p) => ({ p, d: p.restarts - (before.get(p.name) ?? 0) })).filter((x) => x.d > 0);
      const total = rising.reduce((n, x) => n + x.d, 0);
      return {
        query,
        value: total,
        detail: rising.length ? rising.map((x) => `${x.p.name} +${x.d}`).join(', ') : `no restarts since the start (${h.pods.length} pods)`,
      };
    }
    case 'not-ready': {
      const bad = h.pods.filter((p) => !p.ready && p.phase !== 'Succeeded');
      return {
        query,
        value: bad.length,
        detail: bad.length
          ? bad.map((p) => `${p.name} (${p.phase}${p.reasons.length ? `, ${p.reasons.join(', ')}` : ''})`).join(', ')
          : `${h.pods.length} pods ready`,
      };
    }
    case 'crash-loops': {
      const bad = h.pods.filter((p) => p.reasons.some((r) => FATAL_REASONS.has(r)));
      return {
        query,
        value: bad.length,
        detail: bad.length
          ? bad.map((p) => `${p.name} (${p.reasons.join(', ')}, ${p.restarts} restarts)`).join(', ')
          : `${h.pods.length} pods, none crash looping`,
      };
    }
  }
}

async function measureHttp(metric: HttpMetric, t: TenantTarget, ports: AnalysisPorts, ctx: MeasureContext): Promise<Reading> {
  const query = renderQuery(metric, t);
  const url = renderForTenant(metric.url, t, `metric "${metric.name}": url`, { escape: encodeURIComponent });
  const report = await runSmokeChecks(
    [{ name: t.slug, url, tenant: t }],
    metric.checks,
    { clock: ports.clock, logger: silentLogger, http: ports.http },
    { concurrency: 4, deadlineMs: ctx.windowMs, signal: ctx.signal },
  );
  const failed = report.targets.flatMap((r) => r.checks).filter((c) => !c.passed);
  const { checks } = report.totals;
  return {
    query,
    value: checks ? failed.length / checks : undefined,
    detail: failed.length
      ? `${failed.length}/${checks} failed: ${failed.map((c) => `${c.check} (${c.problems.join('; ')})`).join(', ')}`
      : `${checks}/${checks} passed`,
  };
}

async function measureLogs(metric: LogsMetric, t: TenantTarget, ports: AnalysisPorts, ctx: MeasureContext): Promise<Reading> {
  const query = renderQuery(metric, t);
  const h = await ports.cluster!.releaseHealth(t.namespace, t.release, { signal: ctx.signal });
  if (h.pods.length === 0) return { query, detail: 'no pods found for the release' };
  const since = Math.max(1, Math.ceil(ctx.windowMs / 1000));
  const logs = await mapLimit(h.pods, 4, async (p) => {
    try {
      return { pod: p.name, text: await ports.cluster!.podLogs(t.namespace, p.name, since) };
    } catch (err) {
      return { pod: p.name, error: errorMessage(err) };
    }
  });
  const read = logs.filter((l) => l.text !== undefined);
  if (read.length === 0) throw new Error(`cannot read the logs of any pod: ${logs.map((l) => `${l.pod}: ${l.error}`).join('; ')}`);
  let errors = 0;
  let requests = 0;
  for (const l of read) {
    for (const line of l.text!.split('\n')) {
      if (metric.errorPattern.test(line)) errors++;
      if (metric.requestPattern.test(line)) requests++;
    }
  }
  const unread = logs.length - read.length;
  const detail =
    `${errors} error lines / ${requests} request lines from ${read.length} pods over ` +
    `the last ${formatMs(since * 1000)}${unread ? ` (${unread} pods unreadable)` : ''}`;
  // Like the seeds: no request lines means nothing to judge (no data, not success).
  return requests > 0 ? { query, value: errors / requests, detail } : { query, detail };
}
