import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAutoRollback } from '../../src/actions/auto-rollback/main.ts';
import { parseMetrics } from '../../src/analysis/metrics.ts';
import { prometheusApi } from '../../src/analysis/prometheus.ts';
import { watchAndRollBack } from '../../src/analysis/rollback.ts';
import type { WatchOptions } from '../../src/analysis/rollback.ts';
import { systemClock } from '../../src/core/clock.ts';
import { ConfigurationError } from '../../src/core/errors.ts';
import { fetchHttp } from '../../src/core/http.ts';
import type { TenantTarget } from '../../src/tenants/model.ts';
import { testContext } from '../support/action-context.ts';
import { RecordingLogger } from '../support/logger.ts';
import { freePort } from '../verify/http-server.ts';
import { RecordingRollbacker } from './fakes.ts';

// A real Prometheus (Debian's package) on 127.0.0.1, started once for this file, scraping every
// second a target this test serves: `http_requests_total{namespace, code}` counters that a ticker
// advances at per-namespace rates the tests turn up and down. The clock is real; nothing asserts
// how long anything took. Waits are bounded; the readiness of Prometheus and of the data is
// awaited, never assumed.

const PROMETHEUS = process.env.PROMETHEUS_BIN || 'prometheus';
/** Requests per 100 ms tick per namespace: ok (200) and failing (500). */
const rates = new Map<string, { ok: number; err: number }>([
  ['tenant-good', { ok: 10, err: 0 }],
  ['tenant-breach', { ok: 10, err: 0 }],
  ['tenant-act', { ok: 5, err: 5 }],
  ['tenant-fleet-new', { ok: 7, err: 3 }],
  ['tenant-fleet-old-1', { ok: 7, err: 3 }],
  ['tenant-fleet-old-2', { ok: 7, err: 3 }],
  ['tenant-fleet-old-3', { ok: 7, err: 3 }],
]);
const counters = new Map<string, number>();
let ticker: NodeJS.Timeout;
let target: Server;
let prom: ChildProcess;
let promLog = '';
let promUrl = '';
let dir = '';

function exposition(): string {
  const lines = ['# HELP http_requests_total Requests served.', '# TYPE http_requests_total counter'];
  for (const [key, v] of counters) {
    const [ns, code] = key.split('|');
    lines.push(`http_requests_total{namespace="${ns}",code="${code}"} ${v}`);
  }
  return `${lines.join('\n')}\n`;
}

async function until<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  const end = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < end) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(
    `timed out waiting for ${what}${last ? ` (last error: ${(last as Error).message})` : ''}\nprometheus log:\n${promLog.slice(-3000)}`,
  );
}

async function instant(query: string): Promise<number | undefined> {
  const r = await prometheusApi({ url: promUrl, http: fetchHttp }).query(query);
  const v = r.samples[0]?.value;
  return v === undefined || Number.isNaN(v) ? undefined : v;
}

beforeAll(async () => {
  ticker = setInterval(() => {
    for (const [ns, r] of rates) {
      counters.set(`${ns}|200`, (counters.get(`${ns}|200`) ?? 0) + r.ok);
      counters.set(`${ns}|500`, (counters.get(`${ns}|500`) ?? 0) + r.err);
    }
  }, 100);
  target = createServer((req, res) => {
    if (req.url === '/metrics') {
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
      res.end(exposition());
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((r) => target.listen(0, '127.0.0.1', r));
  const targetPort = (target.address() as AddressInfo).port;

  dir = mkdtempSync(join(tmpdir(), 'prometheus-test-'));
  const config = join(dir, 'prometheus.yml');
  writeFileSync(
    config,
    `global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n  - job_name: app\n    scrape_interval: 1s\n    scrape_timeout: 900ms\n    static_configs:\n      - targets: ['127.0.0.1:${targetPort}']\n`,
  );
  const port = await freePort();
  promUrl = `http://127.0.0.1:${port}`;
  prom = spawn(
    PROMETHEUS,
    [`--config.file=${config}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  prom.stdout!.on('data', (c: Buffer) => (promLog += c.toString()));
  prom.stderr!.on('data', (c: Buffer) => (promLog += c.toString()));
  const exited = new Promise<never>((_, reject) =>
    prom.once('exit', (code) => reject(new Error(`prometheus exited with ${code}:\n${promLog}`))),
  );
  exited.catch(() => {});
  await Promise.race([
    exited,
    until('Prometheus /-/ready', 45_000, async () => {
      const r = await fetch(`${promUrl}/-/ready`);
      return r.status === 200 ? true : undefined;
    }),
  ]);
  await until('the target to be up', 30_000, async () => ((await instant('up{job="app"}')) === 1 ? true : undefined));
  // rate() over [10s] needs two scrapes of every series.
  await until('request rates', 30_000, async () =>
    ((await instant('sum(rate(http_requests_total{namespace="tenant-good"}[10s]))')) ?? 0) > 0 ? true : undefined,
  );
}, 120_000);

afterAll(async () => {
  clearInterval(ticker);
  if (prom && prom.exitCode === null) {
    const gone = new Promise((r) => prom.once('exit', r));
    prom.kill('SIGTERM');
    const t = setTimeout(() => prom.kill('SIGKILL'), 10_000);
    await gone;
    clearTimeout(t);
  }
  await new Promise<void>((r) => (target ? target.close(() => r()) : r()));
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const ERROR_RATE = `
- name: error-rate
  provider: prometheus
  query: 'sum(rate(http_requests_total{namespace="{{ tenant.namespace }}",code=~"5.."}[10s])) / sum(rate(http_requests_total{namespace="{{ tenant.namespace }}"}[10s]))'
  failure-condition: result > 0.05
  failure-limit: 1
  inconclusive-limit: 2
`;
const tenant = (slug: string, revisionBefore?: number): TenantTarget => ({
  id: slug,
  slug,
  namespace: `tenant-${slug}`,
  release: slug,
  revisionBefore,
});

async function watch(targets: TenantTarget[], metricsYaml: string, opts: Partial<WatchOptions>, rollbacker = new RecordingRollbacker()) {
  const logger = new RecordingLogger();
  const result = await watchAndRollBack(
    targets,
    parseMetrics(metricsYaml, { source: 'metrics' }),
    { clock: systemClock, logger, http: fetchHttp, prometheus: prometheusApi({ url: promUrl, http: fetchHttp }), rollbacker },
    { durationMs: 5_000, intervalMs: 1_000, ...opts },
  );
  return { result, rollbacker, logger };
}

describe('auto-rollback against a real Prometheus', () => {
  it('sees the error rate the test turns up, and rolls back to the pre-deploy revision', async () => {
    const turnUp = setTimeout(() => rates.set('tenant-breach', { ok: 5, err: 5 }), 2_500);
    try {
      const { result, rollbacker } = await watch([tenant('breach', 7)], ERROR_RATE, { durationMs: 30_000 });
      expect(rollbacker.calls).toEqual([{ namespace: 'tenant-breach', release: 'breach', revision: 7 }]);
      expect(result.verdict).toBe('rolled-back');
      const m = result.analysis.targets[0]!.metrics[0]!;
      expect(m.query).toBe(
        'sum(rate(http_requests_total{namespace="tenant-breach",code=~"5.."}[10s])) / sum(rate(http_requests_total{namespace="tenant-breach"}[10s]))',
      );
      expect(m.phase).toBe('failed');
      // Healthy before the turn-up, breaching after it; every value is in the report.
      expect(m.measurements[0]).toMatchObject({ value: 0, phase: 'successful' });
      const failed = m.measurements.filter((x) => x.phase === 'failed');
      expect(failed).toHaveLength(2);
      for (const f of failed) expect(f.value!).toBeGreaterThan(0.05);
      expect(m.reason).toMatch(/^2 of \d+ measurements breached result > 0\.05 \(failure limit 1\): /);
    } finally {
      clearTimeout(turnUp);
    }
  });

  it('does not roll back a healthy target', async () => {
    const { result, rollbacker } = await watch([tenant('good', 3)], ERROR_RATE, {});
    expect(rollbacker.calls).toEqual([]);
    expect(result.verdict).toBe('healthy');
    const m = result.analysis.targets[0]!.metrics[0]!;
    expect(m.measurements.length).toBe(5);
    expect(m.measurements.filter((x) => x.value === 0).length).toBeGreaterThanOrEqual(3);
  });

  it('is inconclusive, and rolls nothing back, when the query has no series', async () => {
    const { result, rollbacker } = await watch([tenant('missing', 3)], ERROR_RATE, { durationMs: 3_000 });
    expect(rollbacker.calls).toEqual([]);
    expect(result.verdict).toBe('inconclusive');
    const m = result.analysis.targets[0]!.metrics[0]!;
    expect(m.measurements.map((x) => [x.value, x.detail])).toEqual([
      [undefined, 'no series'],
      [undefined, 'no series'],
      [undefined, 'no series'],
    ]);
    expect(m.reason).toBe('no data in any of 3 measurements');
  });

  it("does not roll back a tenant whose error rate is the whole fleet's (fleet comparison)", async () => {
    const yaml = `${ERROR_RATE}  fleet: { margin: 0.1 }\n`;
    const { result, rollbacker } = await watch([tenant('fleet-new', 4)], yaml, {
      durationMs: 4_000,
      baseline: [tenant('fleet-old-1'), tenant('fleet-old-2'), tenant('fleet-old-3')],
    });
    expect(rollbacker.calls).toEqual([]);
    expect(result.verdict).toBe('healthy');
    const m = result.analysis.targets[0]!.metrics[0]!;
    for (const x of m.measurements.filter((y) => y.value !== undefined)) {
      // ~30% errors: over the 5% condition, but within 0.1 of the fleet's median.
      expect(x.value!).toBeGreaterThan(0.05);
      expect(x.note).toMatch(/but so does the fleet/);
      expect(x.baseline!.tenants).toBe(3);
    }
    expect(result.analysis.baseline.metrics[0]!.ticks.length).toBe(4);
  });

  it('rejects PromQL that does not parse before watching, naming the metric and the query', async () => {
    const yaml =
      '- name: broken\n  provider: prometheus\n  query: \'sum(rate(http_requests_total{namespace="{{ tenant.namespace }}"}[10s]\'\n  failure-condition: result > 1';
    const err = await watch([tenant('good', 3)], yaml, {}).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigurationError);
    expect((err as Error).message).toMatch(
      /^metric "broken": Prometheus rejected the query \(bad_data\): .*; query: sum\(rate\(http_requests_total\{namespace="tenant-good"\}\[10s\]/,
    );
  });

  it('through the action: watches a release, rolls it back, and reports the measurements', async () => {
    const rollbacker = new RecordingRollbacker();
    const ctx = testContext({
      release: 'act',
      namespace: 'tenant-act',
      'revision-before': '12',
      'prometheus-url': promUrl,
      'prometheus-token': 'prom-secret-token',
      metrics: ERROR_RATE,
      duration: '6s',
      interval: '1s',
    });
    const action = createAutoRollback({ createRollbacker: async () => rollbacker });
    await expect(action.main(ctx)).rejects.toThrow(
      /^auto-rollback: 1 target\(s\) breached and were rolled back to their pre-deploy revision: tenant-act\/act; act: error-rate: 2 of 2 measurements breached/,
    );
    expect(rollbacker.calls).toEqual([{ namespace: 'tenant-act', release: 'act', revision: 12 }]);
    expect(ctx.outputs.verdict).toBe('rolled-back');
    expect(ctx.outputs['rolled-back']).toBe('tenant-act/act');
    const report = JSON.parse(ctx.outputs.report!) as {
      analysis: { targets: { metrics: { query: string; measurements: { value: number }[] }[] }[] };
    };
    expect(report.analysis.targets[0]!.metrics[0]!.query).toContain('namespace="tenant-act"');
    expect(report.analysis.targets[0]!.metrics[0]!.measurements.map((x) => x.value > 0.05)).toEqual([true, true]);
    expect(ctx.summaries.join('\n')).toContain('| ↩️ rolled-back | act | tenant-act/act | 12 |');
    expect(ctx.masked).toContain('prom-secret-token');
  });
});

describe('an unreachable Prometheus', () => {
  it('is one clear error before the window, and nothing is rolled back', async () => {
    const port = await freePort();
    const rollbacker = new RecordingRollbacker();
    const ctx = testContext({
      release: 'a',
      namespace: 'tenant-a',
      'revision-before': '3',
      'prometheus-url': `http://127.0.0.1:${port}`,
      metrics: ERROR_RATE,
      duration: '5m',
      interval: '30s',
    });
    const action = createAutoRollback({ createRollbacker: async () => rollbacker });
    const err = await action.main(ctx).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigurationError);
    expect((err as Error).message).toBe(
      `Prometheus at http://127.0.0.1:${port}: cannot be queried: connect ECONNREFUSED 127.0.0.1:${port} (check prometheus-url (and prometheus-token) and that the runner can reach it; nothing was measured and nothing was rolled back (set rollback-on-inconclusive: true to treat missing data as a breach))`,
    );
    expect(rollbacker.calls).toEqual([]);
    expect(ctx.outputs.verdict).toBeUndefined();
  });
});
