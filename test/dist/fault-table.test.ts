/**
 * Issue 10's fault table, through dist/ as the runner runs it, with the real helm 3 and 4 against
 * the wire-level API fake: 429 with Retry-After, 500, 503, 504 and dropped connections injected on
 * each path (discovery, history, upgrade, verify, soak list, rollback), deterministically, over a
 * 10-tenant rollout (pilot 2, waves of 4).
 *
 * What must hold whatever the faults: every tenant ends verified on the new revision, back on its
 * last deployed revision, or untouched (or `unknown` with the command to look); the report agrees
 * with helm's history as the cluster stores it; no release is left pending-*.
 *
 * Rows are chosen so each path meets each kind of fault at least once over the two deterministic
 * rows, and each row is one rollout (several paths at once), to keep the file to a few minutes.
 */
import { describe, expect, it } from 'vitest';
import type { Fault, FakeKube, RecordedRequest } from '../support/fake-kube/index.ts';
import { BAD, faultFleet } from './fault-fleet.ts';

const fromHelm = (r: RecordedRequest) => /helm/i.test(r.userAgent ?? '');
const ns = (t: string) => `/api/v1/namespaces/tenant-${t}`;

/** One row: faults on paths, by kind. The deterministic rows put every kind on every path between them. */
interface Row {
  name: string;
  faults: { path: string; match: Parameters<FakeKube['inject']>[0]; fault: Fault; opts?: Parameters<FakeKube['inject']>[2] }[];
}

const onPaths = (kinds: Record<string, Fault>): Row['faults'] => [
  // discovery: the tenant namespaces, listed by the action through client-node
  { path: 'discovery', match: { path: '/api/v1/namespaces', verb: 'list' }, fault: kinds.discovery!, opts: { times: 2 } },
  // history: helm's release Secrets of one tenant
  { path: 'history', match: { path: `${ns('t03')}/secrets`, verb: 'list' }, fault: kinds.history!, opts: { times: 2 } },
  // upgrade: the first write of one tenant's upgrade (helm stores the new revision first)
  { path: 'upgrade', match: { path: `${ns('t04')}/secrets`, verb: 'create' }, fault: kinds.upgrade!, opts: { times: 1 } },
  // verify: the action's own read of the release's workloads after helm said deployed
  {
    path: 'verify',
    match: (r) => r.path === '/apis/apps/v1/namespaces/tenant-t05/deployments' && r.method === 'GET' && !fromHelm(r),
    fault: kinds.verify!,
    opts: { times: 2 },
  },
  // soak list: the fleet-wide health list between waves
  { path: 'soak list', match: { path: '/apis/apps/v1/deployments', verb: 'list' }, fault: kinds.soak!, opts: { times: 2 } },
  // rollback: the failing tenant's second revision write (the first is its failed upgrade's)
  { path: 'rollback', match: { path: `${ns(BAD)}/secrets`, verb: 'create' }, fault: kinds.rollback!, opts: { skip: 1, times: 1 } },
];

const ROWS: Row[] = [
  {
    name: 'deterministic A',
    faults: onPaths({
      discovery: { status: 429, retryAfterSeconds: 1 },
      history: { status: 500 },
      upgrade: { status: 503 },
      verify: { status: 429, retryAfterSeconds: 1 },
      soak: { status: 504 },
      rollback: { drop: true },
    }),
  },
  {
    name: 'deterministic B',
    faults: onPaths({
      discovery: { drop: true },
      history: { status: 503 },
      upgrade: { status: 429, retryAfterSeconds: 1 },
      verify: { status: 504 },
      soak: { drop: true },
      rollback: { status: 500 },
    }),
  },
];

describe.each([4, 3] as const)('fault table through dist/ (real helm %i)', (major) => {
  const fleet = faultFleet(major);
  const { rollout, checkTruth } = fleet;

  it('baseline: every tenant on a first revision, no faults', { timeout: 120_000 }, async () => {
    const r = await rollout(false);
    const rep = checkTruth(r);
    expect(rep.counts.succeeded).toBe(10);
  });

  it.each(ROWS)('$name: one fault kind on each path, every tenant ends right', { timeout: 180_000 }, async (row) => {
    fleet.kube.clearFaults();
    const rules = row.faults.map((f) => ({ path: f.path, rule: fleet.kube.inject(f.match, f.fault, f.opts) }));
    const r = await rollout(true);
    fleet.kube.clearFaults();
    const rep = checkTruth(r);
    // Every fault really happened (a rule that never fired proves nothing).
    expect(rules.filter((x) => x.rule.injected === 0).map((x) => x.path)).toEqual([]);
    // Transient faults never change an outcome: only the bad tenant fails, and it is rolled back.
    expect(rep.tenants.filter((t) => t.status !== 'succeeded').map((t) => [t.id, t.status])).toEqual([[BAD, 'failed-rolled-back']]);
    expect([rep.outcome, r.code]).toEqual(['failed', 1]);
    expect(rep.api?.retries).toBeGreaterThan(0);
  });
});
