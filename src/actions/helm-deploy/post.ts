import { errorMessage } from '../../core/errors.ts';
import { runCommand } from '../../core/process.ts';
import type { CommandRunner } from '../../core/process.ts';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { HelmCli } from '../../helm/cli.ts';
import type { Helm } from '../../helm/helm.ts';
import { isPending, lastGoodRevision, latest } from '../../helm/history.ts';
import type { ActionContext } from '../common/context.ts';
import { helmEnv } from '../common/helm-inputs.ts';
import { STATE_PRIVATE_DIR } from '../common/helm-session.ts';

export interface Inflight {
  release: string;
  namespace: string;
  kubeContext?: string;
  helm: string;
  previous?: number;
  timeoutMs: number;
}

/**
 * The helm the post step recovers with: the binary main used, and main's private kubeconfig
 * when main was given one (otherwise the runner's own, as in main). Opened once per post step.
 */
export function openPostHelm(ctx: ActionContext, binary: string, run: CommandRunner = runCommand): Promise<Helm> {
  const dir = ctx.getState(STATE_PRIVATE_DIR);
  const kubeconfig = dir && existsSync(join(dir, 'kubeconfig')) ? join(dir, 'kubeconfig') : undefined;
  return HelmCli.create({ binary, env: helmEnv(ctx.env, kubeconfig), run, secrets: ctx.secrets, logger: ctx.logger });
}

/**
 * Runs in the post step when main did not finish an upgrade (the job was cancelled, or the
 * process was killed before its own rollback completed). If the release was left pending or
 * failed on top of the revision recorded before the upgrade, it goes back to that revision,
 * and the log says so. A release that the interrupted run did manage to deploy is left alone.
 */
export async function recoverAfterCancel(ctx: ActionContext, helm: Helm, s: Inflight): Promise<void> {
  const t = { namespace: s.namespace, kubeContext: s.kubeContext };
  try {
    const history = await helm.history(s.release, t);
    const top = latest(history);
    if (!top || (top.status === 'deployed' && !isPending(top))) {
      ctx.logger.info(
        `${s.namespace}/${s.release}: the interrupted run left revision ${top?.revision ?? '(none)'} ${top?.status ?? ''}; nothing to recover`,
      );
      return;
    }
    const good = s.previous ?? lastGoodRevision(history)?.revision;
    if (good === undefined) {
      ctx.logger.warning(`${s.namespace}/${s.release}: revision ${top.revision} is ${top.status} and never deployed; uninstalling it`);
      await helm.uninstall(s.release, { ...t, wait: 'none', timeoutMs: s.timeoutMs });
      return;
    }
    ctx.logger.warning(
      `${s.namespace}/${s.release}: the job stopped during the upgrade and left revision ${top.revision} ${top.status}; rolling back to revision ${good}`,
    );
    await helm.rollback(s.release, good, { ...t, wait: 'ready', timeoutMs: s.timeoutMs });
    ctx.logger.info(`${s.namespace}/${s.release}: back on revision ${good}'s content`);
  } catch (err) {
    ctx.logger.error(
      `${s.namespace}/${s.release}: could not recover after the cancelled upgrade: ${errorMessage(err)}. Run helm-deploy again with recover-pending: true`,
    );
  }
}
