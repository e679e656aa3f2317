import { parseArgs } from 'node:util';
import { closest } from '../core/closest.ts';
import { CLI_FLAGS, COMMANDS, findCommand, inputMetadata, multiLine } from './commands.ts';
import type { Command } from './commands.ts';

/** A mistake on the command line: exit code 2, one line, nothing run. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export interface ParsedCommand {
  command: Command;
  /** Action inputs: the command's fixed ones plus the flags given (repeated flags joined by lines). */
  inputs: Record<string, string>;
  help: boolean;
  json: boolean;
  markdown: boolean;
  yes: boolean;
}

const cliFlagsFor = (c: Command) => Object.entries(CLI_FLAGS).filter(([, f]) => c.mutating || !f.mutatingOnly);

/** Flag names a command accepts, without dashes. */
export function flagNames(c: Command): string[] {
  return [...c.flags, ...cliFlagsFor(c).map(([n]) => n)];
}

function unknownFlag(c: Command, flag: string): UsageError {
  const name = flag.replace(/^-+/, '').replace(/=.*$/, '');
  const others = COMMANDS.filter((o) => o !== c && o.action === 'tenant-rollout' && o.name !== o.action && o.flags.includes(name)).map(
    (o) => o.name,
  );
  if (others.length && c.action === 'tenant-rollout')
    return new UsageError(
      `${c.name}: --${name} is not a flag of "${c.name}" (it is one of ${others.join(', ')}); see deploy-actions ${c.name} --help`,
    );
  const near = closest(name, flagNames(c));
  return new UsageError(
    `${c.name}: unknown flag ${flag}${near ? `; did you mean --${near}?` : ''} (deploy-actions ${c.name} --help lists them)`,
  );
}

/**
 * Parses `deploy-actions <command> [flags]` with Node's own util.parseArgs in strict mode: unknown
 * flags, missing values and stray arguments are errors (named, with the closest known flag),
 * never ignored.
 */
export function parseCommandLine(argv: string[]): ParsedCommand | { globalHelp: true } {
  const [name, ...rest] = argv;
  if (!name || name === '-h' || name === '--help' || name === 'help') return { globalHelp: true };
  const command = findCommand(name);
  if (!command) {
    const near = closest(
      name,
      COMMANDS.map((c) => c.name),
    );
    throw new UsageError(`unknown command "${name}"${near ? `; did you mean "${near}"?` : ''} (deploy-actions --help lists them)`);
  }
  const options: Record<string, { type: 'string' | 'boolean'; multiple?: boolean; short?: string }> = {};
  for (const f of command.flags) options[f] = { type: 'string', multiple: true };
  for (const [f, m] of cliFlagsFor(command)) options[f] = { type: 'boolean', ...(m.short ? { short: m.short } : {}) };
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({ args: rest, options, strict: true, allowPositionals: false });
  } catch (err) {
    const e = err as Error & { code?: string };
    // Node names the flag as '--pilot' or, for one with a short form, '-y, --yes'.
    const flag = /'(?:-\w, )?(--?[^' ,]+)/.exec(e.message)?.[1] ?? '';
    if (e.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') throw unknownFlag(command, flag);
    if (e.code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') {
      // A boolean given a value (--yes=no), or a value-taking flag followed by nothing or by another flag.
      const bare = flag.replace(/^-+/, '');
      if (options[bare]?.type === 'boolean') throw new UsageError(`${command.name}: ${flag} takes no value`);
      const example = command.flags.includes(bare) ? inputMetadata(command, bare).default : undefined;
      throw new UsageError(`${command.name}: ${flag} needs a value (e.g. ${flag} ${example || 'VALUE'})`);
    }
    if (e.code === 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL') {
      const arg = /'([^']+)'/.exec(e.message)?.[1] ?? '';
      throw new UsageError(`${command.name}: unexpected argument "${arg}" (every value follows its flag, e.g. --tenants a,b)`);
    }
    throw new UsageError(`${command.name}: ${e.message}`);
  }
  const v = parsed.values as Record<string, string[] | boolean | undefined>;
  const inputs: Record<string, string> = {};
  for (const f of command.flags) {
    const given = v[f] as string[] | undefined;
    if (!given) continue;
    if (given.length > 1 && !multiLine(command, f))
      throw new UsageError(`${command.name}: --${f} given ${given.length} times; it takes one value`);
    inputs[f] = given.join('\n');
  }
  for (const [k, val] of Object.entries(command.fixed)) {
    if (inputs[k] !== undefined && inputs[k] !== val) throw new UsageError(`${command.name}: --${k} is set by the command itself`);
    inputs[k] = val;
  }
  return { command, inputs, help: v.help === true, json: v.json === true, markdown: v.markdown === true, yes: v.yes === true };
}
