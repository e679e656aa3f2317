/**
 * The one vocabulary for how a tenant and a rollout end (issue 10). Every action, the CLI, the
 * report, the outputs and the job summary use these names, exit codes and summary lines; nothing
 * else defines them.
 */

/** How one tenant ended. */
export type TenantStatus =
  | 'succeeded' // on the new revision and verified
  | 'unchanged' // already on the target (a re-run) and healthy: nothing done
  | 'failed-rolled-back' // failed, and back on its last good revision (or uninstalled if it never had one)
  | 'rolled-back' // succeeded, then rolled back with its failing wave (rollback-wave option)
  | 'failed-untouched' // failed before helm changed anything (provably): still on its old revision
  | 'failed' // failed and NOT returned to a good state (or stuck pending): needs a person
  | 'skipped' // never touched (budget spent, cancelled, or phase did not include it)
  | 'unknown' // failed, and what helm recorded could not be read (the cluster did not answer): `lookCommand` says where to look
  | 'held'; // a tenant hold, or not started because the run held

export const TENANT_STATUSES: readonly TenantStatus[] = [
  'succeeded',
  'unchanged',
  'failed-rolled-back',
  'rolled-back',
  'failed-untouched',
  'failed',
  'skipped',
  'unknown',
  'held',
];

/** Statuses that make a run `failed` (when nothing stopped it earlier). */
export const BAD_STATUSES: ReadonlySet<TenantStatus> = new Set(['failed', 'failed-rolled-back', 'failed-untouched', 'rolled-back']);
/** Statuses that spend the failure budget (an `unknown` tenant may be broken: it counts, to stay on the safe side). */
export const FAILURE_STATUSES: ReadonlySet<TenantStatus> = new Set(['failed', 'failed-rolled-back', 'failed-untouched', 'unknown']);

/** How a rollout ended. */
export type RolloutOutcome = 'succeeded' | 'failed' | 'halted' | 'held' | 'paused' | 'cancelled';

/** Why a rollout stopped starting tenants (absent: it ran to the end). */
export interface RolloutStop {
  /**
   * `halted`: the failure budget is spent; `held`: no verdict (cluster unreadable); `paused`: an
   * operator's pause; `cancelled`: the job was cancelled; `failed`: an unexpected error.
   */
  outcome: Exclude<RolloutOutcome, 'succeeded'>;
  reason: string;
}

export const EXIT_CODES: Readonly<Record<RolloutOutcome, number>> = {
  succeeded: 0,
  failed: 1,
  halted: 3,
  held: 4,
  paused: 5,
  cancelled: 130,
};
/** CLI misuse (unknown flag, bad input) before anything ran. */
export const USAGE_EXIT_CODE = 2;

export const exitCodeOf = (o: RolloutOutcome): number => EXIT_CODES[o];

const ICON: Record<RolloutOutcome, string> = {
  succeeded: '✅',
  failed: '❌',
  halted: '🛑',
  held: '⏸️',
  paused: '⏸️',
  cancelled: '🚫',
};

export const STATUS_ICON: Readonly<Record<TenantStatus, string>> = {
  succeeded: '✅',
  unchanged: '⏭️',
  'failed-rolled-back': '↩️',
  'rolled-back': '↩️',
  'failed-untouched': '⚠️',
  failed: '❌',
  skipped: '·',
  unknown: '❓',
  held: '⏸️',
};

/**
 * The outcome from facts, most urgent first: cancelled, halted (the failure budget), then a real
 * failure (any bad tenant, or an unexpected error), then held (no verdict: a cluster that did not
 * answer, an `unknown` tenant), then paused. A hold says "re-run when the cluster answers"; a
 * failure needs a person, so a failed tenant in one cluster is never hidden by another cluster's
 * hold.
 */
export function decideOutcome(statuses: Iterable<TenantStatus>, stop?: RolloutStop): RolloutOutcome {
  if (stop && stop.outcome !== 'held') return stop.outcome;
  let bad = false;
  let unknown = false;
  for (const s of statuses) {
    if (s === 'unknown') unknown = true;
    if (BAD_STATUSES.has(s)) bad = true;
  }
  if (bad) return 'failed';
  return stop || unknown ? 'held' : 'succeeded';
}

/**
 * A hold because the API server refused the credentials (401): it answered, so "wait until it
 * answers" is the wrong advice. The usual cause is a cloud session that ran out mid-rollout.
 */
const CREDENTIALS_REFUSED = /\b401 Unauthorized\b|rejected the credentials/;

/** What to do after a run that ended this way (and why it stopped): the report's `next`, the summary's last line. */
export function nextStep(o: RolloutOutcome, stoppedBecause?: string): string {
  if (o === 'held' && stoppedBecause && CREDENTIALS_REFUSED.test(stoppedBecause))
    return (
      'no verdict: the cluster refused the credentials (401), most often a cloud session that expired during the run. ' +
      'Re-run the same job (its login step gets new credentials): it resumes where this one stopped (tenants already ' +
      'on the target are skipped); `unknown` tenants carry the command to look'
    );
  switch (o) {
    case 'succeeded':
      return 'nothing: every tenant is on the target (or was left out on purpose)';
    case 'failed':
      return 'look at the failed tenants below (each has its reason); a re-run with a fix skips the tenants already on the target';
    case 'halted':
      return 'the failure budget is spent: fix the cause of the failures, then re-run; tenants already on the target are skipped';
    case 'held':
      return (
        'no verdict: the cluster did not answer. When it answers again, re-run the same job: it resumes where ' +
        'this one stopped (tenants already on the target are skipped); `unknown` tenants carry the command to look'
      );
    case 'paused':
      return 'an operator paused the rollout: resume it, then re-run the same job; it resumes where this one stopped';
    case 'cancelled':
      return 'the job was cancelled: tenants in flight were returned to their last good revision; re-run to resume';
  }
}

/** The summary's heading line for a run that ended this way. */
export function summaryHeading(o: RolloutOutcome, phase: string): string {
  return `### tenant-rollout (${phase}): ${ICON[o]} ${o} (exit ${EXIT_CODES[o]})`;
}

/** One line of counts: `halted: 2 succeeded, 1 failed and rolled back, 7 skipped` (zero counts left out). */
export function outcomeLine(o: RolloutOutcome, counts: Readonly<Record<TenantStatus, number>>): string {
  const words: Record<TenantStatus, string> = {
    succeeded: 'succeeded',
    unchanged: 'unchanged',
    'failed-rolled-back': 'failed and rolled back',
    'rolled-back': 'rolled back with their wave',
    'failed-untouched': 'failed untouched',
    failed: 'failed (need a person)',
    skipped: 'skipped',
    unknown: 'unknown',
    held: 'held',
  };
  const parts = TENANT_STATUSES.filter((s) => counts[s]).map((s) => `${counts[s]} ${words[s]}`);
  return `${o}: ${parts.join(', ') || 'no tenants'}`;
}

/**
 * Thrown by an action when its run ended other than `succeeded`, after the report, outputs and
 * summary are written: the host maps it to the exit code (the CLI) or a failed step (the runner).
 */
export class RolloutEndedError extends Error {
  override readonly name = 'RolloutEndedError';
  readonly exitCode: number;
  constructor(
    readonly outcome: RolloutOutcome,
    message: string,
  ) {
    super(message);
    this.exitCode = EXIT_CODES[outcome];
  }
}
