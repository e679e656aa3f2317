import type { KubeTarget, UpgradeOptions } from '../../src/helm/argv.ts';
import type { ClusterTarget } from '../../src/core/cluster-target.ts';
import { HelmError } from '../../src/helm/helm.ts';
import type { Helm, ListedRelease, OpOptions, ReleaseResult } from '../../src/helm/helm.ts';
import type { Revision } from '../../src/helm/history.ts';
import type { HelmVersion } from '../../src/helm/version.ts';

export type UpgradeBehaviour =
  | { kind: 'ok'; content?: string; /** macrotask turns the upgrade takes, so parallel upgrades overlap */ turns?: number }
  | { kind: 'fail'; message?: string } // helm created a failed revision
  | { kind: 'fail-early'; message?: string } // helm failed before creating a revision
  | { kind: 'transient'; message?: string } // the API failed before helm created a revision (503 by default)
  | { kind: 'transient-after-revision'; message?: string } // the API failed after helm created a (failed) revision
  | { kind: 'hang' }; // stays pending until aborted

/**
 * An in-memory Helm that keeps per-release history the way helm does (deployed -> superseded,
 * failed upgrades leave the previous revision deployed, rollbacks add a revision). Each upgrade
 * must be scripted with `onUpgrade`; an unscripted call throws, so a test sees every call it caused.
 */
export class FakeHelm implements Helm {
  readonly version: HelmVersion = { major: 4, minor: 1, patch: 4, raw: 'v4.1.4' };
  /** The cluster this helm is bound to (as HelmCli is); its context shows in the recorded calls. */
  constructor(public target?: ClusterTarget) {}
  readonly releases = new Map<string, (Revision & { content: string; description: string })[]>();
  readonly calls: string[] = [];
  private readonly scripts = new Map<string, UpgradeBehaviour[]>();
  failRollback = false;
  /** How many of the next rollbacks fail (each one transiently, after writing nothing). */
  failRollbackTimes = 0;
  /** How many of the next history reads fail with a transient API error. */
  failHistoryTimes = 0;
  active = 0;
  maxActive = 0;

  key(ns: string, release: string) {
    return `${ns}/${release}`;
  }

  seed(ns: string, release: string, rows: { status: string; content?: string; description?: string }[]) {
    this.releases.set(
      this.key(ns, release),
      rows.map((r, i) => ({
        revision: i + 1,
        updated: '',
        status: r.status,
        chart: 'tenant-app-1.2.0',
        app_version: '1.2.0',
        description: r.description ?? '',
        content: r.content ?? `c${i + 1}`,
      })),
    );
  }

  onUpgrade(ns: string, release: string, ...b: UpgradeBehaviour[]) {
    this.scripts.set(this.key(ns, release), [...(this.scripts.get(this.key(ns, release)) ?? []), ...b]);
  }

  private add(ns: string, release: string, status: string, content: string, description: string) {
    const rows = this.releases.get(this.key(ns, release)) ?? [];
    if (status === 'deployed') for (const r of rows) if (r.status === 'deployed') r.status = 'superseded';
    const row = {
      revision: (rows.at(-1)?.revision ?? 0) + 1,
      updated: '',
      status,
      chart: 'tenant-app-1.3.0',
      app_version: '1.3.0',
      description,
      content,
    };
    rows.push(row);
    this.releases.set(this.key(ns, release), rows);
    return row;
  }

  async history(release: string, t: KubeTarget): Promise<Revision[]> {
    this.calls.push(`history ${t.namespace}/${release}`);
    if (this.failHistoryTimes > 0) {
      this.failHistoryTimes--;
      throw new HelmError(
        'query: failed to query with labels: the server is currently unable to handle the request',
        'helm history',
        'Error: query: failed to query with labels: the server is currently unable to handle the request',
      );
    }
    return (this.releases.get(this.key(t.namespace, release)) ?? []).map(({ content: _c, ...r }) => ({ ...r }));
  }

  async upgrade(o: UpgradeOptions, signal?: AbortSignal): Promise<ReleaseResult> {
    this.calls.push(`upgrade ${o.namespace}/${o.release}`);
    const queue = this.scripts.get(this.key(o.namespace, o.release));
    const b = queue?.shift();
    if (!b) throw new Error(`FakeHelm: unexpected upgrade of ${o.namespace}/${o.release}`);
    const rows = this.releases.get(this.key(o.namespace, o.release)) ?? [];
    if (rows.at(-1)?.status.startsWith('pending-'))
      throw new HelmError(
        'UPGRADE FAILED: another operation (install/upgrade/rollback) is in progress',
        'helm upgrade',
        'Error: UPGRADE FAILED: another operation (install/upgrade/rollback) is in progress',
      );
    if (b.kind === 'fail-early')
      throw new HelmError(b.message ?? 'chart not found', 'helm upgrade', `Error: ${b.message ?? 'chart not found'}`);
    if (b.kind === 'transient') {
      const m = b.message ?? 'UPGRADE FAILED: create: failed to create: the server is currently unable to handle the request';
      throw new HelmError(m, 'helm upgrade', `Error: ${m}`);
    }
    if (b.kind === 'transient-after-revision') {
      this.add(o.namespace, o.release, 'failed', 'new', o.description ?? '');
      const m =
        b.message ?? 'UPGRADE FAILED: cannot patch "alpha" with kind Deployment: the server is currently unable to handle the request';
      throw new HelmError(m, 'helm upgrade', `Error: ${m}`);
    }
    if (b.kind === 'hang') {
      const row = this.add(o.namespace, o.release, 'pending-upgrade', 'new', o.description ?? '');
      await new Promise<void>((resolve) => signal?.addEventListener('abort', () => resolve(), { once: true }));
      row.status = 'failed';
      throw new HelmError('UPGRADE FAILED: context canceled', 'helm upgrade', 'Error: UPGRADE FAILED: context canceled', true);
    }
    if (b.kind === 'fail') {
      this.add(o.namespace, o.release, 'failed', 'new', o.description ?? '');
      throw new HelmError(
        `UPGRADE FAILED: ${b.message ?? 'context deadline exceeded'}`,
        'helm upgrade',
        `Error: UPGRADE FAILED: ${b.message ?? 'context deadline exceeded'}`,
      );
    }
    this.active++;
    this.maxActive = Math.max(this.maxActive, this.active);
    for (let i = 0; i < (b.turns ?? 0); i++) await new Promise((r) => setImmediate(r));
    this.active--;
    const row = this.add(o.namespace, o.release, 'deployed', b.content ?? 'new', o.description ?? '');
    return { revision: row.revision, status: 'deployed', chartVersion: '1.3.0', appVersion: '1.3.0', contentDigest: row.content };
  }

  async rollback(release: string, revision: number, o: OpOptions): Promise<void> {
    // The bound context and the timeout show only when a context is bound, so each call site's target is visible.
    const ctx = this.target?.context;
    this.calls.push(`rollback ${o.namespace}/${release} ${revision} wait=${o.wait}${ctx ? ` ctx=${ctx} timeout=${o.timeoutMs}` : ''}`);
    const rows = this.releases.get(this.key(o.namespace, release));
    const target = rows?.find((r) => r.revision === revision);
    if (!target) throw new HelmError(`release has no ${revision} version`, 'helm rollback', '');
    if (this.failRollback) throw new HelmError('rollback failed: timed out waiting for the condition', 'helm rollback', '');
    if (this.failRollbackTimes > 0) {
      this.failRollbackTimes--;
      throw new HelmError(
        'Too many requests, please try again later.',
        'helm rollback',
        'Error: Too many requests, please try again later.',
      );
    }
    for (const r of rows!) if (r.status.startsWith('pending-')) r.status = 'failed';
    this.add(o.namespace, release, 'deployed', target.content, `Rollback to ${revision}`);
  }

  async uninstall(release: string, o: OpOptions): Promise<void> {
    this.calls.push(`uninstall ${o.namespace}/${release}`);
    this.releases.delete(this.key(o.namespace, release));
  }

  async listAll(): Promise<ListedRelease[]> {
    this.calls.push('list --all-namespaces');
    return [...this.releases].map(([key, rows]) => {
      const [namespace, name] = key.split('/') as [string, string];
      const top = rows.at(-1)!;
      return { name, namespace, revision: String(top.revision), status: top.status, chart: top.chart, app_version: top.app_version };
    });
  }

  async contentDigest(release: string, revision: number, t: KubeTarget): Promise<string> {
    this.calls.push(`digest ${t.namespace}/${release} ${revision}`);
    const row = this.releases.get(this.key(t.namespace, release))?.find((r) => r.revision === revision);
    if (!row) throw new Error(`FakeHelm: no revision ${revision}`);
    return row.content;
  }
}
