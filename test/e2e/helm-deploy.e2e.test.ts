import { afterAll, describe, expect, it } from 'vitest';
import { createHelmDeploy } from '../../src/actions/helm-deploy/main.ts';
import { testContext } from '../support/action-context.ts';
import { exampleChart, helmBinaries } from '../support/tools.ts';
import { e2eImage, hasCluster, kubeconfigContent, kubectl } from './support.ts';

// Issue 2's end-to-end scenario, with Helm 3 and Helm 4: install, upgrade, and a failing
// upgrade (image tag `bad`) rolled back to the last good revision.
describe.skipIf(!hasCluster).each([3, 4] as const)('helm-deploy with Helm %d against a real cluster', (major) => {
  const ns = `e2e-helm${major}-${Date.now().toString(36).slice(-5)}`;
  afterAll(() => void kubectl('delete', 'namespace', ns, '--wait=false', '--ignore-not-found'));
  const deploy = async (tag: string) => {
    const ctx = testContext({
      release: 'admin',
      namespace: ns,
      chart: exampleChart,
      'create-namespace': 'true',
      set: [`image.repository=${e2eImage.repository}`, `image.tag=${tag}`, `args={${e2eImage.args.join(',')}}`].join('\n'),
      timeout: tag === 'bad' ? '45s' : '3m',
      kubeconfig: kubeconfigContent(),
      helm: helmBinaries[major],
    });
    const err = await createHelmDeploy()
      .main(ctx)
      .then(
        () => undefined,
        (e: Error) => e,
      );
    return { err, out: ctx.outputs };
  };

  it('installs, upgrades, and rolls a failing upgrade back to the last deployed revision', async () => {
    expect((await deploy(e2eImage.tag)).out).toMatchObject({ status: 'deployed', revision: '1', 'previous-revision': '' });
    expect((await deploy(e2eImage.tag)).out).toMatchObject({
      status: 'deployed',
      revision: '2',
      'previous-revision': '1',
      changed: 'false',
    });
    const bad = await deploy('bad');
    expect(bad.err?.message).toMatch(/rolled-back, revision 2 -> 4/);
    expect(bad.out).toMatchObject({ status: 'rolled-back', revision: '4', 'previous-revision': '2' });
    const history = JSON.parse(kubectl('get', 'secrets', '-n', ns, '-l', 'owner=helm,name=admin,status=deployed', '-o', 'json')) as {
      items: { metadata: { labels: Record<string, string> } }[];
    };
    expect(history.items.map((s) => s.metadata.labels.version)).toEqual(['4']);
  }, 600_000);
});
