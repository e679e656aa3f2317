import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { ConfigurationError, inputError } from '../../core/errors.ts';
import { checkNamespace, checkRelease } from '../../core/names.ts';
import { DEFAULT_CHECKS_YAML, parseChecks, parseNamedSecrets } from '../../verify/checks.ts';
import type { CheckDefaults, HttpCheck } from '../../verify/checks.ts';
import { parseRolloutReport, tenantsFromSlugs, withStatus } from '../../verify/targets.ts';
import { placeholders } from '../../verify/template.ts';
import type { TenantTarget } from '../../verify/template.ts';
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

/**
 * A value that is either inline text or the path of a file in the workspace. A single line
 * naming an existing file is read; anything else is the text itself.
 */
export function textOrFile(value: string, exts: RegExp): { text: string; file?: string } {
  const v = value.trim();
  if (v && !v.includes('\n') && exts.test(v)) {
    const p = resolve(v);
    if (!existsSync(p))
      throw new ConfigurationError(`file "${v}"`, 'does not exist', 'give the path relative to the workspace, or the content inline');
    return { text: readFileSync(p, 'utf8'), file: v };
  }
  return { text: value };
}

/** Tenants from a tenant-rollout report (JSON text or file) filtered by status, or from a slug list. */
export function readTenants(inputs: Inputs, defaultStatuses: string): { tenants?: TenantTarget[]; all?: TenantTarget[] } {
  const report = inputs.string('report');
  const statuses = inputs.list('report-statuses').length ? inputs.list('report-statuses') : defaultStatuses.split(',');
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
    const src = report.trim().startsWith('{') || report.trim().startsWith('[') ? { text: report } : textOrFile(report, /./);
    const all = parseRolloutReport(src.text, src.file ? `report file "${src.file}"` : 'input "report"');
    return { tenants: withStatus(all, statuses), all };
  }
  if (slugs.length) {
    if (release) placeholders(release, 'input "release"');
    return { tenants: tenantsFromSlugs(slugs, 'tenants', release) };
  }
  return {};
}

/** The `secrets` input: NAME=value lines, masked as a whole here and value by value by the action. */
export function readNamedSecrets(inputs: Inputs): Record<string, string> {
  const raw = inputs.secret('secrets');
  const lines = raw
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
  return parseNamedSecrets(lines, 'secrets');
}

export function parseInputs(inputs: Inputs): SmokeTestInputs {
  const url = inputs.string('url');
  const { tenants } = readTenants(inputs, 'succeeded,unchanged');
  const namespace = inputs.string('namespace');
  const release = inputs.string('release');
  if (!tenants) {
    if (namespace) checkNamespace('namespace', namespace);
    if (release) checkRelease('release', release);
  }
  const secrets = readNamedSecrets(inputs);
  const maxLatency = inputs.string('max-latency');
  const defaults: CheckDefaults = {
    timeoutMs: inputs.duration('timeout', '10s'),
    retries: inputs.int('retries', 2, { min: 0, max: 20 }),
    retryDelayMs: inputs.duration('retry-delay', '2s'),
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
    deadlineMs: inputs.duration('deadline', '5m'),
    concurrency: inputs.int('concurrency', 4, { min: 1, max: 64 }),
    clusterChecks: inputs.oneOf('cluster-checks', ['auto', 'true', 'false'], 'auto'),
    images,
    restartWindowMs: inputs.duration('restart-window', '30s'),
    kubeconfig: inputs.string('kubeconfig') /* masked whole and per credential by openCredentials */,
    kubeContext: inputs.string('kube-context') || undefined,
    reportFile: inputs.string('report-file'),
  };
}
