/**
 * Sharded waves with real processes against one wire-level API fake: each shard is its own node
 * process (test/support/shard-worker.ts) running the production executor and coordination, with
 * a simulated helm that keeps releases in Helm's storage Secrets through the API, so the fake's
 * request log shows every upgrade. Checked from that log and the reports: every tenant exactly
 * once, no shard starts wave k before every shard ended wave k-1, failures within the budget plus
 * what was in flight, slices of shards that never started or whose heartbeat lapsed are run by the
 * live ones, and the merged report is the union.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/kube/client.ts';
import { createFleetDocuments } from '../../src/kube/documents.ts';
import { mergeReports } from '../../src/rollout/merge.ts';
import { parseBatchSize, parsePilot, planRollout, serializePlan, stepsForPhase, type Plan } from '../../src/rollout/plan.ts';
import type { RolloutReport } from '../../src/rollout/report.ts';
import { heartbeatName, shardDocumentName, sliceSteps, type ShardState } from '../../src/rollout/shards.ts';
import type { Tenant } from '../../src/tenants/model.ts';
import { startFakeKube, type FakeKube, type RecordedRequest } from '../support/fake-kube/index.ts';
import { repoRoot } from '../support/tools.ts';

const N = 36;
const ids = Array.from({ length: N }, (_, i) => `t${String(i + 1).padStart(2, '0')}`);
const tenants: Tenant[] = ids.map((id) => ({
  id,
  slug: id,
  namespace: `tenant-${id}`,
  release: id,
  labels: {},
  values: {},
  valuesFiles: [],
}));
const plan: Plan = planRollout(tenants, { pilot: parsePilot('2'), batchSize: parseBatchSize('15') });
const waveOf = new Map(stepsForPhase(plan, 'all').flatMap((s, k) => s.tenants.map((t) => [t.namespace, k] as const)));

let kube: FakeKube;
let dir: string;
beforeAll(async () => {
  kube = await startFakeKube();
  kube.addNamespaces(['deploy-actions']);
  kube.addTenantNamespaces(tenants.map((t) => t.namespace));
  dir = mkdtempSync(join(tmpdir(), 'shards-'));
  writeFileSync(join(dir, 'plan.json'), serializePlan(plan));
});
afterAll(async () => {
  await kube?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

interface Run {
  reports: RolloutReport[];
  outputs: string[];
}

function runShards(
  run: string,
  shards: number,
  which: number[],
  over: { bad?: string[]; maxFailures?: number; durationMs?: number; interrupt?: number } = {},
): Promise<Run> {
  return Promise.all(
    which.map(
      (shard) =>
        new Promise<{ report: RolloutReport; out: string }>((resolve, reject) => {
          const cfg = join(dir, `${run}-${shard}.json`);
          const out = join(dir, `${run}-${shard}-report.json`);
          writeFileSync(
            cfg,
            JSON.stringify({
              kubeconfigYaml: kube.kubeconfigYaml,
              planFile: join(dir, 'plan.json'),
              shard,
              shards,
              maxFailures: over.maxFailures ?? 0,
              maxParallel: 2,
              bad: over.bad ?? [],
              durationMs: over.durationMs ?? 60,
              heartbeatMs: 200,
              lapseMs: 10_000,
              run,
              out,
            }),
          );
          const child = spawn(
            process.execPath,
            ['--experimental-transform-types', '--no-warnings', join(repoRoot, 'test/support/shard-worker.ts'), cfg],
            { cwd: repoRoot },
          );
          let text = '';
          let interrupted = false;
          child.stdout.on('data', (c: Buffer) => {
            text += c.toString();
            // The job of shard `interrupt` is cancelled once it has finished its first tenant.
            if (over.interrupt === shard && !interrupted && /\] ✓ /.test(text)) {
              interrupted = true;
              child.kill('SIGINT');
            }
          });
          child.stderr.on('data', (c: Buffer) => (text += c.toString()));
          child.on('close', (code) => {
            if (code !== 0) return reject(new Error(`shard ${shard} exited ${code}:\n${text}`));
            resolve({ report: (JSON.parse(readFileSync(out, 'utf8')) as { report: RolloutReport }).report, out: text });
          });
        }),
    ),
  ).then((rs) => ({ reports: rs.map((r) => r.report), outputs: rs.map((r) => r.out) }));
}

/** The simulated upgrades in the fake's log: which namespace, and the request index of its first and last write. */
function upgradesSince(from: number) {
  const writes = new Map<string, { first: number; last: number; upgrades: number }>();
  kube.requests.forEach((r: RecordedRequest, i) => {
    if (i < from) return;
    const m = /^\/api\/v1\/namespaces\/([^/]+)\/secrets/.exec(r.path);
    if (!m || !['POST', 'PUT', 'DELETE'].includes(r.method) || !waveOf.has(m[1]!)) return;
    const w = writes.get(m[1]!) ?? { first: i, last: i, upgrades: 0 };
    w.last = i;
    if (r.method === 'POST' && JSON.parse(r.body).metadata.labels['sim-op'] === 'upgrade') w.upgrades++;
    writes.set(m[1]!, w);
  });
  return writes;
}

function expectWaveBarrier(writes: ReturnType<typeof upgradesSince>) {
  const steps = stepsForPhase(plan, 'all').length;
  for (let k = 1; k < steps; k++) {
    const endPrev = Math.max(...[...writes].filter(([ns]) => waveOf.get(ns) === k - 1).map(([, w]) => w.last));
    const startNext = Math.min(...[...writes].filter(([ns]) => waveOf.get(ns) === k).map(([, w]) => w.first));
    if (Number.isFinite(startNext)) expect(startNext, `step ${k} started before step ${k - 1} ended everywhere`).toBeGreaterThan(endPrev);
  }
}

describe('sharded waves (separate processes, one API fake)', () => {
  it('splits every step deterministically into representative slices', () => {
    const a = sliceSteps(stepsForPhase(plan, 'all'), 5);
    const b = sliceSteps(stepsForPhase(plan, 'all'), 5);
    expect(a).toEqual(b);
    for (const [k, step] of stepsForPhase(plan, 'all').entries())
      expect(
        a[k]!.flat()
          .map((t) => t.id)
          .sort(),
      ).toEqual(step.tenants.map((t) => t.id).sort());
    // Not all of a wave in one slice.
    expect(a[1]!.filter((s) => s.length > 0).length).toBeGreaterThan(2);
  });

  it(
    '6 shards: every tenant exactly once, the wave barrier holds in the request log, the merged report is the union',
    { timeout: 300_000 },
    async () => {
      const from = kube.requests.length;
      const r = await runShards('run-a', 6, [0, 1, 2, 3, 4, 5]);
      const writes = upgradesSince(from);
      const notOnce = tenants.filter((t) => writes.get(t.namespace)?.upgrades !== 1).map((t) => t.id);
      expect(notOnce, r.outputs.join('\n').slice(-20000)).toEqual([]);
      expectWaveBarrier(writes);
      // Each tenant in exactly one shard's report (no slice was run twice: no heartbeat lapsed).
      const ran = r.reports.flatMap((x) => x.tenants.map((t) => t.id));
      expect(r.outputs.join('\n')).not.toMatch(/taken over/);
      expect(ran.sort()).toEqual([...ids].sort());
      const merged = mergeReports(plan, 'all', r.reports);
      expect(merged.tenants.map((t) => t.id)).toEqual(stepsForPhase(plan, 'all').flatMap((s) => s.tenants.map((t) => t.id)));
      expect(merged.counts.succeeded).toBe(N);
      expect(merged.outcome).toBe('succeeded');
    },
  );

  it(
    'bad tenants: the fleet-wide budget stops every shard; failures stay within budget plus those in flight',
    { timeout: 300_000 },
    async () => {
      const from = kube.requests.length;
      const wave1 = stepsForPhase(plan, 'all')[1]!.tenants.map((t) => t.release);
      const bad = wave1.slice(0, 6);
      const r = await runShards('run-b', 4, [0, 1, 2, 3], { bad, maxFailures: 2, durationMs: 150 });
      const merged = mergeReports(plan, 'all', r.reports);
      const failed = merged.tenants.filter((t) => t.status === 'failed-rolled-back').length;
      expect(merged.outcome).toBe('halted');
      expect(merged.stoppedBecause).toMatch(/failure budget spent: 3 failed fleet-wide, 2 allowed/);
      // In flight when the budget was spent: at most every worker of every shard (4 shards x 2).
      expect(failed).toBeGreaterThanOrEqual(3);
      expect(failed).toBeLessThanOrEqual(3 + 4 * 2);
      // Nothing after wave 1 was touched, and no tenant was upgraded twice.
      const writes = upgradesSince(from);
      expect([...writes.keys()].filter((ns) => waveOf.get(ns)! > 1)).toEqual([]);
      expect([...writes.values()].every((w) => w.upgrades <= 1)).toBe(true);
      expectWaveBarrier(writes);
      // The union covers the plan: what no shard ran is skipped with the stop's reason.
      expect(merged.tenants).toHaveLength(N);
      expect(merged.counts.skipped).toBeGreaterThan(0);
      expect(merged.tenants.find((t) => t.status === 'skipped')!.error).toMatch(/failure budget spent/);
    },
  );

  it(
    '8 shards but only 3 start, and one slice is held by a shard whose heartbeat lapsed: the live shards run them all',
    { timeout: 300_000 },
    async () => {
      const run = 'run-c';
      const docs = createFleetDocuments({ kubeConfig: loadConfig({ kubeconfigYaml: kube.kubeconfigYaml }), namespace: 'deploy-actions' });
      const name = shardDocumentName(plan.fingerprint, run);
      const slices = sliceSteps(stepsForPhase(plan, 'all'), 8);
      const held = slices[0]!.findIndex((s, i) => s.length > 0 && i >= 3);
      // shard `held` claimed its pilot slice, then died: its last heartbeat is a minute old.
      await docs.createIfAbsent<ShardState>(name, {
        version: 1,
        planFingerprint: plan.fingerprint,
        shards: 8,
        maxFailures: 0,
        claims: { [`0/${held}`]: { by: `shard-${held}`, at: Date.now() - 60_000 } },
        failures: 0,
      });
      await docs.createIfAbsent(heartbeatName(name, held), { at: Date.now() - 60_000 });
      const from = kube.requests.length;
      const r = await runShards(run, 8, [0, 1, 2]);
      const writes = upgradesSince(from);
      // Every tenant upgraded exactly once, by one of the three live shards.
      expect([...writes.values()].map((w) => w.upgrades)).toEqual(ids.map(() => 1));
      expectWaveBarrier(writes);
      const merged = mergeReports(plan, 'all', r.reports);
      expect(merged.counts.succeeded).toBe(N);
      expect(r.outputs.join('\n')).toMatch(new RegExp(`runs slice ${held + 1}/8 .*taken over from shard-${held} \\(heartbeat lapsed\\)`));
      expect(r.outputs.join('\n')).toMatch(/\(nobody had claimed it\)/);
      const doc = (await docs.read<ShardState>(name))!.value;
      expect(Object.values(doc.claims).every((c) => c.done && ['shard-0', 'shard-1', 'shard-2'].includes(c.by))).toBe(true);
    },
  );

  it(
    'a cancelled shard stops every shard within one tenant: the run ends cancelled, nothing upgraded twice or left pending',
    { timeout: 300_000 },
    async () => {
      const run = 'run-d';
      const from = kube.requests.length;
      const r = await runShards(run, 3, [0, 1, 2], { interrupt: 1, durationMs: 200 });
      const merged = mergeReports(plan, 'all', r.reports);
      expect(merged.outcome).toBe('cancelled');
      expect(merged.stoppedBecause).toBe('shard-1 was cancelled');
      const docs = createFleetDocuments({ kubeConfig: loadConfig({ kubeconfigYaml: kube.kubeconfigYaml }), namespace: 'deploy-actions' });
      const doc = (await docs.read<ShardState>(shardDocumentName(plan.fingerprint, run)))!.value;
      expect(doc.stop).toMatchObject({ outcome: 'cancelled', by: 'shard-1' });
      // The others saw the stop: far from the whole plan ran, and nothing twice.
      const writes = upgradesSince(from);
      expect(writes.size).toBeLessThan(N);
      expect(merged.counts.skipped).toBeGreaterThan(0);
      expect([...writes.values()].every((w) => w.upgrades <= 1)).toBe(true);
      expectWaveBarrier(writes);
      // Every tenant ended clean: on the new revision, back where it was, or untouched.
      expect(merged.tenants.filter((t) => !['succeeded', 'skipped', 'rolled-back', 'failed-rolled-back'].includes(t.status))).toEqual([]);
      for (const t of tenants) {
        const top = kube
          .list('secrets', t.namespace)
          .filter((x) => x.metadata.labels?.owner === 'helm')
          .map((x) => x.metadata.labels!)
          .sort((a, b) => Number(a.version) - Number(b.version))
          .at(-1);
        expect(String(top?.status ?? 'none'), t.id).not.toMatch(/^pending-/);
      }
    },
  );
});
