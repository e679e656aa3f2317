import type { TenantRef } from '../tenants/model.ts';
import type { Plan } from './plan.ts';

export interface PlanTableOptions {
  /** Ids shown per row before `… +N more`. Default 8. */
  maxIds?: number;
  /** Rows (pilot + waves) shown before the rest are summed into one row. Default 50. */
  maxRows?: number;
}

/**
 * The plan as Markdown for the job summary: a line on how it was made, then one row per wave.
 * Bounded in size whatever the fleet (the job summary is capped at 1 MiB).
 */
export function renderPlanTable(plan: Plan, opts: PlanTableOptions = {}): string {
  const maxRows = opts.maxRows ?? 50;
  const ids = idList(opts, (id) => `\`${id}\``);
  const s = plan.summary;
  const lines = [
    `**Rollout plan** \`${plan.fingerprint.slice(0, 12)}\`: ${s.tenants} tenant${s.tenants === 1 ? '' : 's'}, ` +
      `pilot ${plan.pilot.length}, ${plan.waves.length} wave${plan.waves.length === 1 ? '' : 's'}`,
    '',
    [
      s.source && `source: ${s.source}`,
      s.include && `include: \`${oneLine(s.include)}\``,
      s.exclude && `exclude: \`${oneLine(s.exclude)}\``,
      `pilot: \`${s.pilot}\``,
      `batch size: \`${s.batchSize}\``,
      `order: ${s.order}`,
    ]
      .filter(Boolean)
      .join(' · '),
    '',
    '| wave | tenants | ids |',
    '|---|---:|---|',
  ];
  const rows: Array<[string, readonly TenantRef[]]> = [];
  if (plan.pilot.length) rows.push(['pilot', plan.pilot]);
  plan.waves.forEach((w, i) => rows.push([String(i + 1), w]));
  for (const [name, refs] of rows.slice(0, maxRows)) lines.push(`| ${name} | ${refs.length} | ${ids(refs)} |`);
  if (rows.length > maxRows) {
    const hidden = rows.slice(maxRows);
    const count = hidden.reduce((n, [, r]) => n + r.length, 0);
    lines.push(`| ${hidden[0]![0]}–${hidden[hidden.length - 1]![0]} | ${count} | … ${hidden.length} more waves |`);
  }
  return `${lines.join('\n')}\n`;
}

function oneLine(s: string): string {
  return s
    .replace(/\s*\n\s*/g, '; ')
    .replace(/`/g, "'")
    .replace(/\|/g, '\\|');
}

/**
 * The plan as plain text for a log (the runner's and a terminal's): nothing there renders
 * Markdown. The same facts and bounds as the summary's table, in aligned columns.
 */
export function renderPlanText(plan: Plan, opts: PlanTableOptions = {}): string {
  const maxRows = opts.maxRows ?? 50;
  const ids = idList(opts, (id) => id);
  const s = plan.summary;
  const rows: string[][] = [];
  if (plan.pilot.length) rows.push(['pilot', String(plan.pilot.length), ids(plan.pilot)]);
  plan.waves.forEach((w, i) => rows.push([String(i + 1), String(w.length), ids(w)]));
  const shown = rows.slice(0, maxRows);
  if (rows.length > maxRows) {
    const hidden = rows.slice(maxRows);
    shown.push([
      `${hidden[0]![0]}-${hidden.at(-1)![0]}`,
      String(hidden.reduce((n, r) => n + Number(r[1]), 0)),
      `… ${hidden.length} more waves`,
    ]);
  }
  const table = [['wave', 'tenants', 'ids'], ...shown];
  const w0 = Math.max(...table.map((r) => r[0]!.length));
  const w1 = Math.max(...table.map((r) => r[1]!.length));
  return [
    `${s.tenants} tenant${s.tenants === 1 ? '' : 's'}, pilot ${plan.pilot.length}, ${plan.waves.length} wave${plan.waves.length === 1 ? '' : 's'}`,
    [
      s.source && `source: ${s.source}`,
      s.include && `include: ${s.include.replace(/\s*\n\s*/g, '; ')}`,
      s.exclude && `exclude: ${s.exclude.replace(/\s*\n\s*/g, '; ')}`,
      `pilot: ${s.pilot}`,
      `batch size: ${s.batchSize}`,
      `order: ${s.order}`,
    ]
      .filter(Boolean)
      .join(' · '),
    ...table.map((r) => `  ${r[0]!.padEnd(w0)}  ${r[1]!.padStart(w1)}  ${r[2]}`),
  ].join('\n');
}

/** A wave's ids, the first `maxIds` of them (`… +N more` for the rest), each as `show` writes it. */
function idList(opts: PlanTableOptions, show: (id: string) => string): (refs: readonly TenantRef[]) => string {
  const maxIds = opts.maxIds ?? 8;
  return (refs) => {
    const shown = refs
      .slice(0, maxIds)
      .map((r) => show(r.id))
      .join(', ');
    return refs.length > maxIds ? `${shown}, … +${refs.length - maxIds} more` : shown || '–';
  };
}
