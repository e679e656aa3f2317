import type { Clock } from '../core/clock.ts';
import type { Http } from '../core/http.ts';
import { silentLogger } from '../core/logger.ts';
import type { VerifyResult } from '../helm/deploy.ts';
import type { Cluster } from '../kube/ports.ts';
import type { TenantTarget } from '../tenants/model.ts';
import type { HttpCheck } from './checks.ts';
import { runSmokeChecks } from './smoke.ts';

/**
 * How a freshly deployed release is judged before it counts as deployed: the same two steps for
 * every tenant of tenant-rollout and for the root action's single release.
 */
export interface ReleaseCheck {
  /** Judge the release's workloads the careful way (updated, ready, no crash loops) first. */
  workloads: boolean;
  /** Base URL of the smoke checks, already expanded for this release; empty: no smoke checks. */
  url: string;
  checks: HttpCheck[];
  /** For `{{ tenant.* }}` in check paths and headers. */
  tenant?: TenantTarget;
  deadlineMs: number;
  signal?: AbortSignal;
}

export interface ReleaseCheckPorts {
  /** Without one, the workloads step is skipped. */
  cluster?: Cluster;
  http: Http;
  clock: Clock;
}

export interface ReleaseCheckResult extends VerifyResult {
  /** Whether the smoke checks passed; undefined when none ran. */
  smoke?: 'passed' | 'failed';
}

export async function checkDeployedRelease(
  r: { name: string; namespace: string; release: string },
  c: ReleaseCheck,
  ports: ReleaseCheckPorts,
): Promise<ReleaseCheckResult> {
  if (ports.cluster && c.workloads) {
    const h = await ports.cluster.releaseHealth(r.namespace, r.release, { signal: c.signal });
    if (!h.healthy) return { ok: false, reason: h.problems.join('; ') || 'workloads not ready' };
  }
  if (!c.url) return { ok: true };
  const rep = await runSmokeChecks(
    [{ name: r.name, url: c.url, tenant: c.tenant }],
    c.checks,
    { clock: ports.clock, logger: silentLogger, http: ports.http },
    { concurrency: 4, deadlineMs: c.deadlineMs, signal: c.signal },
  );
  const failed = rep.targets.flatMap((x) => x.checks).filter((x) => !x.passed);
  if (!failed.length) return { ok: true, smoke: 'passed' };
  return {
    ok: false,
    smoke: 'failed',
    reason: failed.map((x) => `smoke check ${x.check}: ${x.problems.join(', ')} (${x.measured})`).join('; '),
  };
}
