/**
 * Release history read in-process from Helm's storage Secrets equals `helm history -o json`
 * row for row, with the REAL helm 3 and helm 4 writing the Secrets into the wire-level fake:
 * installs, upgrades, a failed upgrade rolled back, a superseded chain, and two releases side by
 * side. The cluster-wide read falls back to per-namespace lists when listing Secrets cluster-wide
 * is forbidden, and both give the same histories and the same rollback target.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCommand } from '../../src/core/process.ts';
import { systemClock } from '../../src/core/clock.ts';
import { Secrets } from '../../src/core/secrets.ts';
import { HelmCli } from '../../src/helm/cli.ts';
import { deployRelease } from '../../src/helm/deploy.ts';
import type { UpgradeOptions } from '../../src/helm/argv.ts';
import { lastGoodRevision } from '../../src/helm/history.ts';
import { withStorageHistory } from '../../src/helm/storage.ts';
import { loadConfig } from '../../src/kube/client.ts';
import { createReleaseHistory, isForbidden } from '../../src/kube/release-history.ts';
import { startFakeKube, type FakeKube } from '../support/fake-kube/index.ts';
import { RecordingLogger } from '../support/logger.ts';
import { exampleChart, helmBinaries } from '../support/tools.ts';

describe.each([3, 4] as const)('in-process history with the real helm %i', (major) => {
  let kube: FakeKube;
  let home: string;
  let helm: HelmCli;
  const logger = new RecordingLogger();

  beforeAll(async () => {
    kube = await startFakeKube({ crashLoopIntervalMs: 200 });
    kube.addTenantNamespaces(['tenant-alpha', 'tenant-beta']);
    home = mkdtempSync(join(tmpdir(), `helm${major}-storage-`));
    const env = {
      PATH: process.env.PATH,
      HOME: home,
      KUBECONFIG: kube.kubeconfigPath,
      HELM_CACHE_HOME: join(home, 'c'),
      HELM_CONFIG_HOME: join(home, 'f'),
      HELM_DATA_HOME: join(home, 'd'),
    };
    helm = await HelmCli.create({ binary: helmBinaries[major], env, run: runCommand, secrets: new Secrets(), logger });
  });
  afterAll(async () => {
    await kube?.close();
    if (home) rmSync(home, { recursive: true, force: true });
  });

  const upgrade = (ns: string, release: string, tag: string, timeoutMs = 30_000): UpgradeOptions => ({
    release,
    namespace: ns,
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

  it('equals helm history row for row, per release and for the fleet, with the same rollback target', { timeout: 180_000 }, async () => {
    const deps = { helm, logger, clock: systemClock };
    const go = (ns: string, rel: string, tag: string, t?: number) =>
      deployRelease({ upgrade: upgrade(ns, rel, tag, t), rollbackOnFailure: true, recoverPending: false }, deps);
    await go('tenant-alpha', 'alpha', '1.0.0');
    await go('tenant-alpha', 'alpha', '1.0.1');
    expect((await go('tenant-alpha', 'alpha', 'bad', 4_000)).status).toBe('rolled-back');
    await go('tenant-beta', 'beta', '1.0.0');
    // A failed first... second upgrade left as failed (no rollback): the newest row is `failed`.
    await deployRelease({ upgrade: upgrade('tenant-beta', 'beta', 'bad', 4_000), rollbackOnFailure: false, recoverPending: false }, deps);

    const reader = createReleaseHistory({ kubeConfig: loadConfig({ kubeconfigYaml: kube.kubeconfigYaml }), pageSize: 2 });
    for (const [ns, rel] of [
      ['tenant-alpha', 'alpha'],
      ['tenant-beta', 'beta'],
    ] as const) {
      const cli = await helm.history(rel, { namespace: ns });
      const own = await reader.history(ns, rel);
      expect(cli.length).toBeGreaterThanOrEqual(2);
      expect(own).toEqual(cli);
      expect(lastGoodRevision(own)).toEqual(lastGoodRevision(cli));
    }
    expect((await helm.history('alpha', { namespace: 'tenant-alpha' })).map((r) => r.status)).toEqual([
      'superseded',
      'superseded',
      'failed',
      'deployed',
    ]);
    expect(await reader.history('tenant-alpha', 'nobody')).toEqual([]);

    const cluster = await reader.fleet(['tenant-alpha', 'tenant-beta']);
    expect(cluster.scope).toBe('cluster');
    expect(cluster.histories.get('tenant-alpha/alpha')).toEqual(await helm.history('alpha', { namespace: 'tenant-alpha' }));
    expect(cluster.histories.get('tenant-beta/beta')).toEqual(await helm.history('beta', { namespace: 'tenant-beta' }));
    // Pages of 2 over 7 Secrets: the continue token was followed.
    expect(kube.requests.filter((r) => r.path === '/api/v1/secrets' && r.query.continue).length).toBeGreaterThan(0);

    kube.failNext((r) => r.path === '/api/v1/secrets', 403);
    const perNs = await reader.fleet(['tenant-alpha', 'tenant-beta']);
    expect(perNs.scope).toBe('namespaces');
    expect(perNs.histories).toEqual(cluster.histories);
  });

  it('a good tenant through the storage history costs one helm process; a forbidden read falls back to helm history', async () => {
    const counted: string[] = [];
    const countingRun: typeof runCommand = (bin, args, o) => {
      counted.push(args[0]!);
      return runCommand(bin, args, o);
    };
    const env = {
      PATH: process.env.PATH,
      HOME: home,
      KUBECONFIG: kube.kubeconfigPath,
      HELM_CACHE_HOME: join(home, 'c'),
      HELM_CONFIG_HOME: join(home, 'f'),
      HELM_DATA_HOME: join(home, 'd'),
    };
    const cli = await HelmCli.create({ binary: helmBinaries[major], env, run: countingRun, secrets: new Secrets(), logger });
    counted.length = 0;
    const reader = createReleaseHistory({ kubeConfig: loadConfig({ kubeconfigYaml: kube.kubeconfigYaml }) });
    const h = withStorageHistory(cli, (ns, rel) => reader.history(ns, rel), { permanent: isForbidden });
    const out = await deployRelease(
      { upgrade: upgrade('tenant-alpha', 'alpha', '1.0.2'), rollbackOnFailure: true, recoverPending: false },
      { helm: h, logger, clock: systemClock },
    );
    expect(out.status).toBe('deployed');
    expect(counted).toEqual(['upgrade']);
    expect(h.historyStats).toEqual({ storage: 1, cli: 0 });

    kube.failNext((r) => r.path === '/api/v1/namespaces/tenant-alpha/secrets', 403);
    counted.length = 0;
    const again = await deployRelease(
      { upgrade: upgrade('tenant-alpha', 'alpha', '1.0.3'), rollbackOnFailure: true, recoverPending: false },
      { helm: h, logger, clock: systemClock },
    );
    expect(again.previousRevision).toBe(out.revision);
    expect(counted).toEqual(['history', 'upgrade']);
    expect(h.historyStats).toEqual({ storage: 1, cli: 1 });
  }, 60_000);
});
