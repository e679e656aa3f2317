import { mapLimit } from '../core/pool.ts';
import { isForbidden } from './errors.ts';
import type { Cluster, NamespaceInfo } from './ports.ts';

export interface NamespacesByName {
  /** The namespaces that exist, by name. */
  found: Map<string, NamespaceInfo>;
  /** Names the credentials may not read (403 on the list and on the namespace itself). */
  forbidden: string[];
}

/**
 * Namespaces by name, for what their annotations say about tenants that were not discovered from
 * namespaces (a tenants file, an inline list): one paginated list of every namespace, a few
 * requests for the whole fleet. Credentials that may not list namespaces cluster-wide (403) get
 * one GET per namespace instead, a few at a time. Any other failure (the cluster did not answer,
 * after the client's retries) is thrown: no verdict on a hold.
 */
export async function namespacesByName(
  cluster: Pick<Cluster, 'listNamespaces' | 'readNamespace'>,
  names: readonly string[],
  signal?: AbortSignal,
): Promise<NamespacesByName> {
  const want = new Set(names);
  const found = new Map<string, NamespaceInfo>();
  if (!want.size) return { found, forbidden: [] };
  try {
    for (const ns of await cluster.listNamespaces('', signal)) if (want.has(ns.name)) found.set(ns.name, ns);
    return { found, forbidden: [] };
  } catch (err) {
    if (!isForbidden(err)) throw err;
  }
  const read = cluster.readNamespace?.bind(cluster);
  if (!read) return { found, forbidden: [...want] };
  const forbidden: string[] = [];
  await mapLimit([...want], 8, async (name) => {
    try {
      const ns = await read(name, signal);
      if (ns) found.set(name, ns);
    } catch (err) {
      if (!isForbidden(err)) throw err;
      forbidden.push(name);
    }
  });
  return { found, forbidden: forbidden.sort() };
}
