/** The end-of-run notices from real reports: halted for every stop that is not a cancel, with the reason and failed tenants. */
import { describe, expect, it } from 'vitest';
import { endNotices, stepNotice } from '../../src/notify/notices.ts';
import { slackMessage, wireMessage } from '../../src/notify/payloads.ts';
import type { TenantResult } from '../../src/rollout/execute.ts';
import type { RolloutStop } from '../../src/rollout/outcome.ts';
import { buildReport } from '../../src/rollout/report.ts';

const t = (id: string, status: TenantResult['status'], error?: string): TenantResult => ({
  id,
  namespace: `tenant-${id}`,
  release: id,
  step: 'wave 1/2',
  status,
  durationMs: 1,
  error,
});
const meta = { phase: 'waves', planFingerprint: 'p', target: 't', startedAt: '2026-12-07T10:00:00Z' };
const ctx = { phase: 'waves', fleet: 'prod-eu', runUrl: 'https://github.example/r', reportUrl: 'https://github.example/r#artifacts' };
const events = (stop: RolloutStop | undefined, tenants: TenantResult[], cancelled = false) =>
  endNotices(ctx, buildReport({ tenants, stop, stoppedBecause: stop?.reason, durationMs: 1000 }, { ...meta, cancelled }));

describe('end notices', () => {
  it.each([
    ['halted', 'failure budget spent: 1 failed, 0 allowed'],
    ['held', 'the cluster could not be read: no verdict'],
    ['paused', 'the fleet was paused by alice'],
  ] as const)('%s: a halted notice with the reason and the failed tenants, then finished', (outcome, reason) => {
    const n = events({ outcome, reason }, [t('a', 'succeeded'), t('b', 'failed-rolled-back', 'smoke check /: 503'), t('c', 'skipped')]);
    expect(n.map((x) => x.event)).toEqual(['halted', 'rolled-back', 'finished']);
    // A real failure outranks a hold (decideOutcome): with b failed, the held run ends failed.
    expect(n[0]).toMatchObject({
      outcome: outcome === 'held' ? 'failed' : outcome,
      text: `Stopped: ${reason}. No further tenant was started.`,
      failedCount: 1,
    });
    expect(n[0]!.failed).toEqual([{ id: 'b', status: 'failed-rolled-back', reason: 'smoke check /: 503' }]);
    expect(n[2]!.links).toEqual([
      { label: 'Report', url: ctx.reportUrl },
      { label: 'Open the run', url: ctx.runUrl },
    ]);
  });

  it('succeeded: only finished; cancelled: no halted notice', () => {
    expect(events(undefined, [t('a', 'succeeded')]).map((x) => x.event)).toEqual(['finished']);
    expect(events({ outcome: 'cancelled', reason: 'the job was cancelled' }, [t('a', 'skipped')], true).map((x) => x.event)).toEqual([
      'finished',
    ]);
  });

  it('a dry run is labelled in every notice: the title, the payload field, and the facts of slack and teams', () => {
    const dry = { ...ctx, version: '1.4.0', dryRun: true };
    const rep = buildReport({ tenants: [t('a', 'succeeded')], durationMs: 1000 }, { ...meta, dryRun: true });
    const step = stepNotice(dry, { type: 'step-finished', step: 'wave 1/2', index: 0, steps: 2, results: [t('a', 'succeeded')] });
    for (const n of [step, ...endNotices(dry, rep)]) {
      expect(n.title).toMatch(/^DRY RUN: prod-eu: 1\.4\.0 /);
      expect(n.dryRun).toBe(true);
      expect(JSON.parse(wireMessage('json', n, { nowMs: 0 }).body)).toMatchObject({ dryRun: true });
      expect(JSON.stringify(slackMessage(n))).toContain('*Dry run*\\nnothing was changed');
    }
    // A real run carries neither.
    const real = endNotices({ ...ctx, version: '1.4.0' }, buildReport({ tenants: [t('a', 'succeeded')], durationMs: 1000 }, meta))[0]!;
    expect(real.title).toBe('prod-eu: 1.4.0 rollout succeeded');
    expect('dryRun' in real).toBe(false);
  });
});
