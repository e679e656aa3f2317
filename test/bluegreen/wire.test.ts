/**
 * Blue-green over the wire: the real client-node adapter (`createCluster`) against the wire-level
 * fake API server, first with scripted helm, then with the real helm 4 binary installing the
 * example chart. What is asserted is what a real API server would see: the Service GET, the
 * selector PATCH (strategic merge, field manager deploy-actions, only the color key changes), and
 * that Helm 4 upgrades of the color releases keep working after the selector was switched (the
 * live Service belongs to no color release, so server-side apply has nothing to conflict on).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { deployBlueGreen, rollbackBlueGreen } from '../../src/bluegreen/deploy.ts';
import type { BlueGreenRequest } from '../../src/bluegreen/deploy.ts';
import { systemClock } from '../../src/core/clock.ts';
import { runCommand } from '../../src/core/process.ts';
import { Secrets } from '../../src/core/secrets.ts';
import type { UpgradeOptions } from '../../src/helm/argv.ts';
import { HelmCli } from '../../src/helm/cli.ts';
import { createCluster } from '../../src/kube/client.ts';
import { startFakeKube, type FakeKube, type KubeObject } from '../support/fake-kube/index.ts';
import { FakeHelm } from '../support/fake-helm.ts';
import { RecordingLogger } from '../support/logger.ts';
import { exampleChart, helmBinaries } from '../support/tools.ts';

const NS = 'platform-admin';
const SELECTOR = { 'app.kubernetes.io/name': 'tenant-app' };
const SERVICE_PATH = `/api/v1/namespaces/${NS}/services/admin`;

let kube: FakeKube;
beforeEach(async () => {
  kube = await startFakeKube({ crashLoopIntervalMs: 30 });
  kube.addNamespaces([NS]);
});
afterEach(async () => {
  await kube.close();
});

/** The live Service as a user creates it: outside any Helm release. */
const liveService = (selector: Record<string, string>): KubeObject => ({
  apiVersion: 'v1',
  kind: 'Service',
  metadata: { name: 'admin', namespace: NS, labels: { 'app.kubernetes.io/name': 'tenant-app' } },
  spec: { type: 'ClusterIP', selector, ports: [{ name: 'http', port: 80, targetPort: 'http', protocol: 'TCP' }] },
});

/** What a color release renders (the workload part), so the real adapter can judge its health. */
const colorDeployment = (color: string, image: string): KubeObject => {
  const labels = { ...SELECTOR, 'app.kubernetes.io/instance': `admin-${color}`, color };
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: {
      name: `admin-${color}`,
      namespace: NS,
      labels,
      annotations: { 'meta.helm.sh/release-name': `admin-${color}`, 'meta.helm.sh/release-namespace': NS },
    },
    spec: {
      replicas: 1,
      selector: { matchLabels: labels },
      template: { metadata: { labels }, spec: { containers: [{ name: 'app', image }] } },
    },
  };
};

const baseUpgrade = (over: Partial<UpgradeOptions> = {}): UpgradeOptions => ({
  release: 'admin',
  namespace: NS,
  chart: exampleChart,
  valuesFiles: [],
  set: ['image.tag=1.3.0'],
  setString: [],
  createNamespace: false,
  wait: 'ready',
  timeoutMs: 20_000,
  dryRun: 'none',
  serverSide: 'auto',
  ...over,
});

const fastRequest = (over: Partial<BlueGreenRequest> = {}): BlueGreenRequest => ({
  upgrade: baseUpgrade(),
  keepOldMs: 300,
  checkIntervalMs: 100,
  readyTimeoutMs: 3_000,
  oldColor: 'keep',
  ...over,
});

describe('blue-green through the client-node adapter (scripted helm)', () => {
  it('reads the Service, patches the selector as a strategic merge with only the color key changed, and rolls back the same way', async () => {
    await kube.apply(liveService({ ...SELECTOR, color: 'blue' }), { fieldManager: 'kubectl' });
    await kube.apply(colorDeployment('blue', 'registry.example.com/dotmac/isp-ops-app:1.2.0'));
    await kube.apply(colorDeployment('green', 'registry.example.com/dotmac/isp-ops-app:1.3.0'));
    const before = kube.get('Service', NS, 'admin')!;
    const helm = new FakeHelm();
    helm.seed(NS, 'admin-blue', [{ status: 'deployed' }]);
    helm.onUpgrade(NS, 'admin-green', { kind: 'ok' });
    const cluster = createCluster({ kubeconfigYaml: kube.kubeconfigYaml });
    const ports = { helm, cluster, clock: systemClock, logger: new RecordingLogger() };
    kube.clearRequests();

    const o = await deployBlueGreen(fastRequest({ expectedImages: ['registry.example.com/dotmac/isp-ops-app:1.3.0'] }), ports);
    expect(o).toMatchObject({ status: 'switched', liveColor: 'green', previousColor: 'blue', switched: true });

    expect(kube.requests.filter((r) => r.path === SERVICE_PATH).map((r) => r.method)).toEqual(['GET', 'GET', 'PATCH', 'GET']);
    const patches = kube.requests.filter((r) => r.method === 'PATCH');
    expect(patches).toHaveLength(1);
    expect(patches[0]!.contentType).toBe('application/strategic-merge-patch+json');
    expect(patches[0]!.query.fieldManager).toBe('deploy-actions');
    // The switch and the color it switched away from (the rollback's destination) in one patch.
    expect(JSON.parse(patches[0]!.body)).toEqual({
      metadata: { annotations: { 'deploy-actions/previous-color': 'blue' } },
      spec: { selector: { $patch: 'replace', ...SELECTOR, color: 'green' } },
    });

    // Only the color key changed; ports, labels and the rest of the Service are as the user left them.
    const after = kube.get('Service', NS, 'admin')!;
    expect(after.spec.selector).toEqual({ ...SELECTOR, color: 'green' });
    const { selector: _a, ...specAfter } = after.spec;
    const { selector: _b, ...specBefore } = before.spec;
    expect(specAfter).toEqual(specBefore);
    expect(after.metadata.labels).toEqual(before.metadata.labels);
    expect(after.metadata.annotations).toMatchObject({ 'deploy-actions/previous-color': 'blue' });
    // deploy-actions now owns the selector, nobody else applies it.
    const owners = after.metadata.managedFields!.filter((m) => m.fieldsV1?.['f:spec']?.['f:selector']).map((m) => m.manager);
    expect(owners).toEqual(['deploy-actions']);

    const back = await rollbackBlueGreen({ release: 'admin', namespace: NS }, ports);
    expect(back).toMatchObject({ status: 'rolled-back', liveColor: 'blue', previousColor: 'green' });
    expect(kube.get('Service', NS, 'admin')!.spec.selector).toEqual({ ...SELECTOR, color: 'blue' });
    expect(kube.requests.filter((r) => r.method === 'PATCH').map((r) => r.contentType)).toEqual(
      Array(2).fill('application/strategic-merge-patch+json'),
    );
  });

  it('a crash-looping green, judged by the real adapter, never receives the selector', async () => {
    await kube.apply(liveService({ ...SELECTOR, color: 'blue' }), { fieldManager: 'kubectl' });
    await kube.apply(colorDeployment('blue', 'registry.example.com/dotmac/isp-ops-app:1.2.0'));
    await kube.apply(colorDeployment('green', 'registry.example.com/dotmac/isp-ops-app:bad'));
    const helm = new FakeHelm();
    helm.seed(NS, 'admin-blue', [{ status: 'deployed' }]);
    helm.onUpgrade(NS, 'admin-green', { kind: 'ok' });
    const cluster = createCluster({ kubeconfigYaml: kube.kubeconfigYaml });
    kube.clearRequests();
    const o = await deployBlueGreen(fastRequest({ readyTimeoutMs: 1_000 }), {
      helm,
      cluster,
      clock: systemClock,
      logger: new RecordingLogger(),
    });
    expect(o).toMatchObject({ status: 'idle-failed', liveColor: 'blue', switched: false });
    expect(o.error).toMatch(/CrashLoopBackOff/);
    expect(kube.requests.filter((r) => r.method === 'PATCH')).toEqual([]);
    expect(kube.get('Service', NS, 'admin')!.spec.selector).toEqual({ ...SELECTOR, color: 'blue' });
  });

  it('a missing Service is read as absent (404) and refused', async () => {
    const cluster = createCluster({ kubeconfigYaml: kube.kubeconfigYaml });
    const helm = new FakeHelm();
    await expect(deployBlueGreen(fastRequest(), { helm, cluster, clock: systemClock, logger: new RecordingLogger() })).rejects.toThrow(
      'Service platform-admin/admin: does not exist',
    );
    expect(helm.calls).toEqual([]);
  });
});

describe.each([3, 4] as const)('blue-green with the real helm %i binary against the fake API server', (major) => {
  let home: string;
  beforeEach(() => {
    home = mkdtempSync(join(tmpdir(), `bluegreen-helm${major}-`));
  });
  afterEach(() => rmSync(home, { recursive: true, force: true }));

  it(
    'bootstraps blue, switches to green, rolls back to blue, a bad green never gets the selector, and later upgrades do not conflict',
    { timeout: 180_000 },
    async () => {
      const logger = new RecordingLogger();
      const helm = await HelmCli.create({
        binary: helmBinaries[major],
        run: runCommand,
        secrets: new Secrets(),
        logger,
        env: {
          PATH: process.env.PATH,
          HOME: home,
          KUBECONFIG: kube.kubeconfigPath,
          HELM_CACHE_HOME: join(home, 'cache'),
          HELM_CONFIG_HOME: join(home, 'config'),
          HELM_DATA_HOME: join(home, 'data'),
        },
      });
      const cluster = createCluster({ kubeconfigPath: kube.kubeconfigPath });
      const ports = { helm, cluster, clock: systemClock, logger };
      const image = (tag: string) => `registry.example.com/dotmac/isp-ops-app:${tag}`;
      const deploy = (tag: string, over: Partial<BlueGreenRequest> = {}) =>
        deployBlueGreen(
          fastRequest({
            upgrade: baseUpgrade({ set: [`image.tag=${tag}`], timeoutMs: tag === 'bad' ? 4_000 : 20_000 }),
            expectedImages: [image(tag)],
            ...over,
          }),
          ports,
        );

      // The live Service: created by the user, no color key yet.
      await kube.apply(liveService(SELECTOR), { fieldManager: 'kubectl' });

      const blue = await deploy('1.2.0', { initialColor: 'blue' });
      expect(blue, blue.error).toMatchObject({ status: 'switched', liveColor: 'blue', previousColor: undefined, revisions: { blue: 1 } });
      expect(kube.get('Service', NS, 'admin-blue')!.spec.selector).toMatchObject({ color: 'blue' }); // the color's own Service
      expect(kube.get('Service', NS, 'admin')!.spec.selector).toEqual({ ...SELECTOR, color: 'blue' });

      const green = await deploy('1.3.0');
      expect(green, green.error).toMatchObject({
        status: 'switched',
        liveColor: 'green',
        previousColor: 'blue',
        oldColor: 'kept',
        revisions: { blue: 1, green: 1 },
      });
      expect(kube.get('Service', NS, 'admin')!.spec.selector).toEqual({ ...SELECTOR, color: 'green' });
      expect(kube.get('Deployment', NS, 'admin-green')!.spec.template.metadata.labels).toMatchObject({ color: 'green' });

      // Same version again: nothing to switch, blue (1.2.0) stays the rollback target.
      const again = await deploy('1.3.0');
      expect(again).toMatchObject({ status: 'unchanged', liveColor: 'green', revisions: { blue: 1, green: 1 } });

      const back = await rollbackBlueGreen({ release: 'admin', namespace: NS, expectedImages: [image('1.2.0')] }, ports);
      expect(back).toMatchObject({ status: 'rolled-back', liveColor: 'blue', previousColor: 'green', revisions: { blue: 1, green: 1 } });
      expect(kube.get('Service', NS, 'admin')!.spec.selector).toEqual({ ...SELECTOR, color: 'blue' });

      // A bad green: helm 4 times out waiting, deployRelease rolls green back; the selector stays on blue.
      kube.clearRequests();
      const bad = await deploy('bad');
      expect(bad).toMatchObject({ status: 'idle-failed', liveColor: 'blue', switched: false });
      expect(bad.deploy).toMatchObject({ status: 'rolled-back', previousRevision: 1 });
      expect(kube.requests.filter((r) => r.method === 'PATCH' && r.path === SERVICE_PATH)).toEqual([]);
      expect(kube.get('Service', NS, 'admin')!.spec.selector).toEqual({ ...SELECTOR, color: 'blue' });

      // After all those selector patches, helm 4 still upgrades both colors: no server-side-apply conflict.
      const next = await deploy('1.4.0', { oldColor: 'uninstall' });
      expect(next, next.error).toMatchObject({ status: 'switched', liveColor: 'green', previousColor: 'blue', oldColor: 'uninstalled' });
      expect(next.revisions.blue).toBeUndefined();
      expect(kube.get('Deployment', NS, 'admin-blue')).toBeUndefined();
      expect(kube.get('Service', NS, 'admin')!.spec.selector).toEqual({ ...SELECTOR, color: 'green' });
      expect(logger.text()).not.toMatch(/conflict/i);
    },
  );
});
