import { describe, expect, it } from 'vitest';
import { clusterTurns, homeCluster, interleaveByCluster } from '../../src/clusters/model.ts';
import type { ClusterSpec } from '../../src/clusters/model.ts';
import { ConfigurationError } from '../../src/core/errors.ts';
import { parsePilot, parsePlan, planRollout, parseBatchSize, reconcilePlan, serializePlan } from '../../src/rollout/plan.ts';
import { parseTenantsDocument } from '../../src/tenants/file.ts';
import type { Tenant } from '../../src/tenants/model.ts';

// A fleet over three clusters in two regions, as a tenants file declares it.
const FILE = `
clusters:
  - name: eu-1
    context: kind-eu-1
    labels: { region: eu }
    home: true
  - name: eu-2
    kubeconfigEnv: EU2_KUBECONFIG
    labels: { region: eu }
  - name: us-1
    labels: { region: us }
tenants:
${Array.from({ length: 8 }, (_, i) => `  - { id: eu1-${i}, cluster: eu-1 }`).join('\n')}
${Array.from({ length: 4 }, (_, i) => `  - { id: eu2-${i}, cluster: eu-2 }`).join('\n')}
${Array.from({ length: 6 }, (_, i) => `  - { id: us1-${i}, cluster: us-1 }`).join('\n')}
`;

const errorOf = (text: string): ConfigurationError => {
  try {
    parseTenantsDocument(text, 'tenants.yaml');
  } catch (e) {
    return e as ConfigurationError;
  }
  throw new Error('no error');
};

describe('the clusters section of a tenants file', () => {
  it('reads clusters (reach, labels, home) and tags each tenant with its cluster', () => {
    const { tenants, clusters } = parseTenantsDocument(FILE, 'tenants.yaml');
    expect(clusters).toEqual([
      { name: 'eu-1', reach: { kind: 'context', context: 'kind-eu-1' }, labels: { region: 'eu' }, home: true },
      { name: 'eu-2', reach: { kind: 'kubeconfig-env', env: 'EU2_KUBECONFIG' }, labels: { region: 'eu' }, home: false },
      { name: 'us-1', reach: { kind: 'context', context: 'us-1' }, labels: { region: 'us' }, home: false },
    ]);
    expect(homeCluster(clusters)?.name).toBe('eu-1');
    expect(tenants.find((t) => t.id === 'us1-0')?.cluster).toBe('us-1');
  });

  it('a tenant naming an unknown cluster: the closest declared name, at its line', () => {
    const e = errorOf(FILE.replace('{ id: us1-0, cluster: us-1 }', '{ id: us1-0, cluster: us-l }'));
    expect(e.message).toMatch(/tenant "us1-0" names unknown cluster "us-l"/);
    expect(e.hint).toBe('did you mean "us-1"?');
    expect(e.location?.line).toBe(FILE.split('\n').findIndex((l) => l.includes('us1-0')) + 1);
  });

  it('an unknown key of a cluster names the closest known key', () => {
    const e = errorOf(FILE.replace('context: kind-eu-1', 'contxt: kind-eu-1'));
    expect(e.message).toMatch(/clusters\[0\]: unknown key "contxt" \(did you mean "context"\?\)/);
    expect(errorOf(FILE.replace('{ id: us1-0, cluster: us-1 }', '{ id: us1-0, clustr: us-1 }')).message).toMatch(/did you mean "cluster"/);
  });

  it('several clusters need exactly one home, and every tenant a cluster', () => {
    expect(errorOf(FILE.replace('    home: true\n', '')).message).toMatch(/no cluster is the home cluster/);
    expect(errorOf(FILE.replace('labels: { region: us }', 'labels: { region: us }\n    home: true')).message).toMatch(/both home/);
    expect(errorOf(FILE.replace('{ id: us1-0, cluster: us-1 }', '{ id: us1-0 }')).message).toMatch(/tenant "us1-0" names no cluster/);
    expect(errorOf(FILE.replace('name: eu-2', 'name: eu-1')).message).toMatch(/duplicate cluster name "eu-1"/);
    expect(errorOf(FILE.replace('kubeconfigEnv: EU2_KUBECONFIG', 'kubeconfigEnv: "not a name"')).message).toMatch(/kubeconfigEnv/);
  });

  it('one declared cluster needs no cluster per tenant; none at all is the old file', () => {
    const one = parseTenantsDocument('clusters:\n  - name: solo\ntenants:\n  - id: a\n', 'f.yaml');
    expect(one.tenants[0]!.cluster).toBe('solo');
    const none = parseTenantsDocument('tenants:\n  - id: a\n', 'f.yaml');
    expect(none).toEqual({ tenants: [expect.not.objectContaining({ cluster: expect.anything() })], clusters: [] });
  });

  it('the same namespace/release may exist in two clusters', () => {
    const { tenants } = parseTenantsDocument(
      'clusters:\n  - { name: a, home: true }\n  - { name: b }\ntenants:\n  - { id: x, namespace: shop, release: shop, cluster: a }\n  - { id: y, namespace: shop, release: shop, cluster: b }\n',
      'f.yaml',
    );
    expect(tenants.map((t) => t.cluster)).toEqual(['a', 'b']);
  });
});

describe('waves spread risk over clusters and regions', () => {
  const { tenants, clusters } = parseTenantsDocument(FILE, 'tenants.yaml');
  const region = new Map(clusters.map((c) => [c.name, c.labels.region]));
  const plan = (over: Partial<Parameters<typeof planRollout>[1]> = {}) =>
    planRollout(tenants, { pilot: parsePilot('0'), batchSize: parseBatchSize('4'), clusters, ...over });
  const regionsOf = (wave: { cluster?: string }[]) => new Set(wave.map((r) => region.get(r.cluster!)));

  it('clusters take turns by region, then name', () => {
    expect(clusterTurns(clusters)).toEqual(['eu-1', 'us-1', 'eu-2']);
  });

  it('by default every wave holds more than one region, and the order is stable', () => {
    const p = plan();
    expect(p.waves.length).toBeGreaterThan(1);
    for (const w of p.waves) expect(regionsOf(w).size).toBe(2);
    expect(plan()).toEqual(p);
    expect(planRollout([...tenants].reverse(), { pilot: parsePilot('0'), batchSize: parseBatchSize('4'), clusters })).toEqual(p);
    expect(p.summary.order).toContain('clusters interleaved: eu-1, us-1, eu-2');
  });

  it('a small cluster is spread over the waves, not spent in the first', () => {
    const p = plan({ batchSize: parseBatchSize('6') });
    const eu2 = p.waves.map((w) => w.filter((r) => r.cluster === 'eu-2').length);
    expect(eu2.reduce((a, b) => a + b, 0)).toBe(4);
    expect(Math.min(...eu2)).toBe(1);
    expect(Math.max(...eu2)).toBe(2);
    expect(p.waves.map((w) => w.filter((r) => r.cluster === 'us-1').length)).toEqual([2, 2, 2]);
  });

  it('order: by-cluster rolls cluster after cluster in file order', () => {
    const p = plan({ clusterOrder: 'by-cluster' });
    const seq = p.waves.flat().map((r) => r.cluster);
    expect([...new Set(seq)]).toEqual(['eu-1', 'eu-2', 'us-1']);
    expect(seq.slice(0, 8).every((c) => c === 'eu-1')).toBe(true);
  });

  it('pilot: per-cluster picks one pilot in every cluster', () => {
    const p = plan({ pilot: parsePilot('per-cluster') });
    expect(p.pilot.map((r) => r.cluster).sort()).toEqual(['eu-1', 'eu-2', 'us-1']);
    expect(p.waves.flat()).toHaveLength(tenants.length - 3);
  });

  it("the plan carries each tenant's cluster through serialize/parse and its fingerprint", () => {
    const p = plan();
    const back = parsePlan(serializePlan(p));
    expect(back.waves[0]![0]).toHaveProperty('cluster');
    expect(back.fingerprint).toBe(p.fingerprint);
    const edited = serializePlan(p).replace('"cluster":"us-1"', '"cluster":"eu-1"');
    expect(() => parsePlan(edited)).toThrow(/does not match its fingerprint/);
  });

  it('a tenant that moved cluster since the approval is not deployed', () => {
    const moved: Tenant[] = tenants.map((t) => (t.id === 'us1-0' ? { ...t, cluster: 'eu-1' } : t));
    const r = reconcilePlan(plan(), moved);
    expect(r.changed.map((c) => c.approved.id)).toEqual(['us1-0']);
  });

  it('a single-cluster fleet plans exactly as before (no cluster in refs or fingerprint)', () => {
    const plain = tenants.map(({ cluster: _c, ...t }) => t);
    const before = planRollout(plain, { pilot: parsePilot('2'), batchSize: parseBatchSize('4') });
    const one: ClusterSpec[] = [clusters[0]!];
    expect(planRollout(plain, { pilot: parsePilot('2'), batchSize: parseBatchSize('4'), clusters: one }).fingerprint).toBe(
      before.fingerprint,
    );
    expect(JSON.stringify(before)).not.toContain('cluster');
  });

  it('every wave holds both regions when the fleet allows, whatever the wave size (eu 4 / us 3)', () => {
    const xs = [
      ...['e1', 'e2', 'e3', 'e4'].map((id) => ({ id, cluster: 'eu' })),
      ...['u1', 'u2', 'u3'].map((id) => ({ id, cluster: 'us' })),
    ];
    const order = interleaveByCluster(xs, ['eu', 'us'], (c) => c);
    for (const size of [2, 3, 4]) {
      for (let i = 0; i + size <= order.length; i += size) {
        expect(new Set(order.slice(i, i + size).map((x) => x.cluster)), `waves of ${size}, wave at ${i}`).toEqual(new Set(['eu', 'us']));
      }
    }
    expect(order.map((x) => x.id)).toEqual(['e1', 'u1', 'e2', 'u2', 'e3', 'u3', 'e4']);
  });

  it("interleaving keeps each cluster's own order", () => {
    const xs = [
      { id: 'a1', cluster: 'a' },
      { id: 'a2', cluster: 'a' },
      { id: 'a3', cluster: 'a' },
      { id: 'b1', cluster: 'b' },
    ];
    expect(interleaveByCluster(xs, ['a', 'b']).map((x) => x.id)).toEqual(['a1', 'a2', 'b1', 'a3']);
  });
});
