import { ConfigurationError, inputError } from '../../core/errors.ts';
import { checkNamespace, checkRelease } from '../../core/names.ts';
import type { Metric } from '../../analysis/metrics.ts';
import { parseRolloutReport, withStatus } from '../../verify/targets.ts';
import type { TenantTarget } from '../../tenants/model.ts';
import type { Inputs } from '../common/inputs.ts';
import { readMetrics, readNamedSecrets, readPrometheus } from '../common/analysis-inputs.ts';
import { reportText } from '../common/files.ts';

export interface AutoRollbackInputs {
  targets: TenantTarget[];
  /** Tenants not updated (fleet comparison). */
  baseline: TenantTarget[];
  metrics: Metric[];
  secrets: Record<string, string>;
  durationMs: number;
  intervalMs: number;
  concurrency: number;
  prometheusUrl: string;
  prometheusToken: string;
  rollback: boolean;
  rollbackOnInconclusive: boolean;
  rollbackTimeoutMs: number;
  kubeconfig: string;
  kubeContext?: string;
  helmBinary: string;
  reportFile: string;
}

function parseRevision(value: string): number | undefined {
  if (!value) return undefined;
  if (!/^\d+$/.test(value) || Number(value) < 1)
    throw inputError(
      'revision-before',
      value,
      'is not a revision number',
      "pass helm-deploy's previous-revision output (empty on a first install)",
    );
  return Number(value);
}

export function parseInputs(inputs: Inputs): AutoRollbackInputs {
  inputs = inputs.withDefaults('auto-rollback');
  const release = inputs.string('release');
  const namespace = inputs.string('namespace');
  const revisionBefore = parseRevision(inputs.string('revision-before'));
  const report = inputs.string('report');
  const statuses = inputs.list('report-statuses');
  const baselineStatuses = inputs.list('baseline-statuses');
  let targets: TenantTarget[];
  let baseline: TenantTarget[] = [];
  if (report) {
    if (release)
      throw inputError(
        'release',
        release,
        'cannot be combined with report',
        'watch either one release or the tenants of a tenant-rollout report',
      );
    const src = reportText(report);
    const all = parseRolloutReport(src.text, src.file ? `report file "${src.file}"` : 'input "report"');
    targets = withStatus(all, statuses.length ? statuses : ['succeeded']);
    baseline = withStatus(all, baselineStatuses.length ? baselineStatuses : ['skipped']);
  } else if (release) {
    checkRelease('release', release);
    if (!namespace) throw inputError('namespace', namespace, 'is required with release', 'give the namespace of the release');
    checkNamespace('namespace', namespace);
    targets = [{ id: release, slug: release, namespace, release, revisionBefore }];
  } else {
    throw new ConfigurationError(
      'input "release"',
      'no target was given',
      'give release, namespace and revision-before (helm-deploy outputs), or the report of tenant-rollout',
    );
  }

  const secrets = readNamedSecrets(inputs);
  const metrics = readMetrics(inputs, 'metrics', { useDefault: true, secrets });

  const durationMs = inputs.duration('duration');
  const intervalMs = inputs.duration('interval');
  if (intervalMs <= 0 || durationMs <= 0)
    throw inputError(
      intervalMs <= 0 ? 'interval' : 'duration',
      String(intervalMs <= 0 ? intervalMs : durationMs),
      'must be more than zero',
      'use e.g. duration: 5m and interval: 30s',
    );
  if (intervalMs > durationMs)
    throw inputError(
      'interval',
      inputs.string('interval'),
      `is longer than the duration (${inputs.string('duration') || '5m'})`,
      'use an interval shorter than the duration',
    );

  const prometheus = readPrometheus(inputs, metrics);

  return {
    targets,
    baseline,
    metrics,
    secrets,
    durationMs,
    intervalMs,
    concurrency: inputs.int('concurrency', { min: 1, max: 64 }),
    ...prometheus,
    rollback: inputs.bool('rollback'),
    rollbackOnInconclusive: inputs.bool('rollback-on-inconclusive'),
    rollbackTimeoutMs: inputs.duration('rollback-timeout'),
    kubeconfig: inputs.string('kubeconfig') /* masked whole and per credential by openCredentials */,
    kubeContext: inputs.string('kube-context') || undefined,
    helmBinary: inputs.string('helm'),
    reportFile: inputs.string('report-file'),
  };
}
