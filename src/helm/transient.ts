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
}

/** Bounded: 4 attempts over about 1 + 2 + 4 s (plus jitter), well inside a runner's patience. */
export const HELM_RETRY: RetryPolicy = { attempts: 4, baseDelayMs: 1000 };

export interface RetryDeps {
  clock: Clock;
  logger: Logger;
  signal?: AbortSignal;
  policy?: RetryPolicy;
  /** Jitter source in [0, 1); tests pass a constant. */
  random?: () => number;
}

export function backoffMs(attempt: number, policy: RetryPolicy, random: () => number = Math.random): number {
  const base = policy.baseDelayMs * 2 ** (attempt - 1);
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
