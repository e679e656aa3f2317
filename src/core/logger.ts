/**
 * What the domain may say while it works. The GitHub adapter maps it onto @actions/core
 * (groups, annotations); the CLI maps it onto the terminal; tests record it.
 */
export interface Logger {
  info(message: string): void;
  warning(message: string): void;
  error(message: string): void;
  debug(message: string): void;
  /** Runs `fn` inside a collapsible group. Groups do not nest: concurrent work must not open them. */
  group<T>(title: string, fn: () => Promise<T>): Promise<T>;
}

/** A logger for code that must stay silent, e.g. a nested call whose caller reports instead. */
export const silentLogger: Logger = {
  info() {},
  warning() {},
  error() {},
  debug() {},
  group: (_title, fn) => fn(),
};

/**
 * Logger for the CLI and for running actions outside a runner. Everything goes to stderr, so
 * stdout carries only the result (the summary, or the outputs with --json) and can be piped.
 */
export function consoleLogger(opts: { debug?: boolean } = {}): Logger {
  return {
    info: (m) => console.error(m),
    warning: (m) => console.error(`warning: ${m}`),
    error: (m) => console.error(`error: ${m}`),
    debug: (m) => {
      if (opts.debug) console.error(`debug: ${m}`);
    },
    async group(title, fn) {
      console.error(`── ${title}`);
      return fn();
    },
  };
}
