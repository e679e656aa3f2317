import { systemClock } from '../../core/clock.ts';
import type { Clock } from '../../core/clock.ts';
import { ConfigurationError } from '../../core/errors.ts';
import type { Cluster } from '../../kube/ports.ts';
import { secretHeaderValues } from '../../verify/checks.ts';
import { fetchHttp } from '../../core/http.ts';
import type { Http } from '../../core/http.ts';
import { smokeSummary } from '../../verify/report.ts';
import { runSmokeChecks } from '../../verify/smoke.ts';
import type { SmokeReport } from '../../verify/smoke.ts';
import { smokeTargets } from '../../verify/targets.ts';
import { defaultCluster } from '../common/cluster.ts';
import type { ClusterFactory } from '../common/cluster.ts';
import type { ActionContext, ActionModule } from '../common/context.ts';
import { writeReportFile } from '../common/report-file.ts';
import { openCredentials, removePrivateDir } from '../common/helm-session.ts';
import type { Credentials } from '../common/helm-session.ts';
import { parseInputs } from './inputs.ts';

export interface SmokeTestDeps {
  http?: Http;
  clock?: Clock;
  /** Injected in tests; defaults to the client-node adapter. */
  createCluster?: ClusterFactory;
}

function failureLine(r: SmokeReport): string {
  const failed = r.targets.flatMap((t) => t.checks.filter((c) => !c.passed));
  const first = failed[0];
  const example = first ? `; first: ${first.target} ${first.check}: ${first.problems.join('; ')}` : '';
  return (
    `smoke test failed: ${r.totals.failedChecks} of ${r.totals.checks} checks ` +
    `failed on ${r.totals.failedTargets} of ${r.totals.targets} target(s)${example}`
  );
}

export function createSmokeTest(deps: SmokeTestDeps = {}): ActionModule {
  return {
    async main(ctx: ActionContext) {
      const inp = parseInputs(ctx.inputs);
      for (const v of Object.values(inp.secrets)) ctx.secrets.add(v);
      for (const v of secretHeaderValues(inp.checks)) ctx.secrets.add(v);

      const targets = smokeTargets({ url: inp.url, tenants: inp.tenants, namespace: inp.namespace, release: inp.release });
      const inCluster = targets.filter((t) => t.namespace && t.release);
      if (inp.clusterChecks === 'true' && inCluster.length === 0 && targets.length > 0) {
        throw new ConfigurationError(
          'input "cluster-checks"',
          'is true, but no target names a namespace and release',
          'give namespace and release (or a tenant-rollout report), or set cluster-checks: auto',
        );
      }
      const haveKubeconfig = !!inp.kubeconfig || !!ctx.env.KUBECONFIG;
      const useCluster = inCluster.length > 0 && (inp.clusterChecks === 'true' || (inp.clusterChecks === 'auto' && haveKubeconfig));
      if (inp.clusterChecks === 'auto' && inCluster.length > 0 && !useCluster) {
        ctx.logger.info('in-cluster checks skipped: no kubeconfig given (set kubeconfig, or cluster-checks: true to use ~/.kube/config)');
      }

      let creds: Credentials | undefined;
      try {
        let cluster: Cluster | undefined;
        if (useCluster) {
          creds = openCredentials(ctx, inp.kubeconfig, inp.kubeContext);
          cluster = await (deps.createCluster ?? defaultCluster)(creds.target);
        }
        let report: SmokeReport;
        if (targets.length === 0) {
          ctx.logger.warning('no target to check (no tenant of the report has one of the report-statuses)');
          report = {
            passed: true,
            startedAt: new Date().toISOString(),
            durationMs: 0,
            totals: { targets: 0, failedTargets: 0, checks: 0, failedChecks: 0 },
            targets: [],
          };
        } else {
          report = await ctx.logger.group(`smoke test: ${targets.length} target(s)`, () =>
            runSmokeChecks(
              targets,
              inp.checks,
              { clock: deps.clock ?? systemClock, logger: ctx.logger, http: deps.http ?? fetchHttp, cluster },
              {
                concurrency: inp.concurrency,
                deadlineMs: inp.deadlineMs,
                cluster: useCluster ? { expectedImages: inp.images, restartWindowMs: inp.restartWindowMs } : undefined,
                signal: ctx.signal,
              },
            ),
          );
        }
        const json = ctx.secrets.redact(JSON.stringify(report));
        const file = writeReportFile(inp.reportFile, ctx.tempDir, `${ctx.secrets.redact(JSON.stringify(report, null, 2))}\n`, 'smoke-test');
        ctx.setOutput('result', targets.length === 0 ? 'skipped' : report.passed ? 'passed' : 'failed');
        ctx.setOutput(
          'failed-targets',
          report.targets
            .filter((t) => !t.passed)
            .map((t) => t.target)
            .join(','),
        );
        ctx.setOutput('report', json);
        ctx.setOutput('report-file', file);
        if (targets.length > 0) await ctx.summary(smokeSummary(report));
        if (!report.passed) throw new Error(failureLine(report));
      } finally {
        creds?.private.remove();
      }
    },
    async post(ctx: ActionContext) {
      removePrivateDir(ctx);
    },
  };
}

export const smokeTest = createSmokeTest();
