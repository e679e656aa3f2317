import { ACTION_METADATA } from '../actions/metadata.ts';
import { CLI_FLAGS, COMMANDS, inputMetadata } from './commands.ts';
import type { Command } from './commands.ts';

const wrap = (text: string, indent: number, widthMax = 100): string => {
  const words = text.split(/\s+/);
  const lines: string[] = [];
  let cur = '';
  for (const w of words) {
    if (cur && cur.length + 1 + w.length > widthMax - indent) {
      lines.push(cur);
      cur = w;
    } else cur = cur ? `${cur} ${w}` : w;
  }
  if (cur) lines.push(cur);
  return lines.join(`\n${' '.repeat(indent)}`);
};

export function globalHelp(): string {
  const fleet = COMMANDS.filter((c) => !ACTION_METADATA[c.name]);
  const actions = COMMANDS.filter((c) => ACTION_METADATA[c.name]);
  const row = (c: Command) => `  ${c.name.padEnd(16)}${wrap(c.summary, 18)}`;
  return [
    "deploy-actions: the suite's engine in a terminal (uses the current kube context, or --kubeconfig/--kube-context)",
    '',
    'usage: deploy-actions <command> [--flag value ...]     deploy-actions <command> --help',
    '',
    'fleet commands:',
    ...fleet.map(row),
    '',
    'actions (every input of its action.yml as --<input>):',
    ...actions.map(row),
    '',
    'Unknown flags are errors. Commands that change the cluster show what they will do and ask;',
    '--yes answers for you (required when stdin is not a terminal). Exit codes: 0 succeeded, 1 failed,',
    '2 usage, 3 halted (failure budget spent), 4 held (no verdict), 5 paused, 130 cancelled.',
  ].join('\n');
}

export function commandHelp(c: Command): string {
  const flags = c.flags.map((f) => {
    const m = inputMetadata(c, f);
    const extra = [m.required ? 'required' : '', m.default !== undefined && m.default !== '' ? `default: ${m.default}` : '']
      .filter(Boolean)
      .join('; ');
    return `  --${f.padEnd(26)}${wrap(`${m.description}${extra ? ` [${extra}]` : ''}`, 30)}`;
  });
  const own = Object.entries(CLI_FLAGS)
    .filter(([, f]) => c.mutating || !f.mutatingOnly)
    .map(([n, f]) => `  ${(f.short ? `-${f.short}, --${n}` : `--${n}`).padEnd(28)}${f.description}`);
  return [
    `deploy-actions ${c.name}: ${c.summary}`,
    '',
    `usage: deploy-actions ${c.name} [flags]${c.example ? `\n  e.g. ${c.example}` : ''}`,
    '',
    'flags:',
    ...flags,
    ...own,
    ...(c.action !== c.name ? ['', `(the inputs of the ${c.action} action; README: "${c.action}")`] : []),
  ].join('\n');
}
