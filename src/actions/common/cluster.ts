import { createCluster } from '../../kube/client.ts';
import type { Cluster } from '../../kube/ports.ts';

/** How an action gets its Cluster port; tests inject a factory over the fake API server. */
export type ClusterFactory = (o: { kubeconfigPath?: string; context?: string }) => Promise<Cluster> | Cluster;

/** The client-node adapter. */
export async function defaultCluster(o: { kubeconfigPath?: string; context?: string }): Promise<Cluster> {
  return createCluster(o);
}
