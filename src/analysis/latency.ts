import { errorMessage } from '../core/errors.ts';
import { round } from './analyze.ts';
import type { PrometheusApi } from './prometheus.ts';

/**
 * The built-in latency trigger (the seeds' "latency > 2x" rollback trigger), over a standard
 * Prometheus request-duration histogram (`<metric>_bucket{le=...}`, e.g. the client libraries'
 * `http_request_duration_seconds`):
 *
 *   p95 now     = histogram_quantile(0.95, sum by (le) (rate(<metric>_bucket{<label>="<ns>"}[W])))
 *   p95 before  = the same over the window of equal length W that ended when the tenant's upgrade
 *                 started (`offset`)
 *   p95 fleet   = the same over the tenants not yet updated, their requests pooled
 *                 (`<label>=~"ns1|ns2|..."`)
 *
 * W is the watch (soak) window, and the trigger is evaluated when it ends. A tenant FAILS when
 * p95 now > 2 x p95 before AND p95 now > p95 fleet: slower than it was and slower than the tenants
 * that did not change, so neither a slow tenant nor a fleet-wide slowdown (traffic, a shared
 * database) rolls anything back. A missing value (no requests, no histogram, Prometheus not
 * answering) is NO VERDICT: the caller holds the rollout, it never passes or rolls back on it.
 * With no tenant left to compare with, the fleet condition is dropped and the report says so.
 */

export interface LatencyTrigger {
  /** Histogram base name: `<metric>_bucket` is queried. */
  metric: string;
  /** The series label holding the tenant's namespace. */
  label: string;
  quantile: number;
  factor: number;
}

export const DEFAULT_LATENCY: Omit<LatencyTrigger, 'metric'> = { label: 'namespace', quantile: 0.95, factor: 2 };

export interface LatencyTenant {
  id: string;
  namespace: string;
  /** When its upgrade started (ms): the "before" window ends there. */
  upgradedAt: number;
}

export interface LatencyVerdict {
  id: string;
  verdict: 'healthy' | 'failed' | 'inconclusive';
  now?: number;
  before?: number;
  fleet?: number;
  reason: string;
}

/** The PromQL of the trigger (documented in the README). */
export function latencyQuery(t: LatencyTrigger, namespaces: readonly string[], windowS: number, offsetS = 0): string {
  const sel = namespaces.length === 1 ? `${t.label}="${namespaces[0]}"` : `${t.label}=~"${namespaces.join('|')}"`;
  const range = `[${windowS}s]${offsetS > 0 ? ` offset ${offsetS}s` : ''}`;
  return `histogram_quantile(${t.quantile}, sum by (le) (rate(${t.metric}_bucket{${sel}}${range})))`;
}

async function value(prom: PrometheusApi, q: string, signal?: AbortSignal): Promise<{ v?: number; error?: string }> {
  try {
    const r = await prom.query(q, signal);
    const v = r.samples[0]?.value;
    return v === undefined || !Number.isFinite(v) ? {} : { v };
  } catch (err) {
    return { error: errorMessage(err) };
  }
}

const ms = (v: number | undefined) => (v === undefined ? 'no data' : `${round(v * 1000)}ms`);

/** Judges every updated tenant at `nowMs`, at the end of a watch window of `windowMs`. */
export async function judgeLatency(
  prom: PrometheusApi,
  trigger: LatencyTrigger,
  updated: readonly LatencyTenant[],
  notYetUpdated: readonly string[],
  windowMs: number,
  nowMs: number,
  signal?: AbortSignal,
): Promise<LatencyVerdict[]> {
  const windowS = Math.max(1, Math.round(windowMs / 1000));
  const fleet = notYetUpdated.length ? await value(prom, latencyQuery(trigger, notYetUpdated, windowS), signal) : undefined;
  const p = `p${Math.round(trigger.quantile * 100)}`;
  return Promise.all(
    updated.map(async (t): Promise<LatencyVerdict> => {
      const offsetS = Math.max(1, Math.ceil((nowMs - t.upgradedAt) / 1000));
      const [now, before] = await Promise.all([
        value(prom, latencyQuery(trigger, [t.namespace], windowS), signal),
        value(prom, latencyQuery(trigger, [t.namespace], windowS, offsetS), signal),
      ]);
      const seen =
        `${p} ${ms(now.v)} over the last ${windowS}s, ${ms(before.v)} over the ${windowS}s before its upgrade, ` +
        `${fleet ? `${ms(fleet.v)} for the ${notYetUpdated.length} tenants not yet updated` : 'no tenant left to compare with'}`;
      const missing = [
        now.v === undefined && `now (${now.error ?? 'no data'})`,
        before.v === undefined && `before the upgrade (${before.error ?? 'no data'})`,
        fleet && fleet.v === undefined && `for the tenants not yet updated (${fleet.error ?? 'no data'})`,
      ].filter(Boolean);
      const base = { id: t.id, now: now.v, before: before.v, fleet: fleet?.v };
      if (missing.length)
        return { ...base, verdict: 'inconclusive', reason: `latency: no verdict, no ${p} ${missing.join(', ')}: ${seen}` };
      const slower = now.v! > trigger.factor * before.v!;
      const worseThanFleet = fleet ? now.v! > fleet.v! : true;
      if (slower && worseThanFleet)
        return { ...base, verdict: 'failed', reason: `latency: ${seen}: above ${trigger.factor}x its own and above the fleet's` };
      return { ...base, verdict: 'healthy', reason: `latency: ${seen}` };
    }),
  );
}
