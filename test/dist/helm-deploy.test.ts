/**
 * helm-deploy run through its own folder: `node dist/helm-deploy/index.js` (the stub action.yml
 * points at) with INPUT_* variables, real helm 3 and helm 4, against the wire-level API fake.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { startFakeKube, type FakeKube } from '../support/fake-kube/index.ts';
import { exampleChart, helmBinaries, repoRoot } from '../support/tools.ts';
import { leftovers, runAction } from './run-action.ts';

it('helm-deploy/action.yml runs the committed stub and post step', () => {
  const yml = parse(readFileSync(join(repoRoot, 'helm-deploy/action.yml'), 'utf8'));
  expect(yml.runs).toEqual({ using: 'node24', main: '../dist/helm-deploy/index.js', post: '../dist/helm-deploy/post.js' });
});

describe.each([3, 4] as const)('helm-deploy through dist/ with helm %i', (major) => {
  let kube: FakeKube;
  beforeAll(async () => {
    kube = await startFakeKube({ crashLoopIntervalMs: 200 });
    kube.addNamespaces(['platform']);
  });
  afterAll(() => kube?.close());
  const inputs = (over: Record<string, string> = {}) => ({
    release: 'admin',
    namespace: 'platform',
    chart: exampleChart,
    set: 'image.tag=1.0.0\ndb.password=hunter2-secret',
    timeout: '30s',
    kubeconfig: kube.kubeconfigYaml,
    helm: helmBinaries[major],
    ...over,
  });

  it(
    'installs, then fails an upgrade and rolls back to the last deployed revision; secrets never printed',
    { timeout: 120_000 },
    async () => {
      const first = await runAction('helm-deploy', inputs());
      expect(first.stderr).toBe('');
      expect(first.code).toBe(0);
      expect(first.outputs).toMatchObject({
        status: 'deployed',
        revision: '1',
        'previous-revision': '',
        'chart-version': '1.3.0',
        changed: 'true',
      });
      expect(first.summary).toContain('| revision after | 1 |');
      // The kubeconfig and the password are masked, and the private kubeconfig is gone.
      expect(first.stdout).toContain(`::add-mask::${kube.token}`);
      // The kubeconfig is masked whole and per credential, not line by line (that would star out "kind: Config").
      expect(first.stdout).not.toContain('::add-mask::kind: Config');
      expect(first.stdout).toContain('::add-mask::hunter2-secret');
      expect(leftovers(first.runnerTemp)).toEqual([]);

      const bad = await runAction('helm-deploy', inputs({ set: 'image.tag=bad', timeout: '4s' }));
      expect(bad.code).toBe(1);
      expect(bad.outputs).toMatchObject({ status: 'rolled-back', revision: '3', 'previous-revision': '1' });
      expect(bad.stdout).toMatch(/::error::platform\/admin: rolled-back, revision 1 -> 3/);
      const printed = bad.stdout.replace(/::add-mask::.*\n/g, '');
      expect(printed).not.toContain(kube.token);
      expect(kube.get('deployments', 'platform', 'admin')?.spec.template.spec.containers[0].image).toMatch(/:1\.0\.0$/);
    },
  );

  it('bad input fails with one line before helm touches the cluster', async () => {
    kube.clearRequests();
    const r = await runAction('helm-deploy', inputs({ timeout: 'five minutes' }));
    expect(r.code).toBe(1);
    expect(r.stdout.split('\n').filter((l) => l.startsWith('::error::'))).toEqual([
      '::error::input "timeout": is not a duration, got "five minutes" (use a number of seconds or a duration such as 90s, 5m or 1h30m)',
    ]);
    expect(kube.requests).toEqual([]);
  });

  it('an unreachable cluster is one clear line naming the inputs to check', async () => {
    const r = await runAction('helm-deploy', inputs({ kubeconfig: kube.kubeconfigYaml.replace(kube.url, 'http://127.0.0.1:9') }));
    expect(r.code).toBe(1);
    expect(r.stdout.split('\n').filter((l) => l.startsWith('::error::'))).toEqual([
      expect.stringMatching(/^::error::cluster: cannot reach the Kubernetes API: .* \(check the kubeconfig and kube-context inputs/),
    ]);
  });

  it('cancelled mid-upgrade: helm is interrupted and the release goes back, not left pending', { timeout: 120_000 }, async () => {
    await runAction('helm-deploy', inputs({ release: 'cancel-me' }));
    let sent = false;
    const r = await runAction('helm-deploy', inputs({ release: 'cancel-me', set: 'image.tag=pending', timeout: '90s' }), {
      // Cancel (SIGINT, as the runner does) once helm is waiting on the new revision (its pod never starts).
      onStart: (kill) => {
        const t = setInterval(() => {
          if (!kube.get('secrets', 'platform', 'sh.helm.release.v1.cancel-me.v2')) return;
          clearInterval(t);
          sent = true;
          setTimeout(() => kill('SIGINT'), 300);
        }, 50);
      },
    });
    expect(sent).toBe(true);
    expect(r.stdout).toContain('received SIGINT');
    expect(r.outputs.status).toBe('rolled-back');
    const top = kube
      .list('secrets', 'platform')
      .filter((s) => s.metadata.labels?.name === 'cancel-me')
      .map((s) => [s.metadata.labels!.version, s.metadata.labels!.status]);
    expect(top).toContainEqual(['3', 'deployed']);
    expect(top.some(([, status]) => String(status).startsWith('pending'))).toBe(false);
    // Nothing left for the post step to do: it finds no in-flight upgrade.
    expect(r.state['helm-deploy-inflight'] ?? '').toBe('');
  });

  it('killed mid-upgrade (no chance to clean up): the post step rolls back and removes the kubeconfig', { timeout: 120_000 }, async () => {
    await runAction('helm-deploy', inputs({ release: 'killed' }));
    const main = await runAction('helm-deploy', inputs({ release: 'killed', set: 'image.tag=pending', timeout: '90s' }), {
      onStart: (kill) => {
        const t = setInterval(() => {
          if (!kube.get('secrets', 'platform', 'sh.helm.release.v1.killed.v2')) return;
          clearInterval(t);
          setTimeout(() => kill('SIGKILL', true), 300);
        }, 50);
      },
    });
    expect(main.code).not.toBe(0);
    expect(JSON.parse(main.state['helm-deploy-inflight']!)).toMatchObject({ release: 'killed', namespace: 'platform', previous: 1 });
    expect(leftovers(main.runnerTemp)).toHaveLength(1); // main never got to remove it
    // helm itself was killed too (the runner kills the process tree): revision 2 stays pending.
    const post = await runAction('helm-deploy', {}, { phase: 'post', state: main.state, runnerTemp: main.runnerTemp });
    expect(post.code).toBe(0);
    expect(post.stdout).toMatch(/the job stopped during the upgrade and left revision 2 pending-upgrade; rolling back to revision 1/);
    const revisions = kube
      .list('secrets', 'platform')
      .filter((s) => s.metadata.labels?.name === 'killed')
      .map((s) => [Number(s.metadata.labels!.version), s.metadata.labels!.status] as const)
      .sort((a, b) => a[0] - b[0]);
    expect(revisions.at(-1)).toEqual([3, 'deployed']);
    expect(kube.get('deployments', 'platform', 'killed')?.spec.template.spec.containers[0].image).toMatch(/:1\.0\.0$/);
    expect(leftovers(main.runnerTemp)).toEqual([]);
  });
});
