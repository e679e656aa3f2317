import type { TenantStatus } from './outcome.ts';

/** What happened to one tenant in a rollout: the executor's answer, the report's row. */
export interface TenantResult {
  id: string;
  namespace: string;
  release: string;
  /** The tenant's cluster, in a multi-cluster fleet. */
  cluster?: string;
  step: string;
  status: TenantStatus;
  revisionBefore?: number;
  revisionAfter?: number;
  durationMs: number;
  /** The check that failed and its measured value, or helm's error. */
  error?: string;
  /** With status `unknown`: the exact command that shows what helm recorded. */
  lookCommand?: string;
  /** helm upgrades run, when more than one: transient failures retried (before helm wrote a revision, or after one was rolled back). */
  attempts?: number;
}
