/**
 * The post step of a killed multi-cluster rollout, through dist/ with real helm 4 against one API
 * fake per cluster: it recovers every cluster's in-flight releases (the clusters at once), and a
 * cluster it cannot reach leaves only its own releases listed, each named with the command to look.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FakeKube } from '../support/fake-kube/index.ts';
import { clustersTenantsFile, helmRevisions, multiKubeconfig, startClusterFakes } from '../support/clusters.ts';
import { exampleChart, helmBinaries } from '../support/tools.ts';
import { runAction } from './run-action.ts';

const CLUSTERS = [
  { name: 'eu-1', tenants: ['a1', 'a2'] },
  { name: 'us-1', tenants: ['c1'] },
] as const;

describe('post after a killed multi-cluster rollout, through dist/ (helm 4)', () => {
  const fakes = new Map<string, FakeKube>();
  let dir = '';
  let file = '';
  beforeAll(async () => {
    await startClusterFakes(fakes, CLUSTERS);
    dir = mkdtempSync(join(tmpdir(), 'post-clusters-'));
    file = join(dir, 'tenants.yaml');
    writeFileSync(file, clustersTenantsFile(CLUSTERS));
  });
  afterAll(async () => {
    for (const k of fakes.values()) await k.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const kubeconfig = () => multiKubeconfig(fakes, 'eu-1');
  const pendingIn = (k: FakeKube, t: string) =>
    k.list('secrets', `tenant-${t}`).some((s) => String(s.metadata.labels?.status).startsWith('pending-'));
  const helmReleases = (k: FakeKube, t: string) => helmRevisions(k, `tenant-${t}`);

  it('recovers every reachable cluster; an unreachable one leaves only its releases, named', { timeout: 240_000 }, async () => {
    const eu = fakes.get('eu-1')!;
    const us = fakes.get('us-1')!;
    let killed = false;
    // Pods that never start: every first install waits until the kill.
    const main = await runAction(
      'tenant-rollout',
      {
        'tenants-file': file,
        chart: exampleChart,
        set: 'image.tag=pending',
        pilot: '0',
        'batch-size': '100%',
        'max-parallel': '3',
        timeout: '90s',
        kubeconfig: kubeconfig(),
        helm: helmBinaries[4],
      },
      {
        onStart: (kill) => {
          const iv = setInterval(() => {
            if (!(pendingIn(eu, 'a1') && pendingIn(eu, 'a2') && pendingIn(us, 'c1'))) return;
            clearInterval(iv);
            killed = true;
            kill('SIGKILL', true);
          }, 50);
        },
      },
    );
    expect(killed).toBe(true);
    expect(main.state['tenant-rollout-inflight']).toBeTruthy();
    // us-1's API server is gone by the time post runs.
    await us.close();
    fakes.delete('us-1');
    const post = await runAction('tenant-rollout', {}, { phase: 'post', state: main.state, runnerTemp: main.runnerTemp });
    expect(post.code).toBe(1);
    // us-1's release is retried, then named with the command to look; eu-1's are not held up by it.
    expect(post.stdout).toMatch(
      /::error::tenant-c1\/c1: could not recover after the cancelled upgrade: .*Look with "helm history c1 -n tenant-c1 --kube-context us-1"/,
    );
    expect(post.stdout).toMatch(/::error::post: 1 releases could not be recovered: tenant-c1\/c1$/m);
    expect(post.stdout.indexOf('tenant-a1/a1: the job stopped during the upgrade')).toBeLessThan(
      post.stdout.indexOf('tenant-c1/c1: could not recover'),
    );
    // eu-1's two first installs that never became ready: uninstalled, nothing left pending.
    for (const t of ['a1', 'a2']) expect(helmReleases(eu, t), t).toEqual([]);
  });
});
