import { ConfigurationError, errorMessage } from '../core/errors.ts';
import type { Clock } from '../core/clock.ts';
import type { Logger } from '../core/logger.ts';
import type { UpgradeOptions, KubeTarget } from './argv.ts';
import { HelmError } from './helm.ts';
import type { Helm, OpOptions } from './helm.ts';
import { chartVersionOf, isPending, lastGoodRevision, latest } from './history.ts';
import type { Revision } from './history.ts';
import { HELM_RETRY, backoffMs, retryRead } from './transient.ts';
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
  /** Called right before the upgrade starts, with the rollback target (for cancel recovery state). */
  onUpgradeStart?: (previousRevision: number | undefined) => void;
  signal?: AbortSignal;
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
  recovered?: { revision: number; status: string; action: 'rolled-back' | 'uninstalled' };
  error?: string;
  /** With status `unknown`: the exact command that shows what helm recorded. */
  lookCommand?: string;
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
}

/** `helm history <release> -n <ns> [--kube-context <ctx>]`: what a person runs to see the facts (ctx: the bound cluster's). */
export function historyCommand(release: string, t: KubeTarget, context?: string): string {
  return `helm history ${release} -n ${t.namespace}${context ? ` --kube-context ${context}` : ''}`;
}

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

function opts(u: KubeTarget & { timeoutMs: number }, signal?: AbortSignal) {
  return { namespace: u.namespace, wait: 'ready' as const, timeoutMs: u.timeoutMs, signal };
}

/**
 * A release stuck in `pending-*` blocks every later upgrade ("another operation is in
 * progress"). Recovery is never silent: without `recoverPending` it is an error saying exactly
 * what to run; with it, back to the last good revision, or uninstall if there never was one.
 */
async function recoverPending(req: DeployRequest, history: Revision[], deps: DeployDeps): Promise<DeployOutcome['recovered']> {
  const stuck = latest(history)!;
  const { release, namespace } = req.upgrade;
  const good = lastGoodRevision(history);
  const fix = good ? `helm rollback ${release} ${good.revision} -n ${namespace}` : `helm uninstall ${release} -n ${namespace}`;
  if (!req.recoverPending) {
    throw new ConfigurationError(
      `release ${namespace}/${release}`,
      `revision ${stuck.revision} is stuck in ${stuck.status} (${stuck.description || 'an interrupted operation'}), so helm refuses to upgrade it`,
      `set recover-pending: true to ${good ? `roll back to revision ${good.revision}` : 'uninstall it (it never deployed)'}, or run "${fix}"`,
    );
  }
  deps.logger.warning(`${namespace}/${release}: revision ${stuck.revision} is stuck in ${stuck.status}; recovering: ${fix}`);
  if (good) {
    await rollbackTo(deps.helm, release, good.revision, opts(req.upgrade, req.signal), retryDeps(deps));
    return { revision: stuck.revision, status: stuck.status, action: 'rolled-back' };
  }
  await deps.helm.uninstall(release, opts(req.upgrade, req.signal));
  return { revision: stuck.revision, status: stuck.status, action: 'uninstalled' };
}

/**
 * Rolls back to `revision` and returns the revision now live: helm records a rollback as a new
 * revision holding the old content. A failed history read after a successful rollback does not
 * turn it into a failure (the target revision is returned instead).
 *
 * With `retry`, a failed rollback is tried again (bounded, whatever the cause: a rollback that is
 * not retried leaves the tenant on the broken revision), unless history shows it did happen
 * after all (the newest revision is a deployed "Rollback to <revision>").
 */
export async function rollbackTo(helm: Helm, release: string, revision: number, o: OpOptions, retry?: RetryDeps): Promise<number> {
  const policy = retry?.policy ?? HELM_RETRY;
  const attempts = retry ? policy.attempts : 1;
  for (let attempt = 1; ; attempt++) {
    try {
      await helm.rollback(release, revision, o);
      break;
    } catch (err) {
      if (attempt >= attempts) throw err;
      const rows = await helm.history(release, o).catch(() => undefined);
      const head = rows && latest(rows);
      if (head?.status === 'deployed' && head.description === `Rollback to ${revision}`) return head.revision;
      const wait = backoffMs(attempt, policy, retry!.random);
      retry!.logger.warning(
        `rollback of ${o.namespace}/${release} to revision ${revision} failed (${errorMessage(err)}); retrying in ${wait} ms (${attempt}/${attempts - 1})`,
      );
      await retry!.clock.sleep(wait);
    }
  }
  const rows = await (
    retry ? retryRead(`helm history ${o.namespace}/${release}`, () => helm.history(release, o), retry) : helm.history(release, o)
  ).catch(() => []);
  return latest(rows)?.revision ?? revision;
}

export async function deployRelease(req: DeployRequest, deps: DeployDeps): Promise<DeployOutcome> {
  const started = deps.clock.now();
  const u = req.upgrade;
  const target = { namespace: u.namespace };
  let history = await readHistory(deps, u.release, target, req.signal).catch((err: unknown) => {
    throw new ReleaseUnreadableError(`${u.namespace}/${u.release}`, err);
  });
  let recovered: DeployOutcome['recovered'];
  if (isPending(latest(history))) {
    recovered = await recoverPending(req, history, deps);
    history = await readHistory(deps, u.release, target, req.signal);
  }
  const before = lastGoodRevision(history);
  const base: Omit<DeployOutcome, 'status' | 'revision' | 'changed' | 'durationMs'> = {
    release: u.release,
    namespace: u.namespace,
    previousRevision: before?.revision,
    chartVersion: before ? chartVersionOf(before.chart) : '',
    appVersion: before?.app_version ?? '',
    recovered,
  };
  const done = (o: Omit<DeployOutcome, 'durationMs' | keyof typeof base> & Partial<typeof base>): DeployOutcome => ({
    ...base,
    ...o,
    durationMs: deps.clock.now() - started,
  });

  if (before && req.alreadyDone && (await req.alreadyDone(history))) {
    return done({ status: 'unchanged', revision: latest(history)!.revision, changed: false });
  }

  req.onUpgradeStart?.(before?.revision);
  let result;
  let failure: string | undefined;
  // What helm recorded after a failed upgrade, once read (undefined: not read yet).
  let after: Revision[] | undefined;
  const policy = deps.retry ?? HELM_RETRY;
  for (let attempt = 1; ; attempt++) {
    try {
      result = await deps.helm.upgrade(u, req.signal);
      failure = undefined; // an earlier attempt's transient failure is not this result's
      break;
    } catch (err) {
      if (!(err instanceof HelmError)) throw err;
      failure = err.message;
      if (err.releaseLocked) failure += ' (another helm operation holds the release; if none is running, set recover-pending: true)';
      after = undefined;
      if (!err.transient || attempt >= policy.attempts || req.signal?.aborted) break;
      // A transient failure is retried only when history proves helm wrote no revision: an
      // upgrade that got as far as a revision is a real attempt, rolled back below like any other.
      after = await readHistory(deps, u.release, target, req.signal).catch(() => undefined);
      if (!after || !sameHead(after, history)) break;
      const wait = backoffMs(attempt, policy, deps.random);
      deps.logger.warning(
        `${u.namespace}/${u.release}: upgrade failed before helm wrote a revision (${failure}); transient, retrying in ${wait} ms (${attempt}/${policy.attempts - 1})`,
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
        error: `revision ${result.revision} deployed, but its verification had ${v.reason ?? 'no verdict'}; left as it is, not rolled back (look: ${lookCommand})`,
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
    return done({ status: 'failed', revision: before?.revision ?? 0, changed: false, error: `${failure} (release untouched)` });
  }
  if (!req.rollbackOnFailure) {
    return done({ status: 'failed', revision: attemptedRevision, attemptedRevision, changed: true, error: failure });
  }
  // After a cancel, helm has already been interrupted: roll back without waiting so it fits in the
  // runner's grace period; the post step checks the result.
  const cancelled = req.signal?.aborted ?? false;
  const rbOpts = { ...opts(u), wait: cancelled ? ('none' as const) : ('ready' as const) };
  try {
    if (before) {
      deps.logger.warning(`${u.namespace}/${u.release}: ${failure}; rolling back to revision ${before.revision}`);
      const live = await rollbackTo(deps.helm, u.release, before.revision, rbOpts, retryDeps(deps));
      return done({ status: 'rolled-back', revision: live, attemptedRevision, changed: false, error: failure });
    }
    deps.logger.warning(`${u.namespace}/${u.release}: ${failure}; the release never deployed, uninstalling it`);
    await deps.helm.uninstall(u.release, rbOpts);
    return done({ status: 'uninstalled', revision: 0, attemptedRevision, changed: false, error: failure });
  } catch (err) {
    return done({
      status: 'failed',
      revision: attemptedRevision,
      attemptedRevision,
      changed: true,
      error: `${failure}; then the rollback failed too: ${errorMessage(err)}`,
    });
  }
}
