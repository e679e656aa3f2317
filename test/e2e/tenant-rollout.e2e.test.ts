import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTenantRollout } from '../../src/actions/tenant-rollout/main.ts';
import type { RolloutReport } from '../../src/rollout/report.ts';
import { testContext } from '../support/action-context.ts';
import { exampleChart } from '../support/tools.ts';
import { e2eHelm, e2eImage, hasCluster, kubeconfigContent, kubectl } from './support.ts';

// Issue 3's end-to-end scenario on a real cluster: 12 labelled tenant namespaces, pilot 2,
// waves of 5; then a bad image fails the pilot, which is rolled back, and nobody else is
// touched; then a re-run with the good image skips the tenants already on it.
const run = Date.now().toString(36).slice(-5);
const tenants = Array.from({ length: 12 }, (_, i) => `e2e${run}-${String(i + 1).padStart(2, '0')}`);
const selector = `app.kubernetes.io/component=tenant,e2e-run=${run}`;

describe.skipIf(!hasCluster)('tenant-rollout against a real cluster', () => {
  beforeAll(() => {
    for (const t of tenants) {
      kubectl('create', 'namespace', `tenant-${t}`);
      kubectl(
        'label',
        'namespace',
        `tenant-${t}`,
        'app.kubernetes.io/component=tenant',
        `e2e-run=${run}`,
        ...(t.endsWith('-01') || t.endsWith('-02') ? ['ring=pilot'] : []),
      );
    }
  });
  afterAll(() => {
    for (const t of tenants) kubectl('delete', 'namespace', `tenant-${t}`, '--wait=false', '--ignore-not-found');
  });

  const rollout = async (tag: string, extra: Record<string, string> = {}) => {
    const ctx = testContext({
      selector,
      chart: exampleChart,
      set: [`image.repository=${e2eImage.repository}`, `image.tag=${tag}`, `args={${e2eImage.args.join(',')}}`].join('\n'),
      pilot: 'ring=pilot',
      'batch-size': '5',
      'max-parallel': '5',
      timeout: tag === 'bad' ? '60s' : '3m',
      kubeconfig: kubeconfigContent(),
      helm: e2eHelm,
      ...extra,
    });
    const err = await createTenantRollout()
      .main(ctx)
      .then(
        () => undefined,
        (e: Error) => e,
      );
    return { ctx, err, report: JSON.parse(ctx.outputs.report!) as RolloutReport };
  };
  const statuses = (r: RolloutReport) => Object.fromEntries(r.tenants.map((t) => [t.id, t.status]));

  it('deploys the pilot, then waves of 5, all verified', async () => {
    const { err, report } = await rollout(e2eImage.tag);
    expect(err).toBeUndefined();
    expect(report.counts.succeeded).toBe(12);
    expect(report.tenants.slice(0, 2).map((t) => t.step)).toEqual(['pilot', 'pilot']);
    expect(new Set(report.tenants.slice(2).map((t) => t.step))).toEqual(new Set(['wave 1/2', 'wave 2/2']));
  }, 900_000);

  it('a bad image fails the pilot, rolls it back, and touches no other tenant', async () => {
    const { err, report } = await rollout('bad');
    expect(err?.message).toMatch(/failure budget spent/);
    const s = statuses(report);
    // Both pilot tenants run in parallel, so both fail and both are rolled back.
    expect(report.tenants.filter((t) => t.step === 'pilot').map((t) => t.status)).toEqual(['failed-rolled-back', 'failed-rolled-back']);
    expect(Object.values(s).filter((v) => v === 'skipped')).toHaveLength(10);
    for (const t of report.tenants.filter((x) => x.status === 'skipped')) {
      const history = JSON.parse(kubectl('get', 'secrets', '-n', t.namespace, '-l', `owner=helm,name=${t.release}`, '-o', 'json')) as {
        items: unknown[];
      };
      expect(history.items).toHaveLength(1);
    }
  }, 900_000);

  it('a re-run with the good image skips the tenants already on it', async () => {
    const { err, report } = await rollout(e2eImage.tag);
    expect(err).toBeUndefined();
    // The rolled-back pilots are on the good revision's content again ("Rollback to N").
    expect(report.counts.unchanged).toBe(12);
  }, 900_000);
});
