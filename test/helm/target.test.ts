import { describe, expect, it } from 'vitest';
import { clusterTarget } from '../../src/core/cluster-target.ts';
import type { CommandRunner } from '../../src/core/process.ts';
import { Secrets } from '../../src/core/secrets.ts';
import { HelmCli } from '../../src/helm/cli.ts';
import { RecordingLogger } from '../support/logger.ts';

// "Which cluster" is bound once: every helm command of an adapter goes to its target, with no
// kube context in any per-call option.
describe('HelmCli bound to a ClusterTarget', () => {
  const capture = () => {
    const calls: { args: string[]; kubeconfig?: string }[] = [];
    const run: CommandRunner = async (_f, args, o) => {
      calls.push({ args: [...args], kubeconfig: o?.env?.KUBECONFIG });
      const out = args[0] === 'version' ? 'v4.1.4' : args[0] === 'history' || args[0] === 'list' ? '[]' : args[0] === 'get' ? '{}' : '';
      return { exitCode: 0, stdout: out, stderr: '', aborted: false };
    };
    return { calls, run };
  };
  const open = (run: CommandRunner, target = clusterTarget({ name: 'eu-1', kubeconfigPath: '/k/eu.yaml', context: 'eu-ctx' })) =>
    HelmCli.create({
      binary: 'helm',
      env: { KUBECONFIG: '/ambient', PATH: '/bin' },
      run,
      target,
      secrets: new Secrets(),
      logger: new RecordingLogger(),
    });

  it('passes the kubeconfig and the context to every command', async () => {
    const { calls, run } = capture();
    const helm = await open(run);
    await helm.history('a', { namespace: 'tenant-a' });
    await helm.rollback('a', 1, { namespace: 'tenant-a', wait: 'none', timeoutMs: 1000 });
    await helm.uninstall('a', { namespace: 'tenant-a', wait: 'none', timeoutMs: 1000 });
    await helm.listAll();
    await helm.contentDigest('a', 1, { namespace: 'tenant-a' });
    expect(calls.map((c) => c.kubeconfig)).toEqual(Array(calls.length).fill('/k/eu.yaml'));
    for (const c of calls.slice(1)) expect(c.args.join(' ')).toContain('--kube-context eu-ctx');
  });

  it('forTarget: the same helm (version detected once) sent to another cluster', async () => {
    const { calls, run } = capture();
    const eu = await open(run);
    const us = eu.forTarget(clusterTarget({ name: 'us-1', context: 'us-ctx' }));
    await us.history('b', { namespace: 'tenant-b' });
    await eu.history('a', { namespace: 'tenant-a' });
    expect(calls.filter((c) => c.args[0] === 'version')).toHaveLength(1);
    expect(calls[1]).toEqual({ args: expect.arrayContaining(['--kube-context', 'us-ctx']), kubeconfig: '/ambient' });
    expect(calls[2]).toEqual({ args: expect.arrayContaining(['--kube-context', 'eu-ctx']), kubeconfig: '/k/eu.yaml' });
    expect(us.target.name).toBe('us-1');
  });

  it('an unbound helm keeps the ambient kubeconfig and current context', async () => {
    const { calls, run } = capture();
    const helm = await open(run, clusterTarget({}));
    await helm.history('a', { namespace: 'tenant-a' });
    expect(calls[1]!.kubeconfig).toBe('/ambient');
    expect(calls[1]!.args).not.toContain('--kube-context');
    expect(helm.target.name).toBe('default');
  });
});
