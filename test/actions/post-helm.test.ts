import { HELM_RETRY } from '../../src/helm/transient.ts';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openPostHelm } from '../../src/actions/common/helm-session.ts';
import { recoverAllAfterCancel } from '../../src/helm/recover.ts';
import type { Inflight } from '../../src/helm/recover.ts';
import { FakeClock } from '../support/fake-clock.ts';
import { FakeHelm } from '../support/fake-helm.ts';
import { createHelmDeploy } from '../../src/actions/helm-deploy/main.ts';
import { createTenantRollout } from '../../src/actions/tenant-rollout/main.ts';
import type { CommandRunner } from '../../src/core/process.ts';
import { testContext } from '../support/action-context.ts';
import { tempDir } from '../support/temp-dirs.ts';

// The post step must reach the same cluster main did: main's private kubeconfig when main was
// given one, the runner's own KUBECONFIG otherwise (never a path to a file that does not exist).
describe('openPostHelm', () => {
  const capture = () => {
    const envs: NodeJS.ProcessEnv[] = [];
    const run: CommandRunner = async (_f, _a, o) => (envs.push(o!.env!), { exitCode: 0, stdout: 'v4.1.4', stderr: '', aborted: false });
    return { envs, run };
  };

  it('uses the private kubeconfig main wrote', async () => {
    const dir = tempDir('post-');
    writeFileSync(join(dir, 'kubeconfig'), 'apiVersion: v1\n');
    const { envs, run } = capture();
    await openPostHelm(
      testContext({}, { state: { 'private-dir': dir }, env: { KUBECONFIG: '/ambient' } }),
      'helm',
      { name: 'default', kubeconfigPath: join(dir, 'kubeconfig') },
      run,
    );
    expect(envs[0]!.KUBECONFIG).toBe(join(dir, 'kubeconfig'));
  });

  it('keeps the ambient KUBECONFIG when main had no kubeconfig input', async () => {
    const dir = tempDir('post-');
    const { envs, run } = capture();
    await openPostHelm(
      testContext({}, { state: { 'private-dir': dir }, env: { KUBECONFIG: '/ambient', INPUT_KUBECONFIG: 'secret' } }),
      'helm',
      { name: 'default', kubeconfigPath: '/ambient' },
      run,
    );
    expect(envs[0]!.KUBECONFIG).toBe('/ambient');
    expect(envs[0]!.INPUT_KUBECONFIG).toBeUndefined();
  });

  it('falls back to the ambient KUBECONFIG when the saved kubeconfig is gone, keeping the saved context', async () => {
    const { envs, run } = capture();
    const helm = await openPostHelm(
      testContext({}, { env: { KUBECONFIG: '/ambient' } }),
      'helm',
      { name: 'eu-1', kubeconfigPath: '/gone/kubeconfig', context: 'eu-prod' },
      run,
    );
    expect(envs[0]!.KUBECONFIG).toBe('/ambient');
    expect(helm.target).toMatchObject({ name: 'eu-1', context: 'eu-prod', kubeconfigPath: '/ambient' });
  });
});

// The post step reads the cluster from what main saved, never from a file-name convention.
describe('the post step recovers in the cluster main saved', () => {
  it('helm-deploy: a cancelled upgrade is rolled back with the saved kubeconfig and context', async () => {
    const dir = tempDir('post-');
    const kubeconfig = join(dir, 'elsewhere.yaml');
    writeFileSync(kubeconfig, 'apiVersion: v1\n');
    const calls: { args: string[]; env: NodeJS.ProcessEnv }[] = [];
    const history = JSON.stringify([
      { revision: 3, updated: '', status: 'deployed', chart: 'c-1', app_version: '1', description: '' },
      { revision: 4, updated: '', status: 'pending-upgrade', chart: 'c-2', app_version: '2', description: '' },
    ]);
    const run: CommandRunner = async (_f, args, o) => {
      calls.push({ args: [...args], env: o!.env! });
      return { exitCode: 0, stdout: args[0] === 'version' ? 'v4.1.4' : args[0] === 'history' ? history : '', stderr: '', aborted: false };
    };
    const target = { name: 'eu-1', kubeconfigPath: kubeconfig, context: 'eu-prod' };
    const state = {
      'helm-deploy-inflight': JSON.stringify({ release: 'web', namespace: 'apps', target, helm: 'helm', previous: 3, timeoutMs: 60_000 }),
    };
    await createHelmDeploy({ run }).post!(testContext({}, { state, env: { KUBECONFIG: '/ambient' } }));
    const rollback = calls.find((c) => c.args[0] === 'rollback')!;
    expect(rollback.args).toEqual(expect.arrayContaining(['web', '3', '--kube-context', 'eu-prod']));
    expect(rollback.env.KUBECONFIG).toBe(kubeconfig);
  });

  it('tenant-rollout: every release in flight goes back in the saved cluster', async () => {
    const calls: string[][] = [];
    const history = JSON.stringify([
      { revision: 1, updated: '', status: 'deployed', chart: 'c-1', app_version: '1', description: '' },
      { revision: 2, updated: '', status: 'failed', chart: 'c-2', app_version: '2', description: '' },
    ]);
    const run: CommandRunner = async (_f, args) => {
      calls.push([...args]);
      return { exitCode: 0, stdout: args[0] === 'version' ? 'v3.17.0' : args[0] === 'history' ? history : '', stderr: '', aborted: false };
    };
    const state = {
      'tenant-rollout-inflight': JSON.stringify({
        helm: 'helm',
        target: { name: 'us-1', context: 'us-prod' },
        timeoutMs: 60_000,
        releases: [
          { namespace: 'tenant-a', release: 'a', previous: 1 },
          { namespace: 'tenant-b', release: 'b', previous: 1 },
        ],
      }),
    };
    await createTenantRollout({ run }).post!(testContext({}, { state }));
    const rollbacks = calls.filter((a) => a[0] === 'rollback');
    expect(rollbacks.map((a) => a.slice(1, 3)).sort()).toEqual([
      ['a', '1'],
      ['b', '1'],
    ]);
    for (const a of rollbacks)
      expect(a.slice(a.indexOf('--kube-context'), a.indexOf('--kube-context') + 2)).toEqual(['--kube-context', 'us-prod']);
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
    expect(helm.calls.filter((c) => c.startsWith('rollback tenant-b/b'))).toHaveLength(HELM_RETRY.returnAttempts!);
    expect(ctx.logger.text()).toContain('could not recover after the cancelled upgrade');
    expect(ctx.logger.text()).toContain('helm history b -n tenant-b');
  });
});
