import { humanDuration } from '../core/duration.ts';
import { errorMessage } from '../core/errors.ts';
import type { Clock } from '../core/clock.ts';
import type { Logger } from '../core/logger.ts';
import type { UpgradeOptions, KubeTarget } from './argv.ts';
import { HelmError } from './helm.ts';
import type { Helm } from './helm.ts';
import { chartVersionOf, isPending, lastGoodRevision, latest } from './history.ts';
import type { Revision } from './history.ts';
import { historyCommand, recoverPending, returnToGood } from './recover.ts';
import type { PendingRecovery } from './recover.ts';
import { HELM_RETRY, backoffMs, isTransient, retryRead } from './transient.ts';
import type { RetryDeps, RetryPolicy } from './transient.ts';

/**
 * One release, upgraded deliberately: a release ends either deployed and verified, or back on
 * the revision that was deployed before this run (or uninstalled, when it never deployed), and
 * the outcome says which. Shared by helm-deploy and tenant-rollout.
 */

export type DeployStatus =
  | 'deployed' // new revision deployed and verified
  | 'unchanged' // nothing to do: already on the target (tenant-rollout's resume)
  | 'rolled-back' // failed, and back on the last good revision
  | 'uninstalled' // a first install failed and was removed
  | 'failed' // failed, and could not be returned to a good state: needs a person
  | 'unknown' // failed, and helm's history could not be read afterwards: `lookCommand` says where to look
  | 'dry-run';

export interface VerifyResult {
  ok: boolean;
  /** What failed and the value measured, e.g. "pod x: CrashLoopBackOff (5 restarts)". */
  reason?: string;
  /**
   * No verdict: the checks could not be made (the cluster did not answer, after retries). Never a
   * failure (a healthy tenant is not rolled back for it) and never a pass.
   */
  inconclusive?: boolean;
}

/** A check that threw: no verdict, with what went wrong. */
export const noVerdict = (err: unknown): VerifyResult => ({ ok: false, inconclusive: true, reason: `no verdict: ${errorMessage(err)}` });

/** `helm status <release> -n <ns> --show-resources`: what a person runs to judge a release by hand (ctx: the bound cluster's). */
export function statusCommand(release: string, t: KubeTarget, context?: string): string {
  return `helm status ${release} -n ${t.namespace}${context ? ` --kube-context ${context}` : ''} --show-resources`;
}

export interface DeployRequest {
  upgrade: UpgradeOptions;
  /** Roll back (or uninstall a failed first install) when the upgrade or verification fails. */
  rollbackOnFailure: boolean;
  /** Recover a release stuck in pending-* (a cancelled run) before upgrading. */
  recoverPending: boolean;
  /**
   * Resume: asked with the history (after any pending recovery) whether the release is already
   * on the target; if so nothing is deployed and the outcome is `unchanged`.
   */
  alreadyDone?: (history: Revision[]) => Promise<boolean>;
  /** Checks run after helm reports success; a failure triggers the rollback. */
  verify?: (revision: number) => Promise<VerifyResult>;
  /** Compare the new revision's content with the previous one for `changed` (two more helm calls). */
  compareContent?: boolean;
  /**
   * The release's lease (src/kube/leases.ts): held while this run changes the release, and the
   * evidence that lets a stuck `pending-*` revision be recovered without `recoverPending`.
   */
  guard?: ReleaseGuard;
  /** With a guard: a pending revision whose lease is absent is recovered once older than this (input pending-stale-after). */
  pendingStaleAfterMs?: number;
  /** Called right before the upgrade starts, with the rollback target (for cancel recovery state). */
  onUpgradeStart?: (previousRevision: number | undefined) => void;
  signal?: AbortSignal;
}

/** What taking the lease found about the run that held it before. */
export type LeaseFinding =
  | { previous: 'none' } // no lease: nobody has held it (or it was released)
  | { previous: 'ours' } // this run already held it
  | { previous: 'expired'; holder: string; expiredMsAgo: number } // its holder stopped renewing: gone
  | { previous: 'superseded'; holder: string } // still live, but its holder is provably gone (an earlier attempt of this run)
  | { previous: 'unavailable'; why: string }; // leases cannot be used here (e.g. no RBAC): no evidence either way

/** A release lease as deployRelease needs it; the adapter renews it while held. */
export interface ReleaseGuard {
  /** Takes it for this run; throws ReleaseBusyError naming the holder when another run holds it live. */
  take(): Promise<LeaseFinding>;
  /** Stops renewing and gives it up; never throws (an unreleased lease expires). */
  release(): Promise<void>;
}

export interface DeployOutcome {
  status: DeployStatus;
  release: string;
  namespace: string;
  /** Revision live at the end (0 when none). */
  revision: number;
  /** The last revision deployed before this run: the true rollback target. */
  previousRevision?: number;
  /** The revision this run created, when it created one. */
  attemptedRevision?: number;
  chartVersion: string;
  appVersion: string;
  changed: boolean;
  /** A stuck pending revision this run recovered from, when there was one. */
  recovered?: PendingRecovery;
  error?: string;
  /** With status `unknown`: the exact command that shows what helm recorded. */
  lookCommand?: string;
  /** helm upgrades run, when more than one (transient failures retried). */
  attempts?: number;
  /**
   * The failure was the API's or the network's (helm's own words for it), retries spent, and
   * helm wrote nothing: no verdict on the release, which is untouched.
   */
  transient?: boolean;
  durationMs: number;
}

export interface DeployDeps {
  helm: Helm;
  logger: Logger;
  clock: Clock;
  /** Retries of transient helm failures (default HELM_RETRY); tests pass short pauses. */
  retry?: RetryPolicy;
  random?: () => number;
}

/**
 * Another run holds the release's lease and keeps renewing it: someone is working on it. Nothing
 * was changed, and it is no verdict on the release: the tenant is held (never a failure that
 * spends the budget), and a re-run once that run ends (or its lease expires) deploys it.
 */
export class ReleaseBusyError extends Error {
  override readonly name = 'ReleaseBusyError';
  constructor(
    readonly target: string,
    readonly holder: string,
    readonly expiresInMs: number,
    detail: string,
  ) {
    super(
      `another run is working on ${target} (nothing was changed): ${detail}; re-run once it ends, or once its lease ` +
        'has expired (the release is then recovered by itself)',
    );
  }
}

/**
 * The release was not even readable, so this run changed nothing (helm-deploy turns the cause
 * into its "check kubeconfig/kube-context" line; tenant-rollout reports `failed-untouched`).
 */
export class ReleaseUnreadableError extends Error {
  override readonly name = 'ReleaseUnreadableError';
  constructor(
    readonly target: string,
    cause: unknown,
  ) {
    super(`could not read the history of ${target} (nothing was changed): ${errorMessage(cause)}`, { cause });
  }
  /** The read failed on the API or the network (retries spent), not on the release: no verdict. */
  readonly transient = isTransient(this.cause);
}

export { historyCommand } from './recover.ts';

const retryDeps = (deps: DeployDeps, signal?: AbortSignal): RetryDeps => ({
  clock: deps.clock,
  logger: deps.logger,
  signal,
  policy: deps.retry,
  random: deps.random,
});

/** History, re-read while the API fails transiently. */
function readHistory(deps: DeployDeps, release: string, t: KubeTarget, signal?: AbortSignal): Promise<Revision[]> {
  return retryRead(`helm history ${t.namespace}/${release}`, () => deps.helm.history(release, t), retryDeps(deps, signal));
}

/** True when the newest revision is the same one, in the same state: helm wrote nothing in between. */
function sameHead(a: readonly Revision[], b: readonly Revision[]): boolean {
  const x = latest(a);
  const y = latest(b);
  return x?.revision === y?.revision && x?.status === y?.status;
}

/**
 * Why a stuck `pending-*` revision may be recovered without `recoverPending`, from the lease
 * evidence: its holder's lease expired (the owner is gone), or there is no lease at all and the
 * revision is older than `pendingStaleAfterMs`. Undefined: no proof the owner is gone.
 */
export function ownerGone(
  stuck: Revision,
  finding: LeaseFinding | undefined,
  staleAfterMs: number | undefined,
  now: number,
): string | undefined {
  if (!finding) return undefined;
  if (finding.previous === 'expired')
    return `its lease holder "${finding.holder}" stopped renewing ${humanDuration(finding.expiredMsAgo)} ago`;
  if (finding.previous === 'superseded') return `its lease holder "${finding.holder}" is an earlier attempt of this run`;
  if (finding.previous === 'ours') return 'this run holds its lease';
  if (finding.previous === 'none' && staleAfterMs !== undefined) {
    const at = Date.parse(stuck.updated);
    if (Number.isFinite(at) && now - at > staleAfterMs)
      return `no run holds its lease and it is ${humanDuration(now - at)} old (pending-stale-after ${humanDuration(staleAfterMs)})`;
  }
  return undefined;
}

export async function deployRelease(req: DeployRequest, deps: DeployDeps): Promise<DeployOutcome> {
  const started = deps.clock.now();
  const u = req.upgrade;
  const target = { namespace: u.namespace };
  let history = await readHistory(deps, u.release, target, req.signal).catch((err: unknown) => {
    throw new ReleaseUnreadableError(`${u.namespace}/${u.release}`, err);
  });
  // The lease is taken before anything changes and held to the end (rollbacks included).
  const finding = req.guard ? await req.guard.take() : undefined;
  try {
    let recovered: DeployOutcome['recovered'];
    if (isPending(latest(history))) {
      const gone = ownerGone(latest(history)!, finding, req.pendingStaleAfterMs, deps.clock.now());
      if (gone && !req.recoverPending) deps.logger.warning(`${u.namespace}/${u.release}: its owner is gone (${gone}); recovering it`);
      const pending = { ...target, release: u.release, recover: req.recoverPending || !!gone, timeoutMs: u.timeoutMs, signal: req.signal };
      recovered = await recoverPending(deps.helm, history, pending, deps.logger, retryDeps(deps));
      history = await readHistory(deps, u.release, target, req.signal);
    }
    return await deployFrom(req, deps, history, started, recovered);
  } finally {
    await req.guard?.release();
  }
}

async function deployFrom(
  req: DeployRequest,
  deps: DeployDeps,
  history: Revision[],
  started: number,
  recovered: DeployOutcome['recovered'],
): Promise<DeployOutcome> {
  const u = req.upgrade;
  const target = { namespace: u.namespace };
  const before = lastGoodRevision(history);
  const base: Omit<DeployOutcome, 'status' | 'revision' | 'changed' | 'durationMs'> = {
    release: u.release,
    namespace: u.namespace,
    previousRevision: before?.revision,
    chartVersion: before ? chartVersionOf(before.chart) : '',
    appVersion: before?.app_version ?? '',
    recovered,
  };
  // helm upgrades run: transient failures retried, before helm wrote a revision or after one was rolled back.
  let upgrades = 0;
  const done = (o: Omit<DeployOutcome, 'durationMs' | keyof typeof base> & Partial<typeof base>): DeployOutcome => ({
    ...base,
    ...o,
    ...(upgrades > 1 ? { attempts: upgrades } : {}),
    durationMs: deps.clock.now() - started,
  });

  if (before && req.alreadyDone && (await req.alreadyDone(history))) {
    return done({ status: 'unchanged', revision: latest(history)!.revision, changed: false });
  }

  req.onUpgradeStart?.(before?.revision);
  const policy = deps.retry ?? HELM_RETRY;
  // Set once an attempt's revision was rolled back for a retry: the release is no longer untouched.
  let retried: { attempted: number } | undefined;
  for (;;) {
    let result;
    let failure: string | undefined;
    // The failure was the API's or the network's, not the release's (helm's own words for it).
    let transient = false;
    // What helm recorded after a failed upgrade, once read (undefined: not read yet).
    let after: Revision[] | undefined;
    for (;;) {
      const attempt = ++upgrades;
      try {
        result = await deps.helm.upgrade(u, req.signal);
        failure = undefined; // an earlier attempt's transient failure is not this result's
        transient = false;
        break;
      } catch (err) {
        if (!(err instanceof HelmError)) throw err;
        failure = err.message;
        // helm's own error line only: its output also carries client-go's warnings about
        // requests it retried, which say nothing about why the upgrade failed in the end.
        transient = err.transientError;
        if (err.releaseLocked) failure += ' (another helm operation holds the release; if none is running, set recover-pending: true)';
        after = undefined;
        if (!err.transient || attempt >= policy.attempts || req.signal?.aborted) break;
        // A transient failure is retried only when history proves helm wrote no revision: an
        // upgrade that got as far as a revision is a real attempt, rolled back below like any other.
        after = await readHistory(deps, u.release, target, req.signal).catch(() => undefined);
        if (!after || !sameHead(after, history)) break;
        const wait = backoffMs(attempt, policy, deps.random);
        deps.logger.warning(
          `${u.namespace}/${u.release}: upgrade failed before helm wrote a revision ` +
            `(${failure}); transient, retrying in ${wait} ms (${attempt}/${policy.attempts - 1})`,
        );
        await deps.clock.sleep(wait, req.signal);
      }
    }

    if (result && u.dryRun !== 'none') {
      return done({
        status: 'dry-run',
        revision: before?.revision ?? 0,
        changed: true,
        chartVersion: result.chartVersion,
        appVersion: result.appVersion,
      });
    }

    if (result && req.verify) {
      const v = await req.verify(result.revision).catch(noVerdict);
      if (v.inconclusive && !req.signal?.aborted) {
        // Deployed, and not judged: neither rolled back (it may be healthy) nor passed (it may not).
        const lookCommand = statusCommand(u.release, target, deps.helm.target?.context);
        return done({
          status: 'unknown',
          revision: result.revision,
          attemptedRevision: result.revision,
          chartVersion: result.chartVersion,
          appVersion: result.appVersion,
          changed: true,
          error:
            `revision ${result.revision} deployed, but its verification had ` +
            `${v.reason ?? 'no verdict'}; left as it is, not rolled back (look: ${lookCommand})`,
          lookCommand,
        });
      }
      if (!v.ok) failure = `revision ${result.revision} deployed but failed verification: ${v.reason ?? 'no reason given'}`;
    }

    if (result && !failure) {
      let changed = true;
      if (before && req.compareContent) {
        try {
          changed = (await deps.helm.contentDigest(u.release, before.revision, target)) !== result.contentDigest;
        } catch (err) {
          deps.logger.debug(`could not compare with revision ${before.revision}: ${errorMessage(err)}`);
        }
      }
      return done({
        status: 'deployed',
        revision: result.revision,
        attemptedRevision: result.revision,
        chartVersion: result.chartVersion,
        appVersion: result.appVersion,
        changed,
      });
    }

    // Failed. Did helm get as far as creating a revision? Only its history can say (re-read with
    // retries); when it cannot be read, the outcome says so instead of guessing.
    if (!result) after ??= await readHistory(deps, u.release, target).catch(() => undefined);
    if (!result && !after) {
      const lookCommand = historyCommand(u.release, target, deps.helm.target?.context);
      return done({
        status: 'unknown',
        revision: before?.revision ?? 0,
        changed: false,
        error: `${failure}; then helm's history could not be read, so whether helm changed the release is not known (look: ${lookCommand})`,
        lookCommand,
      });
    }
    const newest = latest(history)?.revision ?? 0;
    const head = after && latest(after);
    const attemptedRevision = result?.revision ?? (head && head.revision > newest ? head.revision : undefined);
    if (attemptedRevision === undefined) {
      // An earlier attempt wrote a revision and was rolled back: the release is back on the
      // content it had, but not untouched (helm's history holds what this run did).
      if (retried)
        return done({
          status: 'rolled-back',
          revision: latest(history)?.revision ?? 0,
          attemptedRevision: retried.attempted,
          changed: false,
          error: `${failure} (after revision ${retried.attempted} was rolled back to revision ${before?.revision}'s content)`,
        });
      return done({
        status: 'failed',
        revision: before?.revision ?? 0,
        changed: false,
        error: `${failure} (release untouched)`,
        ...(transient ? { transient } : {}),
      });
    }
    if (!req.rollbackOnFailure) {
      return done({ status: 'failed', revision: attemptedRevision, attemptedRevision, changed: true, error: failure });
    }
    // After a cancel, helm has already been interrupted: return without waiting so it fits in the
    // runner's grace period; the post step checks the result.
    const back = await returnToGood(
      deps.helm,
      {
        ...target,
        release: u.release,
        before: before?.revision,
        why: failure!,
        wait: req.signal?.aborted ? 'none' : 'ready',
        timeoutMs: u.timeoutMs,
      },
      deps.logger,
      retryDeps(deps),
    );
    // A transient failure after helm wrote a revision says nothing about the release either: once
    // that revision is rolled back the tenant is where it started, so the upgrade is tried again
    // (within the same bound) instead of spending the failure budget on an API blip.
    if (back.action === 'rolled-back' && transient && upgrades < policy.attempts && !req.signal?.aborted) {
      const now = await readHistory(deps, u.release, target, req.signal).catch(() => undefined);
      if (now && latest(now)?.status === 'deployed') {
        const wait = backoffMs(upgrades, policy, deps.random);
        deps.logger.warning(
          `${u.namespace}/${u.release}: upgrade failed after helm wrote revision ${attemptedRevision} (${failure}); transient, ` +
            `rolled back to revision ${before?.revision}'s content, retrying in ${wait} ms (${upgrades}/${policy.attempts - 1})`,
        );
        await deps.clock.sleep(wait, req.signal);
        history = now;
        retried = { attempted: attemptedRevision };
        continue;
      }
    }
    switch (back.action) {
      case 'rolled-back':
        return done({ status: 'rolled-back', revision: back.revision, attemptedRevision, changed: false, error: failure });
      case 'uninstalled':
      case 'absent':
        return done({ status: 'uninstalled', revision: 0, attemptedRevision, changed: false, error: failure });
      case 'none':
        return done({ status: 'failed', revision: back.revision, attemptedRevision, changed: true, error: failure });
      case 'unknown':
        return done({
          status: 'unknown',
          revision: attemptedRevision,
          attemptedRevision,
          changed: true,
          error: `${failure}; then helm's history could not be read to roll back (look: ${back.command})`,
          lookCommand: back.command,
        });
      case 'refused':
        return done({
          status: 'failed',
          revision: back.revision,
          attemptedRevision,
          changed: true,
          error: `${failure}; not returned to a good state: ${back.error} (${back.command})`,
        });
      case 'failed':
        return done({
          status: 'failed',
          revision: attemptedRevision,
          attemptedRevision,
          changed: true,
          error: `${failure}; then the rollback failed too: ${back.error}`,
        });
    }
  }
}
