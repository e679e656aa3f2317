import type { Clock } from '../core/clock.ts';

/**
 * Adaptive parallelism (issue 10): the effective `max-parallel` of each cluster follows what its
 * API server says, AIMD as TCP does it. Sustained throttling (429s and 5xx the adapter retried,
 * helm's transient failures, or request latency well above what the server showed when calm)
 * halves the cluster's limit; a calm period raises it by one, up to the configured ceiling. The
 * floor is 1: a throttled server still gets one upgrade at a time, so a rollout never stalls.
 *
 * Per cluster, because each API server throttles on its own (API Priority and Fairness is
 * per server): a struggling cluster slows down without slowing the others.
 */

export interface AdaptivePolicy {
  /** Throttle signals within `windowMs` that make throttling "sustained" (one stray 429 is not). */
  signals: number;
  windowMs: number;
  /**
   * No second decrease within this of the last one: the signals in flight were caused by the old
   * level, and halving on each of them would drop to 1 on one burst.
   */
  cooldownMs: number;
  /** This long with no throttle signal (and latency back to normal): the limit rises by one. */
  calmMs: number;
  /** Latency counts as a throttle signal above `latencyFactor` x the calm baseline and `latencyMinExtraMs` over it. */
  latencyFactor: number;
  latencyMinExtraMs: number;
  /** Samples before a latency baseline exists (the first requests set it). */
  latencySamples: number;
}

/**
 * Three signals in 10 s (about what one upgrade's retries of a single 429 cannot reach alone),
 * one decrease per 10 s, +1 per 30 s of calm: a server that throttles for a minute takes the
 * limit from 20 to 2-3; recovering to 20 takes ~9 minutes of calm, slow on purpose (a fast rise
 * oscillates straight back into throttling). Latency: 3x the calm level and at least 250 ms more.
 */
export const DEFAULT_ADAPTIVE: AdaptivePolicy = {
  signals: 3,
  windowMs: 10_000,
  cooldownMs: 10_000,
  calmMs: 30_000,
  latencyFactor: 3,
  latencyMinExtraMs: 250,
  latencySamples: 10,
};

/** What an API server said about its load: a throttled request (429, 5xx, a timeout) or one request's latency. */
export type PressureSignal = { kind: 'throttled'; reason: string } | { kind: 'latency'; ms: number };

/** Where pressure signals come from, per cluster ('' = the run's own cluster); returns an unsubscribe. */
export interface PressurePort {
  subscribe(fn: (cluster: string, signal: PressureSignal) => void): () => void;
}

/** The figures for the report: per cluster, and over all of them. */
export interface ParallelismFigures {
  /** The configured limit (max-parallel, or max-parallel-per-cluster when lower). */
  ceiling: number;
  min: number;
  max: number;
  /** The limit when the run ended. */
  final: number;
  decreases: number;
  increases: number;
  /** Throttled requests seen (429/5xx/timeouts the adapter retried, helm's transient failures). */
  throttled: number;
  /** Responses far slower than the calm baseline (each a throttle signal too). */
  slow: number;
  /** Multi-cluster fleets: the same figures for each cluster that had any signal. */
  byCluster?: Record<string, Omit<ParallelismFigures, 'byCluster'>>;
}

interface State {
  limit: number;
  min: number;
  max: number;
  decreases: number;
  increases: number;
  throttled: number;
  slow: number;
  /** Times of recent throttle signals (within windowMs). */
  recent: number[];
  lastDecrease: number;
  /** Last throttle signal or change, whichever is later: calm is measured from it. */
  lastEvent: number;
  latencyEwma?: number;
  baseline?: number;
  samples: number;
}

export class AdaptiveParallelism {
  private readonly states = new Map<string, State>();

  constructor(
    private readonly ceiling: number,
    private readonly clock: Clock,
    private readonly policy: AdaptivePolicy = DEFAULT_ADAPTIVE,
    private readonly onChange?: (cluster: string, from: number, to: number, why: string) => void,
  ) {}

  private state(cluster: string): State {
    let s = this.states.get(cluster);
    if (!s) {
      const now = this.clock.now();
      s = {
        limit: this.ceiling,
        min: this.ceiling,
        max: this.ceiling,
        decreases: 0,
        increases: 0,
        throttled: 0,
        slow: 0,
        recent: [],
        lastDecrease: -Infinity,
        lastEvent: now,
        samples: 0,
      };
      this.states.set(cluster, s);
    }
    return s;
  }

  /** The upgrades allowed at once in `cluster` now (rises by one after each calm period). */
  limit(cluster: string): number {
    const s = this.states.get(cluster);
    if (!s) return this.ceiling;
    const now = this.clock.now();
    if (s.limit < this.ceiling && now - s.lastEvent >= this.policy.calmMs && !this.slow(s)) {
      const from = s.limit;
      s.limit++;
      s.increases++;
      s.max = Math.max(s.max, s.limit);
      s.lastEvent = now;
      this.onChange?.(cluster, from, s.limit, `no throttling for ${Math.round(this.policy.calmMs / 1000)} s`);
    }
    return s.limit;
  }

  /** The server throttled (or failed transiently): `reason` is what it said (`429`, `503`, `helm`...). */
  throttled(cluster: string, reason: string): void {
    this.state(cluster).throttled++;
    this.signal(cluster, reason);
  }

  private signal(cluster: string, reason: string): void {
    const s = this.state(cluster);
    const now = this.clock.now();
    s.lastEvent = now;
    s.recent.push(now);
    while (s.recent.length && s.recent[0]! <= now - this.policy.windowMs) s.recent.shift();
    if (s.recent.length < this.policy.signals || now - s.lastDecrease < this.policy.cooldownMs || s.limit <= 1) return;
    const from = s.limit;
    s.limit = Math.max(1, Math.floor(s.limit / 2));
    s.min = Math.min(s.min, s.limit);
    s.decreases++;
    s.lastDecrease = now;
    s.recent = [];
    this.onChange?.(
      cluster,
      from,
      s.limit,
      `${this.policy.signals}+ throttled responses in ${Math.round(this.policy.windowMs / 1000)} s (last: ${reason})`,
    );
  }

  /** One API request's latency: far above the calm baseline, it is a throttle signal. */
  latency(cluster: string, ms: number): void {
    const s = this.state(cluster);
    s.samples++;
    s.latencyEwma = s.latencyEwma === undefined ? ms : s.latencyEwma * 0.8 + ms * 0.2;
    if (s.samples < this.policy.latencySamples) return;
    // The baseline is the calmest the server has been: it only falls.
    s.baseline = Math.min(s.baseline ?? s.latencyEwma, s.latencyEwma);
    if (!this.slow(s)) return;
    s.slow++;
    this.signal(cluster, `latency ${Math.round(s.latencyEwma)} ms, calm ${Math.round(s.baseline)} ms`);
  }

  private slow(s: State): boolean {
    if (s.baseline === undefined || s.latencyEwma === undefined) return false;
    return s.latencyEwma > s.baseline * this.policy.latencyFactor && s.latencyEwma - s.baseline > this.policy.latencyMinExtraMs;
  }

  figures(): ParallelismFigures {
    const one = (s: State) => ({
      ceiling: this.ceiling,
      min: s.min,
      max: s.max,
      final: s.limit,
      decreases: s.decreases,
      increases: s.increases,
      throttled: s.throttled,
      slow: s.slow,
    });
    const all = [...this.states.values()];
    const f: ParallelismFigures = {
      ceiling: this.ceiling,
      min: Math.min(this.ceiling, ...all.map((s) => s.min)),
      max: Math.max(...all.map((s) => s.max), all.length ? 0 : this.ceiling),
      final: all.length ? Math.min(...all.map((s) => s.limit)) : this.ceiling,
      decreases: all.reduce((n, s) => n + s.decreases, 0),
      increases: all.reduce((n, s) => n + s.increases, 0),
      throttled: all.reduce((n, s) => n + s.throttled, 0),
      slow: all.reduce((n, s) => n + s.slow, 0),
    };
    if (this.states.size > 1 || (this.states.size === 1 && !this.states.has('')))
      f.byCluster = Object.fromEntries([...this.states].map(([c, s]) => [c || '(default)', one(s)]));
    return f;
  }
}
