import { existsSync, readFileSync, statSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { createAutoRollback } from '../../src/actions/auto-rollback/main.ts';
import type { AutoRollbackDeps } from '../../src/actions/auto-rollback/main.ts';
import { ConfigurationError } from '../../src/core/errors.ts';
import type { CommandRunner } from '../../src/core/process.ts';
import { testContext } from '../support/action-context.ts';
import { FakeCluster, VirtualClock, health, pod, workload } from '../verify/fakes.ts';
import { RecordingRollbacker } from './fakes.ts';

// The auto-rollback action with an in-memory Cluster, a virtual clock and a recording rollback
// port (the real Prometheus runs in prometheus.test.ts).
const env = { PATH: process.env.PATH };
const rollout = JSON.stringify({
  tenants: [
    { id: 'alpha', namespace: 'tenant-alpha', release: 'alpha', status: 'succeeded', revisionBefore: 4, revisionAfter: 5 },
    { id: 'beta', namespace: 'tenant-beta', release: 'beta', status: 'succeeded', revisionBefore: 2, revisionAfter: 3 },
    { id: 'gamma', namespace: 'tenant-gamma', release: 'gamma', status: 'skipped', revisionBefore: 9 },
    { id: 'delta', namespace: 'tenant-delta', release: 'delta', status: 'failed-rolled-back', revisionBefore: 1 },
  ],
});
const logs = (ok: number, errors: number) =>
  [...Array.from({ length: ok }, () => 'INFO HTTP GET / 200'), ...Array.from({ length: errors }, () => 'ERROR HTTP GET / 500')].join('\n');

function cluster(): FakeCluster {
  const h = (ns: string, rel: string) => health(ns, rel, [workload({ name: 'app' })], [pod({ name: `${rel}-1` })]);
  return new FakeCluster()
    .setHealth('tenant-alpha', 'alpha', h('tenant-alpha', 'alpha'))
    .setHealth('tenant-beta', 'beta', h('tenant-beta', 'beta'))
    .setLogs('tenant-alpha', 'alpha-1', logs(80, 20))
    .setLogs('tenant-beta', 'beta-1', logs(99, 1));
}

describe('auto-rollback action', () => {
  it("watches the succeeded tenants of a tenant-rollout report with the seeds' default metrics and rolls back the breaching one", async () => {
    const rollbacker = new RecordingRollbacker();
    const c = cluster();
    const deps: AutoRollbackDeps = { clock: new VirtualClock(), createCluster: () => c, createRollbacker: async () => rollbacker };
    const ctx = testContext({ report: rollout, duration: '2m', interval: '30s', kubeconfig: 'apiVersion: v1\nkind: Config\n' }, { env });
    await expect(createAutoRollback(deps).main(ctx)).rejects.toThrow(
      'auto-rollback: 1 target(s) breached and were rolled back to their pre-deploy revision: tenant-alpha/alpha; alpha: log-error-ratio: 1 of 1 measurements breached result > 0.05 (failure limit 0): 0.2',
    );
    expect(rollbacker.calls).toEqual([{ namespace: 'tenant-alpha', release: 'alpha', revision: 4 }]);
    expect(ctx.outputs.verdict).toBe('rolled-back');
    expect(ctx.outputs['rolled-back']).toBe('tenant-alpha/alpha');
    // The one report writer: a private directory of its own, the file readable by its owner only.
    expect(ctx.outputs['report-file']).toMatch(/\/auto-rollback-report-[^/]+\/report\.json$/);
    expect(statSync(ctx.outputs['report-file']!).mode & 0o777).toBe(0o600);
    const doc = JSON.parse(readFileSync(ctx.outputs['report-file']!, 'utf8')) as {
      analysis: {
        targets: { target: { slug: string }; verdict: string; metrics: { metric: string; measurements: { value: number }[] }[] }[];
      };
    };
    expect(doc.analysis.targets.map((t) => [t.target.slug, t.verdict])).toEqual([
      ['alpha', 'failed'],
      ['beta', 'healthy'],
    ]);
    expect(doc.analysis.targets[1]!.metrics.map((m) => [m.metric, m.measurements.map((x) => x.value)])).toEqual([
      ['log-error-ratio', [0.01, 0.01, 0.01, 0.01]],
      ['crash-loops', [0, 0, 0, 0]],
    ]);
    // Only the succeeded tenants were read; logs over the last interval.
    expect(c.calls.some((x) => x.includes('gamma') || x.includes('delta'))).toBe(false);
    expect(c.calls).toContain('podLogs tenant-alpha/alpha-1 30');
    expect(ctx.summaries[0]).toContain('| ↩️ rolled-back | alpha | tenant-alpha/alpha | 4 |');
  });

  it('is healthy, rolls nothing back and passes when every target is healthy', async () => {
    const rollbacker = new RecordingRollbacker();
    const c = cluster().setLogs('tenant-alpha', 'alpha-1', logs(100, 0));
    const ctx = testContext({ report: rollout, duration: '1m', interval: '30s' }, { env });
    await createAutoRollback({ clock: new VirtualClock(), createCluster: () => c, createRollbacker: async () => rollbacker }).main(ctx);
    expect(ctx.outputs.verdict).toBe('healthy');
    expect(ctx.outputs['rolled-back']).toBe('');
    expect(rollbacker.calls).toEqual([]);
  });

  it('is inconclusive without traffic, and fails the step without rolling back', async () => {
    const rollbacker = new RecordingRollbacker();
    const c = cluster().setLogs('tenant-alpha', 'alpha-1', 'INFO idle').setLogs('tenant-beta', 'beta-1', 'INFO idle');
    const ctx = testContext({ report: rollout, duration: '1m', interval: '30s' }, { env });
    await expect(
      createAutoRollback({ clock: new VirtualClock(), createCluster: () => c, createRollbacker: async () => rollbacker }).main(ctx),
    ).rejects.toThrow(
      /^auto-rollback: inconclusive for 2 of 2 target\(s\), nothing rolled back \(no data is not success\); alpha: log-error-ratio: no data in any of 2 measurements/,
    );
    expect(ctx.outputs.verdict).toBe('inconclusive');
    expect(rollbacker.calls).toEqual([]);
  });

  it('rolls back through helm: `helm rollback <release> <revision-before> --wait` in the namespace and context given', async () => {
    const argv: string[][] = [];
    const run: CommandRunner = async (file, args, opts) => {
      argv.push([file, ...args]);
      expect(opts?.env?.KUBECONFIG).toMatch(/kubeconfig$/);
      // What helm recorded: revision 6 (recorded as revision-before) then the breaching 7.
      const rows = [6, 7].map((revision) => ({ revision, status: revision === 7 ? 'deployed' : 'superseded', chart: 'isp-1.0.0' }));
      const stdout = args[0] === 'version' ? 'v3.17.3' : args[0] === 'history' ? JSON.stringify(rows) : '';
      return { exitCode: 0, stdout, stderr: '', aborted: false };
    };
    const c = new FakeCluster().setHealth(
      'tenant-isp',
      'isp',
      health('tenant-isp', 'isp', [workload({ name: 'app' })], [pod({ name: 'isp-1', reasons: ['CrashLoopBackOff'], restarts: 7 })]),
    );
    const ctx = testContext(
      {
        release: 'isp',
        namespace: 'tenant-isp',
        'revision-before': '6',
        metrics: '- name: crash\n  provider: kubernetes\n  query: crash-loops',
        duration: '1m',
        interval: '30s',
        'kube-context': 'prod',
        helm: '/opt/helm',
        'rollback-timeout': '90s',
        kubeconfig: 'apiVersion: v1\nkind: Config\n',
      },
      { env },
    );
    await expect(createAutoRollback({ clock: new VirtualClock(), createCluster: () => c, run }).main(ctx)).rejects.toThrow(
      /rolled back to their pre-deploy revision: tenant-isp\/isp/,
    );
    // returnToGood reads the history first (the facts) and after (the revision now live).
    const history = [
      '/opt/helm',
      'history',
      'isp',
      '--namespace',
      'tenant-isp',
      '--kube-context',
      'prod',
      '--max',
      '256',
      '--output',
      'json',
    ];
    expect(argv).toEqual([
      ['/opt/helm', 'version', '--template', '{{.Version}}'],
      history,
      [
        '/opt/helm',
        'rollback',
        'isp',
        '6',
        '--namespace',
        'tenant-isp',
        '--kube-context',
        'prod',
        '--wait',
        '--wait-for-jobs',
        '--timeout',
        '90s',
        // A rollback never prunes: its target revision must survive however often it fails.
        '--history-max',
        '0',
      ],
      history,
    ]);
  });

  it('with rollback disabled, reports the breach and fails without touching the release', async () => {
    const c = cluster();
    const ctx = testContext({ report: rollout, duration: '30s', interval: '30s', rollback: 'false' }, { env });
    const created: string[] = [];
    await expect(
      createAutoRollback({
        clock: new VirtualClock(),
        createCluster: () => c,
        createRollbacker: async () => (created.push('x'), new RecordingRollbacker()),
      }).main(ctx),
    ).rejects.toThrow(/^auto-rollback: 1 target\(s\) breached; not rolled back: alpha \(rollback disabled\)/);
    expect(created).toEqual([]);
    expect(ctx.outputs.verdict).toBe('failed');
  });

  it('passes with nothing to watch when no tenant has the statuses asked for', async () => {
    const ctx = testContext({ report: rollout, 'report-statuses': 'rolled-back' }, { env });
    await createAutoRollback({ createCluster: () => new FakeCluster() }).main(ctx);
    expect(ctx.outputs.verdict).toBe('healthy');
    expect(ctx.logger.text()).toContain('no target to watch');
    // The report file exists even then, so a later step reading it does not break.
    expect(JSON.parse(readFileSync(ctx.outputs['report-file']!, 'utf8'))).toMatchObject({ verdict: 'healthy', rolledBack: [] });
  });

  it('removes its private kubeconfig directory', async () => {
    const c = cluster().setLogs('tenant-alpha', 'alpha-1', logs(100, 0));
    let path = '';
    const ctx = testContext({ report: rollout, duration: '30s', interval: '30s', kubeconfig: 'apiVersion: v1\nkind: Config\n' }, { env });
    await createAutoRollback({
      clock: new VirtualClock(),
      createCluster: (o) => {
        path = o.kubeconfigPath!;
        expect(existsSync(path)).toBe(true);
        return c;
      },
      createRollbacker: async () => new RecordingRollbacker(),
    }).main(ctx);
    expect(path).not.toBe('');
    expect(existsSync(path)).toBe(false);
  });

  it.each([
    [
      { report: rollout, metrics: '- name: err\n  provider: prometheus\n  query: up\n  failure-condition: result > 1' },
      'input "prometheus-url": is required by metric "err"',
    ],
    [
      { report: rollout, metrics: '- name: err\n  provider: logs\n  failure-condition: rate > 0.05' },
      'input "metrics": metric "err": field "failure-condition" "rate > 0.05" does not parse: expected "result"',
    ],
    [
      { report: rollout, metrics: '- name: err\n  provider: logs\n  falure-limit: 1' },
      'input "metrics": metric "err": field "falure-limit" is not a field of a logs metric',
    ],
    [{ report: rollout, metrics: '- name: err\n  provider: logs\n  error-pattern: [a' }, 'input "metrics": is not valid YAML'],
    [{ release: 'isp' }, 'input "namespace": is required with release'],
    [
      { release: 'isp', namespace: 'tenant-isp', 'revision-before': 'previous' },
      'input "revision-before": is not a revision number, got "previous"',
    ],
    [{ report: rollout, release: 'isp' }, 'input "release": cannot be combined with report'],
    [{}, 'input "release": no target was given'],
    [{ report: rollout, duration: '1m', interval: '5m' }, 'input "interval": is longer than the duration (1m)'],
    [{ report: rollout, 'prometheus-url': 'prometheus:9090' }, 'input "prometheus-url": is not an http(s) URL'],
    [{ report: '{"tenants": [{"id": "a"}]}' }, 'input "report": tenants[0]: has no "release"'],
  ])('rejects bad input %j with one clear line', async (inputs, message) => {
    const err = await createAutoRollback()
      .main(testContext(inputs, { env }))
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigurationError);
    expect((err as Error).message).toContain(message);
  });
});
