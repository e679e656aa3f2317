/**
 * Per-request plumbing shared by every client-node adapter of this folder (the Cluster port,
 * fleet documents, release history): counts requests, sets the content type, wires cancellation
 * and a timeout, retries transient failures of reads and idempotent writes (retry.ts: the one
 * place that does), and maps whatever client-node threw to one KubeApiError line.
 */
import {
  Observable,
  type ConfigurationOptions,
  type KubeConfig,
  type ObservableMiddleware,
  type RequestContext,
} from '@kubernetes/client-node';
import { KubeApiError, toKubeError } from './errors.ts';
import { addRetryStats, newRetryStats, transientReason, withRetries, type RetryPolicy, type RetryStats } from './retry.ts';
import { THROTTLE_REASONS, reportApiPressure } from './pressure.ts';

export interface RequestStats {
  /** HTTP requests sent (pages and retries included). */
  requests: number;
  /** Transient failures retried (429, 5xx, resets, timeouts), for the report. */
  retry: RetryStats;
}

export interface RequesterOptions {
  /** Per-request timeout (default 30 s). */
  timeoutMs?: number;
  retry?: RetryPolicy;
  /** Injected in tests. */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  random?: () => number;
  /** Told about each retry (the reason, the retry number, the wait), e.g. to log it or adapt. */
  onRetry?: (reason: string, retry: number, waitMs: number) => void;
}

export interface Requester {
  readonly server: string;
  readonly stats: RequestStats;
  /** client-node call options for one request. */
  options(o?: { signal?: AbortSignal; contentType?: string }): ConfigurationOptions<ObservableMiddleware>;
  /**
   * Runs one call; errors become KubeApiError (an abort stays the abort reason). Transient
   * failures are retried with backoff unless `idempotent` is false (a POST whose lost answer
   * may hide a create that happened).
   */
  call<T>(fn: () => Promise<T>, signal?: AbortSignal, idempotent?: boolean): Promise<T>;
}

/**
 * Every requester's stats, in the order they were made: a run has several clients (each cluster's,
 * the release-history readers, the leases, the fleet documents), and its report counts them all.
 * Module state on purpose: the clients are made deep in adapters the report never sees.
 */
const made: RequestStats[] = [];

/** A point in time to count from (`requestStatsSince`): the start of one action's run. */
export const requestStatsMark = (): number => made.length;

/** The requests and retries of every client made since `mark`, added up. */
export function requestStatsSince(mark: number): RequestStats {
  const sum: RequestStats = { requests: 0, retry: newRetryStats() };
  for (const st of made.slice(mark)) {
    sum.requests += st.requests;
    addRetryStats(sum.retry, st.retry);
  }
  return sum;
}

export function requester(kc: KubeConfig, opt: number | RequesterOptions = {}): Requester {
  const ro: RequesterOptions = typeof opt === 'number' ? { timeoutMs: opt } : opt;
  const timeoutMs = ro.timeoutMs ?? 30_000;
  const server = kc.getCurrentCluster()?.server ?? '(no server)';
  const user = kc.getCurrentUser();
  const secrets = [user?.token, user?.password].filter((s): s is string => !!s);
  const stats: RequestStats = { requests: 0, retry: newRetryStats() };
  made.push(stats);
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
    async call(fn, signal, idempotent = true) {
      try {
        return await withRetries(
          async () => {
            // Latency of answered requests only: what adaptive parallelism compares with the calm level.
            const t0 = performance.now();
            const r = await fn();
            reportApiPressure({ server, kind: 'latency', ms: performance.now() - t0 });
            return r;
          },
          {
            idempotent,
            signal,
            policy: ro.retry,
            stats: stats.retry,
            sleep: ro.sleep,
            random: ro.random,
            onRetry: (reason, retry, waitMs) => {
              if (THROTTLE_REASONS.has(reason)) reportApiPressure({ server, kind: 'throttled', reason });
              ro.onRetry?.(reason, retry, waitMs);
            },
          },
        );
      } catch (e) {
        if (signal?.aborted) throw signal.reason instanceof Error ? signal.reason : e;
        const err = toKubeError(e, server, secrets);
        if (err instanceof KubeApiError) err.transient = transientReason(e, !!signal?.aborted);
        throw err;
      }
    },
  };
}
