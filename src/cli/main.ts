import { createInterface } from 'node:readline/promises';
import { tmpdir } from 'node:os';
import { ConfigurationError, errorMessage } from '../core/errors.ts';
import { consoleLogger } from '../core/logger.ts';
import { Secrets } from '../core/secrets.ts';
import type { ActionContext } from '../actions/common/context.ts';
import { Inputs } from '../actions/common/inputs.ts';
import { loadAction } from '../actions/index.ts';
import type { Plan } from '../rollout/plan.ts';
import type { RolloutReport } from '../rollout/report.ts';
import { EXIT_CODES } from '../rollout/outcome.ts';
import type { RolloutOutcome } from '../rollout/outcome.ts';
import { UsageError, parseCommandLine } from './args.ts';
import { commandHelp, globalHelp } from './help.ts';
import { renderPlanText, renderReportText, renderStatusText } from './render.ts';
import type { FleetStatus } from '../rollout/status.ts';
import type { Style } from './render.ts';

/** The terminal the CLI talks to; tests pass their own. */
export interface Terminal {
  stdin: NodeJS.ReadableStream & { isTTY?: boolean };
  stdout: NodeJS.WriteStream;
  stderr: NodeJS.WriteStream;
}

async function ask(term: Terminal, question: string): Promise<boolean> {
  const rl = createInterface({ input: term.stdin, output: term.stderr });
  try {
    const answer = await rl.question(`${question} [y/N] `);
    return /^y(es)?$/i.test(answer.trim());
  } finally {
    rl.close();
  }
}

/**
 * `deploy-actions <command> [flags]`: parses strictly, then runs the command's action in-process
 * with a terminal context. stdout carries only the result (tables, --json, --markdown); progress
 * and logs go to stderr. Returns the exit code.
 */
export async function cli(
  argv: string[],
  env: NodeJS.ProcessEnv = process.env,
  term: Terminal = { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr },
): Promise<number> {
  const out = (s: string) => void term.stdout.write(s.endsWith('\n') ? s : `${s}\n`);
  let parsed: ReturnType<typeof parseCommandLine>;
  try {
    parsed = parseCommandLine(argv);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    term.stderr.write(`error: ${err.message}\n`);
    return 2;
  }
  if ('globalHelp' in parsed) {
    out(globalHelp());
    return 0;
  }
  const { command, inputs } = parsed;
  if (parsed.help) {
    out(commandHelp(command));
    return 0;
  }
  const interactive = !!term.stdin.isTTY;
  const dryRun = (inputs['dry-run'] ?? 'false') !== 'false';
  if (command.mutating && !parsed.yes && !interactive && !dryRun) {
    term.stderr.write(`error: ${command.name} changes the cluster and stdin is not a terminal to ask: add --yes to go ahead\n`);
    return 2;
  }
  if (command.name === 'rollout' && inputs.phase && !['pilot', 'waves', 'all'].includes(inputs.phase)) {
    term.stderr.write(`error: rollout: --phase must be pilot, waves or all (got "${inputs.phase}"; see plan, status, rollback)\n`);
    return 2;
  }
  const mod = await loadAction(command.action);
  const style: Style = { color: !!term.stdout.isTTY && !env.NO_COLOR };
  const secrets = new Secrets();
  const outputs: Record<string, string> = {};
  const summaries: string[] = [];
  const abort = new AbortController();
  const onSignal = () => abort.abort(new Error('cancelled by the operator'));
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const state: Record<string, string> = {};
  const ctx: ActionContext = {
    inputs: new Inputs(
      (n) => inputs[n]?.trim() ?? '',
      (v) => secrets.add(v),
    ),
    logger: consoleLogger({
      debug: env.DEPLOY_ACTIONS_DEBUG === '1',
      live: term.stderr.isTTY ? term.stderr : undefined,
      write: (m) => void term.stderr.write(`${m}\n`),
    }),
    secrets,
    setOutput: (n, v) => (outputs[n] = secrets.redact(String(v))),
    summary: async (md) => void summaries.push(secrets.redact(md)),
    saveState: (n, v) => (state[n] = v),
    getState: (n) => state[n] ?? '',
    signal: abort.signal,
    tempDir: tmpdir(),
    env,
    confirm:
      command.mutating && !parsed.yes && !dryRun
        ? (q) => {
            if (outputs.plan) term.stderr.write(`${renderPlanText(JSON.parse(outputs.plan) as Plan, style)}\n`);
            return ask(term, q);
          }
        : undefined,
  };
  let code = 0;
  try {
    // Actions other than tenant-rollout ask no question of their own: ask before running them.
    if (ctx.confirm && command.action !== 'tenant-rollout' && !(await ctx.confirm(`Run ${command.name} against the cluster?`))) {
      term.stderr.write('nothing done\n');
      return 0;
    }
    await mod.main(ctx);
  } catch (err) {
    term.stderr.write(`error: ${secrets.redact(errorMessage(err))}
`);
    // A rollout that ended other than succeeded carries its exit code (src/rollout/outcome.ts).
    const exitCode = (err as { exitCode?: unknown }).exitCode;
    code = err instanceof ConfigurationError ? 2 : typeof exitCode === 'number' && exitCode > 0 ? exitCode : 1;
  } finally {
    // Outside a runner there is no post step: finish its work (cancel recovery, cleanup) here.
    if (mod.post) await mod.post(ctx).catch((e: unknown) => term.stderr.write(`error: ${errorMessage(e)}\n`));
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  // The outcome output decides when the action reported one (an operation that threw after its report).
  const outcome = outputs.outcome as RolloutOutcome | undefined;
  if (outcome && Object.hasOwn(EXIT_CODES, outcome)) code = EXIT_CODES[outcome];
  if (parsed.markdown) for (const s of summaries) out(s);
  else if (parsed.json) out(outputs.report ?? fleetStatus(outputs) ?? JSON.stringify(outputs, null, 2));
  else out(renderOutputs(outputs, summaries, style));
  if (outputs['report-file']) term.stderr.write(`report: ${outputs['report-file']}\n`);
  return code;
}

/**
 * tenant-rollout's `status` output is the fleet's status document; helm-deploy's is one word
 * (`deployed`, `unchanged`...), shown as an output like the others.
 */
const fleetStatus = (outputs: Record<string, string>) => (outputs.status?.trimStart().startsWith('{') ? outputs.status : undefined);

/** What a terminal shows: the report (or status) as a table, else the plan, else the outputs. */
function renderOutputs(outputs: Record<string, string>, summaries: string[], style: Style): string {
  if (outputs.report) return renderReportText(JSON.parse(outputs.report) as RolloutReport, style);
  const status = fleetStatus(outputs);
  if (status) return renderStatusText(JSON.parse(status) as FleetStatus, style);
  if (outputs.plan) return renderPlanText(JSON.parse(outputs.plan) as Plan, style);
  const lines = Object.entries(outputs).map(([k, v]) => `${k}: ${v}`);
  return lines.length ? lines.join('\n') : summaries.join('\n');
}
