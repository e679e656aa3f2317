import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createFleetDocuments } from '../../kube/documents.ts';
import { mergeReports } from '../../rollout/merge.ts';
import { openShardCoordinator } from '../../rollout/shards.ts';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { createCluster, explainUnreachable, loadConfig, probeCluster } from '../../kube/client.ts';
import { namespacesByName } from '../../kube/namespaces.ts';
import { DEFAULT_RETRY } from '../../kube/retry.ts';
import { createReleaseLeases, leaseGuard } from '../../kube/leases.ts';
import { systemClock } from '../../core/clock.ts';
import type { Clock } from '../../core/clock.ts';
import type { CommandRunner } from '../../core/process.ts';
import { RolloutEndedError } from '../../rollout/outcome.ts';
import { buildReport, renderReport, reportLine } from '../../rollout/report.ts';
import type { RolloutReport } from '../../rollout/report.ts';
import { requestStatsMark, requestStatsSince } from '../../kube/request.ts';
import type { Cluster, NamespaceInfo } from '../../kube/ports.ts';
import { transientReason } from '../../kube/retry.ts';
import { onApiPressure } from '../../kube/pressure.ts';
import { namespaceKey, runTenantRollout } from '../../rollout/run.ts';
import type { RunPorts } from '../../rollout/run.ts';
import { openPrometheus } from '../common/analysis-inputs.ts';
import { defaultCluster } from '../common/cluster.ts';
import type { ClusterFactory } from '../common/cluster.ts';
import type { ActionContext, ActionModule } from '../common/context.ts';
import type { ClusterTarget } from '../../core/cluster-target.ts';
import { checkContexts, clientOf, targetOf } from './clusters.ts';
import { homeCluster } from '../../clusters/model.ts';
import type { Helm } from '../../helm/helm.ts';
import type { Tenant } from '../../tenants/model.ts';
import type { BoundCluster } from './clusters.ts';
import { explainHelmError, openCredentials, openHelm, openPostHelm, removePrivateDir } from '../common/helm-session.ts';
import { recoverAllAfterCancel } from '../../helm/recover.ts';
import { renderForTenant, toTarget } from '../../tenants/model.ts';
import { checkDeployedRelease } from '../../verify/release-check.ts';
import { fetchHttp } from '../../core/http.ts';
import type { Http } from '../../core/http.ts';
import { unreachable as isUnreachable } from '../../rollout/execute.ts';
import { ConfigurationError, errorMessage } from '../../core/errors.ts';
import { earlierAttempt, fleetGuards, releaseSavedLock, runOperation } from './operations.ts';
import type { OperationDeps } from './operations.ts';
import type { VerifyResult } from '../../helm/deploy.ts';
import { parseInputs } from './inputs.ts';
import { soakAnalysis } from '../../analysis/soak.ts';
import { renderFleetVersions } from '../../release/promotion.ts';
import { mergedEvents, openObservers } from './observers.ts';
import { inProcessHistory } from '../common/release-history.ts';
import { InflightJournal, readJournal, type InflightRelease } from './inflight.ts';
import { parsePlan, serializePlan, stepsForPhase } from '../../rollout/plan.ts';
import { writeReportFile } from '../common/report-file.ts';

/**
 * Who holds this run's release leases. main and post of one job are both children of the
 * runner's worker (one parent pid), so post can give up what a killed main left; two runs on
 * one machine (two CLIs) have different parents.
 */
function leaseHolder(env: NodeJS.ProcessEnv): string {
  return `${runId(env)} ${hostname()} ppid ${process.ppid}`;
}

/** A killed run's leases expire this long after its last renewal (renewed every 20 s while held). */
const LEASE_DURATION_MS = 60_000;

export const STATE_INFLIGHT = 'tenant-rollout-inflight';
/** Largest report given as the `report` output (bytes); larger ones are the file only. */
export const REPORT_OUTPUT_MAX = 256 * 1024;

const FAILED_OUTPUT: ReadonlySet<string> = new Set(['failed', 'failed-rolled-back', 'failed-untouched', 'unknown', 'rolled-back']);
/** What main saves for the post step: the releases in flight and, explicitly, the cluster they are in. */
interface RolloutInflight {
  helm: string;
  target: ClusterTarget;
  /** Multi-cluster fleets: each cluster's target, by name (journal entries name their cluster). */
  targets?: Record<string, ClusterTarget>;
  timeoutMs: number;
  /** The in-flight journal (see inflight.ts); `releases` inline is the older form. */
  journal?: string;
  releases?: InflightRelease[];
}

export interface TenantRolloutDeps extends OperationDeps {
  run?: CommandRunner;
  clock?: Clock;
  http?: Http;
  /** Injected in tests; defaults to the client-node adapter. */
  createCluster?: ClusterFactory;
}

function runId(env: NodeJS.ProcessEnv): string {
  if (!env.GITHUB_RUN_ID) return 'run=local';
  return `run=${env.GITHUB_REPOSITORY ?? ''}/${env.GITHUB_RUN_ID}/${env.GITHUB_RUN_ATTEMPT ?? 1}`;
}

/** The report as a file, outputs (report, counts, outcome, exit code) and the summary table. */
async function publish(ctx: ActionContext, reportFile: string, rep: RolloutReport): Promise<string> {
  const file = writeReportFile(reportFile, ctx.tempDir, `${ctx.secrets.redact(JSON.stringify(rep, null, 2))}\n`);
  ctx.logger.info(`report: ${file}`);
  // A job's outputs hold 1 MB in all (the report of ~700 tenants): past REPORT_OUTPUT_MAX the
  // report travels only as the file (report-file, an artifact), and the output says so.
  const text = JSON.stringify(rep);
  if (Buffer.byteLength(text) <= REPORT_OUTPUT_MAX) ctx.setOutput('report', text);
  else {
    ctx.setOutput('report', '');
    ctx.logger.info(`the report (${Buffer.byteLength(text)} bytes) is too large for a job output: read report-file`);
  }
  ctx.setOutput('report-file', file);
  for (const [k, v] of Object.entries(rep.counts)) ctx.setOutput(k, v);
  ctx.setOutput('outcome', rep.outcome);
  ctx.setOutput('exit-code', rep.exitCode);
  await ctx.summary(renderReport(rep));
  return file;
}

/**
 * The run's Kubernetes API requests and retries of transient failures, for the report: every
 * client it made since `mark` (each cluster's, release histories, leases, fleet documents).
 */
function withApiStats(rep: RolloutReport, mark: number): RolloutReport {
  if (requestStatsMark() > mark) {
    const stats = requestStatsSince(mark);
    rep.api = { requests: stats.requests, ...stats.retry };
  }
  return rep;
}

/**
 * A run that ended on an error before any tenant result: a transient API failure that outlasted
 * the retries is no verdict (`held`: re-run when the cluster answers); anything else `failed`.
 */
function reportOfError(err: unknown, meta: { phase: string; startedAt: string; durationMs: number }): RolloutReport {
  const outcome = transientReason(err) ? 'held' : 'failed';
  return buildReport(
    { tenants: [], durationMs: meta.durationMs, stop: { outcome, reason: errorMessage(err) } },
    { phase: meta.phase, planFingerprint: '', target: '', startedAt: meta.startedAt },
  );
}

/**
 * The report job of a sharded rollout: the shard reports in a directory, merged into one report
 * and one summary. With shards > 1 it is also the run's one observer: the shards wrote per-tenant
 * records at most and sent nothing, so the wave records and the notices come from here, once.
 */
async function mergeShardReports(
  ctx: ActionContext,
  inp: ReturnType<typeof parseInputs>,
  ports: { clock: Clock; http: Http },
): Promise<void> {
  if (!inp.approvedPlanFile)
    throw new ConfigurationError('input "merge-reports"', 'needs plan-file', 'give the plan artifact the shards ran');
  const plan = parsePlan(readFileSync(inp.approvedPlanFile, 'utf8'), 'plan-file');
  const files = readdirSync(inp.mergeReports, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.json'));
  const reports = files
    .map((f) => JSON.parse(readFileSync(join(inp.mergeReports, f), 'utf8')) as RolloutReport)
    .filter((r) => r && r.version === 1 && Array.isArray(r.tenants));
  ctx.logger.info(`merging ${reports.length} shard reports (${files.length} files in ${inp.mergeReports})`);
  const rep = mergeReports(plan, inp.phase, reports);
  const file = await publish(ctx, inp.reportFile, rep);
  if ((inp.shards?.count ?? 1) > 1) {
    const observers = openObservers(
      inp.observe,
      ctx.env,
      { ...ports, logger: ctx.logger, signal: ctx.signal },
      { phase: inp.phase, version: inp.releaseVersion || inp.helm.version || '', role: 'merge', dryRun: rep.dryRun },
    );
    try {
      observers.recorder?.prepare();
      for (const e of mergedEvents(stepsForPhase(plan, inp.phase), rep)) observers.onEvent(e);
      observers.afterReport(inp.phase, rep);
    } finally {
      await observers.finish();
    }
  }
  if (rep.outcome !== 'succeeded')
    throw new RolloutEndedError(rep.outcome, `tenant-rollout ${reportLine(rep)}; next: ${rep.next}; report: ${file}`);
  ctx.logger.info(`tenant-rollout ${reportLine(rep)}`);
}

export function createTenantRollout(deps: TenantRolloutDeps = {}): ActionModule {
  const clock = deps.clock ?? systemClock;
  const http = deps.http ?? fetchHttp;
  return {
    async main(ctx: ActionContext) {
      const statsFrom = requestStatsMark();
      const inp = parseInputs(ctx.inputs);
      if (inp.mergeReports) return mergeShardReports(ctx, inp, { clock, http });
      const observers = openObservers(
        inp.observe,
        ctx.env,
        { clock, logger: ctx.logger, http, signal: ctx.signal },
        {
          phase: inp.phase,
          version: inp.releaseVersion || inp.helm.version || '',
          environmentUrl: inp.smokeUrl ? (t) => renderForTenant(inp.smokeUrl, toTarget(t), 'input "smoke-url"') : undefined,
          role: (inp.shards?.count ?? 1) > 1 ? 'shard' : undefined,
          // A plan changes nothing either way; a deploying phase in dry-run mode says so everywhere.
          dryRun: inp.phase !== 'plan' && inp.helm.dryRun !== 'none',
        },
      );
      const creds = openCredentials(ctx, inp.kubeconfig, inp.kubeContext);
      let inflightLeft = false;
      try {
        if (inp.operation !== 'rollout') return await runOperation(ctx, inp, creds, deps).catch(explainHelmError);
        // Start-up overlapped: `helm version` (a process, 50-600 ms) runs while observers start and
        // the tenants are discovered and planned. Errors stay as a serial start-up gave them: an
        // earlier step's error wins (helm's is dropped), and helm's comes before any planning
        // error (runTenantRollout awaits `ready` before throwing one).
        // The plan phase needs helm only to read what the fleet runs now (release-version given).
        const helmStart =
          inp.phase === 'plan' && !inp.releaseVersion
            ? Promise.resolve(undefined)
            : openHelm(ctx, inp.helmBinary, creds.env, creds.target, deps.run);
        helmStart.catch(() => {}); // awaited below (ready); an earlier step's error may end the run first
        await observers.beforeRun(inp.phase);
        // Deploying phases read the tenants' namespaces too (their hold annotations), whatever the source.
        const needCluster = inp.source.kind === 'namespaces' || inp.phase !== 'plan';
        const cluster = needCluster ? await (deps.createCluster ?? defaultCluster)(creds.target) : undefined;
        let cli: Awaited<typeof helmStart>;
        let helm: Helm | undefined;
        const helmReady = helmStart.then((c) => {
          cli = c;
          // Deploying: release history from Helm's storage through the API, so a good tenant costs one helm process.
          helm = c && inp.phase !== 'plan' ? inProcessHistory(ctx, c, creds.target).helm : c;
        });
        helmReady.catch(() => {});
        // Multi-cluster fleets: one target, helm and client per cluster of the tenants file.
        const bound = new Map<string, BoundCluster<Helm>>();
        const targets = (): Record<string, ClusterTarget> | undefined =>
          bound.size ? Object.fromEntries([...bound].map(([n, b]) => [n, b.target])) : undefined;
        const clientFor = (t: { cluster?: string }) => clientOf(bound, cluster, t.cluster);
        // Fleet-level objects (pause, lock, shard coordination) live in the fleet's home cluster:
        // the run's own cluster until bindClusters names the home one.
        let home: ClusterTarget = creds.target;
        // Saved once; each start/end then appends one line to the journal (see inflight.ts).
        let journalFile: InflightJournal | undefined;
        const journal = () => {
          if (journalFile) return journalFile;
          journalFile = new InflightJournal(join(ctx.tempDir, `tenant-rollout-inflight-${process.pid}-${Date.now()}.jsonl`));
          ctx.saveState(
            STATE_INFLIGHT,
            JSON.stringify({
              helm: inp.helmBinary,
              target: creds.target,
              targets: targets(),
              timeoutMs: inp.helm.timeoutMs,
              journal: journalFile.path,
            } satisfies RolloutInflight),
          );
          return journalFile;
        };
        // Release leases (src/kube/leases.ts): held by this run while it changes a release; what
        // lets a later run recover a stuck release whose owner is provably gone.
        // Each release's lease lives beside it: in the tenant's own cluster.
        const leaseStores = new Map<string, ReturnType<typeof createReleaseLeases>>();
        const leasesOf = (t: { cluster?: string }) => {
          const target = (t.cluster !== undefined && bound.get(t.cluster)?.target) || creds.target;
          let l = leaseStores.get(target.name);
          if (!l) leaseStores.set(target.name, (l = createReleaseLeases({ kubeConfig: loadConfig(target) })));
          return l;
        };
        const leases = inp.phase !== 'plan' && inp.helm.dryRun === 'none';
        // A plan has no client of its own: its look at the hold annotations is one quick try (no
        // retries, a short timeout), so a plan made without a cluster at hand is not slowed down.
        const planReader = async (target: ClusterTarget): Promise<Cluster> =>
          deps.createCluster
            ? deps.createCluster(target)
            : createCluster({ ...target, requestTimeoutMs: 10_000, requests: { retry: { ...DEFAULT_RETRY, attempts: 1 } } });
        const holder = leaseHolder(ctx.env);
        const ports: RunPorts = {
          guardFor: leases
            ? (t) =>
                leaseGuard(leasesOf(t), {
                  namespace: t.namespace,
                  release: t.release,
                  holder,
                  durationMs: LEASE_DURATION_MS,
                  // An earlier attempt of this workflow run is over (GitHub re-runs only ended runs).
                  supersedes: (h) => earlierAttempt(ctx.env, h),
                  logger: ctx.logger,
                })
            : undefined,
          readFile: (p) => readFileSync(p, 'utf8'),
          exists: (p) => existsSync(p),
          listNamespaces: (sel, c) => {
            const client = c !== undefined ? bound.get(c)?.client : cluster;
            if (!client) throw new Error(`no cluster${c ? ` ${c}` : ''}`);
            return client.listNamespaces(sel, ctx.signal).catch((e: unknown) => {
              throw explainUnreachable(e, c);
            });
          },
          // One cluster: it must answer before anything is deployed. Several: an unreachable one
          // holds only its own tenants (execute.ts), so there is nothing to refuse up front.
          preflight: async () => {
            if (bound.size === 0)
              await probeCluster({ kubeconfigPath: creds.target.kubeconfigPath, context: creds.target.context }, ctx.signal);
          },
          writeValues: (name, content) => creds.private.write(name, content),
          readNamespaces: async (ts) => {
            const found = new Map<string, NamespaceInfo>();
            const forbidden: string[] = [];
            const down = new Map<string, string>();
            const byCluster = new Map<string, Tenant[]>();
            for (const t of ts) byCluster.set(t.cluster ?? '', [...(byCluster.get(t.cluster ?? '') ?? []), t]);
            for (const [c, group] of byCluster) {
              const client = clientFor({ cluster: c || undefined }) ?? (await planReader(bound.get(c)?.target ?? creds.target));
              // One cluster: a wrong target is named as such, like the discovery's list (an input error,
              // not a hold). One of several: it holds its own tenants and the other clusters go on.
              let r: Awaited<ReturnType<typeof namespacesByName>>;
              try {
                r = await namespacesByName(client, [...new Set(group.map((t) => t.namespace))], ctx.signal);
              } catch (e) {
                if (c && byCluster.size > 1 && isUnreachable(errorMessage(e))) {
                  down.set(c, `cluster ${c} is unreachable (${errorMessage(e)})`);
                  continue;
                }
                throw explainUnreachable(e, c || undefined);
              }
              for (const [name, ns] of r.found) found.set(namespaceKey({ cluster: c || undefined, namespace: name }), ns);
              forbidden.push(...r.forbidden.map((n) => (c ? `${c}/${n}` : n)));
            }
            return { found, forbidden, unreachable: down };
          },
          get helm() {
            return helm;
          },
          ready: () => helmReady,
          bindClusters: async (specs) => {
            await helmReady;
            checkContexts(specs, creds.target, inp.source.kind === 'file' ? undefined : 'input "clusters"');
            for (const spec of specs) {
              const target = targetOf(spec, creds.target, ctx.env, creds.private, ctx.secrets);
              bound.set(spec.name, {
                target,
                helm: cli && inp.phase !== 'plan' ? inProcessHistory(ctx, cli.forTarget(target), target).helm : cli?.forTarget(target),
                client: needCluster ? await (deps.createCluster ?? defaultCluster)(target) : undefined,
              });
            }
            home = bound.get(homeCluster(specs)?.name ?? '')?.target ?? home;
            ctx.logger.info(
              `clusters: ${[...bound].map(([n, b]) => `${n} (${b.target.context ?? 'current context'})`).join(', ')}; home: ${home.name}`,
            );
          },
          helmFor: (t) => {
            const h = t.cluster !== undefined ? bound.get(t.cluster)?.helm : undefined;
            if (!h) throw new Error(`no helm bound for cluster "${t.cluster}" of tenant ${t.id}`);
            return h;
          },
          clock,
          logger: ctx.logger,
          verify: async (t) => {
            const tenant = toTarget(t);
            const url = inp.smokeUrl ? renderForTenant(inp.smokeUrl, tenant, 'input "smoke-url"') : '';
            const res = await checkDeployedRelease(
              { name: t.id, namespace: t.namespace, release: t.release },
              { workloads: inp.verifyWorkloads, url, checks: inp.smokeChecks, tenant, deadlineMs: inp.helm.timeoutMs, signal: ctx.signal },
              { cluster: clientFor(t), clock, http },
            );
            return { ok: res.ok, reason: res.reason };
          },
          soakCheck:
            cluster && inp.verifyWorkloads
              ? async (tenants) => {
                  // One fleet-wide look per interval and cluster, however many tenants are soaking.
                  const groups = new Map<string, Tenant[]>();
                  for (const t of tenants) groups.set(t.cluster ?? '', [...(groups.get(t.cluster ?? '') ?? []), t]);
                  const health = new Map<string, Awaited<ReturnType<Cluster['fleetHealth']>> extends Map<string, infer H> ? H : never>();
                  for (const [c, ts] of groups)
                    for (const [k, h] of await (clientFor({ cluster: c || undefined }) ?? cluster).fleetHealth(ts, { signal: ctx.signal }))
                      health.set(`${c}:${k}`, h);
                  const out = new Map<string, VerifyResult>();
                  for (const t of tenants) {
                    const h = health.get(`${t.cluster ?? ''}:${t.namespace}/${t.release}`);
                    out.set(t.id, !h || h.healthy ? { ok: true } : { ok: false, reason: h.problems.join('; ') });
                  }
                  return out;
                }
              : undefined,
          soakAnalysis:
            inp.analysis.length || inp.latency
              ? (updated, baseline, windowMs, onFailed, signal, upgradedAt) =>
                  soakAnalysis(
                    { metrics: inp.analysis, latency: inp.latency, intervalMs: inp.soakIntervalMs },
                    { clock, logger: ctx.logger, prometheus: openPrometheus(inp, http), cluster, http },
                    { updated, baseline, windowMs, onFailed, signal, upgradedAt },
                  )
              : undefined,
          // Each API server's load, by the cluster it serves ('' the run's own), for adaptive parallelism.
          pressure: {
            subscribe: (fn) => {
              const byServer = new Map<string, string>();
              for (const [name, b] of bound) {
                const server = loadConfig(b.target).getCurrentCluster()?.server;
                if (server && !byServer.has(server)) byServer.set(server, name);
              }
              return onApiPressure((e) =>
                fn(
                  byServer.get(e.server) ?? '',
                  e.kind === 'latency' ? { kind: 'latency', ms: e.ms } : { kind: 'throttled', reason: e.reason },
                ),
              );
            },
          },
          onEvent: observers.onEvent,
          onInflight: (change) => {
            const j = journal();
            j.apply(change);
            inflightLeft = j.inFlight > 0;
          },
          openShards: async (o) => {
            const sh = inp.shards!;
            ctx.logger.info(`shard ${sh.index + 1}/${sh.count}: coordination in configmap ${sh.namespace}/${o.name}`);
            return openShardCoordinator({
              ...o,
              docs: createFleetDocuments({
                kubeConfig: loadConfig(home),
                namespace: sh.namespace,
              }),
              shard: sh.index,
              shards: sh.count,
              clock,
              logger: ctx.logger,
            });
          },
        };
        if (ctx.confirm) {
          const confirm = ctx.confirm;
          ports.approve = async (plan, question) => {
            // The plan is shown before the question (the CLI prints it from this output).
            ctx.setOutput('plan', serializePlan(plan));
            return confirm(question);
          };
        }
        // Before anything runs, in every phase: the plan table in the log and the summary.
        ports.onPlan = async (out) => {
          const dry = inp.helm.dryRun !== 'none';
          const label = dry ? ` (DRY RUN: helm ${inp.helm.dryRun} renders and validates, nothing will be changed)` : '';
          if (out.promotion) {
            const p = out.promotion;
            ctx.setOutput('promotion', p.kind);
            ctx.setOutput('gate', p.gate);
            ctx.setOutput('fleet-version', p.fleetVersion);
            ctx.setOutput('promotion-reason', p.reason);
            ctx.logger.info(`promotion: ${p.kind}, gate ${p.gate}: ${p.reason}`);
            ctx.logger.info(`who runs what:\n${renderFleetVersions(p)}`);
          }
          ctx.logger.info(`plan ${out.plan.fingerprint.slice(0, 12)} for phase ${inp.phase}${label}: ${out.planText}`);
          const promo = out.promotion
            ? `**Promotion:** ${out.promotion.kind} (gate: ${out.promotion.gate}). ` +
              `${out.promotion.reason}\n\n**Who runs what:**\n\n${renderFleetVersions(out.promotion)}\n`
            : '';
          await ctx.summary(`### tenant-rollout plan (phase ${inp.phase})${label}\n\n${promo}${out.planTable}\n`);
        };
        const startedAt = new Date(clock.now()).toISOString();
        const guards = inp.phase === 'plan' ? undefined : fleetGuards(ctx, inp, () => home, deps);
        ports.gate = guards?.gate;
        ports.withLock = guards?.withLock;
        const out = await runTenantRollout(inp, ports, { run: runId(ctx.env), signal: ctx.signal })
          .catch(explainHelmError)
          .catch(async (err: unknown) => {
            observers.failed(inp.phase, ctx.secrets.redact(errorMessage(err)));
            // Every exit path ends with a report, outputs and a summary, even when the run never
            // got as far as a plan (a bad input, an unreadable cluster, a bug).
            if (inp.phase !== 'plan') {
              const rep = reportOfError(err, { phase: inp.phase, startedAt, durationMs: clock.now() - Date.parse(startedAt) });
              withApiStats(rep, statsFrom);
              const file = await publish(ctx, inp.reportFile, rep);
              if (rep.outcome === 'held' && !(err instanceof ConfigurationError))
                throw new RolloutEndedError('held', `tenant-rollout held: ${errorMessage(err)}; next: ${rep.next}; report: ${file}`);
            }
            throw err;
          });
        // Releases the executor could not return (a rollback that kept failing, a state nobody could
        // read) stay in the journal: the post step, which the runner always runs, tries again.
        if (journalFile && journalFile.inFlight === 0) {
          journalFile.remove();
          ctx.saveState(STATE_INFLIGHT, '');
        }
        // The plan as a file too (upload it as an artifact): a large fleet's plan is too big for an input.
        const planFile = join(ctx.tempDir, `tenant-rollout-plan-${out.plan.fingerprint.slice(0, 12)}.json`);
        writeFileSync(planFile, out.planJson);
        ctx.setOutput('plan-file', planFile);
        ctx.setOutput('plan', out.planJson);
        ctx.setOutput('plan-fingerprint', out.plan.fingerprint);
        ctx.setOutput('appeared', out.appeared.join(','));
        if (out.declined) {
          ctx.logger.info('nothing done: the operator declined');
          return;
        }
        await observers.afterPlan(inp.phase, out.plan, out.promotion);
        if (!out.report) {
          ctx.logger.info(
            `plan ${out.plan.fingerprint.slice(0, 12)}: ${out.plan.pilot.length} pilot ` +
              `tenants, ${out.plan.waves.length} waves, ${out.plan.summary.tenants} tenants`,
          );
          return;
        }
        const rep = withApiStats(out.report, statsFrom);
        // For a caller to act on (post, page): capped, the count says how many there are.
        const failedIds = rep.tenants.filter((t) => FAILED_OUTPUT.has(t.status)).map((t) => t.id);
        ctx.setOutput('failed-tenants', failedIds.slice(0, 50).join(','));
        ctx.setOutput('failed-count', failedIds.length);
        observers.afterReport(inp.phase, rep);
        const file = await publish(ctx, inp.reportFile, rep);
        const line = reportLine(rep);
        if (rep.outcome !== 'succeeded')
          throw new RolloutEndedError(
            rep.outcome,
            `tenant-rollout ${line}${rep.stoppedBecause ? ` (${rep.stoppedBecause})` : ''}; next: ${rep.next}; report: ${file}`,
          );
        ctx.logger.info(`tenant-rollout ${line}`);
      } finally {
        // Releases left for the post step keep main's kubeconfig until then (the post step removes the directory).
        if (inflightLeft) creds.private.removeAllBut('kubeconfig');
        else creds.private.remove();
        // Records and notifications are off the critical path: bounded, and never the outcome.
        await observers.finish();
      }
    },

    async post(ctx: ActionContext) {
      try {
        await recoverInflight(ctx);
      } finally {
        // After the recovery (which still changes tenants under the lock): the lock a killed main left.
        await releaseSavedLock(ctx, deps);
        removePrivateDir(ctx);
      }
    },
  };

  /** The releases a killed or cancelled main left in flight, back to a good state. */
  async function recoverInflight(ctx: ActionContext): Promise<void> {
    const raw = ctx.getState(STATE_INFLIGHT);
    if (!raw) return;
    const s = JSON.parse(raw) as RolloutInflight;
    const releases = s.releases ?? (s.journal ? readJournal(s.journal) : []);
    if (s.journal) rmSync(s.journal, { force: true });
    if (!releases.length) return;
    ctx.logger.info(`post: ${releases.length} releases were not returned to a good state by main; recovering them`);
    // Each release in the cluster main saved for it (multi-cluster fleets), else main's one target.
    const byCluster = new Map<string, InflightRelease[]>();
    for (const r of releases) byCluster.set(r.cluster ?? '', [...(byCluster.get(r.cluster ?? '') ?? []), r]);
    // The clusters at once, each 8 releases at a time: the runner's cancel window is for all of them.
    const recoverCluster = async (c: string, rs: InflightRelease[]): Promise<InflightRelease[]> => {
      const t = (c && s.targets?.[c]) || s.target;
      let left: InflightRelease[];
      try {
        const helm = await openPostHelm(ctx, s.helm, t, deps.run);
        left = await recoverAllAfterCancel(
          helm,
          rs.map((r) => ({ ...r, helm: s.helm, timeoutMs: s.timeoutMs })),
          ctx.logger,
          { clock, parallel: 8 },
        );
      } catch (err) {
        // One cluster that cannot be worked on leaves its releases listed, never the others'.
        ctx.logger.warning(`post: cluster ${c || t.context || 'default'}: ${errorMessage(err)}`);
        return rs;
      }
      // main's leases on these releases (a killed main never gave them up): this run is done with them.
      // Best effort: a lease that cannot be given up expires by itself.
      try {
        const leases = createReleaseLeases({ kubeConfig: loadConfig({ kubeconfigPath: t.kubeconfigPath, context: t.context }) });
        await Promise.all(rs.map((x) => leases.release(x.namespace, x.release, leaseHolder(ctx.env))));
      } catch (err) {
        ctx.logger.debug(`post: could not give up the release leases: ${errorMessage(err)}`);
      }
      return left;
    };
    const left = (await Promise.all([...byCluster].map(([c, rs]) => recoverCluster(c, rs)))).flat();
    if (left.length)
      throw new Error(`post: ${left.length} releases could not be recovered: ${left.map((r) => `${r.namespace}/${r.release}`).join(', ')}`);
  }
}

export const tenantRollout = createTenantRollout();
