import { inputError } from '../../core/errors.ts';
import { parseDuration } from '../../core/duration.ts';
import { ACTION_METADATA } from '../metadata.ts';

/** Reads one raw input by its action.yml name; '' when not given. */
export type InputReader = (name: string) => string;

/** Reads `INPUT_<NAME>` the way the runner sets it (spaces to `_`, upper case; dashes kept). */
export function envInputReader(env: NodeJS.ProcessEnv = process.env): InputReader {
  return (name) => env[`INPUT_${name.replace(/ /g, '_').toUpperCase()}`]?.trim() ?? '';
}

/** An input's default as its action.yml declares it; undefined when it declares none. */
export type DeclaredDefaults = (name: string) => string | undefined;

/**
 * The input defaults of one action, from its action.yml (built into the bundle as
 * src/actions/metadata.ts): the code's fallbacks, so a default is written once.
 */
export function declaredDefaults(action: string): DeclaredDefaults {
  const declared = Object.hasOwn(ACTION_METADATA, action) ? ACTION_METADATA[action]!.inputs : undefined;
  if (!declared) throw new Error(`no action.yml metadata for action "${action}"`);
  return (name) => (Object.hasOwn(declared, name) ? declared[name]!.default : undefined);
}

/**
 * Typed access to an action's inputs. Every action parses all of its inputs once, up front, into
 * a plain object (see each `inputs.ts`), so bad input fails before anything is deployed, and a
 * test can check that the inputs read are exactly those its action.yml declares.
 */
export class Inputs {
  private readonly read: InputReader;
  /** Names read so far: the inputs test compares them with action.yml. */
  readonly seen = new Set<string>();

  constructor(
    read: InputReader,
    /** Called for inputs whose value is a secret, so the runner masks it before anything prints. */
    private readonly onSecret: (value: string) => void = () => {},
    /** What an input left empty falls back on: its action.yml default (see `withDefaults`). */
    private readonly declared: DeclaredDefaults = () => undefined,
  ) {
    this.read = (name) => {
      this.seen.add(name);
      return read(name);
    };
  }

  /**
   * The same inputs, falling back on `action`'s action.yml defaults. Each action's `parseInputs`
   * reads through it, so the code repeats no default; the inputs it reads still count in `seen`.
   */
  withDefaults(action: string): Inputs {
    return new Inputs((name) => this.read(name), this.onSecret, declaredDefaults(action));
  }

  /**
   * The value given, else the declared default, else `fallback` (only for an input whose default
   * action.yml cannot state, such as `service` defaulting to the release). Both is a mistake.
   */
  private value(name: string, fallback?: string): string {
    const declared = this.declared(name);
    if (declared !== undefined && fallback !== undefined)
      throw new Error(`input "${name}": the code repeats its action.yml default ("${declared}"); drop the fallback`);
    return this.read(name) || (declared ?? fallback ?? '');
  }

  /** As `value`, for inputs that need a default (a boolean, a number, a duration, a choice). */
  private valueWithDefault(name: string, fallback?: string): string {
    const v = this.value(name, fallback);
    if (v === '' && fallback === undefined && this.declared(name) === undefined)
      throw new Error(`input "${name}" has no default: declare one in action.yml`);
    return v;
  }

  string(name: string, fallback?: string): string {
    return this.value(name, fallback);
  }

  required(name: string, hint: string): string {
    const v = this.read(name);
    if (!v) throw inputError(name, v, 'is required', hint);
    return v;
  }

  /** Masks a value derived from an input (a secret value inside a `key=value` line). */
  mask(value: string): void {
    if (value) this.onSecret(value);
  }

  secret(name: string): string {
    const v = this.read(name);
    if (v) this.onSecret(v);
    return v;
  }

  bool(name: string, fallback?: boolean): boolean {
    const v = this.valueWithDefault(name, fallback === undefined ? undefined : String(fallback)).toLowerCase();
    if (['true', 'yes', 'on', '1'].includes(v)) return true;
    if (['false', 'no', 'off', '0'].includes(v)) return false;
    throw inputError(name, v, 'is not a boolean', 'use true or false');
  }

  int(name: string, opts: { min?: number; max?: number } = {}, fallback?: number): number {
    const v = this.valueWithDefault(name, fallback === undefined ? undefined : String(fallback));
    const n = Number(v);
    const { min = Number.MIN_SAFE_INTEGER, max = Number.MAX_SAFE_INTEGER } = opts;
    if (!Number.isInteger(n) || n < min || n > max) {
      throw inputError(name, v, 'is not a whole number in range', `use a whole number from ${min} to ${max}`);
    }
    return n;
  }

  duration(name: string, fallback?: string): number {
    return parseDuration(name, this.valueWithDefault(name, fallback));
  }

  oneOf<T extends string>(name: string, allowed: readonly T[], fallback?: T): T {
    const v = this.valueWithDefault(name, fallback);
    if (!(allowed as readonly string[]).includes(v))
      throw inputError(name, v, 'is not one of the allowed values', `use one of: ${allowed.join(', ')}`);
    return v as T;
  }

  /** One entry per line; `#` comments and blank lines ignored. For lists whose entries may contain commas. */
  lines(name: string): string[] {
    return this.value(name)
      .split(/\r?\n/)
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith('#'));
  }

  /** Entries separated by newlines or commas. */
  list(name: string): string[] {
    return this.lines(name).flatMap((l) =>
      l
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean),
    );
  }
}
