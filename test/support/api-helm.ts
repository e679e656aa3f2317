/**
 * A simulated helm for scale and shard tests: it keeps releases exactly where helm does (storage
 * Secrets `sh.helm.release.v1.<release>.v<n>`, gzipped JSON, labels owner/name/status/version)
 * through client-node against the wire fake, so every upgrade is visible in the fake's request
 * log and the production in-process history reader reads it back. An upgrade writes a
 * `pending-*` revision, waits `durationMs`, then marks it deployed (the old one superseded) or,
 * for a bad tenant, failed. Not helm: no manifests are applied. Real helm is used everywhere else.
 */
import { gzipSync } from 'node:zlib';
import { CoreV1Api, type KubeConfig, type V1Secret } from '@kubernetes/client-node';
import type { KubeTarget, UpgradeOptions } from '../../src/helm/argv.ts';
import { HelmError, type Helm, type OpOptions, type ReleaseResult } from '../../src/helm/helm.ts';
import type { Revision } from '../../src/helm/history.ts';
import type { HelmVersion } from '../../src/helm/version.ts';
import { createReleaseHistory } from '../../src/kube/release-history.ts';

export interface ApiHelmOptions {
  durationMs: (release: string) => number;
  bad?: (release: string) => boolean;
}

const secretName = (release: string, v: number) => `sh.helm.release.v1.${release}.v${v}`;

export function encode(ns: string, release: string, v: number, status: string, description: string): V1Secret {
  const json = JSON.stringify({
    name: release,
    namespace: ns,
    version: v,
    info: { status, description, last_deployed: new Date().toISOString() },
    chart: { metadata: { name: 'tenant-app', version: '1.0.0', appVersion: '1.0.0' } },
  });
  const helmValue = gzipSync(json).toString('base64');
  return {
    metadata: {
      name: secretName(release, v),
      namespace: ns,
      labels: {
        owner: 'helm',
        name: release,
        status,
        version: String(v),
        'sim-op': description.startsWith('Rollback') ? 'rollback' : 'upgrade',
      },
    },
    type: 'helm.sh/release.v1',
    data: { release: Buffer.from(helmValue).toString('base64') },
  };
}

export class ApiHelm implements Helm {
  readonly version: HelmVersion = { major: 4, minor: 1, patch: 4, raw: 'v4.1.4-simulated' };
  readonly calls = { upgrade: 0, rollback: 0, history: 0 };
  private readonly core: CoreV1Api;
  private readonly reader;

  constructor(
    kc: KubeConfig,
    private readonly o: ApiHelmOptions,
  ) {
    this.core = kc.makeApiClient(CoreV1Api);
    this.reader = createReleaseHistory({ kubeConfig: kc });
  }

  history(release: string, t: KubeTarget): Promise<Revision[]> {
    this.calls.history++;
    return this.reader.history(t.namespace, release);
  }

  private async setStatus(ns: string, release: string, rows: Revision[], v: number, status: string) {
    const row = rows.find((r) => r.revision === v)!;
    await this.core.replaceNamespacedSecret({
      name: secretName(release, v),
      namespace: ns,
      body: encode(ns, release, v, status, row.description),
    });
  }

  private async write(ns: string, release: string, description: string, final: (rows: Revision[]) => string, pending: string, ms: number) {
    const rows = await this.reader.history(ns, release);
    const v = (rows.at(-1)?.revision ?? 0) + 1;
    await this.core.createNamespacedSecret({ namespace: ns, body: encode(ns, release, v, pending, description) });
    if (ms) await new Promise((r) => setTimeout(r, ms));
    const status = final(rows);
    if (status === 'deployed')
      for (const r of rows)
        if (r.status === 'deployed' || r.status === 'failed') await this.setStatus(ns, release, rows, r.revision, 'superseded');
    await this.core.replaceNamespacedSecret({
      name: secretName(release, v),
      namespace: ns,
      body: encode(ns, release, v, status, description),
    });
    return v;
  }

  async upgrade(u: UpgradeOptions): Promise<ReleaseResult> {
    this.calls.upgrade++;
    const bad = this.o.bad?.(u.release) ?? false;
    const rows = await this.reader.history(u.namespace, u.release);
    const v = await this.write(
      u.namespace,
      u.release,
      u.description ?? '',
      () => (bad ? 'failed' : 'deployed'),
      rows.length ? 'pending-upgrade' : 'pending-install',
      this.o.durationMs(u.release),
    );
    if (bad)
      throw new HelmError(
        `UPGRADE FAILED: simulated failure of ${u.release}`,
        'helm upgrade',
        'Error: UPGRADE FAILED: context deadline exceeded',
      );
    return { revision: v, status: 'deployed', chartVersion: '1.0.0', appVersion: '1.0.0', contentDigest: `d${v}` };
  }

  async rollback(release: string, revision: number, o: OpOptions): Promise<void> {
    this.calls.rollback++;
    await this.write(o.namespace, release, `Rollback to ${revision}`, () => 'deployed', 'pending-rollback', 0);
  }

  async uninstall(release: string, o: OpOptions): Promise<void> {
    for (const r of await this.reader.history(o.namespace, release))
      await this.core.deleteNamespacedSecret({ name: secretName(release, r.revision), namespace: o.namespace });
  }

  async listAll(): Promise<never> {
    throw new Error('ApiHelm: listAll is not simulated');
  }

  async contentDigest(): Promise<never> {
    throw new Error('ApiHelm: contentDigest is not simulated');
  }
}
