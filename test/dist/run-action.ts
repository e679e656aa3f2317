import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../support/tools.ts';
import { tempDir } from '../support/temp-dirs.ts';

export interface ActionRun {
  code: number;
  stdout: string;
  stderr: string;
  outputs: Record<string, string>;
  state: Record<string, string>;
  summary: string;
  runnerTemp: string;
}

/** Parses GITHUB_OUTPUT / GITHUB_STATE files (`name<<delimiter` blocks) the way the runner does. */
function parseFileCommands(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const m = /^([^<]+)<<(.+)$/.exec(lines[i]!);
    if (!m) continue;
    const body: string[] = [];
    for (i++; i < lines.length && lines[i] !== m[2]; i++) body.push(lines[i]!);
    out[m[1]!] = body.join('\n');
  }
  return out;
}

/**
 * Runs an action the way the runner does: `node <action>/action.yml's runs.main` (the committed
 * dist/ stub and shared bundle), inputs as INPUT_* variables, file commands in a temp directory.
 */
export function runAction(
  action: string,
  inputs: Record<string, string>,
  opts: {
    phase?: 'index' | 'post';
    env?: NodeJS.ProcessEnv;
    state?: Record<string, string>;
    runnerTemp?: string;
    onStart?: (kill: (sig: NodeJS.Signals, tree?: boolean) => void) => void;
  } = {},
): Promise<ActionRun> {
  const runnerTemp = opts.runnerTemp ?? tempDir('runner-');
  const files = {
    GITHUB_OUTPUT: join(runnerTemp, `out-${Date.now()}`),
    GITHUB_STATE: join(runnerTemp, `state-${Date.now()}`),
    GITHUB_STEP_SUMMARY: join(runnerTemp, `summary-${Date.now()}`),
  };
  for (const f of Object.values(files)) writeFileSync(f, '');
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: runnerTemp, RUNNER_TEMP: runnerTemp, ...files, ...opts.env };
  for (const [k, v] of Object.entries(inputs)) env[`INPUT_${k.toUpperCase()}`] = v;
  for (const [k, v] of Object.entries(opts.state ?? {})) env[`STATE_${k}`] = v;
  return new Promise((resolve) => {
    // Its own process group, so a test can kill the whole tree as the runner does at the end of a cancel.
    const child = spawn(process.execPath, [join(repoRoot, 'dist', action, `${opts.phase ?? 'index'}.js`)], {
      cwd: repoRoot,
      env,
      detached: true,
    });
    let stdout = '';
    let stderr = '';
    opts.onStart?.((sig, tree = false) => (tree ? process.kill(-child.pid!, sig) : child.kill(sig)));
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('close', (code) =>
      resolve({
        code: code ?? 1,
        stdout,
        stderr,
        outputs: parseFileCommands(readFileSync(files.GITHUB_OUTPUT, 'utf8')),
        state: parseFileCommands(readFileSync(files.GITHUB_STATE, 'utf8')),
        summary: readFileSync(files.GITHUB_STEP_SUMMARY, 'utf8'),
        runnerTemp,
      }),
    );
  });
}

/** Files and directories this project left in RUNNER_TEMP (the private kubeconfig directory must be gone). */
export const leftovers = (runnerTemp: string) => readdirSync(runnerTemp).filter((f) => f.startsWith('deploy-actions-'));

/** The workflow-command lines of a run's stdout (`::error` by default), for an assertion's message. */
export const annotations = (stdout: string, kinds: RegExp = /^::error/): string =>
  stdout
    .split('\n')
    .filter((l) => kinds.test(l))
    .join('\n');
