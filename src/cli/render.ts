import { humanDuration } from '../core/duration.ts';
import type { Plan } from '../rollout/plan.ts';
import type { RolloutReport } from '../rollout/report.ts';
import type { FleetStatus } from '../rollout/status.ts';

/**
 * The terminal's view of plans and reports: aligned columns, with colour on a TTY (none in a pipe
 * or with NO_COLOR). The job summary (Markdown) is for GitHub; --markdown prints it instead.
 */

export interface Style {
  color: boolean;
}

const CODES = { red: 31, green: 32, yellow: 33, blue: 34, dim: 2, bold: 1 } as const;
export type Colour = keyof typeof CODES;

export function paint(s: string, c: Colour, style: Style): string {
  return style.color ? `\x1b[${CODES[c]}m${s}\x1b[0m` : s;
}

const STATUS_COLOUR: Record<string, Colour> = {
  succeeded: 'green',
  unchanged: 'dim',
  deployed: 'green',
  'failed-rolled-back': 'yellow',
  'rolled-back': 'yellow',
  'failed-untouched': 'yellow',
  failed: 'red',
  unknown: 'red',
  skipped: 'dim',
  held: 'blue',
  paused: 'blue',
  cancelled: 'yellow',
  halted: 'red',
};

export function statusWord(s: string, style: Style): string {
  const c = STATUS_COLOUR[s] ?? (s.startsWith('pending') ? 'yellow' : undefined);
  return c ? paint(s, c, style) : s;
}

// Visible width: colour codes take no columns.
// eslint-disable-next-line no-control-regex -- matching the terminal's escape character is the point
const width = (s: string) => s.replace(/\x1b\[[0-9;]*m/g, '').length;

/** Columns padded to their widest cell; the last column is not padded. */
export function table(header: string[], rows: string[][], style: Style): string {
  const widths = header.map((h, i) => Math.max(width(h), ...rows.map((r) => width(r[i] ?? ''))));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c + ' '.repeat(widths[i]! - width(c))))
      .join('  ')
      .trimEnd();
  return [paint(line(header), 'bold', style), ...rows.map(line)].join('\n');
}

function ids(refs: readonly { id: string }[], max = 8): string {
  const shown = refs.slice(0, max).map((r) => r.id);
  return refs.length > max ? `${shown.join(', ')}, … +${refs.length - max} more` : shown.join(', ') || '–';
}

export function renderPlanText(plan: Plan, style: Style): string {
  const rows: string[][] = [];
  if (plan.pilot.length) rows.push(['pilot', String(plan.pilot.length), ids(plan.pilot)]);
  plan.waves.forEach((w, i) => rows.push([String(i + 1), String(w.length), ids(w)]));
  const s = plan.summary;
  return [
    `plan ${plan.fingerprint.slice(0, 12)}: ${s.tenants} tenants, pilot ${plan.pilot.length}, ${plan.waves.length} waves (${s.source})`,
    table(['wave', 'tenants', 'ids'], rows, style),
  ].join('\n');
}

export function renderReportText(rep: RolloutReport, style: Style): string {
  const rows = rep.tenants.map((t) => [
    t.id,
    t.step,
    statusWord(t.status, style),
    `${t.revisionBefore ?? '-'} -> ${t.revisionAfter ?? '-'}`,
    t.durationMs ? humanDuration(t.durationMs) : '',
    t.error ?? '',
  ]);
  const counts = Object.entries(rep.counts)
    .filter(([, n]) => n)
    .map(([s, n]) => `${n} ${statusWord(s, style)}`)
    .join(', ');
  return [
    table(['tenant', 'step', 'status', 'revision', 'duration', 'reason'], rows, style),
    '',
    `${rep.dryRun ? paint('DRY RUN, nothing changed: ', 'bold', style) : ''}${statusWord(rep.outcome, style)}: ${counts || 'no tenants'} in ${humanDuration(rep.durationMs)}${rep.stoppedBecause ? ` (${rep.stoppedBecause})` : ''}`,
  ].join('\n');
}

export function renderStatusText(s: FleetStatus, style: Style): string {
  const rows = s.tenants.map((t) => [
    t.id,
    `${t.namespace}/${t.release}`,
    String(t.revision ?? '-'),
    `${statusWord(t.status, style)}${t.drifted ? paint(' (drifted)', 'yellow', style) : ''}${t.held ? paint(` (held: ${t.held})`, 'blue', style) : ''}`,
    t.chartVersion || '-',
    t.appVersion || '-',
    t.fingerprint ?? '-',
    t.run ?? '-',
    `${t.health === 'healthy' ? paint(t.health, 'green', style) : t.health === 'unhealthy' ? paint(t.health, 'red', style) : t.health}` +
      (t.problems.length ? `: ${t.problems.join('; ')}` : ''),
  ]);
  return [
    table(['tenant', 'release', 'revision', 'status', 'chart', 'app', 'rollout', 'run', 'health'], rows, style),
    '',
    `fleet ${s.fleet}: ${s.line}`,
  ].join('\n');
}
