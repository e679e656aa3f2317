/**
 * Judges the health of one Helm release's workloads the careful way: a Deployment that says
 * `Available` with `readyReplicas == replicas` can still be a broken rollout (the old pod serves
 * while the new one crash-loops). Pure: takes what the API returned, gives a verdict.
 */
import type { PodInfo, ReleaseHealth, WorkloadInfo } from './ports.ts';

/** The parts of a Kubernetes object this module reads (plain JSON and client-node models both fit). */
interface Meta {
  name?: string;
  namespace?: string;
  generation?: number;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  ownerReferences?: { kind?: string; name?: string; controller?: boolean }[];
}
interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: { key: string; operator: string; values?: string[] }[];
}
interface Container {
  name: string;
  image?: string;
}
interface PodTemplate {
  metadata?: { labels?: Record<string, string>; annotations?: Record<string, string> };
  spec?: { containers?: Container[]; initContainers?: Container[] };
}
interface Condition {
  type: string;
  status: string;
  reason?: string;
  message?: string;
}

export interface DeploymentLike {
  metadata?: Meta;
  spec?: { replicas?: number; selector?: LabelSelector; template?: PodTemplate; paused?: boolean };
  status?: {
    observedGeneration?: number;
    replicas?: number;
    updatedReplicas?: number;
    readyReplicas?: number;
    availableReplicas?: number;
    unavailableReplicas?: number;
    conditions?: Condition[];
  };
}

export interface StatefulSetLike {
  metadata?: Meta;
  spec?: {
    replicas?: number;
    selector?: LabelSelector;
    template?: PodTemplate;
    updateStrategy?: { type?: string; rollingUpdate?: { partition?: number } };
  };
  status?: {
    observedGeneration?: number;
    replicas?: number;
    updatedReplicas?: number;
    readyReplicas?: number;
    availableReplicas?: number;
    currentRevision?: string;
    updateRevision?: string;
  };
}

interface ContainerStatus {
  name: string;
  image?: string;
  ready?: boolean;
  restartCount?: number;
  started?: boolean;
  state?: { waiting?: { reason?: string }; running?: object; terminated?: { reason?: string; exitCode?: number } };
}

export interface PodLike {
  metadata?: Meta;
  spec?: { containers?: Container[] };
  status?: {
    phase?: string;
    conditions?: Condition[];
    containerStatuses?: ContainerStatus[];
    initContainerStatuses?: ContainerStatus[];
  };
}

export interface JudgeOptions {
  namespace: string;
  release: string;
  /** Images that must be running in a ready container of the release (e.g. the version being rolled out). */
  expectedImages?: string[];
}

/** Container states that mean the pod will not come up by itself. */
export const FATAL_REASONS = new Set([
  'CrashLoopBackOff',
  'ImagePullBackOff',
  'ErrImagePull',
  'InvalidImageName',
  'CreateContainerConfigError',
  'CreateContainerError',
  'RunContainerError',
]);

export const RELEASE_ANNOTATION = 'meta.helm.sh/release-name';

export function matchesSelector(sel: LabelSelector | undefined, labels: Record<string, string> | undefined): boolean {
  if (!sel || (!sel.matchLabels && !sel.matchExpressions)) return false; // an empty selector selects nothing here
  const l = labels ?? {};
  for (const [k, v] of Object.entries(sel.matchLabels ?? {})) if (l[k] !== v) return false;
  for (const e of sel.matchExpressions ?? []) {
    const has = Object.prototype.hasOwnProperty.call(l, e.key);
    const v = l[e.key];
    const values = e.values ?? [];
    if (e.operator === 'In' && !(has && values.includes(v!))) return false;
    if (e.operator === 'NotIn' && has && values.includes(v!)) return false;
    if (e.operator === 'Exists' && !has) return false;
    if (e.operator === 'DoesNotExist' && has) return false;
  }
  return true;
}

/** `nginx:1.25` and `docker.io/library/nginx:1.25` are the same image. */
export function normalizeImage(ref: string): string {
  let rest = ref.trim();
  let digest = '';
  const at = rest.indexOf('@');
  if (at >= 0) [rest, digest] = [rest.slice(0, at), rest.slice(at)];
  let tag = '';
  const colon = rest.lastIndexOf(':');
  if (colon > rest.lastIndexOf('/')) [rest, tag] = [rest.slice(0, colon), rest.slice(colon)];
  const first = rest.split('/')[0]!;
  const hasRegistry = rest.includes('/') && (first.includes('.') || first.includes(':') || first === 'localhost');
  if (!hasRegistry) rest = `docker.io/${rest.includes('/') ? '' : 'library/'}${rest}`;
  if (!tag && !digest) tag = ':latest';
  return `${rest}${tag}${digest}`;
}

function imageRuns(expected: string, actual: string): boolean {
  const e = normalizeImage(expected);
  const a = normalizeImage(actual);
  if (e === a) return true;
  // Expected by digest, runtime reports tag@digest (or the reverse): the digest decides.
  const ed = e.split('@')[1];
  const ad = a.split('@')[1];
  return !!ed && ed === ad;
}

const isReady = (p: PodLike) => (p.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');

export function podInfo(p: PodLike): PodInfo {
  const statuses = [...(p.status?.initContainerStatuses ?? []), ...(p.status?.containerStatuses ?? [])];
  const reasons: string[] = [];
  for (const s of statuses) {
    const r = s.state?.waiting?.reason ?? s.state?.terminated?.reason;
    if (r && !reasons.includes(r)) reasons.push(r);
  }
  const owner = p.metadata?.ownerReferences?.find((o) => o.controller)?.name;
  const images = (p.status?.containerStatuses?.length ? p.status.containerStatuses : (p.spec?.containers ?? []))
    .map((c) => c.image ?? '')
    .filter(Boolean);
  return {
    name: p.metadata?.name ?? '',
    phase: p.status?.phase ?? 'Unknown',
    ready: isReady(p),
    restarts: statuses.reduce((n, s) => n + (s.restartCount ?? 0), 0),
    reasons,
    images,
    ...(owner ? { owner } : {}),
  };
}

/** True when the pod was made from this template (its labels, annotations and images), i.e. belongs to the newest ReplicaSet. */
function fromTemplate(p: PodLike, t: PodTemplate | undefined): boolean {
  const pl = p.metadata?.labels ?? {};
  const pa = p.metadata?.annotations ?? {};
  for (const [k, v] of Object.entries(t?.metadata?.labels ?? {})) if (pl[k] !== v) return false;
  for (const [k, v] of Object.entries(t?.metadata?.annotations ?? {})) if (pa[k] !== v) return false;
  const podImages = new Map((p.spec?.containers ?? []).map((c) => [c.name, c.image]));
  for (const c of t?.spec?.containers ?? []) if (podImages.has(c.name) && podImages.get(c.name) !== c.image) return false;
  return true;
}

function describePod(p: PodLike): string | undefined {
  const info = podInfo(p);
  const fatal = info.reasons.filter((r) => FATAL_REASONS.has(r));
  if (fatal.length === 0) return undefined;
  return `pod ${info.name}: ${fatal.join(', ')} (${info.restarts} restart${info.restarts === 1 ? '' : 's'})`;
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

export function judgeReleaseHealth(
  deployments: DeploymentLike[],
  statefulsets: StatefulSetLike[],
  pods: PodLike[],
  opts: JudgeOptions,
): ReleaseHealth {
  const ofRelease = (m?: Meta) => m?.annotations?.[RELEASE_ANNOTATION] === opts.release;
  const workloads: WorkloadInfo[] = [];
  const problems: string[] = [];
  const releasePods = new Map<string, PodLike>();
  const podsOf = (sel: LabelSelector | undefined) => {
    const out = pods.filter((p) => matchesSelector(sel, p.metadata?.labels));
    for (const p of out) releasePods.set(p.metadata?.name ?? '', p);
    return out;
  };
  const templateImages = (t?: PodTemplate) => (t?.spec?.containers ?? []).map((c) => c.image ?? '').filter(Boolean);
  /**
   * What Deployments and StatefulSets are judged on alike: the controller has seen the latest
   * spec, enough replicas are updated (a StatefulSet partition keeps some back on purpose), and
   * all are ready and available. The kind-specific rollout checks follow at each call.
   */
  const workload = (kind: WorkloadInfo['kind'], o: DeploymentLike | StatefulSetLike, available: number, partition: number) => {
    const name = `${kind.toLowerCase()}/${o.metadata?.name}`;
    const s = o.status ?? {};
    const generation = o.metadata?.generation ?? 0;
    const w: WorkloadInfo = {
      kind,
      name: o.metadata?.name ?? '',
      desired: o.spec?.replicas ?? 1,
      ready: s.readyReplicas ?? 0,
      updated: s.updatedReplicas ?? 0,
      available,
      observed: (s.observedGeneration ?? 0) >= generation,
      images: templateImages(o.spec?.template),
    };
    workloads.push(w);
    if (!w.observed)
      problems.push(`${name}: the controller has not observed generation ${generation} yet (observed ${s.observedGeneration ?? 0})`);
    if (w.updated < w.desired - partition) problems.push(`${name}: ${w.updated}/${w.desired} replicas updated`);
    if (w.ready < w.desired) problems.push(`${name}: ${w.ready}/${w.desired} replicas ready`);
    else if (w.available < w.desired) problems.push(`${name}: ${w.available}/${w.desired} replicas available`);
    return { name, w };
  };

  for (const d of deployments.filter((x) => ofRelease(x.metadata))) {
    const s = d.status ?? {};
    const { name, w } = workload('Deployment', d, s.availableReplicas ?? 0, 0);
    const desired = w.desired;
    if ((s.unavailableReplicas ?? 0) > 0) problems.push(`${name}: ${plural(s.unavailableReplicas!, 'unavailable replica')}`);
    const old = (s.replicas ?? 0) - w.updated;
    if (old > 0 && w.updated >= desired) problems.push(`${name}: rollout not finished, ${plural(old, 'old replica')} still running`);
    const deadline = (s.conditions ?? []).find((c) => c.type === 'Progressing' && c.reason === 'ProgressDeadlineExceeded');
    if (deadline) problems.push(`${name}: ${deadline.message ?? 'progress deadline exceeded'}`);
    for (const p of podsOf(d.spec?.selector)) {
      if (!fromTemplate(p, d.spec?.template)) continue;
      const why = describePod(p);
      if (why) problems.push(why);
    }
  }

  for (const st of statefulsets.filter((x) => ofRelease(x.metadata))) {
    const s = st.status ?? {};
    const partition = st.spec?.updateStrategy?.rollingUpdate?.partition ?? 0;
    const { name, w } = workload('StatefulSet', st, s.availableReplicas ?? s.readyReplicas ?? 0, partition);
    const desired = w.desired;
    if (partition === 0 && s.updateRevision && s.currentRevision !== s.updateRevision && w.updated >= desired) {
      problems.push(`${name}: rollout not finished (revision ${s.currentRevision ?? '?'} -> ${s.updateRevision})`);
    }
    for (const p of podsOf(st.spec?.selector)) {
      const current = s.updateRevision
        ? p.metadata?.labels?.['controller-revision-hash'] === s.updateRevision
        : fromTemplate(p, st.spec?.template);
      if (!current) continue;
      const why = describePod(p);
      if (why) problems.push(why);
    }
  }

  if (workloads.length === 0) problems.push(`no Deployment or StatefulSet of release "${opts.release}" in namespace "${opts.namespace}"`);

  const podInfos = [...releasePods.values()].map(podInfo);
  for (const img of opts.expectedImages ?? []) {
    const running = [...releasePods.values()].some(
      (p) => isReady(p) && (p.status?.containerStatuses ?? []).some((c) => c.ready && c.image && imageRuns(img, c.image)),
    );
    if (!running) {
      const seen = [...new Set(podInfos.flatMap((p) => p.images))].sort();
      problems.push(`image ${img} is not running in a ready pod${seen.length ? ` (running: ${seen.join(', ')})` : ''}`);
    }
  }

  return { namespace: opts.namespace, release: opts.release, healthy: problems.length === 0, workloads, pods: podInfos, problems };
}
