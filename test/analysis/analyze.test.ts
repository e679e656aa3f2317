import { describe, expect, it } from 'vitest';
import { analyze, judge, median } from '../../src/analysis/analyze.ts';
import type { AnalysisResult } from '../../src/analysis/analyze.ts';
import { parseMetrics } from '../../src/analysis/metrics.ts';
import type { Metric } from '../../src/analysis/metrics.ts';
import { PrometheusError } from '../../src/analysis/prometheus.ts';
import { analysisSummary } from '../../src/analysis/report.ts';
import { watchAndRollBack } from '../../src/analysis/rollback.ts';
import type { WatchOptions } from '../../src/analysis/rollback.ts';
import type { AnalysisPorts } from '../../src/analysis/providers.ts';
import { ConfigurationError } from '../../src/core/errors.ts';
import type { TenantTarget } from '../../src/tenants/model.ts';
import { RecordingLogger } from '../support/logger.ts';
import { FakeCluster, FakeHttp, VirtualClock, health, json, pod, workload } from '../verify/fakes.ts';
import { FakePrometheus, RecordingRollbacker, unreachable } from './fakes.ts';

const tenant = (slug: string, revisionBefore?: number): TenantTarget => ({
  id: slug,
  slug,
  namespace: `tenant-${slug}`,
  release: slug,
  status: 'succeeded',
  revisionBefore,
});
const Q = (ns: string) =>
  `sum(rate(http_requests_total{namespace="${ns}",code=~"5.."}[1m])) / sum(rate(http_requests_total{namespace="${ns}"}[1m]))`;
const errorRate = (extra = '') =>
  parseMetrics(
    `- name: error-rate
  provider: prometheus
  query: 'sum(rate(http_requests_total{namespace="{{ tenant.namespace }}",code=~"5.."}[1m])) / sum(rate(http_requests_total{namespace="{{ tenant.namespace }}"}[1m]))'
  failure-condition: result > 0.05
${extra}`,
    { source: 'metrics' },
  );

const window: WatchOptions = { durationMs: 5 * 60_000, intervalMs: 60_000 };

async function watch(
  targets: TenantTarget[],
  metrics: Metric[],
  ports: Partial<AnalysisPorts>,
  opts: Partial<WatchOptions> = {},
  rollbacker = new RecordingRollbacker(),
) {
  const clock = new VirtualClock();
  const logger = new RecordingLogger();
  const result = await watchAndRollBack(targets, metrics, { clock, logger, ...ports, rollbacker }, { ...window, ...opts });
  return { result, rollbacker, clock, logger };
}

const values = (a: AnalysisResult, slug: string, metric = 'error-rate') =>
  a.targets
    .find((t) => t.target.slug === slug)!
    .metrics.find((m) => m.metric === metric)!
    .measurements.map((m) => m.value ?? null);

describe('analysis and rollback (fake ports, virtual clock)', () => {
  it('rolls a breaching tenant back to the revision recorded before the deploy, as soon as it breaches', async () => {
    const prom = new FakePrometheus()
      // The first answer goes to the preflight query.
      .on(Q('tenant-bad'), 0.01, 0.01, 0.01, 0.2, 0.3, 0.4)
      .on(Q('tenant-good'), 0.01);
    const { result, rollbacker, logger } = await watch([tenant('bad', 4), tenant('good', 9)], errorRate('  failure-limit: 1'), {
      prometheus: prom,
    });
    expect(rollbacker.calls).toEqual([{ namespace: 'tenant-bad', release: 'bad', revision: 4 }]);
    expect(result.verdict).toBe('rolled-back');
    expect(result.rolledBack).toEqual(['tenant-bad/bad']);
    const bad = result.analysis.targets[0]!;
    expect(bad.verdict).toBe('failed');
    const m = bad.metrics[0]!;
    // Preflight (1) + measurements 1..4: the 4th is the second failure (> failure-limit 1); then it is no longer measured.
    expect(values(result.analysis, 'bad')).toEqual([0.01, 0.01, 0.2, 0.3]);
    expect(m.measurements.map((x) => x.phase)).toEqual(['successful', 'successful', 'failed', 'failed']);
    expect(m.measurements.map((x) => x.elapsedMs)).toEqual([60_000, 120_000, 180_000, 240_000]);
    expect(m.query).toBe(Q('tenant-bad'));
    expect(m.reason).toBe('2 of 4 measurements breached result > 0.05 (failure limit 1): 0.2, 0.3');
    expect(bad.reason).toBe(`error-rate: ${m.reason}`);
    expect(result.rollbacks[0]).toMatchObject({ tenant: 'bad', revision: 4, status: 'rolled-back', reason: bad.reason });
    // The good tenant is watched to the end of the window and left alone.
    expect(values(result.analysis, 'good')).toEqual([0.01, 0.01, 0.01, 0.01, 0.01]);
    expect(result.analysis.targets[1]!.verdict).toBe('healthy');
    expect(logger.text()).toContain('rolling back bad in tenant-bad to revision 4, recorded before the deploy');
  });

  it('leaves a healthy release alone', async () => {
    const prom = new FakePrometheus().on(Q('tenant-a'), 0.01, 0.02, 0.05, 0, 0.049);
    const { result, rollbacker, clock } = await watch([tenant('a', 3)], errorRate(), { prometheus: prom });
    expect(result.verdict).toBe('healthy');
    expect(rollbacker.calls).toEqual([]);
    expect(result.analysis.targets[0]!.metrics[0]).toMatchObject({
      phase: 'successful',
      counts: { successful: 5, failed: 0, inconclusive: 0 },
      reason: '5 of 5 measurements within result > 0.05',
    });
    // One measurement per interval over the window (after the preflight query).
    expect(prom.queries).toHaveLength(6);
    expect(clock.now() - 1_700_000_000_000).toBe(300_000);
  });

  it('no data is inconclusive, not success, and is not rolled back', async () => {
    const prom = new FakePrometheus().on(Q('tenant-a'), null, null, NaN, null, null, null);
    const { result, rollbacker } = await watch([tenant('a', 3)], errorRate('  inconclusive-limit: 10'), { prometheus: prom });
    expect(result.verdict).toBe('inconclusive');
    expect(rollbacker.calls).toEqual([]);
    const m = result.analysis.targets[0]!.metrics[0]!;
    // Within the inconclusive limit, but not one successful measurement: still inconclusive.
    expect(m).toMatchObject({ phase: 'inconclusive', reason: 'no data in any of 5 measurements' });
    expect(m.measurements.map((x) => x.detail)).toEqual([
      'no series',
      'NaN (e.g. 0/0: no traffic in the window)',
      'no series',
      'no series',
      'no series',
    ]);
  });

  it('inconclusive measurements beyond the limit make the metric inconclusive; within it they do not', async () => {
    const answers = [0.01, null, 0.01, null, 0.01];
    const over = await watch([tenant('a', 3)], errorRate('  inconclusive-limit: 1'), {
      prometheus: new FakePrometheus().on(Q('tenant-a'), 0.01, ...answers),
    });
    expect(over.result.verdict).toBe('inconclusive');
    expect(over.result.analysis.targets[0]!.reason).toBe('error-rate: 2 of 5 measurements had no data (inconclusive limit 1)');
    const within = await watch([tenant('a', 3)], errorRate('  inconclusive-limit: 2'), {
      prometheus: new FakePrometheus().on(Q('tenant-a'), 0.01, ...answers),
    });
    expect(within.result.verdict).toBe('healthy');
    expect(within.result.analysis.targets[0]!.reason).toBe('error-rate: 3 of 5 measurements within result > 0.05, 2 without data');
  });

  it('rolls back inconclusive targets only when asked to', async () => {
    const prom = new FakePrometheus().on(Q('tenant-a'), null);
    const { result, rollbacker } = await watch([tenant('a', 3)], errorRate(), { prometheus: prom }, { rollbackOnInconclusive: true });
    expect(rollbacker.calls).toEqual([{ namespace: 'tenant-a', release: 'a', revision: 3 }]);
    expect(result.verdict).toBe('rolled-back');
  });

  it('never rolls back to "whatever is previous": no recorded revision means no rollback, and the verdict is failed', async () => {
    const prom = new FakePrometheus().on(Q('tenant-new'), 0.5);
    const { result, rollbacker } = await watch([tenant('new')], errorRate(), { prometheus: prom });
    expect(rollbacker.calls).toEqual([]);
    expect(result.verdict).toBe('failed');
    expect(result.rollbacks[0]).toMatchObject({
      status: 'failed',
      error: expect.stringContaining('no revision was recorded before the deploy'),
    });
  });

  it('a breaching first install (nothing deployed before it) is uninstalled: the one returnToGood policy', async () => {
    const prom = new FakePrometheus().on(Q('tenant-new'), 0.5);
    const rollbacker = new RecordingRollbacker([], { new: ['deployed'] });
    const { result } = await watch([tenant('new')], errorRate(), { prometheus: prom }, {}, rollbacker);
    expect(rollbacker.uninstalled).toEqual(['tenant-new/new']);
    expect(rollbacker.calls).toEqual([]);
    expect(result.rollbacks[0]).toMatchObject({ status: 'uninstalled' });
    expect(result.rolledBack).toEqual(['tenant-new/new']);
    expect(result.verdict).toBe('rolled-back');
  });

  it('a rollback that fails makes the verdict failed and names the error', async () => {
    const prom = new FakePrometheus().on(Q('tenant-a'), 0.5).on(Q('tenant-b'), 0.5);
    const { result } = await watch([tenant('a', 2), tenant('b', 7)], errorRate(), { prometheus: prom }, {}, new RecordingRollbacker(['b']));
    expect(result.verdict).toBe('failed');
    expect(result.rolledBack).toEqual(['tenant-a/a']);
    expect(result.rollbacks.find((r) => r.tenant === 'b')).toMatchObject({
      status: 'failed',
      revision: 7,
      error: 'helm rollback b: timed out waiting for the condition',
    });
  });

  it('with rollback disabled, reports what it would do and rolls nothing back', async () => {
    const prom = new FakePrometheus().on(Q('tenant-a'), 0.5);
    const { result, rollbacker } = await watch([tenant('a', 2)], errorRate(), { prometheus: prom }, { dryRun: true });
    expect(rollbacker.calls).toEqual([]);
    expect(result.rollbacks[0]).toMatchObject({ status: 'not-rolled-back', revision: 2 });
    expect(result.verdict).toBe('failed');
  });

  describe('fleet comparison', () => {
    const fleet = errorRate('  fleet: { margin: 0.05 }');
    const baseline = [tenant('old-1'), tenant('old-2'), tenant('old-3')];

    it('a fleet-wide blip does not roll back a good release; a tenant worse than the fleet by the margin is', async () => {
      const prom = new FakePrometheus()
        .on(Q('tenant-new-ok'), 0.2)
        .on(Q('tenant-new-bad'), 0.2, 0.2, 0.45)
        .on(Q('tenant-old-1'), 0.18)
        .on(Q('tenant-old-2'), 0.22)
        .on(Q('tenant-old-3'), 0.19);
      const { result, rollbacker } = await watch([tenant('new-ok', 5), tenant('new-bad', 6)], fleet, { prometheus: prom }, { baseline });
      expect(rollbacker.calls).toEqual([{ namespace: 'tenant-new-bad', release: 'new-bad', revision: 6 }]);
      const ok = result.analysis.targets[0]!.metrics[0]!;
      expect(ok.phase).toBe('successful');
      expect(ok.measurements[0]).toMatchObject({ value: 0.2, phase: 'successful', baseline: { median: 0.19, tenants: 3 } });
      expect(ok.measurements[0]!.baseline!.limit).toBeCloseTo(0.24);
      expect(ok.measurements[0]!.note).toBe(
        'breaches result > 0.05, but so does the fleet: within the margin of the baseline median 0.19 (limit 0.24)',
      );
      const bad = result.analysis.targets[1]!.metrics[0]!;
      expect(bad.measurements.map((m) => m.phase)).toEqual(['successful', 'successful', 'failed']);
      // Every baseline value is in the report.
      expect(result.analysis.baseline.tenants).toEqual(['old-1', 'old-2', 'old-3']);
      expect(result.analysis.baseline.metrics[0]!.ticks[0]).toEqual({
        elapsedMs: 60_000,
        values: { 'old-1': 0.18, 'old-2': 0.22, 'old-3': 0.19 },
        median: 0.19,
      });
    });

    it('without baseline data, falls back to the condition alone and says so', async () => {
      const prom = new FakePrometheus()
        .on(Q('tenant-new'), 0.2)
        .on(Q('tenant-old-1'), null)
        .on(Q('tenant-old-2'), null)
        .on(Q('tenant-old-3'), null);
      const { result } = await watch([tenant('new', 5)], fleet, { prometheus: prom }, { baseline });
      const m = result.analysis.targets[0]!.metrics[0]!.measurements[0]!;
      expect(m).toMatchObject({ phase: 'failed', note: 'baseline has data for 0 tenant(s), fewer than 1: judged on the condition alone' });
      expect(result.verdict).toBe('rolled-back');
    });

    it('judges "worse" in the direction of the condition, absolute or relative', () => {
      const [higher] = parseMetrics('- name: m\n  provider: logs\n  failure-condition: result > 0.1\n  fleet: { margin: 50% }', {
        source: 'x',
      });
      expect(judge(0.3, higher!, { values: [0.2, 0.2] }).phase).toBe('successful'); // limit 0.3
      expect(judge(0.31, higher!, { values: [0.2, 0.2] }).phase).toBe('failed');
      const [lower] = parseMetrics('- name: m\n  provider: logs\n  failure-condition: result < 0.99\n  fleet: { margin: 0.01 }', {
        source: 'x',
      });
      expect(judge(0.975, lower!, { values: [0.98] }).phase).toBe('successful'); // a fleet-wide dip in success rate
      expect(judge(0.9, lower!, { values: [0.98] }).phase).toBe('failed');
      expect(judge(undefined, lower!, { values: [0.98] }).phase).toBe('inconclusive');
      expect(median([3, 1, 2])).toBe(2);
      expect(median([4, 1, 2, 3])).toBe(2.5);
      expect(median([])).toBeUndefined();
    });
  });

  describe('Prometheus errors', () => {
    it('an unreachable Prometheus is one clear error before the window, and nothing is rolled back', async () => {
      const prom = new FakePrometheus().on(Q('tenant-a'), unreachable());
      const rollbacker = new RecordingRollbacker();
      const err = await watch([tenant('a', 3)], errorRate(), { prometheus: prom }, {}, rollbacker).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ConfigurationError);
      expect((err as Error).message).toBe(
        'Prometheus at http://prometheus.test:9090: cannot be queried: connect ECONNREFUSED 10.0.0.1:9090 (check prometheus-url (and prometheus-token) and that the runner can reach it; nothing was measured and nothing was rolled back (set rollback-on-inconclusive: true to treat missing data as a breach))',
      );
      expect(rollbacker.calls).toEqual([]);
    });

    it('when Prometheus goes away during the window, the measurements are inconclusive (with the error), not a breach', async () => {
      const prom = new FakePrometheus().on(Q('tenant-a'), 0.01, 0.01, unreachable());
      const { result, rollbacker } = await watch([tenant('a', 3)], errorRate(), { prometheus: prom });
      expect(rollbacker.calls).toEqual([]);
      expect(result.verdict).toBe('inconclusive');
      const m = result.analysis.targets[0]!.metrics[0]!;
      expect(m.measurements[1]).toMatchObject({ phase: 'inconclusive', error: expect.stringContaining('ECONNREFUSED') });
      expect(m.reason).toContain('4 of 5 measurements had no data (inconclusive limit 0); last error: cannot reach Prometheus');
    });

    it('with rollback on missing data asked for, an unreachable Prometheus rolls back', async () => {
      const prom = new FakePrometheus().on(Q('tenant-a'), unreachable());
      const { result, rollbacker } = await watch(
        [tenant('a', 3)],
        errorRate(),
        { prometheus: prom },
        { preflight: false, rollbackOnInconclusive: true },
      );
      expect(rollbacker.calls).toEqual([{ namespace: 'tenant-a', release: 'a', revision: 3 }]);
      expect(result.verdict).toBe('rolled-back');
    });

    it('a query Prometheus rejects, or one returning several series, fails before the window naming the metric and query', async () => {
      const bad = new FakePrometheus().on(
        Q('tenant-a'),
        new PrometheusError('bad-query', 'Prometheus rejected the query (bad_data): parse error at char 5', 400),
      );
      const e1 = await watch([tenant('a', 3)], errorRate(), { prometheus: bad }).catch((e: unknown) => e);
      expect((e1 as Error).message).toBe(
        `metric "error-rate": Prometheus rejected the query (bad_data): parse error at char 5; query: ${Q('tenant-a')} (fix the PromQL (try it in the Prometheus UI))`,
      );
      const many = new FakePrometheus().on(Q('tenant-a'), [0.1, 0.2]);
      const e2 = await watch([tenant('a', 3)], errorRate(), { prometheus: many }).catch((e: unknown) => e);
      expect((e2 as Error).message).toContain(
        'metric "error-rate": the query returns 2 series; aggregate it (e.g. sum(...) or max(...)) so it returns one number, got it for tenant "a"',
      );
    });

    it('a metric whose source is not configured is an error', async () => {
      const e = await watch([tenant('a', 3)], errorRate(), {}).catch((x: unknown) => x);
      expect((e as Error).message).toBe(
        'metric "error-rate": uses the prometheus provider, which needs a Prometheus URL (set the prometheus-url input)',
      );
    });
  });

  describe('kubernetes, logs and http providers', () => {
    const NS = 'tenant-a';
    it('kubernetes: crash loops, not-ready pods and restarts since the start of the window', async () => {
      const metrics = parseMetrics(
        '- name: crash\n  provider: kubernetes\n  query: crash-loops\n- name: not-ready\n  provider: kubernetes\n  query: not-ready\n  failure-limit: 10\n- name: restarts\n  provider: kubernetes\n  query: restarts\n  failure-condition: result > 2',
        { source: 'x' },
      );
      const h = (restarts: number, reasons: string[] = [], ready = true) =>
        health(
          NS,
          'a',
          [workload({ name: 'app' })],
          [pod({ name: 'app-1', restarts: 5 }), pod({ name: 'app-2', restarts, reasons, ready })],
        );
      const clock = new VirtualClock();
      // The release as it is at each minute of the window: fine, fine, not ready, crash looping.
      const cluster = new FakeCluster().setHealth(NS, 'a', () => {
        const minute = Math.round((clock.now() - 1_700_000_000_000) / 60_000);
        return minute <= 2 ? h(1) : minute === 3 ? h(2, [], false) : h(4, ['CrashLoopBackOff'], false);
      });
      const rollbacker = new RecordingRollbacker();
      const result = await watchAndRollBack(
        [tenant('a', 3)],
        metrics,
        { clock, logger: new RecordingLogger(), cluster, rollbacker },
        window,
      );
      const [crash, notReady, restarts] = result.analysis.targets[0]!.metrics;
      expect(crash!.measurements.map((m) => m.value)).toEqual([0, 0, 0, 1]);
      expect(crash!.measurements[3]!.detail).toBe('app-2 (CrashLoopBackOff, 4 restarts)');
      expect(notReady!.measurements.map((m) => m.value)).toEqual([0, 0, 1, 1]);
      // app-1 had 5 restarts before the window: not counted.
      expect(restarts!.measurements.map((m) => m.value)).toEqual([0, 0, 1, 3]);
      expect(restarts!.measurements[3]).toMatchObject({ phase: 'failed', detail: 'app-2 +3' });
      expect(rollbacker.calls).toEqual([{ namespace: NS, release: 'a', revision: 3 }]);
    });

    it("logs: the seeds' method, error lines over request lines in the last interval; no requests is no data", async () => {
      const [logs] = parseMetrics('- name: logs\n  provider: logs\n  inconclusive-limit: 1', { source: 'x' });
      const h = health(NS, 'a', [workload({ name: 'app' })], [pod({ name: 'app-1' }), pod({ name: 'app-2' })]);
      const lines = (ok: number, errors: number) =>
        [
          ...Array.from({ length: ok }, () => 'INFO HTTP GET /api 200'),
          ...Array.from({ length: errors }, () => 'ERROR HTTP GET /api 500'),
        ].join('\n');
      const cluster = new FakeCluster()
        .setHealth(NS, 'a', h)
        .setLogs(NS, 'app-1', lines(50, 1), 'INFO idle', lines(45, 5))
        .setLogs(NS, 'app-2', lines(49, 0), 'INFO idle', lines(40, 10));
      const { result, rollbacker } = await watch([tenant('a', 3)], [logs!], { cluster }, { durationMs: 90_000, intervalMs: 30_000 });
      const m = result.analysis.targets[0]!.metrics[0]!;
      expect(m.measurements.map((x) => x.value ?? null)).toEqual([0.01, null, 0.15]);
      expect(m.measurements[0]!.detail).toBe('1 error lines / 100 request lines from 2 pods over the last 30s');
      expect(m.measurements[1]!.detail).toBe('0 error lines / 0 request lines from 2 pods over the last 30s');
      expect(cluster.calls).toContain(`podLogs ${NS}/app-1 30`);
      expect(rollbacker.calls).toEqual([{ namespace: NS, release: 'a', revision: 3 }]);
    });

    it('http: each measurement samples the checks once; the error ratio is the value', async () => {
      const [smoke] = parseMetrics(
        "- name: smoke\n  provider: http\n  url: https://{{ tenant.slug }}.isp.example.com\n  failure-condition: result >= 0.5\n  checks:\n    - path: /api/health\n      json: '$.status == \"ok\"'\n    - path: /api/ready\n      json: '$.ready == true'",
        { source: 'x' },
      );
      let n = 0;
      const http = new FakeHttp({
        'GET https://a.isp.example.com/api/health': () => json(200, { status: 'ok' }),
        'GET https://a.isp.example.com/api/ready': () => (++n >= 3 ? json(503, { ready: false }) : json(200, { ready: true })),
      });
      const { result, rollbacker } = await watch([tenant('a', 3)], [smoke!], { http });
      const m = result.analysis.targets[0]!.metrics[0]!;
      expect(m.measurements.map((x) => x.value)).toEqual([0, 0, 0.5]);
      expect(m.measurements[2]!.detail).toBe('1/2 failed: /api/ready (status 503, expected 2xx|3xx; $.ready == true: found false)');
      expect(m.query).toBe('2 checks at https://a.isp.example.com');
      expect(rollbacker.calls).toHaveLength(1);
      expect(http.requests).toHaveLength(6);
    });

    it('a measurement that hangs is cut at its timeout and counts as no data', async () => {
      const clock = new VirtualClock();
      const cluster = new FakeCluster();
      cluster.releaseHealth = (() => new Promise(() => {})) as FakeCluster['releaseHealth'];
      const metrics = parseMetrics('- name: crash\n  provider: kubernetes', { source: 'x' });
      const r = await analyze(
        [tenant('a', 3)],
        metrics,
        { clock, logger: new RecordingLogger(), cluster },
        { durationMs: 120_000, intervalMs: 60_000, measureTimeoutMs: 5_000 },
      );
      expect(r.verdict).toBe('inconclusive');
      expect(r.targets[0]!.metrics[0]!.measurements.map((m) => m.error)).toEqual(['no answer within 5s', 'no answer within 5s']);
    });
  });

  it('writes a job summary with the verdict, the rollback, the templated query and every measured value', async () => {
    const prom = new FakePrometheus().on(Q('tenant-bad'), 0.01, 0.02, 0.31).on(Q('tenant-good'), 0.01);
    const { result } = await watch([tenant('good', 2), tenant('bad', 4)], errorRate(), { prometheus: prom });
    const md = analysisSummary(result);
    expect(md).toContain('### Auto-rollback: ↩️ rolled-back');
    expect(md).toContain(
      '| ↩️ rolled-back | bad | tenant-bad/bad | 4 | error-rate: 1 of 3 measurements breached result > 0.05 (failure limit 0): 0.31 |',
    );
    const rows = md.split('\n').filter((l) => l.startsWith('| ❌') || l.startsWith('| ✅'));
    expect(rows[0]).toBe(
      `| ❌ | bad | error-rate | \`${Q('tenant-bad')}\` | \`result > 0.05\` | 0.01, 0.02, **0.31** | 1 of 3 measurements breached result > 0.05 (failure limit 0): 0.31 |`,
    );
    expect(rows[1]).toMatch(
      /^\| ✅ \| good \| error-rate \| .* \| 0\.01, 0\.01, 0\.01, 0\.01, 0\.01 \| 5 of 5 measurements within result > 0\.05 \|$/,
    );
  });
});
