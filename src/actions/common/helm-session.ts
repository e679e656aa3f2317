import { rmSync } from 'node:fs';
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

/** Opens the kubeconfig (masked, private file) and a helm whose version is detected once. */
export async function openHelmSession(ctx: ActionContext, o: HelmSessionOptions): Promise<HelmSession> {
  const dir = new PrivateDir(ctx.tempDir);
  ctx.saveState(STATE_PRIVATE_DIR, dir.path);
  let kubeconfigPath: string | undefined;
  if (o.kubeconfig) {
    maskKubeconfig(o.kubeconfig, ctx.secrets);
    kubeconfigPath = dir.write('kubeconfig', o.kubeconfig);
  }
  const env = helmEnv(ctx.env, kubeconfigPath);
  try {
    const helm = await HelmCli.create({ binary: o.binary, env, run: o.run ?? runCommand, secrets: ctx.secrets, logger: ctx.logger });
    ctx.logger.info(`helm ${helm.version.raw} (${o.binary})`);
    return { helm, kubeconfigPath: kubeconfigPath ?? ctx.env.KUBECONFIG, env, private: dir, close: () => dir.remove() };
  } catch (err) {
    dir.remove();
    if (err instanceof HelmError) throw new ConfigurationError('input "helm"', err.message, 'install Helm 3 or 4 on the runner (azure/setup-helm), or point "helm" at the binary');
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
  if (err instanceof HelmError && err.unreachable) {
    throw new ConfigurationError('cluster', `cannot reach the Kubernetes API: ${err.message}`, 'check the kubeconfig and kube-context inputs, and that the runner can reach the API server');
  }
  throw err;
}
