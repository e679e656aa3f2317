/**
 * What the suite asks of a Kubernetes cluster, in the domain's words. The adapter over
 * @kubernetes/client-node (`client.ts`) implements these; tests pass in-memory fakes or point
 * the real adapter at the wire-level fake server in test/support/fake-kube.
 */

export interface NamespaceInfo {
  name: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  /** Being deleted (phase Terminating, or a deletionTimestamp): nothing new can be created in it. */
  terminating?: boolean;
}

export interface PodInfo {
  name: string;
  phase: string;
  ready: boolean;
  /** Sum of container restart counts. */
  restarts: number;
  /** Waiting/terminated reasons of containers, e.g. CrashLoopBackOff, ImagePullBackOff, ErrImagePull. */
  reasons: string[];
  images: string[];
  /** Owner ReplicaSet/StatefulSet name, when any. */
  owner?: string;
}

export interface WorkloadInfo {
  kind: 'Deployment' | 'StatefulSet';
  name: string;
  desired: number;
  ready: number;
  updated: number;
  available: number;
  /** False while the controller has not yet observed the latest spec (status is stale). */
  observed: boolean;
  images: string[];
}

/** The health of one Helm release's workloads, judged the way a careful operator would. */
export interface ReleaseHealth {
  namespace: string;
  release: string;
  healthy: boolean;
  workloads: WorkloadInfo[];
  pods: PodInfo[];
  /** Human-readable reasons it is not healthy, e.g. `pod x: CrashLoopBackOff (5 restarts)`. */
  problems: string[];
}

export interface ServiceInfo {
  name: string;
  namespace: string;
  selector: Record<string, string>;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

export interface Cluster {
  /** All namespaces matching a label selector, following `continue` pages. */
  listNamespaces(labelSelector: string, signal?: AbortSignal): Promise<NamespaceInfo[]>;
  /**
   * One namespace by name (undefined: it does not exist): for credentials that may not list
   * namespaces cluster-wide. Optional: without it, only the list is used.
   */
  readNamespace?(name: string, signal?: AbortSignal): Promise<NamespaceInfo | undefined>;
  /**
   * Deployments and StatefulSets of a release (by Helm's `meta.helm.sh/release-name` annotation)
   * and their pods. `expectedImages`, when given, must all be running for the release to be healthy.
   */
  releaseHealth(namespace: string, release: string, opts?: { expectedImages?: string[]; signal?: AbortSignal }): Promise<ReleaseHealth>;
  /**
   * The health of many releases at once, from three cluster-wide paginated lists (Deployments,
   * StatefulSets, pods), so a soak's periodic re-check costs API calls per page, not per tenant.
   * Keyed `namespace/release`.
   */
  fleetHealth(
    releases: readonly { namespace: string; release: string }[],
    opts?: { signal?: AbortSignal },
  ): Promise<Map<string, ReleaseHealth>>;
  readService(namespace: string, name: string): Promise<ServiceInfo | undefined>;
  /**
   * Sets `.spec.selector` to exactly `selector` with a strategic-merge patch (`$patch: replace`;
   * never client-node's default JSON-patch type). The field manager (default `deploy-actions`) then
   * owns the selector: a later Helm 4 (server-side apply) upgrade that sets it conflicts.
   * `annotations` are merged in the same patch (`null` removes one), so a switch and what it
   * records about itself are written together or not at all.
   */
  patchServiceSelector(
    namespace: string,
    name: string,
    selector: Record<string, string>,
    fieldManager?: string,
    annotations?: Record<string, string | null>,
  ): Promise<ServiceInfo>;
  /** Recent log lines of a pod (all containers; with several, each line is prefixed `[container] `), for the log-based analysis. */
  podLogs(namespace: string, pod: string, sinceSeconds: number): Promise<string>;
}
