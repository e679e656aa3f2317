import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { inputError } from '../../core/errors.ts';
import type { ChartRef, UpgradeOptions, WaitMode } from '../../helm/argv.ts';
import type { Inputs } from './inputs.ts';

/**
 * Helm inputs shared by helm-deploy and tenant-rollout, validated the same way in both:
 * chart source, --set lines, secret values, values files, wait and dry-run modes.
 */

const SET_KEY = /^[A-Za-z0-9_][A-Za-z0-9_.\-[\]\\]*$/;

// A --set value under a key that names a credential is masked even when the user forgot set-secret.
const SENSITIVE_KEY = /(password|passwd|secret|token|apikey|api[-_]key|credential|private[-_]?key)/i;

/** The line as an error may show it: what comes before "=" and stars for the value, which may be a secret. */
function shown(line: string, lineNo: number): string {
  const eq = line.indexOf('=');
  return eq >= 0 ? `${line.slice(0, eq)}=*** (line ${lineNo})` : `line ${lineNo} (no "=")`;
}

/**
 * `key=value` lines for --set / --set-string. Values under credential-like keys are masked
 * first; an error names the line by its key and number, never by its value.
 */
export function parseSetLines(input: string, lines: string[], mask: (v: string) => void = () => {}): string[] {
  for (const [i, line] of lines.entries()) {
    const eq = line.indexOf('=');
    const key = eq > 0 ? line.slice(0, eq).trim() : '';
    if (eq > 0 && SENSITIVE_KEY.test(key)) mask(line.slice(eq + 1));
    if (!key || !SET_KEY.test(key)) {
      throw inputError(input, shown(line, i + 1), 'is not a key=value line', 'write one key=value per line, e.g. image.tag=v1.3.0');
    }
  }
  return lines;
}

/**
 * Secret values (`key.path=value` lines) become a nested values document written to a private
 * file: they never appear on a command line or in helm's echo of its arguments.
 */
export function secretValues(input: string, lines: string[], onSecret: (v: string) => void): Record<string, unknown> {
  const root: Record<string, unknown> = {};
  for (const [i, line] of lines.entries()) {
    const eq = line.indexOf('=');
    const key = eq > 0 ? line.slice(0, eq).trim() : '';
    // Mask before validating: the error below must not be the first place the value shows up.
    onSecret(eq >= 0 ? line.slice(eq + 1) : line);
    if (!key || !/^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/.test(key)) {
      throw inputError(input, shown(line, i + 1), 'is not a key.path=value line', 'write one dotted.key=value per line (no list indexes)');
    }
    const value = line.slice(eq + 1);
    const parts = key.split('.');
    let node = root;
    for (const p of parts.slice(0, -1)) {
      const next = node[p];
      node = (next && typeof next === 'object' ? next : (node[p] = {})) as Record<string, unknown>;
    }
    node[parts.at(-1)!] = value;
  }
  return root;
}

/** Repositories added with `helm repo add`, so `repo/name` charts can be told from a missing path. */
function knownRepos(env: NodeJS.ProcessEnv): Set<string> {
  const file =
    env.HELM_REPOSITORY_CONFIG ||
    join(env.HELM_CONFIG_HOME || join(env.XDG_CONFIG_HOME || join(homedir(), '.config'), 'helm'), 'repositories.yaml');
  if (!existsSync(file)) return new Set();
  return new Set([...readFileSync(file, 'utf8').matchAll(/^\s*-?\s*name:\s*["']?([^"'\s]+)/gm)].map((m) => m[1]!));
}

export function parseChart(
  inputs: Inputs,
  names = { chart: 'chart', version: 'chart-version', repo: 'repo-url' },
  env: NodeJS.ProcessEnv = process.env,
  /** Used when the input is empty and the caller needs no chart (tenant-rollout's status, rollback, pause). */
  fallback?: string,
): ChartRef {
  const chart =
    inputs.string(names.chart) ||
    fallback ||
    inputs.required(names.chart, 'give a local chart path, an oci:// reference, or a chart name with repo-url');
  const version = inputs.string(names.version) || undefined;
  const repoUrl = inputs.string(names.repo) || undefined;
  // helm reads an argument starting with "-" as an option, whatever position it is in.
  if (chart.startsWith('-'))
    throw inputError(
      names.chart,
      chart,
      'starts with "-", which helm would read as an option',
      "give the chart's name, e.g. isp-ops-tenant",
    );
  if (repoUrl) {
    if (!/^(https?|oci):\/\//.test(repoUrl))
      throw inputError(names.repo, repoUrl, 'is not an http(s) or oci URL', 'e.g. https://charts.example.com');
    if (chart.includes('/'))
      throw inputError(names.chart, chart, 'must be a bare chart name when repo-url is set', `use the chart's name, e.g. isp-ops-tenant`);
    return { chart, version, repoUrl };
  }
  if (chart.startsWith('oci://')) {
    if (!/^oci:\/\/[^/\s]+\/\S+$/.test(chart))
      throw inputError(names.chart, chart, 'is not a valid oci:// reference', 'e.g. oci://registry.example.com/charts/isp-ops-tenant');
    return { chart, version, repoUrl };
  }
  if (existsSync(resolve(chart))) return { chart, version, repoUrl };
  const repo = /^([A-Za-z0-9_.-]+)\/[A-Za-z0-9_.-]+$/.exec(chart)?.[1];
  if (repo && !chart.startsWith('.') && knownRepos(env).has(repo)) return { chart, version, repoUrl };
  throw inputError(
    names.chart,
    chart,
    'does not exist',
    'give a chart directory or .tgz in the workspace, an oci:// reference, a chart name with repo-url, or repo/name after "helm repo add"',
  );
}

export function parseValuesFiles(inputs: Inputs, name = 'values-files'): string[] {
  const files = inputs.lines(name);
  for (const f of files)
    if (!existsSync(resolve(f))) throw inputError(name, f, 'does not exist', 'list values files relative to the workspace, one per line');
  return files;
}

export function parseWait(inputs: Inputs, name = 'wait'): WaitMode {
  const v = inputs.oneOf(name, ['true', 'false', 'legacy']);
  return v === 'true' ? 'ready' : v === 'false' ? 'none' : 'legacy';
}

export function parseDryRun(inputs: Inputs, name = 'dry-run'): 'none' | 'client' | 'server' {
  const v = inputs.oneOf(name, ['false', 'true', 'client', 'server']);
  return v === 'false' ? 'none' : v === 'true' ? 'server' : v;
}

/**
 * The helm settings helm-deploy and tenant-rollout share, under the same input names: chart,
 * values files, --set lines (credential-like values masked), wait, timeout, history, dry run,
 * apply method. Which cluster (kubeconfig, kube-context) is the ClusterTarget's business.
 */
export function parseHelmSettings(
  inputs: Inputs,
  opts: { chartOptional?: boolean } = {},
): Omit<UpgradeOptions, 'release' | 'namespace' | 'description'> {
  return {
    ...parseChart(inputs, undefined, undefined, opts.chartOptional ? '.' : undefined),
    valuesFiles: parseValuesFiles(inputs),
    set: parseSetLines('set', inputs.lines('set'), (v) => inputs.mask(v)),
    setString: parseSetLines('set-string', inputs.lines('set-string'), (v) => inputs.mask(v)),
    createNamespace: inputs.bool('create-namespace'),
    wait: parseWait(inputs),
    timeoutMs: inputs.duration('timeout'),
    historyMax: inputs.int('history-max', { min: 0, max: 1000 }),
    dryRun: parseDryRun(inputs),
    serverSide: inputs.oneOf('server-side', ['auto', 'true', 'false']),
  };
}

/** Helm's environment: the runner's, minus our INPUT_* variables (the kubeconfig input among them). */
export function helmEnv(env: NodeJS.ProcessEnv, kubeconfigPath?: string): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(env)) if (!k.startsWith('INPUT_')) out[k] = v;
  if (kubeconfigPath) out.KUBECONFIG = kubeconfigPath;
  return out;
}
