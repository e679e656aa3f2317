import type { Clock } from '../core/clock.ts';
import { errorMessage } from '../core/errors.ts';
import { FATAL_REASONS } from '../kube/health.ts';
import type { Cluster, PodInfo, ReleaseHealth, WorkloadInfo } from '../kube/ports.ts';
import type { Limiter } from '../core/pool.ts';
import type { CheckResult } from './result.ts';
import { formatMs } from '../core/format.ts';

export interface ClusterCheckOptions {
  /** Images the release must run (each must be run by a workload; same-repository images must match). */
  expectedImages: string[];
  /** Restart counts are sampled at the start and the end of this window; 0 samples once. */
  restartWindowMs: number;
}

export interface ImageRef {
  repository: string;
  tag?: string;
  digest?: string;
}

/** `nginx` -> `docker.io/library/nginx:latest`-equivalent parts, so equal images compare equal. */
export function parseImage(ref: string): ImageRef {
  let rest = ref.trim();
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
  }
  let tag: string | undefined;
  const colon = rest.lastIndexOf(':');
  if (colon > rest.lastIndexOf('/')) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
  }
  let repository = rest;
  const first = repository.split('/')[0]!;
  const hasRegistry = repository.includes('/') && (first.includes('.') || first.includes(':') || first === 'localhost');
  if (!hasRegistry) repository = `docker.io/${repository.includes('/') ? '' : 'library/'}${repository}`;
  if (repository.startsWith('index.docker.io/')) repository = `docker.io/${repository.slice('index.docker.io/'.length)}`;
  if (!tag && !digest) tag = 'latest';
  return { repository, tag, digest };
}

/** True when `actual` is the image `expected` names (a digest, when given, must match exactly). */
export function imageMatches(expected: string, actual: string): boolean {
  const e = parseImage(expected);
  const a = parseImage(actual);
  if (e.repository !== a.repository) return false;
  if (e.digest && a.digest !== e.digest) return false;
  if (e.tag && a.tag !== e.tag) return false;
  return true;
}

const kindName = (w: WorkloadInfo) => `${w.kind.toLowerCase()}/${w.name}`;

function readyCheck(h: ReleaseHealth): Pick<CheckResult, 'passed' | 'measured' | 'problems'> {
  if (h.workloads.length === 0) {
    return {
      passed: false,
      measured: 'no workloads',
      problems: [`no Deployment or StatefulSet of release "${h.release}" in namespace "${h.namespace}"`],
    };
  }
  const problems: string[] = [];
  for (const w of h.workloads) {
    if (!w.observed) problems.push(`${kindName(w)}: the controller has not observed the latest spec yet`);
    if (w.ready !== w.desired) problems.push(`${kindName(w)}: ${w.ready}/${w.desired} ready`);
    else if (w.updated !== w.desired) problems.push(`${kindName(w)}: ${w.updated}/${w.desired} updated`);
  }
  return {
    passed: problems.length === 0,
    measured: h.workloads.map((w) => `${kindName(w)} ${w.ready}/${w.desired} ready`).join(', '),
    problems,
  };
}

function imagesCheck(h: ReleaseHealth, expected: string[]): Pick<CheckResult, 'passed' | 'measured' | 'problems'> {
  const problems: string[] = [];
  for (const img of expected) {
    const repo = parseImage(img).repository;
    let running = 0;
    for (const w of h.workloads) {
      for (const a of w.images) {
        if (parseImage(a).repository !== repo) continue;
        if (imageMatches(img, a)) running++;
        else problems.push(`${kindName(w)} runs ${a}, expected ${img}`);
      }
    }
    if (running === 0 && !problems.some((p) => p.endsWith(`expected ${img}`))) problems.push(`no workload runs ${img}`);
  }
  const measured = h.workloads.map((w) => `${kindName(w)}: ${w.images.join(' ') || '(none)'}`).join(', ') || 'no workloads';
  return { passed: problems.length === 0, measured, problems };
}

function badPods(pods: PodInfo[]): string[] {
  return pods.flatMap((p) => p.reasons.filter((r) => FATAL_REASONS.has(r)).map((r) => `pod ${p.name}: ${r} (${p.restarts} restarts)`));
}

function restartsCheck(
  first: ReleaseHealth,
  last: ReleaseHealth,
  windowMs: number,
): Pick<CheckResult, 'passed' | 'measured' | 'problems'> & { details: Record<string, unknown> } {
  const before = new Map(first.pods.map((p) => [p.name, p.restarts]));
  const problems: string[] = [];
  const rising: Record<string, [number, number]> = {};
  for (const p of last.pods) {
    const was = before.get(p.name);
    // A pod that appeared during the window and has already restarted restarted within it.
    const from = was ?? 0;
    if (p.restarts > from) {
      rising[p.name] = [from, p.restarts];
      problems.push(`pod ${p.name}: restarts ${was === undefined ? 'new pod, ' : ''}${from} -> ${p.restarts} within ${formatMs(windowMs)}`);
    }
  }
  const total = (h: ReleaseHealth) => h.pods.reduce((n, p) => n + p.restarts, 0);
  return {
    passed: problems.length === 0,
    measured: `restarts ${total(first)} -> ${total(last)} over ${formatMs(windowMs)} (${last.pods.length} pods)`,
    problems,
    details: { rising },
  };
}

/**
 * In-cluster checks of one release, through `Cluster.releaseHealth`, sampled at the start and at
 * the end of the restart window: workloads ready == desired (and updated, and observed) at the
 * end; the expected images running; no pod in CrashLoopBackOff / ImagePullBackOff (or the like)
 * in either sample; restart counts not rising between the samples.
 */
export async function runClusterChecks(
  target: { name: string; namespace: string; release: string },
  cluster: Cluster,
  opts: ClusterCheckOptions,
  run: { clock: Clock; limit: Limiter; signal: AbortSignal; stopReason: () => string },
): Promise<CheckResult[]> {
  const result = (
    check: string,
    r: Pick<CheckResult, 'passed' | 'measured' | 'problems'> & { details?: Record<string, unknown> },
  ): CheckResult => ({
    target: target.name,
    check,
    kind: 'cluster',
    ...r,
  });
  const sample = () =>
    run.limit(() =>
      cluster.releaseHealth(target.namespace, target.release, {
        expectedImages: opts.expectedImages.length ? opts.expectedImages : undefined,
        signal: run.signal,
      }),
    );
  let first: ReleaseHealth;
  try {
    first = await sample();
  } catch (err) {
    const why = run.signal.aborted ? `not finished: ${run.stopReason()}` : `cannot read the release's workloads: ${errorMessage(err)}`;
    return [result('workloads-ready', { passed: false, measured: 'not measured', problems: [why] })];
  }
  let last = first;
  let windowProblem: string | undefined;
  if (opts.restartWindowMs > 0) {
    await run.clock.sleep(opts.restartWindowMs, run.signal);
    if (run.signal.aborted) windowProblem = `not finished: ${run.stopReason()}`;
    else {
      try {
        last = await sample();
      } catch (err) {
        windowProblem = run.signal.aborted
          ? `not finished: ${run.stopReason()}`
          : `cannot read the release's workloads at the end of the window: ${errorMessage(err)}`;
      }
    }
  }
  const out = [result('workloads-ready', readyCheck(last))];
  if (opts.expectedImages.length > 0) out.push(result('images', imagesCheck(last, opts.expectedImages)));
  const bad = [...new Set([...badPods(first.pods), ...(last === first ? [] : badPods(last.pods))])];
  out.push(
    result('pods-not-crashing', {
      passed: bad.length === 0,
      measured: bad.length ? `${bad.length} pod state(s) failing` : `${last.pods.length} pods, none crash looping or failing to pull`,
      problems: bad,
    }),
  );
  if (opts.restartWindowMs > 0) {
    out.push(
      windowProblem
        ? result('restarts-stable', { passed: false, measured: 'not measured', problems: [windowProblem] })
        : result('restarts-stable', restartsCheck(first, last, opts.restartWindowMs)),
    );
  }
  return out;
}
