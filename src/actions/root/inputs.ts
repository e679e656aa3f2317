import { inputError } from '../../core/errors.ts';
import { compileTemplate, expandTemplate } from '../../core/template.ts';
import type { Dialect, Template } from '../../core/template.ts';
import type { Metric } from '../../analysis/metrics.ts';
import { defaultChecks, parseChecks } from '../../verify/checks.ts';
import type { HttpCheck } from '../../verify/checks.ts';
import { readMetrics, readPrometheus } from '../common/analysis-inputs.ts';
import type { Inputs } from '../common/inputs.ts';
import { parseInputs as parseDeploy } from '../helm-deploy/inputs.ts';
import type { HelmDeployInputs } from '../helm-deploy/inputs.ts';

/** What the root action reads on top of helm-deploy's inputs. */
export interface RootExtraInputs {
  /** The smoke URL template; undefined: no HTTP checks. */
  smokeUrl?: Template;
  smokeChecks: HttpCheck[];
  verifyWorkloads: boolean;
  watchMs: number;
  watchIntervalMs: number;
  metrics: Metric[];
  prometheusUrl: string;
  prometheusToken: string;
}

/** The root action deploys one release: its smoke URL names the release, not a tenant. */
export const SMOKE_URL: Dialect = {
  fields: ['release', 'namespace', 'color', 'service'],
  hint: 'use {{ release }}, {{ namespace }}, {{ color }} or {{ service }}',
};

/** Expands the smoke URL for the deployed release; `color` is empty for a rolling deploy. */
export function expandSmokeUrl(t: Template, v: { release: string; namespace: string; color?: string; service: string }): string {
  return expandTemplate(t, v, { missing: () => '' });
}

export function parseExtra(inputs: Inputs): RootExtraInputs {
  inputs = inputs.withDefaults('root');
  const smokeUrl = inputs.string('smoke-url');
  if (smokeUrl && !/^https?:\/\//.test(smokeUrl))
    throw inputError(
      'smoke-url',
      smokeUrl,
      'is not an http(s) URL',
      'e.g. https://admin.example.com or http://{{ service }}.{{ namespace }}.svc',
    );
  const checks = inputs.string('smoke-checks');
  const watchMs = inputs.duration('watch');
  const watchIntervalMs = inputs.duration('watch-interval');
  if (watchMs > 0 && watchIntervalMs > watchMs)
    throw inputError(
      'watch-interval',
      inputs.string('watch-interval'),
      'is longer than the watch window',
      'use an interval shorter than "watch"',
    );
  const metrics = readMetrics(inputs, 'metrics', { useDefault: true });
  const prometheus = readPrometheus(inputs, metrics, watchMs > 0);
  return {
    smokeUrl: smokeUrl ? compileTemplate(smokeUrl, 'input "smoke-url"', SMOKE_URL) : undefined,
    smokeChecks: checks ? parseChecks(checks, { source: 'input "smoke-checks"' }) : defaultChecks(),
    verifyWorkloads: inputs.bool('verify-workloads'),
    watchMs,
    watchIntervalMs,
    metrics,
    ...prometheus,
  };
}

export function parseInputs(inputs: Inputs): HelmDeployInputs & { extra: RootExtraInputs } {
  return { ...parseDeploy(inputs), extra: parseExtra(inputs) };
}
