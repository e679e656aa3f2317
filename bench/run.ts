// npm run bench: prints figures; asserts nothing. Three measurements from issue 3:
//  1. scheduling efficiency: simulated 1,000-tenant rollout, wall (virtual) time / ideal time;
//  2. planning 10,000 tenants: time and peak memory;
//  3. Kubernetes API calls per rollout (bench/api-calls.ts, against the wire-level fake).
import { performance } from 'node:perf_hooks';
import { executeRollout } from '../src/rollout/execute.ts';
import { planRollout, parseBatchSize, parsePilot, serializePlan, parsePlan } from '../src/rollout/plan.ts';
import type { Helm, ReleaseResult } from '../src/helm/helm.ts';
import type { Revision } from '../src/helm/history.ts';
import type { Tenant } from '../src/tenants/model.ts';
import { silentLogger } from '../src/core/logger.ts';
import { VirtualClock } from './virtual-clock.ts';

function rng(seed: number) {
  let s = seed >>> 0;
  return () => (s = (Math.imul(s ^ (s >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0) / 2 ** 32;
}
/** Log-normal deploy times around a median of 90 s (most tenants quick, a long tail of slow ones). */
function deployTimes(n: number, seed: number): number[] {
  const r = rng(seed);
  return Array.from({ length: n }, () => {
    const z = Math.sqrt(-2 * Math.log(r() || 1e-9)) * Math.cos(2 * Math.PI * r());
    return Math.round(90_000 * Math.exp(0.45 * z));
  });
}
const tenant = (i: number): Tenant => {
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

// What the engine adds around each upgrade, as measured against a real API server: a helm
// process for the history (~250 ms) and the workload check (3 list calls, ~150 ms).
const HISTORY_MS = 250;
const VERIFY_MS = 150;

/** A helm whose upgrades take a given (virtual) time. */
function simulatedHelm(clock: VirtualClock, times: Map<string, number>): Helm {
  return {
    version: { major: 4, minor: 1, patch: 4, raw: 'v4.1.4' },
    async history(): Promise<Revision[]> {
      await clock.sleep(HISTORY_MS);
      return [{ revision: 1, updated: '', status: 'deployed', chart: 'tenant-app-1.2.0', app_version: '1.2.0', description: '' }];
    },
    async upgrade(o): Promise<ReleaseResult> {
      await clock.sleep(times.get(o.release)!);
      return { revision: 2, status: 'deployed', chartVersion: '1.3.0', appVersion: '1.3.0', contentDigest: 'new' };
    },
    async listAll() {
      return [];
    },
    async rollback() {},
    async uninstall() {},
    async contentDigest() {
      return 'old';
    },
  };
}

async function scheduling(n: number, maxParallel: number, batch: string) {
  const tenants = Array.from({ length: n }, (_, i) => tenant(i));
  const plan = planRollout(tenants, { pilot: parsePilot('2'), batchSize: parseBatchSize(batch) });
  const byId = new Map(tenants.map((t) => [t.id, t]));
  const steps = [plan.pilot, ...plan.waves].map((w, i) => ({ name: i ? `wave ${i}` : 'pilot', tenants: w.map((r) => byId.get(r.id)!) }));
  const d = deployTimes(n, 42);
  const times = new Map(tenants.map((t, i) => [t.release, d[i]!]));
  const clock = new VirtualClock();
  const cpu0 = performance.now();
  const r = await executeRollout(
    {
      steps,
      maxParallel,
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
    },
    { helm: simulatedHelm(clock, times), clock, logger: silentLogger, verify: async () => (await clock.sleep(VERIFY_MS), { ok: true }) },
  );
  const cpu = performance.now() - cpu0;
  // Ideal schedule: each wave's tenants on max-parallel slots, taken in plan order as slots free
  // up, with nothing but the upgrades themselves; a wave ends with its last tenant.
  const ideal = steps.reduce((sum, s) => {
    const slots = new Array<number>(Math.min(maxParallel, s.tenants.length)).fill(0);
    for (const t of s.tenants) {
      const i = slots.indexOf(Math.min(...slots));
      slots[i]! += times.get(t.release)!;
    }
    return sum + Math.max(...slots);
  }, 0);
  // For reference, a bound no order can beat: max(slowest, total work / max-parallel) per wave.
  const bound = steps.reduce((sum, s) => {
    const w = s.tenants.map((t) => times.get(t.release)!);
    return sum + Math.max(Math.max(...w), w.reduce((a, b) => a + b, 0) / maxParallel);
  }, 0);
  const ok = r.tenants.every((t) => t.status === 'succeeded');
  console.log(
    `scheduling: ${n} tenants, batch ${batch}, max-parallel ${maxParallel}: wall ${(r.durationMs / 60000).toFixed(1)} min (virtual), ideal ${(ideal / 60000).toFixed(1)} min, ratio ${(r.durationMs / ideal).toFixed(3)} (target <= 1.05); vs lower bound ${(r.durationMs / bound).toFixed(3)}; ${steps.length} steps, all succeeded: ${ok}; engine CPU ${cpu.toFixed(0)} ms`,
  );
}

function planning(n: number) {
  const tenants = Array.from({ length: n }, (_, i) => tenant(i));
  global.gc?.();
  const base = process.memoryUsage().heapUsed;
  let peak = base;
  const sample = () => (peak = Math.max(peak, process.memoryUsage().heapUsed));
  const t0 = performance.now();
  const plan = planRollout(tenants, { pilot: parsePilot('ring=pilot'), batchSize: parseBatchSize('1,5%,25%,100%') });
  sample();
  const json = serializePlan(plan);
  sample();
  parsePlan(json);
  sample();
  const ms = performance.now() - t0;
  console.log(
    `planning: ${n} tenants planned, serialized (${(json.length / 1024).toFixed(0)} KiB) and re-parsed in ${ms.toFixed(0)} ms; heap +${((peak - base) / 2 ** 20).toFixed(1)} MiB, rss ${(process.memoryUsage().rss / 2 ** 20).toFixed(0)} MiB (targets < 1 s, < 200 MB)`,
  );
}

import { coldStart } from './cold-start.ts';

coldStart();
planning(10_000);
await scheduling(1_000, 10, '10%');
await scheduling(1_000, 20, '1,5%,25%,100%');
await scheduling(1_000, 50, '100');
try {
  await import('./api-calls.ts');
} catch (err) {
  console.log(`api calls: not measured (${(err as Error).message})`);
}
