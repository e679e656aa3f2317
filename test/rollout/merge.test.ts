import { describe, expect, it } from 'vitest';
import type { TenantResult } from '../../src/rollout/execute.ts';
import { mergeReports } from '../../src/rollout/merge.ts';
import { parseBatchSize, parsePilot, planRollout, stepsForPhase } from '../../src/rollout/plan.ts';
import { buildReport, renderReport } from '../../src/rollout/report.ts';
import type { Tenant } from '../../src/tenants/model.ts';
import { tenant } from '../support/rollout-fleet.ts';

const tenants: Tenant[] = ['t1', 't2', 't3', 't4'].map(tenant);
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

  it("adds up the shards' API figures, upgrade retries and parallelism moves; keeps the extremes of their limits", () => {
    const a = {
      ...shard(['t1', 't2'], { startedAt: '2026-12-07T10:00:00.000Z' }),
      api: { requests: 40, retried: 2, retries: 3, exhausted: 0, byReason: { '429': 2, '503': 1 } },
      parallelism: { ceiling: 10, min: 4, max: 10, final: 8, decreases: 2, increases: 1, throttled: 5, slow: 0 },
    };
    a.tenants[0] = { ...a.tenants[0]!, attempts: 3 };
    const b = {
      ...shard(['t3', 't4'], { startedAt: '2026-12-07T10:00:01.000Z' }),
      api: { requests: 35, retried: 1, retries: 1, exhausted: 1, byReason: { '503': 1, reset: 1 } },
      parallelism: { ceiling: 10, min: 6, max: 10, final: 10, decreases: 1, increases: 1, throttled: 2, slow: 1 },
    };
    const merged = mergeReports(plan, 'all', [a, b]);
    expect(merged.api).toEqual({ requests: 75, retried: 3, retries: 4, exhausted: 1, byReason: { '429': 2, '503': 2, reset: 1 } });
    expect(merged.parallelism).toEqual({ ceiling: 10, min: 4, max: 10, final: 8, decreases: 3, increases: 2, throttled: 7, slow: 1 });
    expect(merged.upgradeRetries).toEqual({ tenants: 1, retries: 2 });
    // Shards without figures give none (no zeros invented).
    const plain = mergeReports(plan, 'all', [shard(['t1', 't2', 't3', 't4'], { startedAt: '2026-12-07T10:00:00.000Z' })]);
    expect([plain.api, plain.parallelism, plain.upgradeRetries]).toEqual([undefined, undefined, undefined]);
  });
});
