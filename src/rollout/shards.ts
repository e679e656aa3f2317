/**
 * Sharded waves: one approved plan run by several jobs (a GitHub matrix), with one failure budget
 * and one wave pace for the whole fleet. Shards never talk to each other; they share one fleet
 * document per rollout in the home cluster (src/kube/documents.ts, compare-and-swap):
 *
 * - **Slices.** Each step (pilot, wave k) is split into `shards` slices by a stable hash of
 *   cluster + tenant id, so a slice is a representative sample and every shard computes the same
 *   split from the plan alone.
 * - **Claims.** A shard claims a slice before running it: its own slice first, then any slice
 *   nobody claimed (an account's concurrent-job limit may never start its owner: nobody waits for
 *   a shard that has not started), then any slice whose owner's heartbeat lapsed (taken over; the
 *   ledger in each release's description makes the tenants the dead shard finished `unchanged`).
 * - **Wave barrier.** A shard starts step k only when every slice of step k-1 is done: asking for
 *   the next slice of step k-1 returns nothing only then.
 * - **Budget.** Each failure is added to the document's fleet-wide count; the shard whose failure
 *   spends the budget writes `stop`, and every shard reads the document before each tenant starts,
 *   so the others stop within one tenant's time. A cancelled shard writes a cancel stop too.
 *
 * Heartbeats are separate small documents (one per shard) so that 256 shards beating do not
 * contend on the rollout document, which changes only on claims, slice ends, failures and stops.
 * Lapse is judged on wall-clock time written by the shard itself (runners keep NTP time).
 */
import { createHash } from 'node:crypto';
import type { Clock } from '../core/clock.ts';
import { errorMessage } from '../core/errors.ts';
import type { Logger } from '../core/logger.ts';
import type { FleetDocuments } from '../kube/documents.ts';
import type { Tenant } from '../tenants/model.ts';
import type { RolloutStop } from './outcome.ts';

export const MAX_SHARDS = 256;

/** The slice of a tenant: sha256 of `cluster/id`, first 4 bytes, modulo the shard count. */
export function shardOf(t: Pick<Tenant, 'id'> & { cluster?: string }, shards: number): number {
  const h = createHash('sha256')
    .update(`${t.cluster ?? ''}/${t.id}`)
    .digest();
  return h.readUInt32BE(0) % shards;
}

/** Every step split into `shards` slices (some may be empty), in plan order within a slice. */
export function sliceSteps<T extends Pick<Tenant, 'id'> & { cluster?: string }>(
  steps: readonly { tenants: readonly T[] }[],
  shards: number,
): T[][][] {
  return steps.map((s) => {
    const slices: T[][] = Array.from({ length: shards }, () => []);
    for (const t of s.tenants) slices[shardOf(t, shards)]!.push(t);
    return slices;
  });
}

export interface SliceClaim {
  /** The shard that claimed it (`shard-<index>`). */
  by: string;
  at: number;
  done?: boolean;
  /** Claims taken over from a shard whose heartbeat lapsed. */
  takenFrom?: string[];
}

/** The rollout's fleet document. */
export interface ShardState {
  version: 1;
  planFingerprint: string;
  shards: number;
  maxFailures: number;
  /** Keyed `<step>/<slice>`. */
  claims: Record<string, SliceClaim>;
  failures: number;
  stop?: RolloutStop & { by: string };
}

export interface ShardSlice<T> {
  step: number;
  slice: number;
  tenants: T[];
}

/** What the executor asks of the shard coordination (executeRollout's `shards` port). */
export interface ShardPort {
  /** The next slice of `step` this shard runs, or undefined once the whole step has ended in every shard (or the rollout stopped). */
  nextSlice(step: number, signal?: AbortSignal): Promise<ShardSlice<Tenant> | undefined>;
  sliceDone(step: number, slice: number): Promise<void>;
  /** A tenant failed: adds it to the fleet-wide count; returns the stop when this spent the budget (or another shard already stopped). */
  failed(tenantId: string, reason: string): Promise<RolloutStop | undefined>;
  /** Read before each tenant starts: the fleet-wide stop, if any. */
  check(): Promise<RolloutStop | undefined>;
  /** This shard was cancelled: tell the others (best effort). */
  cancelled(): Promise<void>;
  close(): void;
}

export interface ShardCoordinatorOptions {
  docs: FleetDocuments;
  /** The rollout document's name (per rollout: plan fingerprint + run). */
  name: string;
  shard: number;
  shards: number;
  planFingerprint: string;
  maxFailures: number;
  /** The plan's steps (the same on every shard). */
  steps: readonly { name: string; tenants: readonly Tenant[] }[];
  clock: Clock;
  logger: Logger;
  /** Heartbeat period (default 5 s). */
  heartbeatMs?: number;
  /** A claim whose owner has not beaten for this long is taken over (default 60 s). */
  lapseMs?: number;
  /** How often a shard waiting at the barrier looks again (default 1 s). */
  pollMs?: number;
}

export const shardId = (i: number) => `shard-${i}`;
export const heartbeatName = (name: string, shard: number) => `${name}-hb-${shard}`;

/** The rollout document's name: one per plan and run, a valid ConfigMap name. */
export function shardDocumentName(planFingerprint: string, run: string): string {
  return `deploy-actions-shards-${createHash('sha256').update(`${planFingerprint}\0${run}`).digest('hex').slice(0, 20)}`;
}

export async function openShardCoordinator(o: ShardCoordinatorOptions): Promise<ShardPort> {
  const me = shardId(o.shard);
  const slices = sliceSteps(o.steps, o.shards);
  const heartbeatMs = o.heartbeatMs ?? 5_000;
  const lapseMs = o.lapseMs ?? 60_000;
  const pollMs = o.pollMs ?? 1_000;
  const initial: ShardState = {
    version: 1,
    planFingerprint: o.planFingerprint,
    shards: o.shards,
    maxFailures: o.maxFailures,
    claims: {},
    failures: 0,
  };
  const cur = await o.docs.createIfAbsent<ShardState>(o.name, initial);
  if (cur.value.planFingerprint !== o.planFingerprint || cur.value.shards !== o.shards)
    throw new Error(
      `shard coordination ${o.docs.namespace}/${o.name} belongs to plan ${cur.value.planFingerprint.slice(0, 12)} ` +
        `with ${cur.value.shards} shards, not plan ${o.planFingerprint.slice(0, 12)} with ${o.shards}`,
    );

  const beat = () => o.docs.update<{ at: number }>(heartbeatName(o.name, o.shard), () => ({ at: o.clock.now() }));
  await beat();
  const stopBeats = new AbortController();
  void (async () => {
    while (!stopBeats.signal.aborted) {
      await o.clock.sleep(heartbeatMs, stopBeats.signal);
      if (stopBeats.signal.aborted) return;
      // A missed beat is not fatal: the lapse bound is many beats long.
      await beat().catch((e: unknown) => o.logger.debug(`heartbeat: ${errorMessage(e)}`));
    }
  })();

  const lapsed = async (owner: string): Promise<boolean> => {
    const i = Number(owner.replace('shard-', ''));
    const hb = await o.docs.read<{ at: number }>(heartbeatName(o.name, i));
    return !hb || o.clock.now() - hb.value.at > lapseMs;
  };

  const stopOf = (s: ShardState | undefined): RolloutStop | undefined =>
    s?.stop ? { outcome: s.stop.outcome, reason: s.stop.reason } : undefined;

  return {
    async nextSlice(step, signal) {
      const all = slices[step]!;
      for (;;) {
        if (signal?.aborted) return undefined;
        const doc = (await o.docs.read<ShardState>(o.name, signal))?.value ?? initial;
        if (doc.stop) return undefined;
        const open = all.map((t, i) => ({ i, t })).filter(({ i, t }) => t.length > 0 && !doc.claims[`${step}/${i}`]?.done);
        if (!open.length) return undefined;
        // Own slice first (also when a re-run of this shard finds its own unfinished claim), then unclaimed ones.
        const order = [...open.filter((x) => x.i === o.shard), ...open.filter((x) => x.i !== o.shard)];
        let pick = order.find(({ i }) => !doc.claims[`${step}/${i}`] || doc.claims[`${step}/${i}`]!.by === me);
        let from: string | undefined;
        if (!pick) {
          for (const x of order) {
            const c = doc.claims[`${step}/${x.i}`]!;
            if (await lapsed(c.by)) {
              pick = x;
              from = c.by;
              break;
            }
          }
        }
        if (pick) {
          const key = `${step}/${pick.i}`;
          let won = false;
          await o.docs.update<ShardState>(o.name, (s) => {
            const st = s ?? initial;
            const c = st.claims[key];
            // Claimable only if still as we saw it: free, ours, or held by the shard whose heartbeat lapsed.
            won = !st.stop && !c?.done && (!c || c.by === me || (from !== undefined && c.by === from));
            if (!won) return undefined;
            const takenFrom = from ? [...(c?.takenFrom ?? []), from] : c?.takenFrom;
            return { ...st, claims: { ...st.claims, [key]: { by: me, at: o.clock.now(), ...(takenFrom ? { takenFrom } : {}) } } };
          });
          if (won) {
            o.logger.info(
              `${o.steps[step]!.name}: ${me} runs slice ${pick.i + 1}/${o.shards} (${pick.t.length} ` +
                `tenants)${from ? `, taken over from ${from} (heartbeat lapsed)` : pick.i !== o.shard ? ' (nobody had claimed it)' : ''}`,
            );
            return { step, slice: pick.i, tenants: pick.t };
          }
          continue;
        }
        // Others are still running slices of this step: the wave barrier.
        await o.clock.sleep(pollMs, signal);
      }
    },

    async sliceDone(step, slice) {
      const key = `${step}/${slice}`;
      await o.docs.update<ShardState>(o.name, (s) => {
        const st = s ?? initial;
        return { ...st, claims: { ...st.claims, [key]: { ...(st.claims[key] ?? { by: me, at: o.clock.now() }), done: true } } };
      });
    },

    async failed(tenantId, reason) {
      const doc = await o.docs.update<ShardState>(o.name, (s) => {
        const st = s ?? initial;
        const failures = st.failures + 1;
        const stop =
          st.stop ??
          (failures > st.maxFailures
            ? {
                outcome: 'halted' as const,
                reason: `failure budget spent: ${failures} failed fleet-wide, ${st.maxFailures} allowed (last: ${tenantId} on ${me}: ${reason})`,
                by: me,
              }
            : undefined);
        return { ...st, failures, ...(stop ? { stop } : {}) };
      });
      return stopOf(doc?.value);
    },

    async check() {
      return stopOf((await o.docs.read<ShardState>(o.name))?.value);
    },

    async cancelled() {
      await o.docs
        .update<ShardState>(
          o.name,
          (s) => {
            const st = s ?? initial;
            return st.stop ? undefined : { ...st, stop: { outcome: 'cancelled', reason: `${me} was cancelled`, by: me } };
          },
          { maxAttempts: 3 },
        )
        .catch((e: unknown) => o.logger.debug(`could not tell the other shards about the cancel: ${errorMessage(e)}`));
    },

    close() {
      stopBeats.abort();
    },
  };
}
