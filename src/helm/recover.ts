import { systemClock } from '../core/clock.ts';
import type { Clock } from '../core/clock.ts';
import { errorMessage } from '../core/errors.ts';
import type { Logger } from '../core/logger.ts';
import { historyCommand, rollbackTo } from './deploy.ts';
import type { Helm } from './helm.ts';
import { isPending, lastGoodRevision, latest } from './history.ts';
import { retryRead } from './transient.ts';
import type { RetryDeps, RetryPolicy } from './transient.ts';

/** A release an interrupted run was upgrading: what the post step needs to put it right. */
export interface Inflight {
  release: string;
  namespace: string;
  helm: string;
  previous?: number;
  timeoutMs: number;
}

export interface RecoverOptions {
  clock?: Clock;
  /** Retries of helm calls (default HELM_RETRY); tests pass short pauses. */
  retry?: RetryPolicy;
}

/** What the post step found and did for one release; `false` means a person must look. */
export type Recovered = boolean;

/**
 * Runs in the post step when main did not finish an upgrade (the job was cancelled, or the
 * process was killed before its own rollback completed). If the release was left pending or
 * failed on top of the revision recorded before the upgrade, it goes back to that revision,
 * and the log says so. A release that the interrupted run did manage to deploy is left alone.
 *
 * It does not wait for readiness (`wait: none`): the runner gives a cancelled job's post step
 * only a few minutes, and a rollback that is written is what matters here; helm calls that fail
 * are retried (bounded). Returns whether the release is in a good state. `helm` is bound to the
 * release's cluster (the target main saved).
 */
export async function recoverAfterCancel(helm: Helm, s: Inflight, logger: Logger, o: RecoverOptions = {}): Promise<Recovered> {
  const t = { namespace: s.namespace };
  const retry: RetryDeps = { clock: o.clock ?? systemClock, logger, policy: o.retry };
  try {
    const history = await retryRead(`helm history ${s.namespace}/${s.release}`, () => helm.history(s.release, t), retry);
    const top = latest(history);
    if (!top || (top.status === 'deployed' && !isPending(top))) {
      logger.info(
        `${s.namespace}/${s.release}: the interrupted run left revision ${top?.revision ?? '(none)'} ${top?.status ?? ''}; nothing to recover`,
      );
      return true;
    }
    const good = s.previous ?? lastGoodRevision(history)?.revision;
    if (good === undefined) {
      logger.warning(`${s.namespace}/${s.release}: revision ${top.revision} is ${top.status} and never deployed; uninstalling it`);
      await helm.uninstall(s.release, { ...t, wait: 'none', timeoutMs: s.timeoutMs });
      return true;
    }
    logger.warning(
      `${s.namespace}/${s.release}: the job stopped during the upgrade and left revision ${top.revision} ${top.status}; rolling back to revision ${good}`,
    );
    const live = await rollbackTo(helm, s.release, good, { ...t, wait: 'none', timeoutMs: s.timeoutMs }, retry);
    logger.info(`${s.namespace}/${s.release}: back on revision ${good}'s content (revision ${live})`);
    return true;
  } catch (err) {
    logger.error(
      `${s.namespace}/${s.release}: could not recover after the cancelled upgrade: ${errorMessage(err)}. Look with "${historyCommand(s.release, t, helm.target?.context)}", then run the deploy again with recover-pending: true`,
    );
    return false;
  }
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
  o: RecoverOptions & { parallel?: number } = {},
): Promise<Inflight[]> {
  const queue = [...all];
  const failed: Inflight[] = [];
  const worker = async () => {
    for (let s = queue.shift(); s; s = queue.shift()) if (!(await recoverAfterCancel(helm, s, logger, o))) failed.push(s);
  };
  await Promise.all(Array.from({ length: Math.min(o.parallel ?? 8, all.length) }, worker));
  return failed;
}
