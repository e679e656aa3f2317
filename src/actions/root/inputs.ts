import { inputError } from '../../core/errors.ts';
import type { Metric } from '../../analysis/metrics.ts';
import { defaultChecks, parseChecks } from '../../verify/checks.ts';
import type { HttpCheck } from '../../verify/checks.ts';
import { readMetrics, readPrometheus } from '../common/analysis-inputs.ts';
import type { Inputs } from '../common/inputs.ts';
import { parseInputs as parseDeploy } from '../helm-deploy/inputs.ts';
import type { HelmDeployInputs } from '../helm-deploy/inputs.ts';

/** What the root action reads on top of helm-deploy's inputs. */
export interface RootExtraInputs {
  smokeUrl: string;
  smokeChecks: HttpCheck[];
  verifyWorkloads: boolean;
  watchMs: number;
  watchIntervalMs: number;
  metrics: Metric[];
  prometheusUrl: string;
  prometheusToken: string;
}

const SMOKE_FIELDS = ['release', 'namespace', 'color', 'service'];

/** Expands `{{ release }}`, `{{ namespace }}`, `{{ color }}`, `{{ service }}` in the smoke URL. */
export function expandSmokeUrl(template: string, v: Record<string, string | undefined>): string {
  return template.replace(/\{\{\s*([a-z]+)\s*\}\}/g, (_m, k: string) => v[k] ?? '');
}

export function parseExtra(inputs: Inputs): RootExtraInputs {
  const smokeUrl = inputs.string('smoke-url');
  for (const m of smokeUrl.matchAll(/\{\{\s*([^}\s]*)\s*\}\}/g)) {
    if (!SMOKE_FIELDS.includes(m[1]!))
      throw inputError(
        'smoke-url',
        smokeUrl,
        `has an unknown placeholder "${m[1]}"`,
        `use ${SMOKE_FIELDS.map((f) => `{{ ${f} }}`).join(', ')}`,
      );
  }
  if (smokeUrl && !/^https?:\/\//.test(smokeUrl))
    throw inputError(
      'smoke-url',
      smokeUrl,
      'is not an http(s) URL',
      'e.g. https://admin.example.com or http://{{ service }}.{{ namespace }}.svc',
    );
  const checks = inputs.string('smoke-checks');
  const watchMs = inputs.duration('watch', '0s');
  const watchIntervalMs = inputs.duration('watch-interval', '30s');
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
    smokeUrl,
    smokeChecks: checks ? parseChecks(checks, { source: 'input "smoke-checks"' }) : defaultChecks(),
    verifyWorkloads: inputs.bool('verify-workloads', true),
    watchMs,
    watchIntervalMs,
    metrics,
    ...prometheus,
  };
}

export function parseInputs(inputs: Inputs): HelmDeployInputs & { extra: RootExtraInputs } {
  return { ...parseDeploy(inputs), extra: parseExtra(inputs) };
}
