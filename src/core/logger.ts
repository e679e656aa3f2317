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
  /** A progress line that replaces the previous one (a terminal's live line); absent: use info. */
  progress?(message: string): void;
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
export function consoleLogger(opts: { debug?: boolean; live?: NodeJS.WriteStream; write?: (line: string) => void } = {}): Logger {
  const write = opts.write ?? ((m: string) => console.error(m));
  // On a terminal the progress line is rewritten in place; any other line clears it first.
  let live = false;
  const say = (m: string) => {
    if (live) opts.live!.write('\r\x1b[K');
    live = false;
    write(m);
  };
  return {
    info: say,
    warning: (m) => say(`warning: ${m}`),
    error: (m) => say(`error: ${m}`),
    debug: (m) => {
      if (opts.debug) say(`debug: ${m}`);
    },
    async group(title, fn) {
      say(`── ${title}`);
      return fn();
    },
    progress: opts.live
      ? (m) => {
          opts.live!.write(`\r\x1b[K${m.slice(0, Math.max(20, (opts.live!.columns || 100) - 1))}`);
          live = true;
        }
      : undefined,
  };
}
