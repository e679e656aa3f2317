import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  judgeReleaseHealth,
  normalizeImage,
  podInfo,
  type DeploymentLike,
  type PodLike,
  type StatefulSetLike,
} from '../../src/kube/health.ts';
import { fixturesDir } from '../support/tools.ts';

const fixture = <T>(file: string): T => JSON.parse(readFileSync(join(fixturesDir, file), 'utf8')) as T;
const clone = <T>(v: T): T => structuredClone(v);

const ready = fixture<DeploymentLike>('deployment-ready.json');
const gamma = fixture<DeploymentLike>('deployment-gamma-after-failed-upgrade.json');
const gammaPods = fixture<{ items: PodLike[] }>('pods-gamma.json').items;

describe('judgeReleaseHealth on the recorded fixtures', () => {
  it('flags the trap: Available, readyReplicas == replicas, every pod Running, yet the new pod crash-loops', () => {
    // The premise of the trap, checked on the fixture itself so the test cannot pass vacuously.
    expect(gamma.status?.readyReplicas).toBe(gamma.spec?.replicas);
    expect(gamma.status?.conditions?.find((c) => c.type === 'Available')?.status).toBe('True');
    expect(gammaPods.every((p) => p.status?.phase === 'Running')).toBe(true);

    const h = judgeReleaseHealth([gamma], [], gammaPods, { namespace: 'tenant-gamma', release: 'gamma' });
    expect(h.healthy).toBe(false);
    expect(h.problems).toContain('pod gamma-demo-858c94f57c-cq4gs: CrashLoopBackOff (5 restarts)');
    expect(h.problems).toContain('deployment/gamma-demo: 1 unavailable replica');
    expect(h.problems).toContain('deployment/gamma-demo: rollout not finished, 1 old replica still running');
    // The old pod (nginx:1.25, ready) is not blamed.
    expect(h.problems.join('\n')).not.toContain('rf94m');
    expect(h.workloads).toEqual([
      { kind: 'Deployment', name: 'gamma-demo', desired: 1, ready: 1, updated: 1, available: 1, observed: true, images: ['nginx:bad'] },
    ]);
    const crashing = h.pods.find((p) => p.name === 'gamma-demo-858c94f57c-cq4gs');
    expect(crashing).toEqual({
      name: 'gamma-demo-858c94f57c-cq4gs',
      phase: 'Running',
      ready: false,
      restarts: 5,
      reasons: ['CrashLoopBackOff'],
      images: ['nginx:bad'],
      owner: 'gamma-demo-858c94f57c',
    });
  });

  it('still flags the crash-looping pod when the counters look perfect (status not yet updated)', () => {
    const d = clone(gamma);
    d.status = { ...d.status, replicas: 1, updatedReplicas: 1, readyReplicas: 1, availableReplicas: 1, unavailableReplicas: 0 };
    const h = judgeReleaseHealth([d], [], gammaPods, { namespace: 'tenant-gamma', release: 'gamma' });
    expect(h.healthy).toBe(false);
    expect(h.problems).toEqual(['pod gamma-demo-858c94f57c-cq4gs: CrashLoopBackOff (5 restarts)']);
  });

  it('a rollout that created no new pod (updated 0/1, the old pod still ready) is not healthy', () => {
    // Ready, available, observed: only updatedReplicas says the new template never ran.
    const d = clone(gamma);
    d.status = { ...d.status, replicas: 1, updatedReplicas: 0, readyReplicas: 1, availableReplicas: 1, unavailableReplicas: 0 };
    d.status.conditions = (d.status.conditions ?? []).filter((c) => c.reason !== 'ProgressDeadlineExceeded');
    const oldPod = gammaPods.filter((p) => p.status?.containerStatuses?.every((c) => c.ready));
    expect(oldPod).toHaveLength(1);
    const h = judgeReleaseHealth([d], [], oldPod, { namespace: 'tenant-gamma', release: 'gamma' });
    expect(h.healthy).toBe(false);
    expect(h.problems).toEqual(['deployment/gamma-demo: 0/1 replicas updated']);
  });

  it('passes the healthy deployment', () => {
    const pod = clone(gammaPods[0]!); // a ready pod
    pod.metadata!.labels = { ...ready.spec!.template!.metadata!.labels!, 'pod-template-hash': '85544dd797' };
    pod.metadata!.name = 'alpha-demo-85544dd797-abcde';
    pod.spec!.containers = ready.spec!.template!.spec!.containers!.map((c) => ({ name: c.name, image: c.image }));
    const image = ready.spec!.template!.spec!.containers![0]!.image!;
    pod.status!.containerStatuses![0]!.image = image;
    const h = judgeReleaseHealth([ready], [], [pod], { namespace: 'tenant-alpha', release: 'alpha', expectedImages: [image] });
    expect(h.problems).toEqual([]);
    expect(h.healthy).toBe(true);
    expect(h.pods.map((p) => p.name)).toEqual(['alpha-demo-85544dd797-abcde']);
  });

  it("keeps only the release's workloads (by meta.helm.sh/release-name) and their pods", () => {
    const h = judgeReleaseHealth([ready, gamma], [], gammaPods, { namespace: 'tenant-alpha', release: 'alpha' });
    expect(h.workloads.map((w) => w.name)).toEqual(['alpha-demo']);
    expect(h.pods).toEqual([]); // gamma's pods do not match alpha's selector
    const none = judgeReleaseHealth([ready, gamma], [], gammaPods, { namespace: 'tenant-x', release: 'nope' });
    expect(none.healthy).toBe(false);
    expect(none.problems).toEqual(['no Deployment or StatefulSet of release "nope" in namespace "tenant-x"']);
  });

  it('treats a status the controller has not observed yet as not healthy', () => {
    const d = clone(ready);
    d.metadata!.generation = 2; // spec changed, observedGeneration still 1: the counters are stale
    const h = judgeReleaseHealth([d], [], [], { namespace: 'tenant-alpha', release: 'alpha' });
    expect(h.healthy).toBe(false);
    expect(h.workloads[0]!.observed).toBe(false);
    expect(h.problems).toContain('deployment/alpha-demo: the controller has not observed generation 2 yet (observed 1)');
  });

  it('requires every expected image to run in a ready pod', () => {
    const h = judgeReleaseHealth([gamma], [], gammaPods, {
      namespace: 'tenant-gamma',
      release: 'gamma',
      expectedImages: ['nginx:bad', 'docker.io/library/nginx:1.25'],
    });
    // nginx:bad only runs in a pod that is not ready; nginx:1.25 runs (normalized names compare equal).
    expect(h.problems).toContain('image nginx:bad is not running in a ready pod (running: nginx:1.25, nginx:bad)');
    expect(h.problems.some((p) => p.includes('nginx:1.25 is not running'))).toBe(false);
  });

  it('reports image pull failures and a missed progress deadline', () => {
    const d = clone(gamma);
    d.status!.conditions = [
      {
        type: 'Progressing',
        status: 'False',
        reason: 'ProgressDeadlineExceeded',
        message: 'ReplicaSet "gamma-demo-858c94f57c" has timed out progressing.',
      },
    ];
    const pods = clone(gammaPods);
    pods[1]!.status!.containerStatuses![0]!.state = { waiting: { reason: 'ImagePullBackOff' } };
    pods[1]!.status!.containerStatuses![0]!.restartCount = 0;
    const h = judgeReleaseHealth([d], [], pods, { namespace: 'tenant-gamma', release: 'gamma' });
    expect(h.problems).toContain('pod gamma-demo-858c94f57c-cq4gs: ImagePullBackOff (0 restarts)');
    expect(h.problems).toContain('deployment/gamma-demo: ReplicaSet "gamma-demo-858c94f57c" has timed out progressing.');
  });

  it('judges StatefulSets by revision: pods of the update revision must not crash', () => {
    const sts: StatefulSetLike = {
      metadata: { name: 'db', generation: 2, annotations: { 'meta.helm.sh/release-name': 'gamma' } },
      spec: {
        replicas: 2,
        selector: { matchLabels: { app: 'db' } },
        template: { spec: { containers: [{ name: 'db', image: 'pg:bad' }] } },
      },
      status: {
        observedGeneration: 2,
        replicas: 2,
        readyReplicas: 1,
        updatedReplicas: 1,
        currentRevision: 'db-old',
        updateRevision: 'db-new',
      },
    };
    const pod = (name: string, rev: string, crash: boolean): PodLike => ({
      metadata: { name, labels: { app: 'db', 'controller-revision-hash': rev } },
      spec: { containers: [{ name: 'db', image: crash ? 'pg:bad' : 'pg:16' }] },
      status: {
        phase: 'Running',
        conditions: [{ type: 'Ready', status: crash ? 'False' : 'True' }],
        containerStatuses: [
          {
            name: 'db',
            image: crash ? 'pg:bad' : 'pg:16',
            ready: !crash,
            restartCount: crash ? 3 : 0,
            state: crash ? { waiting: { reason: 'CrashLoopBackOff' } } : { running: {} },
          },
        ],
      },
    });
    const h = judgeReleaseHealth([], [sts], [pod('db-0', 'db-old', false), pod('db-1', 'db-new', true)], {
      namespace: 'ns',
      release: 'gamma',
    });
    expect(h.healthy).toBe(false);
    expect(h.problems).toEqual([
      'statefulset/db: 1/2 replicas updated',
      'statefulset/db: 1/2 replicas ready',
      'pod db-1: CrashLoopBackOff (3 restarts)',
    ]);
  });
});

describe('helpers', () => {
  it('normalizes image references so equal images compare equal', () => {
    expect(normalizeImage('nginx')).toBe('docker.io/library/nginx:latest');
    expect(normalizeImage('nginx:1.25')).toBe('docker.io/library/nginx:1.25');
    expect(normalizeImage('registry.example.com:5000/a/b:1')).toBe('registry.example.com:5000/a/b:1');
    expect(normalizeImage('org/app@sha256:abc')).toBe('docker.io/org/app@sha256:abc');
  });

  it('sums restarts over containers and collects their waiting/terminated reasons', () => {
    const p = podInfo({
      metadata: { name: 'p' },
      status: {
        phase: 'Running',
        initContainerStatuses: [{ name: 'init', restartCount: 1, state: { terminated: { reason: 'Completed' } } }],
        containerStatuses: [
          { name: 'a', image: 'a:1', restartCount: 2, state: { waiting: { reason: 'CrashLoopBackOff' } } },
          { name: 'b', image: 'b:1', restartCount: 0, state: { running: {} } },
        ],
      },
    });
    expect(p).toEqual({
      name: 'p',
      phase: 'Running',
      ready: false,
      restarts: 3,
      reasons: ['Completed', 'CrashLoopBackOff'],
      images: ['a:1', 'b:1'],
    });
  });
});
