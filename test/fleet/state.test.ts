import { describe, expect, it } from 'vitest';
import {
  acquireLock,
  fleetObjectName,
  pauseFleet,
  pauseGate,
  readPause,
  releaseLock,
  resumeFleet,
  withFleetLock,
  FleetLockedError,
} from '../../src/fleet/state.ts';
import type { FleetState, FleetStore } from '../../src/fleet/state.ts';
import { FakeClock } from '../support/fake-clock.ts';

/** An in-memory fleet store with compare-and-swap semantics; `failReads` makes reads throw. */
function memoryStore() {
  const docs = new Map<string, { value: unknown; rv: number }>();
  const s = {
    failReads: 0,
    reads: 0,
    async read<T>(name: string) {
      s.reads++;
      if (s.failReads > 0) {
        s.failReads--;
        throw new Error('GET configmaps: 503 Service Unavailable');
      }
      const d = docs.get(name);
      return d ? { value: structuredClone(d.value) as T, resourceVersion: String(d.rv) } : undefined;
    },
    async update<T>(name: string, change: (cur: T | undefined) => T | undefined) {
      const d = docs.get(name);
      const next = change(d ? (structuredClone(d.value) as T) : undefined);
      if (next === undefined) return d ? { value: d.value as T, resourceVersion: String(d.rv) } : undefined;
      docs.set(name, { value: next, rv: (d?.rv ?? 0) + 1 });
      return { value: next, resourceVersion: String((d?.rv ?? 0) + 1) };
    },
    doc: (fleet: string) => docs.get(fleetObjectName(fleet))?.value as FleetState | undefined,
  };
  return s satisfies FleetStore & Record<string, unknown>;
}

describe('fleet pause and lock', () => {
  it('pause records who and why; a second pause keeps the first; resume lifts it', async () => {
    const store = memoryStore();
    await pauseFleet(store, 'prod', { by: 'ana', reason: '5xx', at: 't1' });
    expect((await pauseFleet(store, 'prod', { by: 'bo', reason: 'other', at: 't2' })).already).toMatchObject({ by: 'ana' });
    expect(store.doc('prod')!.paused).toEqual({ by: 'ana', reason: '5xx', at: 't1' });
    expect((await resumeFleet(store, 'prod')).was).toMatchObject({ by: 'ana' });
    expect(store.doc('prod')!.paused).toBeUndefined();
    expect((await resumeFleet(store, 'prod')).was).toBeUndefined();
  });

  it('a read error is not "not paused": retried, then inconclusive, and the gate holds', async () => {
    const clock = new FakeClock();
    const store = memoryStore();
    store.failReads = 1;
    expect(await readPause(store, 'prod', { clock, backoffMs: 1 })).toEqual({ paused: false });
    store.failReads = 5;
    const v = await readPause(store, 'prod', { clock, attempts: 3, backoffMs: 1 });
    expect(v).toMatchObject({ inconclusive: true, error: /503/ });
    store.failReads = 5;
    const gate = pauseGate(store, 'prod', { clock, attempts: 3, backoffMs: 1, minIntervalMs: 0 });
    expect(await gate()).toMatchObject({ outcome: 'held', reason: /could not be read .*503.*holding rather than guessing/ });
  });

  it('the gate says paused with who and why, and re-reads at most once per interval', async () => {
    const clock = new FakeClock();
    const store = memoryStore();
    const gate = pauseGate(store, 'prod', { clock, minIntervalMs: 1000 });
    expect(await gate()).toBeUndefined();
    await pauseFleet(store, 'prod', { by: 'ana', reason: '5xx', at: 't1' });
    const reads = store.reads;
    expect(await gate()).toBeUndefined(); // within the interval: the last read stands
    expect(store.reads).toBe(reads);
    clock.advance(1000);
    expect(await gate()).toEqual({ outcome: 'paused', reason: 'fleet paused by ana at t1: 5xx' });
  });

  it('the lock: one holder at a time, the same holder again, free after expiry or release', async () => {
    const store = memoryStore();
    const a = { holder: 'run=a', operation: 'rollout' as const, now: 0, ttlMs: 1000 };
    expect(await acquireLock(store, 'prod', a)).toEqual({ ok: true });
    expect(await acquireLock(store, 'prod', { ...a, holder: 'run=b', operation: 'rollback', now: 10 })).toMatchObject({
      ok: false,
      heldBy: { holder: 'run=a' },
    });
    expect(await acquireLock(store, 'prod', { ...a, now: 20 })).toEqual({ ok: true });
    expect(await acquireLock(store, 'prod', { ...a, holder: 'run=b', now: 5000 })).toEqual({ ok: true });
    await releaseLock(store, 'prod', 'run=a'); // not a's any more: untouched
    expect(store.doc('prod')!.lock!.holder).toBe('run=b');
    await releaseLock(store, 'prod', 'run=b');
    expect(store.doc('prod')!.lock).toBeUndefined();
  });

  it('withFleetLock refuses while another run holds it and releases after', async () => {
    const clock = new FakeClock();
    const store = memoryStore();
    await acquireLock(store, 'prod', { holder: 'run=a', operation: 'rollout', now: clock.now(), ttlMs: 60_000 });
    await expect(withFleetLock(store, 'prod', { holder: 'run=b', operation: 'rollback', clock }, async () => 1)).rejects.toBeInstanceOf(
      FleetLockedError,
    );
    await releaseLock(store, 'prod', 'run=a');
    expect(
      await withFleetLock(store, 'prod', { holder: 'run=b', operation: 'rollback', clock }, async () => store.doc('prod')!.lock!.holder),
    ).toBe('run=b');
    expect(store.doc('prod')!.lock).toBeUndefined();
  });

  it('the shards of one run share its hold: the lock is free only when the last one leaves', async () => {
    const store = memoryStore();
    const s1 = { holder: 'run=r/1/1', member: 'runner-1 pid 10', operation: 'rollout' as const, now: 0, ttlMs: 1000 };
    const s2 = { ...s1, member: 'runner-2 pid 20', now: 100 };
    expect(await acquireLock(store, 'prod', s1)).toEqual({ ok: true });
    expect(await acquireLock(store, 'prod', s2)).toEqual({ ok: true });
    expect(store.doc('prod')!.lock).toMatchObject({ holder: 'run=r/1/1', members: ['runner-1 pid 10', 'runner-2 pid 20'] });
    // Shard 1 ends first: the lock stays the run's while shard 2 still changes tenants.
    expect(await releaseLock(store, 'prod', s1.holder, s1.member)).toBe(true);
    expect(await acquireLock(store, 'prod', { ...s1, holder: 'run=other', now: 200 })).toMatchObject({ ok: false });
    // A member that already left (the post step after main's own release) changes nothing.
    expect(await releaseLock(store, 'prod', s1.holder, s1.member)).toBe(false);
    expect(store.doc('prod')!.lock!.members).toEqual(['runner-2 pid 20']);
    expect(await releaseLock(store, 'prod', s2.holder, s2.member)).toBe(true);
    expect(store.doc('prod')!.lock).toBeUndefined();
  });

  it('an expired hold keeps none of its members; a renewal keeps when the hold began', async () => {
    const store = memoryStore();
    const s1 = { holder: 'run=r/1/1', member: 'dead', operation: 'rollout' as const, now: 0, ttlMs: 1000 };
    await acquireLock(store, 'prod', s1);
    await acquireLock(store, 'prod', { ...s1, member: 'live', now: 5000 });
    expect(store.doc('prod')!.lock).toMatchObject({ members: ['live'], at: new Date(5000).toISOString() });
    await acquireLock(store, 'prod', { ...s1, member: 'live', now: 5500 });
    expect(store.doc('prod')!.lock).toMatchObject({
      members: ['live'],
      at: new Date(5000).toISOString(),
      expiresAt: new Date(6500).toISOString(),
    });
  });

  it('withFleetLock: two shards of one run, the first to finish leaves the lock to the other', async () => {
    const clock = new FakeClock();
    const store = memoryStore();
    let finishFirst!: () => void;
    const first = withFleetLock(
      store,
      'prod',
      { holder: 'run=r', member: 'shard-0', operation: 'rollout', clock },
      () => new Promise<void>((r) => (finishFirst = r)),
    );
    const second = withFleetLock(store, 'prod', { holder: 'run=r', member: 'shard-1', operation: 'rollout', clock }, async () => {
      finishFirst();
      await first;
      return structuredClone(store.doc('prod')!.lock);
    });
    expect(await second).toMatchObject({ holder: 'run=r', members: ['shard-1'] });
    expect(store.doc('prod')!.lock).toBeUndefined();
  });

  it('a live lock is taken over only when the caller proves it left over; the take-over starts a fresh hold', async () => {
    const store = memoryStore();
    const old = { holder: 'run=r/7/1', member: 'runner-1 pid 10', operation: 'rollout' as const, now: 0, ttlMs: 60_000 };
    await acquireLock(store, 'prod', old);
    const next = { holder: 'run=r/7/2', member: 'runner-9 pid 90', operation: 'rollout' as const, now: 1000, ttlMs: 60_000 };
    // Without proof: refused, the lock untouched.
    expect(await acquireLock(store, 'prod', { ...next, supersedes: () => false })).toMatchObject({
      ok: false,
      heldBy: { holder: 'run=r/7/1' },
    });
    expect(store.doc('prod')!.lock!.holder).toBe('run=r/7/1');
    // With it: taken, none of the old members kept, the hold begins now.
    const seen: string[] = [];
    const got = await acquireLock(store, 'prod', { ...next, supersedes: (l) => (seen.push(l.holder), true) });
    expect(got).toMatchObject({ ok: true, tookOver: { holder: 'run=r/7/1', members: ['runner-1 pid 10'] } });
    expect(seen).toEqual(['run=r/7/1']);
    expect(store.doc('prod')!.lock).toMatchObject({ holder: 'run=r/7/2', members: ['runner-9 pid 90'], at: new Date(1000).toISOString() });
  });
});
