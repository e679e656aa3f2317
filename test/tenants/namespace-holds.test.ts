/**
 * Namespace hold annotations for tenants from a tenants file or an inline list (discovered
 * tenants get them from the listing), read through the client-node adapter against the
 * wire-level API fake: one paginated list for the fleet, one GET per namespace only when the
 * credentials may not list, no verdict when the cluster does not answer.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createTenantRollout } from '../../src/actions/tenant-rollout/main.ts';
import { createCluster } from '../../src/kube/client.ts';
import { namespacesByName } from '../../src/kube/namespaces.ts';
import { applyNamespaceHolds } from '../../src/rollout/run.ts';
import type { Tenant } from '../../src/tenants/model.ts';
import { startFakeKube, type FakeKube } from '../support/fake-kube/index.ts';
import { testContext } from '../support/action-context.ts';
import { RecordingLogger } from '../support/logger.ts';

const HOLD = 'deploy-actions.dotmac.io/hold';
const UNTIL = 'deploy-actions.dotmac.io/hold-until';

describe('namespace hold annotations for every tenant source (API fake)', () => {
  let kube: FakeKube;
  let dir = '';
  beforeAll(async () => {
    kube = await startFakeKube();
    // Not labelled as tenants: only a tenants file or a list names them.
    kube.addNamespaces(['tenant-t01', 'tenant-t04', 'other-a', 'other-b']);
    kube.put({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'tenant-t02', annotations: { [HOLD]: 'customer audit' } } });
    kube.put({
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name: 'tenant-t03', annotations: { [HOLD]: 'migration', [UNTIL]: '2999-01-01T00:00:00Z' } },
    });
    dir = mkdtempSync(join(tmpdir(), 'ns-holds-'));
  });
  afterAll(async () => {
    await kube?.close();
    rmSync(dir, { recursive: true, force: true });
  });
  beforeEach(() => {
    kube.clearFaults();
    kube.clearRequests();
  });
  const nsReads = () => kube.requests.filter((r) => r.method === 'GET' && r.path.startsWith('/api/v1/namespaces'));
  const fast = { kubeconfigYaml: '', pageSize: 2, requests: { sleep: async () => {} } };
  const cluster = () => createCluster({ ...fast, kubeconfigYaml: kube.kubeconfigYaml });

  it('one paginated list of namespaces, not one request per tenant', async () => {
    const r = await namespacesByName(cluster(), ['tenant-t01', 'tenant-t02', 'tenant-t03', 'tenant-gone']);
    expect([...r.found.keys()].sort()).toEqual(['tenant-t01', 'tenant-t02', 'tenant-t03']);
    expect(r.found.get('tenant-t02')!.annotations[HOLD]).toBe('customer audit');
    expect(r.forbidden).toEqual([]);
    // 10 namespaces in pages of 2: every request is a page of the list, none names a namespace.
    expect(nsReads().every((q) => q.path === '/api/v1/namespaces')).toBe(true);
    expect(nsReads().length).toBe(5);
  });

  it('credentials that may not list namespaces: one GET per namespace; a namespace they may not read is named', async () => {
    kube.failNext((q) => q.path === '/api/v1/namespaces', 403);
    kube.failNext((q) => q.path === '/api/v1/namespaces/tenant-t03', 403);
    const r = await namespacesByName(cluster(), ['tenant-t01', 'tenant-t02', 'tenant-t03', 'tenant-gone']);
    expect([...r.found.keys()].sort()).toEqual(['tenant-t01', 'tenant-t02']);
    expect(r.forbidden).toEqual(['tenant-t03']);
    expect(
      nsReads()
        .map((q) => q.path)
        .filter((p) => p !== '/api/v1/namespaces')
        .sort(),
    ).toEqual([
      '/api/v1/namespaces/tenant-gone',
      '/api/v1/namespaces/tenant-t01',
      '/api/v1/namespaces/tenant-t02',
      '/api/v1/namespaces/tenant-t03',
    ]);
  });

  it('a cluster that does not answer is no verdict: a deploy stops, a plan says so and goes on', async () => {
    kube.inject({ path: '/api/v1/namespaces' }, { status: 503 }, { times: Infinity });
    const logger = new RecordingLogger();
    const t = (id: string): Tenant => ({ id, slug: id, namespace: `tenant-${id}`, release: id, labels: {}, values: {}, valuesFiles: [] });
    const ports = {
      logger,
      readNamespaces: async (ts: readonly Tenant[]) => {
        const r = await namespacesByName(
          cluster(),
          ts.map((x) => x.namespace),
        );
        return { found: new Map([...r.found].map(([n, ns]) => [`:${n}`, ns])), forbidden: r.forbidden };
      },
    };
    await expect(applyNamespaceHolds([t('t02')], ports, { bestEffort: false })).rejects.toThrow(/unable to handle the request/);
    const planned = await applyNamespaceHolds([t('t02')], ports, { bestEffort: true });
    expect(planned[0]!.hold).toBeUndefined();
    expect(logger.text()).toMatch(/warning: namespace hold annotations not read \(.*\): planned without them; the deploy reads them again/);
  });

  it('through tenant-rollout: a list and a tenants file both plan annotated tenants as held', async () => {
    const file = join(dir, 'tenants.yaml');
    writeFileSync(file, ['tenants:', '  - id: t01', '  - id: t03', '  - id: t04'].join('\n'));
    for (const source of [{ tenants: 't01,t02,t04' }, { 'tenants-file': file }] as Record<string, string>[]) {
      kube.clearRequests();
      const ctx = testContext(
        { phase: 'plan', pilot: '0', kubeconfig: kube.kubeconfigYaml, ...source },
        { env: { PATH: process.env.PATH } },
      );
      await createTenantRollout().main(ctx);
      const plan = JSON.parse(ctx.outputs.plan!) as { waves: { id: string }[][] };
      const heldId = 'tenants' in source ? 't02' : 't03';
      expect(plan.waves.flat().map((x) => x.id)).toEqual(['t01', 't04']);
      expect(ctx.summaries.join('\n')).toMatch(
        new RegExp(`Held \\(not deployed\\):\\*\\* \`${heldId}\` held \\(annotation on namespace tenant-${heldId}\\)`),
      );
      expect(nsReads().every((q) => q.path === '/api/v1/namespaces')).toBe(true);
    }
  });
});
