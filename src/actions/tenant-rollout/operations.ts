import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { systemClock } from '../../core/clock.ts';
import type { Clock } from '../../core/clock.ts';
import { humanDuration } from '../../core/duration.ts';
import { ConfigurationError, errorMessage } from '../../core/errors.ts';
import type { Logger } from '../../core/logger.ts';
import type { CommandRunner } from '../../core/process.ts';
import { describePause, pauseFleet, pauseGate, readPause, releaseLock, resumeFleet, withFleetLock } from '../../fleet/state.ts';
import type { FleetStore, LockRecord } from '../../fleet/state.ts';
import type { Helm } from '../../helm/helm.ts';
import type { Revision } from '../../helm/history.ts';
import { createCluster, loadConfig } from '../../kube/client.ts';
import { createFleetDocuments } from '../../kube/documents.ts';
import type { Cluster, NamespaceInfo, ReleaseHealth } from '../../kube/ports.ts';
import { executeRollout } from '../../rollout/execute.ts';
import type { TenantRolloutInputs } from './inputs.ts';
import { allowedFailures } from '../../rollout/plan-spec.ts';
import { planRollout, stepsForPhase } from '../../rollout/plan.ts';
import { renderPlanTable, renderPlanText } from '../../rollout/plan-render.ts';
import { RolloutEndedError } from '../../rollout/outcome.ts';
import { buildReport, renderReport } from '../../rollout/report.ts';
import type { RolloutReport } from '../../rollout/report.ts';
import { previousDeployed, rollbackTenant, targetsFromReports } from '../../rollout/rollback.ts';
import type { RollbackTarget } from '../../rollout/rollback.ts';
import { fleetLine, renderStatusMarkdown, tenantState } from '../../rollout/status.ts';
import type { FleetStatus } from '../../rollout/status.ts';
import { applyNamespaceHolds, namespaceKey, resolveTenants, splitHeld } from '../../rollout/run.ts';
import { namespacesByName } from '../../kube/namespaces.ts';
import type { TenantResult } from '../../rollout/execute.ts';
import { activeHold, describeHold } from '../../tenants/model.ts';
import type { Tenant } from '../../tenants/model.ts';
import type { ActionContext } from '../common/context.ts';
import type { Credentials } from '../common/helm-session.ts';
import { openHelm, postTarget } from '../common/helm-session.ts';
import { checkContexts, targetOf } from './clusters.ts';
import { homeCluster } from '../../clusters/model.ts';
import { parseTenantsDocument } from '../../tenants/sources.ts';
import { clusterTarget } from '../../core/cluster-target.ts';
import type { ClusterTarget } from '../../core/cluster-target.ts';
import { inProcessHistory } from '../common/release-history.ts';
import type { ReleaseHistoryReader } from '../../kube/release-history.ts';
import { writeReportFile } from '../common/report-file.ts';

/**
 * tenant-rollout's fleet operations (phase status, rollback, pause, resume): the same tenants,
 * helm and cluster as a rollout, different work.
 */

export interface OperationDeps {
  run?: CommandRunner;
  clock?: Clock;
  createCluster?: (target: ClusterTarget) => Promise<Cluster> | Cluster;
  /** Injected in tests; defaults to ConfigMap documents in the fleet namespace of the target cluster. */
  fleetStore?: (o: ClusterTarget & { namespace: string }) => FleetStore;
}

export function runId(env: NodeJS.ProcessEnv): string {
  if (!env.GITHUB_RUN_ID) return 'run=local';
  return `run=${env.GITHUB_REPOSITORY ?? ''}/${env.GITHUB_RUN_ID}/${env.GITHUB_RUN_ATTEMPT ?? 1}`;
}

/** Who is acting, for the pause record: the GitHub actor and run, or the local user. */
export function actor(env: NodeJS.ProcessEnv): string {
  if (env.GITHUB_ACTOR) return `${env.GITHUB_ACTOR} (${runId(env).slice(4)})`;
  return `${env.USER || env.LOGNAME || 'unknown'}@${env.HOSTNAME || 'local'}`;
}

export function openFleetStore(deps: OperationDeps, o: ClusterTarget & { namespace: string }): FleetStore {
  if (deps.fleetStore) return deps.fleetStore(o);
  return createFleetDocuments({ kubeConfig: loadConfig(o), namespace: o.namespace });
}

/** A holder name for the fleet lock: the run, plus who and which process when local. */
export function lockHolder(env: NodeJS.ProcessEnv): string {
  const run = runId(env);
  return run === 'run=local' ? `${run} ${actor(env)} pid ${process.pid}` : run;
}

/**
 * This process's part of the run's hold on the fleet lock: the shards of one sharded rollout are
 * one run (one holder) on several runners, and each shard's hold is its own.
 */
export function lockMember(): string {
  return `${hostname()} pid ${process.pid}`;
}

/**
 * A live lock that is provably left over, so this run takes it over instead of waiting for it to
 * expire (the usual case: credentials that expired mid-run, so neither main nor post could release
 * it). Two cases only, both certain: (1) an earlier attempt of this same workflow run (GitHub starts
 * a re-run only once every job of the previous attempt has ended), and (2) a local run whose every
 * member is a process of this machine that no longer exists. Anything else waits or expires.
 */
export function supersedesLock(env: NodeJS.ProcessEnv, l: LockRecord, alive = processAlive): boolean {
  if (runId(env) !== 'run=local') return earlierAttempt(env, l.holder);
  if (!l.holder.startsWith('run=local ')) return false;
  const here = `${hostname()} pid `;
  const members = l.members ?? [];
  return members.length > 0 && members.every((m) => m.startsWith(here) && !alive(Number(m.slice(here.length))));
}

/**
 * Whether `holder` (a lock or lease holder: `run=<repo>/<run id>/<attempt>`, then anything) is an
 * earlier attempt of this workflow run: GitHub starts a re-run only once every job of the previous
 * attempt has ended, so such a holder is gone however recently it renewed.
 */
export function earlierAttempt(env: NodeJS.ProcessEnv, holder: string): boolean {
  const ours = /^(run=\S+\/\d+)\/(\d+)$/.exec(runId(env));
  const theirs = /^(run=\S+\/\d+)\/(\d+)(?:\s|$)/.exec(holder);
  return !!ours && !!theirs && ours[1] === theirs[1] && Number(theirs[2]) < Number(ours[2]);
}

function processAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return true; // not a pid we can check: assume it runs
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    // EPERM: it exists, owned by someone else.
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The fleet lock main holds, for the post step: a main killed while it holds the lock never releases it. */
export const STATE_FLEET_LOCK = 'tenant-rollout-fleet-lock';

/** What the post step needs to release the lock: where the fleet object lives, and who holds it. */
export interface SavedFleetLock {
  target: ClusterTarget;
  namespace: string;
  fleet: string;
  holder: string;
  /** Main's part of the run's hold (absent in state saved by an older version: the holder's). */
  member?: string;
}

/**
 * withFleetLock, recorded for the post step: a main killed (SIGKILL) while it holds the lock
 * never reaches its `finally`, and the lock would block the next run of the fleet until it
 * expires. Recorded before the lock is taken, so no kill can leave a lock the post step does not
 * know of (releasing a lock this run does not hold changes nothing); cleared once released.
 */
function recordedLock<T>(
  ctx: ActionContext,
  store: FleetStore,
  o: { target: ClusterTarget; namespace: string; fleet: string; operation: 'rollout' | 'rollback'; clock: Clock },
  fn: () => Promise<T>,
): Promise<T> {
  const holder = lockHolder(ctx.env);
  const member = lockMember();
  ctx.saveState(
    STATE_FLEET_LOCK,
    JSON.stringify({ target: o.target, namespace: o.namespace, fleet: o.fleet, holder, member } satisfies SavedFleetLock),
  );
  const lock = {
    holder,
    member,
    operation: o.operation,
    clock: o.clock,
    supersedes: (l: LockRecord) => supersedesLock(ctx.env, l),
    onTakeOver: (l: LockRecord) =>
      ctx.logger.warning(
        `took over the lock of fleet ${o.fleet} left by ${l.holder} (${l.operation} since ${l.at}): ` +
          'an earlier attempt of this run, or a process of this machine that is gone, could not release it',
      ),
  };
  return withFleetLock(store, o.fleet, lock, fn).finally(() => ctx.saveState(STATE_FLEET_LOCK, ''));
}

/**
 * The post step's half of the fleet lock: releases the lock a killed main left, only while this
 * run still holds it (a lock another run took after ours expired is theirs). Best effort: a lock
 * that cannot be released expires by itself.
 */
export async function releaseSavedLock(ctx: ActionContext, deps: OperationDeps): Promise<void> {
  const raw = ctx.getState(STATE_FLEET_LOCK);
  if (!raw) return;
  try {
    const s = JSON.parse(raw) as SavedFleetLock;
    const store = openFleetStore(deps, { ...postTarget(ctx, s.target), namespace: s.namespace });
    if (await releaseLock(store, s.fleet, s.holder, s.member))
      ctx.logger.info(`post: released the lock of fleet ${s.fleet} that main held`);
    else ctx.logger.debug(`post: the lock of fleet ${s.fleet} is not this run's (free, or another run's): left alone`);
  } catch (err) {
    ctx.logger.warning(`post: could not release the fleet lock (it expires by itself): ${errorMessage(err)}`);
  }
}

/** A fleet store opened when first used. */
function lazyStore(open: () => FleetStore): FleetStore {
  let s: FleetStore | undefined;
  return {
    read: (name, signal) => (s ??= open()).read(name, signal),
    update: (name, change, opts) => (s ??= open()).update(name, change, opts),
  };
}

/**
 * What a deploying rollout owes the fleet: it checks the pause before each tenant, and holds the
 * fleet lock while it runs (so a rollback of the same fleet never runs at the same time). A dry run
 * changes nothing and takes no lock.
 */
export function fleetGuards(ctx: ActionContext, inp: TenantRolloutInputs, home: () => ClusterTarget, deps: OperationDeps) {
  const clock = deps.clock ?? systemClock;
  // Opened on first use: by then the tenants file has named the fleet's home cluster.
  const store = lazyStore(() => openFleetStore(deps, { ...home(), namespace: inp.fleet.namespace }));
  return {
    gate: pauseGate(store, inp.fleet.name, { clock, signal: ctx.signal }),
    withLock: <T>(fn: () => Promise<T>): Promise<T> =>
      inp.helm.dryRun !== 'none'
        ? fn()
        : recordedLock(
            ctx,
            store,
            { target: home(), namespace: inp.fleet.namespace, fleet: inp.fleet.name, operation: 'rollout', clock },
            fn,
          ),
  };
}

/**
 * The fleet's home cluster, where its fleet object lives: the tenants file's `home: true` cluster,
 * the first cluster of the `clusters` input (discovery), else the run's own cluster.
 */
function homeTarget(ctx: ActionContext, inp: TenantRolloutInputs, creds: Credentials): ClusterTarget {
  if (inp.source.kind === 'file' && existsSync(inp.source.path)) {
    const { clusters } = parseTenantsDocument(readFileSync(inp.source.path, 'utf8'), inp.source.path);
    const home = homeCluster(clusters);
    return home && clusters.length > 1 ? targetOf(home, creds.target, ctx.env, creds.private, ctx.secrets) : creds.target;
  }
  const first = inp.source.kind === 'namespaces' && (inp.clusters?.length ?? 0) > 1 ? inp.clusters![0]! : undefined;
  if (first) {
    checkContexts(
      [{ name: first.name, reach: { kind: 'context', context: first.context ?? first.name }, labels: {}, home: true }],
      creds.target,
      'input "clusters"',
    );
    return clusterTarget({ name: first.name, kubeconfigPath: creds.target.kubeconfigPath, context: first.context ?? first.name });
  }
  return creds.target;
}

export async function runOperation(ctx: ActionContext, inp: TenantRolloutInputs, creds: Credentials, deps: OperationDeps): Promise<void> {
  const clock = deps.clock ?? systemClock;
  const where = homeTarget(ctx, inp, creds);
  const store = openFleetStore(deps, { ...where, namespace: inp.fleet.namespace });
  const fleet = inp.fleet.name;

  if (inp.operation === 'pause') {
    const rec = { by: actor(ctx.env), reason: inp.reason, at: new Date(clock.now()).toISOString() };
    if (ctx.confirm && !(await ctx.confirm(`Pause fleet ${fleet} (running rollouts stop starting tenants)?`))) return;
    const r = await pauseFleet(store, fleet, rec);
    const p = r.already ?? rec;
    ctx.setOutput('paused', JSON.stringify(p));
    ctx.logger.info(r.already ? `already paused: ${describePause(p)}` : `paused fleet ${fleet}: ${describePause(p)}`);
    await ctx.summary(`### fleet ${fleet}: ⏸️ paused\n\n${describePause(p)}\n`);
    return;
  }
  if (inp.operation === 'resume') {
    if (ctx.confirm && !(await ctx.confirm(`Resume fleet ${fleet}?`))) return;
    const r = await resumeFleet(store, fleet);
    ctx.setOutput('paused', '');
    ctx.logger.info(r.was ? `resumed fleet ${fleet} (it was ${describePause(r.was)})` : `fleet ${fleet} was not paused: nothing to do`);
    await ctx.summary(`### fleet ${fleet}: ▶️ ${r.was ? 'resumed' : 'not paused'}\n`);
    return;
  }

  const newCluster = deps.createCluster ?? ((o: ClusterTarget) => createCluster(o));
  const cluster = await newCluster(creds.target);
  // Histories from Helm's storage Secrets in paginated lists (the fleet in a few requests, not a
  // helm process per tenant); helm itself when the storage driver is not Secrets.
  const cli = await openHelm(ctx, inp.helmBinary, creds.env, creds.target, deps.run);
  const { helm, reader } = inProcessHistory(ctx, cli, creds.target);
  // Multi-cluster fleets: each tenant's helm, history reader and client are its own cluster's.
  const byCluster = new Map<string, ClusterPorts>();
  const resolved = await resolveTenants(inp, {
    readFile: (p) => readFileSync(p, 'utf8'),
    exists: (p) => existsSync(p),
    listNamespaces: (sel, c) => (c !== undefined ? byCluster.get(c)!.cluster : cluster).listNamespaces(sel, ctx.signal),
    bindClusters: async (specs) => {
      checkContexts(specs, creds.target, inp.source.kind === 'file' ? undefined : 'input "clusters"');
      for (const spec of specs) {
        const target = targetOf(spec, creds.target, ctx.env, creds.private, ctx.secrets);
        byCluster.set(spec.name, { ...inProcessHistory(ctx, cli.forTarget(target), target), cluster: await newCluster(target) });
      }
    },
    writeValues: (name, content) => creds.private.write(name, content),
    clock,
    logger: ctx.logger,
  });
  // The hold annotations of tenants not discovered from namespaces, read like a rollout reads
  // them (status, which changes nothing, shows what it could read).
  const holdPorts = {
    logger: ctx.logger,
    // Each tenant's namespace in its own cluster (multi-cluster fleets), else the run's one.
    readNamespaces: async (ts: readonly Tenant[]) => {
      const found = new Map<string, NamespaceInfo>();
      const forbidden: string[] = [];
      const inCluster = new Map<string, Tenant[]>();
      for (const t of ts) inCluster.set(t.cluster ?? '', [...(inCluster.get(t.cluster ?? '') ?? []), t]);
      for (const [c, group] of inCluster) {
        const client = (c && byCluster.get(c)?.cluster) || cluster;
        const r = await namespacesByName(client, [...new Set(group.map((t) => t.namespace))], ctx.signal);
        for (const [n, ns] of r.found) found.set(namespaceKey({ cluster: c || undefined, namespace: n }), ns);
        forbidden.push(...r.forbidden.map((n) => (c ? `${c}/${n}` : n)));
      }
      return { found, forbidden };
    },
  };
  const holds = (ts: readonly Tenant[]) => applyNamespaceHolds(ts, holdPorts, { bestEffort: inp.operation === 'status' });
  const all = inp.source.kind === 'namespaces' ? resolved.tenants : await holds(resolved.tenants);
  // A held tenant is never changed, by a rollback either; status shows the hold.
  const { free, held } = splitHeld(all, clock.now());
  const tenants = inp.operation === 'status' ? all : free;
  const ports: OpPorts = { helm, cluster, clock, tenants, all, store, reader, held, target: where, byCluster, holds };
  if (inp.operation === 'status') return status(ctx, inp, ports);
  return rollback(ctx, inp, ports);
}

interface ClusterPorts {
  helm: Helm;
  cluster: Cluster;
  reader?: ReleaseHistoryReader;
}

/** A tenant's cluster ports (multi-cluster fleets), else the run's own. */
function portsOf(p: OpPorts, t: { cluster?: string }): ClusterPorts {
  return (t.cluster !== undefined && p.byCluster.get(t.cluster)) || p;
}

/** The tenants by cluster ('' for the run's own), with that cluster's ports. */
function groups(p: OpPorts): { ports: ClusterPorts; tenants: Tenant[] }[] {
  const m = new Map<string, Tenant[]>();
  for (const t of p.tenants) m.set(t.cluster ?? '', [...(m.get(t.cluster ?? '') ?? []), t]);
  return [...m.values()].map((tenants) => ({ ports: portsOf(p, tenants[0]!), tenants }));
}

interface OpPorts {
  byCluster: ReadonlyMap<string, ClusterPorts>;
  helm: Helm;
  cluster: Cluster;
  clock: Clock;
  /** The tenants to act on: held ones left out, except for status. */
  tenants: Tenant[];
  /** Every selected tenant, held ones included. */
  all: Tenant[];
  store: FleetStore;
  reader?: ReleaseHistoryReader;
  held: TenantResult[];
  /** The cluster the fleet object lives in (the run's own). */
  target: ClusterTarget;
  /** Tenants with their namespaces' hold annotations read. */
  holds: (tenants: readonly Tenant[]) => Promise<Tenant[]>;
}

/**
 * The reports to undo: one report file, or a directory of them (a run's downloaded report
 * artifacts: its pilot and waves reports; other JSON there, such as smoke-test reports, is not a
 * tenant-rollout report and is skipped).
 */
function loadRollbackReports(path: string): { reports: RolloutReport[]; files: string[] } {
  const input = 'input "rollback-report"';
  if (!existsSync(path)) throw new ConfigurationError(input, `"${path}" does not exist`, 'give the path of the report file a run printed');
  const isReport = (x: unknown): x is RolloutReport => {
    const o = x as Partial<RolloutReport> | null;
    return !!o && typeof o === 'object' && typeof o.planFingerprint === 'string' && typeof o.phase === 'string' && Array.isArray(o.tenants);
  };
  if (!statSync(path).isDirectory()) {
    let report: unknown;
    try {
      report = JSON.parse(readFileSync(path, 'utf8'));
    } catch (err) {
      throw new ConfigurationError(input, `"${path}" is not a tenant-rollout report (${errorMessage(err)})`);
    }
    if (!isReport(report)) throw new ConfigurationError(input, `"${path}" is not a tenant-rollout report (no tenants list)`);
    return { reports: [report], files: [path] };
  }
  const reports: RolloutReport[] = [];
  const files: string[] = [];
  for (const f of readdirSync(path, { recursive: true, encoding: 'utf8' })
    .filter((x) => x.endsWith('.json'))
    .sort()) {
    try {
      const r: unknown = JSON.parse(readFileSync(join(path, f), 'utf8'));
      if (isReport(r)) {
        reports.push(r);
        files.push(join(path, f));
      }
    } catch {
      // Not JSON we know: not a report.
    }
  }
  if (!reports.length)
    throw new ConfigurationError(
      input,
      `"${path}" holds no tenant-rollout report (*.json)`,
      "download the run's tenant-rollout-report-* artifacts into it",
    );
  return { reports, files };
}

/**
 * Histories of many tenants: one paginated list of Helm's storage Secrets (cluster-wide, or per
 * namespace when that is forbidden); failing that, helm history a few tenants at a time.
 */
async function histories(p: ClusterPorts & { tenants: Tenant[] }, signal?: AbortSignal): Promise<Map<string, Revision[] | Error>> {
  const { helm, tenants } = p;
  const out = new Map<string, Revision[] | Error>();
  if (p.reader) {
    try {
      const all = await p.reader.fleet([...new Set(tenants.map((t) => t.namespace))], signal);
      for (const t of tenants) out.set(t.id, all.histories.get(`${t.namespace}/${t.release}`) ?? []);
      return out;
    } catch {
      // Fall through to helm: it reports per tenant what it cannot read.
    }
  }
  const queue = [...tenants];
  const worker = async () => {
    for (let t = queue.shift(); t; t = queue.shift())
      out.set(t.id, await helm.history(t.release, { namespace: t.namespace }).catch((e: Error) => e));
  };
  await Promise.all(Array.from({ length: Math.min(8, tenants.length) }, worker));
  return out;
}

async function status(ctx: ActionContext, inp: TenantRolloutInputs, p: OpPorts): Promise<void> {
  // Per cluster: its histories and its workloads' health (keyed by tenant id: namespaces repeat across clusters).
  const hist = new Map<string, Revision[] | Error>();
  const health = new Map<string, ReleaseHealth | 'unknown'>();
  for (const g of groups(p)) {
    for (const [id, h] of await histories({ ...g.ports, tenants: g.tenants }, ctx.signal)) hist.set(id, h);
    if (!inp.verifyWorkloads) continue;
    const got = await g.ports.cluster.fleetHealth(g.tenants, { signal: ctx.signal }).catch(() => 'unknown' as const);
    for (const t of g.tenants) {
      const h = got === 'unknown' ? 'unknown' : got.get(`${t.namespace}/${t.release}`);
      if (h) health.set(t.id, h);
    }
  }
  const pause = await readPause(p.store, inp.fleet.name, { clock: p.clock, signal: ctx.signal });
  const states = p.tenants.map((t) => {
    const h = hist.get(t.id);
    const hold = activeHold(t, p.clock.now());
    const s = tenantState(t, h instanceof Error ? undefined : h, health.get(t.id), hold ? describeHold(hold) : undefined);
    if (h instanceof Error)
      return {
        ...s,
        status: 'unknown',
        problems: [`helm history ${t.release} -n ${t.namespace}${t.cluster ? ` (cluster ${t.cluster})` : ''}: ${h.message}`],
      };
    return s;
  });
  const doc: FleetStatus = {
    version: 1,
    fleet: inp.fleet.name,
    readAt: new Date(p.clock.now()).toISOString(),
    line: fleetLine(states),
    tenants: states,
  };
  const pauseLine =
    'inconclusive' in pause ? `pause state unknown: ${pause.error}` : pause.paused ? describePause(pause.record) : 'not paused';
  ctx.setOutput('status', JSON.stringify(doc));
  ctx.setOutput('fleet-line', doc.line);
  ctx.setOutput('fleet-paused', 'inconclusive' in pause ? 'unknown' : String(pause.paused));
  const file = writeReportFile(inp.reportFile, ctx.tempDir, `${JSON.stringify(doc, null, 2)}\n`, 'tenant-status');
  ctx.setOutput('report-file', file);
  await ctx.summary(`${renderStatusMarkdown(doc)}\n${pauseLine}\n`);
  ctx.logger.info(`fleet ${inp.fleet.name}: ${doc.line} (${pauseLine})`);
}

async function rollback(ctx: ActionContext, inp: TenantRolloutInputs, p: OpPorts): Promise<void> {
  let targets: RollbackTarget[];
  let source: string;
  if (inp.rollbackReport) {
    const { reports, files } = loadRollbackReports(inp.rollbackReport);
    // Over every selected tenant, held ones included: a held tenant of the report must be known
    // as held, not taken for one "no longer selected" and rolled back by its recorded release.
    const r = targetsFromReports(reports, p.all);
    const runs = [...new Set(r.used.map((x) => x.run ?? '?'))].join(', ');
    source = `${files.length === 1 ? `report ${files[0]}` : `${files.length} reports in ${inp.rollbackReport}`} (run ${runs || '?'})`;
    // Tenants of the report that are not selected now were not read with the selection: their
    // namespaces' holds are read here, so a hold set since that run keeps them out too.
    const unselected = new Set(r.missing);
    const checked = await p.holds(r.targets.filter((x) => unselected.has(x.tenant.id)).map((x) => x.tenant));
    p.held.push(...splitHeld(checked, p.clock.now()).held);
    const heldIds = new Set(p.held.map((h) => h.id));
    targets = r.targets.filter((x) => !heldIds.has(x.tenant.id));
    const missing = r.missing.filter((id) => !heldIds.has(id));
    if (missing.length)
      ctx.logger.warning(
        `${missing.length} tenants of the report are not selected now; rolled back by their recorded release: ${missing.join(', ')}`,
      );
  } else {
    const hist = new Map<string, Revision[] | Error>();
    for (const g of groups(p)) for (const [id, h] of await histories({ ...g.ports, tenants: g.tenants }, ctx.signal)) hist.set(id, h);
    targets = p.tenants.map((t) => {
      const h = hist.get(t.id);
      if (h instanceof Error) return { tenant: t, why: `history unreadable: ${h.message}` };
      const prev = previousDeployed(h ?? []);
      return { tenant: t, revision: prev.revision, why: prev.why };
    });
    source = 'the previous deployed revision of each selected tenant';
  }
  const byId = new Map(targets.map((x) => [x.tenant.id, x]));
  const tenants = targets.map((x) => x.tenant);
  const plan = planRollout(tenants, {
    pilot: { kind: 'none', source: '0' },
    batchSize: inp.batchSize,
    source,
    createdAt: new Date(p.clock.now()).toISOString(),
  });
  const steps = stepsForPhase({ pilot: [], waves: plan.waves.map((w) => w.map((r) => byId.get(r.id)!.tenant)) }, 'all');
  const dry = inp.helm.dryRun !== 'none';
  // Before anything runs, as a rollout does: the waves, and each tenant's target and why.
  const label = dry ? ' (DRY RUN: nothing will be changed)' : '';
  const table = renderPlanTable(plan);
  ctx.logger.info(`rollback plan ${plan.fingerprint.slice(0, 12)} (${source})${label}: ${renderPlanText(plan)}`);
  for (const x of targets)
    ctx.logger.info(`  ${x.tenant.id}: ${x.revision === undefined ? 'nothing to roll back to' : `to revision ${x.revision}`} (${x.why})`);
  await ctx.summary(`### tenant-rollout rollback plan${label}\n\n${source}\n\n${table}\n`);
  if (ctx.confirm) {
    const n = targets.filter((x) => x.revision !== undefined).length;
    ctx.setOutput('plan', JSON.stringify(plan));
    if (
      !(await ctx.confirm(
        `Roll back ${n} tenant${n === 1 ? '' : 's'} in ${steps.length} wave${steps.length === 1 ? '' : 's'} (${source})?`,
      ))
    ) {
      ctx.logger.info('nothing done: the operator declined');
      return;
    }
  }
  const verify = inp.verifyWorkloads
    ? async (t: Tenant) => {
        const h = await portsOf(p, t).cluster.releaseHealth(t.namespace, t.release, { signal: ctx.signal });
        return h.healthy ? { ok: true } : { ok: false, reason: h.problems.join('; ') || 'workloads not ready' };
      }
    : undefined;
  const started = p.clock.now();
  const lockAt = {
    target: p.target,
    namespace: inp.fleet.namespace,
    fleet: inp.fleet.name,
    operation: 'rollback' as const,
    clock: p.clock,
  };
  // A dry run changes nothing, so it takes no lock: it may preview a rollback while a rollout runs.
  const locked = <T>(fn: () => Promise<T>): Promise<T> => (dry ? fn() : recordedLock(ctx, p.store, lockAt, fn));
  const result = await locked(() =>
    executeRollout(
      {
        steps: steps.map((s) => ({ name: s.name, tenants: s.tenants })),
        maxParallel: inp.maxParallel,
        maxParallelPerCluster: inp.maxParallelPerCluster || undefined,
        maxFailures: allowedFailures(inp.maxFailures, tenants.length),
        soakMs: 0,
        soakIntervalMs: inp.soakIntervalMs,
        rollbackWaveOnFailure: false,
        recoverPending: false,
        timeoutMs: inp.helm.timeoutMs,
        targetFingerprint: () => '',
        upgradeFor: () => {
          throw new Error('a rollback upgrades nothing');
        },
        // No pause gate: a rollback is what an operator runs on a paused fleet (Ctrl-C stops it).
        act: async (t, step) => {
          const r = await rollbackTenant(
            byId.get(t.id)!,
            step,
            { helm: portsOf(p, t).helm, clock: p.clock, logger: ctx.logger, verify },
            {
              timeoutMs: inp.helm.timeoutMs,
              dryRun: dry,
              signal: ctx.signal,
            },
          );
          logTenant(ctx.logger, r);
          return r;
        },
        signal: ctx.signal,
      },
      { helm: p.helm, clock: p.clock, logger: ctx.logger },
    ),
  );
  result.tenants.push(...p.held);
  const rep = buildReport(result, {
    phase: 'rollback',
    planFingerprint: plan.fingerprint,
    target: source.slice(0, 80),
    run: runId(ctx.env),
    startedAt: new Date(started).toISOString(),
    cancelled: ctx.signal.aborted,
    dryRun: dry,
  });
  const json = JSON.stringify(rep, null, 2);
  const file = writeReportFile(inp.reportFile, ctx.tempDir, `${ctx.secrets.redact(json)}\n`, 'tenant-rollback');
  ctx.setOutput('report', JSON.stringify(rep));
  ctx.setOutput('report-file', file);
  ctx.setOutput('outcome', rep.outcome);
  for (const [k, v] of Object.entries(rep.counts)) ctx.setOutput(k, v);
  await ctx.summary(renderReport(rep));
  const c = rep.counts;
  const line =
    `${dry ? 'DRY RUN, nothing changed: ' : ''}rollback ${rep.outcome}: ${c.succeeded} rolled back, ${c.unchanged} already ` +
    `there, ${c.failed + c['failed-untouched']} failed, ${c.skipped} skipped`;
  // The outcome's exit code, as a rollout's (3 halted, 4 held, ...): a script tells them apart.
  if (rep.outcome !== 'succeeded')
    throw new RolloutEndedError(rep.outcome, `${line}${rep.stoppedBecause ? ` (${rep.stoppedBecause})` : ''}; report: ${file}`);
  ctx.logger.info(line);
}

function logTenant(
  log: Logger,
  r: {
    id: string;
    namespace: string;
    release: string;
    status: string;
    revisionBefore?: number;
    revisionAfter?: number;
    durationMs: number;
    error?: string;
  },
) {
  const icon = r.status === 'succeeded' || r.status === 'unchanged' ? '✓' : r.status === 'skipped' ? '·' : '✗';
  log.info(
    `${icon} ${r.id} (${r.namespace}/${r.release}): ${r.status} ${r.revisionBefore ?? '-'} -> ` +
      `${r.revisionAfter ?? '-'} in ${humanDuration(r.durationMs)}${r.error ? `: ${r.error}` : ''}`,
  );
}
