import { systemClock } from '../core/clock.ts';
import { ConfigurationError, errorMessage } from '../core/errors.ts';
import type { Logger } from '../core/logger.ts';
import type { KubeTarget } from './argv.ts';
import type { Helm, OpOptions } from './helm.ts';
import { isPending, lastGoodRevision, latest, wasDeployed } from './history.ts';
import type { Revision } from './history.ts';
import { HELM_RETRY, backoffMs, retryRead, returnAttempts } from './transient.ts';
import type { RetryDeps } from './transient.ts';

/**
 * The one way the suite returns a release to a good state. helm-deploy (a failed upgrade or
 * verification), its post step (after a cancel), the root action's watch, auto-rollback,
 * tenant-rollout (a failed tenant, soak, wave, its post step) and the recovery of a release stuck
 * in `pending-*` all call `returnToGood`, so they follow one policy, decided from what helm
 * recorded (the history is read again on every call, never assumed):
 *
 * | revision recorded before the run | the history now                                   | action           |
 * |----------------------------------|---------------------------------------------------|------------------|
 * | any                              | cannot be read                                    | `unknown`        |
 * | any                              | empty (the release does not exist)                | `absent`         |
 * | any, with `onlyIfBroken`         | newest revision `deployed`                        | `none`           |
 * | N                                | newest is N, `deployed`                           | `none`           |
 * | N                                | holds N                                           | roll back to N   |
 * | N                                | does not hold N (pruned by max-history)           | `refused`        |
 * | none                             | no revision before the newest was ever deployed   | uninstall        |
 * | none                             | newest failed/pending, an older one was deployed  | roll back to it  |
 * | none                             | newest `deployed`, older ones only `superseded`   | `refused`        |
 *
 * The uninstall row is what a failed first install leaves (and a first install that failed its
 * checks): nothing was ever live before it, so removing it is the good state. A failed or pending
 * newest revision on top of a deployed one goes back to that one: it is what helm says is live.
 * The last row refuses rather than guess: with nothing recorded, the revision before a deployed
 * one is only "previous", and "previous" is not known to be good. Every outcome a person must act
 * on carries the exact command to run.
 *
 * A blue-green application returns to a color instead: `returnToGood` with `colors` (the
 * blue-green rows, `decideColorReturn`, at the end of this file).
 */

export interface ReturnRequest extends KubeTarget {
  release: string;
  /** The last revision deployed before this run touched the release, when it was recorded. */
  before?: number;
  /** Why the release is being returned, for the log; a function is given the newest revision. */
  why: string | ((newest: Revision | undefined) => string);
  /** Act only when helm's own state is broken (newest failed or pending): the post step's case. */
  onlyIfBroken?: boolean;
  /** `none` after a cancel: fits in the runner's grace period. */
  wait: 'ready' | 'none';
  timeoutMs: number;
  signal?: AbortSignal;
}

export type ReturnOutcome =
  /** Nothing to do: the release is absent, or already good. `revision`: the newest (0: none). */
  | { action: 'absent' | 'none'; revision: number }
  /** Back on revision `to`'s content; `revision` is the one now live (helm writes a new one). */
  | { action: 'rolled-back'; to: number; revision: number }
  | { action: 'uninstalled'; revision: 0 }
  /**
   * A person must look: `refused` by the policy, `failed` (a helm call failed after its retries;
   * `error` is helm's own message), or `unknown` (the history could not be read, so the state is
   * not known). `command` is what to run.
   */
  | { action: 'refused' | 'failed' | 'unknown'; error: string; command: string; revision: number };

/** Back in a good state (or nothing to return: the release is gone or already good). */
export function isGood(o: ReturnOutcome): boolean {
  return o.action !== 'refused' && o.action !== 'failed' && o.action !== 'unknown';
}

/** Retries for the helm calls of a return: bounded, with backoff (see transient.ts). */
export type ReturnRetry = Omit<RetryDeps, 'logger'>;

/** `-n <ns> [--kube-context <ctx>]`, as a person would type it. */
function flags(t: KubeTarget, context?: string): string {
  return `-n ${t.namespace}${context ? ` --kube-context ${context}` : ''}`;
}

/** `helm history <release> -n <ns> [--kube-context <ctx>]`: what a person runs to see the facts (ctx: the bound cluster's). */
export function historyCommand(release: string, t: KubeTarget, context?: string): string {
  return `helm history ${release} ${flags(t, context)}`;
}

export type ReturnDecision =
  { action: 'absent' | 'none' | 'uninstall' } | { action: 'rollback'; to: number } | { action: 'refuse'; error: string; to?: number };

/** The policy table above, from the facts alone (pure; tested as a table). */
export function decideReturn(history: readonly Revision[], req: Pick<ReturnRequest, 'before' | 'onlyIfBroken'>): ReturnDecision {
  const top = latest(history);
  if (!top) return { action: 'absent' };
  const healthy = top.status === 'deployed';
  if (req.onlyIfBroken && healthy) return { action: 'none' };
  if (req.before !== undefined) {
    if (top.revision === req.before && healthy) return { action: 'none' };
    if (history.some((r) => r.revision === req.before)) return { action: 'rollback', to: req.before };
    return {
      action: 'refuse',
      error: `revision ${req.before}, recorded before the deploy, is no longer in the history (pruned by max-history?)`,
    };
  }
  const older = history.slice(0, -1);
  if (!older.some(wasDeployed)) return { action: 'uninstall' };
  const good = lastGoodRevision(older)!.revision;
  if (!healthy) return { action: 'rollback', to: good };
  return {
    action: 'refuse',
    error: `no revision was recorded before the deploy, and going back to revision ${good} (the one before) would be a guess`,
    to: good,
  };
}

/**
 * `helm rollback` to `revision`, retried (bounded, whatever the cause: a rollback that is not
 * retried leaves the release on the broken revision) unless history shows it did happen after
 * all (the newest revision is a deployed "Rollback to <revision>"). Its budget is the policy's
 * `returnAttempts`; the second half of them do not wait for readiness: helm's --wait is most of a
 * rollback's API requests, and the content restored is the one that ran before, so getting the
 * release off the broken revision comes first. Returns the revision now live, 0 when it could not
 * be read afterwards (never a guess).
 */
async function rollbackTo(helm: Helm, release: string, revision: number, o: OpOptions, retry: RetryDeps | undefined): Promise<number> {
  const policy = retry?.policy ?? HELM_RETRY;
  const attempts = retry ? returnAttempts(policy) : 1;
  for (let attempt = 1; ; attempt++) {
    const late = o.wait !== 'none' && attempt > Math.ceil(attempts / 2);
    try {
      await helm.rollback(release, revision, late ? { ...o, wait: 'none' } : o);
      break;
    } catch (err) {
      if (attempt >= attempts || o.signal?.aborted) throw err;
      const head = latest((await helm.history(release, o).catch(() => undefined)) ?? []);
      if (head?.status === 'deployed' && head.description === `Rollback to ${revision}`) return head.revision;
      const wait = backoffMs(attempt, policy, retry!.random);
      retry!.logger.warning(
        `rollback of ${o.namespace}/${release} to revision ${revision} failed (${errorMessage(err)}); retrying in ${wait} ms (${attempt}/${attempts - 1})`,
      );
      await retry!.clock.sleep(wait);
    }
  }
  // A failed read after a successful rollback does not turn it into a failure, nor into a guess.
  const rows = await readHistory(helm, release, o, retry).catch(() => []);
  return latest(rows)?.revision ?? 0;
}

function readHistory(helm: Helm, release: string, t: KubeTarget, retry: RetryDeps | undefined): Promise<Revision[]> {
  const read = () => helm.history(release, t);
  return retry ? retryRead(`helm history ${t.namespace}/${release}`, read, retry) : read();
}

/**
 * Returns `r.release` to a good state by the policy above. Never throws for helm's failures: the
 * outcome says what happened. With `retry`, helm calls that fail are tried again (bounded).
 */
export function returnToGood(helm: Helm, r: ReturnRequest, logger: Logger, retry?: ReturnRetry): Promise<ReturnOutcome>;
/** The blue-green form: back to a color (see `decideColorReturn`); helm is reached through `r.colors`. */
export function returnToGood(helm: Helm | undefined, r: ColorReturnRequest, logger: Logger): Promise<ColorReturnOutcome>;
export function returnToGood(
  helm: Helm | undefined,
  r: ReturnRequest | ColorReturnRequest,
  logger: Logger,
  retry?: ReturnRetry,
): Promise<ReturnOutcome | ColorReturnOutcome> {
  return 'colors' in r ? returnColorToGood(r, logger) : returnReleaseToGood(helm!, r, logger, retry);
}

async function returnReleaseToGood(helm: Helm, r: ReturnRequest, logger: Logger, retry?: ReturnRetry): Promise<ReturnOutcome> {
  const name = `${r.namespace}/${r.release}`;
  const t = { namespace: r.namespace };
  const ctx = helm.target?.context;
  const op: OpOptions = { ...t, wait: r.wait, timeoutMs: r.timeoutMs, signal: r.signal };
  const rd: RetryDeps | undefined = retry && { ...retry, logger };
  const look = historyCommand(r.release, t, ctx);
  let history: Revision[];
  try {
    history = await readHistory(helm, r.release, t, rd);
  } catch (err) {
    const error = errorMessage(err);
    logger.error(`${name}: could not read the history to return it to a good state: ${error}. Look with: ${look}`);
    return { action: 'unknown', error, command: look, revision: 0 };
  }
  const newest = latest(history)?.revision ?? 0;
  const why = typeof r.why === 'function' ? r.why(latest(history)) : r.why;
  const d = decideReturn(history, r);
  switch (d.action) {
    case 'absent':
    case 'none':
      logger.info(`${name}: ${why}; ${d.action === 'absent' ? 'the release does not exist' : `revision ${newest} is good`}, nothing to do`);
      return { action: d.action, revision: newest };
    case 'refuse': {
      const command = d.to === undefined ? look : `helm rollback ${r.release} ${d.to} ${flags(t, ctx)}`;
      logger.error(`${name}: ${why}; not returned: ${d.error}. Decide, then run: ${command}`);
      return { action: 'refused', error: d.error, command, revision: newest };
    }
    case 'uninstall': {
      const command = `helm uninstall ${r.release} ${flags(t, ctx)}`;
      logger.warning(`${name}: ${why}; the release was never deployed before, uninstalling it`);
      try {
        await uninstall(helm, r.release, op, rd);
        return { action: 'uninstalled', revision: 0 };
      } catch (err) {
        const error = errorMessage(err);
        logger.error(`${name}: uninstall failed: ${error}. Run: ${command}`);
        return { action: 'failed', error, command, revision: newest };
      }
    }
    case 'rollback': {
      const command = `helm rollback ${r.release} ${d.to} ${flags(t, ctx)}`;
      logger.warning(`${name}: ${why}; rolling back to revision ${d.to}`);
      try {
        return { action: 'rolled-back', to: d.to, revision: await rollbackTo(helm, r.release, d.to, op, rd) };
      } catch (err) {
        const error = errorMessage(err);
        logger.error(`${name}: rollback to revision ${d.to} failed: ${error}. Run: ${command}`);
        return { action: 'failed', error, command, revision: newest };
      }
    }
  }
}

/** `helm uninstall`, retried like a rollback unless history shows the release is gone. */
async function uninstall(helm: Helm, release: string, o: OpOptions, retry: RetryDeps | undefined): Promise<void> {
  const policy = retry?.policy ?? HELM_RETRY;
  const attempts = retry ? returnAttempts(policy) : 1;
  for (let attempt = 1; ; attempt++) {
    try {
      return await helm.uninstall(release, o);
    } catch (err) {
      if (attempt >= attempts) throw err;
      if ((await helm.history(release, o).catch(() => undefined))?.length === 0) return;
      await retry!.clock.sleep(backoffMs(attempt, policy, retry!.random));
    }
  }
}

/** A release an interrupted run was upgrading: what the post step needs to put it right. */
export interface Inflight {
  release: string;
  namespace: string;
  helm: string;
  previous?: number;
  timeoutMs: number;
}

/**
 * The post step, when main did not finish an upgrade (the job was cancelled, or the process was
 * killed before its own rollback completed): `returnToGood` for a release left failed or pending;
 * one the interrupted run did deploy is left alone. It does not wait for readiness: the runner
 * gives a cancelled job's post step only a few minutes, and a rollback that is written is what
 * matters here. Returns whether the release is in a good state.
 */
export async function recoverAfterCancel(helm: Helm, s: Inflight, logger: Logger, retry?: Partial<ReturnRetry>): Promise<boolean> {
  const back = await returnToGood(
    helm,
    {
      release: s.release,
      namespace: s.namespace,
      before: s.previous,
      why: (top) => `the job stopped during the upgrade and left revision ${top?.revision ?? '(none)'} ${top?.status ?? ''}`,
      onlyIfBroken: true,
      wait: 'none',
      timeoutMs: s.timeoutMs,
    },
    logger,
    { clock: systemClock, ...retry },
  );
  if (back.action === 'rolled-back')
    logger.info(`${s.namespace}/${s.release}: back on revision ${back.to}'s content (revision ${back.revision})`);
  if (isGood(back)) return true;
  logger.error(
    `${s.namespace}/${s.release}: could not recover after the cancelled upgrade: ${'error' in back ? back.error : back.action}. ` +
      `Look with "${historyCommand(s.release, s, helm.target?.context)}", then run the deploy again with recover-pending: true`,
  );
  return false;
}

/**
 * Recovers many releases at once, `parallel` at a time: the post step of a rollout cancelled with
 * a whole wave in flight must finish inside the runner's cancel window, and one slow release
 * must not hold up the others. Returns the releases that could not be recovered.
 */
export async function recoverAllAfterCancel(
  helm: Helm,
  all: readonly Inflight[],
  logger: Logger,
  o: Partial<ReturnRetry> & { parallel?: number } = {},
): Promise<Inflight[]> {
  const queue = [...all];
  const failed: Inflight[] = [];
  const worker = async () => {
    for (let s = queue.shift(); s; s = queue.shift()) if (!(await recoverAfterCancel(helm, s, logger, o))) failed.push(s);
  };
  await Promise.all(Array.from({ length: Math.min(o.parallel ?? 8, all.length) }, worker));
  return failed;
}

/** What a pending recovery did: the stuck revision, and how it was resolved. */
export interface PendingRecovery {
  revision: number;
  status: string;
  action: 'rolled-back' | 'uninstalled';
}

/**
 * A release stuck in `pending-*` blocks every later upgrade ("another operation is in
 * progress"). Recovery is never silent: without `recover` it is an error saying exactly what to
 * run; with it, `returnToGood` (back to the revision helm says is live, or uninstall when none
 * ever deployed). Undefined when the release is not pending.
 */
export async function recoverPending(
  helm: Helm,
  history: readonly Revision[],
  r: KubeTarget & { release: string; recover: boolean; timeoutMs: number; signal?: AbortSignal },
  logger: Logger,
  retry?: ReturnRetry,
): Promise<PendingRecovery | undefined> {
  const stuck = latest(history);
  if (!stuck || !isPending(stuck)) return undefined;
  const d = decideReturn(history, {});
  const ctx = helm.target?.context;
  const fix =
    d.action === 'rollback' ? `helm rollback ${r.release} ${d.to} ${flags(r, ctx)}` : `helm uninstall ${r.release} ${flags(r, ctx)}`;
  if (!r.recover) {
    throw new ConfigurationError(
      `release ${r.namespace}/${r.release}`,
      `revision ${stuck.revision} is stuck in ${stuck.status} (${stuck.description || 'an interrupted operation'}), so helm refuses to upgrade it`,
      `set recover-pending: true to ${d.action === 'rollback' ? `roll back to revision ${d.to}` : 'uninstall it (it never deployed)'}, or run "${fix}"`,
    );
  }
  logger.warning(`${r.namespace}/${r.release}: revision ${stuck.revision} is stuck in ${stuck.status}; recovering: ${fix}`);
  const back = await returnToGood(helm, { ...r, why: `recovering from ${stuck.status}`, wait: 'ready' }, logger, retry);
  if (back.action === 'rolled-back' || back.action === 'uninstalled')
    return { revision: stuck.revision, status: stuck.status, action: back.action };
  throw new Error(
    `${r.namespace}/${r.release}: could not recover from ${stuck.status}: ${'error' in back ? `${back.error} (${back.command})` : back.action}`,
  );
}

// ---------------------------------------------------------------------------------------------
// The blue-green form: the same "return to a good state" for an application deployed as two
// color releases behind a live Service. There the good state is not a revision but a color, and
// returning is a selector switch, not a helm rollback.

export type ReturnColor = 'blue' | 'green';

/**
 * What the blue-green return reads and does. `src/bluegreen/` implements it over the live
 * Service and the two color releases (this layer does not know Services).
 */
export interface ColorSwitch {
  /** `namespace/name` of the live Service, for messages. */
  service: string;
  /** The command a person runs to point the Service at a color themselves. */
  switchCommand(to: ReturnColor): string;
  /**
   * The color the selector routes to now (undefined: no color key), and the one that was live
   * before the last deploy's switch, as recorded with that switch (undefined: none recorded).
   */
  read(): Promise<{ live?: ReturnColor; recorded?: ReturnColor }>;
  /** Why `color` cannot serve (`absent`: its release is gone); empty when it can. */
  problems(color: ReturnColor): Promise<'absent' | string[]>;
  /** Points the selector from `from` to `to`, checking that `from` is still live. Keeps the record. */
  switchTo(from: ReturnColor, to: ReturnColor): Promise<void>;
}

export interface ColorReturnRequest {
  /** The base release name (the colors are `<release>-blue` and `<release>-green`). */
  release: string;
  namespace: string;
  colors: ColorSwitch;
  /**
   * The destination when it is known to the caller: an operator's explicit color, or the color a
   * run itself switched away from. Default: the color recorded as live before the last switch.
   */
  to?: ReturnColor;
  why: string;
}

export type ColorReturnOutcome =
  /** The destination already serves: nothing switched (a second rollback is a no-op). */
  | { action: 'none'; live: ReturnColor }
  | { action: 'switched'; from: ReturnColor; live: ReturnColor }
  /** As for releases: a person must look; `live` is what serves (when it could be read). */
  | { action: 'refused' | 'failed' | 'unknown'; error: string; command: string; live?: ReturnColor; to?: ReturnColor; subject: string };

export type ColorReturnDecision = { action: 'none' } | { action: 'switch'; to: ReturnColor } | { action: 'refuse'; error: string };

/**
 * The blue-green rows of the policy (pure; tested as a table with the rows above):
 *
 * | live color | destination (explicit, else recorded) | the destination's release | action         |
 * |------------|---------------------------------------|---------------------------|----------------|
 * | none       | any                                   | any                       | `refused`      |
 * | X          | none recorded, none given             | any                       | `refused`      |
 * | X          | X                                     | any                       | `none`         |
 * | X          | Y                                     | absent                    | `refused`      |
 * | X          | Y                                     | not serving               | `refused`      |
 * | X          | Y                                     | serving                   | switch to Y    |
 *
 * The destination is a color, never "the other one": a toggle run twice puts the bad color back.
 * With nothing recorded (the Service was last switched by hand, or by an older version of the
 * suite) it refuses rather than guess, as the release policy does for "previous".
 */
export function decideColorReturn(f: {
  live?: ReturnColor;
  destination?: ReturnColor;
  /** The destination's problems (`absent`: no release); only read when a switch is possible. */
  problems?: 'absent' | readonly string[];
}): ColorReturnDecision {
  if (!f.live) return { action: 'refuse', error: 'the live Service has no color key, so there is no live color to return from' };
  if (!f.destination)
    return {
      action: 'refuse',
      error:
        'no color is recorded as live before the last switch (the first deploy, or a switch made outside this suite), ' +
        `and switching to the other color would be a guess; ${f.live} stays live`,
    };
  if (f.destination === f.live) return { action: 'none' };
  if (f.problems === 'absent')
    return {
      action: 'refuse',
      error:
        'does not exist (uninstalled after the keep window, or never deployed), ' +
        `so there is no ${f.destination} color to switch back to; ${f.live} stays live`,
    };
  if (f.problems && f.problems.length > 0)
    return { action: 'refuse', error: `is not fit to serve: ${f.problems.join('; ')}; the selector stays on ${f.live}` };
  return { action: 'switch', to: f.destination };
}

async function returnColorToGood(r: ColorReturnRequest, logger: Logger): Promise<ColorReturnOutcome> {
  const c = r.colors;
  const name = `Service ${c.service}`;
  let facts: { live?: ReturnColor; recorded?: ReturnColor };
  try {
    facts = await c.read();
  } catch (err) {
    const error = errorMessage(err);
    logger.error(`${name}: ${r.why}; could not read the live color: ${error}`);
    return {
      action: 'unknown',
      error,
      command: `kubectl -n ${r.namespace} get service ${c.service.split('/').pop()} -o yaml`,
      subject: name,
    };
  }
  const destination = r.to ?? facts.recorded;
  let d = decideColorReturn({ live: facts.live, destination });
  if (d.action === 'switch') {
    let problems: 'absent' | string[];
    try {
      problems = await c.problems(d.to);
    } catch (err) {
      problems = [`its health could not be read: ${errorMessage(err)}`];
    }
    d = decideColorReturn({ live: facts.live, destination, problems });
  }
  const live = facts.live;
  switch (d.action) {
    case 'none':
      logger.info(`${name}: ${r.why}; ${live} already serves, nothing to switch`);
      return { action: 'none', live: live! };
    case 'refuse': {
      const other = live && (live === 'blue' ? 'green' : 'blue');
      const command = live ? c.switchCommand(destination ?? other!) : `kubectl -n ${r.namespace} get service -o wide`;
      // A destination that cannot serve is a fact about its release; the rest are about the Service.
      const subject = destination && live && destination !== live ? `release ${r.namespace}/${r.release}-${destination}` : name;
      logger.error(`${name}: ${r.why}; not switched: ${subject}: ${d.error}. Decide, then run: ${command}`);
      return { action: 'refused', error: d.error, command, live, to: destination, subject };
    }
    case 'switch':
      logger.warning(`${name}: ${r.why}; switching the live color ${live} -> ${d.to}`);
      try {
        await c.switchTo(live!, d.to);
        return { action: 'switched', from: live!, live: d.to };
      } catch (err) {
        const error = errorMessage(err);
        const command = c.switchCommand(d.to);
        logger.error(`${name}: switching to ${d.to} failed: ${error}. Run: ${command}`);
        return { action: 'failed', error, command, live, to: d.to, subject: name };
      }
  }
}
