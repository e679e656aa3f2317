import { systemClock } from '../../core/clock.ts';
import type { Clock } from '../../core/clock.ts';
import type { CommandRunner } from '../../core/process.ts';
import { returnToGood } from '../../helm/recover.ts';
import type { Cluster } from '../../kube/ports.ts';
import { analysisSummary } from '../../analysis/report.ts';
import { watchAndRollBack } from '../../analysis/rollback.ts';
import type { Rollbacker, WatchResult } from '../../analysis/rollback.ts';
import { secretHeaderValues } from '../../verify/checks.ts';
import { fetchHttp } from '../../core/http.ts';
import type { Http } from '../../core/http.ts';
import { openPrometheus } from '../common/analysis-inputs.ts';
import { defaultCluster } from '../common/cluster.ts';
import type { ClusterFactory } from '../common/cluster.ts';
import type { ActionContext, ActionModule } from '../common/context.ts';
import { writeReportFile } from '../common/report-file.ts';
import { openCredentials, openHelm, removePrivateDir } from '../common/helm-session.ts';
import type { Credentials } from '../common/helm-session.ts';
import { parseInputs } from './inputs.ts';
import type { AutoRollbackInputs } from './inputs.ts';

export interface AutoRollbackDeps {
  http?: Http;
  clock?: Clock;
  run?: CommandRunner;
  createCluster?: ClusterFactory;
  /** Injected in tests; defaults to `returnToGood` (src/helm/recover.ts) through the Helm port. */
  createRollbacker?: (ctx: ActionContext, inp: AutoRollbackInputs, creds: Credentials) => Promise<Rollbacker>;
}

async function helmRollbacker(
  ctx: ActionContext,
  inp: AutoRollbackInputs,
  creds: Credentials,
  clock: Clock,
  run?: CommandRunner,
): Promise<Rollbacker> {
  const helm = await openHelm(ctx, inp.helmBinary, creds.env, creds.target, run);
  return {
    returnToGood: (t, signal) =>
      returnToGood(
        helm,
        {
          release: t.release,
          namespace: t.namespace,
          before: t.revisionBefore,
          why: t.why,
          wait: 'ready',
          timeoutMs: inp.rollbackTimeoutMs,
          signal,
        },
        ctx.logger,
        { clock },
      ),
  };
}

function failureLine(r: WatchResult): string {
  const bad = r.analysis.targets.filter((t) => t.verdict !== 'healthy');
  const first = bad[0] ? `; ${bad[0].target.slug}: ${bad[0].reason}` : '';
  const notBack = r.rollbacks.filter((b) => b.status !== 'rolled-back' && b.status !== 'uninstalled');
  const rb = notBack.length ? `; not rolled back: ${notBack.map((b) => `${b.tenant} (${b.error})`).join(', ')}` : '';
  switch (r.verdict) {
    case 'rolled-back':
      return `auto-rollback: ${r.rolledBack.length} target(s) breached and were rolled back to their pre-deploy revision: ${r.rolledBack.join(', ')}${first}`;
    case 'inconclusive':
      return `auto-rollback: inconclusive for ${bad.length} of ${r.analysis.targets.length} target(s), nothing rolled back (no data is not success)${first}`;
    default:
      return `auto-rollback: ${bad.length} target(s) breached${rb}${first}`;
  }
}

export function createAutoRollback(deps: AutoRollbackDeps = {}): ActionModule {
  return {
    async main(ctx: ActionContext) {
      const inp = parseInputs(ctx.inputs);
      for (const v of Object.values(inp.secrets)) ctx.secrets.add(v);
      for (const m of inp.metrics) if (m.provider === 'http') for (const v of secretHeaderValues(m.checks)) ctx.secrets.add(v);
      if (inp.targets.length === 0) {
        ctx.logger.warning('no target to watch (no tenant of the report has one of the report-statuses)');
        ctx.setOutput('verdict', 'healthy');
        ctx.setOutput('rolled-back', '');
        const empty = JSON.stringify({ verdict: 'healthy', rolledBack: [], rollbacks: [], analysis: null });
        ctx.setOutput('report', empty);
        ctx.setOutput('report-file', writeReportFile(inp.reportFile, ctx.tempDir, `${empty}\n`, 'auto-rollback'));
        return;
      }
      const needCluster = inp.metrics.some((m) => m.provider === 'kubernetes' || m.provider === 'logs');
      const creds = needCluster || inp.rollback ? openCredentials(ctx, inp.kubeconfig, inp.kubeContext) : undefined;
      try {
        const http = deps.http ?? fetchHttp;
        const cluster: Cluster | undefined = needCluster ? await (deps.createCluster ?? defaultCluster)(creds!.target) : undefined;
        // Open helm before the window: a missing helm must not be found out at the moment of a rollback.
        const rollbacker: Rollbacker = inp.rollback
          ? await (deps.createRollbacker ?? ((c, i, cr) => helmRollbacker(c, i, cr, deps.clock ?? systemClock, deps.run)))(ctx, inp, creds!)
          : { returnToGood: () => Promise.reject(new Error('rollback disabled')) };
        const result = await ctx.logger.group(`auto-rollback: watching ${inp.targets.length} target(s)`, () =>
          watchAndRollBack(
            inp.targets,
            inp.metrics,
            {
              clock: deps.clock ?? systemClock,
              logger: ctx.logger,
              http,
              cluster,
              prometheus: openPrometheus(inp, http),
              rollbacker,
            },
            {
              durationMs: inp.durationMs,
              intervalMs: inp.intervalMs,
              concurrency: inp.concurrency,
              baseline: inp.baseline,
              // With rollback on missing data asked for, an unreachable source is missing data, not an error.
              preflight: !inp.rollbackOnInconclusive,
              rollbackOnInconclusive: inp.rollbackOnInconclusive,
              dryRun: !inp.rollback,
              signal: ctx.signal,
            },
          ),
        );
        const doc = { verdict: result.verdict, rolledBack: result.rolledBack, rollbacks: result.rollbacks, analysis: result.analysis };
        const file = writeReportFile(inp.reportFile, ctx.tempDir, `${ctx.secrets.redact(JSON.stringify(doc, null, 2))}\n`, 'auto-rollback');
        ctx.setOutput('verdict', result.verdict);
        ctx.setOutput('rolled-back', result.rolledBack.join(','));
        ctx.setOutput('report', ctx.secrets.redact(JSON.stringify(doc)));
        ctx.setOutput('report-file', file);
        await ctx.summary(analysisSummary(result));
        if (result.verdict !== 'healthy') throw new Error(failureLine(result));
      } finally {
        creds?.private.remove();
      }
    },
    async post(ctx: ActionContext) {
      removePrivateDir(ctx);
    },
  };
}

export const autoRollback = createAutoRollback();
