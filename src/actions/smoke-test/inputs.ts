import { inputError } from '../../core/errors.ts';
import { checkNamespace, checkRelease } from '../../core/names.ts';
import { DEFAULT_CHECKS_YAML, parseChecks } from '../../verify/checks.ts';
import type { CheckDefaults, HttpCheck } from '../../verify/checks.ts';
import { parseRolloutReport, tenantsFromSlugs, withStatus } from '../../verify/targets.ts';
import type { TenantTarget } from '../../tenants/model.ts';
import { readNamedSecrets } from '../common/analysis-inputs.ts';
import { reportText, textOrFile } from '../common/files.ts';
import type { Inputs } from '../common/inputs.ts';

export interface SmokeTestInputs {
  url: string;
  /** Undefined: a single target (url, or namespace/release). */
  tenants?: TenantTarget[];
  namespace: string;
  release: string;
  checks: HttpCheck[];
  /** Named secrets for `{{ secrets.NAME }}` (already registered as secrets). */
  secrets: Record<string, string>;
  deadlineMs: number;
  concurrency: number;
  clusterChecks: 'auto' | 'true' | 'false';
  images: string[];
  restartWindowMs: number;
  kubeconfig: string;
  kubeContext?: string;
  reportFile: string;
}

/** Tenants from a tenant-rollout report (JSON text or file) filtered by status, or from a slug list. */
export function readTenants(inputs: Inputs): { tenants?: TenantTarget[]; all?: TenantTarget[] } {
  const report = inputs.string('report');
  const statuses = inputs.list('report-statuses');
  const slugs = inputs.list('tenants');
  const release = inputs.string('release');
  if (report && slugs.length)
    throw inputError(
      'tenants',
      slugs.join(',').slice(0, 40),
      'cannot be combined with report',
      'give either the tenant-rollout report or a list of tenant slugs',
    );
  if (report) {
    const src = reportText(report);
    const all = parseRolloutReport(src.text, src.file ? `report file "${src.file}"` : 'input "report"');
    return { tenants: withStatus(all, statuses), all };
  }
  if (slugs.length) {
    return { tenants: tenantsFromSlugs(slugs, 'tenants', release) };
  }
  return {};
}

export function parseInputs(inputs: Inputs): SmokeTestInputs {
  inputs = inputs.withDefaults('smoke-test');
  const url = inputs.string('url');
  const { tenants } = readTenants(inputs);
  const namespace = inputs.string('namespace');
  const release = inputs.string('release');
  if (!tenants) {
    if (namespace) checkNamespace('namespace', namespace);
    if (release) checkRelease('release', release);
  }
  const secrets = readNamedSecrets(inputs);
  const maxLatency = inputs.string('max-latency');
  const defaults: CheckDefaults = {
    timeoutMs: inputs.duration('timeout'),
    retries: inputs.int('retries', { min: 0, max: 20 }),
    retryDelayMs: inputs.duration('retry-delay'),
    maxLatencyMs: maxLatency ? inputs.duration('max-latency', maxLatency) : undefined,
  };
  const checksInput = inputs.string('checks');
  const src = checksInput ? textOrFile(checksInput, /\.ya?ml$/i) : { text: DEFAULT_CHECKS_YAML, file: undefined };
  const checks = parseChecks(src.text, {
    source: src.file ? `checks file "${src.file}"` : checksInput ? 'input "checks"' : 'default checks',
    file: src.file,
    defaults,
    secrets,
  });
  const images = inputs.list('images');
  return {
    url,
    tenants,
    namespace,
    release,
    checks,
    secrets,
    deadlineMs: inputs.duration('deadline'),
    concurrency: inputs.int('concurrency', { min: 1, max: 64 }),
    clusterChecks: inputs.oneOf('cluster-checks', ['auto', 'true', 'false']),
    images,
    restartWindowMs: inputs.duration('restart-window'),
    kubeconfig: inputs.string('kubeconfig') /* masked whole and per credential by openCredentials */,
    kubeContext: inputs.string('kube-context') || undefined,
    reportFile: inputs.string('report-file'),
  };
}
