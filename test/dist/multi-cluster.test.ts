/**
 * A fleet over three clusters in two regions, through dist/ with the real helm 4 and helm 3
 * against three API fakes at once (one per cluster, each with its own token, a kubeconfig with a
 * context per fake): every release lands in its own cluster and nowhere else; waves mix regions;
 * no cluster runs more upgrades at once than max-parallel-per-cluster; the fleet objects are in the
 * home cluster only, each lease beside its release; a cluster made unreachable mid-rollout holds
 * its own tenants while the others finish. Plus discovery over several contexts of one kubeconfig.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RolloutReport } from '../../src/rollout/report.ts';
import type { Plan } from '../../src/rollout/plan.ts';
import { startFakeKube, type FakeKube } from '../support/fake-kube/index.ts';
import { clustersTenantsFile, multiKubeconfig, startClusterFakes } from '../support/clusters.ts';
import { exampleChart, helmBinaries } from '../support/tools.ts';
import { runAction, annotations } from './run-action.ts';

const CLUSTERS = [
  { name: 'eu-1', region: 'eu', tenants: ['a1', 'a2', 'a3', 'a4'] },
  { name: 'eu-2', region: 'eu', tenants: ['b1', 'b2'] },
  { name: 'us-1', region: 'us', tenants: ['c1', 'c2', 'c3', 'c4'] },
] as const;
const clusterOf = new Map<string, string>(CLUSTERS.flatMap((c) => c.tenants.map((t) => [t, c.name] as const)));
const regionOf = new Map<string, string>(CLUSTERS.map((c) => [c.name, c.region]));

// The current context is NOT the home cluster (multiKubeconfig makes the last one current):
// fleet objects must go to the home one all the same.
const kubeconfigOf = (fakes: Map<string, FakeKube>) => multiKubeconfig(fakes);

const TENANTS_FILE = clustersTenantsFile(CLUSTERS);

describe.each([4, 3] as const)('a fleet over three clusters through dist/ (real helm %i, three API fakes)', (major) => {
  const fakes = new Map<string, FakeKube>();
  let dir = '';
  let file = '';
  beforeAll(async () => {
    await startClusterFakes(fakes, CLUSTERS);
    dir = mkdtempSync(join(tmpdir(), 'multi-cluster-'));
    file = join(dir, 'tenants.yaml');
    writeFileSync(file, TENANTS_FILE);
  });
  afterAll(async () => {
    for (const k of fakes.values()) await k.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const rollout = async (tag: string, over: Record<string, string> = {}) => {
    const r = await runAction('tenant-rollout', {
      'tenants-file': file,
      chart: exampleChart,
      set: `image.tag=${tag}`,
      timeout: '60s',
      kubeconfig: kubeconfigOf(fakes),
      helm: helmBinaries[major],
      ...over,
    });
    return { ...r, report: r.outputs.report ? (JSON.parse(r.outputs.report) as RolloutReport) : undefined };
  };
  /** Releases helm stored in a fake, by tenant. */
  const releasesIn = (k: FakeKube) =>
    new Set(
      k
        .list('secrets')
        .filter((s) => s.metadata.labels?.owner === 'helm')
        .map((s) => s.metadata.labels!.name!),
    );

  it('the plan: a pilot per cluster, every wave spans both regions', async () => {
    const r = await rollout('1.0.0', { phase: 'plan', pilot: 'per-cluster', 'batch-size': '3' });
    expect(r.code, annotations(r.stdout)).toBe(0);
    const plan = JSON.parse(r.outputs.plan!) as Plan;
    expect(plan.pilot.map((t) => t.cluster).sort()).toEqual(['eu-1', 'eu-2', 'us-1']);
    expect(plan.waves.map((w) => w.length)).toEqual([3, 3, 1]);
    for (const w of plan.waves.filter((x) => x.length > 1))
      expect(new Set(w.map((t) => regionOf.get(t.cluster!))).size, JSON.stringify(w)).toBe(2);
    for (const t of [...plan.pilot, ...plan.waves.flat()]) expect(t.cluster).toBe(clusterOf.get(t.id));
  });

  it(
    'every release lands in its own cluster only; per-cluster parallelism holds; fleet objects in the home cluster',
    { timeout: 240_000 },
    async () => {
      for (const k of fakes.values()) k.clearRequests();
      // One 503 on a lease read in us-1 (not the home cluster): retried, and counted in the report.
      fakes.get('us-1')!.inject({ method: 'GET', path: /\/leases\// }, { status: 503 }, { times: 1 });
      const r = await rollout('1.0.0', { pilot: '0', 'batch-size': '100%', 'max-parallel': '6', 'max-parallel-per-cluster': '2' });
      expect(r.code, annotations(r.stdout)).toBe(0);
      expect(r.report!.counts.succeeded).toBe(10);
      // The report counts every request the action sent, in every cluster (helm's own are helm's).
      const sent = [...fakes.values()].flatMap((k) => k.requests.filter((q) => !/helm/i.test(q.userAgent ?? '')));
      expect(r.report!.api).toMatchObject({ requests: sent.length, retries: 1, byReason: { '503': 1 } });
      for (const t of r.report!.tenants) expect(t.cluster).toBe(clusterOf.get(t.id));
      expect(r.summary).toContain('| tenant | cluster | step |');
      for (const c of CLUSTERS) {
        const k = fakes.get(c.name)!;
        // Read back through each fake: exactly its own tenants' releases, deployed by this run.
        expect([...releasesIn(k)].sort()).toEqual([...c.tenants]);
        for (const t of c.tenants)
          expect(k.get('deployments', `tenant-${t}`, `${t}-tenant-app`) ?? k.list('deployments', `tenant-${t}`)[0]).toBeDefined();
        expect(k.upgrades.max).toBeGreaterThanOrEqual(1);
        expect(k.upgrades.max).toBeLessThanOrEqual(2);
        // Every client-node request carried this cluster's own token (a foreign one is a 401).
        expect(k.requests.filter((q) => q.status === 401)).toEqual([]);
        // Leases beside each release: only this cluster's tenant namespaces.
        const leaseNs = new Set(k.requests.filter((q) => q.path.includes('/leases')).map((q) => q.path.split('/')[5]));
        expect([...leaseNs].sort()).toEqual(c.tenants.map((t) => `tenant-${t}`));
        // The fleet object (pause, lock) lives in the home cluster only.
        const fleetObject = k.get('configmaps', 'default', 'deploy-actions-fleet-default');
        const configMapRequests = k.requests.filter((q) => q.path.startsWith('/api/v1/namespaces/default/configmaps'));
        if (c.name === 'eu-1') expect(fleetObject).toBeDefined();
        else {
          expect(fleetObject).toBeUndefined();
          expect(configMapRequests).toEqual([]);
        }
      }
      expect(r.stdout).toMatch(/clusters: eu-1 \(eu-1\), eu-2 \(eu-2\), us-1 \(us-1\); home: eu-1/);
    },
  );

  it(
    'a rollback over three clusters returns each tenant, in its own cluster, to its previous deployed revision',
    { timeout: 240_000 },
    async () => {
      const up = await rollout('1.0.2', { pilot: '0', 'batch-size': '100%', 'max-parallel': '6' });
      expect(up.code, annotations(up.stdout)).toBe(0);
      for (const k of fakes.values()) k.upgrades.max = 0;
      const r = await rollout('', { phase: 'rollback', 'batch-size': '100%', 'max-parallel': '6', 'max-parallel-per-cluster': '2' });
      expect(r.code, annotations(r.stdout)).toBe(0);
      expect(r.report!.phase).toBe('rollback');
      expect(r.report!.tenants.map((t) => [t.id, t.cluster, t.status, t.revisionBefore, t.revisionAfter]).sort()).toEqual(
        [...clusterOf].map(([id, c]) => [id, c, 'succeeded', 2, 3]).sort(),
      );
      for (const c of CLUSTERS) {
        const k = fakes.get(c.name)!;
        // Each cluster saw its own tenants' rollbacks only, never more than two at once.
        expect(k.upgrades.max, c.name).toBeGreaterThanOrEqual(1);
        expect(k.upgrades.max, c.name).toBeLessThanOrEqual(2);
        expect([...releasesIn(k)].sort()).toEqual([...c.tenants]);
        for (const t of c.tenants) {
          const latest = k
            .list('secrets', `tenant-${t}`)
            .filter((x) => x.metadata.labels?.owner === 'helm')
            .map((x) => x.metadata.labels!)
            .sort((a, b) => Number(b.version) - Number(a.version))[0]!;
          expect([latest.version, latest.status], t).toEqual(['3', 'deployed']);
        }
      }
    },
  );

  it('status reads every tenant in its own cluster; pause and resume write the home cluster only', { timeout: 120_000 }, async () => {
    const st = await rollout('', { phase: 'status' });
    expect(st.code, annotations(st.stdout)).toBe(0);
    const doc = JSON.parse(st.outputs.status!) as { tenants: { id: string; cluster?: string; status: string; health: string }[] };
    expect(doc.tenants.map((t) => [t.id, t.cluster, t.status]).sort()).toEqual([...clusterOf].map(([id, c]) => [id, c, 'deployed']).sort());
    expect(doc.tenants.every((t) => t.health === 'healthy')).toBe(true);
    expect(st.summary).toContain('| tenant | cluster | release |');
    const before = [...fakes].map(([n, k]) => [
      n,
      k.requests.filter((q) => q.path.startsWith('/api/v1/namespaces/default/configmaps')).length,
    ]);
    const p = await rollout('', { phase: 'pause', reason: 'audit' });
    expect(p.code, annotations(p.stdout)).toBe(0);
    const after = [...fakes].map(([n, k]) => [
      n,
      k.requests.filter((q) => q.path.startsWith('/api/v1/namespaces/default/configmaps')).length,
    ]);
    expect(after.filter(([n]) => n !== 'eu-1')).toEqual(before.filter(([n]) => n !== 'eu-1'));
    expect(JSON.stringify(fakes.get('eu-1')!.get('configmaps', 'default', 'deploy-actions-fleet-default')?.data)).toContain('audit');
    expect((await rollout('', { phase: 'resume' })).code).toBe(0);
  });

  it(
    'one cluster made unreachable mid-rollout holds its own tenants while the others finish; the report is exact',
    { timeout: 240_000 },
    async () => {
      const pilot = await rollout('1.0.1', { phase: 'pilot', pilot: 'per-cluster', 'batch-size': '3', 'max-parallel': '4' });
      expect(pilot.code, annotations(pilot.stdout)).toBe(0);
      expect(pilot.report!.counts.succeeded).toBe(3);
      const planFile = join(dir, 'plan.json');
      writeFileSync(planFile, pilot.outputs.plan!);
      const plan = JSON.parse(pilot.outputs.plan!) as Plan;
      // us-1's API server goes away between the pilot and the waves.
      await fakes.get('us-1')!.close();
      const r = await rollout('1.0.1', {
        phase: 'waves',
        'plan-file': planFile,
        pilot: 'per-cluster',
        'batch-size': '3',
        'max-parallel': '4',
        'max-parallel-per-cluster': '2',
      });
      const waves = plan.waves.flat();
      const usWave = waves.filter((t) => t.cluster === 'us-1').map((t) => t.id);
      const others = waves.filter((t) => t.cluster !== 'us-1').map((t) => t.id);
      expect(r.code, annotations(r.stdout)).toBe(4);
      expect(r.report!.outcome).toBe('held');
      expect(r.report!.counts).toMatchObject({
        succeeded: others.length,
        held: usWave.length,
        failed: 0,
        'failed-untouched': 0,
        unknown: 0,
        skipped: 0,
      });
      for (const t of r.report!.tenants) {
        expect(t.cluster).toBe(clusterOf.get(t.id));
        if (t.cluster === 'us-1') expect([t.status, t.error]).toEqual(['held', expect.stringMatching(/^cluster us-1 is unreachable/)]);
        else expect(t.status).toBe('succeeded');
      }
      expect(r.report!.stoppedBecause).toMatch(/cluster us-1 is unreachable/);
      expect(r.summary).toMatch(/\*\*Clusters:\*\* `eu-1` ✅ \d succeeded · `eu-2` ✅ \d succeeded · `us-1` ⏸️ 3 held/);
    },
  );
});

describe('discovery over several contexts of one kubeconfig (through dist/)', () => {
  const fakes = new Map<string, FakeKube>();
  beforeAll(async () => {
    for (const c of CLUSTERS) {
      const k = await startFakeKube({ requireToken: true });
      k.addTenantNamespaces(c.tenants.map((t) => `tenant-${t}`));
      k.addNamespaces(['not-a-tenant']);
      fakes.set(c.name, k);
    }
  });
  afterAll(async () => {
    for (const k of fakes.values()) await k.close();
  });
  const plan = (clusters: string) =>
    runAction('tenant-rollout', { phase: 'plan', clusters, kubeconfig: kubeconfigOf(fakes), pilot: 'per-cluster', 'batch-size': '3' });

  it('finds each cluster’s tenant namespaces through its own context and token, and tags each tenant with its cluster', async () => {
    const r = await plan('eu-1, eu-2, us-1');
    expect(r.code, r.stdout).toBe(0);
    const p = JSON.parse(r.outputs.plan!) as Plan;
    const all = [...p.pilot, ...p.waves.flat()];
    expect(all.map((t) => [t.id, t.cluster]).sort()).toEqual([...clusterOf].sort());
    expect(p.pilot.map((t) => t.cluster).sort()).toEqual(['eu-1', 'eu-2', 'us-1']);
    expect(p.summary.source).toBe('namespaces matching app.kubernetes.io/component=tenant in clusters eu-1, eu-2, us-1');
    for (const k of fakes.values()) {
      expect(k.requests.filter((q) => q.path === '/api/v1/namespaces').length).toBeGreaterThanOrEqual(1);
      expect(k.requests.filter((q) => q.status === 401)).toEqual([]);
    }
  });

  it('an unknown context fails before anything runs, naming the closest one', async () => {
    const r = await plan('eu-1,us-2');
    expect(r.code).not.toBe(0);
    expect(r.stdout).toMatch(/input "clusters": names kube context "us-2", which the kubeconfig does not have \(did you mean "us-1"\?\)/);
  });
});
