/**
 * tenant-rollout's bad inputs through dist/ (as the runner runs it) against the API fake: each
 * fails with one error line naming the input, the value and the fix, before anything is
 * deployed: not one request that changes anything reaches the cluster.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeKube, type FakeKube } from '../support/fake-kube/index.ts';
import { exampleChart, helmBinaries } from '../support/tools.ts';
import { runAction } from './run-action.ts';

describe('tenant-rollout bad inputs through dist/: one clear line, nothing deployed', () => {
  let kube: FakeKube;
  beforeAll(async () => {
    kube = await startFakeKube();
    kube.addTenantNamespaces(['tenant-t01', 'tenant-t02']);
  });
  afterAll(async () => {
    await kube?.close();
  });

  it.each([
    ['release-version: banana', { 'release-version': 'banana' }, /^::error::input "release-version": is not a semantic version, got "banana" \(.*e\.g\. v1\.4\.0/],
    ['prometheus-url: not a url', { 'prometheus-url': 'not a url' }, /^::error::input "prometheus-url": is not an http\(s\) URL, got "not a url"/],
    ['namespace-prefix: ../', { 'namespace-prefix': '../' }, /^::error::input "namespace-prefix": is not the start of a namespace name, got "\.\.\/" \(use lower-case/],
    [
      "a chart name starting with '-' in repo-url mode",
      { chart: '--post-renderer=/bin/sh', 'repo-url': 'https://charts.example.com' },
      /^::error::input "chart": starts with "-", which helm would read as an option, got "--post-renderer=\/bin\/sh"/,
    ],
  ])('%s', async (_name, over, line) => {
    kube.clearRequests();
    const r = await runAction('tenant-rollout', {
      chart: exampleChart,
      set: 'image.tag=1.0.0',
      pilot: '0',
      kubeconfig: kube.kubeconfigYaml,
      helm: helmBinaries[4],
      ...over,
    });
    expect(r.code).not.toBe(0);
    const errors = r.stdout.split('\n').filter((l) => l.startsWith('::error::'));
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(line);
    expect(kube.requests.filter((q) => q.method !== 'GET').map((q) => `${q.method} ${q.path}`)).toEqual([]);
  });
});
