/**
 * A cluster whose API server goes away in the middle of a wave, through dist/ with real helm 3
 * and 4 against one API fake per cluster: the tenant being upgraded there is `unknown` with the
 * command to look (its state cannot be read, so it is neither rolled back nor passed), the
 * cluster's other tenants are `held` and untouched, the other cluster finishes, and the run holds.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RolloutReport } from '../../src/rollout/report.ts';
import type { FakeKube } from '../support/fake-kube/index.ts';
import { clustersTenantsFile, multiKubeconfig, startClusterFakes } from '../support/clusters.ts';
import { exampleChart, helmBinaries } from '../support/tools.ts';
import { runAction } from './run-action.ts';

const CLUSTERS = [
  { name: 'eu-1', tenants: ['a1', 'a2', 'a3'] },
  { name: 'us-1', tenants: ['c1', 'c2', 'c3'] },
] as const;

describe.each([4, 3] as const)('a cluster lost mid-wave, through dist/ (helm %i)', (major) => {
  const fakes = new Map<string, FakeKube>();
  let dir = '';
  let file = '';
  beforeAll(async () => {
    // Pods take 3 s to become Ready: an upgrade is still in flight when its cluster goes, even on a loaded machine.
    await startClusterFakes(fakes, CLUSTERS, { podReadyDelayMs: 3000 });
    dir = mkdtempSync(join(tmpdir(), 'cluster-lost-'));
    file = join(dir, 'tenants.yaml');
    writeFileSync(file, clustersTenantsFile(CLUSTERS));
  });
  afterAll(async () => {
    for (const k of fakes.values()) await k.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const config = () => multiKubeconfig(fakes, 'eu-1');
  const pending = (k: FakeKube, t: string) =>
    k.list('secrets', `tenant-${t}`).some((s) => String(s.metadata.labels?.status).startsWith('pending-'));

  it(
    'the tenant in flight there is unknown with the command to look; the rest of it held; the other cluster finishes',
    { timeout: 240_000 },
    async () => {
      const us = fakes.get('us-1')!;
      let closed: Promise<void> | undefined;
      const r = await runAction(
        'tenant-rollout',
        {
          'tenants-file': file,
          chart: exampleChart,
          set: 'image.tag=1.0.0',
          pilot: '0',
          'batch-size': '100%',
          'max-parallel': '2',
          'max-parallel-per-cluster': '1',
          timeout: '30s',
          kubeconfig: config(),
          helm: helmBinaries[major],
        },
        {
          onStart: () => {
            const iv = setInterval(() => {
              if (!pending(us, 'c1')) return;
              clearInterval(iv);
              closed = us.close();
            }, 20);
          },
        },
      );
      expect(closed).toBeDefined();
      await closed;
      const rep = JSON.parse(r.outputs.report!) as RolloutReport;
      expect(r.code).toBe(4);
      expect(rep.outcome).toBe('held');
      const by = new Map(rep.tenants.map((t) => [t.id, t]));
      expect(by.get('c1')!.status).toBe('unknown');
      expect(by.get('c1')!.error).toMatch(/helm (history|status) c1 -n tenant-c1 --kube-context us-1/);
      for (const t of ['c2', 'c3']) expect([t, by.get(t)!.status]).toEqual([t, 'held']);
      for (const t of ['a1', 'a2', 'a3']) expect([t, by.get(t)!.status]).toEqual([t, 'succeeded']);
      expect(rep.counts).toMatchObject({ failed: 0, 'failed-rolled-back': 0, 'failed-untouched': 0 });
    },
  );
});
