import { describe, expect, it } from 'vitest';
import { clusterTarget } from '../../src/core/cluster-target.ts';
import { HelmError } from '../../src/helm/helm.ts';
import type { KubeTarget } from '../../src/helm/argv.ts';
import { executeRollout, ledgerDescription } from '../../src/rollout/execute.ts';
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

function fleet(perCluster: number) {
  const helms = new Map(CLUSTERS.map((c) => [c, new FakeHelm(clusterTarget({ name: c, context: c }))]));
  const tenants = CLUSTERS.flatMap((c) => Array.from({ length: perCluster }, (_, i) => tenant(`${c}-${i}`, c)));
  for (const t of tenants) {
    const h = helms.get(t.cluster!)!;
    h.seed(t.namespace, t.release, [{ status: 'deployed', content: 'old' }]);
    h.onUpgrade(t.namespace, t.release, { kind: 'ok', turns: 3 });
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
});
