import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { createBuildImages } from '../../src/actions/build-images/main.ts';
import type { Clock } from '../../src/core/clock.ts';
import { runCommand, type CommandRunner } from '../../src/core/process.ts';
import { testContext } from '../support/action-context.ts';
import { repoRoot } from '../support/tools.ts';
import { eventEnv } from './support/events.ts';
import { buildahEnv, startRegistry, tarNames, type TestRegistry } from './support/registry.ts';

// Real builds: Debian's buildah (chroot isolation, vfs storage, private root) pushes to Debian's
// docker-registry on 127.0.0.1; every digest the action reports is checked through the registry's
// HTTP API. No base image is pulled: the examples start FROM scratch or from a base pushed here.

const CREATED = Date.UTC(2026, 10, 21, 9, 30, 0);
const fixedClock: Clock = { now: () => CREATED, sleep: async () => {} };
const PASSWORD = 's3cret-registry-password';

let registry: TestRegistry;
let storage: ReturnType<typeof buildahEnv>;
const argvs: string[][] = [];
// The real runner, recording every argv so the test can prove the password never reaches one.
const recordingRunner: CommandRunner = (file, args, opts) => {
  argvs.push([file, ...args]);
  return runCommand(file, args, opts);
};

beforeAll(async () => {
  registry = await startRegistry();
  storage = buildahEnv();
});
afterAll(async () => {
  await registry?.stop();
  if (storage) rmSync(storage.dir, { recursive: true, force: true });
});

function run(inputs: Record<string, string>, fixture: string, known: string[] = ['v1.2.0']) {
  const ctx = testContext(
    { builder: 'buildah', registry: `${registry.host}/dotmac`, 'tls-verify': 'false', ...inputs },
    { env: { ...storage.env, ...eventEnv(fixture), GITHUB_WORKSPACE: repoRoot } },
  );
  const action = createBuildImages({ clock: fixedClock, run: recordingRunner, listTags: async () => known });
  return { ctx, done: action.main(ctx) };
}

async function configOf(repo: string, digest: string) {
  const m = await registry.manifest(repo, digest);
  return JSON.parse((await registry.blob(repo, m.body.config.digest)).toString('utf8')) as {
    config: { Labels: Record<string, string>; Env?: string[] };
    architecture: string;
  };
}

async function filesOf(repo: string, digest: string): Promise<string[]> {
  const m = await registry.manifest(repo, digest);
  const names: string[] = [];
  for (const l of m.body.layers) names.push(...tarNames(await registry.blob(repo, l.digest)));
  return names;
}

describe('build-images: buildah builder against a real registry', () => {
  it('pushes a base, then two images (one multi-stage) whose digests the registry confirms for every tag', async () => {
    // 1. The base that isp-ops-app builds FROM, pushed like any other image.
    const base = run({ images: '- name: base\n  context: examples/images/base\n' }, 'push_tag_v1.3.0');
    await base.done;
    const baseImages = JSON.parse(base.ctx.outputs.images!) as Record<string, { digest: string }>;
    expect((await registry.manifest('dotmac/base', '1.3.0')).digest).toBe(baseImages.base!.digest);

    // 2. The release: both product images from the example images file, logged in, two at a time.
    argvs.length = 0;
    const rel = run(
      {
        'images-file': 'examples/images/images.yaml',
        'build-args': `BASE_IMAGE=${registry.host}/dotmac/base:1.3.0\nAPP_VERSION=1.3.0`,
        username: 'dotmac-ci',
        password: PASSWORD,
        concurrency: '2',
      },
      'push_tag_v1.3.0',
    );
    await rel.done;
    const { ctx } = rel;

    expect(ctx.outputs.version).toBe('1.3.0');
    expect(JSON.parse(ctx.outputs.tags!)).toEqual(['1.3.0', '1.3', '1', 'latest']);
    const images = JSON.parse(ctx.outputs.images!) as Record<
      string,
      { ref: string; repository: string; digest: string; tags: string[]; pushed: boolean }
    >;
    expect(Object.keys(images)).toEqual(['platform-admin-app', 'isp-ops-app']);

    for (const name of ['platform-admin-app', 'isp-ops-app']) {
      const img = images[name]!;
      expect(img.repository).toBe(`${registry.host}/dotmac/${name}`);
      expect(img.digest).toMatch(/^sha256:[0-9a-f]{64}$/);
      expect(img.ref).toBe(`${registry.host}/dotmac/${name}@${img.digest}`);
      expect(img.pushed).toBe(true);
      for (const tag of ['1.3.0', '1.3', '1', 'latest']) {
        const m = await registry.manifest(`dotmac/${name}`, tag);
        expect(m.status, `${name}:${tag}`).toBe(200);
        expect(m.digest, `${name}:${tag}`).toBe(img.digest);
      }
      // The digest itself resolves, and is the sha256 of the manifest bytes the registry serves.
      expect((await registry.manifest(`dotmac/${name}`, img.digest)).status).toBe(200);
    }

    // Labels: derived OCI labels (created from the clock), image labels, and a build arg used in LABEL.
    const adminConfig = await configOf('dotmac/platform-admin-app', images['platform-admin-app']!.digest);
    expect(adminConfig.config.Labels).toMatchObject({
      'org.opencontainers.image.source': 'https://github.com/dotmac/dotmac-ftth-ops',
      'org.opencontainers.image.revision': '9f1c2e4b7a3d5f60812c4e9b0a7d3f1e2c5b8a49',
      'org.opencontainers.image.version': '1.3.0',
      'org.opencontainers.image.created': '2026-11-21T09:30:00.000Z',
      'com.dotmac.component': 'control-plane',
      'com.dotmac.app': 'platform-admin-app',
      'com.dotmac.app-version': '1.3.0',
    });

    // Multi-stage with target "runner": only what runner copied, nothing of builder or debug.
    const adminFiles = await filesOf('dotmac/platform-admin-app', images['platform-admin-app']!.digest);
    expect(adminFiles).toEqual(expect.arrayContaining(['app/server.js', 'app/config/app.json']));
    expect(adminFiles.filter((f) => /^(src|build-only|debug)(\/|$)/.test(f))).toEqual([]);

    // isp-ops-app was built FROM the base pulled from this registry.
    const ispFiles = await filesOf('dotmac/isp-ops-app', images['isp-ops-app']!.digest);
    expect(ispFiles).toEqual(expect.arrayContaining(['etc/dotmac-release', 'app/server.js']));
    expect((await configOf('dotmac/isp-ops-app', images['isp-ops-app']!.digest)).config.Labels['com.dotmac.component']).toBe('tenant');

    // The values snippet pins exactly those digests.
    expect(parse(ctx.outputs.values!)).toEqual({
      'platform-admin-app': {
        image: { repository: `${registry.host}/dotmac/platform-admin-app`, tag: '1.3.0', digest: images['platform-admin-app']!.digest },
      },
      'isp-ops-app': { image: { repository: `${registry.host}/dotmac/isp-ops-app`, tag: '1.3.0', digest: images['isp-ops-app']!.digest } },
    });

    // Summary: one row per image with digest and a size read back from the registry.
    const summary = ctx.summaries.join('\n');
    for (const name of ['platform-admin-app', 'isp-ops-app']) {
      expect(summary).toMatch(
        new RegExp(
          `\\| \`${registry.host}/dotmac/${name}\` \\| ✅ pushed \\| .* \\| \`${images[name]!.digest}\` \\| \\d+(\\.\\d)? (B|KiB) \\| \\d+s \\|`,
        ),
      );
    }

    // The password: masked, given to `buildah login` on stdin, never on any argv, never logged.
    expect(ctx.masked).toContain(PASSWORD);
    const login = argvs.find((a) => a[1] === 'login');
    expect(login).toEqual([
      'buildah',
      'login',
      '--authfile',
      expect.stringContaining(ctx.tempDir),
      '--tls-verify=false',
      '--username',
      'dotmac-ci',
      '--password-stdin',
      registry.host,
    ]);
    expect(argvs.flat().join(' ')).not.toContain(PASSWORD);
    expect(ctx.logger.text()).not.toContain(PASSWORD);
    // Pushes used the private auth file written by that login.
    expect(argvs.filter((a) => a[1] === 'push').every((a) => a.includes('--authfile'))).toBe(true);
  });

  it('pushes a multi-platform image as an index the registry serves per platform', async () => {
    const { ctx, done } = run(
      {
        images: '- name: multiarch-admin\n  context: examples/images/platform-admin-app\n  target: runner\n',
        platforms: 'linux/amd64,linux/arm64',
      },
      'push_branch_main',
    );
    await done;
    const img = (JSON.parse(ctx.outputs.images!) as Record<string, { digest: string; tags: string[] }>)['multiarch-admin']!;
    expect(img.tags).toEqual(['main', 'sha-3e7a91c']);
    for (const tag of img.tags) {
      const m = await registry.manifest('dotmac/multiarch-admin', tag);
      expect(m.digest).toBe(img.digest);
      expect(m.mediaType).toBe('application/vnd.oci.image.index.v1+json');
    }
    const index = await registry.manifest('dotmac/multiarch-admin', img.digest);
    const platforms = index.body.manifests.map((m) => `${m.platform.os}/${m.platform.architecture}`).sort();
    expect(platforms).toEqual(['linux/amd64', 'linux/arm64']);
    const arm = index.body.manifests.find((m) => m.platform.architecture === 'arm64')!;
    expect((await configOf('dotmac/multiarch-admin', arm.digest)).architecture).toBe('arm64');
    expect(ctx.summaries.join()).toMatch(
      /linux\/amd64: \d+(\.\d)? (B|KiB)<br>linux\/arm64: \d+(\.\d)? (B|KiB)|linux\/arm64: \d+(\.\d)? (B|KiB)<br>linux\/amd64/,
    );
  });

  it("a failing image fails the step with buildah's last lines and names the image pushed anyway", async () => {
    const broken = join(storage.dir, 'broken');
    mkdirSync(broken, { recursive: true });
    writeFileSync(join(broken, 'Dockerfile'), 'FROM scratch\nCOPY does-not-exist.txt /x\n');
    const { ctx, done } = run(
      {
        images: `- name: good-app\n  context: examples/images/base\n- name: broken-app\n  context: ${broken}\n- name: never-app\n  context: examples/images/base\n`,
        concurrency: '1',
      },
      'push_branch_main',
    );
    const err = (await done.catch((e: unknown) => e)) as Error;
    expect(err).toBeInstanceOf(Error);
    const good = (JSON.parse(ctx.outputs.images!) as Record<string, { digest: string }>)['good-app']!;
    expect(err.message).toContain('1 of 3 image(s) failed: broken-app');
    expect(err.message).toMatch(/broken-app: buildah build failed \(exit \d+\)/);
    expect(err.message).toMatch(/ {2}\| .*does-not-exist\.txt/);
    expect(err.message).toContain(`pushed anyway: ${registry.host}/dotmac/good-app@${good.digest}`);
    expect(err.message).toContain('not started (fail-fast): never-app');
    expect((await registry.manifest('dotmac/good-app', 'main')).digest).toBe(good.digest);
    expect(await registry.catalog()).toContain('dotmac/good-app');
    expect(await registry.catalog()).not.toContain('dotmac/broken-app');
    expect(await registry.catalog()).not.toContain('dotmac/never-app');
  });
});
