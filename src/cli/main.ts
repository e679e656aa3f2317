import { tmpdir } from 'node:os';
import { ConfigurationError, errorMessage } from '../core/errors.ts';
import { consoleLogger } from '../core/logger.ts';
import { Secrets } from '../core/secrets.ts';
import type { ActionContext } from '../actions/common/context.ts';
import { Inputs } from '../actions/common/inputs.ts';
import { loadAction } from '../actions/index.ts';

const USAGE = `deploy-actions: the suite's engine, outside GitHub Actions (uses the current kube context)

usage:
  deploy-actions plan    [--tenants-file F | --tenants a,b | --selector S] [--pilot N] [--batch-size 25%] ...
  deploy-actions rollout --chart C [--phase all|pilot|waves] [--plan plan.json-content] ...
  deploy-actions <action> --<input> value ...     (helm-deploy, tenant-rollout, smoke-test, auto-rollback, build-images)

Every --name value is the action input of the same name (see README); repeat a flag for
multi-line inputs (--set a=1 --set b=2). --json prints the outputs as JSON instead of the summary.
"plan" needs no cluster when given a tenants file; "plan" and "rollout" are tenant-rollout with phase plan / all.`;

export function parseArgs(argv: string[]): { action: string; inputs: Record<string, string>; json: boolean } | string {
  const [cmd, ...rest] = argv;
  if (!cmd || cmd === '--help' || cmd === '-h' || cmd === 'help') return USAGE;
  const inputs: Record<string, string> = {};
  let json = false;
  for (let i = 0; i < rest.length; i++) {
    const a = rest[i]!;
    if (a === '--json') {
      json = true;
      continue;
    }
    const m = /^--([a-z][a-z0-9-]*)(?:=(.*))?$/s.exec(a);
    if (!m) return `unexpected argument "${a}"\n\n${USAGE}`;
    const value = m[2] ?? rest[++i];
    if (value === undefined) return `--${m[1]} needs a value`;
    inputs[m[1]!] = inputs[m[1]!] !== undefined ? `${inputs[m[1]!]}\n${value}` : value;
  }
  if (cmd === 'plan' || cmd === 'rollout') {
    if (cmd === 'plan') inputs.phase = 'plan';
    // Planning needs no chart; give tenant-rollout's required input a harmless value.
    if (cmd === 'plan') inputs.chart ??= '.';
    return { action: 'tenant-rollout', inputs, json };
  }
  return { action: cmd, inputs, json };
}

export async function cli(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const parsed = parseArgs(argv);
  if (typeof parsed === 'string') {
    console.error(parsed);
    return parsed === USAGE ? 0 : 2;
  }
  const mod = await loadAction(parsed.action).catch(() => undefined);
  if (!mod) {
    console.error(`unknown action "${parsed.action}"\n\n${USAGE}`);
    return 2;
  }
  const secrets = new Secrets();
  const outputs: Record<string, string> = {};
  const summaries: string[] = [];
  const abort = new AbortController();
  const onSignal = () => abort.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const state: Record<string, string> = {};
  const ctx: ActionContext = {
    inputs: new Inputs(
      (n) => parsed.inputs[n]?.trim() ?? '',
      (v) => secrets.add(v),
    ),
    logger: consoleLogger({ debug: env.DEPLOY_ACTIONS_DEBUG === '1' }),
    secrets,
    setOutput: (n, v) => (outputs[n] = secrets.redact(String(v))),
    summary: async (md) => void summaries.push(secrets.redact(md)),
    saveState: (n, v) => (state[n] = v),
    getState: (n) => state[n] ?? '',
    signal: abort.signal,
    tempDir: tmpdir(),
    env,
  };
  let code = 0;
  try {
    await mod.main(ctx);
  } catch (err) {
    console.error(`error: ${secrets.redact(errorMessage(err))}`);
    // A rollout that ended other than succeeded carries its exit code (src/rollout/outcome.ts).
    const exitCode = (err as { exitCode?: unknown }).exitCode;
    code = err instanceof ConfigurationError ? 2 : typeof exitCode === 'number' && exitCode > 0 ? exitCode : 1;
  } finally {
    // Outside a runner there is no post step: finish its work (cancel recovery, cleanup) here.
    if (mod.post) await mod.post(ctx).catch((e: unknown) => console.error(`error: ${errorMessage(e)}`));
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  if (parsed.json) console.log(JSON.stringify(outputs, null, 2));
  else for (const s of summaries) console.log(s);
  return code;
}
