/**
 * The wire-level fake itself: what it answers must match the recorded real responses, or tests
 * built on it prove nothing.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { startFakeKube, type FakeKube, type KubeObject } from '../support/fake-kube/index.ts';
import { fixturesDir } from '../support/tools.ts';
import type { Json } from '../support/fake-kube/types.ts';
import { createCluster } from '../../src/kube/client.ts';

const fixture = (file: string) => JSON.parse(readFileSync(join(fixturesDir, file), 'utf8'));

let kube: FakeKube;
beforeEach(async () => {
  kube = await startFakeKube({ crashLoopIntervalMs: 30, bookmarkIntervalMs: 50 });
});
afterEach(async () => {
  await kube.close();
});

async function api(method: string, path: string, body?: unknown, contentType = 'application/json') {
  const res = await fetch(`${kube.url}${path}`, {
    method,
    headers: { 'Content-Type': contentType, 'User-Agent': 'curl/8.5.0', Authorization: `Bearer ${kube.token}` },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, contentType: res.headers.get('content-type'), json: text ? JSON.parse(text) : undefined };
}

const deployment = (name: string, ns: string, image: string, replicas = 1): KubeObject => ({
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name, namespace: ns, annotations: { 'meta.helm.sh/release-name': name } },
  spec: {
    replicas,
    selector: { matchLabels: { app: name } },
    template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: 'app', image, ports: [{ containerPort: 3000 }] }] } },
  },
});

const service = (name: string, ns: string): KubeObject => ({
  apiVersion: 'v1',
  kind: 'Service',
  metadata: { name, namespace: ns },
  spec: {
    selector: { 'app.kubernetes.io/instance': name, 'app.kubernetes.io/name': 'demo' },
    ports: [{ name: 'http', port: 80, targetPort: 'http' }],
  },
});

/** Reads a watch stream line by line until `until` says stop (or the server ends it). */
async function readWatch(path: string, until: (events: { type: string; object: KubeObject }[]) => boolean, signal?: AbortSignal) {
  const res = await fetch(`${kube.url}${path}`, { signal, headers: { Authorization: `Bearer ${kube.token}` } });
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toBe('application/json');
  const events: { type: string; object: KubeObject }[] = [];
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let buf = '';
  for (;;) {
    let chunk: Awaited<ReturnType<typeof reader.read>>;
    try {
      chunk = await reader.read();
    } catch {
      return { events, ended: true }; // the server tore the stream down (close())
    }
    const { value, done } = chunk;
    if (done) return { events, ended: true };
    buf += decoder.decode(value, { stream: true });
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      events.push(JSON.parse(buf.slice(0, nl)));
      buf = buf.slice(nl + 1);
    }
    if (until(events)) {
      await reader.cancel();
      return { events, ended: false };
    }
  }
}

describe('discovery', () => {
  it('answers /version, /api and /apis like the recorded server when the legacy documents are asked for', async () => {
    expect((await api('GET', '/version')).json).toEqual(fixture('version.json'));
    const legacy = await fetch(`${kube.url}/api`, { headers: { Accept: 'application/json', Authorization: `Bearer ${kube.token}` } });
    expect(legacy.headers.get('content-type')).toBe('application/json');
    expect(legacy.headers.get('vary')).toBe('Accept');
    expect(await legacy.json()).toEqual(fixture('discovery-api.json'));
    const apis = (await api('GET', '/apis')).json;
    expect(apis.groups.map((g: { name: string }) => g.name)).toEqual(
      fixture('discovery-apis.json').groups.map((g: { name: string }) => g.name),
    );
    const core = (await api('GET', '/api/v1')).json;
    expect(core.resources.find((r: { name: string }) => r.name === 'namespaces')).toMatchObject({ namespaced: false, kind: 'Namespace' });
    expect(core.resources.map((r: { name: string }) => r.name)).toContain('pods/log');
    const apps = (await api('GET', '/apis/apps/v1')).json;
    expect(apps.resources.find((r: { name: string }) => r.name === 'deployments')).toMatchObject({ namespaced: true, kind: 'Deployment' });
  });

  it('serves aggregated discovery (APIGroupDiscoveryList v2, v2beta1 for older clients) as 1.30+ servers do', async () => {
    const ask = async (path: string, accept: string) => {
      const res = await fetch(`${kube.url}${path}`, { headers: { Accept: accept, Authorization: `Bearer ${kube.token}` } });
      return { contentType: res.headers.get('content-type'), json: (await res.json()) as Json };
    };
    // What client-go (helm 3 and 4, kubectl) sends.
    const clientGo =
      'application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json';
    const core = await ask('/api', clientGo);
    // The content type is how client-go knows it got the aggregated document (a plain one makes it fall back).
    expect(core.contentType).toBe('application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList');
    expect(core.json).toMatchObject({ kind: 'APIGroupDiscoveryList', apiVersion: 'apidiscovery.k8s.io/v2' });
    expect(core.json.items).toHaveLength(1);
    expect(core.json.items[0].metadata.name).toBeUndefined(); // the core group has no name
    const v1 = core.json.items[0].versions[0];
    expect(v1).toMatchObject({ version: 'v1', freshness: 'Current' });
    const pods = v1.resources.find((r: { resource: string }) => r.resource === 'pods');
    expect(pods).toMatchObject({ responseKind: { group: '', version: 'v1', kind: 'Pod' }, scope: 'Namespaced', singularResource: 'pod' });
    expect(pods.subresources.map((s: { subresource: string }) => s.subresource)).toEqual(['status', 'log']);
    const ns = v1.resources.find((r: { resource: string }) => r.resource === 'namespaces');
    expect(ns).toMatchObject({ scope: 'Cluster', shortNames: ['ns'] });

    const apis = await ask('/apis', clientGo);
    const names = apis.json.items.map((g: { metadata: { name: string } }) => g.metadata.name);
    expect(names).toEqual(expect.arrayContaining(['apps', 'batch', 'coordination.k8s.io']));
    const apps = apis.json.items.find((g: { metadata: { name: string } }) => g.metadata.name === 'apps');
    const deploy = apps.versions[0].resources.find((r: { resource: string }) => r.resource === 'deployments');
    expect(deploy).toMatchObject({ responseKind: { group: 'apps', version: 'v1', kind: 'Deployment' }, shortNames: ['deploy'] });
    expect(deploy.subresources.find((s: { subresource: string }) => s.subresource === 'scale').responseKind).toEqual({
      group: 'autoscaling',
      version: 'v1',
      kind: 'Scale',
    });

    const beta = await ask('/apis', 'application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json');
    expect(beta.contentType).toBe('application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList');
    expect(beta.json.apiVersion).toBe('apidiscovery.k8s.io/v2beta1');
  });

  it('serves the OpenAPI v3 index helm 3 needs to skip client-side validation, and 404s what it does not know', async () => {
    const index = (await api('GET', '/openapi/v3')).json;
    const appsUrl = index.paths['apis/apps/v1'].serverRelativeURL as string;
    const doc = (await api('GET', appsUrl)).json;
    const patch = doc.paths['/apis/apps/v1/namespaces/{namespace}/deployments/{name}'].patch;
    expect(patch['x-kubernetes-group-version-kind']).toEqual({ group: 'apps', kind: 'Deployment', version: 'v1' });
    expect(patch.parameters.map((p: { name: string }) => p.name)).toContain('fieldValidation');

    const unknown = await api('GET', '/apis/example.com/v1/widgets');
    expect(unknown.status).toBe(404);
    expect(unknown.json).toMatchObject({ kind: 'Status', status: 'Failure', reason: 'NotFound', code: 404 });
    expect(kube.unknownRequests.map((r) => r.path)).toEqual(['/apis/example.com/v1/widgets']);
  });
});

describe('lists', () => {
  it('paginates with limit/continue like the recorded namespace pages (no remainingItemCount when a selector filters)', async () => {
    kube.addTenantNamespaces(['tenant-alpha', 'tenant-beta', 'tenant-gamma']);
    kube.addNamespaces(['other']);
    const sel = encodeURIComponent('app.kubernetes.io/component=tenant');
    const page1 = (await api('GET', `/api/v1/namespaces?labelSelector=${sel}&limit=2`)).json;
    expect(page1.kind).toBe('NamespaceList');
    expect(page1.items.map((n: KubeObject) => n.metadata.name)).toEqual(['tenant-alpha', 'tenant-beta']);
    expect(page1.items[0].kind).toBeUndefined(); // items carry no kind/apiVersion, as in namespaces-page1.json
    expect(page1.metadata.remainingItemCount).toBeUndefined();
    const decode = (c: string) => JSON.parse(Buffer.from(c, 'base64').toString('utf8'));
    const recorded = decode(fixture('namespaces-page1.json').metadata.continue);
    const ours = decode(page1.metadata.continue);
    expect(Object.keys(ours)).toEqual(Object.keys(recorded));
    expect(ours.start).toBe(recorded.start); // "tenant-beta\u0000"
    const page2 = (
      await api('GET', `/api/v1/namespaces?labelSelector=${sel}&limit=2&continue=${encodeURIComponent(page1.metadata.continue)}`)
    ).json;
    expect(page2.items.map((n: KubeObject) => n.metadata.name)).toEqual(['tenant-gamma']);
    expect(page2.metadata.continue).toBeUndefined();

    const unfiltered = (await api('GET', '/api/v1/namespaces?limit=2')).json;
    expect(unfiltered.metadata.remainingItemCount).toBe(5); // 7 namespaces (3 built-in), 2 shown
    expect((await api('GET', '/api/v1/namespaces?limit=2&continue=garbage')).status).toBe(400);
  });

  it("serves later pages from the first page's snapshot: objects created or deleted meanwhile do not show", async () => {
    kube.addTenantNamespaces(['tenant-a', 'tenant-c', 'tenant-e']);
    const sel = encodeURIComponent('app.kubernetes.io/component=tenant');
    const page1 = (await api('GET', `/api/v1/namespaces?labelSelector=${sel}&limit=1`)).json;
    expect(page1.items.map((n: KubeObject) => n.metadata.name)).toEqual(['tenant-a']);
    kube.addTenantNamespaces(['tenant-b', 'tenant-d']); // created after the first page, in its key range
    kube.remove('Namespace', undefined, 'tenant-e'); // deleted after the first page
    const rest: string[] = [];
    let cont: string | undefined = page1.metadata.continue;
    while (cont) {
      const page = (await api('GET', `/api/v1/namespaces?labelSelector=${sel}&limit=1&continue=${encodeURIComponent(cont)}`)).json;
      expect(page.metadata.resourceVersion).toBe(page1.metadata.resourceVersion);
      rest.push(...page.items.map((n: KubeObject) => n.metadata.name));
      cont = page.metadata.continue;
    }
    expect(rest).toEqual(['tenant-c', 'tenant-e']);
    // A new list sees the present.
    const now = (await api('GET', `/api/v1/namespaces?labelSelector=${sel}`)).json;
    expect(now.items.map((n: KubeObject) => n.metadata.name)).toEqual(['tenant-a', 'tenant-b', 'tenant-c', 'tenant-d']);
  });

  it('answers 410 Expired to a continue token older than the last compaction, as etcd does', async () => {
    kube.addTenantNamespaces(['tenant-a', 'tenant-b', 'tenant-c']);
    const page1 = (await api('GET', '/api/v1/namespaces?limit=2')).json;
    kube.addNamespaces(['later']); // the cluster moves on; compaction drops the revision page 1 was read at
    kube.compact();
    const expired = await api('GET', `/api/v1/namespaces?limit=2&continue=${encodeURIComponent(page1.metadata.continue)}`);
    expect(expired.status).toBe(410);
    expect(expired.json).toMatchObject({ kind: 'Status', status: 'Failure', reason: 'Expired', code: 410 });
    expect(expired.json.message).toMatch(/^The provided continue parameter is too old to display a consistent list result/);
    expect(typeof expired.json.metadata.continue).toBe('string');
    // Watches from before the compaction expire too; a fresh list works.
    const watch = await fetch(`${kube.url}/api/v1/namespaces?watch=true&resourceVersion=${page1.metadata.resourceVersion}`, {
      headers: { Authorization: `Bearer ${kube.token}` },
    });
    expect(JSON.parse((await watch.text()).split('\n')[0]!)).toMatchObject({ type: 'ERROR', object: { code: 410, reason: 'Expired' } });
    expect((await api('GET', '/api/v1/namespaces?limit=2')).status).toBe(200);
  });

  it('filters with every label selector operator and metadata.name field selectors', async () => {
    kube.addNamespaces(['a'], { tier: 'gold', ring: '1' });
    kube.addNamespaces(['b'], { tier: 'silver' });
    kube.addNamespaces(['c'], { tier: 'bronze', ring: '2' });
    const names = async (q: string) =>
      (await api('GET', `/api/v1/namespaces?${q}`)).json.items
        .map((n: KubeObject) => n.metadata.name)
        .filter((n: string) => n.length === 1);
    const ls = (s: string) => `labelSelector=${encodeURIComponent(s)}`;
    expect(await names(ls('tier=gold'))).toEqual(['a']);
    expect(await names(ls('tier==silver'))).toEqual(['b']);
    expect(await names(ls('tier!=gold'))).toEqual(['b', 'c']);
    expect(await names(ls('tier in (gold, bronze)'))).toEqual(['a', 'c']);
    expect(await names(ls('tier notin (gold),ring'))).toEqual(['c']);
    expect(await names(ls('!ring,tier'))).toEqual(['b']);
    expect(await names(`fieldSelector=${encodeURIComponent('metadata.name=b')}`)).toEqual(['b']);
    expect((await api('GET', `/api/v1/namespaces?${ls('tier in gold')}`)).status).toBe(400);
  });
});

describe('errors and writes', () => {
  it('answers NotFound and AlreadyExists with the recorded Status bodies', async () => {
    kube.addNamespaces(['tenant-alpha']);
    const nf = await api('GET', '/apis/apps/v1/namespaces/tenant-alpha/deployments/nope');
    expect(nf.status).toBe(404);
    expect(nf.contentType).toBe('application/json');
    expect(nf.json).toEqual(fixture('error-404.json'));
    const dup = await api('POST', '/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'tenant-alpha' } });
    expect(dup.status).toBe(409);
    expect(dup.json).toEqual(fixture('error-409.json'));
    const missingNs = await api('POST', '/api/v1/namespaces/ghost/configmaps', { metadata: { name: 'x' } });
    expect(missingNs.status).toBe(404);
    expect(missingNs.json.message).toBe('namespaces "ghost" not found');
  });

  it("rejects a merge-style body sent as json-patch exactly like the real server (client-node's default type)", async () => {
    kube.addNamespaces(['tenant-alpha']);
    kube.put(service('alpha-demo', 'tenant-alpha'));
    const wrong = await api(
      'PATCH',
      '/api/v1/namespaces/tenant-alpha/services/alpha-demo',
      { spec: { selector: { color: 'green' } } },
      'application/json-patch+json',
    );
    expect(wrong.status).toBe(400);
    expect(wrong.json).toEqual(fixture('error-patch-wrong-content-type.json'));
    const ok = await api(
      'PATCH',
      '/api/v1/namespaces/tenant-alpha/services/alpha-demo',
      [{ op: 'add', path: '/spec/selector/color', value: 'green' }],
      'application/json-patch+json',
    );
    expect(ok.status).toBe(200);
    expect(ok.json.spec.selector.color).toBe('green');
  });

  it('merges strategic patches the way the API server does for selectors and containers', async () => {
    kube.addNamespaces(['tenant-alpha']);
    kube.put(fixture('service.json'));
    const patched = await api(
      'PATCH',
      '/api/v1/namespaces/tenant-alpha/services/alpha-demo?fieldManager=curl',
      { spec: { selector: { color: 'green' } } },
      'application/strategic-merge-patch+json',
    );
    expect(patched.json.spec.selector).toEqual(fixture('service-after-selector-patch.json').spec.selector);
    const replaced = await api(
      'PATCH',
      '/api/v1/namespaces/tenant-alpha/services/alpha-demo',
      { spec: { selector: { $patch: 'replace', app: 'x' } } },
      'application/strategic-merge-patch+json',
    );
    expect(replaced.json.spec.selector).toEqual({ app: 'x' });
    const merged = await api(
      'PATCH',
      '/api/v1/namespaces/tenant-alpha/services/alpha-demo',
      { spec: { selector: { app: null, b: '1' } } },
      'application/merge-patch+json',
    );
    expect(merged.json.spec.selector).toEqual({ b: '1' });

    await kube.apply(deployment('web', 'tenant-alpha', 'repo/web:1'));
    // helm 3's three-way patch of an image: the container list merges by name, ports and probes stay.
    const d = await api(
      'PATCH',
      '/apis/apps/v1/namespaces/tenant-alpha/deployments/web',
      {
        spec: {
          template: { spec: { '$setElementOrder/containers': [{ name: 'app' }], containers: [{ name: 'app', image: 'repo/web:2' }] } },
        },
      },
      'application/strategic-merge-patch+json',
    );
    expect(d.json.spec.template.spec.containers).toEqual([
      expect.objectContaining({ name: 'app', image: 'repo/web:2', ports: [{ containerPort: 3000, protocol: 'TCP' }] }),
    ]);
    expect(d.json.metadata.generation).toBe(2);
  });

  it('reports a server-side-apply conflict on .spec.selector after another manager patched it (the blue-green trap)', async () => {
    kube.addNamespaces(['tenant-alpha']);
    const live = fixture('service.json'); // as helm 4 left it: helm (Apply) owns the selector
    kube.put(live);
    await api(
      'PATCH',
      '/api/v1/namespaces/tenant-alpha/services/alpha-demo?fieldManager=curl',
      { spec: { selector: { color: 'green' } } },
      'application/strategic-merge-patch+json',
    );
    const svc = kube.get('Service', 'tenant-alpha', 'alpha-demo')!;
    const recorded = fixture('service-after-selector-patch.json');
    expect(svc.spec.selector).toEqual(recorded.spec.selector);
    // Ownership moved exactly as recorded: curl (Update) took .spec.selector away from helm (Apply).
    const noTime = (m: { time?: string }[]) => m.map(({ time: _t, ...rest }) => rest);
    expect(noTime(svc.metadata.managedFields!)).toEqual(noTime(recorded.metadata.managedFields));

    // What helm 4 applies on the next upgrade: its own selector again.
    const applied = {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'alpha-demo', namespace: 'tenant-alpha', labels: live.metadata.labels, annotations: live.metadata.annotations },
      spec: { type: 'ClusterIP', selector: live.spec.selector, ports: live.spec.ports },
    };
    const path = '/api/v1/namespaces/tenant-alpha/services/alpha-demo';
    const again = await api('PATCH', `${path}?fieldManager=helm&force=false`, JSON.stringify(applied), 'application/apply-patch+yaml');
    expect(again.status).toBe(409);
    expect(again.json).toMatchObject({ kind: 'Status', reason: 'Conflict', code: 409 });
    // helm 4 prints: conflict occurred while applying object ...: <this message> (helm4-upgrade-ssa-conflict-after-selector-patch.txt)
    const helmSays = readFileSync(join(fixturesDir, 'helm4-upgrade-ssa-conflict-after-selector-patch.txt'), 'utf8');
    expect(helmSays).toContain(`Kind=Service: ${again.json.message}\n`);
    expect(again.json.details.causes).toEqual([
      { reason: 'FieldManagerConflict', message: 'conflict with "curl" using v1', field: '.spec.selector' },
    ]);
    expect(kube.get('Service', 'tenant-alpha', 'alpha-demo')!.spec.selector).toEqual(recorded.spec.selector);

    // Re-applying without touching the selector is fine; forcing takes the selector back.
    const { selector: _s, ...withoutSelector } = applied.spec;
    expect(
      (
        await api(
          'PATCH',
          `${path}?fieldManager=helm`,
          JSON.stringify({ ...applied, spec: withoutSelector }),
          'application/apply-patch+yaml',
        )
      ).status,
    ).toBe(200);
    const forced = await api('PATCH', `${path}?fieldManager=helm&force=true`, JSON.stringify(applied), 'application/apply-patch+yaml');
    expect(forced.status).toBe(200);
    expect(forced.json.spec.selector).toEqual(live.spec.selector);
    expect(forced.json.metadata.managedFields.map((m: { manager: string }) => m.manager)).toEqual(['helm']);
  });

  it('does not persist dry runs and honours resourceVersion preconditions', async () => {
    kube.addNamespaces(['tenant-alpha']);
    const dry = await api('POST', '/api/v1/namespaces/tenant-alpha/configmaps?dryRun=All', { metadata: { name: 'cm' }, data: { a: '1' } });
    expect(dry.status).toBe(201);
    expect(kube.get('configmaps', 'tenant-alpha', 'cm')).toBeUndefined();
    const created = await api('POST', '/api/v1/namespaces/tenant-alpha/configmaps', { metadata: { name: 'cm' }, data: { a: '1' } });
    const stale = await api('PUT', '/api/v1/namespaces/tenant-alpha/configmaps/cm', {
      metadata: { name: 'cm', resourceVersion: '1' },
      data: { a: '2' },
    });
    expect(stale.status).toBe(409);
    expect(stale.json.reason).toBe('Conflict');
    const fresh = await api('PUT', '/api/v1/namespaces/tenant-alpha/configmaps/cm', {
      metadata: { name: 'cm', resourceVersion: created.json.metadata.resourceVersion },
      data: { a: '2' },
    });
    expect(fresh.status).toBe(200);
    expect(Number(fresh.json.metadata.resourceVersion)).toBeGreaterThan(Number(created.json.metadata.resourceVersion));
  });

  it('injects failures with the real wording', async () => {
    kube.failNext((r) => r.path === '/api/v1/namespaces' && r.method === 'GET', 403);
    const denied = await api('GET', '/api/v1/namespaces?labelSelector=x');
    expect(denied.status).toBe(403);
    expect(denied.json.message).toBe(
      'namespaces is forbidden: User "system:serviceaccount:ci:deployer" cannot list resource "namespaces" in API group "" at the cluster scope',
    );
    expect((await api('GET', '/api/v1/namespaces')).status).toBe(200); // once only
  });
});

describe('controllers', () => {
  it('rolls a Deployment out through a ReplicaSet that helm 3 recognises as the new one', async () => {
    kube.addNamespaces(['ns']);
    const d = deployment('web', 'ns', 'repo/web:1.0.0', 2);
    await kube.apply(d);
    const rs = kube.list('replicasets', 'ns');
    expect(rs).toHaveLength(1);
    const hash = rs[0]!.metadata.labels!['pod-template-hash']!;
    expect(rs[0]!.metadata.name).toBe(`web-${hash}`);
    const dep = kube.get('deployments', 'ns', 'web')!;
    expect(rs[0]!.metadata.ownerReferences).toEqual([
      { apiVersion: 'apps/v1', kind: 'Deployment', name: 'web', uid: dep.metadata.uid, controller: true, blockOwnerDeletion: true },
    ]);
    // The RS template is the deployment's template plus the hash label (helm 3 compares them).
    const tpl = structuredClone(rs[0]!.spec.template);
    delete tpl.metadata.labels['pod-template-hash'];
    expect(tpl).toEqual(dep.spec.template);
    const pods = kube.list('pods', 'ns');
    expect(pods).toHaveLength(2);
    expect(
      pods.every((p) => p.status.conditions.some((c: { type: string; status: string }) => c.type === 'Ready' && c.status === 'True')),
    ).toBe(true);
    expect(dep.status).toMatchObject({ observedGeneration: 1, replicas: 2, updatedReplicas: 2, readyReplicas: 2, availableReplicas: 2 });
    expect(dep.status.unavailableReplicas).toBeUndefined();
    expect(dep.status.conditions.map((c: { type: string; reason: string }) => `${c.type}/${c.reason}`)).toEqual([
      'Available/MinimumReplicasAvailable',
      'Progressing/NewReplicaSetAvailable',
    ]);
  });

  it('reproduces the trap: a crash-looping new pod while the old one keeps the Deployment Available', async () => {
    kube.addNamespaces(['ns']);
    await kube.apply(deployment('gamma', 'ns', 'nginx:1.25'));
    await kube.apply(deployment('gamma', 'ns', 'nginx:bad'));
    const dep = kube.get('deployments', 'ns', 'gamma')!;
    const recorded = fixture('deployment-gamma-after-failed-upgrade.json');
    expect(dep.metadata.generation).toBe(2);
    expect(dep.status).toMatchObject({
      observedGeneration: 2,
      replicas: 2,
      updatedReplicas: 1,
      readyReplicas: 1,
      availableReplicas: 1,
      unavailableReplicas: 1,
    });
    const pick = (s: typeof recorded.status) => ({
      ...s,
      conditions: s.conditions.map((c: { type: string; status: string; reason: string }) => [c.type, c.status, c.reason]),
    });
    expect(pick(dep.status)).toEqual(pick(recorded.status));
    expect(dep.metadata.annotations!['deployment.kubernetes.io/revision']).toBe('2');
    const bad = () => kube.list('pods', 'ns').find((p) => p.spec.containers[0].image === 'nginx:bad')!;
    expect(bad().status.containerStatuses[0].state.waiting.reason).toBe('CrashLoopBackOff');
    await vi.waitFor(() => expect(bad().status.containerStatuses[0].restartCount).toBeGreaterThanOrEqual(2), { timeout: 10_000 });
    expect(bad().status.phase).toBe('Running');

    // Rolling back to the old template reuses its ReplicaSet and removes the broken pod.
    await kube.apply(deployment('gamma', 'ns', 'nginx:1.25'));
    const after = kube.get('deployments', 'ns', 'gamma')!;
    expect(after.status).toMatchObject({ observedGeneration: 3, replicas: 1, updatedReplicas: 1, readyReplicas: 1, availableReplicas: 1 });
    expect(after.metadata.annotations!['deployment.kubernetes.io/revision']).toBe('3');
    expect(kube.list('replicasets', 'ns')).toHaveLength(2);
    expect(kube.list('pods', 'ns').map((p) => p.spec.containers[0].image)).toEqual(['nginx:1.25']);
  });

  it('runs StatefulSets and gives Services a cluster IP', async () => {
    kube.addNamespaces(['ns']);
    await kube.apply({
      apiVersion: 'apps/v1',
      kind: 'StatefulSet',
      metadata: { name: 'db', namespace: 'ns' },
      spec: {
        replicas: 2,
        serviceName: 'db',
        selector: { matchLabels: { app: 'db' } },
        template: { metadata: { labels: { app: 'db' } }, spec: { containers: [{ name: 'db', image: 'pg:16' }] } },
      },
    });
    expect(kube.list('pods', 'ns').map((p) => p.metadata.name)).toEqual(['db-0', 'db-1']);
    const sts = kube.get('statefulsets', 'ns', 'db')!;
    expect(sts.status).toMatchObject({ observedGeneration: 1, replicas: 2, readyReplicas: 2, updatedReplicas: 2, currentReplicas: 2 });
    expect(sts.status.currentRevision).toBe(sts.status.updateRevision);
    const svc = await kube.apply(service('db', 'ns'));
    expect(svc.spec.clusterIP).toMatch(/^10\.0\.\d+\.\d+$/);
  });

  it('starts bare pods a client creates, crash-looping the `bad` tag', async () => {
    kube.addNamespaces(['ns']);
    const pod = (name: string, image: string) => ({ metadata: { name }, spec: { containers: [{ name: 'c', image }] } });
    expect((await api('POST', '/api/v1/namespaces/ns/pods', pod('good', 'x:1'))).status).toBe(201);
    await api('POST', '/api/v1/namespaces/ns/pods', pod('bad', 'x:bad'));
    await api('POST', '/api/v1/namespaces/ns/pods', pod('nopull', 'x:missing'));
    const status = (n: string) => kube.get('pods', 'ns', n)!.status;
    expect(status('good')).toMatchObject({ phase: 'Running', containerStatuses: [{ ready: true, state: { running: {} } }] });
    expect(status('bad')).toMatchObject({
      phase: 'Running',
      containerStatuses: [{ ready: false, state: { waiting: { reason: 'CrashLoopBackOff' } } }],
    });
    expect(status('nopull')).toMatchObject({
      phase: 'Pending',
      containerStatuses: [{ ready: false, state: { waiting: { reason: 'ImagePullBackOff' } } }],
    });
  });

  it('deletes a Deployment with its ReplicaSets and pods, or orphans them on request', async () => {
    kube.addNamespaces(['ns']);
    await kube.apply(deployment('a', 'ns', 'x:1'));
    await kube.apply(deployment('b', 'ns', 'x:1'));
    const del = await api('DELETE', '/apis/apps/v1/namespaces/ns/deployments/a', { propagationPolicy: 'Background' });
    expect(del.json).toMatchObject({ kind: 'Status', status: 'Success', details: { name: 'a', group: 'apps', kind: 'deployments' } });
    expect(kube.list('replicasets', 'ns').map((r) => r.metadata.name.split('-')[0])).toEqual(['b']);
    expect(kube.list('pods', 'ns').map((p) => p.metadata.name.split('-')[0])).toEqual(['b']);
    await api('DELETE', '/apis/apps/v1/namespaces/ns/deployments/b?propagationPolicy=Orphan');
    const orphan = kube.list('replicasets', 'ns');
    expect(orphan).toHaveLength(1);
    expect(orphan[0]!.metadata.ownerReferences).toBeUndefined();
  });
});

describe('watch', () => {
  it('streams ADDED/MODIFIED/DELETED as newline-delimited JSON, replays from a resourceVersion and sends bookmarks', async () => {
    kube.addNamespaces(['ns']);
    const list = (await api('GET', '/apis/apps/v1/namespaces/ns/deployments')).json;
    const rv = list.metadata.resourceVersion as string;
    await kube.apply(deployment('web', 'ns', 'x:1'));
    await api('DELETE', '/apis/apps/v1/namespaces/ns/deployments/web');
    // Everything since the list's resourceVersion is replayed, in order, then bookmarks flow.
    const { events } = await readWatch(
      `/apis/apps/v1/namespaces/ns/deployments?watch=1&resourceVersion=${rv}&allowWatchBookmarks=true`,
      (ev) => ev.some((e) => e.type === 'BOOKMARK'),
    );
    const types = events.map((e) => e.type);
    expect(types[0]).toBe('ADDED');
    expect(types).toContain('MODIFIED');
    expect(types.indexOf('DELETED')).toBeGreaterThan(types.indexOf('MODIFIED'));
    const bookmark = events.find((e) => e.type === 'BOOKMARK')!;
    expect(bookmark.object).toMatchObject({ kind: 'Deployment', apiVersion: 'apps/v1' });
    expect(Number(bookmark.object.metadata.resourceVersion)).toBeGreaterThan(Number(rv));
    const rvs = events.filter((e) => e.type !== 'BOOKMARK').map((e) => Number(e.object.metadata.resourceVersion));
    expect(rvs).toEqual([...rvs].sort((a, b) => a - b));
  });

  it('emits the status transitions of a rollout in the order the recorded watch stream shows them', async () => {
    kube.addNamespaces(['ns']);
    await kube.apply(deployment('web', 'ns', 'x:1'));
    const rv = kube.get('deployments', 'ns', 'web')!.metadata.resourceVersion!;
    await kube.apply(deployment('web', 'ns', 'x:2'));
    const { events } = await readWatch(`/apis/apps/v1/namespaces/ns/deployments?watch=1&resourceVersion=${rv}`, (ev) =>
      ev.some((e) => e.object.status?.replicas === 1 && e.object.status?.observedGeneration === 2 && !e.object.status?.unavailableReplicas),
    );
    const shape = (o: KubeObject) => {
      const { conditions: _c, ...counters } = o.status;
      return JSON.stringify({ generation: o.metadata.generation, ...counters });
    };
    const recorded = readFileSync(join(fixturesDir, 'deployments-watch-stream.ndjson'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { type: string; object: KubeObject })
      .filter((e) => e.type === 'MODIFIED')
      .map((e) => shape(e.object));
    const ours = events.map((e) => shape(e.object));
    // Same first (stale status, generation bumped) and last (rolled out) states; ours is a
    // subsequence of the recording (pods become ready at once, so "created, not ready" is skipped).
    expect(ours[0]).toBe(recorded[0]);
    expect(ours.at(-1)).toBe(recorded.at(-1));
    let i = 0;
    for (const s of ours) {
      while (i < recorded.length && recorded[i] !== s) i++;
      expect(i, `${s} not in the recorded order`).toBeLessThan(recorded.length);
    }
  });

  it('sends the initial state then an initial-events-end bookmark for sendInitialEvents (client-go 1.35 watch-list)', async () => {
    kube.addNamespaces(['ns']);
    await kube.apply(deployment('web', 'ns', 'x:1'));
    const { events } = await readWatch(
      '/apis/apps/v1/namespaces/ns/deployments?watch=true&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true',
      (ev) => ev.some((e) => e.type === 'BOOKMARK'),
    );
    expect(events.map((e) => e.type)).toEqual(['ADDED', 'BOOKMARK']);
    expect(events[1]!.object.metadata.annotations).toEqual({ 'k8s.io/initial-events-end': 'true' });
  });

  it('keeps a stream open until timeoutSeconds, filters by label, and ends open streams on close()', async () => {
    kube.addNamespaces(['ns']);
    const filtered = readWatch('/api/v1/namespaces/ns/configmaps?watch=true&labelSelector=keep%3Dyes', (ev) => ev.length >= 2);
    const idle = readWatch('/api/v1/namespaces/ns/secrets?watch=true', () => false);
    await vi.waitFor(() => expect(kube.requests.filter((r) => r.query.watch === 'true' && r.status === 200)).toHaveLength(2), {
      timeout: 10_000,
    });
    await api('POST', '/api/v1/namespaces/ns/configmaps', { metadata: { name: 'skip', labels: { keep: 'no' } } });
    await api('POST', '/api/v1/namespaces/ns/configmaps', { metadata: { name: 'keep', labels: { keep: 'yes' } } });
    // A label change out of the selector is a DELETED for this watcher.
    await api('PATCH', '/api/v1/namespaces/ns/configmaps/keep', { metadata: { labels: { keep: 'no' } } }, 'application/merge-patch+json');
    const { events } = await filtered;
    expect(events.map((e) => `${e.type} ${e.object.metadata.name}`)).toEqual(['ADDED keep', 'DELETED keep']);
    await kube.close();
    expect(await idle).toEqual({ events: [], ended: true });

    kube = await startFakeKube();
    const timed = await readWatch('/api/v1/namespaces/default/configmaps?watch=true&timeoutSeconds=1', () => false);
    expect(timed.ended).toBe(true);
  });
});

describe('harsher: what a large real cluster does to clients', () => {
  it('401 without the kubeconfig token (the public info endpoints stay open); client-node sends it', async () => {
    await kube.close();
    kube = await startFakeKube({ requireToken: true });
    const anon = (path: string) =>
      fetch(`${kube.url}${path}`).then(async (r) => ({ status: r.status, json: await r.json().catch(() => undefined) }));
    const denied = await anon('/api/v1/namespaces');
    expect(denied.status).toBe(401);
    expect(denied.json).toMatchObject({ kind: 'Status', reason: 'Unauthorized', code: 401 });
    const wrong = await fetch(`${kube.url}/api/v1/namespaces`, { headers: { Authorization: 'Bearer not-the-token' } });
    expect(wrong.status).toBe(401);
    expect((await anon('/version')).status).toBe(200);
    expect((await api('GET', '/api/v1/namespaces')).status).toBe(200);
    expect((await createCluster({ kubeconfigYaml: kube.kubeconfigYaml }).listNamespaces('')).length).toBeGreaterThan(0);
  });

  it('429 with Retry-After (header and Status details), deterministic: skip N, then M times', async () => {
    const rule = kube.inject({ path: '/api/v1/namespaces', verb: 'list' }, { status: 429, retryAfterSeconds: 3 }, { skip: 1, times: 2 });
    const codes: number[] = [];
    let retryAfter: string | null = null;
    for (let i = 0; i < 4; i++) {
      const r = await fetch(`${kube.url}/api/v1/namespaces`, { headers: { Authorization: `Bearer ${kube.token}` } });
      codes.push(r.status);
      if (r.status === 429) {
        retryAfter = r.headers.get('retry-after');
        expect(await r.json()).toMatchObject({ reason: 'TooManyRequests', code: 429, details: { retryAfterSeconds: 3 } });
      } else await r.body?.cancel();
    }
    expect(codes).toEqual([200, 429, 429, 200]);
    expect(retryAfter).toBe('3');
    expect([rule.matched, rule.injected]).toEqual([4, 2]);
    expect(kube.requests.filter((r) => r.fault).map((r) => r.fault)).toEqual(['status 429', 'status 429']);
  });

  it('5xx as the component that sends it: apiserver Status for 500/503/504, the load balancer page for 502', async () => {
    for (const code of [500, 503, 504]) {
      kube.inject({ path: '/api/v1/namespaces/default' }, { status: code });
      const r = await api('GET', '/api/v1/namespaces/default');
      expect([r.status, r.contentType, r.json.kind, r.json.code]).toEqual([code, 'application/json', 'Status', code]);
    }
    kube.inject({ path: '/api/v1/namespaces/default' }, { status: 502 });
    const lb = await fetch(`${kube.url}/api/v1/namespaces/default`, { headers: { Authorization: `Bearer ${kube.token}` } });
    expect([lb.status, lb.headers.get('content-type')]).toEqual([502, 'text/html']);
    expect(await lb.text()).toContain('502 Bad Gateway');
  });

  it('a dropped connection: the client sees the socket close, nothing is written', async () => {
    kube.inject({ method: 'POST' }, { drop: true });
    await expect(api('POST', '/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'dropped' } })).rejects.toThrow(
      /fetch failed/,
    );
    expect(kube.get('namespaces', undefined, 'dropped')).toBeUndefined();
    expect(kube.requests.at(-1)).toMatchObject({ method: 'POST', fault: 'drop', status: 0 });
  });

  it('latency on any path, then the normal answer', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout'] });
    try {
      kube.inject(() => true, { latencyMs: 5_000 });
      let done = false;
      const p = api('GET', '/api/v1/namespaces/default').then((r) => ((done = true), r));
      await vi.waitFor(() => expect(kube.requests.at(-1)?.fault).toBe('latency 5000ms'));
      expect(done).toBe(false);
      await vi.advanceTimersByTimeAsync(5_000);
      expect((await p).status).toBe(200);
    } finally {
      vi.useRealTimers();
    }
  });

  it('faults at a seeded rate: the same requests fail for the same seed', async () => {
    const pattern = async (seed: number) => {
      kube.clearFaults();
      kube.inject({ path: '/api/v1/namespaces/default' }, { status: 503 }, { rate: 0.3, seed });
      const out: number[] = [];
      for (let i = 0; i < 30; i++) out.push((await api('GET', '/api/v1/namespaces/default')).status);
      return out;
    };
    const a = await pattern(11);
    expect(a.filter((c) => c === 503).length).toBeGreaterThan(3);
    expect(a.filter((c) => c === 503).length).toBeLessThan(20);
    expect(await pattern(11)).toEqual(a);
    expect(await pattern(12)).not.toEqual(a);
  });

  it('409 for a stale resourceVersion on update and patch', async () => {
    const cm = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'doc', namespace: 'default' }, data: { a: '1' } };
    const created = (await api('POST', '/api/v1/namespaces/default/configmaps', cm)).json;
    const stale = created.metadata.resourceVersion;
    expect(
      (
        await api('PUT', '/api/v1/namespaces/default/configmaps/doc', {
          ...cm,
          metadata: { ...cm.metadata, resourceVersion: stale },
          data: { a: '2' },
        })
      ).status,
    ).toBe(200);
    const again = await api('PUT', '/api/v1/namespaces/default/configmaps/doc', {
      ...cm,
      metadata: { ...cm.metadata, resourceVersion: stale },
      data: { a: '3' },
    });
    expect([again.status, again.json.reason]).toEqual([409, 'Conflict']);
    expect(again.json.message).toMatch(/the object has been modified; please apply your changes to the latest version and try again/);
    const patch = await api(
      'PATCH',
      '/api/v1/namespaces/default/configmaps/doc',
      { metadata: { resourceVersion: stale }, data: { a: '4' } },
      'application/merge-patch+json',
    );
    expect(patch.status).toBe(409);
    expect(kube.get('configmaps', 'default', 'doc')!.data).toEqual({ a: '2' });
  });
});

describe('a deleted namespace is Terminating for a while', () => {
  it('turns Terminating, deletes its content, refuses new content (403) and re-creation (409), then is gone', async () => {
    await kube.close();
    kube = await startFakeKube({ namespaceTerminationMs: 300 });
    kube.addTenantNamespaces(['tenant-x']);
    await kube.apply(deployment('web', 'tenant-x', 'nginx:1'));
    await api('POST', '/api/v1/namespaces/tenant-x/configmaps', { metadata: { name: 'keep' }, data: {} });

    const del = await api('DELETE', '/api/v1/namespaces/tenant-x');
    expect(del.status).toBe(200);
    expect(del.json).toMatchObject({ kind: 'Namespace', metadata: { name: 'tenant-x' }, spec: { finalizers: ['kubernetes'] } });
    expect(del.json.status.phase).toBe('Terminating');
    expect(del.json.metadata.deletionTimestamp).toEqual(expect.any(String));
    const read = (await api('GET', '/api/v1/namespaces/tenant-x')).json;
    expect(read.status.phase).toBe('Terminating');
    // Still listed (a label-selected discovery sees it), its content already going.
    const listed = (await api('GET', `/api/v1/namespaces?labelSelector=${encodeURIComponent('app.kubernetes.io/component=tenant')}`)).json;
    expect(listed.items.map((n: KubeObject) => [n.metadata.name, n.status.phase])).toEqual([['tenant-x', 'Terminating']]);
    expect(kube.list('deployments', 'tenant-x')).toEqual([]);
    expect(kube.list('configmaps', 'tenant-x')).toEqual([]);

    const create = await api('POST', '/api/v1/namespaces/tenant-x/secrets', { metadata: { name: 'sh.helm.release.v1.web.v2' } });
    expect(create.status).toBe(403);
    expect(create.json).toMatchObject({
      reason: 'Forbidden',
      message:
        'secrets "sh.helm.release.v1.web.v2" is forbidden: unable to create new content in namespace tenant-x because it is being terminated',
      details: { causes: [{ reason: 'NamespaceTerminating', field: 'metadata.namespace' }] },
    });
    // Server-side apply of a new object is a create too (helm 4).
    const ssa = await api(
      'PATCH',
      '/apis/coordination.k8s.io/v1/namespaces/tenant-x/leases/l?fieldManager=t',
      { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name: 'l' } },
      'application/apply-patch+yaml',
    );
    expect(ssa.status).toBe(403);
    const again = await api('POST', '/api/v1/namespaces', { metadata: { name: 'tenant-x' } });
    expect(again.status).toBe(409);
    expect(again.json.message).toBe('object is being deleted: namespaces "tenant-x" already exists');

    await vi.waitFor(async () => expect((await api('GET', '/api/v1/namespaces/tenant-x')).status).toBe(404), { timeout: 5000 });
    expect((await api('POST', '/api/v1/namespaces', { metadata: { name: 'tenant-x' } })).status).toBe(201);
  });
});

describe('422 Invalid, as the real server validates', () => {
  const post = (path: string, body: unknown) => api('POST', path, body);
  const deploy = (name: string, over: (d: KubeObject) => void = () => {}) => {
    const d = deployment(name, 'default', 'app:1');
    over(d);
    return d;
  };

  it('a selector that does not match the template labels, negative replicas, an out-of-range port', async () => {
    const r = await post(
      '/apis/apps/v1/namespaces/default/deployments',
      deploy('web', (d) => (d.spec.template.metadata.labels = { app: 'other' })),
    );
    expect([r.status, r.json.reason]).toEqual([422, 'Invalid']);
    expect(r.json.message).toMatch(
      /^Deployment.apps "web" is invalid: spec.template.metadata.labels: Invalid value: .*`selector` does not match template `labels`/,
    );
    expect(r.json.details.causes[0].field).toBe('spec.template.metadata.labels');
    const neg = await post(
      '/apis/apps/v1/namespaces/default/deployments',
      deploy('neg', (d) => (d.spec.replicas = -1)),
    );
    expect([neg.status, neg.json.details.causes[0].field]).toEqual([422, 'spec.replicas']);
    const port = await post(
      '/apis/apps/v1/namespaces/default/deployments',
      deploy('port', (d) => (d.spec.template.spec.containers[0].ports[0].containerPort = 70000)),
    );
    expect(port.json.message).toMatch(/containerPort: Invalid value: 70000: must be between 1 and 65535, inclusive/);
    expect(kube.list('deployments', 'default')).toEqual([]);
  });

  it('invalid names and label values', async () => {
    const bad = await post('/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'Tenant_A' } });
    expect([bad.status, bad.json.details.causes[0].field]).toEqual([422, 'metadata.name']);
    expect(bad.json.message).toMatch(/a lowercase RFC 1123 label must consist of/);
    const label = await post('/api/v1/namespaces/default/configmaps', {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'c', labels: { ring: 'not valid!' } },
    });
    expect([label.status, label.json.details.causes[0].field]).toEqual([422, 'metadata.labels']);
  });

  it('immutable fields: a Deployment selector, a Service clusterIP', async () => {
    expect((await post('/apis/apps/v1/namespaces/default/deployments', deploy('web'))).status).toBe(201);
    const sel = await api(
      'PATCH',
      '/apis/apps/v1/namespaces/default/deployments/web',
      { spec: { selector: { matchLabels: { app: 'web', v: '2' } }, template: { metadata: { labels: { app: 'web', v: '2' } } } } },
      'application/merge-patch+json',
    );
    expect([sel.status, sel.json.details.causes.at(-1).field]).toEqual([422, 'spec.selector']);
    expect(sel.json.message).toMatch(/field is immutable/);
    expect((await post('/api/v1/namespaces/default/services', service('svc', 'default'))).status).toBe(201);
    const ip = await api(
      'PATCH',
      '/api/v1/namespaces/default/services/svc',
      { spec: { clusterIP: '10.96.99.99' } },
      'application/merge-patch+json',
    );
    expect([ip.status, ip.json.message]).toEqual([
      422,
      expect.stringMatching(/spec.clusterIP: Invalid value: "10.96.99.99": field is immutable/),
    ]);
  });
});
