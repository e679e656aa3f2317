/**
 * Bounded retries for Kubernetes API calls (issue 10): every large cluster answers some requests
 * with 429 (API Priority and Fairness), a brief 500/502/503/504, a reset connection or a timeout.
 * None of those says anything about the object asked for, so a read (or an idempotent write) is
 * tried again, with exponential backoff and full jitter, honouring the server's Retry-After.
 * Anything else (403, 404, 409, 422, a refused connection, a bad kubeconfig) is a real answer
 * and is thrown at once. Cancel-aware: an aborted signal ends the wait and throws its reason.
 *
 * Hand-written on purpose: the retry libraries on npm neither read Retry-After from client-node's
 * ApiException nor tell a cancel from a per-request timeout, which is the whole point here.
 */
import { ApiException } from '@kubernetes/client-node';

export interface RetryPolicy {
  /** Tries in all, the first included (default 6: at 1 request in 7 failing, 6 in a row is 1 call in 100,000). */
  attempts: number;
  /** First backoff ceiling (default 250 ms); doubles each retry up to `maxDelayMs`. */
  baseDelayMs: number;
  maxDelayMs: number;
  /** A Retry-After above this is cut to it, so one answer cannot stall a run (default 30 s). */
  maxRetryAfterMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { attempts: 6, baseDelayMs: 250, maxDelayMs: 8_000, maxRetryAfterMs: 30_000 };

/** What was retried, for the report: counts per reason (`429`, `503`, `reset`, `timeout`...). */
export interface RetryStats {
  /** Calls retried at least once. */
  retried: number;
  /** Retries in all. */
  retries: number;
  /** Calls that still failed with a transient error after the last try. */
  exhausted: number;
  byReason: Record<string, number>;
}

export const newRetryStats = (): RetryStats => ({ retried: 0, retries: 0, exhausted: 0, byReason: {} });

/** Adds `from` into `into` (several clients of one run, the shards of one run). */
export function addRetryStats(into: RetryStats, from: RetryStats): RetryStats {
  into.retried += from.retried;
  into.retries += from.retries;
  into.exhausted += from.exhausted;
  for (const [k, v] of Object.entries(from.byReason)) into.byReason[k] = (into.byReason[k] ?? 0) + v;
  return into;
}

const RESET_CODES = new Set(['ECONNRESET', 'EPIPE', 'UND_ERR_SOCKET', 'ECONNABORTED', 'EAI_AGAIN', 'UND_ERR_CLOSED']);
const TIMEOUT_CODES = new Set([
  'ETIMEDOUT',
  'ESOCKETTIMEDOUT',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
]);

interface Causal {
  name?: string;
  message?: string;
  code?: unknown;
  type?: string;
  cause?: unknown;
  errors?: unknown[];
}

/** The chain of causes of an error (fetch wraps the socket error one or two levels down). */
function* causes(e: unknown): Generator<Causal> {
  let cur: unknown = e;
  for (let i = 0; i < 6 && cur && typeof cur === 'object'; i++) {
    const c = cur as Causal;
    yield c;
    cur = Array.isArray(c.errors) && c.errors.length ? c.errors[0] : c.cause;
  }
}

/**
 * Why `e` is transient (`429`, `500`, `502`, `503`, `504`, `reset`, `timeout`), or undefined when it
 * is a real answer. `cancelled`: the caller's signal, which is never retried.
 */
export function transientReason(e: unknown, cancelled = false): string | undefined {
  if (cancelled) return undefined;
  for (const c of causes(e)) {
    const code = (c as { code?: unknown }).code;
    if (c instanceof ApiException || (typeof code === 'number' && 'body' in (c as object))) {
      return [429, 500, 502, 503, 504].includes(code as number) ? String(code) : undefined;
    }
    if (typeof code === 'number' && [429, 500, 502, 503, 504].includes(code)) return String(code);
    if (typeof code === 'string' && RESET_CODES.has(code)) return 'reset';
    if (typeof code === 'string' && TIMEOUT_CODES.has(code)) return 'timeout';
    // The per-request deadline (AbortSignal.timeout) when the caller did not cancel.
    if (c.name === 'TimeoutError' || c.name === 'AbortError' || c.type === 'aborted') return 'timeout';
    if (/socket hang up|other side closed|ECONNRESET/i.test(c.message ?? '')) return 'reset';
  }
  return undefined;
}

/** The server's Retry-After in ms (seconds or an HTTP date; header or Status details), if any. */
export function retryAfterMs(e: unknown, now = Date.now()): number | undefined {
  for (const c of causes(e)) {
    const headers = (c as { headers?: Record<string, string> }).headers;
    const raw = headers ? (headers['retry-after'] ?? headers['Retry-After']) : undefined;
    if (raw !== undefined) {
      const s = Number(raw);
      if (Number.isFinite(s) && s >= 0) return s * 1000;
      const at = Date.parse(raw);
      if (!Number.isNaN(at)) return Math.max(0, at - now);
    }
    const body = (c as { body?: unknown }).body;
    let parsed: unknown = body;
    if (typeof body === 'string') {
      try {
        parsed = JSON.parse(body);
      } catch {
        parsed = undefined;
      }
    }
    const secs = (parsed as { details?: { retryAfterSeconds?: unknown } } | undefined)?.details?.retryAfterSeconds;
    if (typeof secs === 'number' && secs >= 0) return secs * 1000;
  }
  return undefined;
}

/** Full-jitter exponential backoff: a random wait in [0, min(max, base·2^retry)], at least the server's Retry-After. */
export function backoffMs(retry: number, policy: RetryPolicy, random: () => number, retryAfter?: number): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** retry);
  const jittered = Math.round(random() * ceiling);
  return retryAfter !== undefined ? Math.max(Math.min(retryAfter, policy.maxRetryAfterMs), jittered) : jittered;
}

export interface RetryOptions {
  /** Reads and idempotent writes only: anything else is tried once. */
  idempotent: boolean;
  signal?: AbortSignal;
  policy?: RetryPolicy;
  stats?: RetryStats;
  /** Injected in tests (default setTimeout / Math.random). */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  random?: () => number;
  /** Called before each wait: the reason, the retry number (1-based) and the wait. */
  onRetry?: (reason: string, retry: number, waitMs: number) => void;
}

function abortableSleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(t);
      reject(signal!.reason);
    };
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** Runs `fn`, retrying transient failures (bounded) when the call is idempotent. Throws the last error. */
export async function withRetries<T>(fn: (attempt: number) => Promise<T>, o: RetryOptions): Promise<T> {
  const policy = o.policy ?? DEFAULT_RETRY;
  const sleep = o.sleep ?? abortableSleep;
  const random = o.random ?? Math.random;
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn(attempt);
    } catch (e) {
      const reason = o.idempotent ? transientReason(e, !!o.signal?.aborted) : undefined;
      if (!reason) throw e;
      if (attempt >= policy.attempts) {
        if (o.stats) o.stats.exhausted++;
        throw e;
      }
      const wait = backoffMs(attempt - 1, policy, random, retryAfterMs(e));
      if (o.stats) {
        if (attempt === 1) o.stats.retried++;
        o.stats.retries++;
        o.stats.byReason[reason] = (o.stats.byReason[reason] ?? 0) + 1;
      }
      o.onRetry?.(reason, attempt, wait);
      await sleep(wait, o.signal);
    }
  }
}
