import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openPostHelm } from '../../src/actions/helm-deploy/post.ts';
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
