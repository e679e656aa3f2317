import { DEFAULT_METRICS_YAML, parseMetrics } from '../../analysis/metrics.ts';
import type { Metric } from '../../analysis/metrics.ts';
import { prometheusApi } from '../../analysis/prometheus.ts';
import type { PrometheusApi } from '../../analysis/prometheus.ts';
import type { Http } from '../../core/http.ts';
import { inputError } from '../../core/errors.ts';
import { parseNamedSecrets } from '../../verify/checks.ts';
import { textOrFile } from './files.ts';
import type { Inputs } from './inputs.ts';

/**
 * The metric and Prometheus inputs of auto-rollback, tenant-rollout (`analysis`) and the root
 * action (`metrics`), parsed and validated here once so the three actions cannot drift apart.
 */

/** The `secrets` input: NAME=value lines, masked as a whole here and value by value by the action. */
export function readNamedSecrets(inputs: Inputs): Record<string, string> {
  const raw = inputs.secret('secrets');
  const lines = raw
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
  return parseNamedSecrets(lines, 'secrets');
}

export interface MetricsInputOptions {
  /** Used when the input is empty: the default metrics (`true`), or none (`false`). */
  useDefault: boolean;
  /** For `{{ secrets.NAME }}` in http metrics. */
  secrets?: Record<string, string>;
}

/** A metrics input: inline YAML or a `.yml`/`.yaml` file in the workspace. */
export function readMetrics(inputs: Inputs, name: string, opts: MetricsInputOptions): Metric[] {
  const value = inputs.string(name);
  if (!value && !opts.useDefault) return [];
  const src = value ? textOrFile(value, /\.ya?ml$/i) : { text: DEFAULT_METRICS_YAML, file: undefined };
  return parseMetrics(src.text, {
    source: src.file ? `metrics file "${src.file}"` : value ? `input "${name}"` : 'default metrics',
    file: src.file,
    secrets: opts.secrets,
  });
}

export interface PrometheusInputs {
  prometheusUrl: string;
  prometheusToken: string;
}

/**
 * `prometheus-url` and `prometheus-token`. The URL must be http(s), and is required when a
 * prometheus metric will be evaluated (`willRun`: false when the watch window is off).
 */
export function readPrometheus(inputs: Inputs, metrics: readonly Metric[], willRun = true): PrometheusInputs {
  const prometheusUrl = inputs.string('prometheus-url');
  const prometheusToken = inputs.secret('prometheus-token');
  if (prometheusUrl && !/^https?:\/\/[^/\s]+/.test(prometheusUrl))
    throw inputError('prometheus-url', prometheusUrl, 'is not an http(s) URL', 'e.g. http://prometheus.monitoring:9090');
  const first = metrics.find((m) => m.provider === 'prometheus');
  if (willRun && first && !prometheusUrl)
    throw inputError(
      'prometheus-url',
      '',
      `is required by metric "${first.name}"`,
      'give the Prometheus base URL, e.g. http://prometheus.monitoring:9090',
    );
  return { prometheusUrl, prometheusToken };
}

/** The Prometheus port for those inputs, or undefined when no URL was given. */
export function openPrometheus(p: PrometheusInputs, http: Http): PrometheusApi | undefined {
  return p.prometheusUrl ? prometheusApi({ url: p.prometheusUrl, token: p.prometheusToken || undefined, http }) : undefined;
}
