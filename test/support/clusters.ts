/**
 * A fleet over several clusters for the dist/ tests: one API fake per cluster (each with its own
 * token), one kubeconfig with a context per fake, and a tenants file with a `clusters:` section.
 */
import { startFakeKube, type FakeKube, type FakeKubeOptions } from './fake-kube/index.ts';

export interface ClusterSpec {
  name: string;
  tenants: readonly string[];
  /** `labels: { region: ... }` in the tenants file. */
  region?: string;
}

/** One kubeconfig, a context per fake named like its cluster; `current` is the current context. */
export function multiKubeconfig(fakes: ReadonlyMap<string, FakeKube>, current = [...fakes.keys()].at(-1)!): string {
  return [
    'apiVersion: v1',
    'kind: Config',
    'clusters:',
    ...[...fakes].flatMap(([n, k]) => [`- name: ${n}`, '  cluster:', `    server: ${k.url}`, '    insecure-skip-tls-verify: true']),
    'users:',
    ...[...fakes].flatMap(([n, k]) => [`- name: ${n}`, '  user:', `    token: ${k.token}`]),
    'contexts:',
    ...[...fakes].flatMap(([n]) => [`- name: ${n}`, '  context:', `    cluster: ${n}`, `    user: ${n}`]),
    `current-context: ${current}`,
    '',
  ].join('\n');
}

/** The tenants file: the clusters (the first is home unless `home` names another), then each tenant in its cluster. */
export function clustersTenantsFile(clusters: readonly ClusterSpec[], home = clusters[0]!.name): string {
  return [
    'clusters:',
    ...clusters.map(
      (c) => `  - { name: ${c.name}${c.region ? `, labels: { region: ${c.region} }` : ''}${c.name === home ? ', home: true' : ''} }`,
    ),
    'tenants:',
    ...clusters.flatMap((c) => c.tenants.map((t) => `  - { id: ${t}, cluster: ${c.name} }`)),
    '',
  ].join('\n');
}

/** The helm release records of one tenant's namespace, oldest first, as the cluster stores them. */
export function helmRevisions(kube: FakeKube, namespace: string): { version: number; status: string }[] {
  return kube
    .list('secrets', namespace)
    .filter((s) => s.metadata.labels?.owner === 'helm')
    .map((s) => ({ version: Number(s.metadata.labels!.version), status: String(s.metadata.labels!.status) }))
    .sort((a, b) => a.version - b.version);
}

/**
 * One API fake per cluster, each holding its tenants' namespaces, into `fakes` (kept by the
 * caller, which closes them). A request with another cluster's token is refused (helm sends
 * none over plain http, so only the action's requests are held to it).
 */
export async function startClusterFakes(
  fakes: Map<string, FakeKube>,
  clusters: readonly ClusterSpec[],
  options: FakeKubeOptions = {},
): Promise<void> {
  for (const c of clusters) {
    const k = await startFakeKube({ requireToken: 'when-sent', ...options });
    k.addTenantNamespaces(c.tenants.map((t) => `tenant-${t}`));
    fakes.set(c.name, k);
  }
}
