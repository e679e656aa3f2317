import { cell, formatMs, tableRow } from '../core/format.ts';
import type { SmokeReport } from './smoke.ts';

/** Rows beyond this are left to the JSON report (the job summary is capped at 1 MiB). */
const MAX_ROWS = 500;

/** The job summary: totals, then one row per target and check, failures first. */
export function smokeSummary(report: SmokeReport, title = 'Smoke test'): string {
  const { totals } = report;
  const verdict = report.passed ? '✅ passed' : '❌ failed';
  const lines = [
    `### ${title}: ${verdict}`,
    '',
    `${totals.targets - totals.failedTargets}/${totals.targets} targets passed, ` +
      `${totals.checks - totals.failedChecks}/${totals.checks} checks passed, in ${formatMs(report.durationMs)}.`,
    '',
    '| | Target | Check | Measured | Problem |',
    '|---|---|---|---|---|',
  ];
  const rows = report.targets.flatMap((t) => t.checks.map((c) => ({ t, c })));
  rows.sort((a, b) => Number(a.c.passed) - Number(b.c.passed));
  for (const { t, c } of rows.slice(0, MAX_ROWS)) {
    const where = c.kind === 'http' && c.url ? `${c.check} (${c.method ?? 'GET'} ${c.url})` : `${c.check} (${t.namespace}/${t.release})`;
    const attempts = c.attempts && c.attempts > 1 ? ` after ${c.attempts} attempts` : '';
    lines.push(
      tableRow([
        c.passed ? '✅' : '❌',
        cell(t.target),
        cell(where),
        cell(c.measured),
        cell(c.problems.join('; ') + (c.passed ? '' : attempts)),
      ]),
    );
  }
  if (rows.length > MAX_ROWS) lines.push('', `…and ${rows.length - MAX_ROWS} more rows in the JSON report.`);
  return `${lines.join('\n')}\n`;
}
