import type { Clock } from '../core/clock.ts';
import { ConfigurationError, errorMessage } from '../core/errors.ts';
import type { Logger } from '../core/logger.ts';
import type { Cluster } from '../kube/ports.ts';
import { CHECK_TEMPLATE, statusMatches } from './checks.ts';
import type { HttpCheck } from './checks.ts';
import { runClusterChecks } from './cluster-checks.ts';
import type { ClusterCheckOptions } from './cluster-checks.ts';
import type { CheckResult } from './result.ts';
import { evaluateExpectation, show } from './expression.ts';
import { formatMs } from '../core/format.ts';
import type { Http, HttpResponse } from '../core/http.ts';
import { createLimiter } from '../core/pool.ts';
import { renderForTenant } from '../tenants/model.ts';
import type { TenantTarget } from '../tenants/model.ts';

/** What one target is checked at: a base URL for HTTP checks, a release for in-cluster checks. */
export interface SmokeTarget {
  /** Shown in reports: the tenant slug, or the URL. */
  name: string;
  /** Base URL the check paths are joined to; without it the target gets no HTTP checks. */
  url?: string;
  /** For `{{ tenant.* }}` in check paths and headers. */
  tenant?: TenantTarget;
  /** For in-cluster checks (both needed). */
  namespace?: string;
  release?: string;
}

export interface SmokePorts {
  clock: Clock;
  logger: Logger;
  /** Needed when any target has a URL. */
  http?: Http;
  /** Needed when in-cluster checks are asked for. */
  cluster?: Cluster;
}

export interface SmokeOptions {
  /** Requests (and Kubernetes reads) in flight at once. */
  concurrency: number;
  /** Everything not finished by then fails as "not finished". */
  deadlineMs: number;
  /** In-cluster checks for targets with a namespace and release; omitted = none. */
  cluster?: ClusterCheckOptions;
  signal?: AbortSignal;
}

export type { CheckResult } from './result.ts';

export interface TargetResult {
  target: string;
  url?: string;
  namespace?: string;
  release?: string;
  tenant?: string;
  passed: boolean;
  checks: CheckResult[];
}

export interface SmokeReport {
  passed: boolean;
  startedAt: string;
  durationMs: number;
  totals: { targets: number; failedTargets: number; checks: number; failedChecks: number };
  targets: TargetResult[];
}

/** Joins a check path to a base URL, keeping the base's own path (`https://x/app` + `/login`). */
export function joinUrl(base: string, path: string): string {
  if (/^https?:\/\//.test(path)) return path;
  return `${base.replace(/\/+$/, '')}/${path.replace(/^\/+/, '')}`;
}

/** Stops the run at the deadline or on cancel, and says which it was. */
class Stopper {
  readonly controller = new AbortController();
  private readonly timerStop = new AbortController();
  reason = '';
  constructor(clock: Clock, deadlineMs: number, outer?: AbortSignal) {
    const stop = (why: string) => {
      if (this.controller.signal.aborted) return;
      this.reason = why;
      this.controller.abort(new Error(why));
    };
    void clock.sleep(deadlineMs, this.timerStop.signal).then(() => {
      if (!this.timerStop.signal.aborted) stop(`overall deadline of ${formatMs(deadlineMs)} reached`);
    });
    if (outer?.aborted) stop('cancelled');
    else outer?.addEventListener('abort', () => stop('cancelled'), { once: true });
  }
  get signal(): AbortSignal {
    return this.controller.signal;
  }
  dispose(): void {
    this.timerStop.abort();
  }
}

interface Attempt {
  passed: boolean;
  problems: string[];
  measured: string;
  status?: number;
  latencyMs?: number;
  json?: CheckResult['json'];
}

function evaluate(check: HttpCheck, res: HttpResponse, latencyMs: number): Attempt {
  const problems: string[] = [];
  const parts = [`status ${res.status}`, `${latencyMs} ms`];
  if (!statusMatches(check.status, res.status)) problems.push(`status ${res.status}, expected ${check.status.source}`);
  for (const s of check.bodyContains) if (!res.body.includes(s)) problems.push(`body does not contain ${JSON.stringify(s)}`);
  for (const re of check.bodyRegex) if (!re.test(res.body)) problems.push(`body does not match /${re.source}/`);
  let json: CheckResult['json'];
  if (check.json.length > 0) {
    let doc: unknown;
    let parsed = true;
    try {
      doc = JSON.parse(res.body);
    } catch {
      parsed = false;
      problems.push(`body is not JSON: ${show(res.body.slice(0, 60))}`);
    }
    if (parsed) {
      json = check.json.map((e) => {
        const o = evaluateExpectation(doc, e);
        parts.push(`${e.pathSource} = ${show(o.found)}`);
        if (!o.passed) problems.push(`${e.source}: ${o.problem}`);
        return { expression: e.source, found: o.found, passed: o.passed };
      });
    }
  }
  if (check.maxLatencyMs !== undefined && latencyMs > check.maxLatencyMs)
    problems.push(`latency ${latencyMs} ms over the limit of ${check.maxLatencyMs} ms`);
  return { passed: problems.length === 0, problems, measured: parts.join(', '), status: res.status, latencyMs, json };
}

async function attemptOnce(
  check: HttpCheck,
  url: string,
  headers: Record<string, string>,
  ports: SmokePorts,
  stop: Stopper,
): Promise<Attempt> {
  const { clock } = ports;
  const request = new AbortController();
  const onStop = () => request.abort(stop.signal.reason);
  stop.signal.addEventListener('abort', onStop, { once: true });
  const timerStop = new AbortController();
  let timedOut = false;
  void clock.sleep(check.timeoutMs, timerStop.signal).then(() => {
    if (timerStop.signal.aborted) return;
    timedOut = true;
    request.abort(new Error('timeout'));
  });
  const started = clock.now();
  try {
    const res = await ports.http!.request({
      url,
      method: check.method,
      headers,
      body: check.body,
      redirect: check.followRedirects ? 'follow' : 'manual',
      signal: request.signal,
    });
    return evaluate(check, res, Math.round(clock.now() - started));
  } catch (err) {
    const latencyMs = Math.round(clock.now() - started);
    const problem = timedOut
      ? `timed out after ${formatMs(check.timeoutMs)}`
      : stop.signal.aborted
        ? `not finished: ${stop.reason}`
        : `request failed: ${errorMessage(err)}`;
    return {
      passed: false,
      problems: [problem],
      measured: timedOut ? `no answer in ${check.timeoutMs} ms` : `no response (${latencyMs} ms)`,
      latencyMs,
    };
  } finally {
    timerStop.abort();
    stop.signal.removeEventListener('abort', onStop);
  }
}

const MAX_BACKOFF_MS = 30_000;

/** One HTTP check against one target, with retries and exponential backoff. */
async function runHttpCheck(target: SmokeTarget, check: HttpCheck, ports: SmokePorts, stop: Stopper): Promise<CheckResult> {
  const base: CheckResult = {
    target: target.name,
    check: check.name,
    kind: 'http',
    passed: false,
    measured: '',
    problems: [],
    method: check.method,
  };
  let url: string;
  let headers: Record<string, string>;
  try {
    const subject = `check "${check.name}"`;
    const render = (v: string, escape?: (v: string) => string) =>
      renderForTenant(v, target.tenant, subject, { escape, dialect: CHECK_TEMPLATE });
    url = joinUrl(target.url!, render(check.path, encodeURIComponent));
    headers = Object.fromEntries(Object.entries(check.headers).map(([k, v]) => [k, render(v)]));
  } catch (err) {
    if (err instanceof ConfigurationError) return { ...base, measured: 'not run', problems: [err.message] };
    throw err;
  }
  let last: Attempt | undefined;
  let attempts = 0;
  for (let i = 0; i <= check.retries; i++) {
    if (stop.signal.aborted) {
      last ??= { passed: false, problems: [`not finished: ${stop.reason}`], measured: 'not run' };
      break;
    }
    attempts++;
    last = await attemptOnce(check, url, headers, ports, stop);
    if (last.passed || i === check.retries) break;
    ports.logger.debug(`${target.name} ${check.name}: attempt ${attempts} failed (${last.problems.join('; ')}), retrying`);
    await ports.clock.sleep(Math.min(check.retryDelayMs * 2 ** i, MAX_BACKOFF_MS), stop.signal);
  }
  return {
    ...base,
    url,
    attempts,
    passed: last!.passed,
    problems: last!.problems,
    measured: last!.measured,
    status: last!.status,
    latencyMs: last!.latencyMs,
    json: last!.json,
  };
}

/**
 * Runs the HTTP checks of every target with a URL, and the in-cluster checks of every target
 * with a namespace and release (when `opts.cluster` is given), at most `concurrency` at a time,
 * within `deadlineMs`. Never throws for a failing check: every outcome is in the report.
 */
export async function runSmokeChecks(
  targets: SmokeTarget[],
  checks: HttpCheck[],
  ports: SmokePorts,
  opts: SmokeOptions,
): Promise<SmokeReport> {
  const { clock, logger } = ports;
  const startedAt = clock.now();
  if (targets.some((t) => t.url) && checks.length > 0 && !ports.http) throw new Error('runSmokeChecks: HTTP checks need an Http port');
  if (opts.cluster && !ports.cluster && targets.some((t) => t.namespace && t.release))
    throw new Error('runSmokeChecks: in-cluster checks need a Cluster port');
  const stop = new Stopper(clock, opts.deadlineMs, opts.signal);
  const limit = createLimiter(Math.max(1, opts.concurrency));
  try {
    const results = await Promise.all(
      targets.map(async (target): Promise<TargetResult> => {
        const jobs: Promise<CheckResult | CheckResult[]>[] = [];
        if (target.url) for (const c of checks) jobs.push(limit(() => runHttpCheck(target, c, ports, stop)));
        if (opts.cluster && target.namespace && target.release) {
          jobs.push(
            runClusterChecks({ name: target.name, namespace: target.namespace, release: target.release }, ports.cluster!, opts.cluster, {
              clock,
              limit,
              signal: stop.signal,
              stopReason: () => stop.reason,
            }),
          );
        }
        const done = (await Promise.all(jobs)).flat();
        if (done.length === 0) {
          done.push({
            target: target.name,
            check: 'none',
            kind: 'http',
            passed: false,
            measured: 'not run',
            problems: ['no check applies: the target has no URL and no namespace/release for in-cluster checks'],
          });
        }
        for (const r of done)
          logger.info(`${r.passed ? '✓' : '✗'} ${r.target} ${r.check}: ${r.measured}${r.passed ? '' : ` (${r.problems.join('; ')})`}`);
        return {
          target: target.name,
          url: target.url,
          namespace: target.namespace,
          release: target.release,
          tenant: target.tenant?.slug,
          passed: done.every((r) => r.passed),
          checks: done,
        };
      }),
    );
    const all = results.flatMap((r) => r.checks);
    return {
      passed: results.every((r) => r.passed),
      startedAt: new Date(startedAt).toISOString(),
      durationMs: Math.round(clock.now() - startedAt),
      totals: {
        targets: results.length,
        failedTargets: results.filter((r) => !r.passed).length,
        checks: all.length,
        failedChecks: all.filter((c) => !c.passed).length,
      },
      targets: results,
    };
  } finally {
    stop.dispose();
  }
}
