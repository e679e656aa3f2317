import { createHash } from 'node:crypto';
import { stringify } from 'yaml';
import { ConfigurationError, errorMessage } from '../core/errors.ts';
import type { Clock } from '../core/clock.ts';
import type { Logger } from '../core/logger.ts';
import type { Helm } from '../helm/helm.ts';
import type { VerifyResult } from '../helm/deploy.ts';
import type { NamespaceInfo } from '../kube/ports.ts';
import type { Tenant } from '../tenants/model.ts';
import { activeHold, describeHold } from '../tenants/model.ts';
import { selectTenants } from '../tenants/select.ts';
import {
  addTemplatedValuesFiles,
  parseTenantsDocument,
  tenantsFromList,
  tenantsFromNamespaces,
  withNamespaceHolds,
} from '../tenants/sources.ts';
import { checkClusterName } from '../clusters/model.ts';
import type { ClusterSpec } from '../clusters/model.ts';
import type { RolloutRequest } from './options.ts';
import { allowedFailures } from './plan-spec.ts';
import { previousDurations } from './order.ts';
import { executeRollout, ledgerDescription } from './execute.ts';
import type { RolloutOptions, RolloutPorts, RolloutResult, TenantResult } from './execute.ts';
import { checkPlanDeploys, parsePlan, planRollout, reconcilePlan, serializePlan, stepsForPhase, type PlanDeploys } from './plan.ts';
import { renderPlanTable, renderPlanText } from './plan-render.ts';
import type { Plan } from './plan.ts';
import { buildReport } from './report.ts';
import type { RolloutReport } from './report.ts';
import { shardDocumentName, type ShardPort } from './shards.ts';
import { classifyPromotion } from '../release/promotion.ts';
import { readFleetVersions } from '../release/fleet-versions.ts';
import { enforceWindow } from '../release/window.ts';
import type { Promotion } from '../release/promotion.ts';

/**
 * tenant-rollout from inputs to report, over ports: the action and the CLI both call this.
 * Tenants -> plan (or the approved plan, reconciled with today's tenants) -> the phase's steps
 * -> execute -> report.
 */

export interface RunPorts {
  readFile(path: string): string;
  exists(path: string): boolean;
  /** Tenant namespaces by selector, in the run's cluster or (multi-cluster discovery) in `cluster`. */
  listNamespaces(selector: string, cluster?: string): Promise<NamespaceInfo[]>;
  /**
   * The namespaces of tenants that were not discovered from namespaces (a tenants file, a list),
   * for their hold annotations: keyed by namespaceKey; `forbidden`: those the credentials may not
   * read. Absent: those annotations are not read.
   */
  readNamespaces?: (
    tenants: readonly Tenant[],
  ) => Promise<{ found: Map<string, NamespaceInfo>; forbidden: string[]; unreachable?: Map<string, string> }>;
  /** Writes a values file (per tenant) into the private directory; returns its path. */
  writeValues(name: string, content: string): string;
  helm?: Helm;
  /**
   * Multi-cluster fleets: told the clusters the tenants file declares, before anything runs (the
   * action builds one target, helm and client per cluster); then the helm of a tenant's cluster.
   */
  bindClusters?: (clusters: readonly ClusterSpec[]) => Promise<void>;
  helmFor?: (tenant: Tenant) => Helm;
  clock: Clock;
  logger: Logger;
  verify?: (tenant: Tenant, revision: number) => Promise<VerifyResult>;
  soakCheck?: (tenants: Tenant[]) => Promise<Map<string, VerifyResult>>;
  soakAnalysis?: RolloutPorts['soakAnalysis'];
  onInflight?: RolloutPorts['onInflight'];
  onEvent?: RolloutPorts['onEvent'];
  /**
   * Asked once the plan is known and before any tenant is touched (the CLI's `[y/N]`); false
   * ends the run with no report and nothing changed. Absent: go ahead.
   */
  approve?: (plan: Plan, question: string) => Promise<boolean>;
  /** Called once the plan (and promotion) is known, before any tenant is touched: show it. */
  onPlan?: (out: RunOutcome) => Promise<void>;
  /** Sharded runs: opens this job's side of the rollout's coordination document (shards.ts). */
  openShards?: (o: {
    name: string;
    planFingerprint: string;
    maxFailures: number;
    steps: readonly { name: string; tenants: readonly Tenant[] }[];
  }) => Promise<ShardPort>;
  /** Asked before each tenant starts: the fleet's pause (see RolloutOptions.gate). */
  gate?: RolloutOptions['gate'];
  /**
   * Checked once the plan is known and before anything is touched: the cluster answers (an
   * unreachable one is one configuration error, not a first tenant `failed`).
   */
  preflight?: () => Promise<void>;
  /** Holds the fleet lock around the execution (after the plan was approved). */
  withLock?: <T>(fn: () => Promise<T>) => Promise<T>;
  guardFor?: RolloutPorts['guardFor'];
  /**
   * Start-up work that runs beside discovery and planning (the action's helm version detection):
   * awaited before helm is first used; a planning error waits for it and yields to its error.
   */
  ready?: () => Promise<void>;
  /** The API servers' load (throttled requests, latency) per cluster: what adaptive parallelism follows. */
  pressure?: RolloutPorts['pressure'];
}

export interface RunMeta {
  /** Who deploys: recorded in each revision's description next to the target fingerprint. */
  run: string;
  signal?: AbortSignal;
}

export interface RunOutcome {
  plan: Plan;
  /** With release-version: how the release compares with what the fleet runs now. */
  promotion?: Promotion;
  planTable: string;
  /** The same plan as plain text, for a log (nothing there renders Markdown). */
  planText: string;
  planJson: string;
  appeared: string[];
  vanished: string[];
  /** Tenants held now (a hold in the tenants file or on the namespace): not planned, not deployed. */
  held: TenantResult[];
  /** Absent for phase `plan`, or when the operator declined. */
  report?: RolloutReport;
  declined?: boolean;
}

/** What is being released, in the operator's words: the release version, the chart version, or the chart. */
export function releaseLabel(inp: RolloutRequest): string {
  const tag = inp.helm.set.map((l) => /^image\.tag=(.+)$/.exec(l)?.[1]).find(Boolean);
  return inp.releaseVersion || inp.helm.version || tag || inp.helm.chart;
}

export async function resolveTenants(
  inp: RolloutRequest,
  ports: RunPorts,
): Promise<{ tenants: Tenant[]; source: string; clusters: ClusterSpec[] }> {
  let clusters: ClusterSpec[] = [];
  const wanted = (inp.clusters ?? []).map((c) => c.name);
  const naming = { namespacePrefix: inp.namespacePrefix, releaseTemplate: inp.releaseTemplate };
  let tenants: Tenant[];
  let source: string;
  switch (inp.source.kind) {
    case 'file':
      if (!ports.exists(inp.source.path))
        throw new ConfigurationError(
          'input "tenants-file"',
          `"${inp.source.path}" does not exist`,
          'give the path of a tenants YAML file in the workspace',
        );
      ({ tenants, clusters } = parseTenantsDocument(ports.readFile(inp.source.path), inp.source.path, naming));
      source = `tenants file ${inp.source.path}`;
      if (wanted.length) {
        // The `clusters` input names clusters of the file: only their tenants run.
        for (const c of inp.clusters!) {
          checkClusterName('input "clusters"', c.name, clusters, 'name clusters of the tenants file');
          if (c.context)
            throw new ConfigurationError(
              'input "clusters"',
              `gives a context for "${c.name}"`,
              'the tenants file says how each cluster is reached: give only names',
            );
        }
        tenants = tenants.filter((t) => t.cluster !== undefined && wanted.includes(t.cluster));
        source += ` (clusters ${wanted.join(', ')})`;
      }
      if (clusters.length > 1) await bind(inp, ports, clusters);
      break;
    case 'list':
      if (wanted.length)
        throw new ConfigurationError(
          'input "clusters"',
          'cannot be combined with tenants',
          'give a tenants file with clusters:, or discover namespaces',
        );
      tenants = tenantsFromList('tenants', inp.source.value, naming);
      source = 'inline tenants list';
      break;
    case 'namespaces':
      if (wanted.length > 1) {
        // Discovery over several clusters (kube contexts): each tenant tagged with the cluster it was found in.
        clusters = inp.clusters!.map((c, i) => ({
          name: c.name,
          reach: { kind: 'context', context: c.context ?? c.name },
          labels: {},
          home: i === 0,
        }));
        await bind(inp, ports, clusters);
        tenants = [];
        const foundIn = new Map<string, string>();
        for (const c of clusters) {
          const found = tenantsFromNamespaces(await ports.listNamespaces(inp.source.selector, c.name), naming);
          for (const t of found) {
            const other = foundIn.get(t.id);
            if (other)
              throw new ConfigurationError(
                `tenant "${t.id}"`,
                `was discovered in clusters ${other} and ${c.name}`,
                'a tenant lives in one cluster: remove the tenant label from one of the namespaces, or list the tenants in a tenants file with clusters:',
              );
            foundIn.set(t.id, c.name);
            tenants.push({ ...t, cluster: c.name });
          }
        }
        source = `namespaces matching ${inp.source.selector} in clusters ${wanted.join(', ')}`;
      } else {
        tenants = tenantsFromNamespaces(await ports.listNamespaces(inp.source.selector, wanted[0]), naming);
        source = `namespaces matching ${inp.source.selector}${wanted.length ? ` in cluster ${wanted[0]}` : ''}`;
      }
      break;
  }
  if (inp.tenantValuesFiles.length) {
    const r = addTemplatedValuesFiles(tenants, { templates: inp.tenantValuesFiles, exists: ports.exists });
    for (const m of r.missing) ports.logger.debug(`no per-tenant values file ${m.path} for ${m.id}`);
    tenants = r.tenants;
  }
  const selected = selectTenants(tenants, { include: inp.include, exclude: inp.exclude });
  // Every file a tenant will be deployed with must exist now: a missing one found mid-wave would
  // leave the fleet half-done.
  for (const t of selected) {
    for (const f of t.valuesFiles) {
      if (!ports.exists(f))
        throw new ConfigurationError(
          `tenant "${t.id}"`,
          `values file "${f}" does not exist`,
          'fix the path in the tenants file (relative to the file) or add the file',
        );
    }
  }
  return { tenants: selected, source, clusters };
}

/** Binds one target, helm and client per cluster (the action does it), before any tenant is read or touched. */
async function bind(inp: RolloutRequest, ports: Pick<RunPorts, 'bindClusters'>, clusters: readonly ClusterSpec[]) {
  if (!ports.bindClusters) throw noMultiCluster(inp);
  await ports.bindClusters(clusters);
}

/** Every tenant goes to its own cluster's API server: without per-cluster helm there is no safe way to deploy. */
const noMultiCluster = (inp: RolloutRequest) =>
  new ConfigurationError(
    inp.source.kind === 'file' ? 'input "tenants-file"' : 'input "clusters"',
    'names several clusters, but this runner cannot reach several',
    'use tenant-rollout (the action) for multi-cluster fleets',
  );

/** The part of the target every tenant shares: chart, shared values files' contents, --set lines, secret values. */
/** What the plan records it deploys: chart, version, and a digest of the shared values (no secret values). */
export function planDeploys(inp: RolloutRequest, readFile: (p: string) => string): PlanDeploys {
  const { chart, version, repoUrl, set, setString, valuesFiles } = inp.helm;
  const h = createHash('sha256');
  h.update(JSON.stringify({ set, setString, releaseVersion: inp.releaseVersion, identity: inp.identityValues }));
  for (const f of valuesFiles) h.update('\0').update(readFile(f));
  return { chart: repoUrl ? `${repoUrl} ${chart}` : chart, version: version ?? '', values: h.digest('hex') };
}

function sharedTarget(inp: RolloutRequest, readFile: (p: string) => string): string {
  const h = createHash('sha256');
  const { chart, version, repoUrl, set, setString, valuesFiles } = inp.helm;
  h.update(JSON.stringify({ chart, version, repoUrl, set, setString, identity: inp.identityValues }));
  for (const f of valuesFiles) h.update('\0').update(readFile(f));
  h.update('\0').update(JSON.stringify(inp.secretValues));
  return h.digest('hex');
}

function deepMerge(a: Record<string, unknown>, b: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...a };
  for (const [k, v] of Object.entries(b)) {
    const cur = out[k];
    const isObj = (x: unknown): x is Record<string, unknown> => !!x && typeof x === 'object' && !Array.isArray(x);
    out[k] = isObj(cur) && isObj(v) ? deepMerge(cur, v) : v;
  }
  return out;
}

export const namespaceKey = (t: { cluster?: string; namespace: string }) => `${t.cluster ?? ''}:${t.namespace}`;

/**
 * The namespace hold annotations of tenants from a tenants file or a list (discovered tenants
 * have them from the listing already). A cluster that does not answer is no verdict on a hold:
 * the error ends the run (held) before any tenant is touched, except for a plan (`bestEffort`),
 * which says so and is planned without them; the deploy reads them again. Namespaces the
 * credentials may not read (403) are named in a warning: a definite answer, not a held run.
 */
export async function applyNamespaceHolds(
  tenants: readonly Tenant[],
  ports: Pick<RunPorts, 'readNamespaces' | 'logger'>,
  o: { bestEffort: boolean },
  unreachable?: Map<string, string>,
): Promise<Tenant[]> {
  if (!ports.readNamespaces || !tenants.length) return [...tenants];
  let r: Awaited<ReturnType<NonNullable<RunPorts['readNamespaces']>>>;
  try {
    r = await ports.readNamespaces(tenants);
  } catch (err) {
    if (!o.bestEffort) throw err;
    ports.logger.warning(
      `namespace hold annotations not read (${errorMessage(err)}): planned without them; the deploy reads them again before touching a tenant`,
    );
    return [...tenants];
  }
  // A cluster of a multi-cluster fleet that did not answer: its tenants are held by the executor
  // (no verdict), never deployed on holds nobody could read; the other clusters go on.
  for (const [c, why] of r.unreachable ?? []) {
    unreachable?.set(c, why);
    ports.logger.warning(`cluster ${c}: ${why}: its tenants are held, the other clusters go on`);
  }
  if (r.forbidden.length)
    ports.logger.warning(
      `the credentials may not read ${r.forbidden.length} tenant namespaces (403), so their hold annotations are not known ` +
        `(grant get on namespaces): ${r.forbidden.slice(0, 10).join(', ')}${r.forbidden.length > 10 ? ', ...' : ''}`,
    );
  return withNamespaceHolds(tenants, (t) => r.found.get(namespaceKey(t)));
}

/** Tenants whose hold is in force now: planned as held, never deployed, listed in the report. */
export function splitHeld(tenants: readonly Tenant[], now: number): { free: Tenant[]; held: TenantResult[] } {
  const free: Tenant[] = [];
  const held: TenantResult[] = [];
  for (const t of tenants) {
    const h = activeHold(t, now);
    if (!h) free.push(t);
    else
      held.push({
        id: t.id,
        namespace: t.namespace,
        release: t.release,
        ...(t.cluster ? { cluster: t.cluster } : {}),
        step: 'held',
        status: 'held',
        durationMs: 0,
        error: describeHold(h),
      });
  }
  return { free, held };
}

export async function runTenantRollout(inp: RolloutRequest, ports: RunPorts, meta: RunMeta): Promise<RunOutcome> {
  // Start-up work begun beside discovery and planning (helm version detection): a planning error
  // waits for it, and its own error comes first, as it did when start-up ran before planning.
  let planning: Awaited<ReturnType<typeof planPhase>>;
  try {
    planning = await planPhase(inp, ports);
  } catch (err) {
    await ports.ready?.();
    throw err;
  }
  await ports.ready?.();
  return executePhase(inp, ports, meta, planning);
}

async function planPhase(inp: RolloutRequest, ports: RunPorts) {
  const { tenants: resolvedTenants, source, clusters } = await resolveTenants(inp, ports);
  if (clusters.length > 1 && !ports.helmFor) throw noMultiCluster(inp);
  const unreachable = new Map<string, string>();
  // After the clusters are bound: each tenant's namespace is read in its own cluster.
  const withHolds =
    inp.source.kind === 'namespaces'
      ? resolvedTenants
      : await applyNamespaceHolds(resolvedTenants, ports, { bestEffort: inp.phase === 'plan' }, unreachable);
  const { free: tenants, held } = splitHeld(withHolds, ports.clock.now());
  for (const h of held) ports.logger.info(`${h.id}: ${h.error}: not deployed`);
  const createdAt = new Date(ports.clock.now()).toISOString();
  let plan: Plan;
  let pilot: Tenant[];
  let waves: Tenant[][];
  let appeared: string[] = [];
  let vanished: string[] = [];
  // A large fleet's plan travels as a file (an artifact): an input or env var sized by the fleet hits E2BIG.
  const approved = inp.approvedPlanFile ? ports.readFile(inp.approvedPlanFile) : inp.approvedPlan;
  const sharded = (inp.shards?.count ?? 1) > 1;
  if (sharded && !approved)
    throw new ConfigurationError(
      'input "shards"',
      `is ${inp.shards!.count} but no approved plan was given`,
      "give plan-file (the plan job's artifact): every shard must run the same plan",
    );
  const deploys = planDeploys(inp, ports.readFile);
  if (approved) {
    const planInput = inp.approvedPlanFile ? 'plan-file' : 'plan';
    const parsed = parsePlan(approved, planInput);
    checkPlanDeploys(parsed, deploys, planInput);
    const r = reconcilePlan(parsed, tenants);
    ({ plan, pilot, waves } = r);
    appeared = r.appeared.map((t) => t.id);
    const heldIds = new Set(held.map((h) => h.id));
    vanished = [...r.vanished.map((t) => t.id), ...r.changed.map((c) => c.approved.id)].filter((id) => !heldIds.has(id));
    // Not one approved tenant is in the fleet this run sees: another fleet, cluster or selector
    // than the plan was made for. Ending green with nothing deployed would hide it.
    if (parsed.summary.tenants > 0 && plan.summary.tenants === 0 && vanished.length > 0) {
      const ids = vanished.slice(0, 5).join(', ') + (vanished.length > 5 ? `, ... (${vanished.length} in all)` : '');
      throw new ConfigurationError(
        `input "${planInput}"`,
        `none of its ${parsed.summary.tenants} tenants (${ids}) is in the fleet this run sees (${source}: ${tenants.length} tenants)`,
        'run with the tenants, selector, kubeconfig and kube-context the plan was made for, or make a new plan and approve it again',
      );
    }
    if (appeared.length)
      ports.logger.warning(`${appeared.length} tenants are not in the approved plan and will not be deployed: ${appeared.join(', ')}`);
    for (const c of r.changed)
      ports.logger.warning(
        `${c.approved.id}: now ${c.current.namespace}/${c.current.release}, approved as ${c.approved.namespace}/${c.approved.release}: not deployed`,
      );
  } else {
    plan = planRollout(tenants, {
      pilot: inp.pilot,
      batchSize: inp.batchSize,
      source,
      include: inp.include?.source,
      exclude: inp.exclude?.source,
      createdAt,
      clusters,
      clusterOrder: inp.clusterOrder,
      deploys,
    });
    const byId = new Map(tenants.map((t) => [t.id, t]));
    pilot = plan.pilot.map((r) => byId.get(r.id)!);
    waves = plan.waves.map((w) => w.map((r) => byId.get(r.id)!));
  }
  return { plan, pilot, waves, appeared, vanished, held, clusters, sharded, unreachable };
}

async function executePhase(
  inp: RolloutRequest,
  ports: RunPorts,
  meta: RunMeta,
  { plan, pilot, waves, appeared, vanished, held, clusters, sharded, unreachable }: Awaited<ReturnType<typeof planPhase>>,
): Promise<RunOutcome> {
  const heldLine = held.length ? `\n**Held (not deployed):** ${held.map((h) => `\`${h.id}\` ${h.error}`).join('; ')}\n` : '';
  const heldText = held.length ? `\nheld (not deployed): ${held.map((h) => `${h.id} ${h.error}`).join('; ')}` : '';
  const out: RunOutcome = {
    plan,
    planTable: renderPlanTable(plan) + heldLine,
    planText: renderPlanText(plan) + heldText,
    planJson: serializePlan(plan),
    appeared,
    vanished,
    held,
  };
  if (inp.releaseVersion) {
    if (!ports.helm) throw new Error('classifying the promotion needs helm');
    // What each planned tenant runs now: its live revision's ledger (the chart appVersion as a labelled fallback).
    const planned = [...plan.pilot, ...plan.waves.flat()];
    const fleet = await readFleetVersions(planned, ports.helm, { concurrency: inp.maxParallel });
    const window = inp.window ? `${inp.window.text}${inp.changeTicket ? ` (change ticket: ${inp.changeTicket})` : ''}` : undefined;
    out.promotion = classifyPromotion(fleet, inp.releaseVersion, { maintenanceWindow: window });
  }
  // The plan is shown (log and summary) before anything runs, in every phase.
  await ports.onPlan?.(out);
  if (inp.phase === 'plan') return out;
  if (!ports.helm) throw new Error('a rollout needs helm');
  await ports.preflight?.();
  // The gated phase checks the window when it starts, before it touches a tenant.
  if (inp.window && (inp.phase === 'waves' || inp.phase === 'all') && inp.helm.dryRun === 'none')
    await enforceWindow(
      inp.window,
      { outside: inp.outsideWindow, maxWaitMs: inp.windowWaitMaxMs, changeTicket: inp.changeTicket || undefined },
      { clock: ports.clock, logger: ports.logger, signal: meta.signal },
    );

  const shared = sharedTarget(inp, ports.readFile);
  const fingerprints = new Map<string, string>();
  const targetFingerprint = (t: Tenant) => {
    let fp = fingerprints.get(t.id);
    if (!fp) {
      const h = createHash('sha256')
        .update(shared)
        .update(JSON.stringify({ id: t.id, slug: t.slug, values: t.values }));
      for (const f of t.valuesFiles) h.update('\0').update(ports.readFile(f));
      fp = h.digest('hex').slice(0, 16);
      fingerprints.set(t.id, fp);
    }
    return fp;
  };
  const steps = stepsForPhase({ pilot, waves }, inp.phase).map((s) => ({ name: s.name, tenants: s.tenants }));
  // Fingerprints read every values file: compute them all before the first tenant is touched.
  for (const st of steps) for (const t of st.tenants) targetFingerprint(t);
  const total = steps.reduce((n, s) => n + s.tenants.length, 0);
  if (ports.approve) {
    const what = inp.helm.dryRun === 'none' ? 'Deploy' : `Dry-run (${inp.helm.dryRun})`;
    const question = `${what} ${releaseLabel(inp)} to ${total} tenant${total === 1 ? '' : 's'} in ${steps.length} wave${steps.length === 1 ? '' : 's'}?`;
    if (!(await ports.approve(plan, question))) return { ...out, declined: true };
  }
  const secretFile = Object.keys(inp.secretValues).length
    ? ports.writeValues('secret-values.yaml', stringify(inp.secretValues))
    : undefined;
  // Longest-first within each wave, from the last run's durations: an order of this run, not of the plan.
  let durations: Map<string, number> | undefined;
  if (inp.previousReport) {
    if (ports.exists(inp.previousReport)) {
      durations = previousDurations(ports.readFile(inp.previousReport));
      ports.logger.info(`each wave starts its longest tenants first (${durations.size} durations from ${inp.previousReport})`);
    } else ports.logger.warning(`previous-report "${inp.previousReport}" does not exist (a first run?): each wave runs in plan order`);
  }
  const started = ports.clock.now();
  const maxFailures = allowedFailures(inp.maxFailures, total);
  // Each cluster's own budget, from its share of this run's tenants.
  let maxFailuresPerCluster: Map<string, number> | undefined;
  if (inp.maxFailuresPerCluster && clusters.length > 1) {
    if (sharded)
      throw new ConfigurationError(
        'input "max-failures-per-cluster"',
        'cannot be combined with shards',
        'the shards share one fleet-wide budget: use max-failures, or run one job per cluster',
      );
    const per = new Map<string, number>();
    for (const st of steps) for (const t of st.tenants) if (t.cluster) per.set(t.cluster, (per.get(t.cluster) ?? 0) + 1);
    maxFailuresPerCluster = new Map([...per].map(([c, n]) => [c, allowedFailures(inp.maxFailuresPerCluster!, n)]));
  }
  let shards: ShardPort | undefined;
  if (sharded) {
    if (!ports.openShards) throw new Error('a sharded rollout needs the shard coordination');
    shards = await ports.openShards({
      name: shardDocumentName(plan.fingerprint, meta.run),
      planFingerprint: plan.fingerprint,
      maxFailures,
      steps,
    });
  }
  const lock = ports.withLock ?? (<T>(fn: () => Promise<T>) => fn());
  const result: RolloutResult = await lock(() =>
    executeRollout(
      {
        steps,
        maxParallel: inp.maxParallel,
        maxParallelPerCluster: inp.maxParallelPerCluster || undefined,
        adaptive: inp.adaptiveParallelism === false ? false : undefined,
        durations,
        maxFailures,
        maxFailuresPerCluster,
        unreachableClusters: unreachable,
        // A dry run changed nothing: there is nothing to soak, and a soak must not roll anything back.
        soakMs: inp.helm.dryRun === 'none' ? inp.soakMs : 0,
        soakIntervalMs: inp.soakIntervalMs,
        // The pilot phase soaks against the tenants its waves will update (the plan knows them).
        notYetUpdated: inp.phase === 'pilot' ? waves.flat() : [],
        rollbackWaveOnFailure: inp.rollbackWaveOnFailure,
        recoverPending: inp.recoverPending,
        pendingStaleAfterMs: inp.pendingStaleAfterMs,
        timeoutMs: inp.helm.timeoutMs,
        targetFingerprint,
        upgradeFor: (t, fp) => {
          const values = deepMerge(inp.identityValues ? { tenant: { id: t.id, slug: t.slug } } : {}, t.values);
          const tenantFile = Object.keys(values).length ? [ports.writeValues(`values-${t.id}.yaml`, stringify(values))] : [];
          return {
            ...inp.helm,
            release: t.release,
            namespace: t.namespace,
            // Later files win: shared, the tenant's own files, its inline values, then secrets.
            valuesFiles: [...inp.helm.valuesFiles, ...t.valuesFiles, ...tenantFile, ...(secretFile ? [secretFile] : [])],
            description: ledgerDescription(fp, meta.run, inp.releaseVersion, clusters.length > 1 ? t.cluster : undefined),
          };
        },
        gate: ports.gate,
        signal: meta.signal,
      },
      {
        helm: ports.helm!,
        helmFor: clusters.length > 1 ? ports.helmFor : undefined,
        clock: ports.clock,
        logger: ports.logger,
        verify: ports.verify,
        soakCheck: ports.soakCheck,
        soakAnalysis: ports.soakAnalysis,
        onInflight: ports.onInflight,
        guardFor: ports.guardFor,
        onEvent: ports.onEvent,
        pressure: ports.pressure,
        shards,
      },
    ),
  );
  // Held tenants are in every report, after those the run touched.
  result.tenants.push(...held);
  out.report = buildReport(result, {
    phase: inp.phase,
    planFingerprint: plan.fingerprint,
    target: shared.slice(0, 16),
    run: meta.run,
    startedAt: new Date(started).toISOString(),
    appeared,
    vanished,
    cancelled: meta.signal?.aborted,
    dryRun: inp.helm.dryRun !== 'none',
  });
  return out;
}
