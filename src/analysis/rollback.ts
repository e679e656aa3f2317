import { errorMessage } from '../core/errors.ts';
import type { Logger } from '../core/logger.ts';
import type { Metric } from './metrics.ts';
import { analyze } from './analyze.ts';
import type { AnalysisResult, AnalyzeOptions, TargetAnalysis } from './analyze.ts';
import type { AnalysisPorts } from './providers.ts';
import type { TenantTarget } from '../tenants/model.ts';

/** Where to go back to: the revision recorded before the deploy, never "whatever is previous now". */
export interface RollbackTarget {
  namespace: string;
  release: string;
  revision: number;
}

/** The rollback port; the action wires it to `helm rollback <release> <revision> --wait`. */
export interface Rollbacker {
  rollback(target: RollbackTarget, signal?: AbortSignal): Promise<void>;
}

export interface RollbackOutcome {
  tenant: string;
  namespace: string;
  release: string;
  /** The pre-deploy revision rolled back to (absent when none was recorded). */
  revision?: number;
  status: 'rolled-back' | 'failed' | 'not-rolled-back';
  /** Why it was rolled back (the analysis' reason), or why not. */
  reason: string;
  error?: string;
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

/** Rolls one analysed target back to its pre-deploy revision (or says why it cannot). */
export async function rollBackTarget(t: TargetAnalysis, port: Rollbacker, o: RollbackOptions): Promise<RollbackOutcome> {
  const { target } = t;
  const base = { tenant: target.slug, namespace: target.namespace, release: target.release, reason: t.reason };
  if (target.revisionBefore === undefined) {
    const error =
      'no revision was recorded before the deploy (a first install, or none given): not rolled back, fix forward or uninstall by hand';
    o.logger.error(`${target.slug}: ${error}`);
    return { ...base, status: 'failed', error };
  }
  const rt: RollbackTarget = { namespace: target.namespace, release: target.release, revision: target.revisionBefore };
  if (o.dryRun) {
    o.logger.warning(`${target.slug}: would roll back ${rt.release} in ${rt.namespace} to revision ${rt.revision} (rollback disabled)`);
    return { ...base, revision: rt.revision, status: 'not-rolled-back', error: 'rollback disabled' };
  }
  o.logger.warning(
    `${target.slug}: rolling back ${rt.release} in ${rt.namespace} to revision ${rt.revision}, recorded before the deploy (${t.reason})`,
  );
  try {
    await port.rollback(rt, o.signal);
    o.logger.info(`${target.slug}: rolled back to revision ${rt.revision}`);
    return { ...base, revision: rt.revision, status: 'rolled-back' };
  } catch (err) {
    const error = errorMessage(err);
    o.logger.error(`${target.slug}: rollback to revision ${rt.revision} failed: ${error}`);
    return { ...base, revision: rt.revision, status: 'failed', error };
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
  const rolledBack = rollbacks.filter((r) => r.status === 'rolled-back').map((r) => `${r.namespace}/${r.release}`);
  return { verdict: verdictOf(analysis, rollbacks), analysis, rollbacks, rolledBack };
}

export function verdictOf(analysis: AnalysisResult, rollbacks: RollbackOutcome[]): Verdict {
  if (rollbacks.some((r) => r.status !== 'rolled-back')) return 'failed';
  if (rollbacks.length > 0) return 'rolled-back';
  if (analysis.verdict === 'failed') return 'failed';
  return analysis.verdict;
}
