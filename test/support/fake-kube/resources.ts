/** The resource types the fake serves, and the discovery documents that describe them. */

export interface ResourceType {
  group: string;
  version: string;
  /** Plural, lower-case: `deployments`. */
  resource: string;
  kind: string;
  namespaced: boolean;
  shortNames?: string[];
  /** Subresources served: `status`, `scale`, `log`. */
  subresources?: string[];
  /** Spec changes bump `metadata.generation` (workloads). */
  generation?: boolean;
}

const core = (resource: string, kind: string, namespaced: boolean, extra: Partial<ResourceType> = {}): ResourceType => ({
  group: '',
  version: 'v1',
  resource,
  kind,
  namespaced,
  ...extra,
});
const apps = (resource: string, kind: string, extra: Partial<ResourceType> = {}): ResourceType => ({
  group: 'apps',
  version: 'v1',
  resource,
  kind,
  namespaced: true,
  generation: true,
  ...extra,
});

export const resourceTypes: ResourceType[] = [
  core('namespaces', 'Namespace', false, { shortNames: ['ns'], subresources: ['status', 'finalize'] }),
  core('secrets', 'Secret', true),
  core('configmaps', 'ConfigMap', true, { shortNames: ['cm'] }),
  core('services', 'Service', true, { shortNames: ['svc'], subresources: ['status'] }),
  core('pods', 'Pod', true, { shortNames: ['po'], subresources: ['status', 'log'] }),
  core('events', 'Event', true, { shortNames: ['ev'] }),
  core('serviceaccounts', 'ServiceAccount', true, { shortNames: ['sa'] }),
  core('endpoints', 'Endpoints', true, { shortNames: ['ep'] }),
  core('persistentvolumeclaims', 'PersistentVolumeClaim', true, { shortNames: ['pvc'], subresources: ['status'] }),
  apps('deployments', 'Deployment', { shortNames: ['deploy'], subresources: ['status', 'scale'] }),
  apps('replicasets', 'ReplicaSet', { shortNames: ['rs'], subresources: ['status', 'scale'] }),
  apps('statefulsets', 'StatefulSet', { shortNames: ['sts'], subresources: ['status', 'scale'] }),
  apps('daemonsets', 'DaemonSet', { shortNames: ['ds'], subresources: ['status'] }),
  apps('controllerrevisions', 'ControllerRevision', { generation: false }),
  { group: 'events.k8s.io', version: 'v1', resource: 'events', kind: 'Event', namespaced: true, shortNames: ['ev'] },
  { group: 'batch', version: 'v1', resource: 'jobs', kind: 'Job', namespaced: true, generation: true, subresources: ['status'] },
  // Release leases (src/kube/leases.ts): stored and compare-and-swapped like any object; nothing expires them.
  { group: 'coordination.k8s.io', version: 'v1', resource: 'leases', kind: 'Lease', namespaced: true },
];

export const apiVersionOf = (t: ResourceType): string => (t.group ? `${t.group}/${t.version}` : t.version);

/** `apps/deployments`, `/secrets`: the key of a type in the store (versions are not mixed). */
export const typeKey = (t: ResourceType): string => `${t.group}/${t.resource}`;

export function findByResource(group: string, version: string, resource: string): ResourceType | undefined {
  return resourceTypes.find((t) => t.group === group && t.version === version && t.resource === resource);
}

export function findByKind(apiVersion: string, kind: string): ResourceType | undefined {
  const [group, version] = apiVersion.includes('/') ? apiVersion.split('/') : ['', apiVersion];
  return resourceTypes.find((t) => t.group === group && t.version === version && t.kind === kind);
}

/** Finds a type by plural resource name (`deployments`), kind (`Deployment`) or short name. */
export function findLoosely(name: string): ResourceType | undefined {
  const n = name.toLowerCase();
  return (
    resourceTypes.find((t) => t.resource === n && t.group !== 'events.k8s.io') ??
    resourceTypes.find((t) => t.kind.toLowerCase() === n && t.group !== 'events.k8s.io') ??
    resourceTypes.find((t) => t.shortNames?.includes(n))
  );
}

const verbs = ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'];

/** `APIResourceList` for one group version (empty `resources` for the groups only listed). */
export function apiResourceList(group: string, version: string): object {
  const resources: object[] = [];
  for (const t of resourceTypes.filter((r) => r.group === group && r.version === version)) {
    resources.push({
      name: t.resource,
      singularName: t.kind.toLowerCase(),
      namespaced: t.namespaced,
      kind: t.kind,
      verbs: t.resource === 'namespaces' ? verbs.filter((v) => v !== 'deletecollection') : verbs,
      ...(t.shortNames ? { shortNames: t.shortNames } : {}),
      ...(t.group === 'apps' && t.kind !== 'ControllerRevision' ? { categories: ['all'] } : {}),
    });
    for (const sub of t.subresources ?? []) {
      resources.push({
        name: `${t.resource}/${sub}`,
        singularName: '',
        namespaced: t.namespaced,
        ...(sub === 'scale' ? { group: 'autoscaling', version: 'v1', kind: 'Scale' } : { kind: t.kind }),
        verbs: sub === 'log' ? ['get'] : sub === 'finalize' ? ['update'] : ['get', 'patch', 'update'],
      });
    }
  }
  return { kind: 'APIResourceList', apiVersion: 'v1', groupVersion: group ? `${group}/${version}` : version, resources };
}

/**
 * Which aggregated discovery version an `Accept` header asks for (`v2`, or `v2beta1` from
 * clients older than 1.30), or undefined for the legacy documents. client-go sends
 * `application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,...;v=v2beta1;...,application/json`.
 */
export function aggregatedVersion(accept: string | undefined): 'v2' | 'v2beta1' | undefined {
  const offered = (accept ?? '').split(',').map((m) => m.replace(/\s+/g, ''));
  const asks = (v: string) =>
    offered.some((m) => m.includes('g=apidiscovery.k8s.io') && m.includes(`v=${v};`) && m.includes('as=APIGroupDiscoveryList'));
  return asks('v2') ? 'v2' : asks('v2beta1') ? 'v2beta1' : undefined;
}

/**
 * The aggregated discovery document (`APIGroupDiscoveryList`) a 1.30+ server serves for `/api`
 * (the core group, unnamed) or `/apis`: every group, version and resource in one answer, so
 * helm 4 and kubectl need no per-group-version request.
 */
export function aggregatedDiscovery(groups: { name: string; versions: { version: string }[] }[], version: 'v2' | 'v2beta1'): object {
  const items = groups.map((g) => ({
    metadata: { ...(g.name ? { name: g.name } : {}), creationTimestamp: null },
    versions: g.versions.map(({ version: v }) => ({
      version: v,
      resources: resourceTypes
        .filter((t) => t.group === g.name && t.version === v)
        .map((t) => ({
          resource: t.resource,
          responseKind: { group: t.group, version: t.version, kind: t.kind },
          scope: t.namespaced ? 'Namespaced' : 'Cluster',
          singularResource: t.kind.toLowerCase(),
          verbs: t.resource === 'namespaces' ? verbs.filter((x) => x !== 'deletecollection') : verbs,
          ...(t.shortNames ? { shortNames: t.shortNames } : {}),
          ...(t.group === 'apps' && t.kind !== 'ControllerRevision' ? { categories: ['all'] } : {}),
          ...(t.subresources?.length
            ? {
                subresources: t.subresources.map((sub) => ({
                  subresource: sub,
                  responseKind:
                    sub === 'scale'
                      ? { group: 'autoscaling', version: 'v1', kind: 'Scale' }
                      : { group: t.group, version: t.version, kind: t.kind },
                  verbs: sub === 'log' ? ['get'] : sub === 'finalize' ? ['update'] : ['get', 'patch', 'update'],
                })),
              }
            : {}),
        })),
      freshness: 'Current',
    })),
  }));
  return { kind: 'APIGroupDiscoveryList', apiVersion: `apidiscovery.k8s.io/${version}`, metadata: {}, items };
}

/**
 * `GET /openapi/v3`: the index of per-group-version documents. Helm 3 (kubectl's validator) reads
 * it to learn whether the server validates fields itself (the `fieldValidation` query parameter
 * of PATCH operations); when it does, no client-side schema (the protobuf /openapi/v2) is needed.
 */
export function openApiV3Index(): object {
  const paths: Record<string, { serverRelativeURL: string }> = {};
  for (const t of resourceTypes) {
    const gv = t.group ? `apis/${t.group}/${t.version}` : `api/${t.version}`;
    paths[gv] = { serverRelativeURL: `/openapi/v3/${gv}?hash=${gv.replace(/[^a-z0-9]/gi, '').toUpperCase()}` };
  }
  return { paths };
}

/** The minimal OpenAPI v3 document of one group version: PATCH operations that accept `fieldValidation`. */
export function openApiV3Doc(group: string, version: string): object | undefined {
  const types = resourceTypes.filter((t) => t.group === group && t.version === version);
  if (types.length === 0) return undefined;
  const prefix = group ? `/apis/${group}/${version}` : `/api/${version}`;
  const paths: Record<string, object> = {};
  for (const t of types) {
    const gvk = { group, kind: t.kind, version };
    const path = t.namespaced ? `${prefix}/namespaces/{namespace}/${t.resource}/{name}` : `${prefix}/${t.resource}/{name}`;
    paths[path] = {
      patch: {
        operationId: `patch${t.namespaced ? 'Namespaced' : ''}${t.kind}`,
        'x-kubernetes-action': 'patch',
        'x-kubernetes-group-version-kind': gvk,
        parameters: ['dryRun', 'fieldManager', 'fieldValidation', 'force'].map((name) => ({
          name,
          in: 'query',
          schema: { type: name === 'force' ? 'boolean' : 'string', uniqueItems: true },
        })),
        responses: { '200': { description: 'OK' } },
      },
    };
  }
  return { openapi: '3.0.0', info: { title: 'Kubernetes', version: 'v1.32.13' }, paths, components: { schemas: {} } };
}
