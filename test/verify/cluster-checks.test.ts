import { describe, expect, it } from 'vitest';
import { imageMatches, parseImage } from '../../src/verify/cluster-checks.ts';
import { parseChecks } from '../../src/verify/checks.ts';
import { runSmokeChecks } from '../../src/verify/smoke.ts';
import type { CheckResult, SmokeReport } from '../../src/verify/smoke.ts';
import { RecordingLogger } from '../support/logger.ts';
import { FakeCluster, FakeHttp, VirtualClock, health, json, pod, workload } from './fakes.ts';

const NS = 'tenant-fast-fiber';
const REL = 'fast-fiber';
const IMAGE = 'registry.example.com/isp-ops:v1.3.0';

async function check(
  cluster: FakeCluster,
  opts: { images?: string[]; windowMs?: number; deadlineMs?: number } = {},
): Promise<{ report: SmokeReport; c: Record<string, CheckResult>; clock: VirtualClock }> {
  const clock = new VirtualClock();
  const report = await runSmokeChecks(
    [{ name: 'fast-fiber', namespace: NS, release: REL }],
    [],
    { clock, logger: new RecordingLogger(), cluster },
    {
      concurrency: 2,
      deadlineMs: opts.deadlineMs ?? 600_000,
      cluster: { expectedImages: opts.images ?? [IMAGE], restartWindowMs: opts.windowMs ?? 30_000 },
    },
  );
  return { report, c: Object.fromEntries(report.targets[0]!.checks.map((x) => [x.check, x])), clock };
}

const healthy = () =>
  health(
    NS,
    REL,
    [
      workload({ name: 'app' }),
      workload({ name: 'db', kind: 'StatefulSet', desired: 1, ready: 1, updated: 1, images: ['docker.io/library/postgres:16'] }),
    ],
    [pod({ name: 'app-1' }), pod({ name: 'app-2' }), pod({ name: 'db-0', images: ['postgres:16'] })],
  );

describe('in-cluster checks (in-memory Cluster, virtual clock)', () => {
  it('pass for a ready release on the target image whose restarts do not rise, sampling twice over the window', async () => {
    const cluster = new FakeCluster().setHealth(NS, REL, healthy(), healthy());
    const { report, c, clock } = await check(cluster);
    expect(report.passed).toBe(true);
    expect(Object.keys(c)).toEqual(['workloads-ready', 'images', 'pods-not-crashing', 'restarts-stable']);
    expect(c['workloads-ready']!.measured).toBe('deployment/app 2/2 ready, statefulset/db 1/1 ready');
    expect(c['restarts-stable']!.measured).toBe('restarts 0 -> 0 over 30s (3 pods)');
    expect(cluster.calls).toEqual([`releaseHealth ${NS}/${REL}`, `releaseHealth ${NS}/${REL}`]);
    expect(clock.sleeps).toContain(30_000);
  });

  it('fail when ready replicas differ from desired, or the rollout has not been observed or updated', async () => {
    const end = health(
      NS,
      REL,
      [workload({ name: 'app', ready: 1 }), workload({ name: 'worker', updated: 1 }), workload({ name: 'cron', observed: false })],
      [pod({ name: 'app-1' })],
    );
    const { c } = await check(new FakeCluster().setHealth(NS, REL, healthy(), end));
    expect(c['workloads-ready']).toMatchObject({
      passed: false,
      problems: [
        'deployment/app: 1/2 ready',
        'deployment/worker: 1/2 updated',
        'deployment/cron: the controller has not observed the latest spec yet',
      ],
    });
  });

  it('fail when a workload runs another version of the target image, or none runs it', async () => {
    const end = health(
      NS,
      REL,
      [workload({ name: 'app' }), workload({ name: 'worker', images: ['registry.example.com/isp-ops:v1.2.0', 'busybox'] })],
      [pod({ name: 'app-1' })],
    );
    const { c } = await check(new FakeCluster().setHealth(NS, REL, end), {
      images: [IMAGE, 'registry.example.com/isp-ops-migrate:v1.3.0'],
      windowMs: 0,
    });
    expect(c.images).toMatchObject({
      passed: false,
      problems: [
        `deployment/worker runs registry.example.com/isp-ops:v1.2.0, expected ${IMAGE}`,
        'no workload runs registry.example.com/isp-ops-migrate:v1.3.0',
      ],
    });
    expect(c['restarts-stable']).toBeUndefined();
  });

  it('fail on a pod in CrashLoopBackOff or ImagePullBackOff in either sample (a bad tag)', async () => {
    const start = health(
      NS,
      REL,
      [workload({ name: 'app', ready: 1 })],
      [pod({ name: 'app-1' }), pod({ name: 'app-2', ready: false, reasons: ['ImagePullBackOff'] })],
    );
    const end = health(
      NS,
      REL,
      [workload({ name: 'app', ready: 1 })],
      [pod({ name: 'app-1' }), pod({ name: 'app-2', ready: false, restarts: 3, reasons: ['CrashLoopBackOff'] })],
    );
    const { c } = await check(new FakeCluster().setHealth(NS, REL, start, end));
    expect(c['pods-not-crashing']).toMatchObject({
      passed: false,
      problems: ['pod app-2: ImagePullBackOff (0 restarts)', 'pod app-2: CrashLoopBackOff (3 restarts)'],
    });
    expect(c['restarts-stable']).toMatchObject({ passed: false, problems: ['pod app-2: restarts 0 -> 3 within 30s'] });
  });

  it('fail when restart counts rise during the window, including a new pod that already restarted', async () => {
    const start = health(NS, REL, [workload({ name: 'app' })], [pod({ name: 'app-1', restarts: 4 }), pod({ name: 'app-2', restarts: 1 })]);
    const end = health(NS, REL, [workload({ name: 'app' })], [pod({ name: 'app-1', restarts: 4 }), pod({ name: 'app-3', restarts: 2 })]);
    const { c } = await check(new FakeCluster().setHealth(NS, REL, start, end));
    // Restarts from before the window (app-1: 4) do not count; only rising ones.
    expect(c['restarts-stable']).toMatchObject({
      passed: false,
      problems: ['pod app-3: restarts new pod, 0 -> 2 within 30s'],
      measured: 'restarts 5 -> 6 over 30s (2 pods)',
    });
  });

  it('fail clearly when the release cannot be read or has no workloads', async () => {
    const { c } = await check(new FakeCluster().setHealth(NS, REL, new Error('forbidden: cannot list deployments')));
    expect(c['workloads-ready']).toMatchObject({
      passed: false,
      problems: ["cannot read the release's workloads: forbidden: cannot list deployments"],
    });
    const { c: c2 } = await check(new FakeCluster().setHealth(NS, REL, health(NS, REL, [], [])), { windowMs: 0 });
    expect(c2['workloads-ready']).toMatchObject({
      passed: false,
      problems: [`no Deployment or StatefulSet of release "${REL}" in namespace "${NS}"`],
    });
  });

  it('a window longer than the deadline ends as not finished', async () => {
    const { c } = await check(new FakeCluster().setHealth(NS, REL, healthy()), { windowMs: 120_000, deadlineMs: 60_000 });
    expect(c['restarts-stable']).toMatchObject({ passed: false, problems: ['not finished: overall deadline of 1m00s reached'] });
  });

  it('run alongside the HTTP checks of the same target', async () => {
    const clock = new VirtualClock();
    const cluster = new FakeCluster().setHealth(NS, REL, healthy());
    const http = new FakeHttp({ 'GET https://fast-fiber.example.com/api/health': () => json(200, { status: 'ok' }) });
    const checks = parseChecks(`- name: h\n  path: /api/health\n  json: '$.status == "ok"'`, { source: 'x' });
    const r = await runSmokeChecks(
      [{ name: 'fast-fiber', url: 'https://fast-fiber.example.com', namespace: NS, release: REL }],
      checks,
      { clock, logger: new RecordingLogger(), http, cluster },
      {
        concurrency: 2,
        deadlineMs: 60_000,
        cluster: { expectedImages: [], restartWindowMs: 10_000 },
      },
    );
    expect(r.targets[0]!.checks.map((x) => [x.kind, x.check, x.passed])).toEqual([
      ['http', 'h', true],
      ['cluster', 'workloads-ready', true],
      ['cluster', 'pods-not-crashing', true],
      ['cluster', 'restarts-stable', true],
    ]);
  });
});

describe('image references', () => {
  it.each([
    ['nginx', { repository: 'docker.io/library/nginx', tag: 'latest', digest: undefined }],
    ['library/nginx:1.27', { repository: 'docker.io/library/nginx', tag: '1.27', digest: undefined }],
    ['localhost:5000/app:v1', { repository: 'localhost:5000/app', tag: 'v1', digest: undefined }],
    ['registry.example.com/isp/app@sha256:abc', { repository: 'registry.example.com/isp/app', tag: undefined, digest: 'sha256:abc' }],
    ['index.docker.io/acme/app:v2@sha256:def', { repository: 'docker.io/acme/app', tag: 'v2', digest: 'sha256:def' }],
  ])('parses %s', (ref, want) => expect(parseImage(ref)).toEqual(want));

  it.each([
    ['postgres:16', 'docker.io/library/postgres:16', true],
    [IMAGE, `${IMAGE}@sha256:abc`, true],
    ['registry.example.com/isp-ops@sha256:abc', `${IMAGE}@sha256:abc`, true],
    ['registry.example.com/isp-ops@sha256:abc', `${IMAGE}@sha256:xyz`, false],
    [IMAGE, 'registry.example.com/isp-ops:v1.2.0', false],
    [IMAGE, 'registry.example.com/isp-ops@sha256:abc', false],
    [IMAGE, 'other.example.com/isp-ops:v1.3.0', false],
  ])('%s is run by %s: %s', (expected, actual, match) => expect(imageMatches(expected, actual)).toBe(match));
});
