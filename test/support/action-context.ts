import type { ActionContext } from '../../src/actions/common/context.ts';
import { Inputs } from '../../src/actions/common/inputs.ts';
import { Secrets } from '../../src/core/secrets.ts';
import { RecordingLogger } from './logger.ts';
import { tempDir } from './temp-dirs.ts';

export interface TestContext extends ActionContext {
  logger: RecordingLogger;
  outputs: Record<string, string>;
  summaries: string[];
  state: Record<string, string>;
  masked: string[];
  abort: AbortController;
}

/** An ActionContext over plain maps: inputs in, outputs/summary/state/log lines recorded. */
export function testContext(
  inputs: Record<string, string>,
  opts: { state?: Record<string, string>; env?: NodeJS.ProcessEnv } = {},
): TestContext {
  const masked: string[] = [];
  const secrets = new Secrets((v) => masked.push(v));
  const abort = new AbortController();
  const outputs: Record<string, string> = {};
  const summaries: string[] = [];
  const state: Record<string, string> = { ...opts.state };
  return {
    inputs: new Inputs(
      (n) => inputs[n]?.trim() ?? '',
      (v) => secrets.add(v),
    ),
    logger: new RecordingLogger(secrets),
    secrets,
    setOutput: (n, v) => {
      outputs[n] = secrets.redact(String(v));
    },
    summary: async (md) => {
      summaries.push(secrets.redact(md));
    },
    saveState: (n, v) => {
      state[n] = v;
    },
    getState: (n) => state[n] ?? '',
    signal: abort.signal,
    abort,
    tempDir: tempDir('da-test-'),
    env: opts.env ?? { ...process.env },
    outputs,
    summaries,
    state,
    masked,
  };
}
