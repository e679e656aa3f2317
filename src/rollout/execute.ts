import type { Clock } from '../core/clock.ts';
import { humanDuration } from '../core/duration.ts';
import { errorMessage } from '../core/errors.ts';
import type { Logger } from '../core/logger.ts';
import type { UpgradeOptions } from '../helm/argv.ts';
import { ReleaseBusyError, ReleaseUnreadableError, deployRelease, historyCommand, noVerdict, statusCommand } from '../helm/deploy.ts';
import { isGood, returnToGood } from '../helm/recover.ts';
import type { ReturnOutcome } from '../helm/recover.ts';
import type { DeployOutcome, ReleaseGuard, VerifyResult } from '../helm/deploy.ts';
import type { Helm } from '../helm/helm.ts';
import type { RetryPolicy } from '../helm/transient.ts';
import type { Revision } from '../helm/history.ts';
import type { Tenant } from '../tenants/model.ts';
import { BufferedLogger } from './buffered-logger.ts';
import type { RolloutEventListener } from './events.ts';
import { fanOut } from './events.ts';
import { FAILURE_STATUSES } from './outcome.ts';
import type { RolloutStop, TenantStatus } from './outcome.ts';
import type { TenantResult } from './result.ts';
import type { ShardPort, ShardSlice } from './shards.ts';
import { isTransient } from '../helm/transient.ts';
import { AdaptiveParallelism } from './adaptive.ts';
import { longestFirst } from './order.ts';
import type { AdaptivePolicy, ParallelismFigures, PressurePort } from './adaptive.ts';

/**
 * Runs the steps of a plan (the pilot, then each wave) against the fleet: deploy each tenant,
 * verify it, roll it back on failure, soak between waves while re-checking health, and stop
 * starting tenants once the failure budget is spent or the job is cancelled. Every tenant ends
 * in exactly one of the statuses below, and the report says which.
 */

export type { TenantStatus } from './outcome.ts';

export type { TenantResult } from './result.ts';

export interface RolloutStep {
  name: string;
  tenants: Tenant[];
}

export interface RolloutOptions {
  steps: RolloutStep[];
  maxParallel: number;
  /** Upgrades at once in any one cluster (each API server is protected); default: no limit beyond maxParallel. */
  maxParallelPerCluster?: number;
  /**
   * Each tenant's duration in an earlier run: each wave (and each shard slice) starts its longest
   * tenants first (order.ts). The plan's order otherwise; never part of the plan.
   */
  durations?: ReadonlyMap<string, number>;
  /**
   * Adaptive parallelism (adaptive.ts): under sustained throttling a cluster's effective limit
   * halves, and rises by one per calm period back to the ceiling. `false`: a constant limit.
   */
  adaptive?: AdaptivePolicy | false;
  /** Failures allowed before the rollout stops (already resolved from a count or a percentage). */
  maxFailures: number;
  /**
   * Multi-cluster fleets, optional: failures allowed per cluster (resolved per cluster). A cluster
   * that spends its own stops starting tenants (the rest of its tenants are `skipped`); the other
   * clusters go on, and the run ends `halted`. The global `maxFailures` still applies.
   */
  maxFailuresPerCluster?: ReadonlyMap<string, number>;
  /** Clusters already known not to answer (their namespaces could not be read): their tenants are held from the start. */
  unreachableClusters?: ReadonlyMap<string, string>;
  soakMs: number;
  soakIntervalMs: number;
  rollbackWaveOnFailure: boolean;
  recoverPending: boolean;
  /** With leases: a pending revision whose lease is absent is recovered once older than this. */
  pendingStaleAfterMs?: number;
  /** How long rollbacks outside an upgrade (soak, wave) may take: the rollout's own setting. */
  timeoutMs: number;
  /**
   * Tenants of the plan that later phases update (the waves, when this run is the pilot). They
   * are the fleet baseline of every soak, and their existence means the last step soaks too: the
   * pilot is watched against the tenants not yet updated before the waves may start.
   */
  notYetUpdated?: Tenant[];
  /** Recorded in each revision's description; a re-run skips releases already carrying it. */
  targetFingerprint: (tenant: Tenant) => string;
  /** Helm upgrade options for one tenant (chart, shared + tenant values, description). */
  upgradeFor: (tenant: Tenant, fingerprint: string) => UpgradeOptions;
  /**
   * What is done to each tenant, instead of the upgrade (the rollback operation): waves,
   * parallelism, the failure budget, stops and the report stay the same.
   */
  act?: (tenant: Tenant, step: string) => Promise<TenantResult>;
  /**
   * Asked before each tenant starts (the fleet's pause): a stop ends the starting of tenants, those
   * in flight finish. It must never answer "go" when it could not tell (a read error is `held`).
   */
  gate?: () => Promise<{ outcome: 'paused' | 'held'; reason: string } | undefined>;
  signal?: AbortSignal;
}

export interface RolloutPorts {
  /** The helm of a single-cluster run (and of tenants without a cluster). */
  helm: Helm;
  /** The helm bound to a tenant's cluster (multi-cluster fleets); default `helm`. */
  helmFor?: (tenant: Tenant) => Helm;
  clock: Clock;
  logger: Logger;
  /** Checks after a tenant's upgrade (readiness of its workloads, smoke tests). */
  verify?: (tenant: Tenant, revision: number) => Promise<VerifyResult>;
  /** Health of already-updated tenants, re-checked during soak windows. */
  soakCheck?: (tenants: Tenant[]) => Promise<Map<string, VerifyResult>>;
  /**
   * Metric analysis over a soak window (auto-rollback's engine, the latency trigger): watches
   * `updated`, compares with `baseline` (tenants not yet updated), and calls `onFailed` as soon as
   * a tenant breaches. An `inconclusive` verdict HOLDS the rollout: no new tenant starts, those
   * deployed stay, and the report says why. `upgradedAt` is when each tenant's upgrade started.
   */
  soakAnalysis?: (
    updated: Tenant[],
    baseline: Tenant[],
    windowMs: number,
    onFailed: (id: string, reason: string) => Promise<void>,
    signal?: AbortSignal,
    upgradedAt?: (id: string) => number | undefined,
  ) => Promise<void | SoakVerdict>;
  /** Retries of transient helm failures (default HELM_RETRY); tests pass short pauses. */
  retry?: RetryPolicy;
  /** The release lease of a tenant (src/kube/leases.ts), held while this run upgrades or rolls it back. */
  guardFor?: (tenant: Tenant) => ReleaseGuard;
  /**
   * A tenant's upgrade or rollback started (`start`), or it is back in a good state (`end`); a
   * tenant whose recovery failed gets no `end`, so the post step tries again. One call per change,
   * carrying only that tenant, so what is persisted grows with the change, not the fleet.
   */
  onInflight?: (change: InflightChange) => void;
  /** Observers (deployment records, notifications): told of each step and tenant, never awaited. */
  onEvent?: RolloutEventListener;
  /** Sharded: this process runs the slices it claims, with the fleet-wide budget and wave barrier (shards.ts). */
  shards?: ShardPort;
  /** What the API servers say about their load (throttled requests, latency), per cluster: what adaptive parallelism follows. */
  pressure?: PressurePort;
}

export interface InflightChange {
  op: 'start' | 'end';
  namespace: string;
  release: string;
  /** The rollback target recorded at start. */
  previous?: number;
  /** The tenant's cluster (multi-cluster fleets), so the post step recovers it there. */
  cluster?: string;
}

/** What a soak analysis concluded over the tenants still healthy at its end. */
export interface SoakVerdict {
  verdict: 'healthy' | 'failed' | 'inconclusive';
  /** For inconclusive: what had no data, in words a reader acts on. */
  reason?: string;
}

export interface RolloutResult {
  tenants: TenantResult[];
  /** Why no new tenant was started, and which outcome that makes (absent: the run went to the end). */
  stop?: RolloutStop;
  /** `stop.reason`, kept for readers of the report. */
  stoppedBecause?: string;
  durationMs: number;
  /** Adaptive parallelism's figures (absent when it was off). */
  parallelism?: ParallelismFigures;
}

/** A check of a tenant already on the target got no answer: its status is `unknown` and the run holds. */
class NoVerdictError extends Error {
  constructor(
    readonly lookCommand: string,
    reason = 'no verdict',
  ) {
    super(reason);
  }
}

export const LEDGER_PREFIX = 'deploy-actions target=';

/** `deploy-actions target=<fingerprint> [version=<released version>] [<run>]`: parsed by ledger.ts. */
export function ledgerDescription(fingerprint: string, run: string, version = '', cluster = ''): string {
  const v = version.trim().replace(/\s+/g, '');
  // The fleet's name for the cluster (multi-cluster fleets): `helm history` in any cluster says which one it is.
  return `${LEDGER_PREFIX}${fingerprint}${v ? ` version=${v}` : ''}${cluster ? ` cluster=${cluster}` : ''}${run ? ` ${run}` : ''}`;
}

/**
 * True when the live revision was put there by a rollout with this target fingerprint. A
 * rollback revision ("Rollback to 3") holds revision 3's content, so it is judged by revision 3's
 * description: a tenant rolled back onto the target counts as on it.
 */
export function onTarget(history: readonly Revision[], fingerprint: string): boolean {
  let rev = [...history].reverse().find((r) => r.status === 'deployed');
  for (let hops = 0; rev && hops < history.length; hops++) {
    const back = /^Rollback to (\d+)$/.exec(rev.description);
    if (!back) break;
    rev = history.find((r) => r.revision === Number(back[1]));
  }
  return !!rev && rev.description.startsWith(`${LEDGER_PREFIX}${fingerprint}`);
}

function statusOf(o: DeployOutcome): TenantStatus {
  switch (o.status) {
    case 'deployed':
    case 'dry-run':
      return 'succeeded';
    case 'unchanged':
      return 'unchanged';
    case 'rolled-back':
    case 'uninstalled':
      return 'failed-rolled-back';
    case 'failed':
      // A failure before helm created a revision left the release as it was (deployRelease only
      // leaves attemptedRevision unset when history, re-read after the failure, proves it). When
      // the API kept failing it is no verdict on the release: held (a re-run resumes it), not failed.
      if (o.attemptedRevision !== undefined) return 'failed';
      return o.transient ? 'held' : 'failed-untouched';
    case 'unknown':
      return 'unknown';
  }
}

/** Why a return to a good state did not happen, with the command a person would run. */
function returnError(back: ReturnOutcome): string {
  if ('error' in back) return `${back.error} (${back.command})`;
  return back.action === 'absent' ? 'the release no longer exists' : `revision ${back.revision} was left as it is`;
}

export async function executeRollout(o: RolloutOptions, p: RolloutPorts): Promise<RolloutResult> {
  const started = p.clock.now();
  const results = new Map<string, TenantResult>();
  const total = o.steps.reduce((n, s) => n + s.tenants.length, 0);
  let failures = 0;
  let stop: RolloutStop | undefined;
  /** The first stop wins: a later one (a second failure, a cancel during the wave rollback) does not rename it. */
  const stopWith = (outcome: RolloutStop['outcome'], reason: string) => void (stop ??= { outcome, reason });
  const inflight = new Set<string>();
  // Tenants left alone because another run holds their release's lease (their stop says so).
  const busy = new Set<string>();
  /** Tenants whose turn started (a result, or `unknown` if the run stopped before it had one). */
  const begun = new Set<string>();
  const upgradeStartedAt = new Map<string, number>();
  // Running totals, so each completion costs O(1): re-scanning the step per completion is quadratic in a wave.
  let done = 0;
  let doneInStep = 0;
  let ran = 0;
  let durationSum = 0;
  const emit = fanOut(p.onEvent);
  const tenantById = new Map(o.steps.flatMap((s) => s.tenants.map((t) => [t.id, t] as const)));
  const changed = (r: TenantResult) => emit({ type: 'tenant-finished', step: r.step, tenant: tenantById.get(r.id)!, result: { ...r } });

  /** A fleet-wide stop read from the shard coordination; unreadable is no verdict: hold. */
  const fleetCheck = async (read: () => Promise<RolloutStop | undefined>) => {
    try {
      const s = await read();
      if (s) stopWith(s.outcome, s.reason);
    } catch (err) {
      stopWith('held', `the shard coordination could not be read: ${errorMessage(err)}`);
    }
  };
  const stopped = () => {
    // A cancel outranks any earlier stop: the runner is ending the job whatever else happened.
    if (o.signal?.aborted && stop?.outcome !== 'cancelled') stop = { outcome: 'cancelled', reason: 'the job was cancelled' };
    return stop?.reason;
  };
  const hold = (t: Tenant, step: string, why: string, status: 'held' | 'skipped' = 'held') => {
    results.set(t.id, { id: t.id, namespace: t.namespace, release: t.release, step, status, durationMs: 0, error: why });
    done++;
    doneInStep++;
  };
  const skip = (t: Tenant, step: string, why: string) => {
    // Not started because the run holds: `held` (a re-run resumes them); otherwise `skipped`.
    const status = stop?.outcome === 'held' ? 'held' : 'skipped';
    results.set(t.id, { id: t.id, namespace: t.namespace, release: t.release, step, status, durationMs: 0, error: why });
    done++;
    doneInStep++;
  };
  const countFailure = (r: TenantResult) => {
    if (!FAILURE_STATUSES.has(r.status)) return;
    failures++;
    const c = tenantById.get(r.id)?.cluster;
    const allowed = c !== undefined ? o.maxFailuresPerCluster?.get(c) : undefined;
    if (c !== undefined && allowed !== undefined) {
      const n = (clusterFailures.get(c) ?? 0) + 1;
      clusterFailures.set(c, n);
      if (n > allowed && !spent.has(c)) {
        spent.set(c, `cluster ${c}'s failure budget spent: ${n} failed, ${allowed} allowed (last: ${r.id}: ${r.error ?? r.status})`);
        p.logger.warning(`${spent.get(c)}: its other tenants are skipped, the other clusters go on`);
      }
    }
    if (failures > o.maxFailures && !o.signal?.aborted) {
      stopWith('halted', `failure budget spent: ${failures} failed, ${o.maxFailures} allowed (last: ${r.id}: ${r.error ?? r.status})`);
    }
  };
  const progress = (stepIndex: number, step: RolloutStep) => {
    const inStep = doneInStep;
    const mean = ran ? durationSum / ran : 0;
    const eta = mean ? ` eta ${humanDuration((mean * (total - done)) / Math.max(1, o.maxParallel))}` : '';
    const line =
      `${step.name} (${stepIndex + 1}/${o.steps.length}): ${inStep}/${step.tenants.length} ` +
      `done · overall ${done}/${total}, ${failures} failed${eta}`;
    if (p.logger.progress) p.logger.progress(line);
    else p.logger.info(line);
  };

  const ceiling = Math.min(o.maxParallel, o.maxParallelPerCluster || o.maxParallel);
  const adaptive =
    o.adaptive === false
      ? undefined
      : new AdaptiveParallelism(ceiling, p.clock, o.adaptive, (c, from, to, why) =>
          p.logger.info(`parallelism${c ? ` in cluster ${c}` : ''}: ${from} -> ${to} (${why})`),
        );
  const unsubscribe =
    adaptive &&
    p.pressure?.subscribe((c, sig) => (sig.kind === 'latency' ? adaptive.latency(c, sig.ms) : adaptive.throttled(c, sig.reason)));
  // helm's transient failures (429/5xx, an unreachable server) are throttling its cluster reported.
  const watched = new Map<Helm, Helm>();
  const watch = (h: Helm, cluster: string): Helm => {
    if (!adaptive) return h;
    let w = watched.get(h);
    if (!w) {
      w = new Proxy(h, {
        get(target, prop) {
          const v = Reflect.get(target, prop, target) as unknown;
          if (typeof v !== 'function') return v;
          return (...args: unknown[]) => {
            const r = (v as (...a: unknown[]) => unknown).apply(target, args);
            return r instanceof Promise
              ? r.catch((err: unknown) => {
                  if (isTransient(err)) adaptive.throttled(cluster, 'helm');
                  throw err;
                })
              : r;
          };
        },
      });
      watched.set(h, w);
    }
    return w;
  };
  const helmOf = (t: Tenant): Helm => watch(p.helmFor?.(t) ?? p.helm, t.cluster ?? '');
  const limitOf = (cluster: string) => Math.min(o.maxParallelPerCluster || o.maxParallel, adaptive?.limit(cluster) ?? Infinity);
  // Clusters that stopped answering mid-rollout: their tenants are held, the others go on.
  const down = new Map<string, string>(o.unreachableClusters ?? []);
  // Clusters whose own failure budget is spent (maxFailuresPerCluster): their tenants are skipped.
  const spent = new Map<string, string>();
  const clusterFailures = new Map<string, number>();
  const running = new Map<string, number>();

  async function runTenant(t: Tenant, step: string): Promise<TenantResult> {
    if (o.act) return o.act(t, step);
    const log = new BufferedLogger();
    const t0 = p.clock.now();
    upgradeStartedAt.set(t.id, t0);
    const fingerprint = o.targetFingerprint(t);
    let outcome: DeployOutcome;
    try {
      outcome = await deployRelease(
        {
          upgrade: o.upgradeFor(t, fingerprint),
          rollbackOnFailure: true,
          recoverPending: o.recoverPending,
          guard: p.guardFor?.(t),
          pendingStaleAfterMs: o.pendingStaleAfterMs,
          signal: o.signal,
          alreadyDone: async (history) => {
            if (!onTarget(history, fingerprint)) return false;
            // On target per the ledger, but only "done" if it is still healthy.
            const v: VerifyResult = p.verify ? await p.verify(t, history.at(-1)!.revision).catch(noVerdict) : { ok: true };
            // No verdict on a tenant already on the target: neither done nor to deploy again.
            if (v.inconclusive)
              throw new NoVerdictError(statusCommand(t.release, { namespace: t.namespace }, helmOf(t).target?.context), v.reason);
            if (!v.ok) log.warning(`already on the target revision but unhealthy (${v.reason}); deploying again`);
            return v.ok;
          },
          verify: p.verify ? (rev) => p.verify!(t, rev) : undefined,
          onUpgradeStart: (previous) => {
            inflight.add(t.id);
            p.onInflight?.({ op: 'start', namespace: t.namespace, release: t.release, previous, ...clusterOf(t) });
          },
        },
        { helm: helmOf(t), logger: log, clock: p.clock, retry: p.retry },
      );
    } catch (err) {
      // Errors outside an upgrade. A release whose history could not even be read was not
      // touched (failed-untouched); one stuck pending without recover-pending, or a failed
      // recovery, may need a person, so it counts as failed.
      const untouched = err instanceof ReleaseUnreadableError || err instanceof ReleaseBusyError;
      // Another run working on it, or an API that kept failing: no verdict on the release (held).
      const noVerdictOnIt = err instanceof ReleaseBusyError || (err instanceof ReleaseUnreadableError && err.transient);
      if (err instanceof ReleaseBusyError) busy.add(t.id);
      if (err instanceof NoVerdictError) {
        outcome = {
          status: 'unknown',
          release: t.release,
          namespace: t.namespace,
          revision: 0,
          chartVersion: '',
          appVersion: '',
          changed: false,
          error: `already on the target revision, but its check had ${err.message}; left as it is (look: ${err.lookCommand})`,
          lookCommand: err.lookCommand,
          durationMs: p.clock.now() - t0,
        };
      } else
        outcome = {
          status: 'failed',
          release: t.release,
          namespace: t.namespace,
          revision: 0,
          attemptedRevision: untouched ? undefined : 0,
          ...(noVerdictOnIt ? { transient: true } : {}),
          chartVersion: '',
          appVersion: '',
          changed: false,
          error: errorMessage(err),
          durationMs: p.clock.now() - t0,
        };
    }
    // A release left failed on top (its rollback failed too) or in a state nobody could read stays
    // in the post step's list: the post step tries again. Everything else is where it should be.
    const recovered = !(outcome.status === 'unknown' || (outcome.status === 'failed' && outcome.attemptedRevision !== undefined));
    if (recovered && inflight.delete(t.id)) p.onInflight?.({ op: 'end', namespace: t.namespace, release: t.release, ...clusterOf(t) });
    const r: TenantResult = {
      id: t.id,
      namespace: t.namespace,
      release: t.release,
      step,
      status: statusOf(outcome),
      revisionBefore: outcome.previousRevision,
      revisionAfter: outcome.revision || undefined,
      durationMs: p.clock.now() - t0,
      error: outcome.error,
      ...(outcome.lookCommand ? { lookCommand: outcome.lookCommand } : {}),
      ...(outcome.attempts ? { attempts: outcome.attempts } : {}),
    };
    const icon = r.status === 'succeeded' || r.status === 'unchanged' ? '✓' : r.status === 'skipped' ? '·' : '✗';
    await p.logger.group(
      `${icon} ${t.id} (${t.namespace}/${t.release}): ${r.status} ${r.revisionBefore ?? '-'} -> ${r.revisionAfter ?? '-'} in ${humanDuration(r.durationMs)}`,
      async () => {
        log.flushTo(p.logger);
        if (r.error) p.logger.info(`reason: ${r.error}`);
      },
    );
    return r;
  }

  /**
   * Outside an upgrade (soak, wave): `returnToGood` with the rollout's own timeout (helm is bound
   * to the tenant's cluster), retried (bounded). While it runs, and if it never succeeds, the
   * tenant is in the post step's list, so a cancel or a kill mid-rollback still ends with it
   * recovered.
   */
  const returnTenant = async (t: Tenant, before: number | undefined, why: string): Promise<ReturnOutcome> => {
    inflight.add(t.id);
    p.onInflight?.({ op: 'start', namespace: t.namespace, release: t.release, previous: before, ...clusterOf(t) });
    // Held like an upgrade's: a later run must not take a rollback in progress for a stuck release.
    const guard = p.guardFor?.(t);
    await guard?.take();
    const back = await returnToGood(
      helmOf(t),
      { release: t.release, namespace: t.namespace, before, why, wait: 'ready', timeoutMs: o.timeoutMs },
      p.logger,
      { clock: p.clock, policy: p.retry },
    ).finally(() => guard?.release());
    if (isGood(back)) {
      inflight.delete(t.id);
      p.onInflight?.({ op: 'end', namespace: t.namespace, release: t.release, ...clusterOf(t) });
    }
    return back;
  };

  /** A tenant that degraded after its upgrade: returned to a good state, counted as a failure. */
  async function degrade(t: Tenant, reason: string): Promise<void> {
    const r = results.get(t.id)!;
    if (r.status !== 'succeeded') return; // already handled (the health loop and the analysis may both see it)
    r.status = 'failed';
    const back = await returnTenant(t, r.revisionBefore, reason);
    if (back.action === 'rolled-back' || back.action === 'uninstalled')
      Object.assign(r, { status: 'failed-rolled-back', revisionAfter: back.revision || undefined, error: reason });
    else if (back.action === 'unknown')
      Object.assign(r, { status: 'unknown', error: `${reason}; rollback: ${returnError(back)}`, lookCommand: back.command });
    else Object.assign(r, { status: 'failed', error: `${reason}; rollback failed: ${returnError(back)}` });
    p.logger.warning(`${t.id}: ${r.error} -> ${r.status}`);
    countFailure(r);
    changed(r);
  }

  async function soak(updated: Tenant[], stepName: string, baseline: Tenant[]): Promise<void> {
    if (!o.soakMs || !updated.length) return;
    p.logger.info(
      `soak after ${stepName}: re-checking ${updated.length} updated tenants every ${humanDuration(o.soakIntervalMs)} for ${humanDuration(o.soakMs)}`,
    );
    const window = new AbortController();
    const onAbort = () => window.abort();
    o.signal?.addEventListener('abort', onAbort, { once: true });
    const end = p.clock.now() + o.soakMs;
    const healthLoop = async () => {
      // A look that got no answer (after the adapter's retries) is no verdict: the next look may
      // get one. The window must end on a verdict, or the run holds.
      let unanswered: string | undefined;
      while (p.clock.now() < end && !stopped()) {
        await p.clock.sleep(Math.min(o.soakIntervalMs, end - p.clock.now()), window.signal);
        if (window.signal.aborted) return;
        const healthy = updated.filter((t) => results.get(t.id)?.status === 'succeeded');
        if (!healthy.length) return;
        let verdicts: Map<string, VerifyResult>;
        try {
          verdicts = p.soakCheck ? await p.soakCheck(healthy) : new Map<string, VerifyResult>();
          unanswered = undefined;
        } catch (err) {
          if (window.signal.aborted) return;
          unanswered = errorMessage(err);
          p.logger.warning(`soak after ${stepName}: no verdict this time (${unanswered}); looking again`);
          continue;
        }
        for (const t of healthy) {
          const v = verdicts.get(t.id);
          if (v?.ok === false && !v.inconclusive) await degrade(t, `degraded during soak after ${stepName}: ${v.reason}`);
        }
      }
      if (unanswered !== undefined && !stopped())
        stopWith('held', `the soak after ${stepName} ended without a verdict: the cluster did not answer (${unanswered})`);
    };
    const analysis = async () => {
      if (!p.soakAnalysis) return;
      const byId = new Map(updated.map((t) => [t.id, t]));
      try {
        const v = await p.soakAnalysis(
          updated,
          baseline,
          o.soakMs,
          (id, reason) => degrade(byId.get(id)!, `analysis during soak after ${stepName}: ${reason}`),
          window.signal,
          (id) => upgradeStartedAt.get(id),
        );
        // No verdict is not a healthy verdict: hold (unless the window was cut short by a stop or a cancel).
        if (v?.verdict === 'inconclusive' && !window.signal.aborted)
          stopWith(
            'held',
            `the soak analysis after ${stepName} had no verdict, so no further tenant starts and those deployed stay: ${v.reason ?? 'inconclusive'}`,
          );
      } catch (err) {
        // No verdict is not a healthy verdict: stop starting tenants, keep those already done.
        stopWith('held', `the soak analysis after ${stepName} could not run: ${errorMessage(err)}`);
      }
    };
    try {
      // When the budget is spent mid-soak, the window ends for both.
      await Promise.all([healthLoop().finally(() => stopped() && window.abort()), analysis().finally(() => stopped() && window.abort())]);
    } finally {
      o.signal?.removeEventListener('abort', onAbort);
    }
  }

  const stepFinished = (i: number, step: RolloutStep) =>
    emit({
      type: 'step-finished',
      step: step.name,
      index: i,
      steps: o.steps.length,
      results: step.tenants.flatMap((t) => (results.has(t.id) ? [{ ...results.get(t.id)! }] : [])),
      stoppedBecause: stopped(),
    });

  const sizes = o.steps.map((s) => ({ name: s.name, tenants: s.tenants.length }));
  const updatedSoFar: Tenant[] = [];
  try {
    for (const [i, step] of o.steps.entries()) {
      if (stopped()) {
        // Sharded, a step this shard never claimed is not its to report (the merge reports it).
        if (!p.shards) for (const t of step.tenants) skip(t, step.name, stopped()!);
        continue;
      }
      p.logger.info(`${step.name} (${i + 1}/${o.steps.length}): ${step.tenants.length} tenants, up to ${o.maxParallel} at a time`);
      emit({ type: 'step-started', step: step.name, index: i, steps: o.steps.length, tenants: step.tenants, plan: sizes });
      doneInStep = 0;
      const runQueue = async (planned: readonly Tenant[]) => {
        const queue = o.durations ? longestFirst(planned, o.durations) : planned;
        const take = takeNext(queue, running, adaptive || o.maxParallelPerCluster ? limitOf : undefined);
        const worker = async () => {
          for (let t = await take.next(); t; t = await take.next()) {
            if (p.shards && !stopped()) await fleetCheck(() => p.shards!.check());
            if (!stopped() && o.gate) {
              const g = await o.gate();
              if (g) stopWith(g.outcome, g.reason);
            }
            if (stopped()) {
              take.done(t);
              skip(t, step.name, stopped()!);
              continue;
            }
            const gone = t.cluster !== undefined ? down.get(t.cluster) : undefined;
            if (gone !== undefined) {
              take.done(t);
              hold(t, step.name, gone);
              continue;
            }
            const over = t.cluster !== undefined ? spent.get(t.cluster) : undefined;
            if (over !== undefined) {
              take.done(t);
              hold(t, step.name, over, 'skipped');
              continue;
            }
            emit({ type: 'tenant-started', step: step.name, tenant: t });
            begun.add(t.id);
            let r: TenantResult;
            try {
              r = await runTenant(t, step.name);
            } finally {
              take.done(t);
            }
            results.set(t.id, r);
            // Its cluster stopped answering: hold that cluster's tenants, let the others finish.
            if (
              t.cluster !== undefined &&
              p.helmFor &&
              (r.status === 'unknown' || r.status === 'failed-untouched' || r.status === 'held') &&
              unreachable(r.error)
            ) {
              if (!down.has(t.cluster)) {
                down.set(t.cluster, `cluster ${t.cluster} is unreachable (${r.error})`);
                p.logger.warning(`cluster ${t.cluster} is unreachable: its tenants are held, the other clusters go on`);
              }
              // Never touched (its history could not be read): held, not failed.
              if (r.status !== 'unknown') Object.assign(r, { status: 'held', error: down.get(t.cluster) });
            }
            // No verdict for a tenant: start no new one (held, before the budget could call it halted).
            else if (r.status === 'unknown') stopWith('held', `no verdict for ${r.id}: ${r.error ?? 'its state could not be read'}`);
            else if (r.status === 'held')
              stopWith(
                'held',
                busy.has(r.id)
                  ? `no verdict for ${r.id}: ${r.error}`
                  : `no verdict for ${r.id}: the cluster kept failing helm's requests (${r.error}); it is untouched`,
              );
            done++;
            doneInStep++;
            ran++;
            durationSum += r.durationMs;
            countFailure(r);
            if (p.shards && FAILURE_STATUSES.has(r.status)) await fleetCheck(() => p.shards!.failed(r.id, r.error ?? r.status));
            progress(i, step);
            changed(r);
          }
        };
        await Promise.all(Array.from({ length: Math.min(o.maxParallel, queue.length) }, worker));
      };
      if (p.shards) {
        // This shard's slices of the step, claimed one at a time; nextSlice returns nothing once the
        // step has ended in every shard (the wave barrier) or the fleet stopped.
        for (;;) {
          let slice: ShardSlice<Tenant> | undefined;
          try {
            slice = stopped() ? undefined : await p.shards.nextSlice(i, o.signal);
          } catch (err) {
            stopWith('held', `the shard coordination could not be read: ${errorMessage(err)}`);
          }
          if (!slice) break;
          await runQueue(slice.tenants);
          if (stopped()) break;
          await p.shards
            .sliceDone(i, slice.slice)
            .catch((err: unknown) => stopWith('held', `the shard coordination could not be written: ${errorMessage(err)}`));
        }
        if (!stopped()) await fleetCheck(() => p.shards!.check());
      } else await runQueue(step.tenants);

      const succeeded = step.tenants.filter((t) => results.get(t.id)?.status === 'succeeded');
      if (stop?.outcome === 'halted' && o.rollbackWaveOnFailure && !o.signal?.aborted) {
        for (const t of succeeded) {
          const r = results.get(t.id)!;
          const why = `rolled back with its wave: ${stop.reason}`;
          const back = await returnTenant(t, r.revisionBefore, why);
          if (back.action === 'rolled-back' || back.action === 'uninstalled')
            Object.assign(r, { status: 'rolled-back', revisionAfter: back.revision || undefined, error: why });
          else if (back.action === 'unknown')
            Object.assign(r, { status: 'unknown', error: `wave rollback: ${returnError(back)}`, lookCommand: back.command });
          else Object.assign(r, { status: 'failed', error: `wave rollback failed: ${returnError(back)}` });
          p.logger.warning(`${t.id}: ${r.status} (wave rollback)`);
          changed(r);
        }
        stepFinished(i, step);
        continue;
      }
      stepFinished(i, step);
      updatedSoFar.push(...succeeded);
      const later = [...o.steps.slice(i + 1).flatMap((s) => s.tenants), ...(o.notYetUpdated ?? [])];
      if (later.length) await soak(updatedSoFar, step.name, later);
    }
  } catch (err) {
    // A bug or an error nobody foresaw: still a report, with what is known of every tenant.
    stopWith('failed', `unexpected error: ${errorMessage(err)}`);
    p.logger.error(`tenant-rollout stopped on an unexpected error: ${errorMessage(err)}`);
  }

  /** A tenant the run never finished: `unknown` (with the command to look) if it had started, else not started. */
  const unfinished = (t: Tenant, step: string): TenantResult => {
    if (!begun.has(t.id)) {
      skip(t, step, stop?.reason ?? 'not started');
      return results.get(t.id)!;
    }
    const lookCommand = historyCommand(t.release, { namespace: t.namespace }, helmOf(t).target?.context);
    const error = `started but not finished when the run stopped (${stop?.reason}); look: ${lookCommand}`;
    return { id: t.id, namespace: t.namespace, release: t.release, step, status: 'unknown', durationMs: 0, error, lookCommand };
  };
  // Sharded, this shard reports the tenants it ran or began (the merge makes the fleet's report).
  // Each row names the tenant's cluster (multi-cluster fleets), for the report, summary and post step.
  const ordered = o.steps.flatMap((s) =>
    s.tenants.flatMap((t) => {
      const r = results.get(t.id) ?? (p.shards && !begun.has(t.id) ? undefined : unfinished(t, s.name));
      return r ? [{ ...r, ...clusterOf(t) }] : [];
    }),
  );
  // A cluster spent its own budget: the others finished, the run ends halted (it outranks a hold).
  if (spent.size && !stop) stop = { outcome: 'halted', reason: [...spent.values()].join('; ') };
  // A cluster went away and nothing else stopped the run: it ends held (a re-run resumes those tenants).
  if (down.size && !stop) stop = { outcome: 'held', reason: [...down.values()].join('; ') };
  stopped();
  unsubscribe?.();
  if (p.shards) {
    if (o.signal?.aborted) await p.shards.cancelled();
    p.shards.close();
  }
  return {
    tenants: ordered,
    stop,
    stoppedBecause: stop?.reason,
    durationMs: p.clock.now() - started,
    ...(adaptive ? { parallelism: adaptive.figures() } : {}),
  };
}

/** The API server did not answer (helm's or client-node's words for it). */
export function unreachable(error: string | undefined): boolean {
  return /cluster unreachable|connection refused|ECONNREFUSED|no such host|dial tcp|i\/o timeout|EHOSTUNREACH|ENOTFOUND|ECONNRESET|socket hang up/i.test(
    error ?? '',
  );
}

/**
 * The next tenant of a step to start: in plan order, skipping (for now) tenants whose cluster
 * is at its limit (max-parallel-per-cluster, or adaptive parallelism's lower one), and waiting
 * for a slot when every remaining tenant is in a full cluster. One queue per cluster, so a take
 * costs O(clusters), not O(tenants). Without a limit, an index walk.
 */
function takeNext(queue: readonly Tenant[], running: Map<string, number>, limitOf?: (cluster: string) => number) {
  let next = 0;
  if (!limitOf) return { next: async () => queue[next++], done: (_t: Tenant) => {} };
  // Each cluster's tenants in plan order, with their plan positions (the earliest ready one goes first).
  const queues = new Map<string, { at: number[]; tenants: Tenant[]; head: number }>();
  queue.forEach((t, at) => {
    const c = t.cluster ?? '';
    const q = queues.get(c) ?? { at: [], tenants: [], head: 0 };
    q.at.push(at);
    q.tenants.push(t);
    queues.set(c, q);
  });
  let left = queue.length;
  let wake: (() => void) | undefined;
  return {
    /** Counted as running in its cluster from the moment it is taken, until `done`. */
    async next(): Promise<Tenant | undefined> {
      for (;;) {
        if (!left) return undefined;
        let best: string | undefined;
        for (const [c, q] of queues) {
          if (q.head >= q.tenants.length || (running.get(c) ?? 0) >= limitOf(c)) continue;
          if (best === undefined || q.at[q.head]! < queues.get(best)!.at[queues.get(best)!.head]!) best = c;
        }
        if (best !== undefined) {
          const q = queues.get(best)!;
          const t = q.tenants[q.head++]!;
          left--;
          running.set(best, (running.get(best) ?? 0) + 1);
          return t;
        }
        await new Promise<void>((r) => {
          const prev = wake;
          wake = () => {
            prev?.();
            r();
          };
        });
      }
    },
    done(t: Tenant) {
      running.set(t.cluster ?? '', running.get(t.cluster ?? '')! - 1);
      const w = wake;
      wake = undefined;
      w?.();
    },
  };
}

const clusterOf = (t: Tenant) => (t.cluster ? { cluster: t.cluster } : {});
