import { createHash } from 'node:crypto';
import { ConfigurationError, inputError } from '../core/errors.ts';
import { isNamespaceName, isReleaseName } from '../core/names.ts';
import { checkUniqueTenants, compareStrings, isTenantId, toRef, type Tenant, type TenantRef } from '../tenants/model.ts';
import { matchesSelector } from '../tenants/selector.ts';
import { DEFAULT_ORDER, describeOrder, waveSize, type ClusterOrder, type OrderSpec, type PilotSpec, type WaveSpec } from './plan-spec.ts';
import { clusterTurns, groupByCluster, interleaveByCluster, regionOf, type ClusterSpec } from '../clusters/model.ts';

export * from './plan-spec.ts';

/**
 * The rollout plan: who goes in the pilot and in which wave. Plain JSON, so the plan printed
 * before an approval travels as a job output to the job after it and is the plan that runs.
 * The fingerprint is the sha256 of the normalized contents (everything but `createdAt`), so a
 * plan edited on the way is rejected by `parsePlan`.
 */
export interface Plan {
  version: 1;
  fingerprint: string;
  createdAt?: string;
  summary: PlanSummary;
  /** What the plan deploys, so the approved plan is the deployed plan (part of the fingerprint). */
  deploys?: PlanDeploys;
  pilot: TenantRef[];
  waves: TenantRef[][];
}

/**
 * What a plan deploys: the chart (with its repository), the chart version, and a digest of the
 * shared values (values files' content, --set and --set-string lines, release-version, identity
 * values; never secret values). A run given an approved plan refuses to deploy anything else.
 */
export interface PlanDeploys {
  chart: string;
  version: string;
  /** sha256 (hex) of the shared values. */
  values: string;
}

/** How the plan was made, for the job summary and for the fingerprint. */
export interface PlanSummary {
  /** Where the tenants came from, e.g. `tenants file examples/tenants.yaml`. */
  source: string;
  include: string;
  exclude: string;
  pilot: string;
  batchSize: string;
  order: string;
  /** Tenants in the plan (pilot + waves). */
  tenants: number;
}

export interface PlanOptions {
  pilot: PilotSpec;
  batchSize: WaveSpec;
  /** Default `DEFAULT_ORDER` (ring pilot, canary, then the rest, by id); `null` for id order only. */
  order?: OrderSpec | null;
  source?: string;
  include?: string;
  exclude?: string;
  /** ISO time from the caller's clock; not part of the fingerprint. */
  createdAt?: string;
  /** Input names for messages. */
  pilotInput?: string;
  /** The fleet's clusters (tenants carry `cluster`); with more than one, waves spread over them. */
  clusters?: readonly ClusterSpec[];
  /** What the plan deploys (recorded in it and in its fingerprint). */
  deploys?: PlanDeploys;
  /** Default `interleave`. */
  clusterOrder?: ClusterOrder;
}

/**
 * Ring order first (a canary ring stays first), then, within each ring, the clusters' share:
 * interleaved (turns by region, then name) or cluster by cluster (file order).
 */
function spreadOverClusters(ordered: Tenant[], order: OrderSpec | null, clusters: readonly ClusterSpec[], how: ClusterOrder): Tenant[] {
  const rankOf = new Map((order?.first ?? []).map((v, i) => [v, i]));
  const rank = (t: Tenant) => {
    const v = order && Object.hasOwn(t.labels, order.label) ? t.labels[order.label] : undefined;
    return v === undefined ? rankOf.size : (rankOf.get(v) ?? rankOf.size);
  };
  const turns = how === 'by-cluster' ? clusters.map((c) => c.name) : clusterTurns(clusters);
  const out: Tenant[] = [];
  for (let i = 0; i < ordered.length;) {
    let j = i;
    while (j < ordered.length && rank(ordered[j]!) === rank(ordered[i]!)) j++;
    const group = ordered.slice(i, j);
    const region = new Map(clusters.map((c) => [c.name, regionOf(c)]));
    out.push(...(how === 'by-cluster' ? groupByCluster(group, turns) : interleaveByCluster(group, turns, (c) => region.get(c) ?? '')));
    i = j;
  }
  return out;
}

function describeClusters(clusters: readonly ClusterSpec[], how: ClusterOrder): string {
  return how === 'by-cluster'
    ? `; cluster by cluster: ${clusters.map((c) => c.name).join(', ')}`
    : `; clusters interleaved: ${clusterTurns(clusters).join(', ')}`;
}

/** Stable order: rank of `order.label` among `order.first`, then id (code-unit order). O(n log n). */
export function orderTenants<T extends Pick<Tenant, 'id' | 'labels'>>(tenants: readonly T[], order: OrderSpec | null = DEFAULT_ORDER): T[] {
  const rankOf = new Map((order?.first ?? []).map((v, i) => [v, i]));
  const last = rankOf.size;
  const keyed = tenants.map((t) => {
    const v = order && Object.hasOwn(t.labels, order.label) ? t.labels[order.label] : undefined;
    return { t, rank: v === undefined ? last : (rankOf.get(v) ?? last) };
  });
  keyed.sort((a, b) => a.rank - b.rank || compareStrings(a.t.id, b.t.id));
  return keyed.map((k) => k.t);
}

/**
 * Makes the plan. Same tenants (in any order) and options -> same plan and fingerprint.
 * Linear apart from the one sort: fine for 10,000 tenants.
 */
export function planRollout(tenants: readonly Tenant[], opts: PlanOptions): Plan {
  const pilotInput = opts.pilotInput ?? 'pilot';
  const order = opts.order === undefined ? DEFAULT_ORDER : opts.order;
  checkUniqueTenants(tenants, (i) => ({ subject: 'tenant selection', short: `tenant "${tenants[i]!.id}"` }));
  const clusters = opts.clusters ?? [];
  const how = opts.clusterOrder ?? 'interleave';
  const multi = clusters.length > 1;
  const ordered = multi ? spreadOverClusters(orderTenants(tenants, order), order, clusters, how) : orderTenants(tenants, order);

  let pilot: Tenant[];
  const spec = opts.pilot;
  switch (spec.kind) {
    case 'none':
      pilot = [];
      break;
    case 'count':
      if (spec.count > ordered.length) {
        throw inputError(
          pilotInput,
          spec.source,
          `asks for ${spec.count} pilot tenants but only ${ordered.length} are selected`,
          'lower the pilot count',
        );
      }
      pilot = ordered.slice(0, spec.count);
      break;
    case 'ids': {
      const known = new Set(ordered.map((t) => t.id));
      const unknown = spec.ids.filter((id) => !known.has(id));
      if (unknown.length) {
        throw inputError(
          pilotInput,
          spec.source,
          `names unknown tenant${unknown.length > 1 ? 's' : ''} ${unknown.map((u) => `"${u}"`).join(', ')}`,
          'use ids of selected tenants (not excluded)',
        );
      }
      const wanted = new Set(spec.ids);
      pilot = ordered.filter((t) => wanted.has(t.id));
      break;
    }
    case 'per-cluster': {
      const seen = new Set<string>();
      pilot = ordered.filter((t) => !seen.has(t.cluster ?? '') && !!seen.add(t.cluster ?? ''));
      break;
    }
    case 'selector':
      pilot = ordered.filter((t) => matchesSelector(spec.selector, t.labels));
      // An empty pilot would let the approval gate guard nothing: most likely a label typo.
      if (pilot.length === 0)
        throw inputError(pilotInput, spec.source, 'matches no selected tenant', 'label the pilot tenants or fix the selector');
      break;
  }
  const inPilot = new Set(pilot.map((t) => t.id));
  const rest = ordered.filter((t) => !inPilot.has(t.id));
  const waves = scheduleWaves(rest, opts.batchSize);

  const body = {
    version: 1 as const,
    summary: {
      source: opts.source ?? '',
      include: opts.include ?? '',
      exclude: opts.exclude ?? '',
      pilot: spec.source || 'none',
      batchSize: opts.batchSize.source,
      order: describeOrder(order) + (multi ? describeClusters(clusters, how) : ''),
      tenants: ordered.length,
    },
    ...(opts.deploys ? { deploys: opts.deploys } : {}),
    pilot: pilot.map(toRef),
    waves: waves.map((w) => w.map(toRef)),
  };
  return withFingerprint(body, opts.createdAt);
}

/** Splits `rest` into waves following the schedule; the last entry repeats. */
export function scheduleWaves<T>(rest: readonly T[], spec: WaveSpec): T[][] {
  const waves: T[][] = [];
  const total = rest.length;
  let placed = 0;
  for (let i = 0; placed < total; i++) {
    const entry = spec.entries[Math.min(i, spec.entries.length - 1)]!;
    const size = waveSize(entry, total);
    waves.push(rest.slice(placed, placed + size));
    placed += size;
  }
  return waves;
}

type PlanBody = Omit<Plan, 'fingerprint' | 'createdAt'>;

/** The normalized contents: fixed key order, only known keys. */
function normalize(p: PlanBody): PlanBody {
  const ref = toRef;
  const s = p.summary;
  return {
    version: 1,
    summary: {
      source: s.source,
      include: s.include,
      exclude: s.exclude,
      pilot: s.pilot,
      batchSize: s.batchSize,
      order: s.order,
      tenants: s.tenants,
    },
    ...(p.deploys ? { deploys: { chart: p.deploys.chart, version: p.deploys.version, values: p.deploys.values } } : {}),
    pilot: p.pilot.map(ref),
    waves: p.waves.map((w) => w.map(ref)),
  };
}

export function planFingerprint(p: PlanBody): string {
  return createHash('sha256')
    .update(JSON.stringify(normalize(p)))
    .digest('hex');
}

function withFingerprint(body: PlanBody, createdAt: string | undefined): Plan {
  const n = normalize(body);
  return {
    version: 1,
    fingerprint: planFingerprint(n),
    ...(createdAt ? { createdAt } : {}),
    summary: n.summary,
    ...(n.deploys ? { deploys: n.deploys } : {}),
    pilot: n.pilot,
    waves: n.waves,
  };
}

export function serializePlan(plan: Plan, opts: { pretty?: boolean } = {}): string {
  const { fingerprint, createdAt, ...body } = plan;
  const n = normalize(body);
  const out = {
    version: 1,
    fingerprint,
    ...(createdAt ? { createdAt } : {}),
    summary: n.summary,
    ...(n.deploys ? { deploys: n.deploys } : {}),
    pilot: n.pilot,
    waves: n.waves,
  };
  return JSON.stringify(out, null, opts.pretty ? 2 : undefined);
}

/**
 * Reads a plan passed between jobs. Rejects anything that is not a version-1 plan with valid
 * names and unique tenants, and any plan whose contents do not match its fingerprint.
 */
export function parsePlan(text: string, input = 'plan'): Plan {
  const fail = (problem: string, hint = 'pass the plan output of the planning job unchanged'): never => {
    throw new ConfigurationError(`input "${input}"`, problem, hint);
  };
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    return fail(`is not JSON (${err instanceof Error ? err.message : String(err)})`);
  }
  const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
  const onlyKeys = (o: Record<string, unknown>, keys: string[], what: string) => {
    const extra = Object.keys(o).find((k) => !keys.includes(k));
    if (extra) fail(`${what} has an unexpected key "${extra}"`);
  };
  if (!isObj(data)) return fail('is not a plan object');
  onlyKeys(data, ['version', 'fingerprint', 'createdAt', 'summary', 'deploys', 'pilot', 'waves'], 'the plan');
  if (data.version !== 1)
    fail(`has version ${JSON.stringify(data.version)}, expected 1`, 'make and run the plan with the same major version of deploy-actions');
  if (typeof data.fingerprint !== 'string' || !/^[0-9a-f]{64}$/.test(data.fingerprint)) fail('has no valid fingerprint');
  if (data.createdAt !== undefined && typeof data.createdAt !== 'string') fail('has a createdAt that is not a string');
  const s = data.summary;
  if (!isObj(s)) return fail('has no summary');
  onlyKeys(s, ['source', 'include', 'exclude', 'pilot', 'batchSize', 'order', 'tenants'], 'the plan summary');
  for (const k of ['source', 'include', 'exclude', 'pilot', 'batchSize', 'order'])
    if (typeof s[k] !== 'string') fail(`summary.${k} is not a string`);
  if (!Number.isSafeInteger(s.tenants)) fail('summary.tenants is not a count');
  const d = data.deploys;
  if (d !== undefined) {
    if (!isObj(d)) return fail('has a deploys that is not an object');
    onlyKeys(d, ['chart', 'version', 'values'], 'the plan deploys');
    for (const k of ['chart', 'version', 'values']) if (typeof d[k] !== 'string') fail(`deploys.${k} is not a string`);
  }

  const seen = new Set<string>();
  const ref = (r: unknown, where: string): TenantRef => {
    if (!isObj(r)) return fail(`${where} is not a tenant`);
    onlyKeys(r, ['id', 'namespace', 'release', 'cluster'], where);
    const { id, namespace, release, cluster } = r;
    if (cluster !== undefined && (typeof cluster !== 'string' || !isTenantId(cluster)))
      fail(`${where} has an invalid cluster ${JSON.stringify(cluster)}`);
    if (typeof id !== 'string' || !isTenantId(id)) fail(`${where} has an invalid tenant id ${JSON.stringify(id)}`);
    if (typeof namespace !== 'string' || !isNamespaceName(namespace))
      fail(`${where} has an invalid namespace ${JSON.stringify(namespace)}`);
    if (typeof release !== 'string' || !isReleaseName(release)) fail(`${where} has an invalid release ${JSON.stringify(release)}`);
    if (seen.has(id as string)) fail(`lists tenant "${String(id)}" twice`);
    seen.add(id as string);
    return toRef({ id: id as string, namespace: namespace as string, release: release as string, cluster: cluster as string | undefined });
  };
  if (!Array.isArray(data.pilot)) return fail('has no pilot list');
  if (!Array.isArray(data.waves) || !data.waves.every(Array.isArray)) return fail('has no list of waves');
  const pilot = data.pilot.map((r, i) => ref(r, `pilot[${i}]`));
  const waves = (data.waves as unknown[][]).map((w, i) => w.map((r, j) => ref(r, `waves[${i}][${j}]`)));
  if (s.tenants !== seen.size) fail(`summary counts ${String(s.tenants)} tenants but the plan lists ${seen.size}`);

  const plan: Plan = {
    version: 1,
    fingerprint: data.fingerprint as string,
    ...(typeof data.createdAt === 'string' ? { createdAt: data.createdAt } : {}),
    summary: s as unknown as PlanSummary,
    ...(d !== undefined ? { deploys: d as unknown as PlanDeploys } : {}),
    pilot,
    waves,
  };
  const actual = planFingerprint(plan);
  if (actual !== plan.fingerprint)
    fail(
      `does not match its fingerprint (${plan.fingerprint.slice(0, 12)}, contents hash to ${actual.slice(0, 12)}): it was changed after it was made`,
      'make a new plan and approve it again',
    );
  return normalizePlan(plan);
}

function normalizePlan(p: Plan): Plan {
  return withFingerprint(p, p.createdAt);
}

export interface ReconciledPlan {
  /** The approved plan without the tenants that vanished or changed; waves keep their numbers (and may be empty). */
  plan: Plan;
  approvedFingerprint: string;
  /** Today's tenant data (values, values files) for the tenants of `plan`, in plan order. */
  pilot: Tenant[];
  waves: Tenant[][];
  /** Selected now but not in the approved plan: reported, not deployed. Sorted by id. */
  appeared: Tenant[];
  /** In the approved plan but not selected now: nothing to deploy. */
  vanished: TenantRef[];
  /** Same id, but now another namespace or release than approved: not deployed (a new plan must approve it). */
  changed: Array<{ approved: TenantRef; current: Tenant }>;
}

/**
 * Matches the approved plan against the tenants selected now (after include/exclude), by id.
 * Only what was approved runs, in the approved waves.
 */
/**
 * Refuses an approved plan made for something else than this run deploys (another chart,
 * chart version or values), or one that does not say what it deploys: the approval was for
 * that plan's release, not this one.
 */
export function checkPlanDeploys(approved: Plan, current: PlanDeploys, input = 'plan'): void {
  const d = approved.deploys;
  const fix = 'run the deploy with the chart, version and values the plan was made with, or make a new plan and approve it again';
  if (!d)
    throw new ConfigurationError(
      `input "${input}"`,
      'does not record what it deploys (chart, version, values): it was made by an older deploy-actions',
      'make a new plan and approve it again',
    );
  const diff: string[] = [];
  if (d.chart !== current.chart) diff.push(`chart "${d.chart}", this run "${current.chart}"`);
  if (d.version !== current.version) diff.push(`chart version "${d.version || '(latest)'}", this run "${current.version || '(latest)'}"`);
  if (d.values !== current.values)
    diff.push(
      `values ${d.values.slice(0, 12)}, this run ${current.values.slice(0, 12)} (values files, set, set-string or release-version differ)`,
    );
  if (diff.length) throw new ConfigurationError(`input "${input}"`, `was made for ${diff.join('; ')}`, fix);
}

export function reconcilePlan(approved: Plan, current: readonly Tenant[]): ReconciledPlan {
  const byId = new Map(current.map((t) => [t.id, t]));
  const inPlan = new Set<string>();
  const vanished: TenantRef[] = [];
  const changed: ReconciledPlan['changed'] = [];
  const keep = (refs: TenantRef[]): Tenant[] => {
    const out: Tenant[] = [];
    for (const r of refs) {
      inPlan.add(r.id);
      const t = byId.get(r.id);
      if (!t) vanished.push(r);
      else if (t.namespace !== r.namespace || t.release !== r.release || (t.cluster ?? '') !== (r.cluster ?? ''))
        changed.push({ approved: r, current: t });
      else out.push(t);
    }
    return out;
  };
  const pilot = keep(approved.pilot);
  const waves = approved.waves.map(keep);
  const appeared = current.filter((t) => !inPlan.has(t.id)).sort((a, b) => compareStrings(a.id, b.id));
  const plan = withFingerprint(
    {
      version: 1,
      summary: { ...approved.summary, tenants: pilot.length + waves.reduce((n, w) => n + w.length, 0) },
      ...(approved.deploys ? { deploys: approved.deploys } : {}),
      pilot: pilot.map(toRef),
      waves: waves.map((w) => w.map(toRef)),
    },
    approved.createdAt,
  );
  return { plan, approvedFingerprint: approved.fingerprint, pilot, waves, appeared, vanished, changed };
}

export type Phase = 'plan' | 'pilot' | 'waves' | 'all';
export const PHASES: readonly Phase[] = ['plan', 'pilot', 'waves', 'all'];

export function parsePhase(value: string, input = 'phase'): Phase {
  const v = value.trim() || 'all';
  if (!(PHASES as readonly string[]).includes(v)) throw inputError(input, value, 'is not a phase', `use one of ${PHASES.join(', ')}`);
  return v as Phase;
}

export interface PhaseStep<T> {
  kind: 'pilot' | 'wave';
  /** 0 for the pilot, 1-based wave number otherwise (as in the plan table). */
  wave: number;
  /** `pilot` or `wave 3/7`. */
  name: string;
  tenants: T[];
}

/**
 * What a phase runs, in order: `plan` nothing, `pilot` the pilot, `waves` every wave, `all` both.
 * Empty steps (no pilot; a wave emptied by reconcilePlan) are left out; wave numbers stay those
 * of the plan.
 */
export function stepsForPhase<T>(plan: { pilot: readonly T[]; waves: readonly (readonly T[])[] }, phase: Phase): PhaseStep<T>[] {
  const steps: PhaseStep<T>[] = [];
  if ((phase === 'pilot' || phase === 'all') && plan.pilot.length)
    steps.push({ kind: 'pilot', wave: 0, name: 'pilot', tenants: [...plan.pilot] });
  if (phase === 'waves' || phase === 'all') {
    plan.waves.forEach((w, i) => {
      if (w.length) steps.push({ kind: 'wave', wave: i + 1, name: `wave ${i + 1}/${plan.waves.length}`, tenants: [...w] });
    });
  }
  return steps;
}

/** Tenants a phase touches, flattened in run order. */
export function tenantsForPhase<T>(plan: { pilot: readonly T[]; waves: readonly (readonly T[])[] }, phase: Phase): T[] {
  return stepsForPhase(plan, phase).flatMap((s) => s.tenants);
}
