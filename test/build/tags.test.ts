import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { deriveTags, isNewestRelease, ociLabels, readGitEvent, sanitizeTag, type LatestMode } from '../../src/build/tags.ts';
import { ConfigurationError } from '../../src/core/errors.ts';
import { parseVersion } from '../../src/core/semver.ts';
import { eventEnv } from './support/events.ts';

const readFile = (p: string) => readFileSync(p, 'utf8');
const CREATED = Date.UTC(2026, 10, 21, 9, 30, 0);
const SOURCE = 'https://github.com/dotmac/dotmac-ftth-ops';

// Recorded runner env + payloads (test/fixtures/events) -> tags, version, push default, labels.
describe('build-images: tags and labels from recorded events', () => {
  it.each<{
    fixture: string;
    latest?: LatestMode;
    known?: string[];
    extra?: string[];
    tags: string[];
    version: string;
    revision: string;
    push: boolean;
  }>([
    {
      fixture: 'push_tag_v1.3.0',
      known: ['v1.0.0', 'v1.2.4', 'v1.3.0', 'v1.4.0-rc.1', 'not-semver'],
      tags: ['1.3.0', '1.3', '1', 'latest'],
      version: '1.3.0',
      revision: '9f1c2e4b7a3d5f60812c4e9b0a7d3f1e2c5b8a49',
      push: true,
    },
    {
      // A hotfix of an older line must not move latest back.
      fixture: 'push_tag_v1.3.0',
      known: ['v1.3.0', 'v1.4.0'],
      tags: ['1.3.0', '1.3', '1'],
      version: '1.3.0',
      revision: '9f1c2e4b7a3d5f60812c4e9b0a7d3f1e2c5b8a49',
      push: true,
    },
    {
      fixture: 'push_tag_v1.3.0',
      latest: 'false',
      known: ['v1.3.0'],
      extra: ['stable', '1.3'],
      tags: ['1.3.0', '1.3', '1', 'stable'],
      version: '1.3.0',
      revision: '9f1c2e4b7a3d5f60812c4e9b0a7d3f1e2c5b8a49',
      push: true,
    },
    {
      fixture: 'push_tag_v1.3.0-rc.1',
      known: ['v1.2.0'],
      tags: ['1.3.0-rc.1'],
      version: '1.3.0-rc.1',
      revision: '9f1c2e4b7a3d5f60812c4e9b0a7d3f1e2c5b8a49',
      push: true,
    },
    {
      fixture: 'push_branch_main',
      tags: ['main', 'sha-3e7a91c'],
      version: 'sha-3e7a91c',
      revision: '3e7a91c04b5d2f8e6a1c9b7d0f4e2a8c6b3d5f71',
      push: true,
    },
    {
      fixture: 'push_branch_feature',
      tags: ['feature-Radius_sync-2', 'sha-c0ffee5'],
      version: 'sha-c0ffee5',
      revision: 'c0ffee5d2b4a6e8f1c3d5e7f9a0b2c4d6e8f0a1b',
      push: true,
    },
    {
      // Revision is the PR head the developer pushed, not GitHub's merge commit (GITHUB_SHA).
      fixture: 'pull_request',
      tags: ['pr-42'],
      version: 'pr-42',
      revision: 'a94a8fe5ccb19ba61c4c0873d391e987982fbbd3',
      push: false,
    },
    {
      fixture: 'workflow_dispatch',
      extra: ['staging'],
      tags: ['main', 'sha-3e7a91c', 'staging'],
      version: 'sha-3e7a91c',
      revision: '3e7a91c04b5d2f8e6a1c9b7d0f4e2a8c6b3d5f71',
      push: true,
    },
  ])(
    '$fixture (latest $latest, known $known, extra $extra) -> $tags',
    ({ fixture, latest = 'auto', known, extra, tags, version, revision, push }) => {
      const event = readGitEvent(eventEnv(fixture), readFile);
      const plan = deriveTags(event, { latest, knownTags: known, extraTags: extra });
      expect(plan.tags).toEqual(tags);
      expect(plan.version).toBe(version);
      expect(plan.revision).toBe(revision);
      expect(plan.pushByDefault).toBe(push);
      expect(ociLabels(event, plan, CREATED)).toEqual({
        'org.opencontainers.image.source': SOURCE,
        'org.opencontainers.image.revision': revision,
        'org.opencontainers.image.version': version,
        'org.opencontainers.image.created': '2026-11-21T09:30:00.000Z',
      });
    },
  );

  it('does not move latest when the tag list cannot be read, and says why', () => {
    const plan = deriveTags(readGitEvent(eventEnv('push_tag_v1.3.0'), readFile), { latest: 'auto', knownTags: undefined });
    expect(plan.tags).toEqual(['1.3.0', '1.3', '1']);
    expect(plan.notes.join()).toMatch(/could not list the repository's tags.*latest: true/);
  });

  it('latest: true adds latest to a prerelease and a branch too', () => {
    expect(deriveTags(readGitEvent(eventEnv('push_tag_v1.3.0-rc.1'), readFile), { latest: 'true' }).tags).toEqual(['1.3.0-rc.1', 'latest']);
    expect(deriveTags(readGitEvent(eventEnv('push_branch_main'), readFile), { latest: 'true' }).tags).toEqual([
      'main',
      'sha-3e7a91c',
      'latest',
    ]);
  });

  it('takes the PR number from the ref when the payload has none', () => {
    const env = { ...eventEnv('pull_request'), GITHUB_EVENT_PATH: '' };
    const plan = deriveTags(readGitEvent(env, readFile), { latest: 'auto' });
    expect(plan.tags).toEqual(['pr-42']);
    expect(plan.revision).toBe('5d41402abc4b2a76b9719d911017c592e1b2c3d4');
  });

  it('uses the payload repository URL when GITHUB_SERVER_URL is missing', () => {
    const env = eventEnv('push_branch_main');
    delete env.GITHUB_SERVER_URL;
    expect(readGitEvent(env, readFile).sourceUrl).toBe(SOURCE);
  });

  it('refuses to run without a commit id, naming the variable and the fix', () => {
    expect(() => readGitEvent({ GITHUB_REF: 'refs/heads/main' }, readFile)).toThrow(ConfigurationError);
    expect(() => readGitEvent({ GITHUB_REF: 'refs/heads/main' }, readFile)).toThrow(
      /GITHUB_SHA.*run on a GitHub runner, or set GITHUB_SHA/,
    );
  });
});

describe('build-images: tag rules by ref', () => {
  const event = (ref: string) => ({ eventName: 'push', ref, sha: '0123456789abcdef0123456789abcdef01234567', sourceUrl: '', payload: {} });
  it.each([
    ['refs/tags/v0.4.2', ['0.4.2', '0.4', 'latest']],
    ['refs/tags/2.0.0', ['2.0.0', '2.0', '2', 'latest']],
    ['refs/tags/v1.3.0+build.7', ['1.3.0_build.7', '1.3', '1', 'latest']],
    ['refs/tags/v2.0.8-beta.67', ['2.0.8-beta.67']],
    ['refs/tags/release-2026.11', ['release-2026.11']],
    ['refs/tags/v1.3', ['v1.3']],
    ['refs/heads/dependabot/npm_and_yarn/next-15.0.1', ['dependabot-npm_and_yarn-next-15.0.1', 'sha-0123456']],
    ['refs/heads/-weird/.name', ['weird-.name', 'sha-0123456']],
    ['refs/remotes/x', ['sha-0123456']],
  ])('%s -> %j', (ref, tags) => {
    expect(deriveTags(event(ref), { latest: 'auto', knownTags: [] }).tags).toEqual(tags);
  });
});

describe('build-images: newest release', () => {
  it.each<[string, string[] | undefined, boolean]>([
    ['v1.3.0', ['v1.2.0', 'v1.3.0'], true],
    ['v1.3.0', ['v1.3.1'], false],
    ['v1.3.0', ['v2.0.0-rc.1', 'nightly'], true],
    ['v1.3.0', undefined, false],
    ['v1.3.0-rc.1', [], false],
  ])('newest release %s among %j: %s', (tag, known, expected) => {
    expect(isNewestRelease(parseVersion(tag)!, known)).toBe(expected);
  });

  it.each([
    ['feature/a b', 'feature-a-b'],
    ['.hidden', 'hidden'],
    ['UPPER_case.1', 'UPPER_case.1'],
    ['x'.repeat(200), 'x'.repeat(128)],
    ['///', 'untagged'],
  ])('sanitizes %j -> %j', (input, out) => expect(sanitizeTag(input)).toBe(out));
});
