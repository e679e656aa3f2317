import { HELM_RETRY, returnAttempts } from '../../src/helm/transient.ts';
import { describe, expect, it } from 'vitest';
import { executeRollout, ledgerDescription, onTarget } from '../../src/rollout/execute.ts';
import type { InflightChange, RolloutOptions, RolloutPorts } from '../../src/rollout/execute.ts';
import { buildReport, renderReport } from '../../src/rollout/report.ts';
import type { Tenant } from '../../src/tenants/model.ts';
import type { VerifyResult } from '../../src/helm/deploy.ts';
import { clusterTarget } from '../../src/core/cluster-target.ts';
import { FakeHelm } from '../support/fake-helm.ts';
import type { UpgradeBehaviour } from '../support/fake-helm.ts';
import { FakeClock } from '../support/fake-clock.ts';
import { RecordingLogger } from '../support/logger.ts';
import { tenant, testUpgrade } from '../support/rollout-fleet.ts';

const ids = (n: number, prefix = 't') => Array.from({ length: n }, (_, i) => `${prefix}${String(i + 1).padStart(2, '0')}`);

function fleet(stepIds: string[][], seedDeployed = true) {
  // Bound to a cluster the way the action binds HelmCli: rollbacks outside an upgrade must go there.
  const helm = new FakeHelm(clusterTarget({ context: 'prod' }));
  const steps = stepIds.map((g, i) => ({ name: i === 0 ? 'pilot' : `wave ${i}`, tenants: g.map(tenant) }));
  if (seedDeployed)
    for (const s of steps) for (const t of s.tenants) helm.seed(t.namespace, t.release, [{ status: 'deployed', content: 'old' }]);
  const clock = new FakeClock();
  const logger = new RecordingLogger();
  const options = (over: Partial<RolloutOptions> = {}): RolloutOptions => ({
    steps,
    maxParallel: 2,
    maxFailures: 0,
    soakMs: 0,
    soakIntervalMs: 10_000,
    rollbackWaveOnFailure: false,
    recoverPending: false,
    timeoutMs: 120_000,
    targetFingerprint: () => 'fp1',
    upgradeFor: testUpgrade,
    ...over,
  });
  const ports = (over: Partial<RolloutPorts> = {}): RolloutPorts => ({ helm, clock, logger, ...over });
  const script = (id: string, ...b: UpgradeBehaviour[]) => helm.onUpgrade(`tenant-${id}`, id, ...b);
  return { helm, steps, clock, logger, options, ports, script };
}

const byStatus = (r: { tenants: { id: string; status: string }[] }) =>
  r.tenants.reduce<Record<string, string[]>>((acc, t) => ((acc[t.status] ??= []).push(t.id), acc), {});

describe('executeRollout', () => {
  it('deploys pilot then waves, every tenant once, never more than max-parallel at a time', async () => {
    const all = ids(9);
    const f = fleet([all.slice(0, 2), all.slice(2, 6), all.slice(6)]);
    for (const id of all) f.script(id, { kind: 'ok', turns: 3 });
    const r = await executeRollout(f.options({ maxParallel: 3 }), f.ports());
    expect(byStatus(r)).toEqual({ succeeded: all });
    expect(r.tenants.map((t) => [t.id, t.revisionBefore, t.revisionAfter])).toEqual(all.map((id) => [id, 1, 2]));
    expect(f.helm.maxActive).toBe(3);
    // pilot tenants finish before any wave-1 tenant starts
    const upgrades = f.helm.calls.filter((c) => c.startsWith('upgrade')).map((c) => c.split('/')[1]);
    expect(upgrades.slice(0, 2).sort()).toEqual(['t01', 't02']);
    expect(r.stoppedBecause).toBeUndefined();
    expect(f.logger.text()).toMatch(/wave 2 \(3\/3\): 3\/3 done · overall 9\/9, 0 failed/);
  });

  it('a failing pilot is rolled back and no other tenant is touched (budget 0)', async () => {
    const f = fleet([
      ['p1', 'p2'],
      ['a', 'b', 'c'],
    ]);
    f.script('p1', { kind: 'fail' });
    f.script('p2', { kind: 'ok' });
    const r = await executeRollout(f.options(), f.ports());
    expect(byStatus(r)).toEqual({ 'failed-rolled-back': ['p1'], succeeded: ['p2'], skipped: ['a', 'b', 'c'] });
    expect(r.stop?.outcome).toBe('halted');
    expect(r.stoppedBecause).toMatch(/^failure budget spent: 1 failed, 0 allowed \(last: p1: UPGRADE FAILED: context deadline exceeded\)/);
    expect(f.helm.calls.filter((c) => /tenant-[abc]\//.test(c))).toEqual([]);
    expect(r.tenants.find((t) => t.id === 'p1')).toMatchObject({ revisionBefore: 1, revisionAfter: 3 });
  });

  it('spends the budget: in-flight tenants finish, the rest of the wave and later waves are skipped', async () => {
    const f = fleet([['p1'], ['a', 'b', 'c', 'd', 'e'], ['z']]);
    f.script('p1', { kind: 'ok' });
    f.script('a', { kind: 'fail' });
    f.script('b', { kind: 'ok', turns: 5 }); // in flight while a and c fail
    f.script('c', { kind: 'fail' });
    const r = await executeRollout(f.options({ maxFailures: 1, maxParallel: 2 }), f.ports());
    expect(byStatus(r)).toEqual({ succeeded: ['p1', 'b'], 'failed-rolled-back': ['a', 'c'], skipped: ['d', 'e', 'z'] });
    expect(r.stoppedBecause).toMatch(/2 failed, 1 allowed \(last: c:/);
    expect(r.tenants.find((t) => t.id === 'z')?.error).toMatch(/failure budget spent/);
  });

  it('rolls the whole failing wave back when asked', async () => {
    const f = fleet([['p1'], ['a', 'b']]);
    f.script('p1', { kind: 'ok' });
    f.script('a', { kind: 'ok' });
    f.script('b', { kind: 'fail' });
    const r = await executeRollout(f.options({ rollbackWaveOnFailure: true, maxParallel: 1 }), f.ports());
    expect(byStatus(r)).toEqual({ succeeded: ['p1'], 'rolled-back': ['a'], 'failed-rolled-back': ['b'] });
    expect(f.helm.calls).toContain('rollback tenant-a/a 1 wait=ready ctx=prod timeout=120000');
    expect(r.tenants.find((t) => t.id === 'a')).toMatchObject({ revisionBefore: 1, revisionAfter: 3 });
  });

  it('a re-run skips tenants already on the target and healthy, and deploys the rest', async () => {
    const f = fleet([['p1'], ['a', 'b']]);
    f.script('p1', { kind: 'ok' });
    f.script('a', { kind: 'ok' });
    f.script('b', { kind: 'fail' });
    const first = await executeRollout(f.options({ maxFailures: 5 }), f.ports());
    expect(byStatus(first)).toEqual({ succeeded: ['p1', 'a'], 'failed-rolled-back': ['b'] });
    f.script('b', { kind: 'ok' });
    const second = await executeRollout(f.options(), f.ports({ verify: async () => ({ ok: true }) }));
    expect(byStatus(second)).toEqual({ unchanged: ['p1', 'a'], succeeded: ['b'] });
    expect(onTarget(await f.helm.history('a', { namespace: 'tenant-a' }), 'fp1')).toBe(true);
    expect(onTarget(await f.helm.history('a', { namespace: 'tenant-a' }), 'fp2')).toBe(false);
  });

  it('a tenant rolled back onto the target revision counts as on it (follows "Rollback to N")', () => {
    const row = (revision: number, status: string, description: string) => ({
      revision,
      status,
      description,
      updated: '',
      chart: 'c-1',
      app_version: '1',
    });
    const h = [
      row(1, 'superseded', ledgerDescription('good', 'r1')),
      row(2, 'failed', ledgerDescription('bad', 'r2')),
      row(3, 'deployed', 'Rollback to 1'),
    ];
    expect(onTarget(h, 'good')).toBe(true);
    expect(onTarget(h, 'bad')).toBe(false);
    expect(onTarget([row(1, 'deployed', 'Rollback to 1')], 'good')).toBe(false); // a loop ends
  });

  it('a tenant on the target but unhealthy is deployed again, not skipped', async () => {
    const f = fleet([['a']]);
    f.script('a', { kind: 'ok' }, { kind: 'ok' });
    await executeRollout(f.options(), f.ports());
    let checks = 0;
    const verify = async (): Promise<VerifyResult> =>
      ++checks === 1 ? { ok: false, reason: 'pod a-1: CrashLoopBackOff (3 restarts)' } : { ok: true };
    const r = await executeRollout(f.options(), f.ports({ verify }));
    expect(byStatus(r)).toEqual({ succeeded: ['a'] });
    expect(f.logger.text()).toContain(
      'already on the target revision but unhealthy (pod a-1: CrashLoopBackOff (3 restarts)); deploying again',
    );
  });

  it('soaks between waves, rolling back a tenant that degrades, and stops on the budget', async () => {
    const f = fleet([['p1', 'p2'], ['a']]);
    f.script('p1', { kind: 'ok' });
    f.script('p2', { kind: 'ok' });
    let round = 0;
    const soakCheck = async (ts: Tenant[]) => {
      round++;
      return new Map(ts.map((t) => [t.id, t.id === 'p2' && round === 2 ? { ok: false, reason: '5xx ratio 0.12 > 0.05' } : { ok: true }]));
    };
    const r = await executeRollout(f.options({ soakMs: 30_000, soakIntervalMs: 10_000 }), f.ports({ soakCheck }));
    expect(byStatus(r)).toEqual({ succeeded: ['p1'], 'failed-rolled-back': ['p2'], skipped: ['a'] });
    expect(r.tenants.find((t) => t.id === 'p2')?.error).toBe('degraded during soak after pilot: 5xx ratio 0.12 > 0.05');
    expect(f.clock.sleeps).toEqual([10_000, 10_000]);
    expect(f.helm.calls).toContain('rollback tenant-p2/p2 1 wait=ready ctx=prod timeout=120000');
  });

  it('soak analysis compares with the tenants not yet updated and rolls back a breaching tenant at once', async () => {
    const f = fleet([
      ['p1', 'p2'],
      ['a', 'b'],
    ]);
    f.script('p1', { kind: 'ok' });
    f.script('p2', { kind: 'ok' });
    const calls: { updated: string[]; baseline: string[]; window: number }[] = [];
    const soakAnalysis: RolloutPorts['soakAnalysis'] = async (updated, baseline, window, onFailed) => {
      calls.push({ updated: updated.map((t) => t.id), baseline: baseline.map((t) => t.id), window });
      await onFailed('p1', 'error-ratio: 0.31 > 0.05 (fleet median 0.02)');
    };
    const r = await executeRollout(f.options({ soakMs: 60_000, maxFailures: 0 }), f.ports({ soakAnalysis }));
    expect(calls).toEqual([{ updated: ['p1', 'p2'], baseline: ['a', 'b'], window: 60_000 }]);
    expect(byStatus(r)).toEqual({ 'failed-rolled-back': ['p1'], succeeded: ['p2'], skipped: ['a', 'b'] });
    expect(r.tenants[0]!.error).toBe('analysis during soak after pilot: error-ratio: 0.31 > 0.05 (fleet median 0.02)');
  });

  it('an inconclusive analysis HOLDS: no new tenant starts, those deployed stay, the report says why', async () => {
    const f = fleet([['p1', 'p2'], ['a'], ['b']]);
    f.script('p1', { kind: 'ok' });
    f.script('p2', { kind: 'ok' });
    const r = await executeRollout(
      f.options({ soakMs: 60_000 }),
      f.ports({ soakAnalysis: async () => ({ verdict: 'inconclusive', reason: 'p1: latency: no verdict, no p95 now (no data)' }) }),
    );
    expect(byStatus(r)).toEqual({ succeeded: ['p1', 'p2'], held: ['a', 'b'] });
    expect(r.stop?.outcome).toBe('held');
    expect(r.stoppedBecause).toBe(
      'the soak analysis after pilot had no verdict, so no further tenant starts and those deployed stay: p1: latency: no verdict, no p95 now (no data)',
    );
    expect(f.helm.calls.filter((c) => c.startsWith('rollback'))).toEqual([]);
    const rep = buildReport(r, { phase: 'all', planFingerprint: 'x', target: 't', startedAt: '' });
    expect(rep.outcome).toBe('held');
    expect(renderReport(rep)).toMatch(/held[\s\S]*\*\*Stopped:\*\* the soak analysis after pilot had no verdict/);
  });

  it('transient upgrade failures are retried, never spend the budget, and the report counts them', async () => {
    const f = fleet([['a', 'b', 'c']]);
    // a: twice before helm wrote a revision; b: once after (rolled back, then retried); c: a real failure.
    f.script('a', { kind: 'transient' }, { kind: 'transient' }, { kind: 'ok' });
    f.script('b', { kind: 'transient-after-revision' }, { kind: 'ok' });
    f.script('c', { kind: 'fail' });
    const r = await executeRollout(f.options({ maxFailures: 1 }), f.ports());
    expect(r.tenants.map((t) => [t.id, t.status, t.attempts])).toEqual([
      ['a', 'succeeded', 3],
      ['b', 'succeeded', 2],
      ['c', 'failed-rolled-back', undefined],
    ]);
    // Only c counts: 1 failure, 1 allowed (a or b counted too would halt the rollout).
    expect(r.stop).toBeUndefined();
    const rep = buildReport(r, { phase: 'all', planFingerprint: 'x', target: 't', startedAt: '' });
    expect(rep.upgradeRetries).toEqual({ tenants: 2, retries: 3 });
    expect(renderReport(rep)).toContain('**Upgrades retried:** 2 tenants, 3 retries');
  });

  it('a pilot-only run soaks against the tenants its waves will update, and passes when they agree', async () => {
    const f = fleet([['p1']]);
    f.script('p1', { kind: 'ok' });
    const seen: { baseline: string[]; at?: number }[] = [];
    const r = await executeRollout(
      f.options({ soakMs: 60_000, notYetUpdated: ['a', 'b'].map(tenant) }),
      f.ports({
        soakAnalysis: async (_u, baseline, _w, _f, _s, upgradedAt) => {
          seen.push({ baseline: baseline.map((t) => t.id), at: upgradedAt?.('p1') });
          return { verdict: 'healthy' };
        },
      }),
    );
    expect(seen).toEqual([{ baseline: ['a', 'b'], at: expect.any(Number) }]);
    expect(byStatus(r)).toEqual({ succeeded: ['p1'] });
    expect(r.stoppedBecause).toBeUndefined();
    // Without later tenants there is nothing to compare with and no soak.
    const g = fleet([['p1']]);
    g.script('p1', { kind: 'ok' });
    let called = false;
    await executeRollout(g.options({ soakMs: 60_000 }), g.ports({ soakAnalysis: async () => void (called = true) }));
    expect(called).toBe(false);
  });

  it('an analysis that cannot run stops the rollout instead of counting as healthy', async () => {
    const f = fleet([['p1'], ['a']]);
    f.script('p1', { kind: 'ok' });
    const r = await executeRollout(
      f.options({ soakMs: 60_000 }),
      f.ports({ soakAnalysis: async () => Promise.reject(new Error('prometheus: connection refused')) }),
    );
    // Not started because the run holds: held (a re-run resumes them), not skipped.
    expect(byStatus(r)).toEqual({ succeeded: ['p1'], held: ['a'] });
    expect(r.stop).toEqual({ outcome: 'held', reason: 'the soak analysis after pilot could not run: prometheus: connection refused' });
  });

  it('a healthy soak waits the whole window, in intervals, not a blind sleep', async () => {
    const f = fleet([['p1'], ['a']]);
    f.script('p1', { kind: 'ok' });
    f.script('a', { kind: 'ok' });
    const checked: string[][] = [];
    const r = await executeRollout(
      f.options({ soakMs: 25_000, soakIntervalMs: 10_000 }),
      f.ports({ soakCheck: async (ts) => (checked.push(ts.map((t) => t.id)), new Map()) }),
    );
    expect(byStatus(r)).toEqual({ succeeded: ['p1', 'a'] });
    expect(f.clock.sleeps).toEqual([10_000, 10_000, 5_000]);
    expect(checked).toEqual([['p1'], ['p1'], ['p1']]);
  });

  it('on cancel: stops starting tenants, rolls back the one in flight, reports the rest skipped', async () => {
    const f = fleet([['a', 'b', 'c']]);
    f.script('a', { kind: 'hang' });
    const ac = new AbortController();
    const seen: string[] = [];
    const p = executeRollout(
      f.options({ maxParallel: 1, signal: ac.signal }),
      f.ports({ onInflight: (x) => seen.push(`${x.op} ${x.namespace}/${x.release} ${x.previous ?? ''}`.trim()) }),
    );
    await new Promise((r) => setTimeout(r, 10));
    ac.abort();
    const r = await p;
    expect(byStatus(r)).toEqual({ 'failed-rolled-back': ['a'], skipped: ['b', 'c'] });
    expect(r.stop).toEqual({ outcome: 'cancelled', reason: 'the job was cancelled' });
    expect(f.helm.calls).toContain('rollback tenant-a/a 1 wait=none ctx=prod timeout=60000');
    expect(seen).toEqual(['start tenant-a/a 1', 'end tenant-a/a']);
  });

  it('a release stuck pending without recover-pending fails that tenant, naming the fix', async () => {
    const f = fleet([['a']], false);
    f.helm.seed('tenant-a', 'a', [{ status: 'deployed' }, { status: 'pending-upgrade' }]);
    const r = await executeRollout(f.options(), f.ports());
    expect(r.tenants[0]).toMatchObject({ status: 'failed' });
    expect(r.tenants[0]!.error).toMatch(/stuck in pending-upgrade.*set recover-pending: true/);
  });

  it('a failure before helm changed anything is reported as failed-untouched', async () => {
    const f = fleet([['a']]);
    f.script('a', { kind: 'fail-early', message: 'chart "x" not found' });
    const r = await executeRollout(f.options(), f.ports());
    expect(r.tenants[0]).toMatchObject({ status: 'failed-untouched', revisionAfter: 1, error: 'chart "x" not found (release untouched)' });
  });

  describe('recovery that finishes (the post step reads what is not yet recovered)', () => {
    // The live set after each change, as the post step would replay it from the journal.
    const lastInflight = () => {
      const seen: { namespace: string; release: string; previous?: number }[][] = [];
      const live = new Map<string, { namespace: string; release: string; previous?: number }>();
      return {
        seen,
        onInflight: (c: InflightChange) => {
          if (c.op === 'start')
            live.set(`${c.namespace}/${c.release}`, { namespace: c.namespace, release: c.release, previous: c.previous });
          else live.delete(`${c.namespace}/${c.release}`);
          seen.push([...live.values()]);
        },
      };
    };

    it('a tenant whose rollback keeps failing stays in the in-flight list for the post step', async () => {
      const f = fleet([['a', 'b']]);
      f.script('a', { kind: 'fail' });
      f.script('b', { kind: 'ok' });
      f.helm.failRollback = true;
      const w = lastInflight();
      const r = await executeRollout(f.options({ maxParallel: 1, maxFailures: 5 }), f.ports({ onInflight: w.onInflight }));
      expect(r.tenants[0]).toMatchObject({ id: 'a', status: 'failed' });
      // Tried more than once (bounded), and still listed at the end; b, deployed, is not.
      expect(f.helm.calls.filter((c) => c.startsWith('rollback tenant-a/a')).length).toBe(returnAttempts(HELM_RETRY));
      expect(w.seen.at(-1)).toEqual([{ namespace: 'tenant-a', release: 'a', previous: 1 }]);
    });

    it('a soak rollback that fails once is retried, and listed while it runs', async () => {
      const f = fleet([['p1'], ['a']]);
      f.script('p1', { kind: 'ok' });
      const soakCheck = async (ts: Tenant[]) => new Map(ts.map((t) => [t.id, { ok: false, reason: 'pod p1-x: CrashLoopBackOff' }]));
      f.helm.failRollbackTimes = 1;
      const w = lastInflight();
      const r = await executeRollout(
        f.options({ soakMs: 10_000, soakIntervalMs: 10_000 }),
        f.ports({ soakCheck, onInflight: w.onInflight }),
      );
      expect(r.tenants[0]).toMatchObject({ id: 'p1', status: 'failed-rolled-back', revisionAfter: 3 });
      expect(f.helm.calls.filter((c) => c.startsWith('rollback tenant-p1/p1 1'))).toHaveLength(2);
      expect(w.seen.map((x) => x.map((i) => i.release))).toContainEqual(['p1']);
      expect(w.seen.at(-1)).toEqual([]);
    });

    it('a wave rollback that never succeeds leaves those tenants listed for the post step', async () => {
      const f = fleet([['a', 'b']]);
      f.script('a', { kind: 'ok' });
      f.script('b', { kind: 'fail' });
      const w = lastInflight();
      const helm = f.helm;
      const rollback = helm.rollback.bind(helm);
      // b's own rollback works; the wave rollback of a fails every time.
      helm.rollback = async (release, revision, o) => {
        if (release === 'a')
          throw new (await import('../../src/helm/helm.ts')).HelmError('rollback failed: timed out', 'helm rollback', '');
        return rollback(release, revision, o);
      };
      const r = await executeRollout(f.options({ maxParallel: 1, rollbackWaveOnFailure: true }), f.ports({ onInflight: w.onInflight }));
      expect(byStatus(r)).toEqual({ failed: ['a'], 'failed-rolled-back': ['b'] });
      expect(w.seen.at(-1)).toEqual([{ namespace: 'tenant-a', release: 'a', previous: 1 }]);
    });
  });

  it('history unreadable after a failed upgrade: unknown (not failed-untouched), with the command to look', async () => {
    const f = fleet([['a']]);
    f.script('a', { kind: 'fail' });
    const upgrade = f.helm.upgrade.bind(f.helm);
    f.helm.upgrade = async (u, signal) => {
      try {
        return await upgrade(u, signal);
      } finally {
        f.helm.failHistoryTimes = 100;
      }
    };
    const r = await executeRollout(f.options(), f.ports());
    expect(r.tenants[0]).toMatchObject({ status: 'unknown', lookCommand: 'helm history a -n tenant-a --kube-context prod' });
    // No verdict holds the run (it is not the budget's call).
    expect(r.stop?.outcome).toBe('held');
    expect(r.stoppedBecause).toMatch(/^no verdict for a: /);
  });

  it('history unreadable (the API kept failing) before anything was done: held, untouched, and the run holds', async () => {
    const f = fleet([['a'], ['b']]);
    f.helm.failHistoryTimes = 100;
    const r = await executeRollout(f.options(), f.ports());
    expect(r.tenants[0]).toMatchObject({ id: 'a', status: 'held' });
    expect(r.tenants[0]!.error).toMatch(/could not read the history of tenant-a\/a \(nothing was changed\)/);
    // No verdict is not a failure: nothing of the budget spent, no new tenant started.
    expect(r.stop?.outcome).toBe('held');
    expect(r.stoppedBecause).toMatch(/^no verdict for a: the cluster kept failing helm's requests/);
    expect(r.tenants.find((t) => t.id === 'b')).toMatchObject({ status: 'held' });
    expect(f.helm.calls.some((c) => c.startsWith('upgrade'))).toBe(false);
  });

  it('a transient upgrade failure that never clears, helm having written nothing: held, not failed-untouched', async () => {
    const f = fleet([['a'], ['b']]);
    f.script('a', ...Array.from({ length: 10 }, () => ({ kind: 'transient' as const })));
    const r = await executeRollout(f.options(), f.ports());
    expect(r.tenants[0]).toMatchObject({ id: 'a', status: 'held', revisionAfter: 1 });
    expect(r.stop?.outcome).toBe('held');
    expect(r.tenants.find((t) => t.id === 'b')).toMatchObject({ status: 'held' });
  });

  it('is linear in a large wave: each completion costs O(1) of the wave (counted as reads of the wave list)', async () => {
    const n = 3000;
    const all = ids(n, 'x');
    const f = fleet([all]);
    for (const id of all) f.script(id, { kind: 'ok' });
    // Count every indexed read of the wave's tenant list: a per-completion re-scan reads it n^2/2 times.
    let reads = 0;
    const step = f.steps[0]!;
    step.tenants = new Proxy(step.tenants, {
      get(target, key, recv) {
        if (typeof key === 'string' && /^\d+$/.test(key)) reads++;
        return Reflect.get(target, key, recv);
      },
    });
    const r = await executeRollout(f.options({ maxParallel: 8 }), f.ports());
    expect(r.tenants).toHaveLength(n);
    expect(byStatus(r).succeeded).toHaveLength(n);
    expect(f.logger.lines.some((l) => l.message.includes(`${n}/${n} done · overall ${n}/${n}`))).toBe(true);
    expect(reads).toBeLessThan(6 * n);
  });
});
