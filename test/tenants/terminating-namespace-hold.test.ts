/**
 * A tenant whose namespace is being deleted is held, not deployed: the real server refuses new
 * objects in a Terminating namespace, so an upgrade there could only fail and spend the budget.
 * Read through the client-node adapter against the wire-level API fake, for discovered tenants
 * and for tenants a file or list names.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCluster } from '../../src/kube/client.ts';
import { DEFAULT_TENANT_SELECTOR, tenantsFromNamespaces, withNamespaceHolds } from '../../src/tenants/sources.ts';
import type { Tenant } from '../../src/tenants/model.ts';
import { startFakeKube, type FakeKube } from '../support/fake-kube/index.ts';

describe('a Terminating tenant namespace holds its tenant (API fake)', () => {
  let kube: FakeKube;
  beforeAll(async () => {
    kube = await startFakeKube();
    const labels = { 'app.kubernetes.io/component': 'tenant' };
    kube.put({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'tenant-live', labels } });
    kube.put({
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name: 'tenant-leaving', labels, deletionTimestamp: '2026-12-07T10:00:00Z', finalizers: ['kubernetes'] },
      status: { phase: 'Terminating' },
    });
  });
  afterAll(async () => {
    await kube?.close();
  });
  const cluster = () => createCluster({ kubeconfigYaml: kube.kubeconfigYaml, requests: { sleep: async () => {} } });

  it('discovery lists it and plans it held, with the reason', async () => {
    const namespaces = await cluster().listNamespaces(DEFAULT_TENANT_SELECTOR);
    expect(namespaces.find((n) => n.name === 'tenant-leaving')?.terminating).toBe(true);
    expect(namespaces.find((n) => n.name === 'tenant-live')?.terminating).toBeUndefined();
    const tenants = tenantsFromNamespaces(namespaces);
    expect(tenants.find((t) => t.id === 'leaving')?.hold).toMatchObject({ reason: expect.stringMatching(/being deleted \(Terminating\)/) });
    expect(tenants.find((t) => t.id === 'live')?.hold).toBeUndefined();
  });

  it('a tenant named by a file or list is held too, read by name', async () => {
    const c = cluster();
    const named: Tenant[] = ['live', 'leaving'].map((id) => ({
      id,
      slug: id,
      namespace: `tenant-${id}`,
      release: id,
      labels: {},
      values: {},
      valuesFiles: [],
    }));
    const read = new Map(await Promise.all(named.map(async (t) => [t.namespace, await c.readNamespace!(t.namespace)] as const)));
    const held = withNamespaceHolds(named, (t) => read.get(t.namespace));
    expect(held.map((t) => [t.id, t.hold?.reason])).toEqual([
      ['live', undefined],
      ['leaving', 'the namespace is being deleted (Terminating)'],
    ]);
  });
});
