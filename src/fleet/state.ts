import type { Clock } from '../core/clock.ts';
import { errorMessage } from '../core/errors.ts';

/**
 * The fleet's object in the cluster: one JSON document (a ConfigMap, see src/kube/documents.ts)
 * per fleet, named `deploy-actions-fleet-<fleet>`, holding the operator's pause (who, why, when)
 * and the fleet lock (which run is changing tenants now: a rollout or a rollback). In a
 * multi-cluster fleet it lives in the fleet's home cluster.
 */

export interface PauseRecord {
  by: string;
  reason: string;
  at: string;
}

export interface LockRecord {
  /** Who holds it: the run (`run=owner/repo/123/1`, or `run=local` with the user and process). */
  holder: string;
  /**
   * The processes of that run holding it now: the shards of a sharded rollout are one run, and
   * one shard ending must not free the lock while the others still change tenants. The lock is
   * free when the last member leaves (or when nobody renews it before `expiresAt`).
   */
  members?: string[];
  operation: 'rollout' | 'rollback';
  at: string;
  /** A holder that died leaves its lock behind: past this time, another run may take it. */
  expiresAt: string;
}

export interface FleetState {
  paused?: PauseRecord;
  lock?: LockRecord;
}

/** The part of the fleet documents store this module needs (src/kube/documents.ts implements it). */
export interface FleetStore {
  read<T>(name: string, signal?: AbortSignal): Promise<{ value: T; resourceVersion: string } | undefined>;
  update<T>(
    name: string,
    change: (current: T | undefined) => T | undefined,
    opts?: { signal?: AbortSignal },
  ): Promise<{ value: T; resourceVersion: string } | undefined>;
}

export const fleetObjectName = (fleet: string) => `deploy-actions-fleet-${fleet}`;

export async function pauseFleet(store: FleetStore, fleet: string, rec: PauseRecord): Promise<{ already?: PauseRecord }> {
  let already: PauseRecord | undefined;
  await store.update<FleetState>(fleetObjectName(fleet), (cur) => {
    already = cur?.paused;
    // Paused already: keep the first pause (its who and why are what the next person needs to see).
    return already ? undefined : { ...cur, paused: rec };
  });
  return { already };
}

export async function resumeFleet(store: FleetStore, fleet: string): Promise<{ was?: PauseRecord }> {
  let was: PauseRecord | undefined;
  await store.update<FleetState>(fleetObjectName(fleet), (cur) => {
    was = cur?.paused;
    if (!cur?.paused) return undefined;
    const { paused: _paused, ...rest } = cur;
    return rest;
  });
  return { was };
}

export type PauseVerdict = { paused: false } | { paused: true; record: PauseRecord } | { inconclusive: true; error: string };

/**
 * Reads the pause, retrying a failed read: an error is NOT "not paused" (the operator may have
 * paused exactly because the fleet is in trouble). After the retries the verdict is inconclusive,
 * and the caller holds (starts no new tenant) rather than guesses.
 */
export async function readPause(
  store: FleetStore,
  fleet: string,
  o: { clock: Clock; attempts?: number; backoffMs?: number; signal?: AbortSignal },
): Promise<PauseVerdict> {
  const attempts = o.attempts ?? 3;
  let last = '';
  for (let i = 1; i <= attempts; i++) {
    try {
      const doc = await store.read<FleetState>(fleetObjectName(fleet), o.signal);
      return doc?.value.paused ? { paused: true, record: doc.value.paused } : { paused: false };
    } catch (err) {
      last = errorMessage(err);
      if (o.signal?.aborted) break;
      if (i < attempts) await o.clock.sleep((o.backoffMs ?? 500) * 2 ** (i - 1), o.signal);
    }
  }
  return { inconclusive: true, error: last };
}

export function describePause(p: PauseRecord): string {
  return `fleet paused by ${p.by} at ${p.at}${p.reason ? `: ${p.reason}` : ''}`;
}

/**
 * Takes the fleet lock with compare-and-swap: free, expired, or already this run's (then `member`
 * joins the run's hold and the expiry is renewed). Returns the holder that keeps it otherwise. A
 * rollback and a rollout of the same fleet never change tenants at once.
 */
export async function acquireLock(
  store: FleetStore,
  fleet: string,
  want: {
    holder: string;
    member?: string;
    operation: LockRecord['operation'];
    now: number;
    ttlMs: number;
    /**
     * A live lock of another holder that is provably left over all the same (this run's own
     * earlier attempt, a process of this machine that is gone): taken over instead of refused.
     */
    supersedes?: (l: LockRecord) => boolean;
  },
): Promise<{ ok: true; tookOver?: LockRecord } | { ok: false; heldBy: LockRecord }> {
  const member = want.member ?? want.holder;
  let heldBy: LockRecord | undefined;
  let tookOver: LockRecord | undefined;
  await store.update<FleetState>(fleetObjectName(fleet), (cur) => {
    heldBy = undefined;
    tookOver = undefined;
    const l = cur?.lock;
    const live = l !== undefined && Date.parse(l.expiresAt) > want.now;
    if (l && live && l.holder !== want.holder) {
      if (!want.supersedes?.(l)) {
        heldBy = l;
        return undefined;
      }
      tookOver = l;
    }
    // An expired (or superseded) hold had nobody renewing it: its members are gone, whoever they were.
    const ours = l && live && !tookOver ? l : undefined;
    const lock: LockRecord = {
      holder: want.holder,
      members: [...new Set([...(ours?.members ?? []), member])],
      operation: ours?.operation ?? want.operation,
      at: ours?.at ?? new Date(want.now).toISOString(),
      expiresAt: new Date(want.now + want.ttlMs).toISOString(),
    };
    return { ...cur, lock };
  });
  return heldBy ? { ok: false, heldBy } : { ok: true, ...(tookOver ? { tookOver } : {}) };
}

/**
 * Gives up `member`'s part of this run's hold; the lock is freed when no member is left (never
 * someone else's lock). Returns whether this member held it; false: the lock was free, or another
 * run holds it (it took the lock after ours expired).
 */
export async function releaseLock(store: FleetStore, fleet: string, holder: string, member = holder): Promise<boolean> {
  let released = false;
  await store.update<FleetState>(fleetObjectName(fleet), (cur) => {
    released = false;
    const l = cur?.lock;
    if (l?.holder !== holder) return undefined;
    // A lock written without members (an older version) has one holder: releasing frees it.
    const members = l.members ?? [member];
    if (!members.includes(member)) return undefined;
    released = true;
    const left = members.filter((m) => m !== member);
    if (left.length) return { ...cur, lock: { ...l, members: left } };
    const { lock: _lock, ...rest } = cur!;
    return rest;
  });
  return released;
}

/**
 * Holds the lock for the length of `fn`, renewing it while `fn` runs (so a long rollout keeps it
 * and a dead one loses it after `ttlMs`).
 */
export async function withFleetLock<T>(
  store: FleetStore,
  fleet: string,
  o: {
    holder: string;
    member?: string;
    operation: LockRecord['operation'];
    clock: Clock;
    ttlMs?: number;
    supersedes?: (l: LockRecord) => boolean;
    onTakeOver?: (l: LockRecord) => void;
  },
  fn: () => Promise<T>,
): Promise<T> {
  const ttlMs = o.ttlMs ?? 10 * 60_000;
  const got = await acquireLock(store, fleet, { ...o, now: o.clock.now(), ttlMs });
  if (!got.ok) throw new FleetLockedError(fleet, got.heldBy);
  if (got.tookOver) o.onTakeOver?.(got.tookOver);
  const stop = new AbortController();
  const renew = (async () => {
    while (!stop.signal.aborted) {
      await o.clock.sleep(ttlMs / 3, stop.signal).catch(() => {});
      if (stop.signal.aborted) return;
      await acquireLock(store, fleet, { ...o, now: o.clock.now(), ttlMs }).catch(() => {});
    }
  })();
  try {
    return await fn();
  } finally {
    stop.abort();
    await renew;
    await releaseLock(store, fleet, o.holder, o.member).catch(() => {});
  }
}

export class FleetLockedError extends Error {
  override readonly name = 'FleetLockedError';
  constructor(
    readonly fleet: string,
    readonly heldBy: LockRecord,
  ) {
    super(
      `fleet "${fleet}" is locked by ${heldBy.holder} (${heldBy.operation} since ${heldBy.at}, ` +
        `until ${heldBy.expiresAt}): wait for it to finish, or pause the fleet to stop it`,
    );
  }
}

/**
 * The executor's gate over the fleet's pause: one read shared by every worker asking at the same
 * moment, and re-read at most every `minIntervalMs` (so a pause stops new tenants within one
 * tenant's time without a read per tenant on a large fleet). A read that still fails after its
 * retries is `held`: no verdict on the pause is not "not paused".
 */
export function pauseGate(
  store: FleetStore,
  fleet: string,
  o: { clock: Clock; minIntervalMs?: number; signal?: AbortSignal; attempts?: number; backoffMs?: number },
): () => Promise<{ outcome: 'paused' | 'held'; reason: string } | undefined> {
  let last: { at: number; verdict: Promise<PauseVerdict> } | undefined;
  const min = o.minIntervalMs ?? 1000;
  return async () => {
    const now = o.clock.now();
    if (!last || now - last.at >= min) last = { at: now, verdict: readPause(store, fleet, o) };
    const v = await last.verdict;
    if ('inconclusive' in v)
      return { outcome: 'held', reason: `the fleet's pause could not be read (${v.error}): holding rather than guessing` };
    return v.paused ? { outcome: 'paused', reason: describePause(v.record) } : undefined;
  };
}
