import type { Logger } from '../core/logger.ts';
import type { ReturnOutcome } from '../helm/recover.ts';
import type { Metric } from './metrics.ts';
import { analyze } from './analyze.ts';
import type { AnalysisResult, AnalyzeOptions, TargetAnalysis } from './analyze.ts';
import type { AnalysisPorts } from './providers.ts';
import type { TenantTarget } from '../tenants/model.ts';

/** A breaching release to return to a good state; `revisionBefore` is the one recorded before the deploy. */
export interface RollbackTarget {
  namespace: string;
  release: string;
  revisionBefore?: number;
  /** Why (the analysis' reason), for the log. */
  why: string;
}

/**
 * The rollback port. The action wires it to `returnToGood` (src/helm/recover.ts), so a breach is
 * handled by the suite's one policy: back to the recorded revision, uninstall a first install,
 * refuse to guess "previous".
 */
export interface Rollbacker {
  returnToGood(target: RollbackTarget, signal?: AbortSignal): Promise<ReturnOutcome>;
}

export interface RollbackOutcome {
  tenant: string;
  namespace: string;
  release: string;
  /** The pre-deploy revision rolled back to (absent when none was recorded). */
  revision?: number;
  /** `uninstalled`: a first install that breached (nothing was live before it). */
  status: 'rolled-back' | 'uninstalled' | 'failed' | 'not-rolled-back';
  /** Why it was rolled back (the analysis' reason), or why not. */
  reason: string;
  error?: string;
  /** When a person must act: the command to run. */
  command?: string;
}

/** `healthy`, `rolled-back`, `inconclusive`; `failed` when a breaching target could not be rolled back. */
export type Verdict = 'healthy' | 'rolled-back' | 'inconclusive' | 'failed';

export interface WatchResult {
  verdict: Verdict;
  analysis: AnalysisResult;
  rollbacks: RollbackOutcome[];
  /** Releases rolled back, as `namespace/release`. */
  rolledBack: string[];
}

export interface RollbackOptions {
  logger: Logger;
  /** Do not roll back, only report what would be done. */
  dryRun?: boolean;
  signal?: AbortSignal;
}

/** Returns one analysed target to a good state (through the port's one policy), or says why not. */
export async function rollBackTarget(t: TargetAnalysis, port: Rollbacker, o: RollbackOptions): Promise<RollbackOutcome> {
  const { target } = t;
  const base = { tenant: target.slug, namespace: target.namespace, release: target.release, reason: t.reason };
  const where = `${target.release} in ${target.namespace}`;
  if (o.dryRun) {
    const to = target.revisionBefore === undefined ? 'a good state' : `revision ${target.revisionBefore}`;
    o.logger.warning(`${target.slug}: would return ${where} to ${to} (rollback disabled)`);
    return { ...base, revision: target.revisionBefore, status: 'not-rolled-back', error: 'rollback disabled' };
  }
  o.logger.warning(
    target.revisionBefore === undefined
      ? `${target.slug}: returning ${where} to a good state, no revision was recorded before the deploy (${t.reason})`
      : `${target.slug}: rolling back ${where} to revision ${target.revisionBefore}, recorded before the deploy (${t.reason})`,
  );
  const out = await port.returnToGood(
    { namespace: target.namespace, release: target.release, revisionBefore: target.revisionBefore, why: `${target.slug}: ${t.reason}` },
    o.signal,
  );
  switch (out.action) {
    case 'rolled-back':
      o.logger.info(`${target.slug}: rolled back to revision ${out.to}`);
      return { ...base, revision: out.to, status: 'rolled-back' };
    case 'uninstalled':
      o.logger.info(`${target.slug}: uninstalled (a first install: nothing was live before it)`);
      return { ...base, revision: target.revisionBefore, status: 'uninstalled' };
    case 'none':
    case 'absent': {
      const error = out.action === 'absent' ? 'the release no longer exists' : `already on revision ${out.revision}, nothing rolled back`;
      return { ...base, revision: target.revisionBefore, status: 'not-rolled-back', error };
    }
    default:
      o.logger.error(`${target.slug}: not returned to a good state: ${out.error}. Run: ${out.command}`);
      return { ...base, revision: target.revisionBefore, status: 'failed', error: out.error, command: out.command };
  }
}

export interface WatchOptions extends Omit<AnalyzeOptions, 'onTargetFailed'> {
  /** Roll back inconclusive targets too (missing data treated as a breach). Off by default. */
  rollbackOnInconclusive?: boolean;
  dryRun?: boolean;
}

/**
 * The auto-rollback: `analyze`, rolling each failing target back as soon as it fails (to its
 * pre-deploy revision), and inconclusive ones at the end only when asked to.
 */
export async function watchAndRollBack(
  targets: TenantTarget[],
  metrics: Metric[],
  ports: AnalysisPorts & { rollbacker: Rollbacker },
  opts: WatchOptions,
): Promise<WatchResult> {
  const pending: Promise<RollbackOutcome>[] = [];
  const ro: RollbackOptions = { logger: ports.logger, dryRun: opts.dryRun, signal: opts.signal };
  const analysis = await analyze(targets, metrics, ports, {
    ...opts,
    onTargetFailed: (t) => {
      pending.push(rollBackTarget(t, ports.rollbacker, ro));
    },
  });
  if (opts.rollbackOnInconclusive) {
    for (const t of analysis.targets) if (t.verdict === 'inconclusive') pending.push(rollBackTarget(t, ports.rollbacker, ro));
  }
  const rollbacks = await Promise.all(pending);
  const rolledBack = rollbacks.filter((r) => isBack(r)).map((r) => `${r.namespace}/${r.release}`);
  return { verdict: verdictOf(analysis, rollbacks), analysis, rollbacks, rolledBack };
}

/** Back in a good state: rolled back, or a breaching first install removed. */
const isBack = (r: RollbackOutcome) => r.status === 'rolled-back' || r.status === 'uninstalled';

export function verdictOf(analysis: AnalysisResult, rollbacks: RollbackOutcome[]): Verdict {
  if (rollbacks.some((r) => !isBack(r))) return 'failed';
  if (rollbacks.length > 0) return 'rolled-back';
  if (analysis.verdict === 'failed') return 'failed';
  return analysis.verdict;
}
