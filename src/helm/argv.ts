import { goDuration } from '../core/duration.ts';
import type { HelmVersion } from './version.ts';

/**
 * Every helm command line the suite runs is built here, from plain data and the helm version,
 * and tested as a table. Helm 3 and 4 differ in ways that break silently:
 * - `--wait` is a boolean in Helm 3 but a strategy in Helm 4 (`watcher` = kstatus, `legacy`,
 *   `hookOnly` = the Helm 4 default, which waits for nothing but hooks);
 * - `--atomic` is gone in Helm 4 (`--rollback-on-failure`). We pass neither: rollback is done by
 *   the suite itself, to the last *deployed* revision it recorded before the upgrade, after its
 *   own verification (see deploy.ts), so the target is explicit and reported;
 * - Helm 4 applies server-side by default (`--server-side auto`).
 */

/**
 * Where a release lives inside its cluster. Which cluster is not here: the helm adapter is bound
 * to one ClusterTarget (src/core/cluster-target.ts) and passes its context to every builder below.
 */
export interface KubeTarget {
  namespace: string;
}

export type WaitMode = 'none' | 'ready' | 'legacy';

export interface ChartRef {
  /** Local path, `oci://` reference, `repo/name`, or a bare name with `repoUrl`. */
  chart: string;
  version?: string;
  repoUrl?: string;
}

export interface UpgradeOptions extends KubeTarget, ChartRef {
  release: string;
  valuesFiles: string[];
  set: string[];
  setString: string[];
  createNamespace: boolean;
  wait: WaitMode;
  timeoutMs: number;
  historyMax?: number;
  description?: string;
  dryRun: 'none' | 'client' | 'server';
  /** Helm 4 only: `auto` keeps the method the release was last applied with. */
  serverSide: 'auto' | 'true' | 'false';
}

/** `--kube-context` of the cluster the adapter is bound to (none: the kubeconfig's current context). */
const contextFlags = (context?: string): string[] => (context ? ['--kube-context', context] : []);

function kubeFlags(t: KubeTarget, context?: string): string[] {
  return ['--namespace', t.namespace, ...contextFlags(context)];
}

function waitFlags(wait: WaitMode, v: HelmVersion): string[] {
  if (v.major === 3) return wait === 'none' ? [] : ['--wait', '--wait-for-jobs'];
  if (wait === 'none') return ['--wait=hookOnly'];
  return [`--wait=${wait === 'legacy' ? 'legacy' : 'watcher'}`, '--wait-for-jobs'];
}

export function upgradeArgv(o: UpgradeOptions, v: HelmVersion, context?: string): string[] {
  const args = ['upgrade', o.release, o.chart, '--install', ...kubeFlags(o, context)];
  if (o.repoUrl) args.push('--repo', o.repoUrl);
  if (o.version) args.push('--version', o.version);
  if (o.createNamespace) args.push('--create-namespace');
  for (const f of o.valuesFiles) args.push('--values', f);
  for (const s of o.set) args.push('--set', s);
  for (const s of o.setString) args.push('--set-string', s);
  args.push(...waitFlags(o.dryRun === 'none' ? o.wait : 'none', v));
  args.push('--timeout', goDuration(o.timeoutMs));
  if (o.historyMax !== undefined) args.push('--history-max', String(o.historyMax));
  if (o.description) args.push('--description', o.description);
  if (o.dryRun !== 'none') args.push(`--dry-run=${o.dryRun}`);
  if (v.major === 4) args.push(`--server-side=${o.serverSide}`);
  args.push('--output', 'json');
  return args;
}

export function rollbackArgv(
  release: string,
  revision: number,
  t: KubeTarget & { wait: WaitMode; timeoutMs: number },
  v: HelmVersion,
  context?: string,
): string[] {
  // --history-max 0: a rollback prunes nothing. Each failed attempt writes a revision, and under
  // API faults a retried rollback can write ten; with helm's default limit of 10 those pushed out
  // the very revision it returns to (once a half-done attempt had marked it superseded, helm no
  // longer protects it). The next upgrade prunes to history-max again.
  return [
    'rollback',
    release,
    String(revision),
    ...kubeFlags(t, context),
    ...waitFlags(t.wait, v),
    '--timeout',
    goDuration(t.timeoutMs),
    '--history-max',
    '0',
  ];
}

export function uninstallArgv(
  release: string,
  t: KubeTarget & { wait: WaitMode; timeoutMs: number },
  v: HelmVersion,
  context?: string,
): string[] {
  const wait = t.wait === 'none' ? [] : v.major === 3 ? ['--wait'] : ['--wait=watcher'];
  return ['uninstall', release, ...kubeFlags(t, context), ...wait, '--timeout', goDuration(t.timeoutMs)];
}

export function historyArgv(release: string, t: KubeTarget, context?: string): string[] {
  return ['history', release, ...kubeFlags(t, context), '--max', '256', '--output', 'json'];
}

export function getManifestArgv(release: string, revision: number, t: KubeTarget, context?: string): string[] {
  return ['get', 'manifest', release, '--revision', String(revision), ...kubeFlags(t, context)];
}

export function getValuesArgv(release: string, revision: number, t: KubeTarget, context?: string): string[] {
  return ['get', 'values', release, '--revision', String(revision), ...kubeFlags(t, context), '--output', 'json'];
}

/**
 * One page of every release in every namespace, in any status (helm's default page is 256).
 * Helm 3 hides some statuses unless asked with --all; Helm 4 lists all and has no --all.
 */
export function listAllArgv(offset: number, max: number, v: HelmVersion, context?: string): string[] {
  return [
    'list',
    '--all-namespaces',
    ...(v.major === 3 ? ['--all'] : []),
    '--max',
    String(max),
    '--offset',
    String(offset),
    ...contextFlags(context),
    '--output',
    'json',
  ];
}

export const versionArgv = ['version', '--template', '{{.Version}}'];
