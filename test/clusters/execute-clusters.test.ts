import { describe, expect, it } from 'vitest';
import { clusterTarget } from '../../src/core/cluster-target.ts';
import { HelmError } from '../../src/helm/helm.ts';
import type { KubeTarget } from '../../src/helm/argv.ts';
import { executeRollout, ledgerDescription } from '../../src/rollout/execute.ts';
import { buildReport, renderReport } from '../../src/rollout/report.ts';
import type { RolloutOptions } from '../../src/rollout/execute.ts';
import type { Tenant } from '../../src/tenants/model.ts';
import { FakeClock } from '../support/fake-clock.ts';
import { FakeHelm } from '../support/fake-helm.ts';
import { RecordingLogger } from '../support/logger.ts';

// One rollout over three clusters: each tenant goes to its own cluster's helm, no cluster runs more
// than max-parallel-per-cluster upgrades at once, and a cluster that stops answering holds its own
// tenants while the others finish.
const CLUSTERS = ['eu-1', 'eu-2', 'us-1'];
const tenant = (id: string, cluster: string): Tenant => ({
  id,
  slug: id,
  namespace: `tenant-${id}`,
  release: id,
  labels: {},
  values: {},
  valuesFiles: [],
  cluster,
});

function fleet(perCluster: number, failing: string[] = []) {
  const helms = new Map(CLUSTERS.map((c) => [c, new FakeHelm(clusterTarget({ name: c, context: c }))]));
  const tenants = CLUSTERS.flatMap((c) => Array.from({ length: perCluster }, (_, i) => tenant(`${c}-${i}`, c)));
  for (const t of tenants) {
    const h = helms.get(t.cluster!)!;
    h.seed(t.namespace, t.release, [{ status: 'deployed', content: 'old' }]);
    h.onUpgrade(t.namespace, t.release, failing.includes(t.id) ? { kind: 'fail', message: 'crash loop' } : { kind: 'ok', turns: 3 });
  }
  const options = (over: Partial<RolloutOptions> = {}): RolloutOptions => ({
    steps: [{ name: 'wave 1/1', tenants }],
    maxParallel: 6,
    maxFailures: 0,
    soakMs: 0,
    soakIntervalMs: 1000,
    rollbackWaveOnFailure: false,
    recoverPending: false,
    timeoutMs: 60_000,
    targetFingerprint: () => 'fp',
    upgradeFor: (t) => ({
      release: t.release,
      namespace: t.namespace,
      chart: 'c',
      valuesFiles: [],
      set: [],
      setString: [],
      createNamespace: false,
      wait: 'none',
      timeoutMs: 60_000,
      dryRun: 'none',
      serverSide: 'auto',
      description: ledgerDescription('fp', 'run 1'),
    }),
    ...over,
  });
  const ports = {
    helm: new FakeHelm(),
    helmFor: (t: Tenant) => helms.get(t.cluster!)!,
    clock: new FakeClock(),
    logger: new RecordingLogger(),
    retry: { attempts: 2, baseDelayMs: 1 },
  };
  return { helms, tenants, options, ports };
}

describe('executeRollout over several clusters', () => {
  it('each release is upgraded through its own cluster, and nowhere else', async () => {
    const f = fleet(3);
    const r = await executeRollout(f.options(), f.ports);
    expect(r.tenants.every((t) => t.status === 'succeeded')).toBe(true);
    for (const [c, h] of f.helms) {
      const upgraded = h.calls.filter((x) => x.startsWith('upgrade ')).map((x) => x.split('/')[1]);
      expect(upgraded.sort()).toEqual([`${c}-0`, `${c}-1`, `${c}-2`]);
    }
    expect(f.ports.helm.calls).toEqual([]);
  });

  it('max-parallel-per-cluster: never more upgrades at once in one cluster, the global limit still used', async () => {
    const f = fleet(5);
    await executeRollout(f.options({ maxParallel: 6, maxParallelPerCluster: 2 }), f.ports);
    expect([...f.helms.values()].map((h) => h.maxActive)).toEqual([2, 2, 2]);
    const g = fleet(5);
    await executeRollout(g.options({ maxParallel: 6 }), g.ports);
    expect(Math.max(...[...g.helms.values()].map((h) => h.maxActive))).toBeGreaterThan(2);
  });

  it('a cluster that stops answering holds its own tenants; the other clusters finish; none of its tenants is failed', async () => {
    const f = fleet(4);
    const us = f.helms.get('us-1')!;
    let reads = 0;
    const history = us.history.bind(us);
    us.history = async (release: string, t: KubeTarget) => {
      // The API server goes away after the first tenant's reads.
      if (++reads > 3)
        throw new HelmError(
          'Kubernetes cluster unreachable: dial tcp 10.0.0.9:443: connect: connection refused',
          'helm history',
          'Error: Kubernetes cluster unreachable: dial tcp 10.0.0.9:443: connect: connection refused',
        );
      return history(release, t);
    };
    const r = await executeRollout(f.options({ maxParallel: 3, maxParallelPerCluster: 1 }), f.ports);
    const byCluster = (c: string) => r.tenants.filter((t) => t.id.startsWith(c)).map((t) => t.status);
    expect(byCluster('eu-1')).toEqual(['succeeded', 'succeeded', 'succeeded', 'succeeded']);
    expect(byCluster('eu-2')).toEqual(['succeeded', 'succeeded', 'succeeded', 'succeeded']);
    const usStatuses = byCluster('us-1');
    expect(usStatuses.filter((s) => s === 'succeeded').length).toBeGreaterThanOrEqual(1);
    expect(usStatuses.every((s) => s === 'succeeded' || s === 'held' || s === 'unknown')).toBe(true);
    expect(usStatuses).toContain('held');
    for (const t of r.tenants.filter((x) => x.status === 'held')) expect(t.error).toMatch(/^cluster us-1 is unreachable/);
    expect(r.stop).toMatchObject({ outcome: 'held', reason: expect.stringMatching(/cluster us-1 is unreachable/) });
  });

  const unreachableAfter = (h: FakeHelm, n: number) => {
    let reads = 0;
    const history = h.history.bind(h);
    h.history = async (release: string, t: KubeTarget) => {
      if (++reads > n)
        throw new HelmError(
          'Kubernetes cluster unreachable: dial tcp 10.0.0.9:443: connect: connection refused',
          'helm history',
          'Error: Kubernetes cluster unreachable: dial tcp 10.0.0.9:443: connect: connection refused',
        );
      return history(release, t);
    };
  };
  const meta = { phase: 'all', planFingerprint: 'f'.repeat(64), target: 't', startedAt: '2026-12-07T10:00:00Z' };

  it('every result names its cluster, and the summary counts per cluster', async () => {
    const f = fleet(2);
    const r = await executeRollout(f.options(), f.ports);
    expect(r.tenants.map((t) => [t.id, t.cluster])).toEqual(f.tenants.map((t) => [t.id, t.cluster]));
    const md = renderReport(buildReport(r, meta));
    expect(md).toContain('| tenant | cluster | step |');
    expect(md).toContain('| eu-2-1 | eu-2 | wave 1/1 |');
    expect(md).toMatch(/\*\*Clusters:\*\* `eu-1` ✅ 2 succeeded · `eu-2` ✅ 2 succeeded · `us-1` ✅ 2 succeeded/);
  });

  it('one cluster unreachable and a tenant of another failed: the run is failed, not held', async () => {
    const f = fleet(3, ['eu-2-1']);
    unreachableAfter(f.helms.get('us-1')!, 0);
    const r = await executeRollout(f.options({ maxFailures: 5, maxParallelPerCluster: 1 }), f.ports);
    const rep = buildReport(r, meta);
    expect(rep.tenants.filter((t) => t.cluster === 'us-1').map((t) => t.status)).toEqual(['held', 'held', 'held']);
    expect(rep.tenants.find((t) => t.id === 'eu-2-1')?.status).toBe('failed-rolled-back');
    expect([rep.outcome, rep.exitCode]).toEqual(['failed', 1]);
    expect(rep.stoppedBecause).toMatch(/cluster us-1 is unreachable/);
  });

  it('max-failures-per-cluster: a cluster that spends its own budget stops; the other clusters finish; the run is halted', async () => {
    const f = fleet(4, ['eu-1-0', 'eu-1-1']);
    const eu1 = f.helms.get('eu-1')!;
    // One failure allowed per cluster, ten in all: eu-1's second failure spends eu-1's budget only.
    const budgets = new Map(CLUSTERS.map((c) => [c, 1]));
    const r = await executeRollout(f.options({ maxFailures: 10, maxFailuresPerCluster: budgets, maxParallel: 1 }), f.ports);
    const of = (c: string) => r.tenants.filter((t) => t.cluster === c).map((t) => t.status);
    expect(of('eu-1')).toEqual(['failed-rolled-back', 'failed-rolled-back', 'skipped', 'skipped']);
    expect(of('eu-2')).toEqual(['succeeded', 'succeeded', 'succeeded', 'succeeded']);
    expect(of('us-1')).toEqual(['succeeded', 'succeeded', 'succeeded', 'succeeded']);
    expect(r.tenants.find((t) => t.id === 'eu-1-3')?.error).toMatch(/^cluster eu-1's failure budget spent: 2 failed, 1 allowed/);
    expect(eu1.calls.filter((x) => x.startsWith('upgrade ')).length).toBe(2);
    expect(buildReport(r, meta)).toMatchObject({ outcome: 'halted', exitCode: 3 });
    // Without per-cluster budgets the same fleet is judged by the global one alone (10): it just fails.
    const g = fleet(4, ['eu-1-0', 'eu-1-1']);
    const rg = await executeRollout(g.options({ maxFailures: 10, maxParallel: 1 }), g.ports);
    expect(rg.tenants.filter((t) => t.status === 'skipped')).toEqual([]);
    expect(buildReport(rg, meta).outcome).toBe('failed');
  });
});
