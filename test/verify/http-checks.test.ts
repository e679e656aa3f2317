import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../../src/core/clock.ts';
import { defaultChecks, parseChecks } from '../../src/verify/checks.ts';
import type { CheckDefaults } from '../../src/verify/checks.ts';
import { fetchHttp } from '../../src/core/http.ts';
import { smokeSummary } from '../../src/verify/report.ts';
import { runSmokeChecks } from '../../src/verify/smoke.ts';
import type { CheckResult, SmokeReport, SmokeTarget } from '../../src/verify/smoke.ts';
import { RecordingLogger } from '../support/logger.ts';
import { FakeHttp, VirtualClock, json } from './fakes.ts';
import { TestServer, freePort } from './http-server.ts';

// Real requests over fetch against a local node:http server, with the real clock: timeouts and
// latency limits are real. Nothing asserts how long anything took; only what the checks decided.
const server = new TestServer();
beforeAll(async () => {
  await server.start();
});
afterAll(async () => {
  await server.stop();
});

const fast: CheckDefaults = { timeoutMs: 5_000, retries: 0, retryDelayMs: 50 };

async function run(
  yaml: string | undefined,
  opts: { targets?: SmokeTarget[]; defaults?: CheckDefaults; deadlineMs?: number; concurrency?: number } = {},
): Promise<SmokeReport> {
  const checks = yaml
    ? parseChecks(yaml, { source: 'input "checks"', defaults: opts.defaults ?? fast })
    : defaultChecks(opts.defaults ?? fast);
  return runSmokeChecks(
    opts.targets ?? [{ name: 'local', url: server.url }],
    checks,
    { clock: systemClock, logger: new RecordingLogger(), http: fetchHttp },
    { concurrency: opts.concurrency ?? 4, deadlineMs: opts.deadlineMs ?? 30_000 },
  );
}

const byName = (r: SmokeReport) =>
  Object.fromEntries(r.targets.flatMap((t) => t.checks).map((c) => [c.check, c])) as Record<string, CheckResult>;

describe('HTTP checks against a local server', () => {
  it("pass the seeds' default checks, reporting status, latency and the JSON values found", async () => {
    const r = await run(undefined);
    expect(r.passed).toBe(true);
    const c = byName(r);
    expect(Object.keys(c)).toEqual(['home', 'login', 'api-health', 'api-ready']);
    // /login answers 302: like curl -sf, a redirect passes and is not followed.
    expect(c.login).toMatchObject({ passed: true, status: 302, attempts: 1 });
    expect(c['api-health']).toMatchObject({
      passed: true,
      status: 200,
      json: [{ expression: '$.status == "ok"', found: 'ok', passed: true }],
    });
    expect(c['api-health']!.measured).toMatch(/^status 200, \d+ ms, \$\.status = "ok"$/);
    expect(c['api-ready']!.json).toEqual([{ expression: '$.ready == true', found: true, passed: true }]);
    expect(typeof c.home!.latencyMs).toBe('number');
    expect(r.totals).toEqual({ targets: 1, failedTargets: 0, checks: 4, failedChecks: 0 });
  });

  it('checks every expectation type, and reports each failure with the measured value', async () => {
    const r = await run(`
- name: status-ok
  path: /api/health
  status: 200
- name: status-list
  path: /api/down
  status: [200, 204]
- name: status-class
  path: /api/down
  status: 5xx
- name: contains-ok
  path: /
  body-contains: [Welcome, ISP Ops]
- name: contains-missing
  path: /
  body-contains: Maintenance
- name: regex-ok
  path: /
  body-regex: 'build v\\d+\\.\\d+\\.\\d+'
- name: regex-miss
  path: /
  body-regex: 'build v2\\.'
- name: json-ok
  path: /api/health
  json: ['$.status == "ok"', '$.items.length > 0', '$.items[1].id == 2', '$.db.latencyMs < 100', '$.version']
- name: json-wrong-value
  path: /api/down
  status: 503
  json: '$.status == "ok"'
- name: json-empty-list
  path: /api/empty
  json: '$.items.length > 0'
- name: json-missing
  path: /api/ready
  json: '$.status == "ok"'
- name: not-json
  path: /not-json
  json: '$.ready == true'
- name: follow
  path: /login
  follow-redirects: true
  status: 200
  body-contains: Sign in
- name: method-and-headers
  path: /echo
  method: POST
  headers: { Authorization: 'Bearer t0ken-abc', X-Tenant: acme }
  json: ['$.method == "POST"', '$.authorization == "Bearer t0ken-abc"', '$.tenant == "acme"']
- name: slow-over-limit
  path: /slow?ms=400
  max-latency: 50ms
- name: slow-within-limit
  path: /slow?ms=10
  max-latency: 4s
`);
    const c = byName(r);
    const passed = Object.fromEntries(Object.entries(c).map(([k, v]) => [k, v.passed]));
    expect(passed).toEqual({
      'status-ok': true,
      'status-list': false,
      'status-class': true,
      'contains-ok': true,
      'contains-missing': false,
      'regex-ok': true,
      'regex-miss': false,
      'json-ok': true,
      'json-wrong-value': false,
      'json-empty-list': false,
      'json-missing': false,
      'not-json': false,
      follow: true,
      'method-and-headers': true,
      'slow-over-limit': false,
      'slow-within-limit': true,
    });
    expect(c['status-list']!.problems).toEqual(['status 503, expected 200|204']);
    expect(c['contains-missing']!.problems).toEqual(['body does not contain "Maintenance"']);
    expect(c['regex-miss']!.problems).toEqual(['body does not match /build v2\\./']);
    expect(c['json-wrong-value']).toMatchObject({
      status: 503,
      problems: ['$.status == "ok": found "down"'],
      json: [{ found: 'down', passed: false }],
    });
    expect(c['json-wrong-value']!.measured).toContain('$.status = "down"');
    expect(c['json-empty-list']).toMatchObject({ problems: ['$.items.length > 0: found 0'], json: [{ found: 0 }] });
    expect(c['json-missing']!.problems).toEqual(['$.status == "ok": not found']);
    expect(c['not-json']!.problems[0]).toMatch(/^body is not JSON: "<html>maintenance/);
    expect(c['json-ok']!.json!.map((j) => j.found)).toEqual(['ok', 2, 2, 3, '1.3.0']);
    expect(c['slow-over-limit']!.latencyMs).toBeGreaterThan(50);
    expect(c['slow-over-limit']!.problems[0]).toMatch(/^latency \d+ ms over the limit of 50 ms$/);
    expect(c['slow-over-limit']!.status).toBe(200);
    expect(r.passed).toBe(false);
    expect(r.totals.failedChecks).toBe(8);
  });

  it('retries a failing check and passes once the service recovers', async () => {
    const r = await run(`
- name: recovers
  path: /flaky?key=a&fail=2
  retries: 3
  retry-delay: 20ms
- name: gives-up
  path: /flaky?key=b&fail=5
  retries: 1
  retry-delay: 20ms
`);
    const c = byName(r);
    expect(c.recovers).toMatchObject({ passed: true, attempts: 3, status: 200 });
    expect(c['gives-up']).toMatchObject({ passed: false, attempts: 2, status: 503, problems: ['status 503, expected 2xx|3xx'] });
    expect(server.requests.filter((q) => q.url.startsWith('/flaky?key=a')).length).toBe(3);
    expect(server.requests.filter((q) => q.url.startsWith('/flaky?key=b')).length).toBe(2);
  });

  it('times out a request that does not answer, per attempt', async () => {
    const r = await run(`
- name: hangs
  path: /hang
  timeout: 300ms
  retries: 1
  retry-delay: 10ms
`);
    expect(byName(r).hangs).toMatchObject({
      passed: false,
      attempts: 2,
      problems: ['timed out after 300 ms'],
      measured: 'no answer in 300 ms',
    });
  });

  it('reports a dropped connection and a refused one as request failures', async () => {
    const closedPort = await freePort();
    const r = await run('- name: reset\n  path: /reset', {
      targets: [
        { name: 'local', url: server.url },
        { name: 'nothing-listens', url: `http://127.0.0.1:${closedPort}` },
      ],
    });
    const [local, closed] = r.targets;
    expect(local!.checks[0]!.problems[0]).toMatch(/^request failed: /);
    expect(closed!.checks[0]!.problems[0]).toBe(`request failed: connect ECONNREFUSED 127.0.0.1:${closedPort}`);
  });

  it('stops at the overall deadline: what is unfinished fails as not finished', async () => {
    const r = await run(
      `
- name: a
  path: /hang
- name: b
  path: /hang
- name: c
  path: /hang
`,
      { deadlineMs: 300, concurrency: 1, defaults: { timeoutMs: 20_000, retries: 0, retryDelayMs: 0 } },
    );
    const c = byName(r);
    expect(c.a!.problems).toEqual(['not finished: overall deadline of 300 ms reached']);
    // b and c never got a slot before the deadline.
    expect(c.b).toMatchObject({ measured: 'not run', problems: ['not finished: overall deadline of 300 ms reached'] });
    expect(c.c!.passed).toBe(false);
  });

  it('keeps at most `concurrency` requests in flight', async () => {
    server.peakInflight = 0;
    const targets = Array.from({ length: 4 }, (_, i) => ({ name: `t${i}`, url: server.url }));
    const r = await run('- name: a\n  path: /busy\n- name: b\n  path: /busy\n- name: c\n  path: /busy', { targets, concurrency: 3 });
    expect(r.passed).toBe(true);
    expect(r.totals.checks).toBe(12);
    expect(server.peakInflight).toBeLessThanOrEqual(3);
    expect(server.peakInflight).toBeGreaterThan(1);
  });

  it('expands {{ tenant.* }} in paths and headers per target', async () => {
    const tenant = (slug: string) => ({ id: slug, slug, namespace: `tenant-${slug}`, release: slug });
    const r = await run(
      '- name: t\n  path: /tenants/{{ tenant.slug }}/health\n  json: \'$.status == "ok"\'\n- name: h\n  path: /echo\n  headers: { X-Tenant: "{{ tenant.namespace }}" }\n  json: \'$.tenant == "tenant-metro"\'',
      {
        targets: [
          { name: 'fast', url: server.url, tenant: tenant('fast') },
          { name: 'metro', url: server.url, tenant: tenant('metro') },
        ],
      },
    );
    const [fast, metro] = r.targets;
    expect(fast!.checks[0]).toMatchObject({ passed: true, url: `${server.url}/tenants/fast/health` });
    expect(metro!.checks[0]).toMatchObject({ passed: true, url: `${server.url}/tenants/metro/health` });
    expect(fast!.checks[1]).toMatchObject({ passed: false, json: [{ found: 'tenant-fast' }] });
    expect(metro!.checks[1]!.passed).toBe(true);
  });

  it('writes a job summary table with failures first', async () => {
    const r = await run('- name: good\n  path: /api/health\n- name: bad\n  path: /api/down');
    const md = smokeSummary(r);
    expect(md).toContain('### Smoke test: ❌ failed');
    expect(md).toContain('1/2 checks passed');
    const rows = md.split('\n').filter((l) => l.startsWith('| ✅') || l.startsWith('| ❌'));
    expect(rows[0]).toMatch(
      /^\| ❌ \| local \| bad \(GET http:\/\/127\.0\.0\.1:\d+\/api\/down\) \| status 503, \d+ ms \| status 503, expected 2xx\\\|3xx \|$/,
    );
    expect(rows[1]).toMatch(/^\| ✅ \| local \| good/);
  });
});

describe('HTTP checks in virtual time', () => {
  it('backs off exponentially between retries (capped at 30s)', async () => {
    const clock = new VirtualClock();
    const http = new FakeHttp({ 'GET https://a.example.com/h': () => json(503, {}) });
    const checks = parseChecks('- name: h\n  path: /h\n  retries: 6\n  retry-delay: 5s\n  timeout: 1s', { source: 'x' });
    const r = await runSmokeChecks(
      [{ name: 'a', url: 'https://a.example.com' }],
      checks,
      { clock, logger: new RecordingLogger(), http },
      { concurrency: 1, deadlineMs: 3_600_000 },
    );
    expect(r.targets[0]!.checks[0]).toMatchObject({ passed: false, attempts: 7 });
    const backoffs = clock.sleeps.filter((ms) => ms !== 1_000 && ms !== 3_600_000);
    expect(backoffs).toEqual([5_000, 10_000, 20_000, 30_000, 30_000, 30_000]);
    expect(http.requests).toHaveLength(7);
  });

  it('measures latency on the clock and times out a slow answer', async () => {
    const clock = new VirtualClock();
    const http = new FakeHttp({
      'GET https://a.example.com/slow': async (req) => {
        await clock.sleep(2_500, req.signal);
        return json(200, { status: 'ok' });
      },
      'GET https://a.example.com/slower': async (req) => {
        await clock.sleep(60_000, req.signal);
        if (req.signal?.aborted) throw new Error('aborted');
        return json(200, {});
      },
    });
    const checks = parseChecks('- name: slow\n  path: /slow\n  max-latency: 2s\n- name: slower\n  path: /slower\n  timeout: 10s', {
      source: 'x',
      defaults: { timeoutMs: 10_000, retries: 0, retryDelayMs: 0 },
    });
    const r = await runSmokeChecks(
      [{ name: 'a', url: 'https://a.example.com' }],
      checks,
      { clock, logger: new RecordingLogger(), http },
      { concurrency: 2, deadlineMs: 600_000 },
    );
    const c = byName(r);
    expect(c.slow).toMatchObject({ passed: false, latencyMs: 2_500, problems: ['latency 2500 ms over the limit of 2000 ms'] });
    expect(c.slower).toMatchObject({ passed: false, problems: ['timed out after 10s'] });
  });
});
