/**
 * The Cluster port over @kubernetes/client-node 2 (ESM; every API method takes one object
 * parameter; patch calls default to `application/json-patch+json`, so the patch content type is
 * always set here explicitly).
 */
import { AppsV1Api, CoreApi, CoreV1Api, KubeConfig, PatchStrategy, type V1Namespace, type V1Service } from '@kubernetes/client-node';
import { ConfigurationError, errorMessage } from '../core/errors.ts';
import type { ClusterTarget } from '../core/cluster-target.ts';
import { KubeApiError, isNotFound } from './errors.ts';
import { requester, type RequestStats, type RequesterOptions } from './request.ts';
import { judgeReleaseHealth } from './health.ts';
import { allPages as listAllPages, type Page } from './pages.ts';
import type { Cluster, NamespaceInfo, ReleaseHealth, ServiceInfo } from './ports.ts';

/**
 * A ClusterTarget (the same one the helm adapter is bound to: kubeconfig file, default $KUBECONFIG,
 * ~/.kube/config or the in-cluster service account; context, default its current-context), plus
 * client tuning. Tests may pass kubeconfig content instead of a file.
 */
export interface ClusterOptions extends Partial<ClusterTarget> {
  /** Kubeconfig content (wins over kubeconfigPath). */
  kubeconfigYaml?: string;
  /** `limit` of each list page (default 100). */
  pageSize?: number;
  /** Per-request timeout (default 30 s). */
  requestTimeoutMs?: number;
  /** Field manager of the writes (default `deploy-actions`). */
  fieldManager?: string;
  /** Retry policy and hooks of every request (request.ts). */
  requests?: Omit<RequesterOptions, 'timeoutMs'>;
}

/** HTTP requests sent to the API server (pages and retries included), and the retries. */
export type ClusterStats = RequestStats;

export interface KubeCluster extends Cluster {
  /** The API server URL, as errors name it. */
  readonly server: string;
  readonly stats: ClusterStats;
}

interface CallOptions {
  signal?: AbortSignal;
  contentType?: string;
}

/** The kubeconfig of `opts`, checked (context exists, a cluster is named); errors never echo its content. */
export function loadConfig(opts: ClusterOptions): KubeConfig {
  const kc = new KubeConfig();
  const source =
    opts.kubeconfigYaml !== undefined
      ? 'the kubeconfig content'
      : opts.kubeconfigPath
        ? `kubeconfig ${opts.kubeconfigPath}`
        : 'the default kubeconfig';
  try {
    if (opts.kubeconfigYaml !== undefined) kc.loadFromString(opts.kubeconfigYaml);
    else if (opts.kubeconfigPath) kc.loadFromFile(opts.kubeconfigPath);
    else kc.loadFromDefault();
  } catch (e) {
    // Never echo the content: it holds credentials.
    throw new ConfigurationError(
      source,
      `cannot be read: ${opts.kubeconfigYaml !== undefined ? 'invalid YAML or kubeconfig' : errorMessage(e).split('\n')[0]}`,
      'pass a valid kubeconfig file',
    );
  }
  // With nothing to load (no KUBECONFIG, no ~/.kube/config, not in a pod), client-node makes up
  // http://localhost:8080, whose requests then fail with a riddle about skipTLSVerify: say so here.
  if (opts.kubeconfigYaml === undefined && !opts.kubeconfigPath && kc.getCurrentContext() === 'loaded-context') {
    const c = kc.getCurrentCluster();
    if (c?.name === 'cluster' && c.server === 'http://localhost:8080')
      throw new ConfigurationError(
        source,
        'was not found: KUBECONFIG is not set, there is no ~/.kube/config and this is not a pod',
        'set KUBECONFIG or pass --kubeconfig; on a runner, the kubeconfig input',
      );
  }
  if (opts.context) {
    if (!kc.getContexts().some((c) => c.name === opts.context)) {
      throw new ConfigurationError(
        source,
        `has no context "${opts.context}"`,
        `use one of: ${
          kc
            .getContexts()
            .map((c) => c.name)
            .join(', ') || '(none)'
        }`,
      );
    }
    kc.setCurrentContext(opts.context);
  }
  if (!kc.getCurrentCluster())
    throw new ConfigurationError(source, 'names no cluster for the current context', 'set current-context or pass a context');
  return kc;
}

/** A failure that says the target is wrong (refused, no such host, bad TLS, rejected credentials), not that it is busy. */
const UNREACHABLE =
  /ECONNREFUSED|ENOTFOUND|EHOSTUNREACH|ENETUNREACH|getaddrinfo|certificate|self[- ]signed|ERR_TLS|ERR_SSL|wrong version number/i;

/**
 * One clear line for a cluster this run cannot use at all, naming the inputs to check; anything
 * else (a 503 that outlasted the retries: a hold, not a mistake) is returned unchanged.
 */
export function explainUnreachable(e: unknown, cluster = ''): unknown {
  if (!(e instanceof KubeApiError)) return e;
  // A connection that never opened (refused, no such host, bad TLS) names the wrong target; one
  // reset or dropped after the retries is a busy server: a hold, not a mistake.
  const neverOpened =
    /^cannot reach the Kubernetes API/.test(e.message) && !/reset|hang up|EPIPE|other side closed|aborted/i.test(e.message);
  const wrong = e.code === 401 || (e.code === undefined && (UNREACHABLE.test(e.message) || neverOpened));
  if (!wrong) return e;
  return new ConfigurationError(
    cluster ? `cluster "${cluster}"` : 'cluster',
    e.message,
    'check the kubeconfig and kube-context inputs (the API server URL, context and credentials), and that the runner can reach the API server',
  );
}

/**
 * Whether the API server answers this kubeconfig: one authenticated read (`GET /api`, allowed to
 * every authenticated user), retried like any read. Before anything is deployed, so an unreachable
 * cluster is one line naming kubeconfig/kube-context, not a first tenant reported failed.
 */
export async function probeCluster(opts: ClusterOptions, signal?: AbortSignal): Promise<void> {
  const kc = loadConfig(opts);
  const req = requester(kc, { timeoutMs: opts.requestTimeoutMs ?? 30_000, ...opts.requests });
  const core = kc.makeApiClient(CoreApi);
  try {
    await req.call(() => core.getAPIVersions(req.options({ signal })), signal);
  } catch (e) {
    throw explainUnreachable(e);
  }
}

const labelsOf = (o: { metadata?: { labels?: Record<string, string> } }) => ({ ...(o.metadata?.labels ?? {}) });
const annotationsOf = (o: { metadata?: { annotations?: Record<string, string> } }) => ({ ...(o.metadata?.annotations ?? {}) });
const namespaceInfo = (n: V1Namespace, name: string): NamespaceInfo => {
  const info: NamespaceInfo = { name, labels: labelsOf(n), annotations: annotationsOf(n) };
  if (n.status?.phase === 'Terminating' || n.metadata?.deletionTimestamp) info.terminating = true;
  return info;
};

function serviceInfo(s: V1Service, namespace: string): ServiceInfo {
  return {
    name: s.metadata?.name ?? '',
    namespace: s.metadata?.namespace ?? namespace,
    selector: { ...(s.spec?.selector ?? {}) },
    labels: labelsOf(s),
    annotations: annotationsOf(s),
  };
}

export function createCluster(opts: ClusterOptions = {}): KubeCluster {
  const kc = loadConfig(opts);
  const server = kc.getCurrentCluster()!.server;
  const core = kc.makeApiClient(CoreV1Api);
  const apps = kc.makeApiClient(AppsV1Api);
  const pageSize = opts.pageSize ?? 100;
  const fieldManager = opts.fieldManager ?? 'deploy-actions';
  // One requester: counting, timeout, cancel, and the retries of transient failures (request.ts).
  const req = requester(kc, { timeoutMs: opts.requestTimeoutMs ?? 30_000, ...opts.requests });
  const stats = req.stats;
  const options = (o: CallOptions = {}) => req.options(o);
  const call = <T>(fn: () => Promise<T>, signal?: AbortSignal): Promise<T> => req.call(fn, signal);

  /** Follows `continue` until the list is complete, starting over when the token expires (pages.ts). */
  const allPages = <T>(page: (cont: string | undefined) => Promise<Page<T>>, signal?: AbortSignal): Promise<T[]> =>
    listAllPages(page, (fn) => call(fn, signal), server);

  return {
    server,
    stats,

    async listNamespaces(labelSelector, signal) {
      const items = await allPages(
        (cont) => core.listNamespace({ labelSelector: labelSelector || undefined, limit: pageSize, _continue: cont }, options({ signal })),
        signal,
      );
      return items.map((n) => namespaceInfo(n, n.metadata?.name ?? ''));
    },

    async readNamespace(name, signal) {
      try {
        const n = await call(() => core.readNamespace({ name }, options({ signal })), signal);
        return namespaceInfo(n, n.metadata?.name ?? name);
      } catch (e) {
        if (isNotFound(e)) return undefined;
        throw e;
      }
    },

    async releaseHealth(namespace, release, o = {}): Promise<ReleaseHealth> {
      const { signal } = o;
      const [deployments, statefulsets] = await Promise.all([
        allPages((cont) => apps.listNamespacedDeployment({ namespace, limit: pageSize, _continue: cont }, options({ signal })), signal),
        allPages((cont) => apps.listNamespacedStatefulSet({ namespace, limit: pageSize, _continue: cont }, options({ signal })), signal),
      ]);
      const ofRelease = (m?: { annotations?: Record<string, string> }) => m?.annotations?.['meta.helm.sh/release-name'] === release;
      const any = deployments.some((d) => ofRelease(d.metadata)) || statefulsets.some((s) => ofRelease(s.metadata));
      // Pods once for the whole namespace (and not at all when the release has no workload).
      const pods = any
        ? await allPages((cont) => core.listNamespacedPod({ namespace, limit: pageSize, _continue: cont }, options({ signal })), signal)
        : [];
      return judgeReleaseHealth(deployments, statefulsets, pods, { namespace, release, expectedImages: o.expectedImages });
    },

    async fleetHealth(releases, o = {}) {
      const { signal } = o;
      const [deployments, statefulsets, pods] = await Promise.all([
        allPages((cont) => apps.listDeploymentForAllNamespaces({ limit: pageSize, _continue: cont }, options({ signal })), signal),
        allPages((cont) => apps.listStatefulSetForAllNamespaces({ limit: pageSize, _continue: cont }, options({ signal })), signal),
        allPages((cont) => core.listPodForAllNamespaces({ limit: pageSize, _continue: cont }, options({ signal })), signal),
      ]);
      const inNs = <T extends { metadata?: { namespace?: string } }>(items: T[]) => {
        const m = new Map<string, T[]>();
        for (const i of items) {
          const ns = i.metadata?.namespace ?? '';
          m.set(ns, [...(m.get(ns) ?? []), i]);
        }
        return m;
      };
      const [d, s, p] = [inNs(deployments), inNs(statefulsets), inNs(pods)];
      const out = new Map<string, ReleaseHealth>();
      for (const r of releases) {
        out.set(
          `${r.namespace}/${r.release}`,
          judgeReleaseHealth(d.get(r.namespace) ?? [], s.get(r.namespace) ?? [], p.get(r.namespace) ?? [], {
            namespace: r.namespace,
            release: r.release,
          }),
        );
      }
      return out;
    },

    async readService(namespace, name) {
      try {
        const s = await call(() => core.readNamespacedService({ name, namespace }, options()));
        return serviceInfo(s, namespace);
      } catch (e) {
        if (isNotFound(e)) return undefined;
        throw e;
      }
    },

    async patchServiceSelector(namespace, name, selector, manager, annotations) {
      // `$patch: replace`: the selector becomes exactly `selector` (a plain strategic merge would keep other keys).
      const body = { ...(annotations && { metadata: { annotations } }), spec: { selector: { $patch: 'replace', ...selector } } };
      const s = await call(() =>
        core.patchNamespacedService(
          { name, namespace, body, fieldManager: manager ?? fieldManager },
          options({ contentType: PatchStrategy.StrategicMergePatch }),
        ),
      );
      return serviceInfo(s, namespace);
    },

    async podLogs(namespace, pod, sinceSeconds) {
      const p = await call(() => core.readNamespacedPod({ name: pod, namespace }, options()));
      const containers = (p.spec?.containers ?? []).map((c) => c.name);
      const parts: string[] = [];
      for (const container of containers) {
        const text = await call(() =>
          core.readNamespacedPodLog({ name: pod, namespace, container, sinceSeconds: Math.max(1, Math.floor(sinceSeconds)) }, options()),
        );
        const s = typeof text === 'string' ? text : String(text ?? '');
        if (containers.length === 1) return s;
        parts.push(
          s
            .split('\n')
            .filter((l, i, all) => l !== '' || i < all.length - 1)
            .map((l) => `[${container}] ${l}`)
            .join('\n'),
        );
      }
      return parts.filter(Boolean).join('\n') + (parts.some(Boolean) ? '\n' : '');
    },
  };
}
