import type { SoakVerdict } from '../rollout/execute.ts';
import type { Tenant } from '../tenants/model.ts';
import { toTarget } from '../tenants/model.ts';
import { analyze } from './analyze.ts';
import type { AnalysisPorts } from './providers.ts';
import { judgeLatency } from './latency.ts';
import type { LatencyTrigger } from './latency.ts';
import type { Metric } from './metrics.ts';

/**
 * One soak analysis for tenant-rollout: the `analysis` metrics (auto-rollback's engine, fleet
 * comparison with the tenants not yet updated) and the built-in latency trigger at the end of the
 * window, run side by side. A failing tenant is reported at once (`onFailed` rolls it back); the
 * verdict over the rest is `inconclusive` when either part had no verdict, so the rollout holds.
 */
export async function soakAnalysis(
  o: { metrics: Metric[]; latency?: LatencyTrigger; intervalMs: number },
  ports: AnalysisPorts,
  run: {
    updated: Tenant[];
    baseline: Tenant[];
    windowMs: number;
    onFailed: (id: string, reason: string) => Promise<void>;
    signal?: AbortSignal;
    upgradedAt?: (id: string) => number | undefined;
  },
): Promise<SoakVerdict> {
  const { clock, logger } = ports;
  const unsure: string[] = [];
  const failed = new Set<string>();
  const metrics = async () => {
    if (!o.metrics.length) return;
    const result = await analyze(run.updated.map(toTarget), o.metrics, ports, {
      durationMs: run.windowMs,
      intervalMs: o.intervalMs,
      baseline: run.baseline.map(toTarget),
      signal: run.signal,
      onTargetFailed: (ta) => (failed.add(ta.target.id), run.onFailed(ta.target.id, ta.reason)),
    });
    logger.info(`soak analysis: ${result.verdict} (${result.targets.length} tenants, ${result.baseline.tenants.length} in the baseline)`);
    for (const t of result.targets) if (t.verdict === 'inconclusive') unsure.push(`${t.target.id}: ${t.reason}`);
  };
  const latency = async () => {
    if (!o.latency) return;
    if (!ports.prometheus) throw new Error('the latency trigger needs a Prometheus URL');
    const start = clock.now();
    await clock.sleep(run.windowMs, run.signal);
    if (run.signal?.aborted) return;
    const end = clock.now();
    const tenants = run.updated
      .filter((t) => !failed.has(t.id))
      .map((t) => ({ id: t.id, namespace: t.namespace, upgradedAt: run.upgradedAt?.(t.id) ?? start }));
    const verdicts = await judgeLatency(
      ports.prometheus,
      o.latency,
      tenants,
      run.baseline.map((t) => t.namespace),
      end - start,
      end,
      run.signal,
    );
    for (const v of verdicts) {
      logger.info(`${v.id}: ${v.reason}`);
      if (v.verdict === 'failed') await run.onFailed(v.id, v.reason);
      else if (v.verdict === 'inconclusive') unsure.push(`${v.id}: ${v.reason}`);
    }
  };
  await Promise.all([metrics(), latency()]);
  if (unsure.length)
    return {
      verdict: 'inconclusive',
      reason: unsure.slice(0, 5).join('; ') + (unsure.length > 5 ? `; and ${unsure.length - 5} more` : ''),
    };
  return { verdict: 'healthy' };
}
