import type { CommandRunner } from '../core/process.ts';
/** What building one image asks of a builder, in the domain's words. Both adapters take exactly this. */
export interface BuildRequest {
  name: string;
  repository: string;
  /** Tags (without repository), at least one. */
  tags: string[];
  context: string;
  dockerfile: string;
  target?: string;
  buildArgs: Record<string, string>;
  labels: Record<string, string>;
  platforms: string[];
  push: boolean;
  /** buildx cache specs (`type=gha`, `type=registry,ref=...`); buildah honours registry ones. */
  cacheFrom: string[];
  cacheTo: string[];
}

export interface BuildResult {
  /** The pushed manifest (or index) digest, `sha256:...`; undefined when nothing was pushed. */
  digest?: string;
  /** Builder warnings worth showing (e.g. a cache spec this builder cannot use). */
  warnings: string[];
}

export interface BuildIO {
  signal: AbortSignal;
  /** Each line of the builder's output, raw: the caller redacts and prefixes. */
  onLine(line: string): void;
}

export interface RegistryLogin {
  /** Registry host, e.g. `ghcr.io` or `127.0.0.1:5000`. */
  host: string;
  username: string;
  password: string;
}

/** A tool that builds and pushes images: `docker buildx` or `buildah`. */
export interface ImageBuilder {
  readonly name: 'buildx' | 'buildah';
  /** The tool's version line; fails (BuilderUnavailable) when the tool is missing or broken. */
  version(signal: AbortSignal): Promise<string>;
  /** Logs in with the password on stdin, never on argv. */
  login(login: RegistryLogin, signal: AbortSignal): Promise<void>;
  build(req: BuildRequest, io: BuildIO): Promise<BuildResult>;
}

/** A builder command failed; `tail` holds its last output lines (raw; the caller redacts). */
export class BuilderError extends Error {
  override readonly name = 'BuilderError';
  readonly exitCode: number;
  readonly tail: string[];
  constructor(message: string, exitCode: number, tail: string[]) {
    super(message);
    this.exitCode = exitCode;
    this.tail = tail;
  }
}

/** Keeps the last `size` lines it is fed. */
export class LineTail {
  private readonly lines: string[] = [];
  private readonly size: number;
  constructor(size = 20) {
    this.size = size;
  }
  push(line: string): void {
    if (!line.trim()) return;
    this.lines.push(line);
    if (this.lines.length > this.size) this.lines.shift();
  }
  get(): string[] {
    return [...this.lines];
  }
}

/** The last `n` non-empty lines of a tool's output, for an error. */
export function tailOf(text: string, n = 20): string[] {
  return text
    .split('\n')
    .filter((l) => l.trim())
    .slice(-n);
}

/**
 * Runs one builder command: its lines go to the caller as they come and into `tail`, and a
 * cancel or a non-zero exit becomes a BuilderError carrying the last lines.
 */
export async function runBuilderStep(
  run: CommandRunner,
  bin: string,
  argv: string[],
  what: string,
  o: { env?: NodeJS.ProcessEnv; io: BuildIO; tail: LineTail },
): Promise<void> {
  const r = await run(bin, argv, {
    env: o.env,
    signal: o.io.signal,
    onLine: (l) => {
      o.tail.push(l);
      o.io.onLine(l);
    },
  });
  if (r.aborted) throw new BuilderError('cancelled', r.exitCode, o.tail.get());
  if (r.exitCode !== 0) throw new BuilderError(`${what} failed (exit ${r.exitCode})`, r.exitCode, o.tail.get());
}
