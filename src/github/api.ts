import { getOctokit } from '@actions/github';
import type { Clock } from '../core/clock.ts';
import { errorMessage } from '../core/errors.ts';
import type { Logger } from '../core/logger.ts';

/**
 * The GitHub REST client of a rollout: the real Octokit (through @actions/github), with what a
 * deploy tool needs around it, installed as an Octokit `request` hook so pagination goes through
 * it too:
 *
 * - a deadline per attempt and a bounded number of retries with backoff, for 5xx, network errors
 *   and secondary rate limits (403/429 with `retry-after`, waited only up to `maxWaitMs`);
 * - the primary budget from the `x-ratelimit-*` headers of every answer, of which the run spends
 *   at most `share` (`allowance()`), so a large fleet's per-tenant records cannot starve the rest
 *   of the repository's automation;
 * - a circuit breaker: after `breakAfter` calls in a row failed even with retries, every later call
 *   fails at once, so an API that is down costs a few seconds, not one timeout per record.
 */

export type Octokit = ReturnType<typeof getOctokit>;

export interface GitHubApiOptions {
  token: string;
  /** REST base URL (GITHUB_API_URL on a runner). */
  baseUrl: string;
  clock: Clock;
  logger: Logger;
  /** Share of the remaining primary budget this run may spend (0..1). */
  share?: number;
  /** Deadline of one attempt. */
  timeoutMs?: number;
  /** Attempts per call, the first included. */
  attempts?: number;
  /** Base of the exponential backoff between attempts. */
  backoffMs?: number;
  /** Longest `retry-after` honoured for a secondary rate limit; a longer one gives up. */
  maxWaitMs?: number;
  /** Consecutive failed calls after which the API is treated as down for the rest of the run. */
  breakAfter?: number;
  signal?: AbortSignal;
}

export interface RateBudget {
  limit: number;
  remaining: number;
  /** Epoch seconds at which the window resets. */
  reset: number;
}

/** A failed call: the HTTP status (0 for no answer) and GitHub's message, never the token. */
export class GitHubApiError extends Error {
  override readonly name = 'GitHubApiError';
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
  }
}

type Headers = Record<string, string | number | undefined>;

const header = (h: Headers | undefined, name: string): string | undefined => {
  const v = h?.[name];
  return v === undefined ? undefined : String(v);
};

export class GitHubApi {
  readonly octokit: Octokit;
  private readonly o: Required<Omit<GitHubApiOptions, 'signal' | 'token' | 'baseUrl'>> & { signal?: AbortSignal };
  /** Last budget GitHub reported. */
  budget?: RateBudget;
  /** What this run may spend, fixed from the first budget seen: share x remaining. */
  private allowed?: number;
  /** Requests sent (each attempt counts: GitHub counts them). */
  spent = 0;
  private failuresInARow = 0;
  down = false;

  constructor(opts: GitHubApiOptions) {
    this.o = {
      share: 0.5,
      timeoutMs: 10_000,
      attempts: 3,
      backoffMs: 500,
      maxWaitMs: 30_000,
      breakAfter: 3,
      ...opts,
    };
    // Octokit's own logging (deprecation notices) goes to the run's logger, as debug lines.
    const log = { debug: () => {}, info: () => {}, warn: (m: string) => opts.logger.debug(m), error: (m: string) => opts.logger.debug(m) };
    this.octokit = getOctokit(opts.token, { baseUrl: opts.baseUrl, log, userAgent: 'deploy-actions' });
    this.octokit.hook.wrap('request', async (request, options) =>
      this.send(async () => request(options), `${options.method} ${options.url}`, options),
    );
  }

  /** Requests this run may still send within its share of the budget (Infinity before GitHub said). */
  allowance(): number {
    if (this.allowed === undefined || !this.budget) return Infinity;
    return Math.max(0, Math.min(this.allowed - this.spent, this.budget.remaining));
  }

  /**
   * Reads the budget without spending it (`GET /rate_limit` does not count against the limit)
   * and fixes this run's allowance from it.
   */
  async readBudget(): Promise<RateBudget | undefined> {
    try {
      const r = await this.octokit.request('GET /rate_limit');
      const core = (r.data as { resources?: { core?: RateBudget } }).resources?.core;
      if (core) this.observe({ limit: core.limit, remaining: core.remaining, reset: core.reset });
      this.spent = Math.max(0, this.spent - 1); // it was free
    } catch (err) {
      this.o.logger.debug(`GitHub rate limit not readable: ${errorMessage(err)}`);
    }
    return this.budget;
  }

  private observe(b: RateBudget): void {
    this.budget = b;
    this.allowed ??= Math.floor(b.remaining * this.o.share);
  }

  private observeHeaders(h: Headers | undefined): void {
    const remaining = header(h, 'x-ratelimit-remaining');
    if (remaining === undefined) return;
    this.observe({
      limit: Number(header(h, 'x-ratelimit-limit') ?? 0),
      remaining: Number(remaining),
      reset: Number(header(h, 'x-ratelimit-reset') ?? 0),
    });
  }

  private async send<T extends { headers: Headers }>(
    attempt: () => Promise<T>,
    what: string,
    options: { request?: { signal?: AbortSignal } },
  ): Promise<T> {
    if (this.down) throw new GitHubApiError(`${what}: skipped, the GitHub API failed ${this.o.breakAfter} calls in a row`, 0);
    let last: GitHubApiError | undefined;
    for (let i = 0; i < this.o.attempts; i++) {
      if (this.o.signal?.aborted) break;
      const deadline = AbortSignal.timeout(this.o.timeoutMs);
      options.request = { ...options.request, signal: this.o.signal ? AbortSignal.any([deadline, this.o.signal]) : deadline };
      this.spent++;
      let wait = this.o.backoffMs * 2 ** i;
      try {
        const r = await attempt();
        this.observeHeaders(r.headers);
        this.failuresInARow = 0;
        return r;
      } catch (err) {
        const e = err as { status?: number; response?: { headers?: Headers; data?: unknown } };
        const h = e.response?.headers;
        this.observeHeaders(h);
        const status = e.response ? (e.status ?? 0) : 0;
        const message = (e.response?.data as { message?: string } | undefined)?.message ?? errorMessage(err);
        last = new GitHubApiError(`${what}: ${status ? `HTTP ${status}: ` : ''}${message}`, status);
        const retryAfter = Number(header(h, 'retry-after'));
        const primaryExhausted = header(h, 'x-ratelimit-remaining') === '0';
        const secondary =
          (status === 403 || status === 429) && !primaryExhausted && (Number.isFinite(retryAfter) || /secondary rate limit/i.test(message));
        const transient = status === 0 || status >= 500 || secondary;
        if (!transient) {
          // A definite answer (404, 422, 401...) is not an outage.
          this.failuresInARow = 0;
          throw last;
        }
        if (secondary) {
          // GitHub asks for at least a minute when it gives no retry-after.
          wait = Number.isFinite(retryAfter) ? retryAfter * 1000 : 60_000;
          if (wait > this.o.maxWaitMs) break;
        }
        if (i < this.o.attempts - 1) await this.o.clock.sleep(wait, this.o.signal);
      }
    }
    if (++this.failuresInARow >= this.o.breakAfter && !this.down) {
      this.down = true;
      this.o.logger.warning(
        `the GitHub API failed ${this.failuresInARow} calls in a row (last: ${last?.message}); no further GitHub calls this run`,
      );
    }
    throw last ?? new GitHubApiError(`${what}: cancelled`, 0);
  }
}
