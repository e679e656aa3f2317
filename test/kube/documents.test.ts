/**
 * Fleet documents (a JSON document in a ConfigMap, compare-and-swap on resourceVersion) through
 * the real client-node against the wire-level fake.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/kube/client.ts';
import { createFleetDocuments, DOCUMENT_KEY, type FleetDocuments } from '../../src/kube/documents.ts';
import { startFakeKube, type FakeKube } from '../support/fake-kube/index.ts';

let kube: FakeKube;
let docs: FleetDocuments;
const cmPath = (name: string) => `/api/v1/namespaces/deploy-actions/configmaps/${name}`;

beforeEach(async () => {
  kube = await startFakeKube();
  kube.addNamespaces(['deploy-actions']);
  docs = createFleetDocuments({ kubeConfig: loadConfig({ kubeconfigYaml: kube.kubeconfigYaml }), namespace: 'deploy-actions' });
});
afterEach(async () => {
  await kube.close();
});

interface Counter {
  n: number;
  by: string[];
}

describe('fleet documents', () => {
  it('reads an absent document as undefined, creates it once, and never overwrites it on create', async () => {
    expect(await docs.read('fleet')).toBeUndefined();
    const a = await docs.createIfAbsent<Counter>('fleet', { n: 1, by: ['a'] });
    const b = await docs.createIfAbsent<Counter>('fleet', { n: 99, by: ['b'] });
    expect(a.value).toEqual({ n: 1, by: ['a'] });
    expect(b).toEqual(a);
    const cm = kube.get('ConfigMap', 'deploy-actions', 'fleet')!;
    expect(JSON.parse((cm.data as Record<string, string>)[DOCUMENT_KEY]!)).toEqual({ n: 1, by: ['a'] });
    expect((cm.metadata.labels as Record<string, string>)['app.kubernetes.io/managed-by']).toBe('deploy-actions');
  });

  it('the fake refuses a write with a stale resourceVersion (409 Conflict)', async () => {
    const first = await docs.createIfAbsent<Counter>('fleet', { n: 0, by: [] });
    await docs.update<Counter>('fleet', (c) => ({ n: c!.n + 1, by: c!.by }));
    const res = await fetch(`${kube.url}${cmPath('fleet')}`, {
      method: 'PUT',
      headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${kube.token}` },
      body: JSON.stringify({
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name: 'fleet', namespace: 'deploy-actions', resourceVersion: first.resourceVersion },
        data: { [DOCUMENT_KEY]: '{"n":-1}' },
      }),
    });
    expect(res.status).toBe(409);
    expect(((await res.json()) as { reason: string }).reason).toBe('Conflict');
    expect((await docs.read<Counter>('fleet'))!.value.n).toBe(1);
  });

  it('concurrent writers all land: each lost race is a 409, re-read and applied again', async () => {
    await docs.createIfAbsent<Counter>('fleet', { n: 0, by: [] });
    // Separate clients, as separate shard processes would be.
    const writers = Array.from({ length: 8 }, (_, i) => ({
      id: `w${i}`,
      docs: createFleetDocuments({ kubeConfig: loadConfig({ kubeconfigYaml: kube.kubeconfigYaml }), namespace: 'deploy-actions' }),
    }));
    await Promise.all(
      writers.flatMap((w) =>
        [1, 2, 3].map(() => w.docs.update<Counter>('fleet', (c) => ({ n: c!.n + 1, by: [...c!.by, w.id] }), { maxAttempts: 200 })),
      ),
    );
    const final = (await docs.read<Counter>('fleet'))!.value;
    expect(final.n).toBe(24);
    expect(final.by).toHaveLength(24);
    const puts = kube.requests.filter((r) => r.method === 'PUT' && r.path === cmPath('fleet'));
    expect(puts.filter((r) => r.status === 409).length).toBeGreaterThan(0);
    expect(puts.filter((r) => r.status === 200)).toHaveLength(24);
  });

  it('retries a conflict a bounded number of times, then fails naming the document', async () => {
    await docs.createIfAbsent<Counter>('fleet', { n: 0, by: [] });
    kube.failNext((r) => r.method === 'PUT' && r.path === cmPath('fleet'), 409, { times: 100 });
    await expect(docs.update<Counter>('fleet', (c) => ({ ...c!, n: c!.n + 1 }), { maxAttempts: 3 })).rejects.toThrow(
      'document deploy-actions/fleet: still conflicting after 3 attempts',
    );
    expect(kube.requests.filter((r) => r.method === 'PUT').length).toBe(3);
  });

  it('does not retry other errors, and writes nothing when the change returns undefined', async () => {
    await docs.createIfAbsent<Counter>('fleet', { n: 0, by: [] });
    kube.clearRequests();
    expect((await docs.update<Counter>('fleet', () => undefined))!.value.n).toBe(0);
    expect(kube.requests.filter((r) => r.method !== 'GET')).toHaveLength(0);
    kube.failNext((r) => r.method === 'PUT', 403);
    await expect(docs.update<Counter>('fleet', (c) => ({ ...c!, n: 5 }))).rejects.toThrow(/forbidden/);
    expect(kube.requests.filter((r) => r.method === 'PUT')).toHaveLength(1);
  });

  it('update creates an absent document; two racing creators both land', async () => {
    const other = createFleetDocuments({ kubeConfig: loadConfig({ kubeconfigYaml: kube.kubeconfigYaml }), namespace: 'deploy-actions' });
    await Promise.all([
      docs.update<Counter>('run-1', (c) => ({ n: (c?.n ?? 0) + 1, by: [...(c?.by ?? []), 'a'] })),
      other.update<Counter>('run-1', (c) => ({ n: (c?.n ?? 0) + 1, by: [...(c?.by ?? []), 'b'] })),
    ]);
    expect((await docs.read<Counter>('run-1'))!.value.n).toBe(2);
    expect(await docs.remove('run-1')).toBe(true);
    expect(await docs.remove('run-1')).toBe(false);
  });
});
