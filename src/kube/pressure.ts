/**
 * What the API servers say about their load, as the client-node adapters see it: each request's
 * latency and each throttled answer (429, 5xx, a timeout) the retries absorbed. Requesters are
 * built deep inside every adapter (cluster, release history, leases, documents), so they report
 * here, by server URL, and whoever adapts to load (tenant-rollout's adaptive parallelism)
 * subscribes for the length of a run.
 */
export type ApiPressure = { server: string; kind: 'throttled'; reason: string } | { server: string; kind: 'latency'; ms: number };

const listeners = new Set<(e: ApiPressure) => void>();

/** Told of every request's latency and every throttled answer until the returned function is called. */
export function onApiPressure(fn: (e: ApiPressure) => void): () => void {
  listeners.add(fn);
  return () => void listeners.delete(fn);
}

export function reportApiPressure(e: ApiPressure): void {
  for (const fn of listeners) fn(e);
}

/** Retry reasons that say the server is overloaded (a reset connection says nothing about load). */
export const THROTTLE_REASONS: ReadonlySet<string> = new Set(['429', '500', '502', '503', '504', 'timeout']);
