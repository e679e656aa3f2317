/**
 * helm-deploy with strategy: blue-green through dist/ (real helm 4, wire-level API fake): the
 * action's inputs reach the blue-green engine, and its outputs say which color serves.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeKube, type FakeKube } from '../support/fake-kube/index.ts';
import { exampleChart, helmBinaries } from '../support/tools.ts';
import { runAction } from './run-action.ts';

describe('helm-deploy strategy: blue-green through dist/', () => {
  let kube: FakeKube;
  beforeAll(async () => {
    kube = await startFakeKube({ crashLoopIntervalMs: 100 });
    kube.addNamespaces(['platform-admin']);
    // The live Service, created by the user outside any release, with no color key yet.
    await kube.apply(
      {
        apiVersion: 'v1',
        kind: 'Service',
        metadata: { name: 'admin', namespace: 'platform-admin' },
        spec: { type: 'ClusterIP', selector: { 'app.kubernetes.io/name': 'tenant-app' }, ports: [{ name: 'http', port: 80, targetPort: 'http', protocol: 'TCP' }] },
      },
      { fieldManager: 'kubectl' },
    );
  });
  afterAll(() => kube?.close());
  const deploy = (over: Record<string, string>) =>
    runAction('helm-deploy', {
      strategy: 'blue-green',
      release: 'admin',
      namespace: 'platform-admin',
      chart: exampleChart,
      timeout: '20s',
      'keep-old': '0s',
      'old-color': 'keep',
      'check-interval': '1s',
      'ready-timeout': '10s',
      kubeconfig: kube.kubeconfigYaml,
      helm: helmBinaries[4],
      ...over,
    });
  const selector = () => kube.get('Service', 'platform-admin', 'admin')!.spec.selector as Record<string, string>;

  it('first deploy (initial-color), then green, then a bad version never gets the selector, then rollback', { timeout: 180_000 }, async () => {
    const blue = await deploy({ set: 'image.tag=1.0.0', 'initial-color': 'blue' });
    expect(blue.code, blue.stdout.split('\n').filter((l) => l.startsWith('::error')).join('\n')).toBe(0);
    expect(blue.outputs).toMatchObject({ status: 'switched', 'live-color': 'blue', 'previous-color': '', 'blue-revision': '1' });
    expect(selector().color).toBe('blue');

    const green = await deploy({ set: 'image.tag=1.1.0' });
    expect(green.outputs).toMatchObject({ status: 'switched', 'live-color': 'green', 'previous-color': 'blue', 'blue-revision': '1', 'green-revision': '1' });
    expect(selector()).toEqual({ 'app.kubernetes.io/name': 'tenant-app', color: 'green' });
    expect(green.summary).toContain('| live color | green |');

    const bad = await deploy({ set: 'image.tag=bad', timeout: '4s' });
    expect(bad.code).toBe(1);
    expect(bad.outputs).toMatchObject({ status: 'idle-failed', 'live-color': 'green' });
    expect(selector().color).toBe('green');

    const back = await deploy({ 'blue-green-rollback': 'true' });
    expect(back.code, back.stdout.split('\n').filter((l) => l.startsWith('::error')).join('\n')).toBe(0);
    expect(back.outputs).toMatchObject({ status: 'rolled-back', 'live-color': 'blue', 'previous-color': 'green' });
    expect(selector().color).toBe('blue');
  });
});
