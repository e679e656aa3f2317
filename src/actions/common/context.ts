import type { Logger } from '../../core/logger.ts';
import type { Secrets } from '../../core/secrets.ts';
import type { Inputs } from './inputs.ts';

/**
 * Everything an action's main/post needs from its host. The GitHub adapter (`github.ts`) builds
 * it over @actions/core; tests and the CLI build their own. Actions never import @actions/core.
 */
export interface ActionContext {
  inputs: Inputs;
  logger: Logger;
  secrets: Secrets;
  setOutput(name: string, value: string | number | boolean): void;
  /** Markdown appended to the job summary. */
  summary(markdown: string): Promise<void>;
  /** State handed from main to the post step (which runs even after a cancelled main). */
  saveState(name: string, value: string): void;
  getState(name: string): string;
  /** Aborts on SIGINT/SIGTERM: the runner's cancel. */
  signal: AbortSignal;
  /** Directory for private temporary files (RUNNER_TEMP on a runner). */
  tempDir: string;
  env: NodeJS.ProcessEnv;
  /**
   * Asks the operator before the cluster is changed (the CLI on a terminal: `... [y/N]`).
   * Absent on a runner (the workflow's approval gate is the question there): proceed.
   */
  confirm?(question: string): Promise<boolean>;
}

export interface ActionModule {
  main(ctx: ActionContext): Promise<void>;
  post?(ctx: ActionContext): Promise<void>;
}
