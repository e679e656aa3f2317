import { MAX_SHARDS } from '../../rollout/shards.ts';
import { inputError } from '../../core/errors.ts';
import { parseVersion } from '../../core/semver.ts';
import { CLUSTER_ORDERS, parsePhase } from '../../rollout/plan.ts';
import { parseBatchSize, parseMaxFailures, parsePilot } from '../../rollout/plan-spec.ts';
import { parseSelection } from '../../tenants/select.ts';
import { parseSelector } from '../../tenants/selector.ts';
import { TENANT_TEMPLATE } from '../../tenants/model.ts';
import { parseHelmSettings, secretValues } from '../common/helm-inputs.ts';
import { readMetrics, readPrometheus } from '../common/analysis-inputs.ts';
import type { Inputs } from '../common/inputs.ts';
import type { RolloutRequest, TenantSource } from '../../rollout/options.ts';
import { checkNamespace } from '../../core/names.ts';
import { isTenantId } from '../../tenants/model.ts';

import { defaultChecks, parseChecks } from '../../verify/checks.ts';
import { compileTemplate } from '../../core/template.ts';
import { parseWindow } from '../../release/window.ts';
import { parseObserverInputs } from './observers.ts';
import type { ObserverInputs } from './observers.ts';
import { DEFAULT_LATENCY } from '../../analysis/latency.ts';
import type { HttpCheck } from '../../verify/checks.ts';
import type { Metric } from '../../analysis/metrics.ts';
import type { LatencyTrigger } from '../../analysis/latency.ts';

export type { TenantSource } from '../../rollout/options.ts';

/** What a tenant-rollout run does: deploy (phases plan/pilot/waves/all), or one of the fleet operations. */
export type Operation = 'rollout' | 'status' | 'rollback' | 'pause' | 'resume';
export const OPERATIONS: readonly Operation[] = ['status', 'rollback', 'pause', 'resume'];

/**
 * The action's inputs: the domain's request, and the wiring the action keeps to itself (the
 * operation, how to reach the cluster, the report file, the verification after each upgrade).
 */
export interface TenantRolloutInputs extends RolloutRequest {
  operation: Operation;
  /** The fleet object in the cluster (pause, lock): ConfigMap deploy-actions-fleet-<name> in `namespace`. */
  fleet: { name: string; namespace: string };
  /** pause: why (recorded with who). */
  reason: string;
  /** rollback: the report of the run to undo (a path); empty = the selected tenants' previous deployed revision. */
  rollbackReport: string;
  /** The maintenance window as given (text); `window` is it parsed. */
  maintenanceWindow: string;
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

/** A rollout phase, or the error naming every phase and operation the input accepts. */
function parsePhaseOrOperation(v: string) {
  try {
    return parsePhase(v);
  } catch {
    throw inputError('phase', v, 'is not a phase', `use one of plan, pilot, waves, all, ${OPERATIONS.join(', ')}`);
  }
}

/** Checked here, before anything is deployed: later it is only a log line (and every tenant deploys). */
function releaseVersion(v: string): string {
  if (v && !parseVersion(v))
    throw inputError('release-version', v, 'is not a semantic version', 'give the version being released, e.g. v1.4.0 or 1.4.0-rc.1');
  return v;
}

/** Namespaces are `<prefix><id>`: the prefix must itself start a valid namespace name (no `../`). */
function namespacePrefix(v: string): string {
  if (v && !/^[a-z0-9][-a-z0-9]{0,39}$/.test(v))
    throw inputError('namespace-prefix', v, 'is not the start of a namespace name', 'use lower-case letters, digits and "-", e.g. tenant-');
  return v;
}

function verification(inputs: Inputs) {
  const smokeUrl = inputs.string('smoke-url');
  if (smokeUrl) {
    compileTemplate(smokeUrl, 'input "smoke-url"', TENANT_TEMPLATE);
    if (!/^https?:\/\//.test(smokeUrl))
      throw inputError('smoke-url', smokeUrl, 'is not an http(s) URL template', 'e.g. https://{{ tenant.slug }}.isp.example.com');
  }
  const checksText = inputs.string('smoke-checks');
  const analysis = readMetrics(inputs, 'analysis', { useDefault: false });
  const prometheus = readPrometheus(inputs, analysis);
  return {
    smokeUrl,
    smokeChecks: checksText ? parseChecks(checksText, { source: 'input "smoke-checks"' }) : defaultChecks(),
    analysis,
    latency: latencyTrigger(inputs, prometheus.prometheusUrl),
    ...prometheus,
  };
}

function latencyTrigger(inputs: Inputs, prometheusUrl: string) {
  const metric = inputs.string('latency-metric');
  const label = inputs.string('latency-label');
  for (const [name, v] of [
    ['latency-metric', metric],
    ['latency-label', label],
  ] as const)
    if (v && !/^[a-zA-Z_:][a-zA-Z0-9_:]*$/.test(v))
      throw inputError(
        name,
        v,
        'is not a Prometheus metric or label name',
        'e.g. http_request_duration_seconds (the histogram, without _bucket)',
      );
  if (!metric) return undefined;
  if (!prometheusUrl)
    throw inputError(
      'prometheus-url',
      '',
      'is required by latency-metric',
      'give the Prometheus base URL, e.g. http://prometheus.monitoring:9090',
    );
  return { ...DEFAULT_LATENCY, metric: metric.replace(/_bucket$/, ''), label };
}

function maintenance(inputs: Inputs) {
  const text = inputs.string('maintenance-window');
  const outsideWindow = inputs.oneOf('outside-window', ['fail', 'wait'] as const);
  const windowWaitMaxMs = inputs.duration('window-wait-max');
  const changeTicket = inputs.string('change-ticket');
  return { maintenanceWindow: text, window: text ? parseWindow(text) : undefined, changeTicket, outsideWindow, windowWaitMaxMs };
}

/**
 * `clusters`: names of the tenants file's clusters, or kube contexts to discover tenants in, as
 * `name=context` or a context whose name is a valid cluster name (an EKS ARN needs a name).
 */
function clusterList(v: string): { name: string; context?: string }[] {
  const out: { name: string; context?: string }[] = [];
  for (const item of v
    .split(/[\n,]/)
    .map((x) => x.trim())
    .filter(Boolean)) {
    const eq = item.indexOf('=');
    const name = eq < 0 ? item : item.slice(0, eq).trim();
    const context = eq < 0 ? undefined : item.slice(eq + 1).trim();
    if (!isTenantId(name))
      throw inputError(
        'clusters',
        item,
        eq < 0 ? 'is not a valid cluster name' : 'has an invalid cluster name before "="',
        'use lower-case letters, digits and "-", or name a context: eu-1=arn:aws:eks:eu-west-1:123456789012:cluster/prod',
      );
    if (eq >= 0 && !context) throw inputError('clusters', item, 'names no context after "="', 'e.g. eu-1=kind-eu-1');
    if (out.some((c) => c.name === name)) throw inputError('clusters', item, `names cluster "${name}" twice`, 'list each cluster once');
    out.push({ name, ...(context ? { context } : {}) });
  }
  return out;
}

/** The rollout's inputs, and (`observe`) its GitHub side: records, gate check, notifications. */
export function parseInputs(inputs: Inputs): TenantRolloutInputs & { observe: ObserverInputs; mergeReports: string } {
  inputs = inputs.withDefaults('tenant-rollout');
  const phaseText = inputs.string('phase');
  const operation = (OPERATIONS as readonly string[]).includes(phaseText) ? (phaseText as Operation) : 'rollout';
  const fleet = {
    name: checkNamespace('fleet', inputs.string('fleet')),
    namespace: checkNamespace('fleet-namespace', inputs.string('fleet-namespace')),
  };
  const file = inputs.string('tenants-file');
  const list = inputs.string('tenants');
  const selector = inputs.string('selector');
  if (file && list)
    throw inputError(
      'tenants',
      list.slice(0, 40),
      'cannot be combined with tenants-file',
      'give either a tenants file or an inline list (or neither, to discover namespaces by selector)',
    );
  parseSelector('selector', selector);
  const source: TenantSource = file
    ? { kind: 'file', path: file }
    : list
      ? { kind: 'list', value: list }
      : { kind: 'namespaces', selector };
  const include = inputs.string('include');
  const exclude = inputs.string('exclude');
  // Only deploying needs a chart: status, rollback and pause work from what the cluster recorded,
  // and merging shard reports (the report job, which has no checkout) deploys nothing.
  const helm = parseHelmSettings(inputs, {
    chartOptional: operation !== 'rollout' || phaseText === 'plan' || inputs.string('merge-reports') !== '',
  });
  const maxParallel = inputs.int('max-parallel', { min: 1, max: 200 });
  const planText = inputs.string('plan');
  const planFile = inputs.string('plan-file');
  if (planText && planFile)
    throw inputError('plan-file', planFile, 'cannot be combined with plan', 'give the approved plan once: plan-file for large fleets');
  const count = inputs.int('shards', { min: 1, max: MAX_SHARDS });
  const index = inputs.int('shard-index', { min: 0, max: MAX_SHARDS - 1 });
  if (index >= count) throw inputError('shard-index', String(index), `must be below shards (${count})`, `use 0..${count - 1}`);
  return {
    operation,
    fleet,
    reason: inputs.string('reason'),
    rollbackReport: inputs.string('rollback-report'),
    source,
    clusters: clusterList(inputs.string('clusters')),
    namespacePrefix: namespacePrefix(inputs.string('namespace-prefix')),
    releaseTemplate: inputs.string('release-name'),
    tenantValuesFiles: inputs.lines('tenant-values-files'),
    include: include ? parseSelection('include', include) : undefined,
    exclude: exclude ? parseSelection('exclude', exclude) : undefined,
    pilot: parsePilot(inputs.string('pilot')),
    clusterOrder: inputs.oneOf('order', CLUSTER_ORDERS),
    batchSize: parseBatchSize(inputs.string('batch-size')),
    phase: operation === 'rollout' ? parsePhaseOrOperation(phaseText) : 'all',
    approvedPlan: planText,
    approvedPlanFile: planFile || undefined,
    // Shard coordination lives with the other fleet-level objects (fleet-namespace).
    shards: { count, index, namespace: fleet.namespace },
    releaseVersion: releaseVersion(inputs.string('release-version')),
    ...maintenance(inputs),
    helm,
    secretValues: secretValues('set-secret', inputs.lines('set-secret'), (v) => inputs.mask(v)),
    identityValues: inputs.bool('identity-values'),
    maxParallel,
    maxParallelPerCluster: inputs.int('max-parallel-per-cluster', { min: 0, max: 200 }),
    adaptiveParallelism: inputs.bool('adaptive-parallelism'),
    previousReport: inputs.string('previous-report') || undefined,
    maxFailures: parseMaxFailures(inputs.string('max-failures')),
    maxFailuresPerCluster: inputs.string('max-failures-per-cluster')
      ? parseMaxFailures(inputs.string('max-failures-per-cluster'), 'max-failures-per-cluster')
      : undefined,
    soakMs: inputs.duration('soak'),
    soakIntervalMs: inputs.duration('soak-interval'),
    rollbackWaveOnFailure: inputs.bool('rollback-wave-on-failure'),
    recoverPending: inputs.bool('recover-pending'),
    pendingStaleAfterMs: inputs.duration('pending-stale-after'),
    verifyWorkloads: inputs.bool('verify-workloads'),
    reportFile: inputs.string('report-file'),
    ...verification(inputs),
    kubeconfig: inputs.string('kubeconfig') /* masked whole and per credential by openCredentials */,
    kubeContext: inputs.string('kube-context') || undefined,
    helmBinary: inputs.string('helm'),
    observe: parseObserverInputs(inputs),
    mergeReports: inputs.string('merge-reports'),
  };
}
