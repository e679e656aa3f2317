import type { BlueGreenCluster } from '../../src/bluegreen/deploy.ts';
import type { ReleaseHealth, ServiceInfo } from '../../src/kube/ports.ts';
import type { FakeHelm } from '../support/fake-helm.ts';

export type HealthScript = 'healthy' | 'scaled-to-zero' | string[];

/**
 * An in-memory Cluster for the blue-green flow: Services by name, release health scripted per
 * release (a queue, the last entry repeats). A release FakeHelm does not hold has no workloads.
 * Asking for a release whose health was never scripted throws, so a test sees every call.
 */
export class FakeBlueGreenCluster implements BlueGreenCluster {
  readonly services = new Map<string, ServiceInfo>();
  readonly calls: string[] = [];
  readonly patches: { namespace: string; name: string; selector: Record<string, string>; fieldManager?: string }[] = [];
  private readonly health = new Map<string, HealthScript[]>();
  /** Makes the next patch fail (e.g. a Forbidden from the API). */
  failPatch?: Error;

  constructor(private readonly helm?: FakeHelm) {}

  addService(namespace: string, name: string, selector: Record<string, string>, annotations: Record<string, string> = {}) {
    this.services.set(`${namespace}/${name}`, { name, namespace, selector: { ...selector }, labels: {}, annotations });
  }

  selector(namespace: string, name: string) {
    return this.services.get(`${namespace}/${name}`)?.selector;
  }

  setHealth(namespace: string, release: string, ...script: HealthScript[]) {
    this.health.set(`${namespace}/${release}`, script);
  }

  async readService(namespace: string, name: string): Promise<ServiceInfo | undefined> {
    this.calls.push(`readService ${namespace}/${name}`);
    const s = this.services.get(`${namespace}/${name}`);
    return s && structuredClone(s);
  }

  async patchServiceSelector(
    namespace: string,
    name: string,
    selector: Record<string, string>,
    fieldManager?: string,
    annotations?: Record<string, string | null>,
  ): Promise<ServiceInfo> {
    this.calls.push(
      `patchServiceSelector ${namespace}/${name} ${Object.entries(selector)
        .map(([k, v]) => `${k}=${v}`)
        .join(',')}`,
    );
    if (this.failPatch) {
      const e = this.failPatch;
      this.failPatch = undefined;
      throw e;
    }
    const s = this.services.get(`${namespace}/${name}`);
    if (!s) throw new Error(`services "${name}" not found`);
    this.patches.push({ namespace, name, selector: { ...selector }, fieldManager });
    s.selector = { ...selector };
    for (const [k, v] of Object.entries(annotations ?? {})) {
      if (v === null) delete s.annotations[k];
      else s.annotations[k] = v;
    }
    return structuredClone(s);
  }

  async releaseHealth(namespace: string, release: string): Promise<ReleaseHealth> {
    this.calls.push(`releaseHealth ${namespace}/${release}`);
    const base = { namespace, release, pods: [] };
    if (this.helm && !this.helm.releases.has(`${namespace}/${release}`)) {
      return {
        ...base,
        healthy: false,
        workloads: [],
        problems: [`no Deployment or StatefulSet of release "${release}" in namespace "${namespace}"`],
      };
    }
    const queue = this.health.get(`${namespace}/${release}`);
    if (!queue || queue.length === 0) throw new Error(`FakeBlueGreenCluster: unexpected releaseHealth of ${namespace}/${release}`);
    const h = queue.length > 1 ? queue.shift()! : queue[0]!;
    const workload = (desired: number, ready: number) => ({
      kind: 'Deployment' as const,
      name: release,
      desired,
      ready,
      updated: ready,
      available: ready,
      observed: true,
      images: [],
    });
    if (h === 'healthy') return { ...base, healthy: true, workloads: [workload(1, 1)], problems: [] };
    if (h === 'scaled-to-zero') return { ...base, healthy: true, workloads: [workload(0, 0)], problems: [] };
    return { ...base, healthy: false, workloads: [workload(1, 0)], problems: h };
  }
}
