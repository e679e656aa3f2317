import type { Clock } from '../core/clock.ts';
import { errorMessage } from '../core/errors.ts';
import type { Logger } from '../core/logger.ts';
import type { VerifyResult } from '../helm/deploy.ts';
import type { Helm } from '../helm/helm.ts';
import type { Revision } from '../helm/history.ts';
import { returnToGood } from '../helm/recover.ts';
import type { Tenant } from '../tenants/model.ts';
import type { TenantResult } from './execute.ts';
import type { RolloutReport } from './report.ts';

/**
 * Rollback as an operation: each tenant goes back to a chosen revision, and a tenant already
 * there is left alone, so a second run finds nothing to do. Two ways to choose the revision:
 * (a) from the report of an earlier run: every tenant that run changed goes back to its recorded
 *     revisionBefore;
 * (b) for named or selected tenants: the last revision that was deployed before the current one
 *     (unless the current one is itself a rollback: then it is already back).
 */

export interface RollbackTarget {
  tenant: Tenant;
  /** The revision whose content the tenant must run; undefined: nothing to return to. */
  revision?: number;
  /** Why this revision (or why none). */
  why: string;
}

/** Statuses of a report's tenants whose release that run changed and left changed. */
const CHANGED = new Set(['succeeded', 'failed', 'rolled-back']);

/** (a) The tenants a report changed, each with its revisionBefore. Tenants no longer selected are left out. */
export function targetsFromReport(report: RolloutReport, tenants: readonly Tenant[]): { targets: RollbackTarget[]; missing: string[] } {
  const byId = new Map(tenants.map((t) => [t.id, t]));
  const targets: RollbackTarget[] = [];
  const missing: string[] = [];
  for (const r of report.tenants) {
    if (!CHANGED.has(r.status) || r.revisionAfter === undefined || r.revisionAfter === r.revisionBefore) continue;
    const tenant = byId.get(r.id) ?? { ...fromResult(r) };
    if (!byId.has(r.id)) missing.push(r.id);
    targets.push({
      tenant,
      revision: r.revisionBefore,
      why:
        r.revisionBefore === undefined
          ? `a first install by run ${report.run ?? '?'}: no earlier revision (helm uninstall ${r.release} -n ${r.namespace} removes it)`
          : `revision ${r.revisionBefore}, before run ${report.run ?? '?'} (${r.status} ${r.revisionBefore} -> ${r.revisionAfter})`,
    });
  }
  return { targets, missing };
}

/**
 * (a) over several reports of one run (its pilot and waves jobs, or its shards): each tenant goes
 * back to the revisionBefore of the EARLIEST report that changed it, the revision it had before
 * the run. Dry runs changed nothing and a rollback's own report is not a rollout to undo: both
 * are left out.
 */
export function targetsFromReports(
  reports: readonly RolloutReport[],
  tenants: readonly Tenant[],
): { targets: RollbackTarget[]; missing: string[]; used: RolloutReport[] } {
  const used = reports.filter((r) => !r.dryRun && r.phase !== 'rollback').sort((a, b) => a.startedAt.localeCompare(b.startedAt));
  const seen = new Set<string>();
  const targets: RollbackTarget[] = [];
  const missing = new Set<string>();
  for (const rep of used) {
    const r = targetsFromReport(rep, tenants);
    for (const t of r.targets) {
      const key = `${t.tenant.cluster ?? ''}:${t.tenant.namespace}/${t.tenant.release}`;
      if (seen.has(key)) continue;
      seen.add(key);
      targets.push(t);
      if (r.missing.includes(t.tenant.id)) missing.add(t.tenant.id);
    }
  }
  return { targets, missing: [...missing], used };
}

function fromResult(r: TenantResult): Tenant {
  return { id: r.id, slug: r.id, namespace: r.namespace, release: r.release, labels: {}, values: {}, valuesFiles: [] } as unknown as Tenant;
}

const ROLLBACK = /^Rollback to (\d+)$/;

/** The revision whose content `rev` runs: a rollback revision runs the content of the one it went back to. */
export function contentRevision(history: readonly Revision[], rev: Revision): number {
  let cur: Revision | undefined = rev;
  for (let hops = 0; cur && hops < history.length; hops++) {
    const m = ROLLBACK.exec(cur.description);
    if (!m) return cur.revision;
    const to = Number(m[1]);
    cur = history.find((r) => r.revision === to);
    if (!cur) return to;
  }
  return rev.revision;
}

const deployedOf = (h: readonly Revision[]) => [...h].reverse().find((r) => r.status === 'deployed');

/** (b) The last revision deployed before the current one; none when the current one is already a rollback. */
export function previousDeployed(history: readonly Revision[]): { revision?: number; why: string; already?: boolean } {
  const cur = deployedOf(history);
  if (!cur) return { why: 'no deployed revision (see helm history)' };
  if (ROLLBACK.test(cur.description))
    return { already: true, revision: contentRevision(history, cur), why: `already rolled back (${cur.description})` };
  const prev = [...history].reverse().find((r) => r.revision < cur.revision && r.status === 'superseded');
  return prev
    ? { revision: prev.revision, why: `revision ${prev.revision}, the one deployed before ${cur.revision}` }
    : { why: `revision ${cur.revision} is the first deployed` };
}

export interface RollbackPorts {
  helm: Helm;
  clock: Clock;
  logger: Logger;
  verify?: (tenant: Tenant, revision: number) => Promise<VerifyResult>;
}

/**
 * One tenant back to `target.revision`: nothing when its live revision already runs that content
 * (idempotent), otherwise helm rollback, then the live history re-read and verified.
 */
export async function rollbackTenant(
  target: RollbackTarget,
  step: string,
  p: RollbackPorts,
  o: { timeoutMs: number; dryRun: boolean; signal?: AbortSignal },
): Promise<TenantResult> {
  const t = target.tenant;
  const t0 = p.clock.now();
  const base = { id: t.id, namespace: t.namespace, release: t.release, step };
  const done = (r: Omit<TenantResult, keyof typeof base | 'durationMs'>): TenantResult => ({
    ...base,
    ...r,
    durationMs: p.clock.now() - t0,
  });
  try {
    const kube = { namespace: t.namespace };
    const history = await p.helm.history(t.release, kube);
    const live = deployedOf(history);
    if (target.revision === undefined) return done({ status: 'skipped', revisionBefore: live?.revision, error: target.why });
    if (live && contentRevision(history, live) === target.revision)
      return done({
        status: 'unchanged',
        revisionBefore: live.revision,
        revisionAfter: live.revision,
        error: `already on revision ${target.revision}`,
      });
    if (!history.some((r) => r.revision === target.revision))
      return done({
        status: 'failed-untouched',
        revisionBefore: live?.revision,
        error: `revision ${target.revision} is no longer in the history (history-max)`,
      });
    if (o.dryRun)
      return done({
        status: 'succeeded',
        revisionBefore: live?.revision,
        revisionAfter: live?.revision,
        error: `dry run: would roll back to ${target.revision}`,
      });
    const back = await returnToGood(
      p.helm,
      { ...kube, release: t.release, before: target.revision, why: target.why, wait: 'ready', timeoutMs: o.timeoutMs, signal: o.signal },
      p.logger,
      { clock: p.clock },
    );
    if (back.action !== 'rolled-back')
      return done({
        status: back.action === 'none' ? 'unchanged' : 'failed',
        revisionBefore: live?.revision,
        error:
          'error' in back
            ? `rollback to ${target.revision} failed: ${back.error} (${back.command})`
            : `nothing rolled back (${back.action})`,
      });
    const after = back.revision;
    const v = p.verify ? await p.verify(t, after) : { ok: true };
    if (!v.ok)
      return done({
        status: 'failed',
        revisionBefore: live?.revision,
        revisionAfter: after,
        error: `back on ${target.revision} but not healthy: ${v.reason}`,
      });
    return done({ status: 'succeeded', revisionBefore: live?.revision, revisionAfter: after, error: target.why });
  } catch (err) {
    return done({ status: 'failed', error: `rollback to ${target.revision} failed: ${errorMessage(err)}` });
  }
}
