import type { Clock } from '../core/clock.ts';
import { errorMessage } from '../core/errors.ts';
import type { Logger } from '../core/logger.ts';
import { HelmError } from './helm.ts';

/** A helm failure worth retrying: the API or the network, not the release (see HelmError.transient). */
export function isTransient(err: unknown): boolean {
  return err instanceof HelmError && err.transient;
}

export interface RetryPolicy {
  /** Attempts in all, the first included. */
  attempts: number;
  /** First pause; each later one doubles, with up to 50% jitter added. */
  baseDelayMs: number;
  /** Ceiling of one pause before jitter (default: none). */
  maxDelayMs?: number;
  /**
   * Attempts of a rollback or an uninstall (default: twice `attempts`). A return to a good state
   * is what ends a failure, and one helm process makes dozens of API requests (its --wait polls
   * included), so at 1 request in 7 failing most single attempts fail: its budget must outlast that.
   */
  returnAttempts?: number;
}

/**
 * Bounded: 4 attempts over about 1 + 2 + 4 s (plus jitter), well inside a runner's patience; a
 * rollback 10, pauses capped at 4 s (about 30 s of pauses in all).
 */
export const HELM_RETRY: RetryPolicy = { attempts: 4, baseDelayMs: 1000, maxDelayMs: 4000, returnAttempts: 10 };

/** How many times a rollback or an uninstall is tried under `policy`. */
export const returnAttempts = (policy: RetryPolicy): number => policy.returnAttempts ?? policy.attempts * 2;

export interface RetryDeps {
  clock: Clock;
  logger: Logger;
  signal?: AbortSignal;
  policy?: RetryPolicy;
  /** Jitter source in [0, 1); tests pass a constant. */
  random?: () => number;
}

export function backoffMs(attempt: number, policy: RetryPolicy, random: () => number = Math.random): number {
  const base = Math.min(policy.baseDelayMs * 2 ** (attempt - 1), policy.maxDelayMs ?? Infinity);
  return Math.round(base + base * 0.5 * random());
}

/**
 * Runs a helm READ (history, status) again while it fails transiently. Reads change nothing, so
 * retrying them is always safe. The last error is thrown as it was.
 */
export async function retryRead<T>(what: string, fn: () => Promise<T>, deps: RetryDeps): Promise<T> {
  const policy = deps.policy ?? HELM_RETRY;
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (!isTransient(err) || attempt >= policy.attempts || deps.signal?.aborted) throw err;
      const wait = backoffMs(attempt, policy, deps.random);
      deps.logger.info(`${what} failed (${errorMessage(err)}); transient, retrying in ${wait} ms (${attempt}/${policy.attempts - 1})`);
      await deps.clock.sleep(wait, deps.signal);
    }
  }
}
