import { humanDuration } from '../core/duration.ts';
import type { RolloutEvent } from '../rollout/events.ts';
import type { TenantResult, TenantStatus } from '../rollout/execute.ts';
import type { Plan } from '../rollout/plan.ts';
import type { RolloutReport } from '../rollout/report.ts';
import type { Notice } from './payloads.ts';

/**
 * The rollout's story as notices: what each event says, from the plan, the executor's events
 * and the report. Pure: the action decides which are sent (and when "approval needed" applies).
 */

export interface NoticeContext {
  fleet?: string;
  version?: string;
  phase: string;
  /** The run's page: its "Review deployments" button is where an approver approves. */
  runUrl?: string;
  /** Where the report is (the run's artifacts). */
  reportUrl?: string;
  /** A dry run: every notice says so (title and payload), since nothing it counts was changed. */
  dryRun?: boolean;
}

const FAILED: ReadonlySet<TenantStatus> = new Set(['failed', 'failed-rolled-back', 'failed-untouched', 'unknown']);
const ROLLED_BACK: ReadonlySet<TenantStatus> = new Set(['failed-rolled-back', 'rolled-back']);

function base(c: NoticeContext): Pick<Notice, 'fleet' | 'version' | 'phase' | 'dryRun'> {
  return { fleet: c.fleet, version: c.version, phase: c.phase, ...(c.dryRun ? { dryRun: true } : {}) };
}

const of = (c: NoticeContext) => `${c.dryRun ? 'DRY RUN: ' : ''}${c.fleet ? `${c.fleet}: ` : ''}${c.version ? `${c.version} ` : ''}`;

function links(c: NoticeContext, extra: { label: string; url?: string }[] = []): Notice['links'] {
  return [...extra, { label: 'Open the run', url: c.runUrl }].filter((l): l is { label: string; url: string } => !!l.url);
}

function failedOf(
  results: readonly Readonly<TenantResult>[],
  set: ReadonlySet<TenantStatus> = FAILED,
): Pick<Notice, 'failed' | 'failedCount'> {
  const bad = results.filter((r) => set.has(r.status));
  return { failed: bad.slice(0, 20).map((r) => ({ id: r.id, status: r.status, reason: r.error ?? r.status })), failedCount: bad.length };
}

function countsOf(results: readonly Readonly<TenantResult>[]): Record<string, number> {
  const c: Record<string, number> = {};
  for (const r of results) c[r.status] = (c[r.status] ?? 0) + 1;
  return c;
}

export function planReadyNotice(c: NoticeContext, plan: Plan, promotion?: { kind: string; gate: string; reason: string }): Notice {
  const waves = plan.waves.length;
  return {
    event: 'plan-ready',
    ...base(c),
    title: `${of(c)}rollout planned: ${plan.summary.tenants} tenants`,
    text:
      `${plan.pilot.length} pilot tenants, then ${waves} wave${waves === 1 ? '' : 's'}. Plan ` +
      `${plan.fingerprint.slice(0, 12)}.${promotion ? ` Promotion ${promotion.kind}, gate ${promotion.gate}: ${promotion.reason}` : ''}`,
    links: links(c),
  };
}

export function approvalNeededNotice(c: NoticeContext, environment: string, why: string): Notice {
  return {
    event: 'approval-needed',
    ...base(c),
    title: `${of(c)}approval needed to roll out to the fleet`,
    text: `${why}. A reviewer of the "${environment}" environment approves on the run's page (Review deployments).`,
    links: links(c, [{ label: 'Review and approve', url: c.runUrl }]).slice(0, 1),
  };
}

/** pilot-done / wave-done from the executor's step-finished event. */
export function stepNotice(c: NoticeContext, e: Extract<RolloutEvent, { type: 'step-finished' }>): Notice {
  const pilot = e.step === 'pilot';
  const f = failedOf(e.results);
  const ok = !f.failedCount && !e.stoppedBecause;
  return {
    event: pilot ? 'pilot-done' : 'wave-done',
    ...base(c),
    title: `${of(c)}${e.step} ${ok ? 'done' : 'failed'} (${e.index + 1}/${e.steps})`,
    text: `${e.results.length} tenants: ${Object.entries(countsOf(e.results))
      .map(([k, v]) => `${v} ${k}`)
      .join(', ')}.${e.stoppedBecause ? ` Stopped: ${e.stoppedBecause}.` : ''}`,
    counts: countsOf(e.results),
    ...f,
    links: links(c),
  };
}

/** halted (budget spent, paused, held: no verdict, cluster unreachable), rolled-back and finished, from the report. */
export function endNotices(c: NoticeContext, rep: RolloutReport): Notice[] {
  const out: Notice[] = [];
  const report = links(c, [{ label: 'Report', url: c.reportUrl }]);
  if (rep.stoppedBecause && rep.outcome !== 'cancelled' && rep.outcome !== 'succeeded') {
    out.push({
      event: 'halted',
      ...base(c),
      outcome: rep.outcome,
      title: `${of(c)}rollout halted (${rep.outcome})`,
      text: `Stopped: ${rep.stoppedBecause}. No further tenant was started.`,
      counts: rep.counts,
      ...failedOf(rep.tenants),
      links: report,
    });
  }
  const back = failedOf(rep.tenants, ROLLED_BACK);
  if (back.failedCount)
    out.push({
      event: 'rolled-back',
      ...base(c),
      outcome: rep.outcome,
      title: `${of(c)}${back.failedCount} tenant${back.failedCount === 1 ? '' : 's'} rolled back`,
      text: 'These tenants are back on the revision they ran before this rollout.',
      ...back,
      links: report,
    });
  out.push({
    event: 'finished',
    ...base(c),
    outcome: rep.outcome,
    title: `${of(c)}rollout ${rep.outcome}`,
    text: `${rep.tenants.length} tenants in ${humanDuration(rep.durationMs)}.${rep.stoppedBecause ? ` Stopped: ${rep.stoppedBecause}.` : ''}`,
    counts: rep.counts,
    durationMs: rep.durationMs,
    ...failedOf(rep.tenants),
    links: report,
  });
  return out;
}
