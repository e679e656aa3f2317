/**
 * A complete list in `limit`/`continue` pages. Later pages are served from the first page's
 * snapshot; once the server has compacted that revision (etcd does every 5 minutes, sooner on a
 * busy cluster) the next page answers 410 Gone `Expired`, and the only consistent way on is to
 * start the list again. Pages already read are dropped: mixing two snapshots would be the
 * inconsistent list the server refused to give.
 */
import { KubeApiError } from './errors.ts';

/** Restarts after an expired `continue` token before giving up (each restart reads the list anew). */
export const MAX_LIST_RESTARTS = 3;

export interface Page<T> {
  items: T[];
  metadata?: { _continue?: string };
}

/**
 * Follows `continue` until the list is complete. `call` runs one page request (with its retries)
 * and throws a KubeApiError; `server` names the API server in errors.
 */
export async function allPages<T>(
  page: (cont: string | undefined) => Promise<Page<T>>,
  call: (fn: () => Promise<Page<T>>) => Promise<Page<T>>,
  server: string,
): Promise<T[]> {
  for (let restart = 0; ; restart++) {
    const out: T[] = [];
    const seen = new Set<string>();
    let cont: string | undefined;
    try {
      do {
        const res = await call(() => page(cont));
        out.push(...res.items);
        cont = res.metadata?._continue || undefined;
        if (cont && seen.has(cont)) throw new KubeApiError(`the API server at ${server} returned the same continue token twice`);
        if (cont) seen.add(cont);
      } while (cont);
      return out;
    } catch (e) {
      const expired = e instanceof KubeApiError && e.code === 410 && cont !== undefined;
      if (!expired) throw e;
      if (restart >= MAX_LIST_RESTARTS)
        throw new KubeApiError(
          `the API server at ${server} expired the list's continue token ${restart + 1} times ` +
            `in a row (410 Expired): the list changes faster than it can be read; try again later`,
          410,
          'Expired',
        );
    }
  }
}
