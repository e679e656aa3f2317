/**
 * A tenant namespace being deleted (Terminating) refuses new content with 403: the release lease
 * cannot be created there, and the deploy is told so (no lease, a warning), not a crash.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/kube/client.ts';
import { createReleaseLeases, leaseGuard } from '../../src/kube/leases.ts';
import { startFakeKube, type FakeKube } from '../support/fake-kube/index.ts';

let kube: FakeKube;
beforeEach(async () => {
  kube = await startFakeKube({ namespaceTerminationMs: 60_000 });
  kube.addTenantNamespaces(['tenant-gone']);
});
afterEach(async () => {
  await kube.close();
});

describe('a Terminating tenant namespace', () => {
  it('takes no release lease (403 NamespaceTerminating) and says so', async () => {
    const del = await fetch(`${kube.url}/api/v1/namespaces/tenant-gone`, {
      method: 'DELETE',
      headers: { Authorization: `Bearer ${kube.token}` },
    });
    expect(del.status).toBe(200);
    const warnings: string[] = [];
    const guard = leaseGuard(createReleaseLeases({ kubeConfig: loadConfig({ kubeconfigYaml: kube.kubeconfigYaml }) }), {
      namespace: 'tenant-gone',
      release: 'web',
      holder: 'run=test',
      durationMs: 30_000,
      logger: { warning: (m) => warnings.push(m) },
    });
    const found = await guard.take();
    await guard.release();
    expect(found).toMatchObject({ previous: 'unavailable' });
    expect(warnings.join('\n')).toContain('unable to create new content in namespace tenant-gone because it is being terminated');
    const creates = kube.requests.filter((r) => r.method === 'POST' && r.path.endsWith('/leases'));
    expect(creates.map((r) => r.status)).toEqual([403]); // a real answer: not retried
  });
});
