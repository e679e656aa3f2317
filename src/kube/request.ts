/**
 * Per-request plumbing shared by the small client-node adapters of this folder (fleet documents,
 * release history): counts requests, sets the content type, wires cancellation and a timeout, and
 * maps whatever client-node threw to one KubeApiError line.
 */
import {
  Observable,
  type ConfigurationOptions,
  type KubeConfig,
  type ObservableMiddleware,
  type RequestContext,
} from '@kubernetes/client-node';
import { toKubeError } from './errors.ts';

export interface RequestStats {
  /** HTTP requests sent (pages included). */
  requests: number;
}

export interface Requester {
  readonly server: string;
  readonly stats: RequestStats;
  /** client-node call options for one request. */
  options(o?: { signal?: AbortSignal; contentType?: string }): ConfigurationOptions<ObservableMiddleware>;
  /** Runs one call; errors become KubeApiError (an abort stays the abort reason). */
  call<T>(fn: () => Promise<T>, signal?: AbortSignal): Promise<T>;
}

export function requester(kc: KubeConfig, timeoutMs = 30_000): Requester {
  const server = kc.getCurrentCluster()?.server ?? '(no server)';
  const user = kc.getCurrentUser();
  const secrets = [user?.token, user?.password].filter((s): s is string => !!s);
  const stats: RequestStats = { requests: 0 };
  return {
    server,
    stats,
    options(o = {}) {
      const mw: ObservableMiddleware = {
        pre(ctx: RequestContext) {
          stats.requests++;
          if (o.contentType) ctx.setHeaderParam('Content-Type', o.contentType);
          const timeout = AbortSignal.timeout(timeoutMs);
          ctx.setSignal(o.signal ? AbortSignal.any([o.signal, timeout]) : timeout);
          return new Observable(Promise.resolve(ctx));
        },
        post: (rsp) => new Observable(Promise.resolve(rsp)),
      };
      return { middleware: [mw], middlewareMergeStrategy: 'append' };
    },
    async call(fn, signal) {
      try {
        return await fn();
      } catch (e) {
        if (signal?.aborted) throw signal.reason instanceof Error ? signal.reason : e;
        throw toKubeError(e, server, secrets);
      }
    },
  };
}
