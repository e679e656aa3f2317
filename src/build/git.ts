import type { CommandRunner } from '../core/process.ts';

/** Lists the repository's tag names, for `latest: auto`; undefined when no list can be had. */
export type TagLister = () => Promise<string[] | undefined>;

/** Parses `git ls-remote --tags --refs` output (`<sha>\trefs/tags/<name>`) or `git tag --list` (one name a line). */
export function parseTagList(text: string): string[] {
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
    .map((l) => (l.includes('\t') ? l.slice(l.indexOf('\t') + 1) : l).replace(/^refs\/tags\//, ''));
}

/**
 * The remote's tags first (actions/checkout fetches only the pushed tag, but leaves credentials
 * that let `ls-remote` read all of them), then the local ones (a full clone, or fetch-tags: true).
 */
export function gitTagLister(run: CommandRunner, cwd: string, env: NodeJS.ProcessEnv, signal?: AbortSignal): TagLister {
  return async () => {
    const opts = {
      cwd,
      env: { ...env, GIT_TERMINAL_PROMPT: '0' },
      signal: signal ? AbortSignal.any([signal, AbortSignal.timeout(30_000)]) : AbortSignal.timeout(30_000),
    };
    for (const argv of [
      ['ls-remote', '--tags', '--refs', 'origin'],
      ['tag', '--list'],
    ]) {
      const r = await run('git', argv, opts).catch(() => undefined);
      if (r && r.exitCode === 0 && !r.aborted) return parseTagList(r.stdout);
    }
    return undefined;
  };
}
