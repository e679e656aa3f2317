/**
 * A release another run is working on (its lease is live), through dist/ with real helm 3 and 4
 * against the API fake: a run of another workflow run leaves it alone and holds (no verdict: it is
 * untouched and spends no failure budget); a re-run attempt of the run that was killed takes the
 * lease over at once (GitHub re-runs only ended runs), recovers the stuck release and deploys.
 */
import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RolloutReport } from '../../src/rollout/report.ts';
import { startFakeKube, type FakeKube } from '../support/fake-kube/index.ts';
import { helmRevisions } from '../support/clusters.ts';
import { exampleChart, helmBinaries } from '../support/tools.ts';
import { runAction, annotations } from './run-action.ts';

const runEnv = (id: string, attempt: number) => ({
  GITHUB_RUN_ID: id,
  GITHUB_RUN_ATTEMPT: String(attempt),
  GITHUB_REPOSITORY: 'acme/fleet',
});

describe.each([4, 3] as const)('a release whose lease another run holds, through dist/ (helm %i)', (major) => {
  let kube: FakeKube;
  const temps: string[] = [];
  beforeAll(async () => {
    kube = await startFakeKube({ crashLoopIntervalMs: 200 });
    kube.addTenantNamespaces(['tenant-t1', 'tenant-t2']);
  });
  afterAll(async () => {
    await kube?.close();
    for (const d of temps) rmSync(d, { recursive: true, force: true });
  });
  const top = (t: string) => helmRevisions(kube, `tenant-${t}`).at(-1);
  const roll = async (
    tag: string,
    tenants: string,
    env: Record<string, string>,
    o: { onStart?: (kill: (s: NodeJS.Signals, tree?: boolean) => void) => void; fleet?: string } = {},
  ) => {
    const r = await runAction(
      'tenant-rollout',
      {
        chart: exampleChart,
        set: `image.tag=${tag}`,
        tenants,
        pilot: '0',
        'batch-size': '100%',
        'max-parallel': '1',
        'max-failures': '0',
        timeout: '60s',
        kubeconfig: kube.kubeconfigYaml,
        helm: helmBinaries[major],
        ...(o.fleet ? { fleet: o.fleet } : {}),
      },
      { env, onStart: o.onStart },
    );
    temps.push(r.runnerTemp);
    return { ...r, report: r.outputs.report ? (JSON.parse(r.outputs.report) as RolloutReport) : undefined };
  };

  it(
    'another run holds (t1 untouched, no budget spent); a re-run attempt of the killed run takes over and deploys',
    { timeout: 240_000 },
    async () => {
      // Run 111, attempt 1: killed while t1's upgrade waits for pods that never start.
      let killed = false;
      await roll('pending', 't1', runEnv('111', 1), {
        onStart: (kill) => {
          const iv = setInterval(() => {
            if (!String(top('t1')?.status).startsWith('pending-') || !kube.get('leases', 'tenant-t1', 'deploy-actions-t1')) return;
            clearInterval(iv);
            killed = true;
            kill('SIGKILL', true);
          }, 50);
        },
      });
      expect(killed).toBe(true);
      expect(top('t1')?.status).toBe('pending-install');

      // Run 222, of another fleet that names t1 too (a mistake the fleet lock cannot see): t1's
      // lease says someone else is working on it.
      const other = await roll('1.0.3', 't1,t2', runEnv('222', 1), { fleet: 'overlap' });
      expect(other.code, annotations(other.stdout, /^::(error|warning)/)).toBe(4);
      expect(other.report!.outcome).toBe('held');
      expect(other.report!.counts).toMatchObject({ failed: 0, 'failed-untouched': 0, held: 2 });
      const t1 = other.report!.tenants.find((t) => t.id === 't1')!;
      expect(t1.status).toBe('held');
      expect(t1.error).toMatch(
        /^another run is working on tenant-t1\/t1 \(nothing was changed\): .*held by "run=acme\/fleet\/111\/1 .*re-run once it ends/,
      );
      expect(other.report!.stoppedBecause).toMatch(/^no verdict for t1: another run is working on/);
      expect(top('t1')?.status).toBe('pending-install');
      expect(top('t2')).toBeUndefined();

      // Run 111, attempt 2: its earlier attempt is over, so its live fleet lock and lease are taken over at once.
      const rerun = await roll('1.0.3', 't1,t2', runEnv('111', 2));
      expect(rerun.code, annotations(rerun.stdout)).toBe(0);
      expect(rerun.report!.tenants.map((t) => [t.id, t.status])).toEqual([
        ['t1', 'succeeded'],
        ['t2', 'succeeded'],
      ]);
      expect(rerun.stdout).toMatch(
        /its owner is gone \(its lease holder "run=acme\/fleet\/111\/1 [^"]+" is an earlier attempt of this run\)/,
      );
      expect(top('t1')?.status).toBe('deployed');
    },
  );
});
