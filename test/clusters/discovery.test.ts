import { describe, expect, it } from 'vitest';
import { parseInputs } from '../../src/actions/tenant-rollout/inputs.ts';
import { Inputs } from '../../src/actions/common/inputs.ts';
import type { ClusterSpec } from '../../src/clusters/model.ts';
import { ConfigurationError } from '../../src/core/errors.ts';
import type { NamespaceInfo } from '../../src/kube/ports.ts';
import { ledgerDescription } from '../../src/rollout/execute.ts';
import { parseLedger } from '../../src/rollout/ledger.ts';
import { resolveTenants } from '../../src/rollout/run.ts';
import type { RunPorts } from '../../src/rollout/run.ts';
import { renderStatusMarkdown, tenantState } from '../../src/rollout/status.ts';
import { FakeClock } from '../support/fake-clock.ts';
import { RecordingLogger } from '../support/logger.ts';

const inputs = (over: Record<string, string>) => parseInputs(new Inputs((n) => ({ phase: 'plan', ...over })[n] ?? ''));
const ns = (name: string): NamespaceInfo => ({ name, labels: { 'app.kubernetes.io/component': 'tenant' }, annotations: {} });

/** Ports over fake clusters: the namespaces each cluster lists, and the clusters bound. */
function ports(namespaces: Record<string, string[]>, files: Record<string, string> = {}) {
  const bound: ClusterSpec[][] = [];
  const listed: (string | undefined)[] = [];
  const p: RunPorts = {
    readFile: (f) => files[f]!,
    exists: (f) => f in files,
    listNamespaces: async (_sel, c) => (listed.push(c), (namespaces[c ?? ''] ?? []).map(ns)),
    writeValues: () => '',
    bindClusters: async (specs) => void bound.push([...specs]),
    helmFor: () => {
      throw new Error('not here');
    },
    clock: new FakeClock(),
    logger: new RecordingLogger(),
  };
  return { p, bound, listed };
}

describe('the clusters input', () => {
  it('reads contexts and name=context, validated', () => {
    expect(inputs({ clusters: 'kind-eu-1, us-1=arn:aws:eks:us-east-1:1:cluster/prod' }).clusters).toEqual([
      { name: 'kind-eu-1' },
      { name: 'us-1', context: 'arn:aws:eks:us-east-1:1:cluster/prod' },
    ]);
    expect(inputs({}).clusters).toEqual([]);
    expect(() => inputs({ clusters: 'arn:aws:eks:us-east-1:1:cluster/prod' })).toThrow(/is not a valid cluster name.*eu-1=arn:aws/);
    expect(() => inputs({ clusters: 'a,a' })).toThrow(/names cluster "a" twice/);
    expect(() => inputs({ clusters: 'a=' })).toThrow(/names no context/);
  });
});

describe('discovery over several clusters', () => {
  it('lists every cluster (bound first, the first is home) and tags each tenant with its cluster', async () => {
    const f = ports({ 'eu-1': ['tenant-a', 'tenant-b'], 'us-1': ['tenant-c'] });
    const inp = inputs({ clusters: 'eu-1=kind-eu-1,us-1' });
    const r = await resolveTenants(inp, f.p);
    expect(r.tenants.map((t) => [t.id, t.cluster])).toEqual([
      ['a', 'eu-1'],
      ['b', 'eu-1'],
      ['c', 'us-1'],
    ]);
    expect(f.bound).toEqual([
      [
        { name: 'eu-1', reach: { kind: 'context', context: 'kind-eu-1' }, labels: {}, home: true },
        { name: 'us-1', reach: { kind: 'context', context: 'us-1' }, labels: {}, home: false },
      ],
    ]);
    expect(f.listed).toEqual(['eu-1', 'us-1']);
    expect(r.clusters.map((c) => c.name)).toEqual(['eu-1', 'us-1']);
    expect(r.source).toBe('namespaces matching app.kubernetes.io/component=tenant in clusters eu-1, us-1');
  });

  it('the same tenant in two clusters is an error naming both', async () => {
    const f = ports({ a: ['tenant-x'], b: ['tenant-x'] });
    await expect(resolveTenants(inputs({ clusters: 'a,b' }), f.p)).rejects.toThrow(/tenant "x": was discovered in clusters a and b/);
  });

  it('with a tenants file: only the named clusters run; an unknown name gets the closest', async () => {
    const file =
      'clusters:\n  - { name: eu-1, home: true }\n  - { name: us-1 }\ntenants:\n  - { id: a, cluster: eu-1 }\n  - { id: b, cluster: us-1 }\n';
    const f = ports({}, { 't.yaml': file });
    const r = await resolveTenants(inputs({ 'tenants-file': 't.yaml', clusters: 'us-1' }), f.p);
    expect(r.tenants.map((t) => t.id)).toEqual(['b']);
    const e = await resolveTenants(inputs({ 'tenants-file': 't.yaml', clusters: 'us-2' }), f.p).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(ConfigurationError);
    expect((e as ConfigurationError).message).toMatch(/input "clusters": names unknown cluster "us-2"/);
    expect((e as ConfigurationError).hint).toMatch(/did you mean "us-1"\?/);
  });
});

describe('status and the ledger carry the cluster', () => {
  it("the ledger names the tenant's cluster, and status reads the run after the version", () => {
    const d = ledgerDescription('abc', 'run=o/r/1/1', 'v1.2.0', 'eu-1');
    expect(d).toBe('deploy-actions target=abc version=v1.2.0 cluster=eu-1 run=o/r/1/1');
    expect(parseLedger(d)).toEqual({ fingerprint: 'abc', version: 'v1.2.0', cluster: 'eu-1' });
    const s = tenantState(
      { id: 'a', namespace: 'tenant-a', release: 'a', cluster: 'eu-1' },
      [{ revision: 1, status: 'deployed', chart: 'app-1.0.0', app_version: '1.0.0', description: d, updated: '' }],
      undefined,
    );
    expect(s).toMatchObject({ cluster: 'eu-1', fingerprint: 'abc', run: 'o/r/1/1' });
    const md = renderStatusMarkdown({ version: 1, fleet: 'f', readAt: '', line: '', tenants: [s] });
    expect(md).toContain('| tenant | cluster | release |');
    expect(md).toContain('| a | eu-1 | tenant-a/a |');
  });
});
