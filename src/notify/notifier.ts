import type { Clock } from '../core/clock.ts';
import type { Logger } from '../core/logger.ts';
import type { Http } from '../core/http.ts';
import { networkErrorMessage } from '../core/http.ts';
import type { Notice } from './payloads.ts';
import { wireMessage } from './payloads.ts';
import type { NotifyEventKind, NotifyTarget } from './targets.ts';

/**
 * Sends notices to the webhooks, off the rollout's critical path: `send` queues and returns at
 * once; each delivery has a deadline per attempt and a bounded number of attempts with backoff
 * (a 429's retry-after is honoured up to the backoff cap); `flush` waits for what is queued at
 * most a deadline. A failure warns, naming the target by label, never by URL, and never changes
 * the rollout's outcome.
 */

export interface NotifierOptions {
  targets: readonly NotifyTarget[];
  events: readonly NotifyEventKind[];
  signingKey?: string;
  attempts?: number;
  timeoutMs?: number;
  backoffMs?: number;
  maxBackoffMs?: number;
}

export interface Delivery {
  target: string;
  event: NotifyEventKind;
  ok: boolean;
  attempts: number;
  error?: string;
}

export class Notifier {
  readonly deliveries: Delivery[] = [];
  private readonly pending = new Set<Promise<void>>();
  private readonly o: Required<Omit<NotifierOptions, 'signingKey'>> & { signingKey?: string };

  constructor(
    opts: NotifierOptions,
    private readonly ports: { http: Http; clock: Clock; logger: Logger },
  ) {
    this.o = { attempts: 3, timeoutMs: 10_000, backoffMs: 1000, maxBackoffMs: 10_000, ...opts };
  }

  wants(event: NotifyEventKind): boolean {
    return this.o.targets.length > 0 && this.o.events.includes(event);
  }

  /** Queues `notice` for every target (when its event is wanted). Never throws, never waits. */
  send(notice: Notice): void {
    if (!this.wants(notice.event)) return;
    for (const t of this.o.targets) {
      const p = this.deliver(t, notice).catch(() => {});
      this.pending.add(p);
      void p.finally(() => this.pending.delete(p));
    }
  }

  private async deliver(t: NotifyTarget, n: Notice): Promise<void> {
    const msg = wireMessage(t.format, n, { signingKey: this.o.signingKey, nowMs: this.ports.clock.now() });
    let error = '';
    let i = 0;
    for (; i < this.o.attempts; i++) {
      let wait = Math.min(this.o.backoffMs * 2 ** i, this.o.maxBackoffMs);
      try {
        const r = await this.ports.http.request({
          url: t.url,
          method: 'POST',
          headers: msg.headers,
          body: msg.body,
          redirect: 'manual',
          signal: AbortSignal.timeout(this.o.timeoutMs),
        });
        if (r.status >= 200 && r.status < 300) {
          this.deliveries.push({ target: t.label, event: n.event, ok: true, attempts: i + 1 });
          return;
        }
        // The receiver's body may echo the URL or a token: only the status is kept.
        error = `HTTP ${r.status}`;
        const retryable = r.status === 408 || r.status === 429 || r.status >= 500;
        if (!retryable) break;
        const after = Number(r.headers['retry-after']);
        if (Number.isFinite(after) && after >= 0) wait = Math.min(after * 1000, this.o.maxBackoffMs);
      } catch (err) {
        error =
          (err as Error)?.name === 'TimeoutError' ? `no answer within ${Math.round(this.o.timeoutMs / 1000)}s` : networkErrorMessage(err);
      }
      if (i < this.o.attempts - 1) await this.ports.clock.sleep(wait);
    }
    const attempts = Math.min(i + 1, this.o.attempts);
    this.deliveries.push({ target: t.label, event: n.event, ok: false, attempts, error });
    this.ports.logger.warning(
      `notification "${n.event}" to ${t.label} failed after ${attempts} attempts (${error}); the rollout is not affected`,
    );
  }

  /** Waits for queued deliveries, at most `deadlineMs`. */
  async flush(deadlineMs: number): Promise<void> {
    if (!this.pending.size) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([Promise.allSettled([...this.pending]), new Promise<void>((r) => (timer = setTimeout(r, deadlineMs)))]);
    clearTimeout(timer);
    if (this.pending.size)
      this.ports.logger.warning(
        `${this.pending.size} notifications still being sent after ${Math.round(deadlineMs / 1000)}s: abandoned; the rollout is not affected`,
      );
  }
}
