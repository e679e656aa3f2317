import { existsSync, readFileSync, statSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSmokeTest } from '../../src/actions/smoke-test/main.ts';
import { ConfigurationError } from '../../src/core/errors.ts';
import type { SmokeReport } from '../../src/verify/smoke.ts';
import { testContext } from '../support/action-context.ts';
import { FakeCluster, health, pod, workload } from './fakes.ts';
import { TestServer } from './http-server.ts';

// The smoke-test action end to end, against the local server (real fetch, real clock), with an
// in-memory Cluster for the in-cluster checks.
const server = new TestServer();
beforeAll(async () => {
  await server.start();
});
afterAll(async () => {
  await server.stop();
});

const env = { PATH: process.env.PATH };
const report = (o: Record<string, string>) => JSON.parse(o.report!) as SmokeReport;

describe('smoke-test action', () => {
  it("checks one URL with the seeds' checks and writes outputs, a report file and a summary", async () => {
    const ctx = testContext({ url: server.url, retries: '0' }, { env });
    await createSmokeTest().main(ctx);
    expect(ctx.outputs.result).toBe('passed');
    expect(ctx.outputs['failed-targets']).toBe('');
    const r = report(ctx.outputs);
    expect(r.targets[0]!.checks.map((c) => [c.check, c.passed])).toEqual([
      ['home', true],
      ['login', true],
      ['api-health', true],
      ['api-ready', true],
    ]);
    // The one report writer: a private directory of its own under the temp dir, the file 0600.
    expect(ctx.outputs['report-file']).toMatch(new RegExp(`^${ctx.tempDir}/smoke-test-report-[^/]+/report\\.json$`));
    expect(statSync(ctx.outputs['report-file']!).mode & 0o777).toBe(0o600);
    expect(JSON.parse(readFileSync(ctx.outputs['report-file']!, 'utf8'))).toEqual(r);
    expect(ctx.summaries[0]).toContain('### Smoke test: ✅ passed');
  });

  it('fails the step with one line naming the failing check, failures first in the summary', async () => {
    const ctx = testContext(
      {
        url: server.url,
        checks: '- name: health\n  path: /api/health\n- name: down\n  path: /api/down\n  json: \'$.status == "ok"\'',
        retries: '1',
        'retry-delay': '10ms',
      },
      { env },
    );
    await expect(createSmokeTest().main(ctx)).rejects.toThrow(
      'smoke test failed: 1 of 2 checks failed on 1 of 1 target(s); first: ' +
        server.url +
        ' down: status 503, expected 2xx|3xx; $.status == "ok": found "down"',
    );
    expect(ctx.outputs.result).toBe('failed');
    expect(ctx.outputs['failed-targets']).toBe(server.url);
    expect(report(ctx.outputs).targets[0]!.checks[1]).toMatchObject({ attempts: 2, status: 503, json: [{ found: 'down' }] });
    expect(ctx.summaries[0]!.split('\n').find((l) => l.startsWith('| ❌'))).toContain('down (GET');
  });

  it('sends secret headers and masks them everywhere, even when the server echoes them back', async () => {
    const ctx = testContext(
      {
        url: server.url,
        secrets: 'TOKEN=s3cr3t-bearer-value',
        checks:
          "- name: echo\n  path: /echo\n  headers: { Authorization: 'Bearer {{ secrets.TOKEN }}', X-Api-Key: literal-api-key-1 }\n  json: '$.authorization == \"nope\"'\n  retries: 0",
      },
      { env },
    );
    await expect(createSmokeTest().main(ctx)).rejects.toThrow(/smoke test failed/);
    expect(server.requests.at(-1)!.headers.authorization).toBe('Bearer s3cr3t-bearer-value');
    expect(ctx.masked).toEqual(expect.arrayContaining(['s3cr3t-bearer-value', 'literal-api-key-1']));
    const everything = [ctx.outputs.report, readFileSync(ctx.outputs['report-file']!, 'utf8'), ...ctx.summaries, ctx.logger.text()].join(
      '\n',
    );
    // The whole Authorization value is a secret (and the token inside it too).
    expect(everything).toContain('"found":"***"');
    expect(everything).not.toContain('s3cr3t');
  });

  it('checks the tenants of a tenant-rollout report with a URL template, and each release in the cluster', async () => {
    const rollout = JSON.stringify({
      tenants: [
        { id: 'fast', namespace: 'tenant-fast', release: 'fast', status: 'succeeded', revisionBefore: 3 },
        { id: 'metro', namespace: 'tenant-metro', release: 'metro', status: 'unchanged', revisionBefore: 8 },
        { id: 'skipped-one', namespace: 'tenant-skipped-one', release: 'skipped-one', status: 'skipped' },
      ],
    });
    const cluster = new FakeCluster()
      .setHealth('tenant-fast', 'fast', health('tenant-fast', 'fast', [workload({ name: 'app' })], [pod({ name: 'app-1' })]))
      .setHealth(
        'tenant-metro',
        'metro',
        health(
          'tenant-metro',
          'metro',
          [workload({ name: 'app', ready: 0 })],
          [pod({ name: 'app-1', ready: false, reasons: ['ImagePullBackOff'] })],
        ),
      );
    let factoryArgs: unknown;
    const ctx = testContext(
      {
        url: `${server.url}/tenants/{{ tenant.slug }}`,
        report: rollout,
        checks: '- name: health\n  path: /health\n  json: \'$.status == "ok"\'',
        kubeconfig: 'apiVersion: v1\nkind: Config\nusers:\n- name: u\n  user:\n    token: kube-token-123456\n',
        'kube-context': 'prod',
        images: 'registry.example.com/isp-ops:v1.3.0',
        'restart-window': '0',
      },
      { env },
    );
    const action = createSmokeTest({
      createCluster: (o) => {
        factoryArgs = o;
        expect(existsSync(o.kubeconfigPath!)).toBe(true);
        return cluster;
      },
    });
    await expect(action.main(ctx)).rejects.toThrow(/2 of 8 checks failed on 1 of 2 target/);
    expect(factoryArgs).toMatchObject({ context: 'prod', kubeconfigPath: expect.stringContaining('kubeconfig') });
    expect(ctx.masked).toContain('kube-token-123456');
    const r = report(ctx.outputs);
    expect(r.targets.map((t) => t.target)).toEqual(['fast', 'metro']);
    expect(r.targets[0]!.checks.map((c) => [c.kind, c.check, c.passed])).toEqual([
      ['http', 'health', true],
      ['cluster', 'workloads-ready', true],
      ['cluster', 'images', true],
      ['cluster', 'pods-not-crashing', true],
    ]);
    expect(r.targets[0]!.checks[0]!.url).toBe(`${server.url}/tenants/fast/health`);
    expect(r.targets[1]!.checks.filter((c) => !c.passed).map((c) => c.problems)).toEqual([
      ['deployment/app: 0/2 ready'],
      ['pod app-1: ImagePullBackOff (0 restarts)'],
    ]);
    expect(ctx.outputs['failed-targets']).toBe('metro');
    // The private kubeconfig directory is gone after the run.
    expect(existsSync(String(factoryArgs && (factoryArgs as { kubeconfigPath: string }).kubeconfigPath))).toBe(false);
  });

  it('skips in-cluster checks when no kubeconfig is given (auto), and says so', async () => {
    const ctx = testContext({ url: server.url, namespace: 'tenant-a', release: 'a', checks: '- path: /api/ready', retries: '0' }, { env });
    await createSmokeTest({ createCluster: () => new FakeCluster() }).main(ctx);
    expect(report(ctx.outputs).targets[0]!.checks.map((c) => c.kind)).toEqual(['http']);
    expect(ctx.logger.text()).toContain('in-cluster checks skipped: no kubeconfig given');
  });

  it.each([
    [
      { url: 'http://x', checks: '- name: health\n  path: /api/health\n  status: okay' },
      'input "checks": check "health": field "status" "okay" is not a status code or class',
    ],
    [
      { url: 'http://x', checks: '- name: health\n  path: /api/health\n  json: \'$.status === "ok"\'' },
      'check "health": field "json" expectation "$.status === "ok"" does not parse: expected a value',
    ],
    [{ url: 'http://x', 'cluster-checks': 'true' }, 'input "cluster-checks": is true, but no target names a namespace and release'],
    [{ url: 'https://{{ tenant.slug }}.example.com' }, 'is a per-tenant template, but no tenants were given'],
    [{ url: 'http://x', timeout: 'soon' }, 'input "timeout": is not a duration, got "soon"'],
    [{ url: 'http://x', checks: 'missing.yml' }, 'file "missing.yml": does not exist'],
    [{ url: 'http://x', report: '{"tenants": []}', tenants: 'a' }, 'input "tenants": cannot be combined with report'],
  ])('rejects bad input %j with one clear line', async (inputs, message) => {
    const err = await createSmokeTest()
      .main(testContext(inputs, { env }))
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigurationError);
    expect((err as Error).message).toContain(message);
  });
});
