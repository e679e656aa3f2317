/**
 * Release history read in-process from Helm's storage Secrets through client-node: one list
 * request per release (labels `owner=helm,name=<release>`) instead of a `helm history` process,
 * and the whole fleet in `continue` pages of one cluster-wide list, falling back to one list per
 * namespace when the identity may not list Secrets cluster-wide (403). RBAC: `list` on `secrets`
 * cluster-wide (or in each tenant namespace).
 */
import { CoreV1Api, type KubeConfig, type V1Secret } from '@kubernetes/client-node';
import type { Revision } from '../helm/history.ts';
import { HELM_HISTORY_MAX, OWNER_SELECTOR, historiesFrom } from '../helm/storage.ts';
import { KubeApiError } from './errors.ts';
import { allPages, type Page } from './pages.ts';
import { requester, type RequestStats } from './request.ts';

export interface FleetHistories {
  /** `namespace/release` -> revisions, oldest first (releases with no record are absent). */
  histories: Map<string, Revision[]>;
  /** How it was read: one cluster-wide list, or one list per namespace (cluster-wide was forbidden). */
  scope: 'cluster' | 'namespaces';
}

export interface ReleaseHistoryReader {
  readonly stats: RequestStats;
  /** What `helm history <release> -n <namespace> -o json` prints, oldest first; empty when not installed. */
  history(namespace: string, release: string, signal?: AbortSignal): Promise<Revision[]>;
  /** Every release of `namespaces` (all namespaces when the cluster-wide list is allowed). */
  fleet(namespaces: readonly string[], signal?: AbortSignal): Promise<FleetHistories>;
}

export interface ReleaseHistoryOptions {
  kubeConfig: KubeConfig;
  /** `limit` of each list page (default 100: storage Secrets are large, a page stays a few MB). */
  pageSize?: number;
  /** Namespaces listed at once in the per-namespace fallback (default 8). */
  concurrency?: number;
  requestTimeoutMs?: number;
  /** Told about Secrets labelled owner=helm that are not release records. */
  onSkip?: (why: string) => void;
}

export const isForbidden = (e: unknown) => e instanceof KubeApiError && e.code === 403;

export function createReleaseHistory(o: ReleaseHistoryOptions): ReleaseHistoryReader {
  const req = requester(o.kubeConfig, o.requestTimeoutMs);
  const core = o.kubeConfig.makeApiClient(CoreV1Api);
  const limit = o.pageSize ?? 100;

  const pages = (list: (cont: string | undefined) => Promise<Page<V1Secret>>, signal?: AbortSignal): Promise<V1Secret[]> =>
    allPages(list, (fn) => req.call(fn, signal), req.server);

  const inNamespace = (namespace: string, labelSelector: string, signal?: AbortSignal) =>
    pages((cont) => core.listNamespacedSecret({ namespace, labelSelector, limit, _continue: cont }, req.options({ signal })), signal);

  return {
    stats: req.stats,

    async history(namespace, release, signal) {
      const secrets = await inNamespace(namespace, `${OWNER_SELECTOR},name=${release}`, signal);
      return historiesFrom(secrets, { max: HELM_HISTORY_MAX, onSkip: o.onSkip }).get(`${namespace}/${release}`) ?? [];
    },

    async fleet(namespaces, signal) {
      try {
        const all = await pages(
          (cont) => core.listSecretForAllNamespaces({ labelSelector: OWNER_SELECTOR, limit, _continue: cont }, req.options({ signal })),
          signal,
        );
        return { histories: historiesFrom(all, { onSkip: o.onSkip }), scope: 'cluster' };
      } catch (e) {
        if (!isForbidden(e)) throw e;
      }
      const queue = [...new Set(namespaces)];
      const found: V1Secret[] = [];
      const worker = async () => {
        for (let ns = queue.shift(); ns !== undefined; ns = queue.shift()) found.push(...(await inNamespace(ns, OWNER_SELECTOR, signal)));
      };
      await Promise.all(Array.from({ length: Math.min(o.concurrency ?? 8, queue.length) }, worker));
      return { histories: historiesFrom(found, { onSkip: o.onSkip }), scope: 'namespaces' };
    },
  };
}
