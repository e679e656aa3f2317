import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigurationError } from '../../core/errors.ts';
import { runCommand } from '../../core/process.ts';
import type { CommandRunner } from '../../core/process.ts';
import { HelmCli } from '../../helm/cli.ts';
import { HelmError } from '../../helm/helm.ts';
import type { Helm } from '../../helm/helm.ts';
import type { ActionContext } from './context.ts';
import { helmEnv } from './helm-inputs.ts';
import { maskKubeconfig, PrivateDir } from './kubeconfig.ts';

export interface HelmSession {
  helm: Helm;
  /** Kubeconfig path for the Kubernetes client too (undefined: the ambient one). */
  kubeconfigPath?: string;
  env: NodeJS.ProcessEnv;
  private: PrivateDir;
  close(): void;
}

export interface HelmSessionOptions {
  binary: string;
  kubeconfig: string;
  run?: CommandRunner;
}

export const STATE_PRIVATE_DIR = 'private-dir';

export interface Credentials {
  kubeconfigPath?: string;
  /** Environment for helm and kubectl: the runner's minus INPUT_*, KUBECONFIG set. */
  env: NodeJS.ProcessEnv;
  private: PrivateDir;
}

/** Writes the kubeconfig input (masked) into a private directory recorded for the post step. */
export function openCredentials(ctx: ActionContext, kubeconfig: string): Credentials {
  const dir = new PrivateDir(ctx.tempDir);
  ctx.saveState(STATE_PRIVATE_DIR, dir.path);
  let kubeconfigPath: string | undefined;
  if (kubeconfig) {
    maskKubeconfig(kubeconfig, ctx.secrets);
    kubeconfigPath = dir.write('kubeconfig', kubeconfig);
  }
  return { kubeconfigPath: kubeconfigPath ?? (ctx.env.KUBECONFIG || undefined), env: helmEnv(ctx.env, kubeconfigPath), private: dir };
}

/** A helm whose version is detected once; a helm that cannot run is one clear input error. */
export async function openHelm(ctx: ActionContext, binary: string, env: NodeJS.ProcessEnv, run: CommandRunner = runCommand): Promise<Helm> {
  try {
    const helm = await HelmCli.create({ binary, env, run, secrets: ctx.secrets, logger: ctx.logger });
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
  const c = openCredentials(ctx, o.kubeconfig);
  try {
    const helm = await openHelm(ctx, o.binary, c.env, o.run);
    return { helm, kubeconfigPath: c.kubeconfigPath, env: c.env, private: c.private, close: () => c.private.remove() };
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
 * The helm the post step recovers with: the binary main used, and main's private kubeconfig
 * when main was given one (otherwise the runner's own, as in main). Opened once per post step.
 */
export function openPostHelm(ctx: ActionContext, binary: string, run: CommandRunner = runCommand): Promise<Helm> {
  const dir = ctx.getState(STATE_PRIVATE_DIR);
  const kubeconfig = dir && existsSync(join(dir, 'kubeconfig')) ? join(dir, 'kubeconfig') : undefined;
  return HelmCli.create({ binary, env: helmEnv(ctx.env, kubeconfig), run, secrets: ctx.secrets, logger: ctx.logger });
}
