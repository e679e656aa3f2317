/**
 * buildx logs in to a private DOCKER_CONFIG, never the runner's ~/.docker, and keeps using the
 * runner's buildx builders and CLI plugins (linked in), so setup-buildx-action's builder is kept.
 */
import { existsSync, mkdirSync, mkdtempSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { buildxBuilder } from '../../src/build/buildx.ts';
import type { CommandRunner } from '../../src/core/process.ts';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('buildx registry login', () => {
  it('writes credentials to a private DOCKER_CONFIG that the build uses too', async () => {
    const home = mkdtempSync(join(tmpdir(), 'da-test-home-'));
    const priv = mkdtempSync(join(tmpdir(), 'da-test-private-'));
    dirs.push(home, priv);
    mkdirSync(join(home, '.docker', 'buildx'), { recursive: true });
    mkdirSync(join(home, '.docker', 'cli-plugins'), { recursive: true });
    const calls: { args: readonly string[]; env: NodeJS.ProcessEnv | undefined; input?: string }[] = [];
    const run: CommandRunner = async (_file, args, opts) => {
      calls.push({ args, env: opts?.env, input: opts?.input });
      if (args[0] === 'buildx' && args[1] === 'build') {
        const meta = args[args.indexOf('--metadata-file') + 1]!;
        writeFileSync(meta, JSON.stringify({ 'containerimage.digest': `sha256:${'a'.repeat(64)}` }));
      }
      return { exitCode: 0, stdout: '', stderr: '', aborted: false };
    };
    const b = buildxBuilder({ run, tempDir: priv, env: { HOME: home, PATH: '/usr/bin' }, tlsVerify: true });
    await b.login({ host: 'registry.example.com', username: 'ci', password: 'pw-123456' }, new AbortController().signal);
    await b.build(
      {
        name: 'app',
        repository: 'registry.example.com/app',
        tags: ['1.0.0'],
        context: '.',
        dockerfile: 'Dockerfile',
        platforms: [],
        buildArgs: {},
        labels: {},
        cacheFrom: [],
        cacheTo: [],
        push: true,
      },
      { signal: new AbortController().signal, onLine: () => {} },
    );
    const config = join(priv, 'docker');
    expect(calls.map((c) => c.env?.DOCKER_CONFIG)).toEqual([config, config]);
    expect(calls[0]!.input).toBe('pw-123456');
    expect(readlinkSync(join(config, 'buildx'))).toBe(join(home, '.docker', 'buildx'));
    expect(readlinkSync(join(config, 'cli-plugins'))).toBe(join(home, '.docker', 'cli-plugins'));
    expect(existsSync(join(home, '.docker', 'config.json'))).toBe(false);
  });
});
