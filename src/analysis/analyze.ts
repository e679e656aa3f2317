import type { Clock } from '../core/clock.ts';
import { ConfigurationError, errorMessage } from '../core/errors.ts';
import { breaches } from '../verify/expression.ts';
import { formatMs } from '../core/format.ts';
import { createLimiter } from '../core/pool.ts';
import type { TenantTarget } from '../tenants/model.ts';
import type { FleetComparison, Metric } from './metrics.ts';
import { PrometheusError } from './prometheus.ts';
import { QueryShapeError, begin, renderQuery, measure, missingPort } from './providers.ts';
import type { AnalysisPorts, ProviderState, Reading } from './providers.ts';

export type MeasurementPhase = 'successful' | 'failed' | 'inconclusive';
export type MetricPhase = 'successful' | 'failed' | 'inconclusive';
export type TargetVerdict = 'healthy' | 'failed' | 'inconclusive';

export interface BaselineComparison {
  /** Median of the baseline tenants' values at the same tick (absent: no baseline data). */
  median?: number;
  /** How many baseline tenants had data. */
  tenants: number;
  /** The value past which this measurement counts as worse than the fleet. */
  limit?: number;
}

export interface Measurement {
  /** Milliseconds since the analysis started. */
  elapsedMs: number;
  /** Absent: no data. */
  value?: number;
  phase: MeasurementPhase;
  detail: string;
  error?: string;
  baseline?: BaselineComparison;
  /** Why the phase differs from what the condition alone says, e.g. "within the fleet's margin". */
  note?: string;
}

export interface MetricOutcome {
  metric: string;
  provider: Metric['provider'];
  /** After templating for this target. */
  query: string;
  condition: string;
  failureLimit: number;
  inconclusiveLimit: number;
  fleet?: FleetComparison;
  phase: MetricPhase;
  counts: Record<MeasurementPhase, number>;
  reason: string;
  measurements: Measurement[];
}

export interface TargetAnalysis {
  target: TenantTarget;
  verdict: TargetVerdict;
  reason: string;
  metrics: MetricOutcome[];
}

export interface BaselineTick {
  elapsedMs: number;
  /** Per baseline tenant slug: its value (null = no data or an error). */
  values: Record<string, number | null>;
  median?: number;
}

export interface AnalysisResult {
  verdict: TargetVerdict;
  startedAt: string;
  durationMs: number;
  windowMs: number;
  intervalMs: number;
  targets: TargetAnalysis[];
  /** Measurements of the tenants not updated, per fleet-compared metric. */
  baseline: { tenants: string[]; metrics: { metric: string; ticks: BaselineTick[] }[] };
  /** Set when the window was cut short (cancel). */
  interrupted?: string;
}

export interface AnalyzeOptions {
  /** The window to watch (`duration`). */
  durationMs: number;
  /** Time between measurements; the first one is taken one interval after the start. */
  intervalMs: number;
  /** Measurements in flight at once. */
  concurrency?: number;
  /** Tenants not updated, for metrics with fleet comparison. */
  baseline?: TenantTarget[];
  /** Per measurement; defaults to the interval (at least 1s, at most 60s). */
  measureTimeoutMs?: number;
  /**
   * Before the window: check that every metric can be measured (Prometheus reachable, the query
   * accepted and returning one number). On by default; off lets an unreachable source count as
   * no data (inconclusive) instead of an error.
   */
  preflight?: boolean;
  signal?: AbortSignal;
  /** Called as soon as a target fails (to roll it back without waiting for the window to end). */
  onTargetFailed?: (t: TargetAnalysis) => void | Promise<void>;
}

/** The median of the values (undefined for none). */
export function median(values: number[]): number | undefined {
  if (values.length === 0) return undefined;
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/**
 * Judges one value: the failure condition, then (when the metric compares with the fleet and the
 * baseline has data) whether the value is also worse than the baseline median by the margin.
 * The direction of "worse" follows the condition: `>`/`>=` higher is worse, `<`/`<=` lower is.
 */
export function judge(
  value: number | undefined,
  metric: Metric,
  baseline?: { values: number[] },
): Pick<Measurement, 'phase' | 'baseline' | 'note'> {
  if (value === undefined) return { phase: 'inconclusive' };
  const breach = breaches(value, metric.failureCondition);
  if (!metric.fleet || !baseline) return { phase: breach ? 'failed' : 'successful' };
  const f = metric.fleet;
  const med = median(baseline.values);
  if (med === undefined || baseline.values.length < f.minBaseline) {
    return {
      phase: breach ? 'failed' : 'successful',
      baseline: { median: med, tenants: baseline.values.length },
      note: breach
        ? `baseline has data for ${baseline.values.length} tenant(s), fewer than ${f.minBaseline}: judged on the condition alone`
        : undefined,
    };
  }
  const higherIsWorse = metric.failureCondition.op === '>' || metric.failureCondition.op === '>=';
  const delta = f.relative ? Math.abs(med) * f.margin : f.margin;
  const limit = higherIsWorse ? med + delta : med - delta;
  const cmp = { median: med, tenants: baseline.values.length, limit };
  if (!breach) return { phase: 'successful', baseline: cmp };
  const worse = higherIsWorse ? value > limit : value < limit;
  return worse
    ? { phase: 'failed', baseline: cmp }
    : {
        phase: 'successful',
        baseline: cmp,
        note:
          `breaches ${metric.failureCondition.source}, but so does the fleet: within ` +
          `the margin of the baseline median ${round(med)} (limit ${round(limit)})`,
      };
}

export function round(v: number): number {
  return Number.isFinite(v) ? Number(v.toPrecision(4)) : v;
}

/** Runs `fn` with a deadline through the clock; the race also covers ports that ignore the signal. */
async function timed<T>(clock: Clock, ms: number, outer: AbortSignal, fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const ctrl = new AbortController();
  const stopTimer = new AbortController();
  const onOuter = () => ctrl.abort(new Error('cancelled'));
  if (outer.aborted) onOuter();
  else outer.addEventListener('abort', onOuter, { once: true });
  void clock.sleep(ms, stopTimer.signal).then(() => {
    if (!stopTimer.signal.aborted) ctrl.abort(new Error(`no answer within ${formatMs(ms)}`));
  });
  const aborted = new Promise<never>((_, reject) => {
    const fail = () => reject(ctrl.signal.reason instanceof Error ? ctrl.signal.reason : new Error('aborted'));
    if (ctrl.signal.aborted) fail();
    else ctrl.signal.addEventListener('abort', fail, { once: true });
  });
  aborted.catch(() => {});
  try {
    return await Promise.race([fn(ctrl.signal), aborted]);
  } finally {
    stopTimer.abort();
    outer.removeEventListener('abort', onOuter);
  }
}

function outcomeReason(o: Omit<MetricOutcome, 'reason'>): string {
  const { counts, measurements } = o;
  const n = measurements.length;
  if (o.phase === 'failed') {
    const bad = measurements.filter((m) => m.phase === 'failed').map((m) => round(m.value!));
    return `${counts.failed} of ${n} measurements breached ${o.condition} (failure limit ${o.failureLimit}): ${bad.join(', ')}`;
  }
  if (o.phase === 'inconclusive') {
    const lastError = [...measurements].reverse().find((m) => m.error)?.error;
    if (n === 0) return 'no measurement was taken';
    if (counts.successful === 0 && counts.failed === 0)
      return `no data in any of ${n} measurements${lastError ? ` (last error: ${lastError})` : ''}`;
    return (
      `${counts.inconclusive} of ${n} measurements had no data (inconclusive limit ` +
      `${o.inconclusiveLimit})${lastError ? `; last error: ${lastError}` : ''}`
    );
  }
  return `${counts.successful} of ${n} measurements within ${o.condition}${counts.inconclusive ? `, ${counts.inconclusive} without data` : ''}`;
}

/**
 * Watches `targets` for `durationMs`, measuring every metric each `intervalMs`, like an Argo
 * Rollouts analysis run:
 * - a measurement is `failed` when the value breaches the failure condition (and, with fleet
 *   comparison, is also worse than the baseline median by the margin), `inconclusive` when there
 *   is no data or the measurement errored, else `successful`;
 * - a metric fails as soon as its failed measurements exceed `failure-limit` (the target is then
 *   no longer measured); at the end it is inconclusive when its inconclusive measurements exceed
 *   `inconclusive-limit`, or when not one measurement was successful; else successful;
 * - a target fails when any metric fails, is inconclusive when any is, else is healthy.
 * Rolling back is not done here (see `rollback.ts`).
 */
export async function analyze(
  targets: TenantTarget[],
  metrics: Metric[],
  ports: AnalysisPorts,
  opts: AnalyzeOptions,
): Promise<AnalysisResult> {
  const { clock, logger } = ports;
  const signal = opts.signal ?? new AbortController().signal;
  if (!(opts.intervalMs > 0) || !(opts.durationMs > 0))
    throw new ConfigurationError('analysis', `needs a positive duration and interval, got ${opts.durationMs} ms and ${opts.intervalMs} ms`);
  const baseline = opts.baseline ?? [];
  const fleetMetrics = metrics.filter((m) => m.fleet);
  const measureTimeoutMs = opts.measureTimeoutMs ?? Math.min(60_000, Math.max(1_000, opts.intervalMs));
  const limit = createLimiter(opts.concurrency ?? 8);

  for (const m of metrics) {
    const need = missingPort(m, ports);
    if (need)
      throw new ConfigurationError(
        `metric "${m.name}"`,
        `uses the ${m.provider} provider, which needs ${need}`,
        m.provider === 'prometheus' ? 'set the prometheus-url input' : 'give a kubeconfig',
      );
    // Templates that cannot be expanded for some tenant fail now, not in the middle of the window.
    for (const t of [...targets, ...(m.fleet ? baseline : [])]) renderQuery(m, t);
  }
  if (opts.preflight !== false) await preflight(targets[0] ?? baseline[0], metrics, ports, measureTimeoutMs, signal);

  const started = clock.now();
  if (targets.length === 0) {
    // Nothing was deployed, so nothing can have broken: no window to wait out.
    return {
      verdict: 'healthy',
      startedAt: new Date(started).toISOString(),
      durationMs: 0,
      windowMs: opts.durationMs,
      intervalMs: opts.intervalMs,
      targets: [],
      baseline: { tenants: [], metrics: [] },
    };
  }
  const count = Math.max(1, Math.floor(opts.durationMs / opts.intervalMs));
  const state = new Map<string, ProviderState>();
  const stateOf = (t: TenantTarget, m: Metric) => {
    const k = `${t.namespace}/${t.release}\0${m.name}`;
    let s = state.get(k);
    if (!s) state.set(k, (s = new Map()));
    return s;
  };
  const results: TargetAnalysis[] = targets.map((t) => ({
    target: t,
    verdict: 'healthy',
    reason: '',
    metrics: metrics.map((m) => ({
      metric: m.name,
      provider: m.provider,
      query: renderQuery(m, t),
      condition: m.failureCondition.source,
      failureLimit: m.failureLimit,
      inconclusiveLimit: m.inconclusiveLimit,
      fleet: m.fleet,
      phase: 'successful',
      counts: { successful: 0, failed: 0, inconclusive: 0 },
      reason: '',
      measurements: [],
    })),
  }));
  const baselineTicks = fleetMetrics.map((m) => ({ metric: m.name, ticks: [] as BaselineTick[] }));
  const failedTargets = new Set<number>();
  const callbacks: Promise<void>[] = [];

  logger.info(
    `watching ${targets.length} target(s) for ${formatMs(opts.durationMs)}, ${count} measurement(s) ${formatMs(opts.intervalMs)} ` +
      `apart: ${metrics.map((m) => `${m.name} (${m.provider}, fails when ${m.failureCondition.source})`).join('; ')}` +
      (fleetMetrics.length ? `; fleet baseline: ${baseline.length} tenant(s)` : ''),
  );

  // Start-of-window samples (restart counts before), best effort.
  const starts = [
    ...targets.flatMap((t) => metrics.map((m) => [t, m] as const)),
    ...baseline.flatMap((b) => fleetMetrics.map((m) => [b, m] as const)),
  ];
  await Promise.all(
    starts.map(([t, m]) =>
      limit(() =>
        timed(clock, measureTimeoutMs, signal, (s) => begin(m, t, ports, { windowMs: opts.intervalMs, signal: s, state: stateOf(t, m) })),
      ).catch((err: unknown) => {
        logger.debug(`${t.slug} ${m.name}: start-of-window sample failed: ${errorMessage(err)}`);
      }),
    ),
  );

  const read = (t: TenantTarget, m: Metric) =>
    limit(() =>
      timed(clock, measureTimeoutMs, signal, (s) => measure(m, t, ports, { windowMs: opts.intervalMs, signal: s, state: stateOf(t, m) })),
    ).then(
      (r): Reading & { error?: string } => r,
      (err: unknown): Reading & { error?: string } => ({
        query: renderQuery(m, t),
        detail: 'measurement failed',
        error: errorMessage(err),
      }),
    );

  let interrupted: string | undefined;
  for (let k = 1; k <= count; k++) {
    const wait = started + k * opts.intervalMs - clock.now();
    if (wait > 0) await clock.sleep(wait, signal);
    if (signal.aborted) {
      interrupted = `cancelled after ${k - 1} of ${count} measurements`;
      break;
    }
    const elapsedMs = Math.round(clock.now() - started);
    const active = results.map((_, i) => i).filter((i) => !failedTargets.has(i));
    const [readings, baseReadings] = await Promise.all([
      Promise.all(active.map((i) => Promise.all(metrics.map((m) => read(targets[i]!, m))))),
      Promise.all(fleetMetrics.map((m) => Promise.all(baseline.map((b) => read(b, m))))),
    ]);
    const baseValues = new Map<string, number[]>();
    fleetMetrics.forEach((m, j) => {
      const values: Record<string, number | null> = {};
      baseline.forEach((b, bi) => {
        const v = baseReadings[j]![bi]!.value;
        values[b.slug] = v === undefined || Number.isNaN(v) ? null : v;
      });
      const nums = Object.values(values).filter((v): v is number => v !== null);
      baseValues.set(m.name, nums);
      baselineTicks[j]!.ticks.push({ elapsedMs, values, median: median(nums) });
    });
    const tally: Record<MeasurementPhase, number> = { successful: 0, failed: 0, inconclusive: 0 };
    active.forEach((i, ai) => {
      const res = results[i]!;
      metrics.forEach((m, mi) => {
        const r = readings[ai]![mi]!;
        const out = res.metrics[mi]!;
        const j = judge(r.value, m, m.fleet ? { values: baseValues.get(m.name) ?? [] } : undefined);
        const meas: Measurement = {
          elapsedMs,
          value: r.value,
          phase: j.phase,
          detail: r.detail,
          error: r.error,
          baseline: j.baseline,
          note: j.note,
        };
        out.query = r.query;
        out.measurements.push(meas);
        out.counts[meas.phase]++;
        const shown = r.value === undefined ? (r.error ? `error: ${r.error}` : `no data (${r.detail})`) : `${round(r.value)} (${r.detail})`;
        // Every value is in the report; the log shows what is not plainly fine (and all of it in debug).
        const line =
          `${res.target.slug} ${m.name} #${k}: ${shown} -> ` +
          `${meas.phase}${meas.baseline?.median !== undefined ? ` [baseline median ${round(meas.baseline.median)}]` : ''}${meas.note ? ` (${meas.note})` : ''}`;
        if (meas.phase === 'successful' && !meas.note) logger.debug(line);
        else logger.info(line);
        tally[meas.phase]++;
        if (out.counts.failed > m.failureLimit) out.phase = 'failed';
      });
      if (res.metrics.some((o) => o.phase === 'failed')) {
        failedTargets.add(i);
        finish(res);
        logger.warning(`${res.target.slug}: ${res.reason}`);
        if (opts.onTargetFailed) callbacks.push(Promise.resolve().then(() => opts.onTargetFailed!(res)));
      }
    });
    logger.info(
      `measurement ${k}/${count} (${formatMs(elapsedMs)}): ${tally.successful} successful, ${tally.failed} failed, ` +
        `${tally.inconclusive} without data; ${failedTargets.size} of ${targets.length} target(s) failed so far`,
    );
    if (failedTargets.size === targets.length) break;
  }
  for (const [i, res] of results.entries()) if (!failedTargets.has(i)) finish(res);
  await Promise.all(callbacks);

  const verdict: TargetVerdict = results.some((r) => r.verdict === 'failed')
    ? 'failed'
    : results.some((r) => r.verdict === 'inconclusive')
      ? 'inconclusive'
      : 'healthy';
  return {
    verdict,
    startedAt: new Date(started).toISOString(),
    durationMs: Math.round(clock.now() - started),
    windowMs: opts.durationMs,
    intervalMs: opts.intervalMs,
    targets: results,
    baseline: { tenants: fleetMetrics.length ? baseline.map((b) => b.slug) : [], metrics: baselineTicks },
    interrupted,
  };

  function finish(res: TargetAnalysis): void {
    for (const o of res.metrics) {
      if (o.phase !== 'failed') {
        const noneGood = o.counts.successful === 0;
        o.phase = o.counts.inconclusive > o.inconclusiveLimit || noneGood ? 'inconclusive' : 'successful';
      }
      o.reason = outcomeReason(o);
    }
    const failed = res.metrics.filter((o) => o.phase === 'failed');
    const unsure = res.metrics.filter((o) => o.phase === 'inconclusive');
    res.verdict = failed.length ? 'failed' : unsure.length ? 'inconclusive' : 'healthy';
    const pick = failed.length ? failed : unsure.length ? unsure : res.metrics;
    res.reason = pick.map((o) => `${o.metric}: ${o.reason}`).join('; ');
  }
}

/** Fails fast, before the window, on what no amount of waiting fixes. */
async function preflight(
  sample: TenantTarget | undefined,
  metrics: Metric[],
  ports: AnalysisPorts,
  timeoutMs: number,
  signal: AbortSignal,
): Promise<void> {
  if (!sample) return;
  for (const m of metrics) {
    if (m.provider !== 'prometheus') continue;
    const query = renderQuery(m, sample);
    try {
      await timed(ports.clock, timeoutMs, signal, (s) => measure(m, sample, ports, { windowMs: timeoutMs, signal: s, state: new Map() }));
    } catch (err) {
      if (err instanceof QueryShapeError)
        throw new ConfigurationError(`metric "${m.name}"`, `${err.message}, got it for tenant "${sample.slug}": ${query}`);
      if (err instanceof PrometheusError && err.kind === 'bad-query') {
        throw new ConfigurationError(
          `metric "${m.name}"`,
          `${err.message}; query: ${query}`,
          'fix the PromQL (try it in the Prometheus UI)',
        );
      }
      const where = ports.prometheus!.url;
      const msg = errorMessage(err);
      throw new ConfigurationError(
        `Prometheus at ${where}`,
        `cannot be queried: ${msg.replace(`cannot reach Prometheus at ${where}: `, '')}`,
        'check prometheus-url (and prometheus-token) and that the runner can reach it; nothing was measured ' +
          'and nothing was rolled back (set rollback-on-inconclusive: true to treat missing data as a breach)',
      );
    }
  }
}
