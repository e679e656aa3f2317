import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { BuilderError, type BuildRequest, type BuildResult, type ImageBuilder, type RegistryLogin } from '../../src/build/builder.ts';
import { releaseImages, type BuildImagesConfig, type ReleasePorts } from '../../src/build/release.ts';
import { failureMessage, imagesOutput, summaryMarkdown, valuesSnippet } from '../../src/build/report.ts';
import { readGitEvent } from '../../src/build/tags.ts';
import type { Clock } from '../../src/core/clock.ts';
import { ConfigurationError } from '../../src/core/errors.ts';
import { Secrets } from '../../src/core/secrets.ts';
import { RecordingLogger } from '../support/logger.ts';
import { repoRoot } from '../support/tools.ts';
import { eventEnv } from './support/events.ts';

const PASSWORD = 'hunter2-registry-token';
const digestOf = (name: string) => `sha256:${Buffer.from(name).toString('hex').padEnd(64, '0').slice(0, 64)}`;

/** A builder that does only what a test scripted; anything else throws. */
class FakeBuilder implements ImageBuilder {
  readonly name = 'buildah' as const;
  readonly builds: BuildRequest[] = [];
  readonly logins: RegistryLogin[] = [];
  inFlight = 0;
  maxInFlight = 0;
  constructor(
    private readonly script: Record<string, (req: BuildRequest) => Promise<BuildResult>>,
    private readonly opts: { allowLogin?: boolean; unavailable?: boolean } = {},
  ) {}
  async version() {
    if (this.opts.unavailable) throw new BuilderError('buildah is not usable here (exit 127)', 127, ['spawn buildah ENOENT']);
    return 'buildah version 1.28.2';
  }
  async login(login: RegistryLogin) {
    if (!this.opts.allowLogin) throw new Error('unexpected login');
    this.logins.push(login);
  }
  async build(req: BuildRequest, io: { onLine(l: string): void }) {
    const step = this.script[req.name];
    if (!step) throw new Error(`unexpected build of ${req.name}`);
    this.builds.push(req);
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    try {
      io.onLine(`STEP 1/2: FROM scratch (${req.name})`);
      return await step(req);
    } finally {
      this.inFlight--;
    }
  }
}

const ok =
  (ms = 0) =>
  async (req: BuildRequest): Promise<BuildResult> => {
    await new Promise((r) => setTimeout(r, ms));
    return { digest: req.push ? digestOf(req.name) : undefined, warnings: [] };
  };

function fakeClock(): Clock {
  let t = Date.UTC(2026, 10, 21, 9, 30, 0);
  return { now: () => (t += 1500), sleep: async () => {} };
}

function cfg(over: Partial<BuildImagesConfig> = {}): BuildImagesConfig {
  return {
    images: { inline: '', file: 'examples/images/images.yaml' },
    registry: 'ghcr.io/dotmac',
    username: '',
    password: '',
    builder: 'buildah',
    push: 'auto',
    latest: 'auto',
    tags: [],
    platforms: [],
    buildArgs: {},
    labels: {},
    cacheFrom: [],
    cacheTo: [],
    concurrency: 2,
    failFast: true,
    tlsVerify: true,
    ...over,
  };
}

function ports(builder: ImageBuilder, fixture = 'push_tag_v1.3.0', known: string[] | null = ['v1.2.0']) {
  const secrets = new Secrets();
  secrets.add(PASSWORD);
  const logger = new RecordingLogger(secrets);
  const readFile = (p: string) => readFileSync(p, 'utf8');
  const p: ReleasePorts = {
    builder,
    clock: fakeClock(),
    logger,
    redact: (s) => secrets.redact(s),
    signal: new AbortController().signal,
    event: readGitEvent(eventEnv(fixture), readFile),
    workspace: repoRoot,
    readFile,
    listTags: async () => known ?? undefined,
    imageSize: async () => ({ total: 3 * 1024 * 1024 }),
  };
  return { ports: p, logger };
}

const inline = (...names: string[]) =>
  names.map((n) => `- name: ${n}\n  context: examples/images/platform-admin-app\n  target: runner\n`).join('');

describe('build-images: releaseImages', () => {
  it('builds each image once with derived tags and OCI labels, user labels winning, then reports digests', async () => {
    const builder = new FakeBuilder({ 'platform-admin-app': ok(), 'isp-ops-app': ok() });
    const { ports: p } = ports(builder);
    const release = await releaseImages(
      cfg({ labels: { 'com.dotmac.team': 'platform', 'org.opencontainers.image.source': 'https://example.com/mirror' } }),
      p,
    );

    expect(builder.builds.map((b) => b.name)).toEqual(['platform-admin-app', 'isp-ops-app']);
    const admin = builder.builds[0]!;
    expect(admin).toMatchObject({
      repository: 'ghcr.io/dotmac/platform-admin-app',
      tags: ['1.3.0', '1.3', '1', 'latest'],
      context: join(repoRoot, 'examples/images/platform-admin-app'),
      dockerfile: join(repoRoot, 'examples/images/platform-admin-app/Dockerfile'),
      target: 'runner',
      push: true,
    });
    expect(admin.labels).toEqual({
      'org.opencontainers.image.source': 'https://example.com/mirror',
      'org.opencontainers.image.revision': '9f1c2e4b7a3d5f60812c4e9b0a7d3f1e2c5b8a49',
      'org.opencontainers.image.version': '1.3.0',
      'org.opencontainers.image.created': '2026-11-21T09:30:01.500Z',
      'com.dotmac.team': 'platform',
      'com.dotmac.component': 'control-plane',
    });

    expect(imagesOutput(release)).toEqual({
      'platform-admin-app': {
        ref: `ghcr.io/dotmac/platform-admin-app@${digestOf('platform-admin-app')}`,
        repository: 'ghcr.io/dotmac/platform-admin-app',
        digest: digestOf('platform-admin-app'),
        tags: ['1.3.0', '1.3', '1', 'latest'],
        pushed: true,
      },
      'isp-ops-app': {
        ref: `ghcr.io/dotmac/isp-ops-app@${digestOf('isp-ops-app')}`,
        repository: 'ghcr.io/dotmac/isp-ops-app',
        digest: digestOf('isp-ops-app'),
        tags: ['1.3.0', '1.3', '1', 'latest'],
        pushed: true,
      },
    });
    expect(parse(valuesSnippet(release))).toEqual({
      'platform-admin-app': {
        image: { repository: 'ghcr.io/dotmac/platform-admin-app', tag: '1.3.0', digest: digestOf('platform-admin-app') },
      },
      'isp-ops-app': { image: { repository: 'ghcr.io/dotmac/isp-ops-app', tag: '1.3.0', digest: digestOf('isp-ops-app') } },
    });
    const summary = summaryMarkdown(release);
    expect(summary).toContain(
      `| \`ghcr.io/dotmac/isp-ops-app\` | ✅ pushed | \`1.3.0\` \`1.3\` \`1\` \`latest\` | \`${digestOf('isp-ops-app')}\` | 3.0 MiB | 3s |`,
    );
    expect(failureMessage(release)).toBeUndefined();
  });

  it('never runs more builds at once than the concurrency limit', async () => {
    const names = ['a', 'b', 'c', 'd', 'e'];
    const builder = new FakeBuilder(Object.fromEntries(names.map((n) => [n, ok(20)])));
    const { ports: p } = ports(builder);
    const release = await releaseImages(cfg({ images: { inline: inline(...names), file: '' }, concurrency: 2 }), p);
    expect(builder.maxInFlight).toBe(2);
    expect(release.outcomes.map((o) => o.status)).toEqual(['pushed', 'pushed', 'pushed', 'pushed', 'pushed']);
  });

  it('a failed image: builder tail (redacted), what was pushed anyway, what never started', async () => {
    const builder = new FakeBuilder({
      a: ok(),
      b: async () => {
        throw new BuilderError('buildah push ghcr.io/dotmac/b:1.3.0 failed (exit 125)', 125, [
          'Copying blob sha256:e9bb',
          `Error: writing blob: authenticating with password ${PASSWORD}: 403 denied`,
        ]);
      },
    });
    const { ports: p, logger } = ports(builder);
    const release = await releaseImages(cfg({ images: { inline: inline('a', 'b', 'c'), file: '' }, concurrency: 1 }), p);
    expect(release.outcomes.map((o) => o.status)).toEqual(['pushed', 'failed', 'not-started']);
    const msg = failureMessage(release)!;
    expect(msg).toContain('1 of 3 image(s) failed: b');
    expect(msg).toContain('b: buildah push ghcr.io/dotmac/b:1.3.0 failed (exit 125)');
    expect(msg).toContain('  | Error: writing blob: authenticating with password ***: 403 denied');
    expect(msg).toContain(`pushed anyway: ghcr.io/dotmac/a@${digestOf('a')}`);
    expect(msg).toContain('not started (fail-fast): c');
    expect(msg).not.toContain(PASSWORD);
    expect(logger.text()).not.toContain(PASSWORD);
    expect(summaryMarkdown(release)).toContain('❌ failed');
    expect(Object.keys(imagesOutput(release))).toEqual(['a']);
  });

  it('without fail-fast, the other images still build', async () => {
    const builder = new FakeBuilder({ a: async () => Promise.reject(new BuilderError('boom', 1, ['x'])), b: ok(), c: ok() });
    const { ports: p } = ports(builder);
    const release = await releaseImages(cfg({ images: { inline: inline('a', 'b', 'c'), file: '' }, concurrency: 1, failFast: false }), p);
    expect(release.outcomes.map((o) => o.status)).toEqual(['failed', 'pushed', 'pushed']);
    expect(failureMessage(release)).toMatch(/pushed anyway: ghcr.io\/dotmac\/b@sha256:\w+, ghcr.io\/dotmac\/c@sha256:\w+$/);
  });

  it('logs in once with the password through the port, and never prints it', async () => {
    const builder = new FakeBuilder({ 'platform-admin-app': ok(), 'isp-ops-app': ok() }, { allowLogin: true });
    const { ports: p, logger } = ports(builder);
    await releaseImages(cfg({ username: 'dotmac-ci', password: PASSWORD }), p);
    expect(builder.logins).toEqual([{ host: 'ghcr.io', username: 'dotmac-ci', password: PASSWORD }]);
    expect(logger.text()).toContain('logged in to ghcr.io as dotmac-ci');
    expect(logger.text()).not.toContain(PASSWORD);
  });

  it('a pull request logs in (private base images) but builds without pushing', async () => {
    const builder = new FakeBuilder({ 'platform-admin-app': ok(), 'isp-ops-app': ok() }, { allowLogin: true });
    const { ports: p, logger } = ports(builder, 'pull_request');
    const release = await releaseImages(cfg({ username: 'dotmac-ci', password: PASSWORD }), p);
    expect(builder.logins.map((l) => l.host)).toEqual(['ghcr.io']);
    expect(builder.builds.every((b) => !b.push && b.tags.join() === 'pr-42')).toBe(true);
    expect(release.outcomes.map((o) => o.status)).toEqual(['built', 'built']);
    expect(imagesOutput(release)['isp-ops-app']).toEqual({
      ref: 'ghcr.io/dotmac/isp-ops-app:pr-42',
      repository: 'ghcr.io/dotmac/isp-ops-app',
      digest: null,
      tags: ['pr-42'],
      pushed: false,
    });
    expect(logger.text()).toContain('not pushing: pull_request builds are checked, not published');
  });

  it('push: true publishes a pull request build', async () => {
    const builder = new FakeBuilder({ 'platform-admin-app': ok(), 'isp-ops-app': ok() });
    const { ports: p } = ports(builder, 'pull_request');
    await releaseImages(cfg({ push: 'true' }), p);
    expect(builder.builds.every((b) => b.push)).toBe(true);
  });

  it('a builder that cannot run is a configuration error before any build', async () => {
    const builder = new FakeBuilder({}, { unavailable: true });
    const { ports: p } = ports(builder);
    const err = await releaseImages(cfg(), p).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigurationError);
    expect((err as Error).message).toBe(
      'input "builder": "buildah" cannot run on this runner (spawn buildah ENOENT) (install buildah (apt-get install buildah) or use builder: buildx)',
    );
    expect(builder.builds).toEqual([]);
  });

  it('does not move latest and warns when the tag list cannot be read', async () => {
    const builder = new FakeBuilder({ 'platform-admin-app': ok(), 'isp-ops-app': ok() });
    const { ports: p, logger } = ports(builder, 'push_tag_v1.3.0', null);
    const release = await releaseImages(cfg(), p);
    expect(release.plan.tags).toEqual(['1.3.0', '1.3', '1']);
    expect(
      logger.lines
        .filter((l) => l.level === 'warning')
        .map((l) => l.message)
        .join(),
    ).toMatch(/could not list the repository's tags/);
  });

  it('per-image tags add to the shared ones', async () => {
    const builder = new FakeBuilder({ a: ok() });
    const { ports: p } = ports(builder, 'push_branch_main');
    await releaseImages(cfg({ images: { inline: `${inline('a')}  tags: [edge]\n`, file: '' }, tags: ['nightly'] }), p);
    expect(builder.builds[0]!.tags).toEqual(['main', 'sha-3e7a91c', 'nightly', 'edge']);
  });
});
