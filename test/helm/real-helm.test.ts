/**
 * The Helm layer (HelmCli + deployRelease) with the REAL helm 3 and helm 4 binaries against the
 * wire-level API fake, using helm's own Secret storage: install, upgrade, a crash-looping upgrade
 * rolled back to the last deployed revision, and a release genuinely stuck in pending-upgrade
 * (helm killed mid-upgrade) refused and then recovered. Plus helm's memory driver with preloaded
 * history, read through the real binary.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { runCommand } from '../../src/core/process.ts';
import { systemClock } from '../../src/core/clock.ts';
import { Secrets } from '../../src/core/secrets.ts';
import { HelmCli } from '../../src/helm/cli.ts';
import { deployRelease } from '../../src/helm/deploy.ts';
import type { UpgradeOptions } from '../../src/helm/argv.ts';
import { lastGoodRevision, isPending, latest } from '../../src/helm/history.ts';
import { startFakeKube, type FakeKube } from '../support/fake-kube/index.ts';
import { RecordingLogger } from '../support/logger.ts';
import { exampleChart, helmBinaries } from '../support/tools.ts';

const NS = 'tenant-alpha';

describe.each([3, 4] as const)('Helm layer with the real helm %i', (major) => {
  let kube: FakeKube;
  let home: string;
  let env: NodeJS.ProcessEnv;
  let helm: HelmCli;
  const logger = new RecordingLogger();
  const secrets = new Secrets();

  beforeAll(async () => {
    kube = await startFakeKube({ crashLoopIntervalMs: 200 });
    kube.addTenantNamespaces([NS]);
    home = mkdtempSync(join(tmpdir(), `helm${major}-layer-`));
    env = {
      PATH: process.env.PATH,
      HOME: home,
      KUBECONFIG: kube.kubeconfigPath,
      HELM_CACHE_HOME: join(home, 'c'),
      HELM_CONFIG_HOME: join(home, 'f'),
      HELM_DATA_HOME: join(home, 'd'),
    };
    helm = await HelmCli.create({ binary: helmBinaries[major], env, run: runCommand, secrets, logger });
  });
  afterAll(async () => {
    await kube?.close();
    if (home) rmSync(home, { recursive: true, force: true });
  });

  const upgrade = (release: string, tag: string, timeoutMs = 30_000): UpgradeOptions => ({
    release,
    namespace: NS,
    chart: exampleChart,
    valuesFiles: [],
    set: [`image.tag=${tag}`],
    setString: [],
    createNamespace: false,
    wait: 'ready',
    timeoutMs,
    dryRun: 'none',
    serverSide: 'auto',
    description: `deploy-actions target=${tag}`,
  });
  const deps = () => ({ helm, logger, clock: systemClock });

  it('detects the version from the binary', () => {
    expect(helm.version.major).toBe(major);
  });

  it(
    'install, unchanged upgrade, then a crash-looping upgrade rolled back to the last deployed revision',
    { timeout: 120_000 },
    async () => {
      const first = await deployRelease(
        { upgrade: upgrade('alpha', '1.0.0'), rollbackOnFailure: true, recoverPending: false, compareContent: true },
        deps(),
      );
      expect(first).toMatchObject({
        status: 'deployed',
        revision: 1,
        previousRevision: undefined,
        chartVersion: '1.3.0',
        appVersion: '1.3.0',
        changed: true,
      });

      const same = await deployRelease(
        { upgrade: upgrade('alpha', '1.0.0'), rollbackOnFailure: true, recoverPending: false, compareContent: true },
        deps(),
      );
      expect(same).toMatchObject({ status: 'deployed', revision: 2, previousRevision: 1, changed: false });

      const bad = await deployRelease(
        { upgrade: upgrade('alpha', 'bad', 4_000), rollbackOnFailure: true, recoverPending: false, compareContent: true },
        deps(),
      );
      expect(bad).toMatchObject({ status: 'rolled-back', previousRevision: 2, attemptedRevision: 3, revision: 4 });
      expect(bad.error).toMatch(/UPGRADE FAILED|context deadline exceeded|timed out/);
      const h = await helm.history('alpha', { namespace: NS });
      expect(h.map((r) => [r.revision, r.status])).toEqual([
        [1, 'superseded'],
        [2, 'superseded'],
        [3, 'failed'],
        [4, 'deployed'],
      ]);
      expect(h[3]!.description).toBe('Rollback to 2');
      expect(kube.get('deployments', NS, 'alpha')?.spec.template.spec.containers[0].image).toMatch(/:1\.0\.0$/);
    },
  );

  it('a verification failure after helm succeeded is rolled back too', { timeout: 60_000 }, async () => {
    await deployRelease({ upgrade: upgrade('beta', '1.0.0'), rollbackOnFailure: true, recoverPending: false }, deps());
    const o = await deployRelease(
      {
        upgrade: upgrade('beta', '1.1.0'),
        rollbackOnFailure: true,
        recoverPending: false,
        verify: async () => ({ ok: false, reason: 'smoke check health: status 503' }),
      },
      deps(),
    );
    expect(o).toMatchObject({ status: 'rolled-back', previousRevision: 1, attemptedRevision: 2, revision: 3 });
  });

  it(
    'a release stuck in pending-upgrade (helm killed mid-upgrade) is refused, then recovered when asked',
    { timeout: 120_000 },
    async () => {
      await deployRelease({ upgrade: upgrade('gamma', '1.0.0'), rollbackOnFailure: true, recoverPending: false }, deps());
      // Upgrade to an image whose pod never starts, and SIGKILL helm while it waits: exactly how
      // a cancelled runner leaves a release (test/fixtures/kube/helm4-history-pending-upgrade.json).
      const wait = major === 4 ? '--wait=watcher' : '--wait';
      const child = spawn(
        helmBinaries[major],
        ['upgrade', 'gamma', exampleChart, '-n', NS, '--set', 'image.tag=pending', wait, '--timeout', '120s'],
        { env, stdio: 'ignore' },
      );
      for (let i = 0; i < 200 && !isPending(latest(await helm.history('gamma', { namespace: NS }))); i++)
        await new Promise((r) => setTimeout(r, 100));
      child.kill('SIGKILL');
      await new Promise((r) => child.once('exit', r));
      const stuck = await helm.history('gamma', { namespace: NS });
      expect(latest(stuck)).toMatchObject({ revision: 2, status: 'pending-upgrade' });
      expect(lastGoodRevision(stuck)?.revision).toBe(1);

      await expect(
        deployRelease({ upgrade: upgrade('gamma', '1.1.0'), rollbackOnFailure: true, recoverPending: false }, deps()),
      ).rejects.toThrow(`release ${NS}/gamma: revision 2 is stuck in pending-upgrade`);
      const o = await deployRelease({ upgrade: upgrade('gamma', '1.1.0'), rollbackOnFailure: true, recoverPending: true }, deps());
      expect(o).toMatchObject({
        status: 'deployed',
        recovered: { revision: 2, status: 'pending-upgrade', action: 'rolled-back' },
        previousRevision: 3,
        revision: 4,
      });
      expect(kube.get('deployments', NS, 'gamma')?.spec.template.spec.containers[0].image).toMatch(/:1\.1\.0$/);
    },
  );

  it(
    'eleven failed rollbacks never prune the revision they return to (helm marks it superseded on the first)',
    { timeout: 120_000 },
    async () => {
      const first = await deployRelease(
        { upgrade: upgrade('pruned', '1.0.0'), rollbackOnFailure: true, recoverPending: false, compareContent: false },
        deps(),
      );
      expect(first).toMatchObject({ status: 'deployed', revision: 1 });
      // Every rollback fails where helm updates the Deployment, after it wrote a pending-rollback
      // revision: each attempt leaves one failed revision, and the first marks revision 1 superseded.
      const rule = kube.inject({ path: `/apis/apps/v1/namespaces/${NS}/deployments/pruned` }, { status: 503 }, { times: Infinity });
      const op = { namespace: NS, wait: 'none' as const, timeoutMs: 30_000 };
      for (let i = 0; i < 11; i++) await expect(helm.rollback('pruned', 1, op)).rejects.toThrow();
      expect(rule.injected).toBeGreaterThanOrEqual(11);
      kube.clearFaults();
      const h = await helm.history('pruned', { namespace: NS });
      expect(
        h.find((r) => r.revision === 1),
        'revision 1 is still in the history',
      ).toMatchObject({ status: 'superseded' });
      await helm.rollback('pruned', 1, { ...op, wait: 'ready' });
      expect(latest(await helm.history('pruned', { namespace: NS }))).toMatchObject({ status: 'deployed', revision: 13 });
    },
  );

  it('lists every release of the cluster with its versions (what the fleet runs now)', async () => {
    const all = await helm.listAll();
    expect(all.map((r) => `${r.namespace}/${r.name}`).sort()).toEqual(expect.arrayContaining([`${NS}/alpha`, `${NS}/beta`, `${NS}/gamma`]));
    expect(all.find((r) => r.name === 'alpha')).toMatchObject({ chart: 'tenant-app-1.3.0', app_version: '1.3.0', status: 'deployed' });
  });

  it('helm refuses to upgrade a pending release with the error HelmError recognises', { timeout: 60_000 }, async () => {
    // Memory driver, preloaded: helm itself reads the history and refuses the upgrade.
    const data = join(home, 'releases.yaml');
    const rel = (version: number, status: string, description: string) => ({
      name: 'delta',
      namespace: NS,
      version,
      info: { status, description, first_deployed: '2026-11-22T20:51:38Z', last_deployed: '2026-11-22T20:51:38Z' },
      chart: { metadata: { name: 'tenant-app', version: '1.2.0', appVersion: '1.2.0', apiVersion: 'v2' } },
      config: {},
      manifest: '',
    });
    writeFileSync(
      data,
      stringify([
        rel(1, 'superseded', 'Install complete'),
        rel(2, 'deployed', 'Upgrade complete'),
        rel(3, 'failed', 'Upgrade "delta" failed'),
        rel(4, 'pending-upgrade', 'Preparing upgrade'),
      ]),
    );
    const mem = await HelmCli.create({
      binary: helmBinaries[major],
      env: { ...env, HELM_DRIVER: 'memory', HELM_MEMORY_DRIVER_DATA: data },
      run: runCommand,
      secrets,
      logger,
    });
    const h = await mem.history('delta', { namespace: NS });
    expect(h.map((r) => [r.revision, r.status])).toEqual([
      [1, 'superseded'],
      [2, 'deployed'],
      [3, 'failed'],
      [4, 'pending-upgrade'],
    ]);
    expect(lastGoodRevision(h)?.revision).toBe(2);
    const err = await mem.upgrade(upgrade('delta', '1.3.0')).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toMatchObject({ releaseLocked: true });
  });
});
