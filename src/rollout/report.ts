import { humanDuration } from '../core/duration.ts';
import type { RolloutResult, TenantResult, TenantStatus } from './execute.ts';

/** The rollout's one JSON document: a job output, a file, and what later steps (smoke-test, auto-rollback, rollback workflows) read. */
export interface RolloutReport {
  version: 1;
  phase: string;
  planFingerprint: string;
  target: string;
  run?: string;
  startedAt: string;
  durationMs: number;
  outcome: 'succeeded' | 'failed' | 'cancelled';
  stoppedBecause?: string;
  counts: Record<TenantStatus, number>;
  /** Tenants that appeared after the plan was approved: reported, not deployed. */
  appeared: string[];
  /** Tenants in the approved plan that no longer exist. */
  vanished: string[];
  tenants: TenantResult[];
}

const STATUSES: TenantStatus[] = [
  'succeeded',
  'unchanged',
  'failed-rolled-back',
  'rolled-back',
  'failed-untouched',
  'failed',
  'unknown',
  'skipped',
];
const BAD: ReadonlySet<TenantStatus> = new Set(['failed', 'failed-rolled-back', 'failed-untouched', 'rolled-back', 'unknown']);

export function buildReport(
  r: RolloutResult,
  meta: {
    phase: string;
    planFingerprint: string;
    target: string;
    run?: string;
    startedAt: string;
    appeared?: string[];
    vanished?: string[];
    cancelled?: boolean;
  },
): RolloutReport {
  const counts = Object.fromEntries(STATUSES.map((s) => [s, 0])) as Record<TenantStatus, number>;
  for (const t of r.tenants) counts[t.status]++;
  const failed = r.tenants.some((t) => BAD.has(t.status)) || !!r.stoppedBecause;
  return {
    version: 1,
    phase: meta.phase,
    planFingerprint: meta.planFingerprint,
    target: meta.target,
    run: meta.run,
    startedAt: meta.startedAt,
    durationMs: r.durationMs,
    outcome: meta.cancelled ? 'cancelled' : failed ? 'failed' : 'succeeded',
    stoppedBecause: r.stoppedBecause,
    counts,
    appeared: meta.appeared ?? [],
    vanished: meta.vanished ?? [],
    tenants: r.tenants,
  };
}

const ICON: Record<TenantStatus, string> = {
  succeeded: '✅',
  unchanged: '⏭️',
  'failed-rolled-back': '↩️',
  'rolled-back': '↩️',
  'failed-untouched': '⚠️',
  failed: '❌',
  unknown: '❓',
  skipped: '·',
};

const cell = (s: string) => s.replace(/\|/g, '\\|').replace(/\r?\n/g, ' ');

/** Results table for the job summary: failures first, with the reason for each. */
export function renderReport(rep: RolloutReport, opts: { maxRows?: number } = {}): string {
  const order = (t: TenantResult) =>
    t.status === 'failed' || t.status === 'unknown' ? 0 : BAD.has(t.status) ? 1 : t.status === 'skipped' ? 3 : 2;
  const rows = [...rep.tenants].sort((a, b) => order(a) - order(b));
  const max = opts.maxRows ?? 500;
  const counts = STATUSES.filter((s) => rep.counts[s])
    .map((s) => `${ICON[s]} ${rep.counts[s]} ${s}`)
    .join(' · ');
  const lines = [
    `### tenant-rollout (${rep.phase}): ${rep.outcome === 'succeeded' ? '✅ succeeded' : rep.outcome === 'cancelled' ? '🛑 cancelled' : '❌ failed'}`,
    '',
    `${counts} — ${humanDuration(rep.durationMs)}, target \`${rep.target}\``,
  ];
  if (rep.stoppedBecause) lines.push('', `**Stopped:** ${cell(rep.stoppedBecause)}`);
  if (rep.appeared.length) lines.push('', `**Not in the approved plan (not deployed):** ${rep.appeared.join(', ')}`);
  if (rep.vanished.length) lines.push('', `**In the plan but gone:** ${rep.vanished.join(', ')}`);
  lines.push('', '| tenant | step | status | revision | duration | reason |', '|---|---|---|---|---|---|');
  for (const t of rows.slice(0, max)) {
    lines.push(
      `| ${t.id} | ${t.step} | ${ICON[t.status]} ${t.status} | ${t.revisionBefore ?? '–'} → ${t.revisionAfter ?? '–'} | ${t.durationMs ? humanDuration(t.durationMs) : ''} | ${cell(t.error ?? '')}${t.lookCommand && !t.error?.includes(t.lookCommand) ? ` (look: \`${t.lookCommand}\`)` : ''} |`,
    );
  }
  if (rows.length > max) lines.push('', `… and ${rows.length - max} more tenants (see the report file).`);
  return `${lines.join('\n')}\n`;
}
