import { afterAll, describe, expect, it } from 'vitest';
import { runCommand } from '../../src/core/process.ts';
import { createSmokeTest } from '../../src/actions/smoke-test/main.ts';
import { testContext } from '../support/action-context.ts';
import { exampleChart } from '../support/tools.ts';
import { e2eHelm, e2eImage, e2eKubeconfig, hasCluster, kubeconfigContent, kubectl } from './support.ts';

// Issue 4's in-cluster checks on a real cluster: a release upgraded to the image tag `bad`
// (which cannot start) shows up as not ready, while the good one passes.
describe.skipIf(!hasCluster)('smoke-test in-cluster checks against a real cluster', () => {
  const ns = `e2e-smoke-${Date.now().toString(36).slice(-5)}`;
  afterAll(() => void kubectl('delete', 'namespace', ns, '--wait=false', '--ignore-not-found'));
  const helm = (tag: string, wait: boolean) =>
    runCommand(
      e2eHelm,
      [
        'upgrade',
        '--install',
        'app',
        exampleChart,
        '-n',
        ns,
        '--create-namespace',
        '--set',
        `image.repository=${e2eImage.repository}`,
        '--set',
        `image.tag=${tag}`,
        '--set',
        `args={${e2eImage.args.join(',')}}`,
        ...(wait ? ['--wait', '--timeout', '3m'] : []),
      ],
      { env: { ...process.env, KUBECONFIG: e2eKubeconfig } },
    );
  const smoke = async () => {
    const ctx = testContext({
      namespace: ns,
      release: 'app',
      'cluster-checks': 'true',
      'restart-window': '20s',
      kubeconfig: kubeconfigContent(),
    });
    const err = await createSmokeTest()
      .main(ctx)
      .then(
        () => undefined,
        (e: Error) => e,
      );
    return { ctx, err };
  };

  it('passes a healthy release, then fails it once its upgrade cannot start', async () => {
    expect((await helm(e2eImage.tag, true)).exitCode).toBe(0);
    expect((await smoke()).err).toBeUndefined();
    expect((await helm('bad', false)).exitCode).toBe(0);
    await new Promise((r) => setTimeout(r, 20_000));
    const { err, ctx } = await smoke();
    expect(err?.message).toMatch(/smoke test failed/);
    expect(ctx.summaries.join('\n')).toMatch(/ImagePullBackOff|ErrImagePull|not ready|unavailable/);
  }, 600_000);
});
