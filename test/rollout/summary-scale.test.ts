/**
 * The job summary at large fleets: never over GitHub's 1 MiB per step, per-step counts, every
 * failure and rollback in full, and the complete per-tenant table left to the report file.
 * Reports of 5,000 and 10,000 tenants are generated here, not stored.
 */
import { describe, expect, it } from 'vitest';
import type { TenantResult } from '../../src/rollout/execute.ts';
import type { TenantStatus } from '../../src/rollout/outcome.ts';
import { buildReport, renderReport, SUMMARY_BUDGET } from '../../src/rollout/report.ts';

const MiB = 1024 * 1024;

function report(n: number, statusOf: (i: number) => TenantStatus, reason: (i: number) => string) {
  const tenants: TenantResult[] = Array.from({ length: n }, (_, i) => {
    const status = statusOf(i);
    const id = `t${String(i).padStart(5, '0')}`;
    return {
      id,
      namespace: `tenant-${id}`,
      release: id,
      step: `wave ${Math.floor(i / (n / 10)) + 1}/10`,
      status,
      revisionBefore: 3,
      revisionAfter: status === 'succeeded' ? 4 : 5,
      durationMs: 40_000,
      ...(status === 'succeeded' ? {} : { error: reason(i) }),
    };
  });
  return buildReport(
    { tenants, durationMs: 3_600_000, stop: { outcome: 'halted', reason: 'failure budget spent' } },
    { phase: 'waves', planFingerprint: 'f'.repeat(64), target: 'abc', startedAt: new Date(0).toISOString() },
  );
}

describe('summary at scale', () => {
  it('5,000 tenants, 110 failed with long reasons: per-step counts, every failure in full, under 1 MiB', () => {
    const rep = report(
      5000,
      (i) => (i % 50 === 7 ? 'failed-rolled-back' : i % 500 === 9 ? 'failed' : 'succeeded'),
      (i) => `pod t${i}-x: CrashLoopBackOff (5 restarts) ${'·'.repeat(400)}`,
    );
    const md = renderReport(rep);
    expect(Buffer.byteLength(md)).toBeLessThan(SUMMARY_BUDGET);
    expect(Buffer.byteLength(md)).toBeLessThan(MiB);
    for (const t of rep.tenants.filter((x) => x.status !== 'succeeded')) expect(md).toContain(`| ${t.id} | ${t.step} |`);
    for (const t of rep.tenants.filter((x) => x.status !== 'succeeded')) expect(md).toContain(t.error!);
    expect(md).not.toContain('| t00000 |');
    expect(md).toContain('| wave 3/10 | 489 | 10 | 1 |');
    expect(md).toContain('tenants that succeeded, were unchanged or skipped are in the report file');
  });

  it('10,000 failures with 2 KB reasons: cut at the budget, saying how many did not fit', () => {
    const rep = report(
      10_000,
      () => 'failed-rolled-back',
      (i) => `t${i}: ${'x'.repeat(2000)}`,
    );
    const md = renderReport(rep);
    expect(Buffer.byteLength(md)).toBeLessThan(SUMMARY_BUDGET);
    const shown = md.split('\n').filter((l) => /^\| t\d{5} \|/.test(l)).length;
    expect(shown).toBeGreaterThan(300);
    expect(md).toContain(`… ${10_000 - shown} more failed or rolled-back tenants did not fit in the summary: see the report file.`);
  });

  it('a small fleet keeps its full table', () => {
    const rep = report(
      20,
      (i) => (i === 3 ? 'failed' : 'succeeded'),
      () => 'helm: boom',
    );
    const md = renderReport(rep);
    expect(md.split('\n').filter((l) => /^\| t\d{5} \|/.test(l))).toHaveLength(20);
    expect(md).not.toMatch(/^\| step \|/m);
  });
});
