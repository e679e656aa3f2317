/**
 * The client-node adapter against the wire-level fake: what it sends (paths, query strings,
 * patch content types) and how it reads what comes back.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createCluster } from '../../src/kube/client.ts';
import { KubeApiError } from '../../src/kube/errors.ts';
import { startFakeKube, type FakeKube, type KubeObject } from '../support/fake-kube/index.ts';
import { fixturesDir } from '../support/tools.ts';

const fixture = (file: string) => JSON.parse(readFileSync(join(fixturesDir, file), 'utf8'));

let kube: FakeKube;
beforeEach(async () => {
  kube = await startFakeKube({ crashLoopIntervalMs: 30 });
});
afterEach(async () => {
  await kube.close();
});

const releaseDeployment = (release: string, ns: string, image: string): KubeObject => ({
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name: release, namespace: ns, annotations: { 'meta.helm.sh/release-name': release, 'meta.helm.sh/release-namespace': ns } },
  spec: {
    replicas: 1,
    selector: { matchLabels: { 'app.kubernetes.io/instance': release } },
    template: { metadata: { labels: { 'app.kubernetes.io/instance': release } }, spec: { containers: [{ name: 'app', image }] } },
  },
});

describe('listNamespaces', () => {
  it('follows continue pages, sending the selector, limit and token the server gave', async () => {
    kube.addTenantNamespaces(['tenant-alpha', 'tenant-beta', 'tenant-delta', 'tenant-gamma', 'tenant-omega']);
    kube.addNamespaces(['unrelated']);
    const cluster = createCluster({ kubeconfigYaml: kube.kubeconfigYaml, pageSize: 2 });
    const got = await cluster.listNamespaces('app.kubernetes.io/component=tenant');
    expect(got.map((n) => n.name)).toEqual(['tenant-alpha', 'tenant-beta', 'tenant-delta', 'tenant-gamma', 'tenant-omega']);
    expect(got[0]).toEqual({
      name: 'tenant-alpha',
      labels: { 'app.kubernetes.io/component': 'tenant', 'kubernetes.io/metadata.name': 'tenant-alpha' },
      annotations: {},
    });

    const lists = kube.requests.filter((r) => r.method === 'GET' && r.path === '/api/v1/namespaces');
    expect(lists).toHaveLength(3);
    expect(lists.map((r) => r.query.labelSelector)).toEqual(Array(3).fill('app.kubernetes.io/component=tenant'));
    expect(lists.map((r) => r.query.limit)).toEqual(['2', '2', '2']);
    expect(lists[0]!.query.continue).toBeUndefined();
    // Each continue token is the one the previous page carried, and it really moves forward.
    const starts = lists.slice(1).map((r) => JSON.parse(Buffer.from(r.query.continue!, 'base64').toString('utf8')).start);
    expect(starts).toEqual(['tenant-beta\u0000', 'tenant-gamma\u0000']);
    expect(cluster.stats.requests).toBe(3);
  });

  it('starts the list over when the continue token expired (410), keeping no page of the old snapshot', async () => {
    kube.addTenantNamespaces(['tenant-alpha', 'tenant-beta', 'tenant-gamma']);
    const cluster = createCluster({ kubeconfigYaml: kube.kubeconfigYaml, pageSize: 2 });
    // Between page 1 and page 2 the cluster moves on and etcd compacts: page 2 answers 410 Expired.
    let compacted = 0;
    kube.inject(
      (r) => {
        if (r.query.continue && compacted === 0) {
          compacted++;
          kube.addTenantNamespaces(['tenant-aaa']);
          kube.compact();
        }
        return false;
      },
      { latencyMs: 0 },
    );
    const got = await cluster.listNamespaces('app.kubernetes.io/component=tenant');
    // The restarted list sees the new namespace once, and nothing twice.
    expect(got.map((n) => n.name)).toEqual(['tenant-aaa', 'tenant-alpha', 'tenant-beta', 'tenant-gamma']);
    const lists = kube.requests.filter((r) => r.path === '/api/v1/namespaces');
    expect(lists.map((r) => [r.query.continue ? 'continue' : 'first', r.status])).toEqual([
      ['first', 200],
      ['continue', 410],
      ['first', 200],
      ['continue', 200],
    ]);
  });

  it('gives up with one clear line when the token keeps expiring', async () => {
    kube.addTenantNamespaces(['tenant-alpha', 'tenant-beta', 'tenant-gamma']);
    const cluster = createCluster({ kubeconfigYaml: kube.kubeconfigYaml, pageSize: 2 });
    kube.inject(
      (r) => {
        if (r.query.continue) {
          kube.addNamespaces([`churn-${kube.requests.length}`]);
          kube.compact();
        }
        return false;
      },
      { latencyMs: 0 },
      { times: Infinity },
    );
    const err = await cluster.listNamespaces('app.kubernetes.io/component=tenant').catch((e) => e);
    expect(err).toBeInstanceOf(KubeApiError);
    expect(err.message).toMatch(/expired the list's continue token 4 times in a row \(410 Expired\)/);
    expect(kube.requests.filter((r) => r.status === 410)).toHaveLength(4);
  });

  it('reads the recorded namespace pages served verbatim', async () => {
    const page1 = fixture('namespaces-page1.json');
    const page2 = fixture('namespaces-page2.json');
    for (const ns of [...page1.items, ...page2.items]) kube.put({ apiVersion: 'v1', kind: 'Namespace', ...ns });
    const cluster = createCluster({ kubeconfigYaml: kube.kubeconfigYaml, pageSize: 2 });
    const got = await cluster.listNamespaces('app.kubernetes.io/component=tenant');
    expect(got.map((n) => n.name)).toEqual(['tenant-alpha', 'tenant-beta', 'tenant-gamma']);
    expect(got[0]!.annotations).toEqual({ 'dotmac.io/tenant-name': 'Alpha ISP' });
    expect(got[0]!.labels['dotmac.io/tenant-id']).toBe('alpha-isp-1');
  });

  it("turns API errors into the server's own message and never prints the token", async () => {
    kube.failNext((r) => r.path === '/api/v1/namespaces', 403);
    const cluster = createCluster({ kubeconfigYaml: kube.kubeconfigYaml });
    const err = await cluster.listNamespaces('x=y').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KubeApiError);
    expect((err as KubeApiError).message).toBe(
      'namespaces is forbidden: User "system:serviceaccount:ci:deployer" cannot list resource "namespaces" in API group "" at the cluster scope',
    );
    expect((err as KubeApiError).code).toBe(403);
    expect((err as KubeApiError).reason).toBe('Forbidden');

    kube.failNext(() => true, 401);
    const unauth = (await cluster.listNamespaces('x=y').catch((e: unknown) => e)) as Error;
    expect(unauth.message).toBe(
      `the Kubernetes API at ${kube.url} rejected the credentials (401 Unauthorized): check the kubeconfig user (token expired or wrong cluster?)`,
    );
    for (const e of [err as Error, unauth]) expect(`${e.message}\n${e.stack}`).not.toContain(kube.token);
  });

  it('names the server it cannot reach', async () => {
    const url = kube.url;
    await kube.close();
    const cluster = createCluster({ kubeconfigYaml: kube.kubeconfigYaml });
    const err = (await cluster.listNamespaces('').catch((e: unknown) => e)) as Error;
    expect(err.message).toMatch(
      new RegExp(`^cannot reach the Kubernetes API at ${url.replace(/\./g, '\\.')}: connect ECONNREFUSED 127\\.0\\.0\\.1:\\d+$`),
    );
    expect(err.message).not.toContain(kube.token);
    kube = await startFakeKube();
  });

  it('rejects an unknown context or an unreadable kubeconfig as a configuration mistake', () => {
    expect(() => createCluster({ kubeconfigYaml: kube.kubeconfigYaml, context: 'prod' })).toThrow(
      'the kubeconfig content: has no context "prod" (use one of: fake)',
    );
    expect(() => createCluster({ kubeconfigPath: '/nonexistent/kubeconfig' })).toThrow(
      /^kubeconfig \/nonexistent\/kubeconfig: cannot be read: ENOENT/,
    );
    expect(() => createCluster({ kubeconfigYaml: 'apiVersion: v1\nkind: Config\n' })).toThrow(
      'the kubeconfig content: names no cluster for the current context',
    );
  });

  it('stops paging when aborted', async () => {
    kube.addTenantNamespaces(['a', 'b', 'c']);
    const cluster = createCluster({ kubeconfigYaml: kube.kubeconfigYaml, pageSize: 1 });
    const ctl = new AbortController();
    ctl.abort(new Error('cancelled by the runner'));
    await expect(cluster.listNamespaces('', ctl.signal)).rejects.toThrow('cancelled by the runner');
  });
});

describe('services', () => {
  it('answers undefined for a missing Service and reads an existing one', async () => {
    kube.addNamespaces(['tenant-alpha']);
    const cluster = createCluster({ kubeconfigPath: kube.kubeconfigPath });
    expect(await cluster.readService('tenant-alpha', 'nope')).toBeUndefined();
    kube.put(fixture('service.json'));
    expect(await cluster.readService('tenant-alpha', 'alpha-demo')).toEqual({
      name: 'alpha-demo',
      namespace: 'tenant-alpha',
      selector: { 'app.kubernetes.io/instance': 'alpha', 'app.kubernetes.io/name': 'demo' },
      labels: fixture('service.json').metadata.labels,
      annotations: { 'meta.helm.sh/release-name': 'alpha', 'meta.helm.sh/release-namespace': 'tenant-alpha' },
    });
    await expect(cluster.readService('ghost-ns', 'x')).resolves.toBeUndefined();
  });

  it("patches the selector as a strategic merge (the fake refuses client-node's json-patch default)", async () => {
    kube.addNamespaces(['tenant-alpha']);
    kube.put(fixture('service.json'));

    // The trap this guards against: client-node without an explicit content type sends json-patch.
    const kc = new KubeConfig();
    kc.loadFromString(kube.kubeconfigYaml);
    const raw = kc.makeApiClient(CoreV1Api);
    const naive = await raw
      .patchNamespacedService({ name: 'alpha-demo', namespace: 'tenant-alpha', body: { spec: { selector: { color: 'green' } } } })
      .catch((e: unknown) => e);
    expect((naive as { code: number }).code).toBe(400);
    expect(JSON.parse((naive as { body: string }).body)).toEqual(fixture('error-patch-wrong-content-type.json'));
    expect(kube.requests.at(-1)!.contentType).toBe('application/json-patch+json');

    const cluster = createCluster({ kubeconfigYaml: kube.kubeconfigYaml });
    const selector = { 'app.kubernetes.io/instance': 'alpha', 'app.kubernetes.io/name': 'demo', color: 'green' };
    const svc = await cluster.patchServiceSelector('tenant-alpha', 'alpha-demo', selector, 'blue-green');
    expect(svc.selector).toEqual(selector);
    const patch = kube.requests.at(-1)!;
    expect(patch.method).toBe('PATCH');
    expect(patch.path).toBe('/api/v1/namespaces/tenant-alpha/services/alpha-demo');
    expect(patch.contentType).toBe('application/strategic-merge-patch+json');
    expect(patch.query.fieldManager).toBe('blue-green');
    expect(JSON.parse(patch.body)).toEqual({ spec: { selector: { $patch: 'replace', ...selector } } });

    // The selector is replaced, not merged: switching colour drops nothing stale behind.
    const back = await cluster.patchServiceSelector('tenant-alpha', 'alpha-demo', { 'app.kubernetes.io/instance': 'alpha', color: 'blue' });
    expect(back.selector).toEqual({ 'app.kubernetes.io/instance': 'alpha', color: 'blue' });
    expect(kube.get('Service', 'tenant-alpha', 'alpha-demo')!.spec.selector).toEqual({
      'app.kubernetes.io/instance': 'alpha',
      color: 'blue',
    });
    expect(kube.requests.at(-1)!.query.fieldManager).toBe('deploy-actions');
  });

  it('surfaces a missing Service on patch as a NotFound error', async () => {
    kube.addNamespaces(['tenant-alpha']);
    const cluster = createCluster({ kubeconfigYaml: kube.kubeconfigYaml });
    await expect(cluster.patchServiceSelector('tenant-alpha', 'ghost', { a: 'b' })).rejects.toThrow('services "ghost" not found');
  });
});

describe('releaseHealth', () => {
  it('flags the recorded trap served over the wire, in three API calls', async () => {
    const dep = fixture('deployment-gamma-after-failed-upgrade.json');
    const pods = fixture('pods-gamma.json').items;
    kube.addNamespaces(['tenant-gamma']);
    kube.put(dep);
    for (const p of pods) kube.put({ apiVersion: 'v1', kind: 'Pod', ...p });
    const cluster = createCluster({ kubeconfigYaml: kube.kubeconfigYaml });
    const h = await cluster.releaseHealth('tenant-gamma', 'gamma');
    expect(h.healthy).toBe(false);
    expect(h.problems).toContain('pod gamma-demo-858c94f57c-cq4gs: CrashLoopBackOff (5 restarts)');
    expect(cluster.stats.requests).toBe(3);
    const paths = kube.requests.map((r) => `${r.method} ${r.path}`).sort();
    expect(paths).toEqual([
      'GET /api/v1/namespaces/tenant-gamma/pods',
      'GET /apis/apps/v1/namespaces/tenant-gamma/deployments',
      'GET /apis/apps/v1/namespaces/tenant-gamma/statefulsets',
    ]);
  });

  it('passes a ready release and fails it once an upgrade crash-loops, with restarts growing', async () => {
    kube.addNamespaces(['tenant-alpha']);
    kube.put({ ...releaseDeployment('other', 'tenant-alpha', 'repo/app:bad') }); // another release: not ours to judge
    await kube.apply(releaseDeployment('alpha', 'tenant-alpha', 'registry.example.com/app:1.0.0'));
    const cluster = createCluster({ kubeconfigYaml: kube.kubeconfigYaml });
    const ok = await cluster.releaseHealth('tenant-alpha', 'alpha', { expectedImages: ['registry.example.com/app:1.0.0'] });
    expect(ok.problems).toEqual([]);
    expect(ok.healthy).toBe(true);
    expect(ok.workloads).toEqual([
      {
        kind: 'Deployment',
        name: 'alpha',
        desired: 1,
        ready: 1,
        updated: 1,
        available: 1,
        observed: true,
        images: ['registry.example.com/app:1.0.0'],
      },
    ]);
    expect(ok.pods).toHaveLength(1);
    expect(ok.pods[0]).toMatchObject({ phase: 'Running', ready: true, restarts: 0, images: ['registry.example.com/app:1.0.0'] });

    await kube.apply(releaseDeployment('alpha', 'tenant-alpha', 'registry.example.com/app:bad'));
    const bad = await cluster.releaseHealth('tenant-alpha', 'alpha', { expectedImages: ['registry.example.com/app:bad'] });
    expect(bad.healthy).toBe(false);
    const crash = bad.pods.find((p) => p.reasons.includes('CrashLoopBackOff'))!;
    expect(bad.problems).toEqual([
      'deployment/alpha: 1 unavailable replica',
      'deployment/alpha: rollout not finished, 1 old replica still running',
      `pod ${crash.name}: CrashLoopBackOff (${crash.restarts} restart${crash.restarts === 1 ? '' : 's'})`,
      'image registry.example.com/app:bad is not running in a ready pod (running: registry.example.com/app:1.0.0, registry.example.com/app:bad)',
    ]);
    // The workload counters alone look fine: this is the trap.
    expect(bad.workloads[0]).toMatchObject({ desired: 1, ready: 1, updated: 1, available: 1, observed: true });
    await vi.waitFor(
      async () => {
        const later = await cluster.releaseHealth('tenant-alpha', 'alpha');
        expect(later.pods.find((p) => p.name === crash.name)!.restarts).toBeGreaterThan(crash.restarts);
      },
      { timeout: 10_000, interval: 50 },
    );
  });

  it('fleetHealth judges many releases from three cluster-wide lists, however many tenants', async () => {
    const names = Array.from({ length: 7 }, (_, i) => `t${i}`);
    kube.addNamespaces(names.map((n) => `tenant-${n}`));
    for (const n of names)
      await kube.apply(releaseDeployment(n, `tenant-${n}`, `registry.example.com/app:${n === 't3' ? 'bad' : '1.0.0'}`));
    const cluster = createCluster({ kubeconfigYaml: kube.kubeconfigYaml, pageSize: 5 });
    kube.clearRequests();
    const health = await cluster.fleetHealth(names.map((n) => ({ namespace: `tenant-${n}`, release: n })));
    expect([...health].filter(([, h]) => !h.healthy).map(([k]) => k)).toEqual(['tenant-t3/t3']);
    expect(health.get('tenant-t3/t3')!.problems).toContain('deployment/t3: 1 unavailable replica');
    const paths = kube.requests.map((r) => r.path);
    expect(new Set(paths)).toEqual(new Set(['/apis/apps/v1/deployments', '/apis/apps/v1/statefulsets', '/api/v1/pods']));
    // 7 deployments and 8 pods at 5 per page: 2 + 1 + 2 pages, not one call per tenant.
    expect(cluster.stats.requests).toBe(paths.length);
    expect(paths.length).toBeLessThanOrEqual(6);
    expect(kube.requests.find((r) => r.path === '/api/v1/pods')!.query.limit).toBe('5');
  });

  it('reports a release without workloads without listing pods', async () => {
    kube.addNamespaces(['tenant-alpha']);
    const cluster = createCluster({ kubeconfigYaml: kube.kubeconfigYaml });
    const h = await cluster.releaseHealth('tenant-alpha', 'alpha');
    expect(h).toMatchObject({
      healthy: false,
      workloads: [],
      pods: [],
      problems: ['no Deployment or StatefulSet of release "alpha" in namespace "tenant-alpha"'],
    });
    expect(cluster.stats.requests).toBe(2);
  });
});

describe('podLogs', () => {
  it("reads each container's log (the API requires the container name when there are several)", async () => {
    kube.addNamespaces(['ns']);
    kube.put({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'p', namespace: 'ns' },
      spec: {
        containers: [
          { name: 'app', image: 'a:1' },
          { name: 'proxy', image: 'b:1' },
        ],
      },
    });
    kube.setPodLogs('ns', 'p', 'boot\npanic: nil map\n', 'app');
    kube.setPodLogs('ns', 'p', 'ready\n', 'proxy');
    const cluster = createCluster({ kubeconfigYaml: kube.kubeconfigYaml });
    expect(await cluster.podLogs('ns', 'p', 300)).toBe('[app] boot\n[app] panic: nil map\n[proxy] ready\n');
    const logs = kube.requests.filter((r) => r.path.endsWith('/log'));
    expect(logs.map((r) => [r.query.container, r.query.sinceSeconds])).toEqual([
      ['app', '300'],
      ['proxy', '300'],
    ]);
    // Without the container name the fake answers like the real server.
    const res = await fetch(`${kube.url}/api/v1/namespaces/ns/pods/p/log`, { headers: { Authorization: `Bearer ${kube.token}` } });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { message: string }).message).toBe(
      'a container name must be specified for pod p, choose one of: [app proxy]',
    );
  });

  it("returns a single container's log as is", async () => {
    kube.addNamespaces(['ns']);
    await kube.apply(releaseDeployment('web', 'ns', 'repo/web:bad'));
    const pod = kube.list('pods', 'ns')[0]!;
    const cluster = createCluster({ kubeconfigYaml: kube.kubeconfigYaml });
    expect(await cluster.podLogs('ns', pod.metadata.name, 60)).toContain('fake crash');
    await expect(cluster.podLogs('ns', 'ghost', 60)).rejects.toThrow('pods "ghost" not found');
  });
});
