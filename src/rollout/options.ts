import type { MaintenanceWindow } from '../release/window.ts';
import type { UpgradeOptions } from '../helm/argv.ts';
import type { Selection } from '../tenants/select.ts';
import type { ClusterOrder, Phase, PilotSpec, WaveSpec } from './plan.ts';
import type { FailureBudget } from './plan-spec.ts';

/** Where the tenants come from: a tenants file, an inline list, or the namespaces a selector matches. */
export type TenantSource = { kind: 'file'; path: string } | { kind: 'list'; value: string } | { kind: 'namespaces'; selector: string };

/**
 * What a tenant rollout is asked to do, as the domain reads it: which tenants, in which waves, with
 * which helm settings, budget and window. How the action reaches clusters, reports and verifies
 * (`TenantRolloutInputs` in the action) stays out of it.
 */
export interface RolloutRequest {
  source: TenantSource;
  /**
   * The `clusters` input: with discovery, the kube contexts to discover tenants in (each tenant
   * tagged with its cluster; the first is the home cluster); with a tenants file, the clusters of
   * the file whose tenants run. Empty: the run's one cluster, or every cluster of the file.
   */
  clusters?: { name: string; context?: string }[];
  namespacePrefix: string;
  releaseTemplate: string;
  tenantValuesFiles: string[];
  include?: Selection;
  exclude?: Selection;
  pilot: PilotSpec;
  /** How a multi-cluster fleet's clusters share the waves (input `order`). */
  clusterOrder: ClusterOrder;
  batchSize: WaveSpec;
  phase: Phase;
  /** The plan approved earlier (a job output), JSON; empty = plan now. */
  approvedPlan: string;
  /** The approved plan as a file (an artifact): for fleets whose plan is too large for an input or env var. */
  approvedPlanFile?: string;
  /** Sharded: this job runs the slices it claims of `count` (1: not sharded); coordination in `namespace` of the home cluster. */
  shards?: { count: number; index: number; namespace: string };
  /** The version being released: with it, the plan classifies the promotion (patch/minor/major). */
  releaseVersion: string;
  /** The maintenance window the gated phase must start in (absent: any time). */
  window?: MaintenanceWindow;
  /** Free text shown with the window (a change ticket). */
  changeTicket: string;
  /** Outside the window when the gated phase starts: fail (with the next window's time) or wait for it. */
  outsideWindow: 'fail' | 'wait';
  windowWaitMaxMs: number;
  /** Shared helm settings; per-tenant values are added by the rollout. */
  helm: Omit<UpgradeOptions, 'release' | 'namespace' | 'description'>;
  secretValues: Record<string, unknown>;
  identityValues: boolean;
  maxParallel: number;
  /** Upgrades at once in any one cluster (0: only maxParallel). */
  maxParallelPerCluster: number;
  /** Lower the effective max-parallel of a throttled cluster, raise it when it recovers (default on). */
  adaptiveParallelism?: boolean;
  /** A previous run's report file: each wave starts its longest tenants first (not part of the plan). */
  previousReport?: string;
  maxFailures: FailureBudget;
  /** Multi-cluster fleets, optional: each cluster's own budget (a percentage of its tenants in the run); the global one still applies. */
  maxFailuresPerCluster?: FailureBudget;
  soakMs: number;
  soakIntervalMs: number;
  rollbackWaveOnFailure: boolean;
  recoverPending: boolean;
  /** A pending-* revision with no release lease is recovered by itself once older than this (input pending-stale-after). */
  pendingStaleAfterMs: number;
}
