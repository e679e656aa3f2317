import { clusterTarget } from '../../src/core/cluster-target.ts';
import { describe, expect, it } from 'vitest';
import { ReleaseUnreadableError, deployRelease } from '../../src/helm/deploy.ts';
import type { DeployRequest } from '../../src/helm/deploy.ts';
import type { UpgradeOptions } from '../../src/helm/argv.ts';
import { FakeHelm } from '../support/fake-helm.ts';
import { HelmError } from '../../src/helm/helm.ts';
import { FakeClock } from '../support/fake-clock.ts';
import { RecordingLogger } from '../support/logger.ts';

const upgrade: UpgradeOptions = {
  release: 'alpha',
  namespace: 'tenant-alpha',
  chart: 'examples/charts/tenant-app',
  valuesFiles: [],
  set: ['image.tag=1.3.0'],
  setString: [],
  createNamespace: false,
  wait: 'ready',
  timeoutMs: 60_000,
  dryRun: 'none',
  serverSide: 'auto',
};

function setup() {
  const helm = new FakeHelm();
  const logger = new RecordingLogger();
  const deps = { helm, logger, clock: new FakeClock() };
  const req = (over: Partial<DeployRequest> = {}): DeployRequest => ({
    upgrade,
    rollbackOnFailure: true,
    recoverPending: false,
    compareContent: true,
    ...over,
  });
  return { helm, logger, deps, req };
}

describe('deployRelease', () => {
  it('first install: deployed, no previous revision, changed', async () => {
    const { helm, deps, req } = setup();
    helm.onUpgrade('tenant-alpha', 'alpha', { kind: 'ok' });
    const o = await deployRelease(req(), deps);
    expect(o).toMatchObject({ status: 'deployed', revision: 1, previousRevision: undefined, changed: true, chartVersion: '1.3.0' });
  });

  it('upgrade with identical content reports changed=false', async () => {
    const { helm, deps, req } = setup();
    helm.seed('tenant-alpha', 'alpha', [{ status: 'deployed', content: 'same' }]);
    helm.onUpgrade('tenant-alpha', 'alpha', { kind: 'ok', content: 'same' });
    const o = await deployRelease(req(), deps);
    expect(o).toMatchObject({ status: 'deployed', revision: 2, previousRevision: 1, changed: false });
  });

  it('failed upgrade rolls back to the last DEPLOYED revision, skipping a failed "previous"', async () => {
    const { helm, deps, req } = setup();
    helm.seed('tenant-alpha', 'alpha', [{ status: 'superseded' }, { status: 'deployed' }, { status: 'failed' }]);
    helm.onUpgrade('tenant-alpha', 'alpha', { kind: 'fail' });
    const o = await deployRelease(req(), deps);
    expect(o).toMatchObject({ status: 'rolled-back', previousRevision: 2, attemptedRevision: 4, revision: 5, changed: false });
    expect(o.error).toContain('context deadline exceeded');
    expect(helm.calls).toContain('rollback tenant-alpha/alpha 2 wait=ready');
    expect(helm.releases.get('tenant-alpha/alpha')!.at(-1)).toMatchObject({
      status: 'deployed',
      content: 'c2',
      description: 'Rollback to 2',
    });
  });

  it('verification failure after helm success also rolls back', async () => {
    const { helm, deps, req } = setup();
    helm.seed('tenant-alpha', 'alpha', [{ status: 'deployed' }]);
    helm.onUpgrade('tenant-alpha', 'alpha', { kind: 'ok' });
    const o = await deployRelease(
      req({ verify: async (rev) => ({ ok: false, reason: `pod alpha-1: CrashLoopBackOff (5 restarts) at rev ${rev}` }) }),
      deps,
    );
    expect(o).toMatchObject({ status: 'rolled-back', previousRevision: 1, attemptedRevision: 2, revision: 3 });
    expect(o.error).toBe('revision 2 deployed but failed verification: pod alpha-1: CrashLoopBackOff (5 restarts) at rev 2');
  });

  it('a failed first install is uninstalled, not left failed', async () => {
    const { helm, deps, req } = setup();
    helm.onUpgrade('tenant-alpha', 'alpha', { kind: 'fail' });
    const o = await deployRelease(req(), deps);
    expect(o).toMatchObject({ status: 'uninstalled', revision: 0, attemptedRevision: 1 });
    expect(helm.releases.has('tenant-alpha/alpha')).toBe(false);
  });

  it('a failure before helm created a revision leaves the release untouched (no needless rollback)', async () => {
    const { helm, deps, req } = setup();
    helm.seed('tenant-alpha', 'alpha', [{ status: 'deployed' }]);
    helm.onUpgrade('tenant-alpha', 'alpha', { kind: 'fail-early', message: 'chart "nope" not found' });
    const o = await deployRelease(req(), deps);
    expect(o).toMatchObject({ status: 'failed', revision: 1, changed: false });
    expect(o.error).toBe('chart "nope" not found (release untouched)');
    expect(helm.calls.some((c) => c.startsWith('rollback'))).toBe(false);
  });

  it('rollback-on-failure off leaves the failed revision and says so', async () => {
    const { helm, deps, req } = setup();
    helm.seed('tenant-alpha', 'alpha', [{ status: 'deployed' }]);
    helm.onUpgrade('tenant-alpha', 'alpha', { kind: 'fail' });
    const o = await deployRelease(req({ rollbackOnFailure: false }), deps);
    expect(o).toMatchObject({ status: 'failed', revision: 2, attemptedRevision: 2, previousRevision: 1 });
  });

  it('a failing rollback is reported as failed with both errors', async () => {
    const { helm, deps, req } = setup();
    helm.seed('tenant-alpha', 'alpha', [{ status: 'deployed' }]);
    helm.onUpgrade('tenant-alpha', 'alpha', { kind: 'fail' });
    helm.failRollback = true;
    const o = await deployRelease(req(), deps);
    expect(o.status).toBe('failed');
    expect(o.error).toMatch(/context deadline exceeded; then the rollback failed too: rollback failed/);
  });

  describe('a release stuck in pending-upgrade', () => {
    it('is refused with the exact fix when recovery is not enabled', async () => {
      const { helm, deps, req } = setup();
      helm.seed('tenant-alpha', 'alpha', [
        { status: 'superseded' },
        { status: 'deployed' },
        { status: 'pending-upgrade', description: 'Preparing upgrade' },
      ]);
      await expect(deployRelease(req(), deps)).rejects.toThrow(
        'release tenant-alpha/alpha: revision 3 is stuck in pending-upgrade (Preparing upgrade), so helm refuses to upgrade it (set recover-pending: true to roll back to revision 2, or run "helm rollback alpha 2 -n tenant-alpha")',
      );
      expect(helm.calls).toEqual(['history tenant-alpha/alpha']);
    });

    it('is rolled back to the last deployed revision, then upgraded, when enabled', async () => {
      const { helm, deps, req, logger } = setup();
      helm.seed('tenant-alpha', 'alpha', [{ status: 'superseded' }, { status: 'deployed' }, { status: 'pending-upgrade' }]);
      helm.onUpgrade('tenant-alpha', 'alpha', { kind: 'ok' });
      const o = await deployRelease(req({ recoverPending: true }), deps);
      expect(o).toMatchObject({
        status: 'deployed',
        revision: 5,
        previousRevision: 4,
        recovered: { revision: 3, status: 'pending-upgrade', action: 'rolled-back' },
      });
      expect(logger.text()).toContain('revision 3 is stuck in pending-upgrade; recovering: helm rollback alpha 2 -n tenant-alpha');
    });

    it('a pending first install is uninstalled before installing again', async () => {
      const { helm, deps, req } = setup();
      helm.seed('tenant-alpha', 'alpha', [{ status: 'pending-install' }]);
      helm.onUpgrade('tenant-alpha', 'alpha', { kind: 'ok' });
      const o = await deployRelease(req({ recoverPending: true }), deps);
      expect(o).toMatchObject({ status: 'deployed', revision: 1, recovered: { action: 'uninstalled' } });
    });
  });

  it('on cancel, the interrupted upgrade is rolled back without waiting', async () => {
    const { helm, deps, req } = setup();
    helm.seed('tenant-alpha', 'alpha', [{ status: 'deployed' }]);
    helm.onUpgrade('tenant-alpha', 'alpha', { kind: 'hang' });
    const ac = new AbortController();
    let started: number | undefined = -1;
    const p = deployRelease(req({ signal: ac.signal, onUpgradeStart: (prev) => (started = prev) }), deps);
    await new Promise((r) => setTimeout(r, 5));
    expect(started).toBe(1);
    ac.abort();
    const o = await p;
    expect(o).toMatchObject({ status: 'rolled-back', previousRevision: 1, attemptedRevision: 2 });
    expect(helm.calls).toContain('rollback tenant-alpha/alpha 1 wait=none');
  });

  it('dry-run reports without touching anything', async () => {
    const { helm, deps, req } = setup();
    helm.seed('tenant-alpha', 'alpha', [{ status: 'deployed' }]);
    helm.onUpgrade('tenant-alpha', 'alpha', { kind: 'ok' });
    const o = await deployRelease(req({ upgrade: { ...upgrade, dryRun: 'server' } }), deps);
    expect(o).toMatchObject({ status: 'dry-run', revision: 1, previousRevision: 1 });
  });

  describe('transient API failures (outcomes from what helm recorded)', () => {
    it('a 503 before helm wrote a revision is retried, and the retry deploys', async () => {
      const { helm, deps, req, logger } = setup();
      helm.seed('tenant-alpha', 'alpha', [{ status: 'deployed' }]);
      helm.onUpgrade('tenant-alpha', 'alpha', { kind: 'transient' }, { kind: 'transient' }, { kind: 'ok' });
      const o = await deployRelease(req(), deps);
      expect(o).toMatchObject({ status: 'deployed', revision: 2, previousRevision: 1, attempts: 3 });
      expect(helm.calls.filter((c) => c.startsWith('upgrade'))).toHaveLength(3);
      expect(helm.calls.some((c) => c.startsWith('rollback'))).toBe(false);
      expect(deps.clock.sleeps).toHaveLength(2);
      expect(deps.clock.sleeps[1]!).toBeGreaterThan(deps.clock.sleeps[0]!);
      expect(logger.text()).toContain('upgrade failed before helm wrote a revision');
    });

    it('retries are bounded: a 503 that never clears ends failed-untouched, proven by history', async () => {
      const { helm, deps, req } = setup();
      helm.seed('tenant-alpha', 'alpha', [{ status: 'deployed' }]);
      helm.onUpgrade('tenant-alpha', 'alpha', ...Array.from({ length: 10 }, () => ({ kind: 'transient' as const })));
      const o = await deployRelease(req(), deps);
      expect(o).toMatchObject({ status: 'failed', revision: 1, changed: false });
      expect(o.attemptedRevision).toBeUndefined();
      expect(o.error).toContain('the server is currently unable to handle the request (release untouched)');
      expect(helm.calls.filter((c) => c.startsWith('upgrade'))).toHaveLength(4);
    });

    it('a transient failure AFTER helm wrote a revision is rolled back, then the upgrade is tried again', async () => {
      const { helm, deps, req, logger } = setup();
      helm.seed('tenant-alpha', 'alpha', [{ status: 'deployed' }]);
      helm.onUpgrade('tenant-alpha', 'alpha', { kind: 'transient-after-revision' }, { kind: 'ok' });
      const o = await deployRelease(req(), deps);
      // 2 failed (the API blip), 3 the rollback to 1's content, 4 the retried upgrade.
      expect(o).toMatchObject({ status: 'deployed', previousRevision: 1, attemptedRevision: 4, revision: 4, attempts: 2 });
      expect(o.error).toBeUndefined();
      expect(helm.calls.filter((c) => /^(upgrade|rollback)/.test(c))).toEqual([
        expect.stringMatching(/^upgrade /),
        'rollback tenant-alpha/alpha 1 wait=ready',
        expect.stringMatching(/^upgrade /),
      ]);
      expect(logger.text()).toContain('upgrade failed after helm wrote revision 2');
    });

    it('a transient failure after a revision that never clears: bounded, rolled back, and counted', async () => {
      const { helm, deps, req } = setup();
      helm.seed('tenant-alpha', 'alpha', [{ status: 'deployed' }]);
      helm.onUpgrade('tenant-alpha', 'alpha', ...Array.from({ length: 10 }, () => ({ kind: 'transient-after-revision' as const })));
      const o = await deployRelease(req(), deps);
      expect(o).toMatchObject({ status: 'rolled-back', previousRevision: 1, attempts: 4 });
      expect(helm.calls.filter((c) => c.startsWith('upgrade'))).toHaveLength(4);
      // Every retry started from the content of revision 1, and ended there.
      expect(helm.calls.filter((c) => c.startsWith('rollback'))).toEqual(Array(4).fill('rollback tenant-alpha/alpha 1 wait=ready'));
      expect(helm.releases.get('tenant-alpha/alpha')!.at(-1)).toMatchObject({ status: 'deployed', content: 'c1' });
    });

    it("a real failure after a revision is not retried, even when helm's output mentions requests it retried", async () => {
      const { helm, deps, req } = setup();
      helm.seed('tenant-alpha', 'alpha', [{ status: 'deployed' }]);
      helm.onUpgrade('tenant-alpha', 'alpha', {
        kind: 'fail',
        message: 'UPGRADE FAILED: resource Deployment/tenant-alpha/alpha not ready',
      });
      const upgradeOnce = helm.upgrade.bind(helm);
      helm.upgrade = async (u, signal) => {
        try {
          return await upgradeOnce(u, signal);
        } catch (err) {
          const e = err as HelmError;
          throw new HelmError(e.message, e.command, `W1207 retrying: the server is currently unable to handle the request\n${e.output}`);
        }
      };
      const o = await deployRelease(req(), deps);
      expect(o).toMatchObject({ status: 'rolled-back', attemptedRevision: 2 });
      expect(o.attempts).toBeUndefined();
    });

    it('a retry that then fails before writing a revision ends rolled back, not untouched', async () => {
      const { helm, deps, req } = setup();
      helm.seed('tenant-alpha', 'alpha', [{ status: 'deployed' }]);
      helm.onUpgrade(
        'tenant-alpha',
        'alpha',
        { kind: 'transient-after-revision' },
        ...Array.from({ length: 3 }, () => ({ kind: 'transient' as const })),
      );
      const o = await deployRelease(req(), deps);
      // Revision 2 failed, 3 is 1's content again: helm's history holds what this run did.
      expect(o).toMatchObject({ status: 'rolled-back', revision: 3, attemptedRevision: 2, attempts: 4 });
      expect(o.error).toContain('after revision 2 was rolled back');
    });

    it('a verification failure is never retried (it is the release, not the API)', async () => {
      const { helm, deps, req } = setup();
      helm.seed('tenant-alpha', 'alpha', [{ status: 'deployed' }]);
      helm.onUpgrade('tenant-alpha', 'alpha', { kind: 'ok' }, { kind: 'ok' });
      const o = await deployRelease(req({ verify: async () => ({ ok: false, reason: 'crash loop' }) }), deps);
      expect(o).toMatchObject({ status: 'rolled-back' });
      expect(o.attempts).toBeUndefined();
      expect(helm.calls.filter((c) => c.startsWith('upgrade'))).toHaveLength(1);
    });

    it('a real failure (chart not found) is never retried', async () => {
      const { helm, deps, req } = setup();
      helm.seed('tenant-alpha', 'alpha', [{ status: 'deployed' }]);
      helm.onUpgrade('tenant-alpha', 'alpha', { kind: 'fail-early' }, { kind: 'ok' });
      const o = await deployRelease(req(), deps);
      expect(o.status).toBe('failed');
      expect(helm.calls.filter((c) => c.startsWith('upgrade'))).toHaveLength(1);
    });

    it('a failed history read after a failed upgrade is re-read; the failed revision is rolled back, not called untouched', async () => {
      const { helm, deps, req } = setup();
      helm.seed('tenant-alpha', 'alpha', [{ status: 'deployed' }]);
      helm.onUpgrade('tenant-alpha', 'alpha', { kind: 'fail' });
      const upgradeOnce = helm.upgrade.bind(helm);
      helm.upgrade = async (u, signal) => {
        try {
          return await upgradeOnce(u, signal);
        } finally {
          helm.failHistoryTimes = 2;
        }
      };
      const o = await deployRelease(req(), deps);
      expect(o).toMatchObject({ status: 'rolled-back', attemptedRevision: 2, revision: 3 });
      expect(helm.calls).toContain('rollback tenant-alpha/alpha 1 wait=ready');
    });

    it('history that stays unreadable after a failure gives `unknown` with the exact command to look', async () => {
      const { helm, deps, req } = setup();
      helm.seed('tenant-alpha', 'alpha', [{ status: 'deployed' }]);
      helm.onUpgrade('tenant-alpha', 'alpha', { kind: 'fail' });
      const upgradeOnce = helm.upgrade.bind(helm);
      helm.upgrade = async (u, signal) => {
        try {
          return await upgradeOnce(u, signal);
        } finally {
          helm.failHistoryTimes = 100;
        }
      };
      helm.target = clusterTarget({ context: 'prod-eu' }); // the command names the cluster helm is bound to
      const o = await deployRelease(req(), deps);
      expect(o.status).toBe('unknown');
      expect(o.lookCommand).toBe('helm history alpha -n tenant-alpha --kube-context prod-eu');
      expect(o.error).toContain('look: helm history alpha -n tenant-alpha --kube-context prod-eu');
      expect(helm.calls.some((c) => c.startsWith('rollback'))).toBe(false);
    });

    it('the first history read is retried; when it never answers, nothing was changed (ReleaseUnreadableError)', async () => {
      const { helm, deps, req } = setup();
      helm.seed('tenant-alpha', 'alpha', [{ status: 'deployed' }]);
      helm.onUpgrade('tenant-alpha', 'alpha', { kind: 'ok' });
      helm.failHistoryTimes = 3;
      expect((await deployRelease(req(), deps)).status).toBe('deployed');
      helm.failHistoryTimes = 100;
      await expect(deployRelease(req(), deps)).rejects.toBeInstanceOf(ReleaseUnreadableError);
      expect(helm.calls.filter((c) => c.startsWith('upgrade'))).toHaveLength(1);
    });

    it('a rollback that fails is retried until it succeeds', async () => {
      const { helm, deps, req } = setup();
      helm.seed('tenant-alpha', 'alpha', [{ status: 'deployed' }]);
      helm.onUpgrade('tenant-alpha', 'alpha', { kind: 'fail' });
      helm.failRollbackTimes = 2;
      const o = await deployRelease(req(), deps);
      expect(o).toMatchObject({ status: 'rolled-back', revision: 3, attemptedRevision: 2 });
      expect(helm.calls.filter((c) => c.startsWith('rollback'))).toHaveLength(3);
    });
  });
});
