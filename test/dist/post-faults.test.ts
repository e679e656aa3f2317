/**
 * The post step under API faults (issue 10's fault table, the `post` path), through dist/ with
 * real helm 3 and 4: main is SIGKILLed while three upgrades wait, then post runs with 503s, a 429
 * with Retry-After and a dropped connection on exactly the requests that return those tenants
 * to a good state. Every tenant ends back on its last deployed revision, nothing left pending.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeKube, type FakeKube } from '../support/fake-kube/index.ts';
import { helmRevisions } from '../support/clusters.ts';
import { exampleChart, helmBinaries } from '../support/tools.ts';
import { runAction, annotations } from './run-action.ts';

const tenants = ['t1', 't2', 't3'];
const ns = (t: string) => `/api/v1/namespaces/tenant-${t}`;

describe.each([4, 3] as const)('post under API faults, through dist/ (helm %i)', (major) => {
  let kube: FakeKube;
  beforeAll(async () => {
    kube = await startFakeKube({ crashLoopIntervalMs: 200 });
    kube.addTenantNamespaces(tenants.map((t) => `tenant-${t}`));
  });
  afterAll(async () => {
    await kube?.close();
  });
  const rows = (t: string) => helmRevisions(kube, `tenant-${t}`);
  const image = (t: string): string => kube.get('deployments', `tenant-${t}`, t)?.spec.template.spec.containers[0].image ?? '';
  const rollout = (
    tag: string,
    onStart?: Parameters<typeof runAction>[2] extends infer O ? (O extends { onStart?: infer S } ? S : never) : never,
  ) =>
    runAction(
      'tenant-rollout',
      {
        chart: exampleChart,
        set: `image.tag=${tag}`,
        tenants: tenants.join(','),
        pilot: '0',
        'batch-size': '100%',
        'max-parallel': '3',
        timeout: '90s',
        kubeconfig: kube.kubeconfigYaml,
        helm: helmBinaries[major],
      },
      { onStart },
    );

  it('every in-flight tenant back on its last deployed revision, whatever the faults', { timeout: 240_000 }, async () => {
    const first = await rollout('1.0.0');
    expect(first.code).toBe(0);
    let killed = false;
    const main = await rollout('pending', (kill) => {
      const iv = setInterval(() => {
        if (!tenants.every((t) => rows(t).at(-1)?.status === 'pending-upgrade')) return;
        clearInterval(iv);
        killed = true;
        kill('SIGKILL', true);
      }, 50);
    });
    expect(killed).toBe(true);
    const fromHelm = (r: { userAgent?: string }) => /helm/i.test(r.userAgent ?? '');
    const rules = [
      // t1: its history reads fail twice (503), helm's and the action's alike.
      kube.inject({ path: `${ns('t1')}/secrets`, verb: 'list' }, { status: 503 }, { times: 2 }),
      // t2: the rollback's revision write is throttled once (429, Retry-After 1 s).
      kube.inject({ path: `${ns('t2')}/secrets`, verb: 'create' }, { status: 429, retryAfterSeconds: 1 }, { times: 1 }),
      // t3: the connection drops under helm's first read of the release.
      kube.inject((r) => r.path === `${ns('t3')}/secrets` && r.method === 'GET' && fromHelm(r), { drop: true }, { times: 1 }),
    ];
    const post = await runAction('tenant-rollout', {}, { phase: 'post', state: main.state, runnerTemp: main.runnerTemp });
    kube.clearFaults();
    expect(rules.map((r) => r.injected)).toEqual([2, 1, 1]);
    expect(post.code, annotations(post.stdout, /^::(error|warning)/)).toBe(0);
    for (const t of tenants) {
      const h = rows(t);
      // Revision 1 (1.0.0), 2 the killed upgrade (helm leaves its row as it was), 3 the rollback to 1:
      // the release is no longer pending (helm looks at the latest revision only).
      expect(h.at(-1), `${t}: ${JSON.stringify(h)}`).toMatchObject({ status: 'deployed', version: 3 });
      expect(h.map((x) => x.version)).toEqual([1, 2, 3]);
      expect(image(t)).toMatch(/:1\.0\.0$/);
    }
  });
});
