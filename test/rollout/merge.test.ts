import { describe, expect, it } from 'vitest';
import type { TenantResult } from '../../src/rollout/execute.ts';
import { mergeReports } from '../../src/rollout/merge.ts';
import { parseBatchSize, parsePilot, planRollout, stepsForPhase } from '../../src/rollout/plan.ts';
import { buildReport, renderReport } from '../../src/rollout/report.ts';
import type { Tenant } from '../../src/tenants/model.ts';

const tenants: Tenant[] = ['t1', 't2', 't3', 't4'].map((id) => ({
  id,
  slug: id,
  namespace: `tenant-${id}`,
  release: id,
  labels: {},
  values: {},
  valuesFiles: [],
}));
const plan = planRollout(tenants, { pilot: parsePilot('0'), batchSize: parseBatchSize('100%') });
const step = stepsForPhase(plan, 'all')[0]!;

/** One shard's report: it ran `ids`, each succeeding. */
function shard(ids: string[], o: { dryRun?: boolean; startedAt: string }) {
  const results: TenantResult[] = ids.map((id) => ({
    id,
    namespace: `tenant-${id}`,
    release: id,
    step: step.name,
    status: 'succeeded',
    revisionBefore: 1,
    revisionAfter: 2,
    durationMs: 10,
  }));
  return buildReport(
    { tenants: results, durationMs: 100 },
    { phase: 'all', planFingerprint: plan.fingerprint, target: '1.2.0', startedAt: o.startedAt, dryRun: o.dryRun },
  );
}

describe('mergeReports', () => {
  it('keeps a dry run a dry run: the merged report and its summary say nothing was changed', () => {
    const merged = mergeReports(plan, 'all', [
      shard(['t1', 't2'], { dryRun: true, startedAt: '2026-12-07T10:00:00.000Z' }),
      shard(['t3', 't4'], { dryRun: true, startedAt: '2026-12-07T10:00:01.000Z' }),
    ]);
    expect(merged.dryRun).toBe(true);
    expect(merged.counts.succeeded).toBe(4);
    expect(renderReport(merged)).toMatch(/DRY RUN: nothing was changed/);
  });

  it('a real run merges without the label', () => {
    const merged = mergeReports(plan, 'all', [
      shard(['t1', 't2'], { startedAt: '2026-12-07T10:00:00.000Z' }),
      shard(['t3', 't4'], { startedAt: '2026-12-07T10:00:01.000Z' }),
    ]);
    expect(merged.dryRun).toBeUndefined();
    expect(renderReport(merged)).not.toMatch(/DRY RUN/);
    expect(merged.durationMs).toBe(1100);
  });

  it('refuses to merge a dry run with a real one: they are reports of different runs', () => {
    expect(() =>
      mergeReports(plan, 'all', [
        shard(['t1', 't2'], { dryRun: true, startedAt: '2026-12-07T10:00:00.000Z' }),
        shard(['t3', 't4'], { startedAt: '2026-12-07T10:00:01.000Z' }),
      ]),
    ).toThrow(/1 of 2 reports are of a dry run/);
  });
});
