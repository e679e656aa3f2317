import { describe, expect, it } from 'vitest';
import { AdaptiveParallelism, DEFAULT_ADAPTIVE } from '../../src/rollout/adaptive.ts';
import type { PressurePort, PressureSignal } from '../../src/rollout/adaptive.ts';
import { executeRollout } from '../../src/rollout/execute.ts';
import type { RolloutOptions } from '../../src/rollout/execute.ts';
import { buildReport, renderReport } from '../../src/rollout/report.ts';
import type { UpgradeOptions } from '../../src/helm/argv.ts';
import { FakeClock } from '../support/fake-clock.ts';
import { FakeHelm } from '../support/fake-helm.ts';
import { RecordingLogger } from '../support/logger.ts';
import { tenant, testUpgrade } from '../support/rollout-fleet.ts';

describe('AdaptiveParallelism (AIMD)', () => {
  it('one stray 429 changes nothing; three in 10 s halve the limit, once per cooldown', () => {
    const clock = new FakeClock();
    const a = new AdaptiveParallelism(20, clock);
    a.throttled('', '429');
    clock.advance(11_000);
    a.throttled('', '429'); // the first one is out of the window
    expect(a.limit('')).toBe(20);
    a.throttled('', '429');
    a.throttled('', '503');
    expect(a.limit('')).toBe(10);
    // The same burst's other answers: within the cooldown, no second halving.
    for (let i = 0; i < 5; i++) a.throttled('', '429');
    expect(a.limit('')).toBe(10);
    clock.advance(DEFAULT_ADAPTIVE.cooldownMs);
    for (let i = 0; i < 3; i++) a.throttled('', '429');
    expect(a.limit('')).toBe(5);
  });

  it('floors at 1 and rises by one per calm period, never above the ceiling', () => {
    const clock = new FakeClock();
    const a = new AdaptiveParallelism(4, clock);
    for (let round = 0; round < 5; round++) {
      for (let i = 0; i < 3; i++) a.throttled('', '429');
      clock.advance(DEFAULT_ADAPTIVE.cooldownMs);
    }
    expect(a.limit('')).toBe(1);
    clock.advance(DEFAULT_ADAPTIVE.calmMs - DEFAULT_ADAPTIVE.cooldownMs - 1);
    expect(a.limit('')).toBe(1); // not calm long enough yet
    clock.advance(1);
    expect(a.limit('')).toBe(2);
    expect(a.limit('')).toBe(2); // one step per calm period, however often it is asked
    for (let i = 0; i < 10; i++) {
      clock.advance(DEFAULT_ADAPTIVE.calmMs);
      a.limit('');
    }
    expect(a.limit('')).toBe(4);
    expect(a.figures()).toMatchObject({ ceiling: 4, min: 1, max: 4, final: 4, decreases: 2, increases: 3, throttled: 15 });
  });

  it('latency far above the calm baseline is throttling; latency back to normal lets it recover', () => {
    const clock = new FakeClock();
    const a = new AdaptiveParallelism(8, clock);
    for (let i = 0; i < 20; i++) a.latency('', 20); // calm: 20 ms
    expect(a.limit('')).toBe(8);
    for (let i = 0; i < 30; i++) {
      a.latency('', 900);
      clock.advance(500);
    }
    expect(a.limit('')).toBeLessThan(8);
    const low = a.limit('');
    // A slow server does not count as calm, however long it stays slow.
    clock.advance(DEFAULT_ADAPTIVE.calmMs * 2);
    expect(a.limit('')).toBe(low);
    // Back to normal (the first of these samples still average slow, and may halve it once more).
    for (let i = 0; i < 40; i++) a.latency('', 20);
    const recovered = a.limit('');
    clock.advance(DEFAULT_ADAPTIVE.calmMs);
    expect(a.limit('')).toBe(recovered + 1);
    expect(a.figures().slow).toBeGreaterThan(0);
    expect(a.figures().throttled).toBe(0);
  });

  it('each cluster on its own: a throttled cluster slows, the others keep their limit', () => {
    const clock = new FakeClock();
    const a = new AdaptiveParallelism(6, clock);
    for (let i = 0; i < 3; i++) a.throttled('east', '429');
    a.latency('west', 10);
    expect([a.limit('east'), a.limit('west')]).toEqual([3, 6]);
    expect(a.figures().byCluster).toMatchObject({ east: { min: 3, final: 3 }, west: { min: 6, final: 6 } });
  });
});

/** A bus the test emits on, as the action's client-node requesters do. */
function pressureBus() {
  const listeners = new Set<(c: string, s: PressureSignal) => void>();
  const port: PressurePort = {
    subscribe(fn) {
      listeners.add(fn);
      return () => listeners.delete(fn);
    },
  };
  return { port, emit: (c: string, s: PressureSignal) => listeners.forEach((fn) => fn(c, s)), listeners };
}

/**
 * One wave on a FakeHelm whose upgrades move the fake clock: while `throttling(n)` says so (n:
 * upgrades started so far), each upgrade start brings 429s from its cluster. Records how many
 * upgrades of each cluster were running as each one started.
 */
function throttledWave(o: { n: number; clusters?: string[]; throttling: (started: number, cluster: string) => boolean; stepMs: number }) {
  const clock = new FakeClock();
  const helm = new FakeHelm();
  const bus = pressureBus();
  const tenants = Array.from({ length: o.n }, (_, i) => {
    const t = tenant(`t${String(i).padStart(3, '0')}`);
    const c = o.clusters?.[i % o.clusters.length];
    helm.seed(t.namespace, t.release, [{ status: 'deployed', content: 'old' }]);
    helm.onUpgrade(t.namespace, t.release, { kind: 'ok', turns: 4 });
    return c ? { ...t, cluster: c } : t;
  });
  const clusterOfNs = new Map(tenants.map((t) => [t.namespace, t.cluster ?? '']));
  const active = new Map<string, number>();
  const starts: { cluster: string; active: number }[] = [];
  const upgrade = helm.upgrade.bind(helm);
  helm.upgrade = async (u: UpgradeOptions, signal?: AbortSignal) => {
    const c = clusterOfNs.get(u.namespace)!;
    active.set(c, (active.get(c) ?? 0) + 1);
    starts.push({ cluster: c, active: active.get(c)! });
    if (o.throttling(starts.length, c)) for (let i = 0; i < 3; i++) bus.emit(c, { kind: 'throttled', reason: '429' });
    clock.advance(o.stepMs);
    try {
      return await upgrade(u, signal);
    } finally {
      active.set(c, active.get(c)! - 1);
    }
  };
  const logger = new RecordingLogger();
  const options = (over: Partial<RolloutOptions> = {}): RolloutOptions => ({
    steps: [{ name: 'wave 1', tenants }],
    maxParallel: 8,
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
  const run = (over: Partial<RolloutOptions> = {}) =>
    executeRollout(options(over), { helm, clock, logger, pressure: bus.port, helmFor: o.clusters ? () => helm : undefined });
  return { run, starts, logger, bus, helm, clock };
}

describe('executeRollout with adaptive parallelism', () => {
  it('lowers the effective max-parallel under sustained 429s and raises it again once the server recovers', async () => {
    // Throttled while the first 16 upgrades start, then calm; each upgrade start is 5 s of fake time.
    const w = throttledWave({ n: 120, throttling: (n) => n <= 16, stepMs: 5_000 });
    const r = await w.run();
    expect(r.tenants.every((t) => t.status === 'succeeded')).toBe(true);
    expect(r.parallelism).toMatchObject({ ceiling: 8, min: 1, max: 8, final: 8 });
    expect(r.parallelism!.throttled).toBe(48);
    const seen = w.starts.map((s) => s.active);
    // Full speed at first, then (throttled) one or two at a time, then full speed again.
    expect(Math.max(...seen.slice(0, 8))).toBe(8);
    expect(Math.max(...seen.slice(10, 20))).toBe(1);
    expect(Math.max(...seen.slice(-20))).toBe(8);
    expect(w.logger.text()).toMatch(/parallelism: 8 -> 4 \(3\+ throttled responses in 10 s \(last: 429\)\)/);
    expect(w.logger.text()).toMatch(/parallelism: 7 -> 8 \(no throttling for 30 s\)/);
    // Reported: in the report's JSON and in the summary.
    const rep = buildReport(r, { phase: 'all', planFingerprint: 'p', target: 't', startedAt: new Date(0).toISOString() });
    expect(rep.parallelism).toMatchObject({ min: 1, max: 8, final: 8, throttled: 48 });
    expect(renderReport(rep)).toMatch(
      /\*\*Adaptive parallelism:\*\* 48 throttled requests; max-parallel 8, lowest 1, final 8 \(\d+ decreases, \d+ increases\)/,
    );
    // The executor's subscription ends with the run.
    expect(w.bus.listeners.size).toBe(0);
  });

  it('off (adaptive: false): the same throttling leaves the parallelism constant', async () => {
    const w = throttledWave({ n: 40, throttling: (n) => n <= 16, stepMs: 5_000 });
    const r = await w.run({ adaptive: false });
    expect(r.parallelism).toBeUndefined();
    expect(Math.max(...w.starts.slice(10, 20).map((s) => s.active))).toBe(8);
  });

  it('per cluster: a throttled cluster slows down under its max-parallel-per-cluster, the other keeps it', async () => {
    const w = throttledWave({ n: 80, clusters: ['east', 'west'], throttling: (n, c) => c === 'east' && n <= 40, stepMs: 1_000 });
    const r = await w.run({ maxParallel: 8, maxParallelPerCluster: 4 });
    expect(r.tenants.every((t) => t.status === 'succeeded')).toBe(true);
    const east = w.starts.filter((s) => s.cluster === 'east').map((s) => s.active);
    const west = w.starts.filter((s) => s.cluster === 'west').map((s) => s.active);
    expect(Math.max(...east, ...west)).toBeLessThanOrEqual(4);
    expect(Math.max(...west.slice(10))).toBe(4);
    expect(Math.max(...east.slice(10, 20))).toBe(1);
    expect(r.parallelism!.byCluster).toMatchObject({ east: { ceiling: 4, min: 1, throttled: expect.any(Number) } });
    expect(r.parallelism!.byCluster!.west).toBeUndefined();
  });

  it("helm's transient failures count as throttling of its cluster", async () => {
    const w = throttledWave({ n: 4, throttling: () => false, stepMs: 1_000 });
    const t = 'tenant-t000';
    w.helm.onUpgrade(t, 't000'); // replaced below
    (w.helm as unknown as { scripts: Map<string, unknown[]> }).scripts.set(`${t}/t000`, [{ kind: 'transient' }, { kind: 'ok' }]);
    const r = await w.run();
    expect(r.tenants.find((x) => x.id === 't000')?.status).toBe('succeeded');
    expect(r.parallelism!.throttled).toBe(1);
  });
});
