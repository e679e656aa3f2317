/**
 * The built-in latency trigger through dist/ (real helm 4, the wire-level API fake) with the REAL
 * Prometheus (Debian's package) scraping, every second, a target this test serves: a standard
 * request-duration histogram `http_request_duration_seconds_bucket{namespace, le}` whose latencies
 * the test sets per namespace. The pilot soak compares the pilot with the tenants the waves will
 * update. Nothing asserts how long anything took; waits are bounded and for data, not for time.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RolloutReport } from '../../src/rollout/report.ts';
import { startFakeKube, type FakeKube } from '../support/fake-kube/index.ts';
import { exampleChart, helmBinaries } from '../support/tools.ts';
import { freePort } from '../verify/http-server.ts';
import { runAction, annotations } from './run-action.ts';

const PROMETHEUS = process.env.PROMETHEUS_BIN || '/usr/bin/prometheus';
const tenants = ['t01', 't02', 't03', 't04'];
const BUCKETS = [0.05, 0.1, 0.2, 0.4, 0.8];
/** Seconds each namespace's requests take now; 20 requests per 100 ms tick. */
const latency = new Map(tenants.map((t) => [`tenant-${t}`, 0.08]));
const buckets = new Map<string, number[]>(); // per namespace: cumulative counts per BUCKETS + Inf

function exposition(): string {
  const lines = ['# HELP http_request_duration_seconds Request duration.', '# TYPE http_request_duration_seconds histogram'];
  for (const [ns, counts] of buckets) {
    BUCKETS.forEach((le, i) => lines.push(`http_request_duration_seconds_bucket{namespace="${ns}",le="${le}"} ${counts[i]}`));
    lines.push(`http_request_duration_seconds_bucket{namespace="${ns}",le="+Inf"} ${counts[BUCKETS.length]}`);
    lines.push(`http_request_duration_seconds_count{namespace="${ns}"} ${counts[BUCKETS.length]}`);
  }
  return `${lines.join('\n')}\n`;
}

async function until<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined> | T | undefined): Promise<T> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    const v = await Promise.resolve(probe()).catch(() => undefined);
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe('latency trigger through dist/ with the real Prometheus', () => {
  let kube: FakeKube;
  let target: Server;
  let prom: ChildProcess;
  let promUrl = '';
  let dir = '';
  let ticker: NodeJS.Timeout;

  const rollout = async (tag: string, over: Record<string, string>) => {
    const r = await runAction('tenant-rollout', {
      chart: exampleChart,
      set: `image.tag=${tag}`,
      pilot: 'ring=pilot',
      'batch-size': '100%',
      'max-parallel': '4',
      timeout: '30s',
      kubeconfig: kube.kubeconfigYaml,
      helm: helmBinaries[4],
      ...over,
    });
    return { ...r, report: r.outputs.report ? (JSON.parse(r.outputs.report) as RolloutReport) : undefined };
  };
  const revisions = (t: string) => kube.list('secrets', `tenant-${t}`).filter((s) => s.metadata.labels?.owner === 'helm').length;
  const promQuery = async (q: string) => {
    const res = await fetch(`${promUrl}/api/v1/query?query=${encodeURIComponent(q)}`);
    const body = (await res.json()) as { data?: { result?: { value: [number, string] }[] } };
    const v = Number(body.data?.result?.[0]?.value[1]);
    return Number.isFinite(v) ? v : undefined;
  };

  beforeAll(async () => {
    kube = await startFakeKube({ crashLoopIntervalMs: 200 });
    for (const t of tenants) kube.addTenantNamespaces([`tenant-${t}`], t === 't01' ? { ring: 'pilot' } : {});
    for (const ns of latency.keys()) buckets.set(ns, Array(BUCKETS.length + 1).fill(0));
    ticker = setInterval(() => {
      for (const [ns, l] of latency) {
        const c = buckets.get(ns)!;
        BUCKETS.forEach((le, i) => (c[i]! += l <= le ? 20 : 0));
        c[BUCKETS.length]! += 20;
      }
    }, 100);
    target = createServer((req, res) => {
      if (req.url !== '/metrics') return void res.writeHead(404).end();
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
      res.end(exposition());
    });
    await new Promise<void>((r) => target.listen(0, '127.0.0.1', r));
    dir = mkdtempSync(join(tmpdir(), 'latency-prom-'));
    const config = join(dir, 'prometheus.yml');
    writeFileSync(
      config,
      `global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: app\n    scrape_interval: 1s\n    scrape_timeout: 900ms\n    static_configs:\n      - targets: ['127.0.0.1:${(target.address() as AddressInfo).port}']\n`,
    );
    const port = await freePort();
    promUrl = `http://127.0.0.1:${port}`;
    prom = spawn(
      PROMETHEUS,
      [`--config.file=${config}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn'],
      { stdio: 'ignore' },
    );
    await until('Prometheus ready', 45_000, async () => ((await fetch(`${promUrl}/-/ready`)).status === 200 ? true : undefined));
    // Every tenant installed once, so the pilot has a revision to go back to.
    const first = await rollout('1.0.0', { phase: 'all', soak: '0s' });
    expect(first.code, annotations(first.stdout)).toBe(0);
    // Enough history for the window before the pilot's upgrade (soak 8s): a p95 over 10s for every tenant.
    await until('10s of latency history', 60_000, async () => {
      const v = await promQuery(
        'histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket{namespace="tenant-t01"}[10s] offset 2s)))',
      );
      return v !== undefined ? v : undefined;
    });
  }, 240_000);

  afterAll(async () => {
    clearInterval(ticker);
    if (prom && prom.exitCode === null) {
      const gone = new Promise((r) => prom.once('exit', r));
      prom.kill('SIGTERM');
      await gone;
    }
    target?.close();
    await kube?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const soak = { phase: 'pilot', soak: '8s', 'soak-interval': '2s', 'latency-metric': 'http_request_duration_seconds' };

  it("the pilot's latency doubles while the tenants not yet updated stay: the pilot is rolled back", { timeout: 180_000 }, async () => {
    const before = tenants.map(revisions);
    // The pilot's requests get slower from the moment its upgrade writes revision 2.
    const watch = setInterval(() => {
      if (revisions('t01') > before[0]!) latency.set('tenant-t01', 0.3);
    }, 100);
    const r = await rollout('1.1.0', { ...soak, 'prometheus-url': promUrl }).finally(() => clearInterval(watch));
    latency.set('tenant-t01', 0.08);
    const t01 = r.report!.tenants.find((t) => t.id === 't01')!;
    expect(t01.status, r.stdout.slice(-3000)).toBe('failed-rolled-back');
    expect(t01.error).toMatch(
      /analysis during soak after pilot: latency: p95 3[\d.]+ms over the last 8s, 9[\d.]+ms over the 8s before its upgrade, 9[\d.]+ms for the 3 tenants not yet updated: above 2x its own and above the fleet's/,
    );
    expect(r.code).not.toBe(0);
    // The tenants not yet updated were compared with, not touched.
    expect(tenants.slice(1).map(revisions)).toEqual(before.slice(1));
    expect(r.report!.tenants.map((t) => t.id)).toEqual(['t01']);
  });

  it('no data: the rollout holds, the pilot stays deployed, and the report and the summary say why', { timeout: 180_000 }, async () => {
    const r = await rollout('1.2.0', { ...soak, 'prometheus-url': promUrl, 'latency-metric': 'http_server_duration_never_exported' });
    expect(r.report!.outcome, r.stdout.slice(-3000)).toBe('held');
    expect(r.outputs.outcome).toBe('held');
    expect(r.report!.tenants.find((t) => t.id === 't01')!.status).toBe('succeeded');
    expect(r.report!.stoppedBecause).toMatch(
      /^the soak analysis after pilot had no verdict, so no further tenant starts and those deployed stay: t01: latency: no verdict, no p95 now \(no data\), before the upgrade \(no data\), for the tenants not yet updated \(no data\)/,
    );
    expect(r.summary).toMatch(/held/);
    expect(r.summary).toContain('the soak analysis after pilot had no verdict');
    expect(r.code).not.toBe(0);
  });
});
