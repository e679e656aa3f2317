// What the benches share: tenants, deploy-time distributions, and the one set of rollout
// options (the upgrade a simulated helm is asked for), so the benches differ only in what they measure.
import type { RolloutOptions, RolloutStep } from '../src/rollout/execute.ts';
import { planRollout, parseBatchSize, parsePilot } from '../src/rollout/plan.ts';
import type { Tenant } from '../src/tenants/model.ts';

export function rng(seed: number) {
  let s = seed >>> 0;
  return () => (s = (Math.imul(s ^ (s >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0) / 2 ** 32;
}

/** Log-normal times around `median` ms (most tenants quick, a long tail of slow ones). */
export function deployTimes(n: number, seed: number, median = 90_000, sigma = 0.45): number[] {
  const r = rng(seed);
  return Array.from({ length: n }, () => {
    const z = Math.sqrt(-2 * Math.log(r() || 1e-9)) * Math.cos(2 * Math.PI * r());
    return Math.round(median * Math.exp(sigma * z));
  });
}

export const benchTenant = (i: number): Tenant => {
  const id = `t${String(i).padStart(5, '0')}`;
  return {
    id,
    slug: id,
    namespace: `tenant-${id}`,
    release: id,
    labels: { ring: i < 2 ? 'pilot' : 'general' },
    values: {},
    valuesFiles: [],
  };
};

/** The plan's steps (pilot, waves) as the executor takes them. */
export function benchSteps(tenants: Tenant[], pilot: string, batch: string): RolloutStep[] {
  const plan = planRollout(tenants, { pilot: parsePilot(pilot), batchSize: parseBatchSize(batch) });
  const byId = new Map(tenants.map((t) => [t.id, t]));
  return [plan.pilot, ...plan.waves].map((w, i) => ({ name: i ? `wave ${i}` : 'pilot', tenants: w.map((r) => byId.get(r.id)!) }));
}

/** The rollout options every bench uses; `over` sets what a bench varies. */
export function benchOptions(steps: RolloutStep[], over: Partial<RolloutOptions> = {}): RolloutOptions {
  return {
    steps,
    maxParallel: 10,
    maxFailures: 0,
    soakMs: 0,
    soakIntervalMs: 1000,
    rollbackWaveOnFailure: false,
    recoverPending: false,
    timeoutMs: 300_000,
    targetFingerprint: () => 'bench',
    upgradeFor: (t) => ({
      release: t.release,
      namespace: t.namespace,
      chart: 'c',
      valuesFiles: [],
      set: [],
      setString: [],
      createNamespace: false,
      wait: 'ready',
      timeoutMs: 1,
      dryRun: 'none',
      serverSide: 'auto',
    }),
    ...over,
  };
}

/** The bound no schedule can beat: per wave, the larger of its slowest tenant and its total work / parallelism, summed. */
export function lowerBound(steps: RolloutStep[], time: (t: Tenant) => number, parallel: number): number {
  return steps.reduce((sum, s) => {
    const w = s.tenants.map(time);
    return sum + Math.max(Math.max(...w), w.reduce((a, b) => a + b, 0) / parallel);
  }, 0);
}
