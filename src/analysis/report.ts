import { cell, formatMs, tableRow } from '../core/format.ts';
import { round } from './analyze.ts';
import type { Measurement } from './analyze.ts';
import type { WatchResult } from './rollback.ts';

const MAX_ROWS = 300;
const ICON: Record<string, string> = {
  healthy: '✅',
  successful: '✅',
  failed: '❌',
  inconclusive: '❔',
  'rolled-back': '↩️',
  uninstalled: '↩️',
  'not-rolled-back': '⚠️',
};

function value(m: Measurement): string {
  const v = m.value === undefined ? (m.error ? 'error' : 'no data') : String(round(m.value));
  return m.phase === 'failed' ? `**${v}**` : v;
}

/** The job summary: the verdict, rollbacks, then every target/metric with every measured value (failures first). */
export function analysisSummary(r: WatchResult, title = 'Auto-rollback'): string {
  const a = r.analysis;
  const lines = [
    `### ${title}: ${ICON[r.verdict] ?? ''} ${r.verdict}`,
    '',
    `${a.targets.length} target(s) watched for ${formatMs(a.durationMs)} (window ${formatMs(a.windowMs)}, ` +
      `every ${formatMs(a.intervalMs)})${a.interrupted ? `; ${a.interrupted}` : ''}.` +
      (a.baseline.tenants.length ? ` Fleet baseline: ${a.baseline.tenants.length} tenant(s) not updated.` : ''),
    '',
  ];
  if (r.rollbacks.length) {
    lines.push('| | Tenant | Release | Back to revision | Why |', '|---|---|---|---|---|');
    for (const b of r.rollbacks) {
      lines.push(
        `| ${ICON[b.status] ?? ''} ${b.status} | ${cell(b.tenant)} | ${cell(`${b.namespace}/${b.release}`)} ` +
          `| ${b.revision ?? '–'} | ${cell(b.error ? `${b.error}; ${b.reason}` : b.reason, 400)} |`,
      );
    }
    lines.push('');
  }
  lines.push('| | Target | Metric | Query (templated) | Fails when | Values | Reason |', '|---|---|---|---|---|---|---|');
  const order = { failed: 0, inconclusive: 1, healthy: 2 } as const;
  const rows = a.targets
    .flatMap((t) => t.metrics.map((m) => ({ t, m })))
    .sort((x, y) => order[x.t.verdict] - order[y.t.verdict] || Number(x.m.phase === 'successful') - Number(y.m.phase === 'successful'));
  for (const { t, m } of rows.slice(0, MAX_ROWS)) {
    const values = m.measurements.map(value).join(', ') || '–';
    lines.push(
      tableRow([
        `${ICON[m.phase]}`,
        cell(t.target.slug),
        cell(m.metric),
        `\`${cell(m.query, 300).replace(/`/g, "'")}\``,
        `\`${cell(m.condition)}\``,
        cell(values, 400),
        cell(m.reason, 300),
      ]),
    );
  }
  if (rows.length > MAX_ROWS) lines.push('', `…and ${rows.length - MAX_ROWS} more rows in the JSON report.`);
  for (const b of a.baseline.metrics) {
    const medians = b.ticks.map((tick) => (tick.median === undefined ? 'no data' : String(round(tick.median)))).join(', ');
    lines.push('', `Baseline median of ${b.metric} per measurement: ${medians || '–'}`);
  }
  return `${lines.join('\n')}\n`;
}
