/**
 * Which cluster a command talks to, in one place: a kubeconfig file and a context of it. Built
 * once per cluster (by the action from its inputs, or from the tenants file's `clusters:`
 * section) and handed to the helm adapter and to the Kubernetes client, which bind it to every
 * call they make. Nothing below the action layer passes a kube context per call.
 */
export interface ClusterTarget {
  /** The fleet's name for the cluster (`default` when the run has a single, unnamed one). */
  readonly name: string;
  /** A kubeconfig file; undefined: the ambient one ($KUBECONFIG, ~/.kube/config, in-cluster). */
  readonly kubeconfigPath?: string;
  /** A context of that kubeconfig; undefined: its current-context. */
  readonly context?: string;
}

export const DEFAULT_CLUSTER = 'default';

export function clusterTarget(o: { name?: string; kubeconfigPath?: string; context?: string }): ClusterTarget {
  return {
    name: o.name || o.context || DEFAULT_CLUSTER,
    ...(o.kubeconfigPath ? { kubeconfigPath: o.kubeconfigPath } : {}),
    ...(o.context ? { context: o.context } : {}),
  };
}

/** The target as state the post step can read back (plain JSON, no secret: a path and a name). */
export function targetFromState(raw: unknown): ClusterTarget {
  const o = (raw ?? {}) as { name?: unknown; kubeconfigPath?: unknown; context?: unknown };
  const str = (v: unknown) => (typeof v === 'string' && v ? v : undefined);
  return clusterTarget({ name: str(o.name), kubeconfigPath: str(o.kubeconfigPath), context: str(o.context) });
}
