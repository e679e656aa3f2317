/**
 * A small kube-controller-manager (+ kubelet): Deployments own ReplicaSets, ReplicaSets and
 * StatefulSets own pods, pods become Ready or crash-loop depending on their image, and the
 * workloads' status is computed the way the real controllers compute it, including the trap of a
 * broken rollout that still reports Available (old pod ready, new pod in CrashLoopBackOff).
 */
import { createHash, randomBytes } from 'node:crypto';
import { applyDefaults } from './defaults.ts';
import { findByKind, type ResourceType } from './resources.ts';
import type { ObjectStore, StoreEvent } from './store.ts';
import { clone, deepEqual, isPlainObject, nowTimestamp, type Json, type KubeObject } from './types.ts';

/** What a container running `image` does: becomes ready, crash-loops, cannot pull, or stays pending. */
export type PodBehaviour = 'ready' | 'crashloop' | 'imagepull' | 'pending';

/** Tag `bad` crash-loops, tag `missing` cannot be pulled, `pending` never starts; the rest become Ready. */
export function defaultImageBehaviour(image: string): PodBehaviour {
  const tag = /:([^/:@]+)$/.exec(image.split('@')[0] ?? '')?.[1];
  if (tag === 'bad') return 'crashloop';
  if (tag === 'missing') return 'imagepull';
  if (tag === 'pending') return 'pending';
  return 'ready';
}

export interface ControllerOptions {
  imageBehaviour: (image: string) => PodBehaviour;
  /** How often a crash-looping container's restartCount grows. */
  crashLoopIntervalMs: number;
  /** How long a healthy pod takes to become Ready (0: at once). */
  podReadyDelayMs: number;
}

const T = {
  jobs: findByKind('batch/v1', 'Job')!,
  deployments: findByKind('apps/v1', 'Deployment')!,
  replicasets: findByKind('apps/v1', 'ReplicaSet')!,
  statefulsets: findByKind('apps/v1', 'StatefulSet')!,
  pods: findByKind('v1', 'Pod')!,
};

const SAFE = 'bcdfghjklmnpqrstvwxz2456789';
const safeString = (bytes: Buffer, n: number) => [...bytes.subarray(0, n)].map((b) => SAFE[b % SAFE.length]).join('');

function stableStringify(v: Json): string {
  if (Array.isArray(v)) return `[${v.map(stableStringify).join(',')}]`;
  if (isPlainObject(v))
    return `{${Object.keys(v)
      .filter((k) => v[k] !== undefined)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${stableStringify(v[k])}`)
      .join(',')}}`;
  return JSON.stringify(v);
}

/** A pod-template-hash-like name suffix, stable for equal templates. */
export const templateHash = (template: Json): string =>
  safeString(
    createHash('sha256')
      .update(stableStringify(withoutHash(template)))
      .digest(),
    10,
  );

function withoutHash(template: Json): Json {
  const t = clone(template ?? {});
  if (t.metadata?.labels) {
    delete t.metadata.labels['pod-template-hash'];
    if (Object.keys(t.metadata.labels).length === 0) delete t.metadata.labels;
  }
  return t;
}

const controllerUid = (o: KubeObject): string | undefined => o.metadata.ownerReferences?.find((r) => r.controller)?.uid;
const revisionOf = (o: KubeObject): number => Number(o.metadata.annotations?.['deployment.kubernetes.io/revision'] ?? 0);
const isPodReady = (p: KubeObject): boolean => (p.status?.conditions ?? []).some((c: Json) => c.type === 'Ready' && c.status === 'True');

/** Resolves an intOrString like `25%` against a total (surge rounds up, unavailable down). */
function resolve(v: Json, total: number, roundUp: boolean): number {
  if (typeof v === 'number') return v;
  const m = /^(\d+)%$/.exec(String(v ?? ''));
  if (!m) return Number(v) || 0;
  const x = (Number(m[1]) * total) / 100;
  return roundUp ? Math.ceil(x) : Math.floor(x);
}

/** Drops zero counters, as the API server's JSON (omitempty) does. */
function compact(status: Record<string, Json>, keep: string[] = []): Record<string, Json> {
  return Object.fromEntries(Object.entries(status).filter(([k, v]) => keep.includes(k) || (v !== 0 && v !== undefined)));
}

export class Controllers {
  private readonly queue = new Map<string, () => void>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly simulated = new Map<string, { behaviours: PodBehaviour[] }>();
  private ticker?: NodeJS.Timeout;
  private running = false;
  private closed = false;

  private readonly store: ObjectStore;
  private readonly opts: ControllerOptions;

  constructor(store: ObjectStore, opts: ControllerOptions) {
    this.store = store;
    this.opts = opts;
    store.subscribe((e) => this.onEvent(e));
  }

  close(): void {
    this.closed = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    if (this.ticker) clearInterval(this.ticker);
  }

  private onEvent(e: StoreEvent): void {
    if (e.origin === 'seed' || this.closed) return;
    const o = e.object;
    const ns = o.metadata.namespace;
    const owner = controllerUid(o);
    switch (o.kind) {
      case 'Deployment':
        if (e.type !== 'DELETED') this.enqueue(`d|${ns}|${o.metadata.name}`, () => this.reconcileDeployment(ns!, o.metadata.name));
        break;
      case 'ReplicaSet':
        if (e.type !== 'DELETED') this.enqueue(`rs|${ns}|${o.metadata.name}`, () => this.reconcileReplicaSet(ns!, o.metadata.name));
        if (owner) this.enqueueOwner(ns!, owner);
        break;
      case 'StatefulSet':
        if (e.type !== 'DELETED') this.enqueue(`sts|${ns}|${o.metadata.name}`, () => this.reconcileStatefulSet(ns!, o.metadata.name));
        break;
      case 'Job':
        if (e.type !== 'DELETED') this.enqueue(`job|${ns}|${o.metadata.name}`, () => this.reconcileJob(ns!, o.metadata.name));
        break;
      case 'Pod':
        if (owner) this.enqueueOwner(ns!, owner);
        // The kubelet starts a bare pod a client created.
        else if (e.type === 'ADDED' && e.origin === 'api')
          this.enqueue(`pod|${ns}|${o.metadata.name}`, () => this.startBarePod(ns!, o.metadata.name));
        break;
    }
  }

  private enqueueOwner(ns: string, uid: string): void {
    for (const t of [T.deployments, T.replicasets, T.statefulsets, T.jobs]) {
      const owner = this.store.list(t, ns).find((x) => x.metadata.uid === uid);
      if (owner) this.onEvent({ rv: 0, type: 'MODIFIED', t, object: owner, origin: 'controller' });
    }
  }

  private enqueue(key: string, fn: () => void): void {
    this.queue.set(key, fn);
  }

  /** Reconciles until nothing changes (called after each API write and each timer). */
  run(): void {
    if (this.running || this.closed) return;
    this.running = true;
    try {
      for (let i = 0; i < 2000 && this.queue.size > 0; i++) {
        const [key, fn] = this.queue.entries().next().value!;
        this.queue.delete(key);
        fn();
      }
    } finally {
      this.running = false;
    }
  }

  private write(t: ResourceType, before: KubeObject | undefined, after: KubeObject): void {
    if (before && deepEqual(before, after)) return;
    applyDefaults(after);
    if (before) this.store.update(t, after, 'controller');
    else this.store.create(t, after, 'controller');
  }

  private schedule(ms: number, fn: () => void): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      if (this.closed) return;
      fn();
      this.run();
    }, ms);
    t.unref();
    this.timers.add(t);
  }

  // ---- Deployments ---------------------------------------------------------------------------

  private reconcileDeployment(ns: string, name: string): void {
    const d = this.store.get(T.deployments, ns, name);
    if (!d || d.metadata.deletionTimestamp) return;
    const replicas: number = d.spec?.replicas ?? 1;
    const template = d.spec?.template ?? {};
    const owned = this.store.list(T.replicasets, ns).filter((rs) => controllerUid(rs) === d.metadata.uid);
    const maxRevision = Math.max(0, ...owned.map(revisionOf));
    let newRS = owned.find((rs) => deepEqual(withoutHash(rs.spec?.template), withoutHash(template)));
    if (!newRS) {
      const hash = templateHash(template);
      const rsTemplate = clone(template);
      rsTemplate.metadata = {
        ...(rsTemplate.metadata ?? {}),
        labels: { ...(rsTemplate.metadata?.labels ?? {}), 'pod-template-hash': hash },
      };
      newRS = {
        apiVersion: 'apps/v1',
        kind: 'ReplicaSet',
        metadata: {
          name: `${name}-${hash}`,
          namespace: ns,
          labels: { ...(template.metadata?.labels ?? {}), 'pod-template-hash': hash },
          annotations: {
            'deployment.kubernetes.io/desired-replicas': String(replicas),
            'deployment.kubernetes.io/max-replicas': String(
              replicas + resolve(d.spec?.strategy?.rollingUpdate?.maxSurge ?? '25%', replicas, true),
            ),
            'deployment.kubernetes.io/revision': String(maxRevision + 1),
          },
          ownerReferences: [
            { apiVersion: 'apps/v1', kind: 'Deployment', name, uid: d.metadata.uid!, controller: true, blockOwnerDeletion: true },
          ],
        },
        spec: {
          replicas: 0,
          minReadySeconds: d.spec?.minReadySeconds,
          selector: {
            ...clone(d.spec?.selector ?? {}),
            matchLabels: { ...(d.spec?.selector?.matchLabels ?? {}), 'pod-template-hash': hash },
          },
          template: rsTemplate,
        },
      };
      if (newRS.spec.minReadySeconds === undefined) delete newRS.spec.minReadySeconds;
      newRS = this.store.create(T.replicasets, (applyDefaults(newRS), newRS), 'controller');
    } else if (revisionOf(newRS) < maxRevision) {
      const before = newRS;
      newRS = clone(newRS);
      newRS.metadata.annotations = { ...(newRS.metadata.annotations ?? {}), 'deployment.kubernetes.io/revision': String(maxRevision + 1) };
      this.write(T.replicasets, before, newRS);
      newRS = this.store.get(T.replicasets, ns, newRS.metadata.name)!;
    }
    const newUid = newRS.metadata.uid;
    const old = owned.filter((rs) => rs.metadata.uid !== newUid);

    if (!d.spec?.paused) {
      const strategy = d.spec?.strategy ?? {};
      const surge = resolve(strategy.rollingUpdate?.maxSurge ?? '25%', replicas, true);
      let unavailable = resolve(strategy.rollingUpdate?.maxUnavailable ?? '25%', replicas, false);
      if (surge === 0 && unavailable === 0) unavailable = 1;
      const healthy = (template.spec?.containers ?? []).every((c: Json) => this.opts.imageBehaviour(String(c.image ?? '')) === 'ready');
      const oldActive = old.reduce((n, rs) => n + (rs.spec?.replicas ?? 0), 0);
      const targets = new Map<string, number>();
      if (strategy.type === 'Recreate' || oldActive === 0) {
        for (const rs of old) targets.set(rs.metadata.name, 0);
        targets.set(newRS.metadata.name, replicas);
      } else {
        const newReady = newRS.status?.readyReplicas ?? 0;
        let keep = newReady >= replicas ? 0 : Math.max(0, replicas - unavailable - newReady);
        // Keep the old pods that serve (ready first, newest first), as the controller scales down the unready ones first.
        const ranked = [...old].sort(
          (a, b) => (b.status?.readyReplicas ?? 0) - (a.status?.readyReplicas ?? 0) || revisionOf(b) - revisionOf(a),
        );
        let kept = 0;
        for (const rs of ranked) {
          const n = Math.min(rs.spec?.replicas ?? 0, rs.status?.readyReplicas ?? 0, keep);
          targets.set(rs.metadata.name, n);
          keep -= n;
          kept += n;
        }
        targets.set(newRS.metadata.name, healthy ? replicas : Math.min(replicas, Math.max(1, replicas + surge - kept)));
      }
      for (const rs of [newRS, ...old]) {
        const want = targets.get(rs.metadata.name);
        if (want === undefined || rs.spec?.replicas === want) continue;
        const next = clone(rs);
        next.spec.replicas = want;
        next.metadata.generation = (rs.metadata.generation ?? 1) + 1;
        this.write(T.replicasets, rs, next);
      }
    }

    // Status, from the ReplicaSets as they are now.
    const all = this.store.list(T.replicasets, ns).filter((rs) => controllerUid(rs) === d.metadata.uid);
    const cur = all.find((rs) => rs.metadata.uid === newUid)!;
    const sum = (f: (rs: KubeObject) => number) => all.reduce((n, rs) => n + f(rs), 0);
    const statusReplicas = sum((rs) => rs.status?.replicas ?? 0);
    const updated = cur.status?.replicas ?? 0;
    const ready = sum((rs) => rs.status?.readyReplicas ?? 0);
    const available = sum((rs) => rs.status?.availableReplicas ?? 0);
    const unavailableNow = Math.max(0, sum((rs) => rs.spec?.replicas ?? 0) - available);
    const maxUnavailable = resolve(d.spec?.strategy?.rollingUpdate?.maxUnavailable ?? '25%', replicas, false);
    const complete =
      updated === replicas && statusReplicas === replicas && available >= replicas && (cur.status?.availableReplicas ?? 0) >= replicas;
    const prev: Json[] = d.status?.conditions ?? [];
    const conditions = [
      condition(
        prev,
        'Available',
        available >= replicas - maxUnavailable
          ? ['True', 'MinimumReplicasAvailable', 'Deployment has minimum availability.']
          : ['False', 'MinimumReplicasUnavailable', 'Deployment does not have minimum availability.'],
      ),
      condition(
        prev,
        'Progressing',
        complete
          ? ['True', 'NewReplicaSetAvailable', `ReplicaSet "${cur.metadata.name}" has successfully progressed.`]
          : ['True', 'ReplicaSetUpdated', `ReplicaSet "${cur.metadata.name}" is progressing.`],
      ),
    ];
    const next = clone(d);
    next.metadata.annotations = { ...(d.metadata.annotations ?? {}), 'deployment.kubernetes.io/revision': String(revisionOf(cur)) };
    next.status = {
      ...compact({
        observedGeneration: d.metadata.generation ?? 1,
        replicas: statusReplicas,
        updatedReplicas: updated,
        readyReplicas: ready,
        availableReplicas: available,
        unavailableReplicas: unavailableNow,
      }),
      conditions,
    };
    this.write(T.deployments, d, next);
  }

  // ---- ReplicaSets -------------------------------------------------------------------------------

  private reconcileReplicaSet(ns: string, name: string): void {
    const rs = this.store.get(T.replicasets, ns, name);
    if (!rs) return;
    const desired: number = rs.spec?.replicas ?? 1;
    let pods = this.store.list(T.pods, ns).filter((p) => controllerUid(p) === rs.metadata.uid);
    for (let i = pods.length; i < desired; i++) {
      const suffix = safeString(randomBytes(8), 5);
      this.createPod(rs, `${name}-${suffix}`, rs.spec?.template ?? {}, { generateName: `${name}-` });
    }
    if (pods.length > desired) {
      const victims = [...pods].sort(
        (a, b) =>
          Number(isPodReady(a)) - Number(isPodReady(b)) ||
          (b.metadata.creationTimestamp ?? '').localeCompare(a.metadata.creationTimestamp ?? ''),
      );
      for (const p of victims.slice(0, pods.length - desired)) this.deletePod(p);
    }
    pods = this.store.list(T.pods, ns).filter((p) => controllerUid(p) === rs.metadata.uid);
    const ready = pods.filter(isPodReady).length;
    const next = clone(rs);
    next.status = compact(
      {
        replicas: pods.length,
        fullyLabeledReplicas: pods.length,
        readyReplicas: ready,
        availableReplicas: ready,
        observedGeneration: rs.metadata.generation ?? 1,
      },
      ['replicas'],
    );
    this.write(T.replicasets, rs, next);
  }

  // ---- StatefulSets ------------------------------------------------------------------------------

  private reconcileStatefulSet(ns: string, name: string): void {
    const sts = this.store.get(T.statefulsets, ns, name);
    if (!sts) return;
    const replicas: number = sts.spec?.replicas ?? 1;
    const template = sts.spec?.template ?? {};
    const updateRevision = `${name}-${templateHash(template)}`;
    const podsByOrdinal = () => {
      const m = new Map<number, KubeObject>();
      for (const p of this.store.list(T.pods, ns)) {
        if (controllerUid(p) !== sts.metadata.uid) continue;
        const ord = Number(/-(\d+)$/.exec(p.metadata.name)?.[1]);
        if (Number.isInteger(ord)) m.set(ord, p);
      }
      return m;
    };
    const create = (ord: number) => {
      const podName = `${name}-${ord}`;
      const t = clone(template);
      t.metadata = {
        ...(t.metadata ?? {}),
        labels: {
          ...(t.metadata?.labels ?? {}),
          'controller-revision-hash': updateRevision,
          'statefulset.kubernetes.io/pod-name': podName,
          'apps.kubernetes.io/pod-index': String(ord),
        },
      };
      t.spec = { ...(t.spec ?? {}), hostname: podName, ...(sts.spec?.serviceName ? { subdomain: sts.spec.serviceName } : {}) };
      this.createPod(sts, podName, t, {});
    };
    let pods = podsByOrdinal();
    for (const [ord, p] of pods) if (ord >= replicas) this.deletePod(p);
    for (let ord = 0; ord < replicas; ord++) if (!pods.has(ord)) create(ord);
    // Rolling update from the highest ordinal down, halting at an updated pod that is not ready.
    for (let ord = replicas - 1; ord >= 0; ord--) {
      pods = podsByOrdinal();
      const updatedNotReady = [...pods.values()].some(
        (p) => p.metadata.labels?.['controller-revision-hash'] === updateRevision && !isPodReady(p),
      );
      if (updatedNotReady) break;
      const p = pods.get(ord);
      if (p && p.metadata.labels?.['controller-revision-hash'] !== updateRevision) {
        this.deletePod(p);
        create(ord);
      }
    }
    pods = podsByOrdinal();
    const list = [...pods.values()];
    const updated = list.filter((p) => p.metadata.labels?.['controller-revision-hash'] === updateRevision).length;
    const ready = list.filter(isPodReady).length;
    const currentRevision = updated === replicas ? updateRevision : (sts.status?.currentRevision ?? updateRevision);
    const next = clone(sts);
    next.status = {
      ...compact(
        {
          observedGeneration: sts.metadata.generation ?? 1,
          replicas: list.length,
          readyReplicas: ready,
          currentReplicas: list.filter((p) => p.metadata.labels?.['controller-revision-hash'] === currentRevision).length,
          updatedReplicas: updated,
          availableReplicas: ready,
        },
        ['replicas', 'availableReplicas'],
      ),
      currentRevision,
      updateRevision,
      collisionCount: 0,
    };
    this.write(T.statefulsets, sts, next);
  }

  // ---- Jobs (helm hooks) -----------------------------------------------------------------------------

  /** One pod per Job: it completes (Succeeded) for a healthy image, fails for a crashing one. */
  private reconcileJob(ns: string, name: string): void {
    const job = this.store.get(T.jobs, ns, name);
    if (!job) return;
    const template = job.spec?.template ?? {};
    const containers: Json[] = template.spec?.containers ?? [];
    const behaviours = containers.map((c) => this.opts.imageBehaviour(String(c.image ?? '')));
    let pod = this.store.list(T.pods, ns).find((p) => controllerUid(p) === job.metadata.uid);
    const now = nowTimestamp();
    if (!pod) {
      const podName = `${name}-${safeString(randomBytes(8), 5)}`;
      const t = clone(template);
      t.metadata = {
        ...(t.metadata ?? {}),
        labels: {
          ...(t.metadata?.labels ?? {}),
          'batch.kubernetes.io/job-name': name,
          'job-name': name,
          'batch.kubernetes.io/controller-uid': job.metadata.uid,
          'controller-uid': job.metadata.uid,
        },
      };
      const p: KubeObject = {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: {
          name: podName,
          generateName: `${name}-`,
          namespace: ns,
          labels: t.metadata.labels,
          ownerReferences: [
            { apiVersion: 'batch/v1', kind: 'Job', name, uid: job.metadata.uid!, controller: true, blockOwnerDeletion: true },
          ],
        },
        spec: { ...clone(t.spec ?? {}), nodeName: 'fake-node' },
        status: jobPodStatus(containers, behaviours, now),
      };
      applyDefaults(p);
      pod = this.store.create(T.pods, p, 'controller');
    }
    const phase = pod.status?.phase;
    const next = clone(job);
    const start = job.status?.startTime ?? now;
    if (phase === 'Succeeded') {
      next.status = {
        ...job.status,
        startTime: start,
        completionTime: job.status?.completionTime ?? now,
        succeeded: 1,
        ready: 0,
        terminating: 0,
        conditions: job.status?.conditions ?? [
          {
            type: 'SuccessCriteriaMet',
            status: 'True',
            lastProbeTime: now,
            lastTransitionTime: now,
            reason: 'CompletionsReached',
            message: 'Reached expected number of succeeded pods',
          },
          {
            type: 'Complete',
            status: 'True',
            lastProbeTime: now,
            lastTransitionTime: now,
            reason: 'CompletionsReached',
            message: 'Reached expected number of succeeded pods',
          },
        ],
      };
      delete next.status.active;
    } else if (phase === 'Failed') {
      next.status = {
        ...job.status,
        startTime: start,
        failed: 1,
        ready: 0,
        terminating: 0,
        conditions: job.status?.conditions ?? [
          {
            type: 'FailureTarget',
            status: 'True',
            lastProbeTime: now,
            lastTransitionTime: now,
            reason: 'BackoffLimitExceeded',
            message: 'Job has reached the specified backoff limit',
          },
          {
            type: 'Failed',
            status: 'True',
            lastProbeTime: now,
            lastTransitionTime: now,
            reason: 'BackoffLimitExceeded',
            message: 'Job has reached the specified backoff limit',
          },
        ],
      };
      delete next.status.active;
    } else next.status = { ...job.status, startTime: start, active: 1, ready: 0, terminating: 0 };
    next.status = compact(next.status, ['ready', 'terminating']);
    this.write(T.jobs, job, next);
  }

  // ---- Pods (the kubelet) --------------------------------------------------------------------------

  private startBarePod(ns: string, name: string): void {
    const p = this.store.get(T.pods, ns, name);
    if (!p || p.status?.containerStatuses) return;
    const containers: Json[] = p.spec?.containers ?? [];
    const behaviours = containers.map((c) => this.opts.imageBehaviour(String(c.image ?? '')));
    this.simulated.set(p.metadata.uid!, { behaviours });
    this.write(T.pods, p, {
      ...p,
      spec: { ...p.spec, nodeName: p.spec?.nodeName ?? 'fake-node' },
      status: podStatus(name, ns, containers, behaviours, p),
    });
    if (behaviours.includes('crashloop')) this.startTicker();
  }

  private createPod(owner: KubeObject, name: string, template: Json, meta: { generateName?: string }): void {
    const ns = owner.metadata.namespace!;
    const containers: Json[] = template.spec?.containers ?? [];
    const behaviours = containers.map((c) => this.opts.imageBehaviour(String(c.image ?? '')));
    const delayed = this.opts.podReadyDelayMs > 0 && behaviours.every((b) => b === 'ready');
    const pod: KubeObject = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        name,
        ...meta,
        namespace: ns,
        labels: { ...(template.metadata?.labels ?? {}) },
        ...(template.metadata?.annotations ? { annotations: { ...template.metadata.annotations } } : {}),
        ownerReferences: [
          {
            apiVersion: owner.apiVersion,
            kind: owner.kind,
            name: owner.metadata.name,
            uid: owner.metadata.uid!,
            controller: true,
            blockOwnerDeletion: true,
          },
        ],
      },
      spec: { ...clone(template.spec ?? {}), nodeName: 'fake-node' },
    };
    pod.status = podStatus(name, ns, containers, delayed ? containers.map(() => 'pending' as const) : behaviours, undefined);
    const created = this.store.create(T.pods, (applyDefaults(pod), pod), 'controller');
    this.simulated.set(created.metadata.uid!, { behaviours });
    if (delayed) {
      this.schedule(this.opts.podReadyDelayMs, () => {
        const p = this.store.get(T.pods, ns, name);
        if (!p || p.metadata.uid !== created.metadata.uid) return;
        this.write(T.pods, p, { ...p, status: podStatus(name, ns, containers, behaviours, p) });
      });
    }
    if (behaviours.includes('crashloop')) this.startTicker();
  }

  private deletePod(p: KubeObject): void {
    this.simulated.delete(p.metadata.uid!);
    this.store.remove(T.pods, p.metadata.namespace, p.metadata.name, 'controller');
  }

  private startTicker(): void {
    if (this.ticker || this.closed) return;
    this.ticker = setInterval(() => this.crashTick(), this.opts.crashLoopIntervalMs);
    this.ticker.unref();
  }

  /** Crash-looping containers restart: restartCount grows, as the kubelet's back-off would show it. */
  private crashTick(): void {
    let any = false;
    for (const p of this.store.list(T.pods)) {
      if (!this.simulated.get(p.metadata.uid!)?.behaviours.includes('crashloop')) continue;
      any = true;
      const next = clone(p);
      for (const cs of next.status?.containerStatuses ?? []) {
        if (cs.state?.waiting?.reason !== 'CrashLoopBackOff') continue;
        cs.restartCount = (cs.restartCount ?? 0) + 1;
        const backoff = Math.min(300, 10 * 2 ** Math.min(cs.restartCount - 1, 5));
        cs.state.waiting.message = `back-off ${backoff >= 60 ? `${Math.floor(backoff / 60)}m${backoff % 60}s` : `${backoff}s`} restarting failed container=${cs.name} pod=${p.metadata.name}_${p.metadata.namespace}(${p.metadata.uid})`;
        cs.lastState = {
          terminated: {
            exitCode: 1,
            reason: 'Error',
            startedAt: cs.lastState?.terminated?.startedAt ?? nowTimestamp(),
            finishedAt: nowTimestamp(),
            containerID: cs.containerID,
          },
        };
      }
      this.write(T.pods, p, next);
    }
    if (!any && this.ticker) {
      clearInterval(this.ticker);
      this.ticker = undefined;
    }
    this.run();
  }
}

function jobPodStatus(containers: Json[], behaviours: PodBehaviour[], now: string): Json {
  const failed = behaviours.includes('crashloop');
  const pending = !failed && behaviours.some((b) => b !== 'ready');
  const statuses = containers.map((c, i) =>
    pending
      ? {
          name: c.name,
          image: c.image,
          imageID: '',
          state: { waiting: { reason: behaviours[i] === 'imagepull' ? 'ImagePullBackOff' : 'ContainerCreating' } },
          lastState: {},
          ready: false,
          restartCount: 0,
          started: false,
        }
      : {
          name: c.name,
          image: c.image,
          imageID: `fake://${c.image}`,
          state: { terminated: { exitCode: failed ? 1 : 0, reason: failed ? 'Error' : 'Completed', startedAt: now, finishedAt: now } },
          lastState: {},
          ready: false,
          restartCount: 0,
          started: false,
        },
  );
  return {
    phase: pending ? 'Pending' : failed ? 'Failed' : 'Succeeded',
    conditions: [{ type: 'PodScheduled', status: 'True', lastProbeTime: null, lastTransitionTime: now }],
    hostIP: '127.0.0.1',
    startTime: now,
    containerStatuses: statuses,
    qosClass: 'BestEffort',
  };
}

function condition(prev: Json[], type: string, [status, reason, message]: [string, string, string]): Json {
  const old = prev.find((c) => c.type === type);
  const now = nowTimestamp();
  if (old && old.status === status && old.reason === reason && old.message === message) return old;
  return {
    type,
    status,
    lastUpdateTime: now,
    lastTransitionTime: old && old.status === status ? old.lastTransitionTime : now,
    reason,
    message,
  };
}

let podIp = 10;

function podStatus(name: string, ns: string, containers: Json[], behaviours: PodBehaviour[], prev: KubeObject | undefined): Json {
  const now = nowTimestamp();
  const uid8 = randomBytes(4).toString('hex');
  const started = prev?.status?.startTime ?? now;
  const statuses = containers.map((c, i) => {
    const b = behaviours[i] ?? 'ready';
    const base = { name: c.name, image: c.image, imageID: `fake://${c.image}`, containerID: `fake://${uid8}-${c.name}` };
    switch (b) {
      case 'ready':
        return { ...base, state: { running: { startedAt: now } }, lastState: {}, ready: true, restartCount: 0, started: true };
      case 'crashloop':
        return {
          ...base,
          state: {
            waiting: { reason: 'CrashLoopBackOff', message: `back-off 10s restarting failed container=${c.name} pod=${name}_${ns}` },
          },
          lastState: { terminated: { exitCode: 1, reason: 'Error', startedAt: now, finishedAt: now, containerID: base.containerID } },
          ready: false,
          restartCount: 0,
          started: false,
        };
      case 'imagepull':
        return {
          name: c.name,
          image: c.image,
          imageID: '',
          state: { waiting: { reason: 'ImagePullBackOff', message: `Back-off pulling image "${c.image}"` } },
          lastState: {},
          ready: false,
          restartCount: 0,
          started: false,
        };
      case 'pending':
        return {
          name: c.name,
          image: c.image,
          imageID: '',
          state: { waiting: { reason: 'ContainerCreating' } },
          lastState: {},
          ready: false,
          restartCount: 0,
          started: false,
        };
    }
  });
  const allReady = statuses.every((s) => s.ready);
  const ip: string = prev?.status?.podIP ?? `10.244.1.${(podIp++ % 250) + 2}`;
  const running = behaviours.every((b) => b === 'ready' || b === 'crashloop');
  const cond = (type: string, ok: boolean) => ({
    type,
    status: ok ? 'True' : 'False',
    lastProbeTime: null,
    lastTransitionTime: now,
    ...(ok ? {} : { reason: 'ContainersNotReady' }),
  });
  return {
    phase: running ? 'Running' : 'Pending',
    conditions: [
      cond('PodReadyToStartContainers', running),
      { type: 'Initialized', status: 'True', lastProbeTime: null, lastTransitionTime: started },
      cond('Ready', allReady),
      cond('ContainersReady', allReady),
      { type: 'PodScheduled', status: 'True', lastProbeTime: null, lastTransitionTime: started },
    ].map((c) => (c.type === 'PodReadyToStartContainers' && c.status === 'False' ? { ...c, reason: undefined } : c)),
    hostIP: '127.0.0.1',
    hostIPs: [{ ip: '127.0.0.1' }],
    ...(running ? { podIP: ip, podIPs: [{ ip }] } : {}),
    startTime: started,
    containerStatuses: statuses,
    qosClass: 'BestEffort',
  };
}
