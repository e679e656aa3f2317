import { describe, expect, it, vi } from 'vitest';
import { deployBlueGreen, rollbackBlueGreen } from '../../src/bluegreen/deploy.ts';
import type { BlueGreenRequest, BlueGreenRollbackRequest } from '../../src/bluegreen/deploy.ts';
import { fingerprintOf, versionFingerprint } from '../../src/bluegreen/colors.ts';
import { ConfigurationError } from '../../src/core/errors.ts';
import type { UpgradeOptions } from '../../src/helm/argv.ts';
import { FakeClock } from '../support/fake-clock.ts';
import { FakeHelm } from '../support/fake-helm.ts';
import { RecordingLogger } from '../support/logger.ts';
import { FakeBlueGreenCluster } from './fake-cluster.ts';

const NS = 'platform-admin';
const APP = { 'app.kubernetes.io/name': 'tenant-app' };

/** FakeHelm that also keeps the options of each upgrade (to see the color value and description). */
class RecordingHelm extends FakeHelm {
  readonly upgrades: UpgradeOptions[] = [];
  override async upgrade(o: UpgradeOptions, signal?: AbortSignal) {
    this.upgrades.push(o);
    return super.upgrade(o, signal);
  }
}

const upgrade = (over: Partial<UpgradeOptions> = {}): UpgradeOptions => ({
  release: 'admin',
  namespace: NS,
  chart: 'oci://registry.example.com/charts/tenant-app',
  version: '1.3.0',
  valuesFiles: [],
  set: ['image.tag=1.3.0'],
  setString: [],
  createNamespace: false,
  wait: 'ready',
  timeoutMs: 300_000,
  dryRun: 'none',
  serverSide: 'auto',
  description: 'deploy-actions helm-deploy run 7/1',
  ...over,
});

function setup(opts: { live?: 'blue' | 'green' | 'none'; annotations?: Record<string, string> } = {}) {
  const helm = new RecordingHelm();
  const cluster = new FakeBlueGreenCluster(helm);
  const clock = new FakeClock();
  const logger = new RecordingLogger();
  const live = opts.live ?? 'blue';
  cluster.addService(NS, 'admin', live === 'none' ? APP : { ...APP, color: live }, opts.annotations);
  const ports = { helm, cluster, clock, logger };
  const req = (over: Partial<BlueGreenRequest> = {}): BlueGreenRequest => ({
    upgrade: upgrade(),
    keepOldMs: 60_000,
    checkIntervalMs: 10_000,
    readyTimeoutMs: 30_000,
    oldColor: 'uninstall',
    ...over,
  });
  const rbReq = (over: Partial<BlueGreenRollbackRequest> = {}): BlueGreenRollbackRequest => ({ release: 'admin', namespace: NS, ...over });
  return { helm, cluster, clock, logger, ports, req, rbReq };
}

const fp = versionFingerprint(upgrade());

describe('deployBlueGreen', () => {
  it('first switch: deploys the idle color, verifies it through its own Service, switches only the color key, watches, then uninstalls the old color', async () => {
    const { helm, cluster, clock, ports, req } = setup();
    helm.seed(NS, 'admin-blue', [{ status: 'superseded' }, { status: 'deployed' }]);
    helm.onUpgrade(NS, 'admin-green', { kind: 'ok' });
    cluster.setHealth(NS, 'admin-green', 'healthy');
    const smoke = vi.fn(async () => ({ ok: true }));
    const start = clock.now();

    const o = await deployBlueGreen(req({ smoke }), ports);

    expect(o).toMatchObject({
      status: 'switched',
      liveColor: 'green',
      previousColor: 'blue',
      switched: true,
      oldColor: 'uninstalled',
      revisions: { green: 1 },
      service: 'admin',
    });
    expect(o.revisions.blue).toBeUndefined();
    expect(o.deploy).toMatchObject({ status: 'deployed', release: 'admin-green', revision: 1 });
    expect(helm.upgrades).toHaveLength(1);
    expect(helm.upgrades[0]).toMatchObject({
      release: 'admin-green',
      set: ['image.tag=1.3.0', 'color=green'],
      description: `deploy-actions helm-deploy run 7/1 [bg ${fp}]`,
    });
    expect(smoke).toHaveBeenCalledWith({ color: 'green', release: 'admin-green', namespace: NS, service: 'admin-green' });
    // Only the color key changed, by the suite's field manager.
    expect(cluster.patches).toEqual([
      { namespace: NS, name: 'admin', selector: { ...APP, color: 'green' }, fieldManager: 'deploy-actions' },
    ]);
    // The old color stayed for the whole window while the new one was checked every interval.
    const windowChecks = cluster.calls
      .slice(cluster.calls.indexOf(`patchServiceSelector ${NS}/admin app.kubernetes.io/name=tenant-app,color=green`))
      .filter((c) => c === `releaseHealth ${NS}/admin-green`);
    expect(windowChecks).toHaveLength(6);
    expect(clock.now() - start).toBe(60_000);
    const uninstall = helm.calls.indexOf(`uninstall ${NS}/admin-blue`);
    expect(uninstall).toBeGreaterThan(helm.calls.indexOf(`upgrade ${NS}/admin-green`));
    expect(o.steps.join('\n')).toMatch(
      /routes to blue[\s\S]*admin-green revision 1 deployed and verified[\s\S]*color blue -> green[\s\S]*stayed healthy[\s\S]*uninstalled blue/,
    );
  });

  it('old-color keep: the old release stays, so rollback is a selector switch away', async () => {
    const { helm, cluster, ports, req } = setup({ live: 'green' });
    helm.seed(NS, 'admin-green', [{ status: 'deployed' }]);
    helm.seed(NS, 'admin-blue', [{ status: 'deployed' }]);
    helm.onUpgrade(NS, 'admin-blue', { kind: 'ok' });
    cluster.setHealth(NS, 'admin-blue', 'healthy');
    const o = await deployBlueGreen(req({ oldColor: 'keep', keepOldMs: 0 }), ports);
    expect(o).toMatchObject({
      status: 'switched',
      liveColor: 'blue',
      previousColor: 'green',
      oldColor: 'kept',
      revisions: { blue: 2, green: 1 },
    });
    expect(helm.calls.some((c) => c.startsWith('uninstall'))).toBe(false);
    expect(cluster.selector(NS, 'admin')).toEqual({ ...APP, color: 'blue' });
  });

  it('the idle color failing readiness never receives the selector (a first install is uninstalled)', async () => {
    const { helm, cluster, ports, req } = setup();
    helm.seed(NS, 'admin-blue', [{ status: 'deployed' }]);
    helm.onUpgrade(NS, 'admin-green', { kind: 'ok' });
    cluster.setHealth(NS, 'admin-green', ['pod admin-green-6d9f-x: CrashLoopBackOff (5 restarts)']);
    const o = await deployBlueGreen(req(), ports);
    expect(o).toMatchObject({ status: 'idle-failed', liveColor: 'blue', previousColor: 'blue', switched: false, revisions: { blue: 1 } });
    expect(o.deploy?.status).toBe('uninstalled');
    expect(o.error).toBe(
      'green (admin-green) failed and never received traffic: revision 1 deployed but failed verification: not ready: pod admin-green-6d9f-x: CrashLoopBackOff (5 restarts)',
    );
    expect(cluster.patches).toEqual([]);
    expect(cluster.selector(NS, 'admin')).toEqual({ ...APP, color: 'blue' });
    expect(helm.calls).not.toContain(`uninstall ${NS}/admin-blue`);
  });

  it('a failing helm upgrade or failing smoke checks also leave the selector alone; an existing idle release is rolled back', async () => {
    const { helm, cluster, ports, req } = setup();
    helm.seed(NS, 'admin-blue', [{ status: 'deployed' }]);
    helm.seed(NS, 'admin-green', [{ status: 'superseded' }, { status: 'deployed' }]);
    helm.onUpgrade(NS, 'admin-green', { kind: 'fail', message: 'context deadline exceeded' }, { kind: 'ok' });
    cluster.setHealth(NS, 'admin-green', 'healthy');

    const a = await deployBlueGreen(req(), ports);
    expect(a).toMatchObject({ status: 'idle-failed', liveColor: 'blue', switched: false, revisions: { blue: 1, green: 4 } });
    expect(a.deploy).toMatchObject({ status: 'rolled-back', previousRevision: 2 });

    const b = await deployBlueGreen(req({ smoke: async (t) => ({ ok: false, reason: `GET http://${t.service}/api/ready: 503` }) }), ports);
    expect(b).toMatchObject({ status: 'idle-failed', liveColor: 'blue', switched: false });
    expect(b.error).toContain('smoke checks through Service platform-admin/admin-green failed: GET http://admin-green/api/ready: 503');
    expect(cluster.patches).toEqual([]);
  });

  it('waits for readiness within ready-timeout, polling through the clock', async () => {
    const { helm, cluster, clock, ports, req } = setup();
    helm.seed(NS, 'admin-blue', [{ status: 'deployed' }]);
    helm.onUpgrade(NS, 'admin-green', { kind: 'ok' });
    cluster.setHealth(
      NS,
      'admin-green',
      ['deployment/admin-green: 0/1 replicas ready'],
      ['deployment/admin-green: 0/1 replicas ready'],
      'healthy',
    );
    const o = await deployBlueGreen(req({ keepOldMs: 0 }), ports);
    expect(o.status).toBe('switched');
    expect(clock.sleeps.slice(0, 2)).toEqual([10_000, 10_000]);
  });

  it('a color scaled to zero is healthy but serves nothing: never a switch target', async () => {
    const { helm, cluster, ports, req } = setup();
    helm.seed(NS, 'admin-blue', [{ status: 'deployed' }]);
    helm.onUpgrade(NS, 'admin-green', { kind: 'ok' });
    cluster.setHealth(NS, 'admin-green', 'scaled-to-zero');
    const o = await deployBlueGreen(req(), ports);
    expect(o.status).toBe('idle-failed');
    expect(o.error).toContain('deployment/admin-green: scaled to 0 replicas');
    expect(cluster.patches).toEqual([]);
  });

  it('degrading during the keep window switches the selector back to the old color, which is kept', async () => {
    const { helm, cluster, ports, req } = setup();
    helm.seed(NS, 'admin-blue', [{ status: 'deployed' }]);
    helm.onUpgrade(NS, 'admin-green', { kind: 'ok' });
    cluster.setHealth(NS, 'admin-green', 'healthy', 'healthy', 'healthy', ['pod admin-green-1: CrashLoopBackOff (3 restarts)']);
    cluster.setHealth(NS, 'admin-blue', 'healthy');
    const o = await deployBlueGreen(req({ keepOldMs: 300_000 }), ports);
    expect(o).toMatchObject({
      status: 'rolled-back',
      liveColor: 'blue',
      previousColor: 'blue',
      switched: false,
      oldColor: 'kept',
      revisions: { blue: 1, green: 1 },
    });
    expect(o.error).toBe('green degraded 30s after the switch: pod admin-green-1: CrashLoopBackOff (3 restarts)');
    expect(cluster.patches.map((p) => p.selector.color)).toEqual(['green', 'blue']);
    expect(cluster.selector(NS, 'admin')).toEqual({ ...APP, color: 'blue' });
    expect(helm.calls.some((c) => c.startsWith('uninstall'))).toBe(false);
  });

  it('never switches back to an old color that is not serving either: reports, needs a person', async () => {
    const { helm, cluster, ports, req } = setup();
    helm.seed(NS, 'admin-blue', [{ status: 'deployed' }]);
    helm.onUpgrade(NS, 'admin-green', { kind: 'ok' });
    cluster.setHealth(NS, 'admin-green', 'healthy', 'healthy', ['deployment/admin-green: 0/1 replicas ready']);
    cluster.setHealth(NS, 'admin-blue', ['pod admin-blue-1: ImagePullBackOff (0 restarts)']);
    const o = await deployBlueGreen(req(), ports);
    expect(o).toMatchObject({ status: 'failed', liveColor: 'green', switched: true, oldColor: 'kept' });
    expect(o.error).toContain(
      'not switching back to blue: release platform-admin/admin-blue: is not fit to serve: pod admin-blue-1: ImagePullBackOff (0 restarts); the selector stays on green; needs a person',
    );
    expect(cluster.patches.map((p) => p.selector.color)).toEqual(['green']);
  });

  it('an API error during the window is not a verdict: no switch back on it', async () => {
    const { helm, cluster, logger, ports, req } = setup();
    helm.seed(NS, 'admin-blue', [{ status: 'deployed' }]);
    helm.onUpgrade(NS, 'admin-green', { kind: 'ok' });
    cluster.setHealth(NS, 'admin-green', 'healthy');
    const real = cluster.releaseHealth.bind(cluster);
    let n = 0;
    cluster.releaseHealth = async (ns, rel) => {
      if (++n === 3) throw new Error('the Kubernetes API did not answer in time');
      return real(ns, rel);
    };
    const o = await deployBlueGreen(req({ keepOldMs: 30_000 }), ports);
    expect(o).toMatchObject({ status: 'switched', liveColor: 'green' });
    expect(logger.text()).toContain('health check of admin-green failed (the Kubernetes API did not answer in time); not a verdict');
  });

  it('first deploy: without a color key and initial-color it refuses; with initial-color it deploys that color and adds the key', async () => {
    const { helm, cluster, ports, req } = setup({ live: 'none' });
    const err = await deployBlueGreen(req(), ports).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigurationError);
    expect((err as Error).message).toBe(
      'Service platform-admin/admin: has no "color" key in its selector (app.kubernetes.io/name=tenant-app), so the live color cannot be read (add "color: blue" (or green: the color that serves now) to its selector, or, on the first deploy, set initial-color to deploy that color and let this run add the key)',
    );
    expect(helm.calls).toEqual([]);

    helm.onUpgrade(NS, 'admin-blue', { kind: 'ok' });
    cluster.setHealth(NS, 'admin-blue', 'healthy');
    const o = await deployBlueGreen(req({ initialColor: 'blue' }), ports);
    expect(o).toMatchObject({ status: 'switched', liveColor: 'blue', previousColor: undefined, switched: true, revisions: { blue: 1 } });
    expect(o.oldColor).toBeUndefined();
    expect(cluster.patches).toEqual([
      { namespace: NS, name: 'admin', selector: { ...APP, color: 'blue' }, fieldManager: 'deploy-actions' },
    ]);
  });

  it('a control plane running today as one rolling release: stops with the migration steps instead of installing a second copy', async () => {
    const { helm, ports, req } = setup({ live: 'none', annotations: { 'meta.helm.sh/release-name': 'admin' } });
    helm.seed(NS, 'admin', [{ status: 'superseded' }, { status: 'deployed' }]);
    const err = await deployBlueGreen(req({ initialColor: 'blue' }), ports).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigurationError);
    const m = (err as Error).message;
    expect(m).toMatch(
      /^release platform-admin\/admin: runs today as one rolling release \(revision 2, tenant-app-1\.2\.0, deployed\) and Service platform-admin\/admin has no "color" key: a blue-green deploy would install admin-blue beside it, a second copy of the application\. Nothing was deployed/,
    );
    for (const s of [
      'set strategy: rolling (release.yml: platform-strategy: rolling)',
      '1) keep the live Service when the rolling release goes: kubectl -n platform-admin annotate service admin helm.sh/resource-policy=keep',
      "2) install today's version as the blue color, not yet serving: helm upgrade --install admin-blue",
      `3) switch the traffic: kubectl -n platform-admin patch service admin --type merge -p '{"spec":{"selector":{"color":"blue"}}}'`,
      '4) after a watch, remove the rolling copy: helm uninstall admin -n platform-admin',
    ])
      expect(m).toContain(s);
    expect(helm.calls).toEqual(['history platform-admin/admin']); // nothing installed, nothing patched
    // Without the rolling release (step 4 done), the first blue-green deploy goes ahead.
    helm.releases.delete(`${NS}/admin`);
    helm.onUpgrade(NS, 'admin-blue', { kind: 'ok' });
    ports.cluster.setHealth(NS, 'admin-blue', 'healthy');
    expect((await deployBlueGreen(req({ initialColor: 'blue' }), ports)).status).toBe('switched');
  });

  it('a missing Service is a clear error before anything is deployed', async () => {
    const { helm, ports, req } = setup();
    const err = await deployBlueGreen(req({ service: 'admin-live' }), ports).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigurationError);
    expect((err as Error).message).toMatch(
      /^Service platform-admin\/admin-live: does not exist: blue-green switches the selector of a live Service/,
    );
    expect((err as Error).message).toContain('with a selector that includes "color: blue"');
    expect(helm.calls).toEqual([]);
  });

  it('a color key that is neither blue nor green is refused; a custom color-label is read', async () => {
    const { cluster, helm, ports, req } = setup();
    cluster.addService(NS, 'admin', { ...APP, color: 'purple' });
    await expect(deployBlueGreen(req(), ports)).rejects.toThrow(
      'Service platform-admin/admin: selects color=purple, which is neither blue nor green',
    );
    cluster.addService(NS, 'admin', { ...APP, 'dotmac.io/slot': 'green' });
    helm.seed(NS, 'admin-green', [{ status: 'deployed' }]);
    helm.onUpgrade(NS, 'admin-blue', { kind: 'ok' });
    cluster.setHealth(NS, 'admin-blue', 'healthy');
    const o = await deployBlueGreen(req({ colorLabel: 'dotmac.io/slot', keepOldMs: 0 }), ports);
    expect(o).toMatchObject({ status: 'switched', liveColor: 'blue' });
    expect(cluster.selector(NS, 'admin')).toEqual({ ...APP, 'dotmac.io/slot': 'blue' });
  });

  it('a live Service that belongs to a color release is refused (the Helm 4 server-side-apply trap)', async () => {
    const { helm, ports, req } = setup({
      annotations: { 'meta.helm.sh/release-name': 'admin-blue', 'meta.helm.sh/release-namespace': NS },
    });
    const err = await deployBlueGreen(req(), ports).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigurationError);
    expect((err as Error).message).toContain('Service platform-admin/admin: is part of the color release "admin-blue"');
    expect((err as Error).message).toContain(
      'every later Helm 4 upgrade of "admin-blue" fails with a server-side-apply conflict on .spec.selector',
    );
    expect(helm.calls).toEqual([]);
  });

  it('a live Service owned by another Helm release is allowed, with a warning about the selector', async () => {
    const { helm, cluster, logger, ports, req } = setup({ annotations: { 'meta.helm.sh/release-name': 'admin-routing' } });
    helm.seed(NS, 'admin-blue', [{ status: 'deployed' }]);
    helm.onUpgrade(NS, 'admin-green', { kind: 'ok' });
    cluster.setHealth(NS, 'admin-green', 'healthy');
    const o = await deployBlueGreen(req({ keepOldMs: 0 }), ports);
    expect(o.status).toBe('switched');
    expect(logger.lines).toContainEqual({
      level: 'warning',
      message: expect.stringContaining('is managed by Helm release "admin-routing"'),
    });
  });

  it('both colors at the same version: the second run is a no-op (nothing deployed, nothing switched, rollback target intact)', async () => {
    const { helm, cluster, ports, req } = setup();
    helm.seed(NS, 'admin-blue', [{ status: 'deployed', description: 'older [bg 0123456789abcdef]' }]);
    helm.onUpgrade(NS, 'admin-green', { kind: 'ok' });
    cluster.setHealth(NS, 'admin-green', 'healthy');
    expect((await deployBlueGreen(req({ oldColor: 'keep', keepOldMs: 0 }), ports)).liveColor).toBe('green');

    const again = await deployBlueGreen(req({ oldColor: 'keep', keepOldMs: 0 }), ports);
    expect(again).toMatchObject({
      status: 'unchanged',
      liveColor: 'green',
      previousColor: 'green',
      switched: false,
      revisions: { blue: 1, green: 1 },
    });
    expect(again.steps.at(-1)).toContain('green (admin-green revision 1) already runs this version');
    expect(helm.upgrades).toHaveLength(1); // FakeHelm would throw on an unscripted upgrade of admin-blue anyway
    expect(cluster.patches).toHaveLength(1);

    // A different version deploys normally.
    helm.onUpgrade(NS, 'admin-blue', { kind: 'ok' });
    cluster.setHealth(NS, 'admin-blue', 'healthy');
    const next = await deployBlueGreen(req({ upgrade: upgrade({ set: ['image.tag=1.4.0'] }), oldColor: 'keep', keepOldMs: 0 }), ports);
    expect(next).toMatchObject({ status: 'switched', liveColor: 'blue', previousColor: 'green' });
  });

  it('the fingerprint follows helm rollback revisions back to the content they restored', () => {
    const h = [
      { revision: 1, updated: '', status: 'superseded', chart: 'c-1', app_version: '1', description: `x [bg ${fp}]` },
      { revision: 2, updated: '', status: 'superseded', chart: 'c-1', app_version: '1', description: 'y [bg ffffffffffffffff]' },
      { revision: 3, updated: '', status: 'deployed', chart: 'c-1', app_version: '1', description: 'Rollback to 1' },
    ];
    expect(fingerprintOf(h, 3)).toBe(fp);
    expect(fingerprintOf(h, 2)).toBe('ffffffffffffffff');
    expect(fingerprintOf([{ ...h[0]!, description: 'Install complete' }], 1)).toBeUndefined();
    expect(versionFingerprint(upgrade({ set: ['image.tag=1.4.0'] }))).not.toBe(fp);
  });

  it('dry run: nothing is switched', async () => {
    const { helm, cluster, ports, req } = setup();
    helm.seed(NS, 'admin-blue', [{ status: 'deployed' }]);
    helm.onUpgrade(NS, 'admin-green', { kind: 'ok' });
    const o = await deployBlueGreen(req({ upgrade: upgrade({ dryRun: 'server' }) }), ports);
    expect(o).toMatchObject({ status: 'dry-run', liveColor: 'blue', switched: false });
    expect(cluster.patches).toEqual([]);
  });

  it('a failed selector patch is reported with the color still live', async () => {
    const { helm, cluster, ports, req } = setup();
    helm.seed(NS, 'admin-blue', [{ status: 'deployed' }]);
    helm.onUpgrade(NS, 'admin-green', { kind: 'ok' });
    cluster.setHealth(NS, 'admin-green', 'healthy');
    cluster.failPatch = new Error('services "admin" is forbidden: User "ci" cannot patch resource "services"');
    const o = await deployBlueGreen(req(), ports);
    expect(o).toMatchObject({ status: 'failed', liveColor: 'blue', switched: false });
    expect(o.error).toBe(
      'selector switch to green failed: services "admin" is forbidden: User "ci" cannot patch resource "services" (live color now: blue)',
    );
    expect(helm.calls).not.toContain(`uninstall ${NS}/admin-blue`);
  });

  it('does not switch when the live color changed under it during the run', async () => {
    const { helm, cluster, ports, req } = setup();
    helm.seed(NS, 'admin-blue', [{ status: 'deployed' }]);
    helm.onUpgrade(NS, 'admin-green', { kind: 'ok' });
    cluster.setHealth(NS, 'admin-green', 'healthy');
    const smoke = async () => {
      cluster.services.get(`${NS}/admin`)!.selector.color = 'green'; // someone else switched
      return { ok: true };
    };
    const o = await deployBlueGreen(req({ smoke }), ports);
    expect(o.status).toBe('failed');
    expect(o.error).toContain('changed during the run (expected blue, found green); not switching');
    expect(cluster.patches).toEqual([]);
  });

  it('cancelled during the keep window: the new color serves, the old one is kept', async () => {
    const { helm, cluster, ports, req } = setup();
    helm.seed(NS, 'admin-blue', [{ status: 'deployed' }]);
    helm.onUpgrade(NS, 'admin-green', { kind: 'ok' });
    cluster.setHealth(NS, 'admin-green', 'healthy');
    const ctl = new AbortController();
    const real = cluster.releaseHealth.bind(cluster);
    let n = 0;
    cluster.releaseHealth = async (ns, rel) => {
      if (++n === 2) ctl.abort();
      return real(ns, rel);
    };
    const o = await deployBlueGreen(req({ signal: ctl.signal }), ports);
    expect(o).toMatchObject({ status: 'switched', liveColor: 'green', oldColor: 'kept' });
    expect(helm.calls.some((c) => c.startsWith('uninstall'))).toBe(false);
  });

  it('refuses a release name too long for the color suffix', async () => {
    const { ports, req } = setup();
    await expect(deployBlueGreen(req({ upgrade: upgrade({ release: 'a'.repeat(48) }) }), ports)).rejects.toThrow(
      /cannot carry the color suffix.*at most 47/,
    );
  });
});

describe('rollbackBlueGreen', () => {
  const RECORDED = { 'deploy-actions/previous-color': 'blue' };

  it('the deploy switch records the color it switched away from, on the live Service', async () => {
    const { helm, cluster, ports, req } = setup();
    helm.seed(NS, 'admin-blue', [{ status: 'deployed' }]);
    helm.onUpgrade(NS, 'admin-green', { kind: 'ok' });
    cluster.setHealth(NS, 'admin-green', 'healthy');
    await deployBlueGreen(req({ oldColor: 'keep', keepOldMs: 0 }), ports);
    expect(cluster.services.get(`${NS}/admin`)!.annotations).toEqual(RECORDED);
  });

  it('switches back to the color recorded as live before the last switch; a second run does nothing', async () => {
    const { helm, cluster, ports, rbReq } = setup({ live: 'green', annotations: RECORDED });
    helm.seed(NS, 'admin-blue', [{ status: 'superseded' }, { status: 'deployed' }]);
    helm.seed(NS, 'admin-green', [{ status: 'deployed' }]);
    cluster.setHealth(NS, 'admin-blue', 'healthy');
    const smoke = vi.fn(async () => ({ ok: true }));
    const o = await rollbackBlueGreen(rbReq({ smoke }), ports);
    expect(o).toMatchObject({
      status: 'rolled-back',
      liveColor: 'blue',
      previousColor: 'green',
      switched: true,
      revisions: { blue: 2, green: 1 },
    });
    expect(cluster.patches).toEqual([
      { namespace: NS, name: 'admin', selector: { ...APP, color: 'blue' }, fieldManager: 'deploy-actions' },
    ]);
    expect(smoke).toHaveBeenCalledWith({ color: 'blue', release: 'admin-blue', namespace: NS, service: 'admin-blue' });
    expect(o.steps.at(-1)).toBe('switched Service platform-admin/admin: color green -> blue (admin-blue revision 2)');
    expect(helm.upgrades).toEqual([]);
    // The record stays: it is the destination, not the last color.
    expect(cluster.services.get(`${NS}/admin`)!.annotations).toEqual(RECORDED);

    const again = await rollbackBlueGreen(rbReq({ smoke }), ports);
    expect(again).toMatchObject({ status: 'unchanged', liveColor: 'blue', switched: false });
    expect(again.steps).toEqual(['Service platform-admin/admin already routes to blue (admin-blue revision 2): nothing to switch']);
    expect(cluster.patches).toHaveLength(1);
    expect(cluster.selector(NS, 'admin')).toEqual({ ...APP, color: 'blue' });
  });

  it('an explicit color is the destination; naming the live one does nothing', async () => {
    const { helm, cluster, ports, rbReq } = setup({ live: 'green' });
    helm.seed(NS, 'admin-blue', [{ status: 'deployed' }]);
    helm.seed(NS, 'admin-green', [{ status: 'deployed' }]);
    cluster.setHealth(NS, 'admin-blue', 'healthy');
    expect(await rollbackBlueGreen(rbReq({ to: 'green' }), ports)).toMatchObject({ status: 'unchanged', liveColor: 'green' });
    expect(cluster.patches).toEqual([]);
    expect(await rollbackBlueGreen(rbReq({ to: 'blue' }), ports)).toMatchObject({ status: 'rolled-back', liveColor: 'blue' });
    expect(await rollbackBlueGreen(rbReq({ to: 'blue' }), ports)).toMatchObject({ status: 'unchanged', liveColor: 'blue' });
    expect(cluster.patches).toHaveLength(1);
  });

  it('with nothing recorded and no color given, refuses to guess (the old toggle) and names both ways out', async () => {
    const { helm, cluster, ports, rbReq } = setup({ live: 'green' });
    helm.seed(NS, 'admin-blue', [{ status: 'deployed' }]);
    const err = await rollbackBlueGreen(rbReq(), ports).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigurationError);
    expect((err as Error).message).toContain('no color is recorded as live before the last switch');
    expect((err as Error).message).toContain('blue-green-rollback-color');
    expect((err as Error).message).toContain(
      `kubectl -n ${NS} patch service admin --type merge -p '{"spec":{"selector":{"color":"blue"}}}'`,
    );
    expect(cluster.patches).toEqual([]);
  });

  it('refuses when the recorded color was uninstalled', async () => {
    const { helm, cluster, ports, rbReq } = setup({ live: 'green', annotations: RECORDED });
    helm.seed(NS, 'admin-green', [{ status: 'deployed' }]);
    const err = await rollbackBlueGreen(rbReq(), ports).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigurationError);
    expect((err as Error).message).toMatch(
      /^release platform-admin\/admin-blue: does not exist .* no blue color to switch back to; green stays live/,
    );
    expect(cluster.patches).toEqual([]);
  });

  it('never switches to an unhealthy or scaled-down color', async () => {
    const { helm, cluster, ports, rbReq } = setup({ live: 'green', annotations: RECORDED });
    helm.seed(NS, 'admin-blue', [{ status: 'deployed' }]);
    cluster.setHealth(NS, 'admin-blue', ['pod admin-blue-1: CrashLoopBackOff (7 restarts)']);
    await expect(rollbackBlueGreen(rbReq(), ports)).rejects.toThrow(
      'release platform-admin/admin-blue: is not fit to serve: revision 1 not ready: pod admin-blue-1: CrashLoopBackOff (7 restarts); the selector stays on green',
    );
    cluster.setHealth(NS, 'admin-blue', 'scaled-to-zero');
    await expect(rollbackBlueGreen(rbReq(), ports)).rejects.toThrow('scaled to 0 replicas');
    expect(cluster.patches).toEqual([]);
  });

  it('refuses a Service without a color key', async () => {
    const { ports, rbReq } = setup({ live: 'none' });
    await expect(rollbackBlueGreen(rbReq(), ports)).rejects.toThrow(
      'has no "color" key in its selector (app.kubernetes.io/name=tenant-app), so there is no live color to roll back from',
    );
  });
});
