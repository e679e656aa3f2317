import { describe, expect, it } from 'vitest';
import { createTenantRollout } from '../../src/actions/tenant-rollout/main.ts';
import { STATE_FLEET_LOCK, type SavedFleetLock } from '../../src/actions/tenant-rollout/operations.ts';
import { fleetObjectName, type FleetState, type FleetStore } from '../../src/fleet/state.ts';
import { testContext } from '../support/action-context.ts';

/** One fleet document in memory; `failUpdates` makes writes throw. */
function store(initial: FleetState) {
  let doc: FleetState | undefined = structuredClone(initial);
  const s = {
    failUpdates: false,
    names: [] as string[],
    async read<T>() {
      return doc ? { value: structuredClone(doc) as T, resourceVersion: '1' } : undefined;
    },
    async update<T>(name: string, change: (cur: T | undefined) => T | undefined) {
      s.names.push(name);
      if (s.failUpdates) throw new Error('PUT configmaps: 503 Service Unavailable');
      const next = change(structuredClone(doc) as T | undefined);
      if (next !== undefined) doc = next as FleetState;
      return doc ? { value: doc as T, resourceVersion: '2' } : undefined;
    },
    doc: () => doc,
  };
  return s satisfies FleetStore & Record<string, unknown>;
}

const lock = (holder: string) => ({ holder, operation: 'rollout' as const, at: '2026-12-07T00:00:00Z', expiresAt: '2999-01-01T00:00:00Z' });
const saved: SavedFleetLock = { target: { name: 'default' }, namespace: 'ops', fleet: 'prod', holder: 'run=o/r/7/1' };

describe('tenant-rollout post: the fleet lock a killed main left', () => {
  const post = async (s: ReturnType<typeof store>, state: Record<string, string>) => {
    const where: string[] = [];
    const action = createTenantRollout({ fleetStore: (o) => (where.push(o.namespace), s) });
    const ctx = testContext({}, { state, env: {} });
    await action.post!(ctx);
    return { ctx, where };
  };

  it('released when this run still holds it, in the fleet namespace main saved', async () => {
    const s = store({ lock: lock('run=o/r/7/1'), paused: { by: 'ana', reason: 'x', at: 't' } });
    const { ctx, where } = await post(s, { [STATE_FLEET_LOCK]: JSON.stringify(saved) });
    expect(s.doc()).toEqual({ paused: { by: 'ana', reason: 'x', at: 't' } });
    expect(where).toEqual(['ops']);
    expect(s.names).toEqual([fleetObjectName('prod')]);
    expect(ctx.logger.text()).toMatch(/post: released the lock of fleet prod that main held/);
  });

  it("another run's lock (taken after ours expired) is left alone", async () => {
    const s = store({ lock: lock('run=o/r/8/1') });
    await post(s, { [STATE_FLEET_LOCK]: JSON.stringify(saved) });
    expect(s.doc()!.lock!.holder).toBe('run=o/r/8/1');
  });

  it('nothing saved (main released it, or never took it): the fleet object is not touched', async () => {
    const s = store({ lock: lock('run=o/r/7/1') });
    await post(s, { [STATE_FLEET_LOCK]: '' });
    expect(s.names).toEqual([]);
    expect(s.doc()!.lock).toBeDefined();
  });

  it('a lock that cannot be released is a warning, not a failed post step (it expires)', async () => {
    const s = store({ lock: lock('run=o/r/7/1') });
    s.failUpdates = true;
    const { ctx } = await post(s, { [STATE_FLEET_LOCK]: JSON.stringify(saved) });
    expect(ctx.logger.text()).toMatch(/could not release the fleet lock \(it expires by itself\): .*503/);
  });
});
