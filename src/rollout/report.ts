import { humanDuration } from '../core/duration.ts';
import type { RolloutResult, TenantResult } from './execute.ts';
import { BAD_STATUSES, STATUS_ICON, TENANT_STATUSES, decideOutcome, exitCodeOf, nextStep, outcomeLine, summaryHeading } from './outcome.ts';
import type { RolloutOutcome, RolloutStop, TenantStatus } from './outcome.ts';
import type { ParallelismFigures } from './adaptive.ts';

/** The rollout's one JSON document: a job output, a file, and what later steps (smoke-test, auto-rollback, rollback workflows) read. */
export interface RolloutReport {
  version: 1;
  phase: string;
  planFingerprint: string;
  target: string;
  run?: string;
  startedAt: string;
  durationMs: number;
  outcome: RolloutOutcome;
  /** The process exit code of this outcome (src/rollout/outcome.ts). */
  exitCode: number;
  /** Set on a dry run: nothing was changed, whatever the counts say. */
  dryRun?: boolean;
  /** Why no new tenant was started (halted, held, paused, cancelled). */
  stoppedBecause?: string;
  /** What to do next, for a person reading the report. */
  next: string;
  counts: Record<TenantStatus, number>;
  /** Tenants that appeared after the plan was approved: reported, not deployed. */
  appeared: string[];
  /** Tenants in the approved plan that no longer exist. */
  vanished: string[];
  tenants: TenantResult[];
  /** helm upgrades tried again after a transient failure: tenants, and retries in all (each tenant's `attempts`). */
  upgradeRetries?: { tenants: number; retries: number };
  /** Kubernetes API requests of the run and the transient failures retried (by reason: `429`, `503`, `reset`...). */
  api?: { requests: number; retried: number; retries: number; exhausted: number; byReason: Record<string, number> };
  /** Adaptive parallelism: the effective max-parallel's lowest, highest and final value, and the throttled requests that moved it. */
  parallelism?: ParallelismFigures;
}

const BAD = BAD_STATUSES;

export function buildReport(
  r: RolloutResult,
  meta: {
    phase: string;
    planFingerprint: string;
    target: string;
    run?: string;
    startedAt: string;
    appeared?: string[];
    vanished?: string[];
    cancelled?: boolean;
    /** A dry run: helm rendered and validated, nothing changed. Every place that reports says so. */
    dryRun?: boolean;
  },
): RolloutReport {
  const counts = Object.fromEntries(TENANT_STATUSES.map((s) => [s, 0])) as Record<TenantStatus, number>;
  for (const t of r.tenants) counts[t.status]++;
  // A stop given as plain text (older callers) is the failure budget; a cancel outranks everything.
  let stop: RolloutStop | undefined = r.stop ?? (r.stoppedBecause ? { outcome: 'halted', reason: r.stoppedBecause } : undefined);
  if (meta.cancelled) stop = { outcome: 'cancelled', reason: stop?.outcome === 'cancelled' ? stop.reason : 'the job was cancelled' };
  const outcome = decideOutcome(
    r.tenants.map((t) => t.status),
    stop,
  );
  return {
    version: 1,
    phase: meta.phase,
    planFingerprint: meta.planFingerprint,
    target: meta.target,
    run: meta.run,
    ...(meta.dryRun ? { dryRun: true } : {}),
    startedAt: meta.startedAt,
    durationMs: r.durationMs,
    outcome,
    exitCode: exitCodeOf(outcome),
    stoppedBecause: stop?.reason,
    next: nextStep(outcome, stop?.reason),
    counts,
    appeared: meta.appeared ?? [],
    vanished: meta.vanished ?? [],
    tenants: r.tenants,
    ...(r.parallelism ? { parallelism: r.parallelism } : {}),
    ...upgradeRetriesOf(r.tenants),
  };
}

/** The report's `upgradeRetries` (absent when no upgrade was retried), from each tenant's `attempts`. */
export function upgradeRetriesOf(tenants: readonly TenantResult[]): Pick<RolloutReport, 'upgradeRetries'> {
  const retried = tenants.filter((t) => (t.attempts ?? 1) > 1);
  return retried.length ? { upgradeRetries: { tenants: retried.length, retries: retried.reduce((n, t) => n + t.attempts! - 1, 0) } } : {};
}

const ICON = STATUS_ICON;

const cell = (s: string) => s.replace(/\|/g, '\\|').replace(/\r?\n/g, ' ');

/** Results table for the job summary: failures first, with the reason for each. */
/** Bytes of one report summary: GitHub keeps 1 MiB per step, and the plan table shares the step. */
export const SUMMARY_BUDGET = 800 * 1024;

export function renderReport(rep: RolloutReport, opts: { maxRows?: number; maxBytes?: number } = {}): string {
  const order = (t: TenantResult) =>
    t.status === 'failed' || t.status === 'unknown' ? 0 : BAD.has(t.status) ? 1 : t.status === 'skipped' || t.status === 'held' ? 3 : 2;
  const rows = [...rep.tenants].sort((a, b) => order(a) - order(b));
  const max = opts.maxRows ?? 500;
  const counts = TENANT_STATUSES.filter((s) => rep.counts[s])
    .map((s) => `${ICON[s]} ${rep.counts[s]} ${s}`)
    .join(' · ');
  const lines = [
    `${summaryHeading(rep.outcome, rep.phase)}${rep.dryRun ? ' — DRY RUN: nothing was changed' : ''}`,
    '',
    (rep.dryRun
      ? '**Dry run:** every tenant was rendered and validated by helm; no release was changed, so "succeeded" means "would deploy". '
      : '') +
      `${counts} ` +
      `— ${humanDuration(rep.durationMs)}, target \`${rep.target}\``,
  ];
  if (rep.stoppedBecause) lines.push('', `**Stopped:** ${cell(rep.stoppedBecause)}`);
  if (rep.api?.retries) {
    const why = Object.entries(rep.api.byReason)
      .map(([k, v]) => `${v}× ${k}`)
      .join(', ');
    lines.push(
      '',
      `**API retries:** ${rep.api.retries} of ${rep.api.requests} requests ` +
        `(${why})${rep.api.exhausted ? `, ${rep.api.exhausted} calls still failing after the last try` : ''}`,
    );
  }
  const par = rep.parallelism;
  if (par && (par.throttled || par.slow || par.decreases)) {
    const per = par.byCluster
      ? ` — ${Object.entries(par.byCluster)
          .map(([c, f]) => `${c}: lowest ${f.min}, final ${f.final}`)
          .join('; ')}`
      : '';
    lines.push(
      '',
      `**Adaptive parallelism:** ${par.throttled} throttled requests${par.slow ? `, ${par.slow} slow responses` : ''}; max-parallel ` +
        `${par.ceiling}, lowest ${par.min}, final ${par.final} (${par.decreases} decreases, ${par.increases} increases)${per}`,
    );
  }
  if (rep.upgradeRetries)
    lines.push(
      '',
      `**Upgrades retried:** ${rep.upgradeRetries.tenants} tenants, ${rep.upgradeRetries.retries} retries (transient API failures)`,
    );
  lines.push('', `**Next:** ${cell(rep.next)}`);
  // Multi-cluster fleets: the counts per cluster (an unreachable or over-budget cluster shows at a glance).
  const clusters = new Map<string, Partial<Record<TenantStatus, number>>>();
  for (const t of rep.tenants)
    if (t.cluster) {
      const c = clusters.get(t.cluster) ?? {};
      c[t.status] = (c[t.status] ?? 0) + 1;
      clusters.set(t.cluster, c);
    }
  if (clusters.size)
    lines.push(
      '',
      `**Clusters:** ${[...clusters]
        .sort((a, b) => (a[0] < b[0] ? -1 : 1))
        .map(
          ([name, c]) =>
            `\`${name}\` ${TENANT_STATUSES.filter((st) => c[st])
              .map((st) => `${ICON[st]} ${c[st]} ${st}`)
              .join(', ')}`,
        )
        .join(' · ')}`,
    );
  if (rep.appeared.length) lines.push('', `**Not in the approved plan (not deployed):** ${rep.appeared.join(', ')}`);
  if (rep.vanished.length) lines.push('', `**In the plan but gone:** ${rep.vanished.join(', ')}`);
  // Large fleets: per-step counts, then every failure and rollback in full; the complete
  // per-tenant table is in the report file. Whatever the fleet, the text stays under the budget
  // (GitHub drops a step summary's tail past 1 MiB, and the failures may be in that tail).
  const large = rows.length > max;
  if (large) {
    const steps = new Map<string, Record<string, number>>();
    for (const t of rep.tenants) {
      const c = steps.get(t.step) ?? {};
      c[t.status] = (c[t.status] ?? 0) + 1;
      steps.set(t.step, c);
    }
    const present = TENANT_STATUSES.filter((st) => rep.counts[st]);
    lines.push('', `| step | ${present.map((st) => `${ICON[st]} ${st}`).join(' | ')} |`, `|---|${present.map(() => '---|').join('')}`);
    for (const [step, c] of steps) lines.push(`| ${step} | ${present.map((st) => c[st] ?? 0).join(' | ')} |`);
  }
  const shown = large ? rows.filter((t) => order(t) < 2) : rows;
  const byCluster = clusters.size > 0;
  lines.push(
    '',
    `| tenant |${byCluster ? ' cluster |' : ''} step | status | revision | duration | reason |`,
    `|---|${byCluster ? '---|' : ''}---|---|---|---|---|`,
  );
  const budget = opts.maxBytes ?? SUMMARY_BUDGET;
  let bytes = Buffer.byteLength(lines.join('\n'));
  let written = 0;
  for (const t of shown) {
    const line =
      `| ${t.id} |${byCluster ? ` ${t.cluster ?? ''} |` : ''} ${t.step} | ${ICON[t.status]} ` +
      `${t.status} | ${t.revisionBefore ?? '–'} → ${t.revisionAfter ?? '–'} | ` +
      (`${t.durationMs ? humanDuration(t.durationMs) : ''} | ` +
        `${cell(t.error ?? '')}${t.lookCommand && !t.error?.includes(t.lookCommand) ? ` (look: \`${t.lookCommand}\`)` : ''} |`);
    const n = Buffer.byteLength(line) + 1;
    if (bytes + n > budget - 512) break;
    lines.push(line);
    bytes += n;
    written++;
  }
  if (written < shown.length)
    lines.push(
      '',
      `… ${shown.length - written} more ${large ? 'failed or rolled-back ' : ''}tenants did not fit in the summary: see the report file.`,
    );
  if (large)
    lines.push(
      '',
      `${rows.length - shown.length} tenants that succeeded, were unchanged or skipped are in the report file (the complete per-tenant table).`,
    );
  return `${lines.join('\n')}\n`;
}

/** The one line the action logs (and fails the step with) at the end of a run. */
export const reportLine = (rep: RolloutReport): string =>
  `${rep.dryRun ? 'DRY RUN, nothing changed: ' : ''}${outcomeLine(rep.outcome, rep.counts)}`;
