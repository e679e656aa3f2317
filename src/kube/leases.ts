/**
 * Release leases: a coordination.k8s.io/v1 Lease beside each release (in the tenant's namespace),
 * named `deploy-actions-<release>`, held by the run that is upgrading or rolling the release back
 * and renewed while helm works. A `pending-*` revision only says "Preparing upgrade"; the lease
 * says whether its owner is still alive: a live holder means someone is working (refuse, naming
 * them), an expired one means the owner is gone (the stuck release may be recovered).
 *
 * Taking a lease is a compare-and-swap on resourceVersion (create when absent, replace when
 * expired or ours): two runs that race for it cannot both win.
 */
import { CoordinationV1Api, V1MicroTime, type KubeConfig, type V1Lease } from '@kubernetes/client-node';
import { systemClock, type Clock } from '../core/clock.ts';
import { ReleaseBusyError, type LeaseFinding, type ReleaseGuard } from '../helm/deploy.ts';
import { KubeApiError, isNotFound } from './errors.ts';
import { requester, type RequestStats } from './request.ts';

export const leaseName = (release: string): string => `deploy-actions-${release}`.slice(0, 253);

export interface LeaseState {
  holder: string;
  /** When the holder last renewed it (ms since epoch). */
  renewedAt: number;
  durationMs: number;
  resourceVersion: string;
}

export const isLive = (l: LeaseState, now: number): boolean => !!l.holder && l.renewedAt + l.durationMs > now;

/** What taking the lease found: nobody, an expired holder (the owner is gone), or it was ours. */
export type LeaseTaken =
  | { previous: 'none' }
  | { previous: 'expired'; holder: string; expiredMsAgo: number }
  | { previous: 'superseded'; holder: string }
  | { previous: 'ours' };

/** Thrown when another run holds the lease and keeps it alive. */
export class LeaseHeldError extends Error {
  override readonly name = 'LeaseHeldError';
  constructor(
    readonly namespace: string,
    readonly release: string,
    readonly holder: string,
    readonly expiresInMs: number,
  ) {
    super(
      `release ${namespace}/${release} is held by "${holder}" (lease ${namespace}/${leaseName(release)}, ` +
        `renewed, expires in ${Math.ceil(expiresInMs / 1000)} s unless renewed)`,
    );
  }
}

export interface ReleaseLeases {
  readonly stats: RequestStats;
  read(namespace: string, release: string, signal?: AbortSignal): Promise<LeaseState | undefined>;
  /**
   * Takes the lease for `holder`, or throws LeaseHeldError naming the live holder. A live holder
   * that `supersedes` says is provably gone (an earlier attempt of this run) is taken over.
   */
  take(
    namespace: string,
    release: string,
    holder: string,
    durationMs: number,
    signal?: AbortSignal,
    supersedes?: (holder: string) => boolean,
  ): Promise<LeaseTaken>;
  /** Renews it; false when it is no longer ours (someone took it over after it expired). */
  renew(namespace: string, release: string, holder: string, signal?: AbortSignal): Promise<boolean>;
  /** Gives it up (deletes it when ours); never throws: an unreleased lease simply expires. */
  release(namespace: string, release: string, holder: string): Promise<void>;
}

export interface ReleaseLeasesOptions {
  kubeConfig: KubeConfig;
  requestTimeoutMs?: number;
  clock?: Clock;
}

const isConflict = (e: unknown) => e instanceof KubeApiError && (e.code === 409 || e.code === 422);

export function createReleaseLeases(o: ReleaseLeasesOptions): ReleaseLeases {
  const req = requester(o.kubeConfig, o.requestTimeoutMs);
  const api = o.kubeConfig.makeApiClient(CoordinationV1Api);
  const clock = o.clock ?? systemClock;

  const decode = (l: V1Lease): LeaseState => ({
    holder: l.spec?.holderIdentity ?? '',
    renewedAt: l.spec?.renewTime ? new Date(l.spec.renewTime as unknown as string | Date).getTime() : 0,
    durationMs: (l.spec?.leaseDurationSeconds ?? 0) * 1000,
    resourceVersion: l.metadata?.resourceVersion ?? '',
  });
  const body = (namespace: string, release: string, holder: string, durationMs: number, resourceVersion?: string): V1Lease => {
    const now = new V1MicroTime(clock.now());
    return {
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: {
        name: leaseName(release),
        namespace,
        labels: { 'app.kubernetes.io/managed-by': 'deploy-actions' },
        annotations: { 'deploy-actions/release': release },
        ...(resourceVersion ? { resourceVersion } : {}),
      },
      spec: { holderIdentity: holder, leaseDurationSeconds: Math.max(1, Math.ceil(durationMs / 1000)), acquireTime: now, renewTime: now },
    };
  };

  async function read(namespace: string, release: string, signal?: AbortSignal): Promise<LeaseState | undefined> {
    try {
      return decode(
        await req.call(() => api.readNamespacedLease({ name: leaseName(release), namespace }, req.options({ signal })), signal),
      );
    } catch (e) {
      if (isNotFound(e)) return undefined;
      throw e;
    }
  }

  return {
    stats: req.stats,
    read,

    async take(namespace, release, holder, durationMs, signal, supersedes) {
      // A create that failed transiently may have happened (its answer lost): if the lease is ours
      // on the next look, this run created it now, which is no evidence about a previous holder.
      let createFailed = false;
      for (let attempt = 1; ; attempt++) {
        const cur = await read(namespace, release, signal);
        const now = clock.now();
        const othersLive = !!cur && cur.holder !== holder && isLive(cur, now);
        const superseded = othersLive && !!supersedes?.(cur.holder);
        if (cur && othersLive && !superseded)
          throw new LeaseHeldError(namespace, release, cur.holder, cur.renewedAt + cur.durationMs - now);
        try {
          if (!cur) {
            // Not retried blindly: a create whose answer was lost may have happened (the 409 path sees it).
            await req.call(
              () => api.createNamespacedLease({ namespace, body: body(namespace, release, holder, durationMs) }, req.options({ signal })),
              signal,
              false,
            );
            return { previous: 'none' };
          }
          const lb = body(namespace, release, holder, durationMs, cur.resourceVersion);
          await req.call(
            () => api.replaceNamespacedLease({ name: leaseName(release), namespace, body: lb }, req.options({ signal })),
            signal,
          );
          if (cur.holder === holder) return { previous: createFailed ? 'none' : 'ours' };
          if (superseded) return { previous: 'superseded', holder: cur.holder };
          return cur.holder
            ? { previous: 'expired', holder: cur.holder, expiredMsAgo: now - (cur.renewedAt + cur.durationMs) }
            : { previous: 'none' };
        } catch (e) {
          // Another run moved first: look again (it may now be live, and refused above). A create
          // that failed transiently is not retried blindly either: the next look sees whether it happened.
          if (!cur && e instanceof KubeApiError && e.transient) createFailed = true;
          else if (!isConflict(e)) throw e;
          if (attempt >= 6) throw e;
          if (createFailed) await clock.sleep(250 * attempt, signal);
        }
      }
    },

    async renew(namespace, release, holder, signal) {
      const cur = await read(namespace, release, signal);
      if (!cur || cur.holder !== holder) return false;
      const b = body(namespace, release, holder, cur.durationMs, cur.resourceVersion);
      try {
        await req.call(() => api.replaceNamespacedLease({ name: leaseName(release), namespace, body: b }, req.options({ signal })), signal);
        return true;
      } catch (e) {
        if (isConflict(e)) return false;
        throw e;
      }
    },

    async release(namespace, release, holder) {
      try {
        const cur = await read(namespace, release);
        if (!cur || cur.holder !== holder) return;
        await req.call(() =>
          api.deleteNamespacedLease(
            { name: leaseName(release), namespace, body: { preconditions: { resourceVersion: cur.resourceVersion } } },
            req.options(),
          ),
        );
      } catch {
        // It expires on its own; the next run sees an expired holder.
      }
    },
  };
}

export interface GuardOptions {
  namespace: string;
  release: string;
  /** This run: `run=<repo>/<run id>/<attempt> <host> pid <pid>`. */
  holder: string;
  /** How long the lease lives without renewal; renewed every third of it while held. */
  durationMs: number;
  /** A live holder that is provably gone all the same (an earlier attempt of this run): taken over. */
  supersedes?: (holder: string) => boolean;
  logger?: { warning(message: string): void };
}

/**
 * The lease of one release as deployRelease's ReleaseGuard: taken before anything changes,
 * renewed in the background while helm works, given up at the end. Where leases cannot be used
 * (the deployer may not write Leases: 403; or the namespace does not exist yet: 404), the deploy
 * goes on without one and says so: there is simply no evidence for an automatic recovery.
 */
export function leaseGuard(leases: ReleaseLeases, o: GuardOptions): ReleaseGuard {
  let timer: NodeJS.Timeout | undefined;
  const where = `${o.namespace}/${o.release}`;
  return {
    async take(): Promise<LeaseFinding> {
      let found: LeaseFinding;
      try {
        found = await leases.take(o.namespace, o.release, o.holder, o.durationMs, undefined, o.supersedes);
      } catch (e) {
        if (e instanceof LeaseHeldError) throw new ReleaseBusyError(where, e.holder, e.expiresInMs, e.message);
        if (e instanceof KubeApiError && (e.code === 403 || e.code === 404)) {
          o.logger?.warning(`${where}: no release lease (${e.message}); a stuck release will need recover-pending`);
          return { previous: 'unavailable', why: e.message };
        }
        throw e;
      }
      timer = setInterval(
        () => {
          leases.renew(o.namespace, o.release, o.holder).then(
            (ok) => ok || o.logger?.warning(`${where}: the release lease is no longer ours (another run took it over after it expired)`),
            () => {}, // the next renewal tries again; the lease outlives one missed renewal
          );
        },
        Math.max(1000, Math.floor(o.durationMs / 3)),
      );
      timer.unref();
      return found;
    },
    async release() {
      clearInterval(timer);
      timer = undefined;
      await leases.release(o.namespace, o.release, o.holder);
    },
  };
}
