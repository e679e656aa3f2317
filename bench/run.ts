// npm run bench: prints figures; asserts nothing (a figure that regresses is read, not failed).
//  1. cold start of an action (needs dist/);
//  2. planning 5,000 and 10,000 tenants: time and peak memory;
//  3. wall time of 1,000 simulated tenants against the LOWER BOUND (per wave, the larger of the
//     slowest tenant and total work / parallelism): a bound no schedule can beat, not a model of
//     the engine's own policy, so the ratio can move either way; in plan order and longest-first;
//  4. engine CPU per tenant against the bare-helm floor;
//  5. the seeds' scenario (100 tenants, a 2-minute chart): which settings finish under 15 minutes;
//  6. adaptive parallelism under injected throttling;
//  7. per-tenant cost (helm processes, Kubernetes API requests) against the wire-level fake (api-calls.ts).
// Wall times are virtual (bench/virtual-clock.ts): exact makespans, no timer jitter.
import { performance } from 'node:perf_hooks';
import { executeRollout } from '../src/rollout/execute.ts';
import type { RolloutResult, RolloutStep } from '../src/rollout/execute.ts';
import { planRollout, parseBatchSize, parsePilot, serializePlan, parsePlan } from '../src/rollout/plan.ts';
import type { PressureSignal } from '../src/rollout/adaptive.ts';
import type { Helm, ReleaseResult } from '../src/helm/helm.ts';
import type { Revision } from '../src/helm/history.ts';
import { silentLogger } from '../src/core/logger.ts';
import { VirtualClock } from './virtual-clock.ts';
import { benchOptions, benchSteps, benchTenant, deployTimes, lowerBound, rng } from './common.ts';
import { coldStart } from './cold-start.ts';

// What the engine adds around each upgrade: the release history read in-process from Helm's
// storage (one list request, ~3 ms; no helm process) and the workload check (3 list calls, ~150 ms).
const HISTORY_MS = 3;
const VERIFY_MS = 150;
/** CPU of one `helm upgrade --install --wait` (issue 13: ~0.5 CPU-s), the floor a tenant costs with bare helm. */
const HELM_UPGRADE_CPU_MS = 500;

const min = (ms: number) => `${(ms / 60_000).toFixed(1)} min`;

/** A helm whose upgrades take a given (virtual) time; `before` runs as each upgrade starts (load models). */
function simulatedHelm(clock: VirtualClock, time: (release: string) => number, counts = { processes: 0 }): Helm {
  return {
    version: { major: 4, minor: 1, patch: 4, raw: 'v4.1.4' },
    async history(): Promise<Revision[]> {
      await clock.sleep(HISTORY_MS);
      return [{ revision: 1, updated: '', status: 'deployed', chart: 'tenant-app-1.2.0', app_version: '1.2.0', description: '' }];
    },
    async upgrade(o): Promise<ReleaseResult> {
      counts.processes++;
      await clock.sleep(time(o.release));
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

async function simulate(steps: RolloutStep[], times: Map<string, number>, over: Parameters<typeof benchOptions>[1] = {}) {
  const clock = new VirtualClock();
  const counts = { processes: 0 };
  const cpu0 = process.cpuUsage();
  const r = await executeRollout(benchOptions(steps, over), {
    helm: simulatedHelm(clock, (rel) => times.get(rel)!, counts),
    clock,
    logger: silentLogger,
    verify: async () => (await clock.sleep(VERIFY_MS), { ok: true }),
  });
  const cpu = process.cpuUsage(cpu0);
  return { r, cpuMs: (cpu.user + cpu.system) / 1000, processes: counts.processes };
}

async function scheduling(n: number, maxParallel: number, batch: string) {
  const tenants = Array.from({ length: n }, (_, i) => benchTenant(i));
  const steps = benchSteps(tenants, '2', batch);
  const d = deployTimes(n, 42);
  const times = new Map(tenants.map((t, i) => [t.release, d[i]!]));
  // The floor is the upgrades alone: what a bare `helm upgrade --install --wait` loop would take at best.
  const bound = lowerBound(steps, (t) => times.get(t.release)!, maxParallel);
  const plain = await simulate(steps, times, { maxParallel });
  // Longest-first from a previous report whose durations were off by up to ±25% (a real last run).
  const noise = rng(7);
  const previous = new Map(plain.r.tenants.map((t) => [t.id, t.durationMs * (0.75 + 0.5 * noise())]));
  const lpt = await simulate(steps, times, { maxParallel, durations: previous });
  const ok = (x: RolloutResult) => x.tenants.every((t) => t.status === 'succeeded');
  console.log(
    `scheduling: ${n} tenants, batch ${batch}, max-parallel ${maxParallel}, ${steps.length} steps: lower bound ${min(bound)}; plan order ${min(plain.r.durationMs)} = ${(plain.r.durationMs / bound).toFixed(3)}x; longest-first (previous report, ±25%) ${min(lpt.r.durationMs)} = ${(lpt.r.durationMs / bound).toFixed(3)}x; all succeeded: ${ok(plain.r) && ok(lpt.r)}`,
  );
  return plain;
}

function cpuPerTenant(n: number, run: { cpuMs: number; processes: number }) {
  const per = run.cpuMs / n;
  console.log(
    `cpu per tenant: engine ${per.toFixed(2)} ms (${n} simulated tenants, scheduler and bookkeeping included) + 1 helm process (${(run.processes / n).toFixed(2)} per tenant); against the bare-helm floor of one upgrade (~${HELM_UPGRADE_CPU_MS} ms CPU): ${((HELM_UPGRADE_CPU_MS + per) / HELM_UPGRADE_CPU_MS).toFixed(3)}x (real helm: npm run bench:real)`,
  );
}

function planning(n: number) {
  const tenants = Array.from({ length: n }, (_, i) => benchTenant(i));
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

/**
 * The seeds' scenario: 100 tenants, a chart that takes ~2 minutes to become ready (log-normal,
 * 20% spread). The seeds' own script deploys batches of 5 and sleeps 60 s between them.
 */
async function seedsScenario() {
  const n = 100;
  const tenants = Array.from({ length: n }, (_, i) => benchTenant(i));
  const d = deployTimes(n, 11, 120_000, 0.2);
  const times = new Map(tenants.map((t, i) => [t.release, d[i]!]));
  let seeds = 0;
  for (let i = 0; i < n; i += 5) seeds += Math.max(...d.slice(i, i + 5)) + (i + 5 < n ? 60_000 : 0);
  console.log(`seeds scenario: ${n} tenants, 2-minute chart; the seeds' batches of 5 with 60 s sleeps: ${min(seeds)}`);
  const settings: { pilot: string; batch: string; parallel: number; soak: number }[] = [
    { pilot: '1', batch: '1,5%,25%,100%', parallel: 20, soak: 60_000 },
    { pilot: '1', batch: '1,5%,25%,100%', parallel: 20, soak: 0 },
    { pilot: '1', batch: '10%,100%', parallel: 25, soak: 120_000 },
    { pilot: '1', batch: '5,100%', parallel: 30, soak: 120_000 },
    { pilot: '1', batch: '5,100%', parallel: 50, soak: 120_000 },
    { pilot: '1', batch: '100%', parallel: 50, soak: 120_000 },
  ];
  for (const s of settings) {
    const steps = benchSteps(tenants, s.pilot, s.batch);
    const { r } = await simulate(steps, times, { maxParallel: s.parallel, soakMs: s.soak, soakIntervalMs: 30_000 });
    const under = r.durationMs < 15 * 60_000;
    console.log(
      `  pilot ${s.pilot}, batch-size ${s.batch}, max-parallel ${s.parallel}, soak ${s.soak / 1000}s: ${steps.length} steps, ${min(r.durationMs)} ${under ? '(under 15 min)' : '(over 15 min)'}`,
    );
  }
}

/**
 * Adaptive parallelism under injected throttling: an API server that serves 8 upgrades at once.
 * Past that, each upgrade start is answered with 429s (two, retried by the client) and every
 * upgrade slows: in proportion to the overload when the server only queues (its throughput
 * holds: the best case for a constant limit), or with its square when the overload also costs
 * work (retries, timeouts, watch re-lists: throughput falls). Constant vs adaptive, both.
 */
async function throttled(adaptive: boolean, collapse: boolean) {
  const n = 300;
  const capacity = 8;
  const tenants = Array.from({ length: n }, (_, i) => benchTenant(i));
  const steps = benchSteps(tenants, '2', '100%');
  const d = deployTimes(n, 5, 60_000, 0.3);
  const base = new Map(tenants.map((t, i) => [t.release, d[i]!]));
  const clock = new VirtualClock();
  const listeners = new Set<(c: string, s: PressureSignal) => void>();
  let inflight = 0;
  let injected = 0;
  let peak = 0;
  const helm = simulatedHelm(clock, (rel) => {
    inflight++;
    peak = Math.max(peak, inflight);
    const over = Math.max(0, inflight - capacity);
    if (over)
      for (let i = 0; i < 2; i++) {
        injected++;
        for (const fn of listeners) fn('', { kind: 'throttled', reason: '429' });
      }
    return Math.round(base.get(rel)! * (1 + over / capacity) ** (collapse ? 2 : 1));
  });
  const upgrade = helm.upgrade.bind(helm);
  helm.upgrade = async (o, s) => {
    try {
      return await upgrade(o, s);
    } finally {
      inflight--;
    }
  };
  const r = await executeRollout(benchOptions(steps, { maxParallel: 30, adaptive: adaptive ? undefined : false }), {
    helm,
    clock,
    logger: silentLogger,
    pressure: {
      subscribe: (fn) => (listeners.add(fn), () => listeners.delete(fn)),
    },
  });
  const p = r.parallelism;
  const bound = lowerBound(steps, (t) => base.get(t.release)!, capacity);
  console.log(
    `  ${collapse ? 'server whose throughput falls' : 'server that only queues'}, ${adaptive ? 'adaptive' : 'constant'}: wall ${min(r.durationMs)} (${(r.durationMs / bound).toFixed(2)}x the bound at the server's capacity), ${injected} throttled requests injected, peak ${peak} upgrades at once${p ? `; effective max-parallel min ${p.min}, max ${p.max}, final ${p.final} (${p.decreases} decreases, ${p.increases} increases, ${p.throttled} throttled seen)` : ''}`,
  );
}

try {
  coldStart();
} catch (err) {
  console.log(`cold start: not measured (${(err as Error).message}; npm run build first)`);
}
planning(5_000);
planning(10_000);
await scheduling(1_000, 10, '10%');
const big = await scheduling(1_000, 20, '1,5%,25%,100%');
await scheduling(1_000, 50, '100');
cpuPerTenant(1_000, big);
await seedsScenario();
console.log(`adaptive parallelism: 300 tenants, max-parallel 30, an API server that serves 8 upgrades at once (429s past that):`);
for (const collapse of [false, true]) for (const adaptive of [false, true]) await throttled(adaptive, collapse);
try {
  await import('./api-calls.ts');
} catch (err) {
  console.log(`api calls: not measured (${(err as Error).message})`);
}
