import { existsSync, rmSync } from 'node:fs';
import { ConfigurationError } from '../../core/errors.ts';
import { runCommand } from '../../core/process.ts';
import type { CommandRunner } from '../../core/process.ts';
import { clusterTarget, targetFromState } from '../../core/cluster-target.ts';
import type { ClusterTarget } from '../../core/cluster-target.ts';
import { HelmCli } from '../../helm/cli.ts';
import { HelmError } from '../../helm/helm.ts';
import type { Helm } from '../../helm/helm.ts';
import type { ActionContext } from './context.ts';
import { helmEnv } from './helm-inputs.ts';
import { maskKubeconfig, PrivateDir } from './kubeconfig.ts';

export interface HelmSession {
  /** Bound to `target`. */
  helm: Helm;
  /** The one cluster of this action: helm and the Kubernetes client are both built from it. */
  target: ClusterTarget;
  env: NodeJS.ProcessEnv;
  private: PrivateDir;
  close(): void;
}

export interface HelmSessionOptions {
  binary: string;
  kubeconfig: string;
  /** The kube-context input (empty: the kubeconfig's current context). */
  context?: string;
  run?: CommandRunner;
}

export const STATE_PRIVATE_DIR = 'private-dir';

export interface Credentials {
  /** The cluster the inputs name, built once: main's private kubeconfig (or the runner's) and the context. */
  target: ClusterTarget;
  /** Environment for helm and kubectl: the runner's minus INPUT_*, KUBECONFIG set. */
  env: NodeJS.ProcessEnv;
  private: PrivateDir;
}

/** Writes the kubeconfig input (masked) into a private directory recorded for the post step. */
export function openCredentials(ctx: ActionContext, kubeconfig: string, context?: string): Credentials {
  const dir = new PrivateDir(ctx.tempDir);
  ctx.saveState(STATE_PRIVATE_DIR, dir.path);
  let kubeconfigPath: string | undefined;
  if (kubeconfig) {
    maskKubeconfig(kubeconfig, ctx.secrets);
    kubeconfigPath = dir.write('kubeconfig', kubeconfig);
  }
  return {
    target: clusterTarget({ kubeconfigPath: kubeconfigPath ?? (ctx.env.KUBECONFIG || undefined), context }),
    env: helmEnv(ctx.env, kubeconfigPath),
    private: dir,
  };
}

/** A helm bound to `target`, whose version is detected once; a helm that cannot run is one clear input error. */
export async function openHelm(
  ctx: ActionContext,
  binary: string,
  env: NodeJS.ProcessEnv,
  target: ClusterTarget,
  run: CommandRunner = runCommand,
): Promise<HelmCli> {
  try {
    const helm = await HelmCli.create({ binary, env, target, run, secrets: ctx.secrets, logger: ctx.logger });
    ctx.logger.info(`helm ${helm.version.raw} (${binary})`);
    return helm;
  } catch (err) {
    if (err instanceof HelmError)
      throw new ConfigurationError(
        'input "helm"',
        err.message,
        'install Helm 3 or 4 on the runner (azure/setup-helm), or point "helm" at the binary',
      );
    throw err;
  }
}

/** Credentials and helm together, for actions that always deploy. */
export async function openHelmSession(ctx: ActionContext, o: HelmSessionOptions): Promise<HelmSession> {
  const c = openCredentials(ctx, o.kubeconfig, o.context);
  try {
    const helm = await openHelm(ctx, o.binary, c.env, c.target, o.run);
    return { helm, target: c.target, env: c.env, private: c.private, close: () => c.private.remove() };
  } catch (err) {
    c.private.remove();
    throw err;
  }
}

/** The post step's half: remove the private directory a cancelled main may have left. */
export function removePrivateDir(ctx: ActionContext): void {
  const p = ctx.getState(STATE_PRIVATE_DIR);
  if (p) rmSync(p, { recursive: true, force: true });
}

/** Maps "cluster unreachable" into one clear line naming the inputs to check. */
export function explainHelmError(err: unknown): never {
  // A history read that failed is wrapped (ReleaseUnreadableError): the hint follows its cause.
  const helmErr = err instanceof HelmError ? err : err instanceof Error && err.cause instanceof HelmError ? err.cause : undefined;
  if (helmErr?.unreachable) {
    throw new ConfigurationError(
      'cluster',
      `cannot reach the Kubernetes API: ${helmErr.message}`,
      'check the kubeconfig and kube-context inputs, and that the runner can reach the API server',
    );
  }
  throw err;
}

/**
 * The helm the post step recovers with: the binary main used, bound to the target main saved
 * in its state (never guessed from where main's kubeconfig usually is). A saved kubeconfig that
 * is gone falls back to the runner's own KUBECONFIG, as main did when it had no kubeconfig input;
 * the context is kept. Opened once per post step.
 */
export function openPostHelm(ctx: ActionContext, binary: string, saved: unknown, run: CommandRunner = runCommand): Promise<HelmCli> {
  return HelmCli.create({ binary, env: helmEnv(ctx.env), target: postTarget(ctx, saved), run, secrets: ctx.secrets, logger: ctx.logger });
}

/** The target main saved, for the post step: its kubeconfig if still there, else the runner's own, the context kept. */
export function postTarget(ctx: ActionContext, saved: unknown): ClusterTarget {
  const target = targetFromState(saved);
  return target.kubeconfigPath && existsSync(target.kubeconfigPath)
    ? target
    : clusterTarget({ name: target.name, kubeconfigPath: ctx.env.KUBECONFIG || undefined, context: target.context });
}
