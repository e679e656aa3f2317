/**
 * tenant-rollout's bad inputs through dist/ (as the runner runs it) against the API fake: each
 * fails with one error line naming the input, the value and the fix, before anything is
 * deployed: not one request that changes anything reaches the cluster.
 */
import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeKube, type FakeKube } from '../support/fake-kube/index.ts';
import { exampleChart, helmBinaries } from '../support/tools.ts';
import { runAction } from './run-action.ts';

describe('tenant-rollout bad inputs through dist/: one clear line, nothing deployed', () => {
  let kube: FakeKube;
  // Approved plans made by the plan phase: one for this fleet, one for tenants it does not have.
  const plans: Record<'fleet' | 'other', string> = { fleet: '', other: '' };
  const base = () => ({ chart: exampleChart, set: 'image.tag=1.0.0', pilot: '0', kubeconfig: kube.kubeconfigYaml, helm: helmBinaries[4] });
  const unreachable = () => kube.kubeconfigYaml.replace(kube.url, 'http://127.0.0.1:1');
  beforeAll(async () => {
    kube = await startFakeKube();
    kube.addTenantNamespaces(['tenant-t01', 'tenant-t02']);
    for (const [k, over] of [
      ['fleet', {}],
      ['other', { tenants: 'x01,x02' }],
    ] as const) {
      const r = await runAction('tenant-rollout', { ...base(), phase: 'plan', ...over });
      rmSync(r.runnerTemp, { recursive: true, force: true });
      expect(r.code, r.stdout).toBe(0);
      plans[k] = r.outputs.plan!;
    }
    expect(JSON.parse(plans.fleet).deploys).toEqual({ chart: exampleChart, version: '', values: expect.stringMatching(/^[0-9a-f]{64}$/) });
  });
  afterAll(async () => {
    await kube?.close();
  });

  it.each<[string, Record<string, string> | (() => Record<string, string>), RegExp]>([
    [
      'release-version: banana',
      { 'release-version': 'banana' },
      /^::error::input "release-version": is not a semantic version, got "banana" \(.*e\.g\. v1\.4\.0/,
    ],
    [
      'prometheus-url: not a url',
      { 'prometheus-url': 'not a url' },
      /^::error::input "prometheus-url": is not an http\(s\) URL, got "not a url"/,
    ],
    [
      'namespace-prefix: ../',
      { 'namespace-prefix': '../' },
      /^::error::input "namespace-prefix": is not the start of a namespace name, got "\.\.\/" \(use lower-case/,
    ],
    [
      "a chart name starting with '-' in repo-url mode",
      { chart: '--post-renderer=/bin/sh', 'repo-url': 'https://charts.example.com' },
      /^::error::input "chart": starts with "-", which helm would read as an option, got "--post-renderer=\/bin\/sh"/,
    ],
    [
      'an approved plan whose tenants match none of the fleet',
      () => ({ plan: plans.other }),
      /^::error::input "plan": none of its 2 tenants \(x01, x02\) is in the fleet this run sees \(namespaces matching .*: 2 tenants\) \(run with the tenants, selector, kubeconfig and kube-context the plan was made for/,
    ],
    [
      'a plan made for other values',
      () => ({ plan: plans.fleet, set: 'image.tag=2.0.0' }),
      /^::error::input "plan": was made for values [0-9a-f]{12}, this run [0-9a-f]{12} \(values files, set, set-string or release-version differ\) \(run the deploy with the chart, version and values the plan was made with, or make a new plan/,
    ],
    [
      'a plan made for another chart version',
      () => ({ plan: plans.fleet, 'chart-version': '9.9.9' }),
      /^::error::input "plan": was made for chart version "\(latest\)", this run "9\.9\.9" \(run the deploy with/,
    ],
    [
      'a plan made for another chart',
      () => ({ plan: plans.fleet, chart: 'oci://registry.example.com/charts/other' }),
      /^::error::input "plan": was made for chart ".*examples.*", this run "oci:\/\/registry\.example\.com\/charts\/other"/,
    ],
    [
      'an unreachable cluster, discovering tenants',
      () => ({ kubeconfig: unreachable() }),
      /^::error::cluster: cannot reach the Kubernetes API at http:\/\/127\.0\.0\.1:1: .+ \(check the kubeconfig and kube-context inputs/,
    ],
    [
      'an unreachable cluster, with an inline tenant list',
      () => ({ kubeconfig: unreachable(), tenants: 't01,t02' }),
      /^::error::cluster: cannot reach the Kubernetes API at http:\/\/127\.0\.0\.1:1: .+ \(check the kubeconfig and kube-context inputs/,
    ],
  ])('%s', async (_name, over, line) => {
    kube.clearRequests();
    const r = await runAction('tenant-rollout', { ...base(), ...(typeof over === 'function' ? over() : over) });
    rmSync(r.runnerTemp, { recursive: true, force: true });
    expect(r.code).not.toBe(0);
    // Not a tenant reported failed: nothing was attempted.
    expect(r.stdout).not.toMatch(/\bfailed-untouched\b|t0[12]: .*failed/);
    const errors = r.stdout.split('\n').filter((l) => l.startsWith('::error::'));
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(line);
    expect(kube.requests.filter((q) => q.method !== 'GET').map((q) => `${q.method} ${q.path}`)).toEqual([]);
  });
});
