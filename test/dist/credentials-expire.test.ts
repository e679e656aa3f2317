/**
 * Cloud credentials that expire mid-rollout (an Azure OIDC session lasts about an hour and cannot
 * be refreshed; an AWS role session lasts its role-duration-seconds): every request gets 401 from
 * some point on. Through dist/ with real helm 3 and 4 against the API fake.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RolloutReport } from '../../src/rollout/report.ts';
import { startFakeKube, type FakeKube } from '../support/fake-kube/index.ts';
import { helmRevisions } from '../support/clusters.ts';
import { exampleChart, helmBinaries } from '../support/tools.ts';
import { runAction, annotations } from './run-action.ts';

const tenants = ['t01', 't02', 't03', 't04'];

describe.each([4, 3] as const)('credentials that expire mid-rollout, through dist/ (helm %i)', (major) => {
  let kube: FakeKube;
  beforeAll(async () => {
    kube = await startFakeKube({ podReadyDelayMs: 500 });
    kube.addTenantNamespaces(tenants.map((t) => `tenant-${t}`));
  });
  afterAll(async () => {
    await kube?.close();
  });

  const rollout = () =>
    runAction('tenant-rollout', {
      chart: exampleChart,
      set: 'image.tag=1.0.0',
      tenants: tenants.join(','),
      pilot: '0',
      'batch-size': '100%',
      'max-parallel': '1',
      timeout: '30s',
      kubeconfig: kube.kubeconfigYaml,
      helm: helmBinaries[major],
    });
  const revisions = (t: string) => helmRevisions(kube, `tenant-${t}`).map((r) => `${r.version}:${r.status}`);

  it(
    'from the first 401 on: the run holds, changes nothing more, says to log in again; the re-run resumes',
    { timeout: 240_000 },
    async () => {
      // Every request gets 401 from the moment t01's upgrade is recorded deployed (its verification
      // still to come): decided per request, so the moment is exact whatever the machine's speed.
      const t01Deployed = () => kube.list('secrets', 'tenant-t01').some((x) => x.metadata.labels?.status === 'deployed');
      const rule = kube.inject(() => t01Deployed(), { status: 401, message: 'Unauthorized' }, { times: Infinity });
      const r = await rollout();
      kube.clearFaults();
      expect(rule.injected).toBeGreaterThan(0);
      expect(r.code).toBe(4);
      const rep = JSON.parse(r.outputs.report!) as RolloutReport;
      expect(rep.outcome).toBe('held');
      // t01 was upgraded but could not be verified: unknown, with the command to look, never rolled back.
      const [t01, ...rest] = rep.tenants;
      expect([t01!.id, t01!.status]).toEqual(['t01', 'unknown']);
      expect(t01!.error).toMatch(/rejected the credentials \(401 Unauthorized\).*not rolled back \(look: helm status t01 -n tenant-t01/);
      expect(revisions('t01')).toEqual(['1:deployed']);
      // No tenant started after the refusal.
      expect(rest.map((t) => [t.id, t.status])).toEqual(tenants.slice(1).map((t) => [t, 'held']));
      for (const t of tenants.slice(1)) expect(revisions(t)).toEqual([]);
      expect(rep.next).toMatch(/^no verdict: the cluster refused the credentials \(401\), most often a cloud session that expired/);

      // New credentials (the fake accepts again): the same job resumes and finishes.
      const again = await rollout();
      expect(again.code, annotations(again.stdout)).toBe(0);
      const rep2 = JSON.parse(again.outputs.report!) as RolloutReport;
      expect(rep2.tenants.map((t) => [t.id, t.status])).toEqual([['t01', 'unchanged'], ...tenants.slice(1).map((t) => [t, 'succeeded'])]);
      expect(tenants.map(revisions)).toEqual(tenants.map(() => ['1:deployed']));
    },
  );
});
