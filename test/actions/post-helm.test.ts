import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openPostHelm } from '../../src/actions/common/helm-session.ts';
import { recoverAllAfterCancel } from '../../src/helm/recover.ts';
import type { Inflight } from '../../src/helm/recover.ts';
import { FakeClock } from '../support/fake-clock.ts';
import { FakeHelm } from '../support/fake-helm.ts';
import type { CommandRunner } from '../../src/core/process.ts';
import { testContext } from '../support/action-context.ts';

// The post step must reach the same cluster main did: main's private kubeconfig when main was
// given one, the runner's own KUBECONFIG otherwise (never a path to a file that does not exist).
describe('openPostHelm', () => {
  const capture = () => {
    const envs: NodeJS.ProcessEnv[] = [];
    const run: CommandRunner = async (_f, _a, o) => (envs.push(o!.env!), { exitCode: 0, stdout: 'v4.1.4', stderr: '', aborted: false });
    return { envs, run };
  };

  it('uses the private kubeconfig main wrote', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'post-'));
    writeFileSync(join(dir, 'kubeconfig'), 'apiVersion: v1\n');
    const { envs, run } = capture();
    await openPostHelm(testContext({}, { state: { 'private-dir': dir }, env: { KUBECONFIG: '/ambient' } }), 'helm', run);
    expect(envs[0]!.KUBECONFIG).toBe(join(dir, 'kubeconfig'));
  });

  it('keeps the ambient KUBECONFIG when main had no kubeconfig input', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'post-'));
    const { envs, run } = capture();
    await openPostHelm(
      testContext({}, { state: { 'private-dir': dir }, env: { KUBECONFIG: '/ambient', INPUT_KUBECONFIG: 'secret' } }),
      'helm',
      run,
    );
    expect(envs[0]!.KUBECONFIG).toBe('/ambient');
    expect(envs[0]!.INPUT_KUBECONFIG).toBeUndefined();
  });
});

// The post step after a cancel or a kill: every release main left in flight goes back to the
// revision recorded before its upgrade, several at once, without waiting for readiness, with
// failed helm calls retried; what cannot be recovered is returned (the post step fails on it).
describe('recoverAllAfterCancel', () => {
  const inflight = (id: string, previous?: number): Inflight => ({
    namespace: `tenant-${id}`,
    release: id,
    previous,
    helm: 'helm',
    timeoutMs: 60_000,
  });

  it('returns each in-flight release to its recorded revision, in parallel, without waiting', async () => {
    const helm = new FakeHelm();
    helm.seed('tenant-a', 'a', [{ status: 'deployed', content: 'old' }, { status: 'pending-upgrade' }]);
    helm.seed('tenant-b', 'b', [{ status: 'superseded' }, { status: 'deployed', content: 'old' }, { status: 'failed' }]);
    helm.seed('tenant-c', 'c', [{ status: 'superseded' }, { status: 'deployed' }]); // main did finish it
    helm.seed('tenant-d', 'd', [{ status: 'pending-install' }]); // a first install: nothing to go back to
    let active = 0;
    let maxActive = 0;
    const rollback = helm.rollback.bind(helm);
    helm.rollback = async (...args) => {
      maxActive = Math.max(maxActive, ++active);
      await new Promise((r) => setTimeout(r, 5));
      active--;
      return rollback(...args);
    };
    const ctx = testContext({});
    const left = await recoverAllAfterCancel(helm, [inflight('a', 1), inflight('b', 2), inflight('c', 1), inflight('d')], ctx.logger, {
      clock: new FakeClock(),
      parallel: 4,
    });
    expect(left).toEqual([]);
    expect(maxActive).toBe(2);
    expect(helm.calls).toContain('rollback tenant-a/a 1 wait=none');
    expect(helm.calls).toContain('rollback tenant-b/b 2 wait=none');
    expect(helm.calls.some((c) => c.startsWith('rollback tenant-c/'))).toBe(false);
    expect(helm.calls).toContain('uninstall tenant-d/d');
    expect(helm.releases.get('tenant-a/a')!.at(-1)).toMatchObject({ status: 'deployed', content: 'old', description: 'Rollback to 1' });
    expect(helm.releases.get('tenant-a/a')!.some((r) => r.status.startsWith('pending-'))).toBe(false);
    expect(helm.releases.get('tenant-b/b')!.at(-1)).toMatchObject({ status: 'deployed', content: 'old' });
  });

  it('retries a failed history read and a failed rollback (bounded), and reports what it could not recover', async () => {
    const helm = new FakeHelm();
    helm.seed('tenant-a', 'a', [{ status: 'deployed', content: 'old' }, { status: 'pending-upgrade' }]);
    helm.failHistoryTimes = 2;
    helm.failRollbackTimes = 2;
    const ctx = testContext({});
    expect(await recoverAllAfterCancel(helm, [inflight('a', 1)], ctx.logger, { clock: new FakeClock() })).toEqual([]);
    expect(helm.releases.get('tenant-a/a')!.at(-1)).toMatchObject({ status: 'deployed', description: 'Rollback to 1' });

    helm.seed('tenant-b', 'b', [{ status: 'deployed' }, { status: 'failed' }]);
    helm.failRollback = true;
    const left = await recoverAllAfterCancel(helm, [inflight('b', 1)], ctx.logger, { clock: new FakeClock() });
    expect(left.map((r) => r.release)).toEqual(['b']);
    expect(helm.calls.filter((c) => c.startsWith('rollback tenant-b/b'))).toHaveLength(4);
    expect(ctx.logger.text()).toContain('could not recover after the cancelled upgrade');
    expect(ctx.logger.text()).toContain('helm history b -n tenant-b');
  });
});
