import * as core from '@actions/core';
import { tmpdir } from 'node:os';
import { ConfigurationError, errorMessage } from '../../core/errors.ts';
import type { Logger } from '../../core/logger.ts';
import { Secrets } from '../../core/secrets.ts';
import type { ActionContext, ActionModule } from './context.ts';
import { Inputs, envInputReader } from './inputs.ts';

// Job summaries are capped at 1 MiB per step; keep a margin for the runner's own framing.
const SUMMARY_LIMIT = 1000 * 1024;

function githubLogger(secrets: Secrets): Logger {
  // Groups cannot nest in the runner's log; concurrent work logs plain lines instead.
  let inGroup = false;
  return {
    info: (m) => core.info(secrets.redact(m)),
    warning: (m) => core.warning(secrets.redact(m)),
    error: (m) => core.error(secrets.redact(m)),
    debug: (m) => core.debug(secrets.redact(m)),
    async group(title, fn) {
      if (inGroup) return fn();
      inGroup = true;
      core.startGroup(secrets.redact(title));
      try {
        return await fn();
      } finally {
        core.endGroup();
        inGroup = false;
      }
    },
  };
}

/** Builds the context over @actions/core and runs one phase of an action, mapping errors to one line. */
export async function runOnGitHub(mod: ActionModule, phase: 'main' | 'post'): Promise<void> {
  const secrets = new Secrets((v) => core.setSecret(v));
  const abort = new AbortController();
  const onSignal = (sig: NodeJS.Signals) => {
    if (abort.signal.aborted) return;
    core.warning(`received ${sig}: stopping (the runner cancels the job)`);
    abort.abort(new Error(`cancelled by ${sig}`));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  let summaryBytes = 0;
  const ctx: ActionContext = {
    inputs: new Inputs(envInputReader(), (v) => secrets.add(v)),
    logger: githubLogger(secrets),
    secrets,
    setOutput: (name, value) => core.setOutput(name, typeof value === 'string' ? secrets.redact(value) : value),
    async summary(markdown) {
      const text = secrets.redact(markdown);
      const bytes = Buffer.byteLength(text);
      if (summaryBytes + bytes > SUMMARY_LIMIT) {
        core.warning('job summary is full (1 MiB per step): the rest is in the report output and file');
        return;
      }
      summaryBytes += bytes;
      await core.summary.addRaw(text, true).write();
    },
    saveState: (name, value) => core.saveState(name, value),
    getState: (name) => core.getState(name),
    signal: abort.signal,
    tempDir: process.env.RUNNER_TEMP || tmpdir(),
    env: process.env,
  };
  try {
    const fn = phase === 'main' ? mod.main : mod.post;
    if (fn) await fn.call(mod, ctx);
  } catch (err) {
    const message = secrets.redact(errorMessage(err));
    if (err instanceof ConfigurationError && err.location) {
      core.error(message, { file: err.location.file, startLine: err.location.line, startColumn: err.location.column });
    }
    core.setFailed(message);
    // A rollout that ended halted/held/paused/cancelled carries its own exit code (src/rollout/outcome.ts).
    const exitCode = (err as { exitCode?: unknown }).exitCode;
    if (typeof exitCode === 'number' && exitCode > 0) process.exitCode = exitCode;
    if (!(err instanceof ConfigurationError) && err instanceof Error && err.stack) core.debug(secrets.redact(err.stack));
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
