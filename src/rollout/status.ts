import { tableRow } from '../core/format.ts';
import { chartVersionOf } from '../helm/history.ts';
import type { Revision } from '../helm/history.ts';
import type { ReleaseHealth } from '../kube/ports.ts';
import type { TenantRef } from '../tenants/model.ts';
import { LEDGER_PREFIX } from './execute.ts';
import { contentRevision } from './rollback.ts';

/**
 * The fleet as it is: per tenant what helm recorded (revision, status, chart and app version),
 * which rollout put it there (the ledger in the revision description), and its workloads' health;
 * then the fleet in one line.
 */

export interface TenantState {
  id: string;
  namespace: string;
  release: string;
  /** The tenant's cluster (multi-cluster fleets). */
  cluster?: string;
  /** The newest revision (what helm shows first), when installed. */
  revision?: number;
  /** helm's status of the newest revision (deployed, failed, pending-upgrade...), or `not-installed`. */
  status: string;
  chart: string;
  chartVersion: string;
  appVersion: string;
  /** The revision live now (the newest `deployed`), when it differs from the newest one. */
  deployedRevision?: number;
  /** The rollout target fingerprint and run that put the live content there (ledger). */
  fingerprint?: string;
  run?: string;
  /** The live revision was not made by a deploy-actions rollout (a hand-run helm upgrade). */
  drifted: boolean;
  health: 'healthy' | 'unhealthy' | 'unknown' | 'not-checked';
  problems: string[];
  /** A tenant hold, when one applies. */
  held?: string;
}

export interface FleetStatus {
  version: 1;
  fleet: string;
  readAt: string;
  /** One line: `112 on v1.3.0, 6 on v1.2.9, 2 pending-upgrade, 1 failed`. */
  line: string;
  tenants: TenantState[];
}

const LEDGER = new RegExp(`^${LEDGER_PREFIX.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(\\S+)(?:.*? (run=\\S+))?`);

export function tenantState(
  t: TenantRef,
  history: readonly Revision[] | undefined,
  health: ReleaseHealth | undefined | 'unknown',
  held?: string,
): TenantState {
  const base = { id: t.id, namespace: t.namespace, release: t.release, ...(t.cluster ? { cluster: t.cluster } : {}), held };
  const newest = history?.at(-1);
  const healthOf = (): Pick<TenantState, 'health' | 'problems'> =>
    health === 'unknown'
      ? { health: 'unknown', problems: ['workload health could not be read'] }
      : !health
        ? { health: 'not-checked', problems: [] }
        : { health: health.healthy ? 'healthy' : 'unhealthy', problems: health.problems };
  if (!newest)
    return {
      ...base,
      status: 'not-installed',
      chart: '',
      chartVersion: '',
      appVersion: '',
      drifted: false,
      health: 'not-checked',
      problems: [],
    };
  const live = [...history!].reverse().find((r) => r.status === 'deployed');
  const source = live ? history!.find((r) => r.revision === contentRevision(history!, live)) : undefined;
  const m = source ? LEDGER.exec(source.description) : null;
  const shown = live ?? newest;
  return {
    ...base,
    revision: newest.revision,
    status: newest.status,
    chart: shown.chart,
    chartVersion: chartVersionOf(shown.chart),
    appVersion: shown.app_version,
    deployedRevision: live && live.revision !== newest.revision ? live.revision : undefined,
    fingerprint: m?.[1],
    run: m?.[2]?.slice('run='.length),
    drifted: !!live && !m,
    ...healthOf(),
  };
}

/** `112 on v1.3.0, 6 on v1.2.9, 2 pending-upgrade, 1 failed, 1 drifted, 3 unhealthy, 2 held, 1 not installed`. */
export function fleetLine(tenants: readonly TenantState[]): string {
  const versions = new Map<string, number>();
  const other = new Map<string, number>();
  const add = (m: Map<string, number>, k: string) => m.set(k, (m.get(k) ?? 0) + 1);
  for (const t of tenants) {
    if (t.status === 'deployed') add(versions, t.appVersion || t.chartVersion || t.chart);
    else add(other, t.status === 'not-installed' ? 'not installed' : t.status);
  }
  const drifted = tenants.filter((t) => t.drifted).length;
  const unhealthy = tenants.filter((t) => t.health === 'unhealthy').length;
  const unknown = tenants.filter((t) => t.health === 'unknown').length;
  const held = tenants.filter((t) => t.held).length;
  const v = (s: string) => (/^\d/.test(s) ? `v${s}` : s);
  const parts = [
    ...[...versions].sort((a, b) => b[1] - a[1]).map(([ver, n]) => `${n} on ${v(ver)}`),
    ...[...other].sort((a, b) => b[1] - a[1]).map(([s, n]) => `${n} ${s}`),
    drifted ? `${drifted} drifted` : '',
    unhealthy ? `${unhealthy} unhealthy` : '',
    unknown ? `${unknown} health unknown` : '',
    held ? `${held} held` : '',
  ].filter(Boolean);
  return parts.join(', ') || 'no tenants';
}

export function renderStatusMarkdown(s: FleetStatus, maxRows = 500): string {
  const cell = (x: string) => x.replace(/\|/g, '\\|').replace(/\r?\n/g, ' ');
  const rows = [...s.tenants].sort((a, b) => rank(a) - rank(b));
  const multi = s.tenants.some((t) => t.cluster);
  const lines = [
    `### fleet ${s.fleet}: ${s.line}`,
    '',
    `| tenant |${multi ? ' cluster |' : ''} release | revision | status | chart | app | rollout | run | health |`,
    `|---|${multi ? '---|' : ''}---|---:|---|---|---|---|---|---|`,
    ...rows
      .slice(0, maxRows)
      .map((t) =>
        tableRow([
          t.id,
          ...(multi ? [t.cluster ?? ''] : []),
          `${t.namespace}/${t.release}`,
          t.revision ?? '–',
          `${t.status}${t.drifted ? ' (drifted)' : ''}${t.held ? ` (held: ${cell(t.held)})` : ''}`,
          t.chartVersion,
          t.appVersion,
          t.fingerprint ?? '–',
          t.run ?? '–',
          `${t.health}${t.problems.length ? `: ${cell(t.problems.join('; '))}` : ''}`,
        ]),
      ),
  ];
  if (rows.length > maxRows) lines.push('', `… and ${rows.length - maxRows} more tenants (see the status file).`);
  return `${lines.join('\n')}\n`;
}

/** Trouble first: failed, pending, unhealthy, drifted, then the rest. */
function rank(t: TenantState): number {
  if (t.status === 'failed') return 0;
  if (t.status.startsWith('pending')) return 1;
  if (t.health === 'unhealthy' || t.health === 'unknown') return 2;
  if (t.drifted) return 3;
  if (t.status === 'not-installed') return 5;
  return 4;
}
