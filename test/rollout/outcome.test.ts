import { describe, expect, it } from 'vitest';
import {
  EXIT_CODES,
  RolloutEndedError,
  TENANT_STATUSES,
  USAGE_EXIT_CODE,
  decideOutcome,
  outcomeLine,
  summaryHeading,
} from '../../src/rollout/outcome.ts';
import type { TenantStatus } from '../../src/rollout/outcome.ts';
import { buildReport, renderReport } from '../../src/rollout/report.ts';
import type { TenantResult } from '../../src/rollout/execute.ts';

const tenant = (id: string, status: TenantStatus): TenantResult => ({
  id,
  namespace: `tenant-${id}`,
  release: id,
  step: 'pilot',
  status,
  durationMs: 1,
});
const meta = { phase: 'all', planFingerprint: 'f'.repeat(64), target: 'abc', startedAt: '2026-12-07T10:00:00Z' };

describe('the outcome vocabulary', () => {
  it('exit codes: succeeded 0, failed 1, usage 2, halted 3, held 4, paused 5, cancelled 130', () => {
    expect(EXIT_CODES).toEqual({ succeeded: 0, failed: 1, halted: 3, held: 4, paused: 5, cancelled: 130 });
    expect(USAGE_EXIT_CODE).toBe(2);
    expect(new RolloutEndedError('held', 'x').exitCode).toBe(4);
  });

  it('cancelled, halted and paused stops decide; a bad tenant fails the run, even beside a hold; then an unknown tenant holds', () => {
    expect(decideOutcome(['succeeded', 'unchanged', 'skipped', 'held'])).toBe('succeeded');
    expect(decideOutcome(['succeeded', 'failed-untouched'])).toBe('failed');
    expect(decideOutcome(['succeeded', 'rolled-back'])).toBe('failed');
    expect(decideOutcome(['failed', 'unknown'])).toBe('failed');
    expect(decideOutcome(['succeeded', 'unknown'])).toBe('held');
    // One cluster unreachable (its tenants held), another's tenant failed: the failure outranks the hold.
    expect(decideOutcome(['succeeded', 'held', 'failed-rolled-back'], { outcome: 'held', reason: 'cluster us-1 is unreachable' })).toBe(
      'failed',
    );
    expect(decideOutcome(['succeeded', 'held'], { outcome: 'held', reason: 'cluster us-1 is unreachable' })).toBe('held');
    expect(decideOutcome(['succeeded'], { outcome: 'paused', reason: 'paused by ops' })).toBe('paused');
    expect(decideOutcome(['failed'], { outcome: 'halted', reason: 'budget' })).toBe('halted');
  });

  it('each outcome has its heading with the exit code, and the count line names every status present', () => {
    expect(summaryHeading('held', 'waves')).toBe('### tenant-rollout (waves): ⏸️ held (exit 4)');
    const counts = Object.fromEntries(TENANT_STATUSES.map((s) => [s, 0])) as Record<TenantStatus, number>;
    Object.assign(counts, { succeeded: 2, unknown: 1, held: 7 });
    expect(outcomeLine('held', counts)).toBe('held: 2 succeeded, 1 unknown, 7 held');
  });
});

describe('the report carries the outcome', () => {
  it('a held run: outcome, exit code, counts of unknown/held, the next step in the summary', () => {
    const rep = buildReport(
      {
        tenants: [tenant('a', 'succeeded'), tenant('b', 'unknown'), tenant('c', 'held')],
        durationMs: 5,
        stop: { outcome: 'held', reason: 'the cluster did not answer' },
      },
      meta,
    );
    expect(rep).toMatchObject({ outcome: 'held', exitCode: 4, stoppedBecause: 'the cluster did not answer' });
    expect(rep.counts).toMatchObject({ succeeded: 1, unknown: 1, held: 1 });
    expect(rep.next).toMatch(/re-run the same job: it resumes/);
    const md = renderReport(rep);
    expect(md).toContain('### tenant-rollout (all): ⏸️ held (exit 4)');
    expect(md).toContain('**Next:** no verdict');
    // The tenant that needs a look comes first.
    expect(md.indexOf('| b |')).toBeLessThan(md.indexOf('| a |'));
  });

  it('a hold on refused credentials (401) says to log in again, not to wait for the cluster', () => {
    const held = (reason: string) =>
      buildReport({ tenants: [tenant('a', 'unknown'), tenant('b', 'held')], durationMs: 5, stop: { outcome: 'held', reason } }, meta).next;
    expect(held('no verdict for a: the Kubernetes API at https://k rejected the credentials (401 Unauthorized): check')).toMatch(
      /^no verdict: the cluster refused the credentials \(401\), most often a cloud session that expired during the run\. Re-run the same job/,
    );
    expect(held('the cluster did not answer: 503')).toMatch(/^no verdict: the cluster did not answer\./);
  });

  it('a cancel outranks the budget; a plain-text stop (older callers) is the budget', () => {
    const halted = buildReport({ tenants: [tenant('a', 'failed')], durationMs: 1, stoppedBecause: 'failure budget spent' }, meta);
    expect([halted.outcome, halted.exitCode]).toEqual(['halted', 3]);
    const cancelled = buildReport(
      { tenants: [tenant('a', 'failed')], durationMs: 1, stop: { outcome: 'halted', reason: 'budget' } },
      { ...meta, cancelled: true },
    );
    expect([cancelled.outcome, cancelled.exitCode, cancelled.stoppedBecause]).toEqual(['cancelled', 130, 'the job was cancelled']);
  });
});
