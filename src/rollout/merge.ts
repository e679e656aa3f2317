/**
 * One report from the reports of a sharded rollout's jobs: the union of their tenants, in plan
 * order, plus every tenant of the phase that no shard reported (a slice nobody ran because the
 * fleet stopped) as `skipped`. Counts and the outcome are recomputed from the union, so the merged
 * report reads exactly as if one job had run the plan.
 */
import { ConfigurationError } from '../core/errors.ts';
import type { TenantResult } from './execute.ts';
import { decideOutcome, exitCodeOf, nextStep, TENANT_STATUSES } from './outcome.ts';
import type { RolloutStop, TenantStatus } from './outcome.ts';
import { stepsForPhase, type Phase, type Plan } from './plan.ts';
import { upgradeRetriesOf, type RolloutReport } from './report.ts';
import type { ParallelismFigures } from './adaptive.ts';
import { addRetryStats, newRetryStats } from '../kube/retry.ts';

/** Which of two results for one tenant to keep (a slice taken over was run twice): the one that did something. */
const weight = (s: TenantStatus) => (s === 'skipped' || s === 'held' ? 0 : s === 'unchanged' ? 1 : 2);

const STOP_RANK: Record<RolloutStop['outcome'], number> = { cancelled: 5, failed: 4, halted: 3, held: 2, paused: 1 };

export function mergeReports(plan: Plan, phase: Phase, reports: readonly RolloutReport[]): RolloutReport {
  if (!reports.length) throw new ConfigurationError('shard reports', 'none were found', 'upload each shard report as an artifact');
  for (const r of reports) {
    if (r.planFingerprint !== plan.fingerprint)
      throw new ConfigurationError(
        'shard reports',
        `a report is for plan ${r.planFingerprint.slice(0, 12)}, not ${plan.fingerprint.slice(0, 12)}`,
        'merge the reports of one run',
      );
  }
  // Shards of one run share its dry-run setting; a mix means reports of different runs.
  const dry = reports.filter((r) => r.dryRun).length;
  if (dry && dry !== reports.length)
    throw new ConfigurationError(
      'shard reports',
      `${dry} of ${reports.length} reports are of a dry run`,
      'merge the reports of one run (a dry run and a real one share a plan but not a result)',
    );
  const byId = new Map<string, TenantResult>();
  for (const r of reports)
    for (const t of r.tenants) {
      const had = byId.get(t.id);
      if (!had || weight(t.status) >= weight(had.status)) byId.set(t.id, t);
    }
  // The strongest stop any shard saw names the outcome (a cancel outranks a spent budget).
  let stop: RolloutStop | undefined;
  for (const r of reports) {
    if (!r.stoppedBecause) continue;
    const outcome = (['cancelled', 'failed', 'halted', 'held', 'paused'] as const).find((o) => o === r.outcome) ?? 'halted';
    if (!stop || STOP_RANK[outcome] > STOP_RANK[stop.outcome]) stop = { outcome, reason: r.stoppedBecause };
  }
  const tenants: TenantResult[] = [];
  for (const step of stepsForPhase(plan, phase))
    for (const ref of step.tenants)
      tenants.push(
        byId.get(ref.id) ?? {
          id: ref.id,
          namespace: ref.namespace,
          release: ref.release,
          ...(ref.cluster ? { cluster: ref.cluster } : {}),
          step: step.name,
          status: 'skipped',
          durationMs: 0,
          error: stop?.reason ?? 'no shard ran it',
        },
      );
  const counts = Object.fromEntries(TENANT_STATUSES.map((s) => [s, 0])) as Record<TenantStatus, number>;
  for (const t of tenants) counts[t.status]++;
  const outcome = decideOutcome(
    tenants.map((t) => t.status),
    stop,
  );
  const first = reports.reduce((a, b) => (a.startedAt <= b.startedAt ? a : b));
  const end = Math.max(...reports.map((r) => Date.parse(r.startedAt) + r.durationMs));
  return {
    version: 1,
    phase,
    planFingerprint: plan.fingerprint,
    target: first.target,
    run: first.run,
    ...(dry ? { dryRun: true } : {}),
    startedAt: first.startedAt,
    durationMs: end - Date.parse(first.startedAt),
    outcome,
    exitCode: exitCodeOf(outcome),
    stoppedBecause: stop?.reason,
    next: nextStep(outcome, stop?.reason),
    counts,
    appeared: [...new Set(reports.flatMap((r) => r.appeared))],
    vanished: [...new Set(reports.flatMap((r) => r.vanished))],
    tenants,
    ...upgradeRetriesOf(tenants),
    ...sumApi(reports),
    ...combineParallelism(reports),
  };
}

/** Every shard's API requests and retries, added up. */
function sumApi(reports: readonly RolloutReport[]): Pick<RolloutReport, 'api'> {
  const counted = reports.filter((r) => r.api);
  if (!counted.length) return {};
  const api: NonNullable<RolloutReport['api']> = { requests: 0, ...newRetryStats() };
  for (const { api: a } of counted) {
    api.requests += a!.requests;
    addRetryStats(api, a!);
  }
  return { api };
}

/**
 * Each shard adapts its own limit: the merged figures are the lowest and highest any shard
 * reached, the lowest final one, and the signals and moves of all of them added up.
 */
function combineParallelism(reports: readonly RolloutReport[]): Pick<RolloutReport, 'parallelism'> {
  const ps = reports.flatMap((r) => (r.parallelism ? [r.parallelism] : []));
  if (!ps.length) return {};
  const sum = (k: 'decreases' | 'increases' | 'throttled' | 'slow') => ps.reduce((n, p) => n + p[k], 0);
  const parallelism: ParallelismFigures = {
    ceiling: Math.max(...ps.map((p) => p.ceiling)),
    min: Math.min(...ps.map((p) => p.min)),
    max: Math.max(...ps.map((p) => p.max)),
    final: Math.min(...ps.map((p) => p.final)),
    decreases: sum('decreases'),
    increases: sum('increases'),
    throttled: sum('throttled'),
    slow: sum('slow'),
  };
  return { parallelism };
}
