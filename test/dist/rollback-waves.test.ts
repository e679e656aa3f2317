/**
 * tenant-rollout `phase: rollback` through dist/ with real helm 3 and 4 against the API fake: the
 * plan is shown before anything runs, waves run in order, and the failure budget stops the
 * rollback (later waves are skipped, their tenants untouched), as in a rollout.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RolloutReport } from '../../src/rollout/report.ts';
import { startFakeKube, type FakeKube } from '../support/fake-kube/index.ts';
import { helmRevisions } from '../support/clusters.ts';
import { exampleChart, helmBinaries } from '../support/tools.ts';
import { runAction, annotations } from './run-action.ts';

const tenants = ['t1', 't2', 't3', 't4'];

describe.each([4, 3] as const)('rollback in waves with a failure budget, through dist/ (helm %i)', (major) => {
  let kube: FakeKube;
  let dir = '';
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'rollback-waves-'));
    kube = await startFakeKube();
    kube.addTenantNamespaces(tenants.map((t) => `tenant-${t}`));
  });
  afterAll(async () => {
    await kube?.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const common = { tenants: tenants.join(','), timeout: '30s', 'max-parallel': '1' };
  const run = (over: Record<string, string>) =>
    runAction('tenant-rollout', { ...common, kubeconfig: kube.kubeconfigYaml, helm: helmBinaries[major], ...over });
  const revisions = (t: string) => helmRevisions(kube, `tenant-${t}`).map((r) => `${r.version}:${r.status}`);

  it(
    'one wave at a time; the budget spent in wave 2 leaves waves 3 and 4 untouched; the plan came first',
    { timeout: 240_000 },
    async () => {
      let report = '';
      for (const tag of ['1.0.0', '1.1.0']) {
        const r = await run({ chart: exampleChart, set: `image.tag=${tag}`, pilot: '0', 'batch-size': '100%' });
        expect(r.code, annotations(r.stdout)).toBe(0);
        report = r.outputs.report!;
      }
      const file = join(dir, 'report.json');
      writeFileSync(file, report);
      // t2's revision 1 was pruned (history-max) since that run: its target is gone, a failure that changes nothing.
      kube.remove('secrets', 'tenant-t2', 'sh.helm.release.v1.t2.v1');
      const r = await run({ phase: 'rollback', 'rollback-report': file, 'batch-size': '1', 'max-failures': '0' });
      expect(r.code, annotations(r.stdout)).toBe(3);
      const rep = JSON.parse(r.outputs.report!) as RolloutReport;
      expect(rep.outcome).toBe('halted');
      expect(rep.tenants.map((t) => [t.id, t.step, t.status])).toEqual([
        ['t1', 'wave 1/4', 'succeeded'],
        ['t2', 'wave 2/4', 'failed-untouched'],
        ['t3', 'wave 3/4', 'skipped'],
        ['t4', 'wave 4/4', 'skipped'],
      ]);
      expect(rep.tenants[1]!.error).toMatch(/revision 1 is no longer in the history/);
      expect(rep.stoppedBecause).toMatch(/^failure budget spent: 1 failed, 0 allowed/);
      expect(revisions('t1')).toEqual(['1:superseded', '2:superseded', '3:deployed']);
      expect(revisions('t2')).toEqual(['2:deployed']);
      for (const t of ['t3', 't4']) expect(revisions(t)).toEqual(['1:superseded', '2:deployed']);
      // The plan, each tenant's target with it, in the log and the summary before the first rollback.
      const planAt = r.stdout.indexOf('rollback plan ');
      const firstRollback = r.stdout.search(/::debug::\S+helm rollback /);
      expect(planAt).toBeGreaterThan(-1);
      expect(firstRollback).toBeGreaterThan(planAt);
      // The log's plan is plain text (a log renders no Markdown); the summary's is the table.
      expect(r.stdout).toMatch(/^ {2}1 +1 {2}t1$/m);
      expect(r.stdout).not.toContain('| wave |');
      expect(r.stdout).toMatch(/^ {2}t3: to revision 1 \(revision 1, before run run=local/m);
      expect(r.summary).toMatch(/### tenant-rollout rollback plan\n\nreport \S+report\.json \(run run=local\)\n/);
    },
  );
});
