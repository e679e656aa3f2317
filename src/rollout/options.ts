import type { Metric } from '../analysis/metrics.ts';
import type { LatencyTrigger } from '../analysis/latency.ts';
import type { MaintenanceWindow } from '../release/window.ts';
import type { UpgradeOptions } from '../helm/argv.ts';
import type { Selection } from '../tenants/select.ts';
import type { HttpCheck } from '../verify/checks.ts';
import type { ClusterOrder, Phase, PilotSpec, WaveSpec } from './plan.ts';
import type { FailureBudget } from './plan-spec.ts';

/** Everything a tenant rollout is asked to do, as plain data (the action and the CLI parse inputs into it). */
export type TenantSource = { kind: 'file'; path: string } | { kind: 'list'; value: string } | { kind: 'namespaces'; selector: string };

/** What a tenant-rollout run does: deploy (phases plan/pilot/waves/all), or one of the fleet operations. */
export type Operation = 'rollout' | 'status' | 'rollback' | 'pause' | 'resume';
export const OPERATIONS: readonly Operation[] = ['status', 'rollback', 'pause', 'resume'];

export interface TenantRolloutInputs {
  operation: Operation;
  /** The fleet object in the cluster (pause, lock): ConfigMap deploy-actions-fleet-<name> in `namespace`. */
  fleet: { name: string; namespace: string };
  /** pause: why (recorded with who). */
  reason: string;
  /** rollback: the report of the run to undo (a path); empty = the selected tenants' previous deployed revision. */
  rollbackReport: string;
  source: TenantSource;
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
  /** The maintenance window as given (text); `window` is it parsed. */
  maintenanceWindow: string;
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
  verifyWorkloads: boolean;
  reportFile: string;
  /** Per-tenant base URL template for the smoke checks after each upgrade (empty: none). */
  smokeUrl: string;
  smokeChecks: HttpCheck[];
  /** Metrics analysed during each soak (empty: health re-checks only). */
  analysis: Metric[];
  /** The built-in latency trigger (latency-metric given): p95 > 2x its own before and > the fleet's. */
  latency?: LatencyTrigger;
  prometheusUrl: string;
  prometheusToken: string;
  /** How to reach the cluster: kubeconfig content (empty: the ambient one) and a context of it. */
  kubeconfig: string;
  kubeContext?: string;
  helmBinary: string;
}
