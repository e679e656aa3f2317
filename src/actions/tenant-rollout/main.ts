import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
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
import { recoverAfterCancel } from '../helm-deploy/post.ts';
import { parseInputs } from './inputs.ts';

export const STATE_INFLIGHT = 'tenant-rollout-inflight';

export interface TenantRolloutDeps {
  run?: CommandRunner;
  clock?: Clock;
  /** Injected in tests; defaults to the client-node adapter. */
  createCluster?: (o: { kubeconfigPath?: string; context?: string }) => Promise<Cluster> | Cluster;
}

function runId(env: NodeJS.ProcessEnv): string {
  if (!env.GITHUB_RUN_ID) return 'run=local';
  return `run=${env.GITHUB_REPOSITORY ?? ''}/${env.GITHUB_RUN_ID}/${env.GITHUB_RUN_ATTEMPT ?? 1}`;
}

async function defaultCluster(o: { kubeconfigPath?: string; context?: string }): Promise<Cluster> {
  const { createCluster } = await import('../../kube/client.ts');
  return createCluster(o);
}

export function createTenantRollout(deps: TenantRolloutDeps = {}): ActionModule {
  const clock = deps.clock ?? systemClock;
  return {
    async main(ctx: ActionContext) {
      const inp = parseInputs(ctx.inputs);
      const creds = openCredentials(ctx, inp.kubeconfig);
      try {
        const needCluster = inp.source.kind === 'namespaces' || (inp.phase !== 'plan' && inp.verifyWorkloads);
        const cluster = needCluster ? await (deps.createCluster ?? defaultCluster)({ kubeconfigPath: creds.kubeconfigPath, context: inp.helm.kubeContext }) : undefined;
        const helm = inp.phase === 'plan' ? undefined : await openHelm(ctx, inp.helmBinary, creds.env, deps.run);
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
          verify:
            cluster && inp.verifyWorkloads
              ? async (t) => {
                  const h = await cluster.releaseHealth(t.namespace, t.release, { signal: ctx.signal });
                  return h.healthy ? { ok: true } : { ok: false, reason: h.problems.join('; ') || 'workloads not ready' };
                }
              : undefined,
          soakCheck:
            cluster && inp.verifyWorkloads
              ? async (tenants) => {
                  const out = new Map<string, { ok: boolean; reason?: string }>();
                  for (const t of tenants) {
                    const h = await cluster.releaseHealth(t.namespace, t.release, { signal: ctx.signal });
                    out.set(t.id, h.healthy ? { ok: true } : { ok: false, reason: h.problems.join('; ') });
                  }
                  return out;
                }
              : undefined,
          onInflight: (inflight) => ctx.saveState(STATE_INFLIGHT, JSON.stringify({ helm: inp.helmBinary, kubeContext: inp.helm.kubeContext, timeoutMs: inp.helm.timeoutMs, releases: inflight })),
        };
        const out = await runTenantRollout(inp, ports, { run: runId(ctx.env), signal: ctx.signal }).catch(explainHelmError);
        ctx.setOutput('plan', out.planJson);
        ctx.setOutput('plan-fingerprint', out.plan.fingerprint);
        ctx.setOutput('appeared', out.appeared.join(','));
        await ctx.summary(`### tenant-rollout plan\n\n${out.planTable}\n`);
        if (!out.report) {
          ctx.logger.info(`plan ${out.plan.fingerprint.slice(0, 12)}: ${out.plan.pilot.length} pilot tenants, ${out.plan.waves.length} waves, ${out.plan.summary.tenants} tenants`);
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
        const line = `${rep.outcome}: ${c.succeeded} succeeded, ${c.unchanged} unchanged, ${c['failed-rolled-back']} failed and rolled back, ${c['failed-untouched']} failed untouched, ${c.failed} failed, ${c['rolled-back']} rolled back with their wave, ${c.skipped} skipped`;
        if (rep.outcome !== 'succeeded') throw new Error(`tenant-rollout ${line}${rep.stoppedBecause ? ` (${rep.stoppedBecause})` : ''}; report: ${file}`);
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
        const s = JSON.parse(raw) as { helm: string; kubeContext?: string; timeoutMs: number; releases: { namespace: string; release: string; previous?: number }[] };
        for (const r of s.releases) await recoverAfterCancel(ctx, { ...r, helm: s.helm, kubeContext: s.kubeContext, timeoutMs: s.timeoutMs }, deps.run);
      } finally {
        removePrivateDir(ctx);
      }
    },
  };
}

export const tenantRollout = createTenantRollout();
