import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createCluster } from '../../kube/client.ts';
import { dirname, join } from 'node:path';
import { systemClock } from '../../core/clock.ts';
import type { Clock } from '../../core/clock.ts';
import type { CommandRunner } from '../../core/process.ts';
import type { Cluster } from '../../kube/ports.ts';
import { renderReport } from '../../rollout/report.ts';
import { runTenantRollout } from '../../rollout/run.ts';
import type { RunPorts } from '../../rollout/run.ts';
import type { ActionContext, ActionModule } from '../common/context.ts';
import { explainHelmError, openCredentials, openHelm, removePrivateDir } from '../common/helm-session.ts';
import { openPostHelm, recoverAllAfterCancel } from '../helm-deploy/post.ts';
import { silentLogger } from '../../core/logger.ts';
import type { Tenant } from '../../tenants/model.ts';
import { runSmokeChecks } from '../../verify/smoke.ts';
import { fetchHttp } from '../../verify/http.ts';
import type { Http } from '../../verify/http.ts';
import { renderTenant } from '../../verify/template.ts';
import type { TenantTarget } from '../../verify/template.ts';
import { analyze } from '../../analysis/analyze.ts';
import { prometheusApi } from '../../analysis/prometheus.ts';
import type { VerifyResult } from '../../helm/deploy.ts';
import { parseInputs } from './inputs.ts';
import { renderFleetVersions } from '../../release/promotion.ts';

export const STATE_INFLIGHT = 'tenant-rollout-inflight';

export interface TenantRolloutDeps {
  run?: CommandRunner;
  clock?: Clock;
  http?: Http;
  /** Injected in tests; defaults to the client-node adapter. */
  createCluster?: (o: { kubeconfigPath?: string; context?: string }) => Promise<Cluster> | Cluster;
}

const asTarget = (t: Tenant): TenantTarget => ({ id: t.id, slug: t.slug, namespace: t.namespace, release: t.release, labels: t.labels });

function runId(env: NodeJS.ProcessEnv): string {
  if (!env.GITHUB_RUN_ID) return 'run=local';
  return `run=${env.GITHUB_REPOSITORY ?? ''}/${env.GITHUB_RUN_ID}/${env.GITHUB_RUN_ATTEMPT ?? 1}`;
}

async function defaultCluster(o: { kubeconfigPath?: string; context?: string }): Promise<Cluster> {
  return createCluster(o);
}

export function createTenantRollout(deps: TenantRolloutDeps = {}): ActionModule {
  const clock = deps.clock ?? systemClock;
  const http = deps.http ?? fetchHttp;
  return {
    async main(ctx: ActionContext) {
      const inp = parseInputs(ctx.inputs);
      const creds = openCredentials(ctx, inp.kubeconfig);
      try {
        const needCluster = inp.source.kind === 'namespaces' || (inp.phase !== 'plan' && inp.verifyWorkloads);
        const cluster = needCluster
          ? await (deps.createCluster ?? defaultCluster)({ kubeconfigPath: creds.kubeconfigPath, context: inp.helm.kubeContext })
          : undefined;
        // The plan phase needs helm only to read what the fleet runs now (release-version given).
        const helm = inp.phase === 'plan' && !inp.releaseVersion ? undefined : await openHelm(ctx, inp.helmBinary, creds.env, deps.run);
        const ports: RunPorts = {
          readFile: (p) => readFileSync(p, 'utf8'),
          exists: (p) => existsSync(p),
          listNamespaces: (sel) => {
            if (!cluster) throw new Error('no cluster');
            return cluster.listNamespaces(sel, ctx.signal);
          },
          writeValues: (name, content) => creds.private.write(name, content),
          helm,
          clock,
          logger: ctx.logger,
          verify: async (t) => {
            // 1. The release's workloads, judged the careful way (updated, ready, no crash loops).
            if (cluster && inp.verifyWorkloads) {
              const h = await cluster.releaseHealth(t.namespace, t.release, { signal: ctx.signal });
              if (!h.healthy) return { ok: false, reason: h.problems.join('; ') || 'workloads not ready' };
            }
            // 2. The smoke checks against the tenant's URL.
            if (!inp.smokeUrl) return { ok: true };
            const target = asTarget(t);
            const rep = await runSmokeChecks(
              [{ name: t.id, url: renderTenant(inp.smokeUrl, target, 'input "smoke-url"'), tenant: target }],
              inp.smokeChecks,
              { clock, logger: silentLogger, http },
              { concurrency: 4, deadlineMs: inp.helm.timeoutMs, signal: ctx.signal },
            );
            const failed = rep.targets.flatMap((x) => x.checks).filter((c) => !c.passed);
            return failed.length
              ? { ok: false, reason: failed.map((c) => `smoke check ${c.check}: ${c.problems.join(', ')} (${c.measured})`).join('; ') }
              : { ok: true };
          },
          soakCheck:
            cluster && inp.verifyWorkloads
              ? async (tenants) => {
                  // One fleet-wide look per interval, however many tenants are soaking.
                  const health = await cluster.fleetHealth(tenants, { signal: ctx.signal });
                  const out = new Map<string, VerifyResult>();
                  for (const t of tenants) {
                    const h = health.get(`${t.namespace}/${t.release}`);
                    out.set(t.id, !h || h.healthy ? { ok: true } : { ok: false, reason: h.problems.join('; ') });
                  }
                  return out;
                }
              : undefined,
          soakAnalysis: inp.analysis.length
            ? async (updated, baseline, windowMs, onFailed, signal) => {
                const prometheus = inp.prometheusUrl
                  ? prometheusApi({ url: inp.prometheusUrl, token: inp.prometheusToken || undefined, http })
                  : undefined;
                const result = await analyze(
                  updated.map(asTarget),
                  inp.analysis,
                  { clock, logger: ctx.logger, prometheus, cluster, http },
                  {
                    durationMs: windowMs,
                    intervalMs: inp.soakIntervalMs,
                    baseline: baseline.map(asTarget),
                    signal,
                    onTargetFailed: (ta) => onFailed(ta.target.id, ta.reason),
                  },
                );
                ctx.logger.info(
                  `soak analysis: ${result.verdict} (${result.targets.length} tenants, ${result.baseline.tenants.length} in the baseline)`,
                );
              }
            : undefined,
          onInflight: (inflight) =>
            ctx.saveState(
              STATE_INFLIGHT,
              JSON.stringify({
                helm: inp.helmBinary,
                kubeContext: inp.helm.kubeContext,
                timeoutMs: inp.helm.timeoutMs,
                releases: inflight,
              }),
            ),
        };
        const out = await runTenantRollout(inp, ports, { run: runId(ctx.env), signal: ctx.signal }).catch(explainHelmError);
        ctx.setOutput('plan', out.planJson);
        ctx.setOutput('plan-fingerprint', out.plan.fingerprint);
        ctx.setOutput('appeared', out.appeared.join(','));
        if (out.promotion) {
          const p = out.promotion;
          ctx.setOutput('promotion', p.kind);
          ctx.setOutput('gate', p.gate);
          ctx.setOutput('fleet-version', p.fleetVersion);
          ctx.setOutput('promotion-reason', p.reason);
          ctx.logger.info(`promotion: ${p.kind}, gate ${p.gate}: ${p.reason}`);
          ctx.logger.info(`who runs what:\n${renderFleetVersions(p)}`);
        }
        const promo = out.promotion
          ? `**Promotion:** ${out.promotion.kind} (gate: ${out.promotion.gate}). ${out.promotion.reason}\n\n**Who runs what:**\n\n${renderFleetVersions(out.promotion)}\n`
          : '';
        await ctx.summary(`### tenant-rollout plan\n\n${promo}${out.planTable}\n`);
        if (!out.report) {
          ctx.logger.info(
            `plan ${out.plan.fingerprint.slice(0, 12)}: ${out.plan.pilot.length} pilot tenants, ${out.plan.waves.length} waves, ${out.plan.summary.tenants} tenants`,
          );
          return;
        }
        const rep = out.report;
        const json = JSON.stringify(rep, null, 2);
        const file = inp.reportFile || join(ctx.tempDir, 'tenant-rollout-report.json');
        mkdirSync(dirname(file), { recursive: true });
        writeFileSync(file, `${ctx.secrets.redact(json)}\n`);
        ctx.setOutput('report', JSON.stringify(rep));
        ctx.setOutput('report-file', file);
        for (const [k, v] of Object.entries(rep.counts)) ctx.setOutput(k, v);
        ctx.setOutput('outcome', rep.outcome);
        await ctx.summary(renderReport(rep));
        const c = rep.counts;
        const line = `${rep.outcome}: ${c.succeeded} succeeded, ${c.unchanged} unchanged, ${c['failed-rolled-back']} failed and rolled back, ${c['failed-untouched']} failed untouched, ${c.failed} failed, ${c.unknown} unknown, ${c['rolled-back']} rolled back with their wave, ${c.skipped} skipped`;
        if (rep.outcome !== 'succeeded')
          throw new Error(`tenant-rollout ${line}${rep.stoppedBecause ? ` (${rep.stoppedBecause})` : ''}; report: ${file}`);
        ctx.logger.info(`tenant-rollout ${line}`);
        ctx.saveState(STATE_INFLIGHT, '');
      } finally {
        creds.private.remove();
      }
    },

    async post(ctx: ActionContext) {
      try {
        const raw = ctx.getState(STATE_INFLIGHT);
        if (!raw) return;
        const s = JSON.parse(raw) as {
          helm: string;
          kubeContext?: string;
          timeoutMs: number;
          releases: { namespace: string; release: string; previous?: number }[];
        };
        if (!s.releases.length) return;
        const helm = await openPostHelm(ctx, s.helm, deps.run);
        ctx.logger.info(`post: ${s.releases.length} releases were not returned to a good state by main; recovering them`);
        const left = await recoverAllAfterCancel(
          ctx,
          helm,
          s.releases.map((r) => ({ ...r, helm: s.helm, kubeContext: s.kubeContext, timeoutMs: s.timeoutMs })),
          { clock, parallel: 8 },
        );
        if (left.length)
          throw new Error(
            `post: ${left.length} releases could not be recovered: ${left.map((r) => `${r.namespace}/${r.release}`).join(', ')}`,
          );
      } finally {
        removePrivateDir(ctx);
      }
    },
  };
}

export const tenantRollout = createTenantRollout();
