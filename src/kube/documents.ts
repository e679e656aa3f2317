/**
 * Fleet-level documents: one JSON document in one ConfigMap (data key `document.json`), read,
 * created if absent, and changed by compare-and-swap on `metadata.resourceVersion`: a writer that
 * lost the race gets 409 Conflict, re-reads and applies its change again (bounded). The operator's
 * pause/lock and the shard coordination of a sharded rollout both live in such documents.
 *
 * A ConfigMap rather than a Lease: the document is structured JSON shared by many writers (a Lease
 * holds one holder), and every Kubernetes role that may write ConfigMaps can use it.
 */
import { CoreV1Api, type KubeConfig, type V1ConfigMap } from '@kubernetes/client-node';
import { systemClock, type Clock } from '../core/clock.ts';
import { KubeApiError, isNotFound } from './errors.ts';
import { requester, type RequestStats } from './request.ts';

export const DOCUMENT_KEY = 'document.json';
/** ConfigMaps hold at most 1 MiB; stay well under it so a document that grows fails loudly, early. */
export const MAX_DOCUMENT_BYTES = 900 * 1024;

export interface FleetDocument<T> {
  value: T;
  resourceVersion: string;
}

export interface UpdateOptions {
  signal?: AbortSignal;
  /** Attempts before giving up on a document other writers keep changing (default 20). */
  maxAttempts?: number;
}

export interface FleetDocuments {
  readonly namespace: string;
  readonly stats: RequestStats;
  /** The document, or undefined when its ConfigMap does not exist. */
  read<T>(name: string, signal?: AbortSignal): Promise<FleetDocument<T> | undefined>;
  /** Creates the document with `initial` unless it exists; returns what is stored either way. */
  createIfAbsent<T>(name: string, initial: T, signal?: AbortSignal): Promise<FleetDocument<T>>;
  /**
   * Applies `change` to the current value (undefined when absent) and writes the result with
   * resourceVersion compare-and-swap, retrying on 409 with the re-read value. `change` must be a
   * pure function of its argument (it may run several times). Returning `undefined` writes nothing
   * and returns the current document.
   */
  update<T>(name: string, change: (current: T | undefined) => T | undefined, opts?: UpdateOptions): Promise<FleetDocument<T> | undefined>;
  /** Deletes the document; false when it was absent. */
  remove(name: string, signal?: AbortSignal): Promise<boolean>;
}

export interface FleetDocumentsOptions {
  kubeConfig: KubeConfig;
  /** Where the documents live (the fleet's home cluster namespace for deploy-actions objects). */
  namespace: string;
  /** Labels put on created ConfigMaps (plus app.kubernetes.io/managed-by=deploy-actions). */
  labels?: Record<string, string>;
  requestTimeoutMs?: number;
  /** Backoff between conflicting attempts (tests pass a fake clock). */
  clock?: Clock;
}

const isConflict = (e: unknown) => e instanceof KubeApiError && e.code === 409;

export function createFleetDocuments(o: FleetDocumentsOptions): FleetDocuments {
  const req = requester(o.kubeConfig, o.requestTimeoutMs);
  const core = o.kubeConfig.makeApiClient(CoreV1Api);
  const clock = o.clock ?? systemClock;
  const { namespace } = o;
  const labels = { 'app.kubernetes.io/managed-by': 'deploy-actions', ...(o.labels ?? {}) };

  const decode = <T>(name: string, cm: V1ConfigMap): FleetDocument<T> => {
    const text = cm.data?.[DOCUMENT_KEY];
    if (text === undefined) throw new KubeApiError(`configmap ${namespace}/${name} has no ${DOCUMENT_KEY}: not a deploy-actions document`);
    try {
      return { value: JSON.parse(text) as T, resourceVersion: cm.metadata?.resourceVersion ?? '' };
    } catch {
      throw new KubeApiError(`configmap ${namespace}/${name}: ${DOCUMENT_KEY} is not valid JSON`);
    }
  };
  const encode = (name: string, value: unknown): string => {
    const text = JSON.stringify(value);
    if (Buffer.byteLength(text) > MAX_DOCUMENT_BYTES)
      throw new KubeApiError(`document ${namespace}/${name} would be ${Buffer.byteLength(text)} bytes, over ${MAX_DOCUMENT_BYTES}`);
    return text;
  };

  async function read<T>(name: string, signal?: AbortSignal): Promise<FleetDocument<T> | undefined> {
    try {
      const cm = await req.call(() => core.readNamespacedConfigMap({ name, namespace }, req.options({ signal })), signal);
      return decode<T>(name, cm);
    } catch (e) {
      if (isNotFound(e)) return undefined;
      throw e;
    }
  }

  async function create<T>(name: string, value: T, signal?: AbortSignal): Promise<FleetDocument<T>> {
    const body: V1ConfigMap = { metadata: { name, namespace, labels }, data: { [DOCUMENT_KEY]: encode(name, value) } };
    // Not retried blindly: a create whose answer was lost may have happened (the caller's 409 handling sees it).
    const cm = await req.call(() => core.createNamespacedConfigMap({ namespace, body }, req.options({ signal })), signal, false);
    return decode<T>(name, cm);
  }

  return {
    namespace,
    stats: req.stats,
    read,

    async createIfAbsent<T>(name: string, initial: T, signal?: AbortSignal) {
      const cur = await read<T>(name, signal);
      if (cur) return cur;
      try {
        return await create(name, initial, signal);
      } catch (e) {
        // Someone else created it between our read and our create: theirs wins.
        if (!isConflict(e)) throw e;
        const now = await read<T>(name, signal);
        if (!now) throw e;
        return now;
      }
    },

    async update<T>(name: string, change: (current: T | undefined) => T | undefined, uo: UpdateOptions = {}) {
      const attempts = uo.maxAttempts ?? 20;
      for (let attempt = 1; ; attempt++) {
        const cur = await read<T>(name, uo.signal);
        const next = change(cur?.value);
        if (next === undefined) return cur;
        try {
          if (!cur) return await create(name, next, uo.signal);
          const body: V1ConfigMap = {
            metadata: { name, namespace, labels, resourceVersion: cur.resourceVersion },
            data: { [DOCUMENT_KEY]: encode(name, next) },
          };
          const cm = await req.call(
            () => core.replaceNamespacedConfigMap({ name, namespace, body }, req.options({ signal: uo.signal })),
            uo.signal,
          );
          return decode<T>(name, cm);
        } catch (e) {
          if (!isConflict(e) || attempt >= attempts || uo.signal?.aborted) {
            if (isConflict(e))
              throw new KubeApiError(`document ${namespace}/${name}: still conflicting after ${attempt} attempts`, 409, 'Conflict');
            throw e;
          }
          // Jittered so writers that collided do not collide again in lock-step.
          await clock.sleep(Math.min(1000, 10 * 2 ** Math.min(attempt, 6)) * (0.5 + Math.random()), uo.signal);
        }
      }
    },

    async remove(name, signal) {
      try {
        await req.call(() => core.deleteNamespacedConfigMap({ name, namespace }, req.options({ signal })), signal);
        return true;
      } catch (e) {
        if (isNotFound(e)) return false;
        throw e;
      }
    },
  };
}
