/**
 * A mistake the user can fix (an input, a file, the state of a release they must decide about).
 * It becomes one clear `core.setFailed` line: what is wrong, with which value, and how to fix it.
 */
export class ConfigurationError extends Error {
  override readonly name = 'ConfigurationError';
  constructor(
    /** The input, file or object at fault, e.g. `input "timeout"` or `tenants.yaml:12`. */
    readonly subject: string,
    message: string,
    /** What to do about it. */
    readonly hint?: string,
    /** Set when the mistake comes from a file, so the action can annotate it. */
    readonly location?: { file: string; line?: number; column?: number },
  ) {
    super(`${subject}: ${message}${hint ? ` (${hint})` : ''}`);
  }
}

/** Names an input, the value given and the fix, in the one-line form every action uses. */
export function inputError(input: string, value: string, problem: string, hint?: string): ConfigurationError {
  const shown = value.length > 80 ? `${value.slice(0, 77)}...` : value;
  return new ConfigurationError(`input "${input}"`, `${problem}, got "${shown}"`, hint);
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
