import type { Tenant } from '../tenants/model.ts';
import type { TenantResult } from './result.ts';

/**
 * What the executor tells observers while it works (deployment records, notifications). One port,
 * `onEvent`, called synchronously and never awaited: an observer that does I/O queues it and
 * must not slow or fail the rollout (the executor also swallows anything an observer throws).
 */
export type RolloutEvent =
  | {
      type: 'step-started';
      step: string;
      index: number;
      steps: number;
      tenants: readonly Tenant[];
      /** Every step of the run and its size, so an observer can budget before the first tenant. */
      plan: readonly { name: string; tenants: number }[];
    }
  | { type: 'tenant-started'; step: string; tenant: Tenant }
  /** A tenant's result, first when its step ends for it, again when it changes later (a soak rollback, a wave rollback). */
  | { type: 'tenant-finished'; step: string; tenant: Tenant; result: Readonly<TenantResult> }
  | {
      type: 'step-finished';
      step: string;
      index: number;
      steps: number;
      results: readonly Readonly<TenantResult>[];
      /** Set when the rollout stopped during (or right after) this step. */
      stoppedBecause?: string;
    };

export type RolloutEventListener = (e: RolloutEvent) => void;

/** Fans one event out to several listeners; a throwing listener never reaches the executor or the others. */
export function fanOut(...listeners: (RolloutEventListener | undefined)[]): RolloutEventListener {
  const ls = listeners.filter((l): l is RolloutEventListener => !!l);
  return (e) => {
    for (const l of ls) {
      try {
        l(e);
      } catch {
        // Observers are off the critical path by contract; a bug in one must not change the rollout.
      }
    }
  };
}
