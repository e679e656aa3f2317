/**
 * The approval gate, checked with the REAL Octokit against the GitHub REST fake: the gated
 * environment missing (the closest name found across paginated environments), present without
 * reviewers, present with reviewers, guarded by an app, and uncheckable (which stops too).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GitHubApi } from '../../src/github/api.ts';
import { checkApprovalGate } from '../../src/github/gate.ts';
import { FakeClock } from '../support/fake-clock.ts';
import { startFakeGitHub } from '../support/fake-github/index.ts';
import type { FakeGitHub } from '../support/fake-github/index.ts';
import { RecordingLogger } from '../support/logger.ts';

let gh: FakeGitHub;
beforeAll(async () => {
  // 130 environments (per-tenant records make many): the real one is on page 2.
  const filler = Array.from({ length: 120 }, (_, i) => ({ name: `tenants/t${String(i).padStart(3, '0')}` }));
  gh = await startFakeGitHub({
    environments: [
      ...filler,
      { name: 'tenants-production', reviewers: ['alice', 'bob'], waitTimer: 5 },
      { name: 'tenants-auto' },
      { name: 'tenants-app', apps: ['change-board'] },
    ],
  });
});
afterAll(() => gh?.close());

const check = (environment: string, token = gh.token) =>
  checkApprovalGate(new GitHubApi({ token, baseUrl: gh.url, clock: new FakeClock(), logger: new RecordingLogger(), backoffMs: 1 }), {
    owner: gh.owner,
    repo: gh.repo,
    environment,
    why: 'the promotion needs approval (gate approval)',
  });

describe('approval gate (real Octokit, GitHub REST fake)', () => {
  it('present with required reviewers: passes, naming them', async () => {
    await expect(check('tenants-production')).resolves.toEqual({
      environment: 'tenants-production',
      reviewers: ['alice', 'bob'],
      apps: [],
    });
  });

  it('guarded by a custom deployment protection rule (an app): passes', async () => {
    await expect(check('tenants-app')).resolves.toMatchObject({ reviewers: [], apps: ['change-board'] });
  });

  it('present without reviewers: stops before deploying, with the fix', async () => {
    await expect(check('tenants-auto')).rejects.toThrow(
      /approval environment "tenants-auto": has no required reviewers and no deployment protection rule in acme\/fleet, but the promotion needs approval .*nothing was deployed \(add required reviewers \(Settings -> Environments -> tenants-auto -> Required reviewers\)/,
    );
  });

  it('missing (a typo): stops, naming the closest existing environment found across every page', async () => {
    const before = gh.requests.length;
    await expect(check('tenants-prodution')).rejects.toThrow(
      /approval environment "tenants-prodution": does not exist in acme\/fleet: GitHub would create it without reviewers on first use.*\(did you mean "tenants-production"\?/,
    );
    const pages = gh.requests.slice(before).filter((r) => r.path.endsWith('/environments'));
    expect(pages.map((r) => r.query.get('page') ?? '1')).toEqual(['1', '2']);
  });

  it('missing with nothing close: says how to create it', async () => {
    await expect(check('prod')).rejects.toThrow(/create it with required reviewers \(Settings -> Environments -> New environment "prod"\)/);
  });

  it('uncheckable (GitHub answers 500): stops, no verdict is not a verdict', async () => {
    gh.fault = () => ({ status: 500 });
    try {
      await expect(check('tenants-production')).rejects.toThrow(
        /could not be checked \(GET .*HTTP 500.*an unchecked gate is no gate: nothing was deployed/,
      );
    } finally {
      gh.fault = undefined;
    }
  });

  it('a token without access: stops with the permission to add', async () => {
    await expect(check('tenants-production', 'ghs_wrong')).rejects.toThrow(/HTTP 401: Bad credentials.*actions: read/);
  });
});
