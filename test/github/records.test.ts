/**
 * Deployment records with the REAL Octokit (@actions/github) against the local GitHub REST fake:
 * the sequence of deployments and statuses for a rollout with a failed wave, the fall-back to
 * per-wave records when the token's budget is low, secondary rate limits, and a rollout that
 * completes normally while GitHub answers 500 to everything or never answers.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { GitHubApi } from '../../src/github/api.ts';
import { DeploymentRecorder, stepEnvironment } from '../../src/github/records.ts';
import type { RecordMode } from '../../src/github/records.ts';
import { executeRollout, ledgerDescription } from '../../src/rollout/execute.ts';
import type { RolloutOptions } from '../../src/rollout/execute.ts';
import { FakeClock } from '../support/fake-clock.ts';
import { FakeHelm } from '../support/fake-helm.ts';
import { startFakeGitHub } from '../support/fake-github/index.ts';
import type { FakeGitHub } from '../support/fake-github/index.ts';
import { RecordingLogger } from '../support/logger.ts';
import { tenant } from '../support/rollout-fleet.ts';

let gh: FakeGitHub | undefined;
afterEach(async () => {
  await gh?.close();
  gh = undefined;
});

async function rollout(opts: {
  mode: RecordMode;
  remaining?: number;
  fail?: string[];
  rollbackWave?: boolean;
  fault?: FakeGitHub['fault'];
  timeoutMs?: number;
  waves?: string[][];
}) {
  gh = await startFakeGitHub({ remaining: opts.remaining });
  gh.fault = opts.fault;
  const helm = new FakeHelm();
  const groups = opts.waves ?? [
    ['p1', 'p2'],
    ['a', 'b', 'c'],
    ['d', 'e'],
  ];
  const steps = groups.map((g, i) => ({ name: i === 0 ? 'pilot' : `wave-${i}`, tenants: g.map(tenant) }));
  for (const s of steps)
    for (const t of s.tenants) {
      helm.seed(t.namespace, t.release, [{ status: 'deployed', content: 'old' }]);
      helm.onUpgrade(t.namespace, t.release, opts.fail?.includes(t.id) ? { kind: 'fail' } : { kind: 'ok' });
    }
  const clock = new FakeClock();
  const logger = new RecordingLogger();
  const api = new GitHubApi({
    token: gh.token,
    baseUrl: gh.url,
    clock,
    logger,
    share: 0.5,
    timeoutMs: opts.timeoutMs ?? 2000,
    backoffMs: 10,
  });
  const recorder = new DeploymentRecorder(
    api,
    {
      owner: gh.owner,
      repo: gh.repo,
      ref: gh.env().GITHUB_SHA!,
      environment: 'tenants',
      mode: opts.mode,
      version: 'v1.4.0',
      logUrl: 'https://github.example/acme/fleet/actions/runs/4242',
      environmentUrl: (t) => `https://${t.slug}.isp.example.com`,
      plan: 'planfp',
    },
    { logger, clock },
  );
  const options: RolloutOptions = {
    steps,
    maxParallel: 1,
    maxFailures: 0,
    soakMs: 0,
    soakIntervalMs: 1000,
    rollbackWaveOnFailure: opts.rollbackWave ?? false,
    recoverPending: false,
    timeoutMs: 60_000,
    targetFingerprint: () => 'fp',
    upgradeFor: (t, fp) => ({
      release: t.release,
      namespace: t.namespace,
      chart: 'c',
      valuesFiles: [],
      set: [],
      setString: [],
      createNamespace: false,
      wait: 'ready',
      timeoutMs: 60_000,
      dryRun: 'none',
      serverSide: 'auto',
      description: ledgerDescription(fp, 'run'),
    }),
  };
  recorder.prepare();
  const result = await executeRollout(options, { helm, clock, logger, onEvent: recorder.onEvent });
  const finished = await recorder.finish(10_000);
  return { gh, result, recorder, logger, finished, api, clock };
}

const statusOf = (r: { tenants: { id: string; status: string }[] }) => Object.fromEntries(r.tenants.map((t) => [t.id, t.status]));

describe('deployment records (real Octokit, GitHub REST fake)', () => {
  it('per tenant: a deployment per wave and per tenant, in_progress then success / failure / inactive', async () => {
    const { gh, result, logger } = await rollout({ mode: 'tenant', fail: ['b'], rollbackWave: true });
    expect(statusOf(result)).toEqual({
      p1: 'succeeded',
      p2: 'succeeded',
      a: 'rolled-back',
      b: 'failed-rolled-back',
      c: 'skipped',
      d: 'skipped',
      e: 'skipped',
    });
    // wave-2 never started and c was skipped: no record for them.
    expect(gh.timeline()).toEqual([
      'tenants/a: in_progress -> success -> inactive',
      'tenants/b: in_progress -> failure',
      'tenants/p1: in_progress -> success',
      'tenants/p2: in_progress -> success',
      'tenants/pilot: in_progress -> success',
      'tenants/wave-1: in_progress -> failure',
    ]);
    const b = gh.deployments.find((d) => d.environment === 'tenants/b')!;
    expect(b.description).toBe('v1.4.0 on b');
    expect(b.ref).toBe(gh.env().GITHUB_SHA);
    expect(b.payload).toMatchObject({ tenant: 'b', namespace: 'tenant-b', plan: 'planfp' });
    expect(b.statuses[0]).toMatchObject({
      environment_url: 'https://b.isp.example.com',
      log_url: 'https://github.example/acme/fleet/actions/runs/4242',
    });
    expect(b.statuses[1]!.description).toMatch(/^v1\.4\.0: failed-rolled-back/);
    const wave = gh.deployments.find((d) => d.environment === 'tenants/wave-1')!;
    expect(wave.statuses[1]!.description).toBe('v1.4.0: 1 rolled-back, 1 failed-rolled-back, 1 skipped');
    // Every create carried required_contexts [] (else 409 while checks are pending) and the API version header's JSON.
    const creates = gh.requests.filter((r) => r.method === 'POST' && r.path.endsWith('/deployments'));
    expect(creates.every((r) => Array.isArray(r.body?.required_contexts) && r.body?.auto_merge === false)).toBe(true);
    expect(logger.lines.filter((l) => l.level === 'warning' && /deployment record|GitHub/.test(l.message))).toEqual([]);
  });

  it('environment names from step names stay stable when the plan grows', () => {
    expect(['pilot', 'wave 1/2', 'wave 12/40'].map(stepEnvironment)).toEqual(['pilot', 'wave-1', 'wave-12']);
  });

  it('per wave: one deployment per started wave', async () => {
    const { gh } = await rollout({ mode: 'wave', fail: ['b'] });
    expect(gh.timeline()).toEqual(['tenants/pilot: in_progress -> success', 'tenants/wave-1: in_progress -> failure']);
  });

  it('a budget too small for per-tenant records falls back to per-wave records, with a warning', async () => {
    // 7 tenants + 3 waves = 30 requests; 50% of 40 remaining allows 20.
    const { gh, logger, api } = await rollout({ mode: 'tenant', remaining: 40 });
    expect(gh.timeline()).toEqual([
      'tenants/pilot: in_progress -> success',
      'tenants/wave-1: in_progress -> success',
      'tenants/wave-2: in_progress -> success',
    ]);
    expect(logger.text()).toMatch(
      /per-tenant deployment records need 30 GitHub API requests, more than this run's share of the token's budget \(20 of 40 remaining\): falling back to per-wave records/,
    );
    // GET /rate_limit is free; the records spent 9 of the 20 allowed.
    expect(gh.remaining).toBe(31);
    expect(api.allowance()).toBe(11);
  });

  it('falls back mid-run when something else spends the budget', async () => {
    // 50% of 100 = 50 allowed, enough at the start (30); another client then spends 90.
    const { gh, logger } = await rollout({
      mode: 'tenant',
      remaining: 100,
      fault: (r, fake) => {
        if (r.body?.environment === 'tenants/wave-1') fake.remaining = Math.min(fake.remaining, 6);
        return undefined;
      },
    });
    const envs = gh.deployments.map((d) => d.environment);
    expect(envs).toContain('tenants/wave-2');
    expect(envs).not.toContain('tenants/e');
    expect(logger.text()).toMatch(/budget for this run is nearly spent .*falling back to per-wave records/);
  });

  it('a 403 secondary rate limit is waited out (retry-after) and the record still written', async () => {
    let limited = 0;
    const { gh, result, clock } = await rollout({
      mode: 'wave',
      waves: [['p1'], ['a']],
      fault: (r) =>
        r.method === 'POST' && !limited++
          ? {
              status: 403,
              message: 'You have exceeded a secondary rate limit. Please wait a few minutes before you try again.',
              headers: { 'retry-after': '2' },
            }
          : undefined,
    });
    expect(statusOf(result)).toEqual({ p1: 'succeeded', a: 'succeeded' });
    expect(gh.timeline()).toEqual(['tenants/pilot: in_progress -> success', 'tenants/wave-1: in_progress -> success']);
    expect(gh.requests.filter((r) => r.status === 403)).toHaveLength(1);
    // retry-after: 2 was honoured (on the rollout's clock, which a test can read).
    expect(clock.sleeps).toContain(2000);
  });

  it('GitHub answering 500 to everything: the rollout completes as it would have, a bounded number of calls, one warning line per kind', async () => {
    const { gh, result, logger } = await rollout({ mode: 'tenant', fail: ['b'], fault: () => ({ status: 500 }) });
    expect(statusOf(result)).toEqual({
      p1: 'succeeded',
      p2: 'succeeded',
      a: 'succeeded',
      b: 'failed-rolled-back',
      c: 'skipped',
      d: 'skipped',
      e: 'skipped',
    });
    // 3 failed calls in a row open the circuit; up to 4 more were in flight then (3 attempts each).
    expect(gh.requests.length).toBeLessThanOrEqual((3 + 4) * 3);
    expect(logger.text()).toMatch(/the GitHub API failed 3 calls in a row .*no further GitHub calls this run/);
    expect(logger.lines.some((l) => l.level === 'error')).toBe(false);
  });

  it('GitHub never answering: the rollout completes, each call gives up at its deadline', async () => {
    const { result, finished } = await rollout({ mode: 'wave', waves: [['p1'], ['a']], timeoutMs: 150, fault: () => ({ hang: true }) });
    expect(statusOf(result)).toEqual({ p1: 'succeeded', a: 'succeeded' });
    expect(finished.written).toBe(0);
  });
});
