import type { ClusterTarget } from '../../core/cluster-target.ts';
import { createCluster } from '../../kube/client.ts';
import type { Cluster } from '../../kube/ports.ts';

/** How an action gets its Cluster port; tests inject a factory over the fake API server. */
export type ClusterFactory = (target: ClusterTarget) => Promise<Cluster> | Cluster;

/** The client-node adapter. */
export async function defaultCluster(target: ClusterTarget): Promise<Cluster> {
  return createCluster(target);
}
