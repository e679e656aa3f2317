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
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RolloutReport } from '../../src/rollout/report.ts';
import { startFakeKube, type Fault, type FakeKube, type RecordedRequest } from '../support/fake-kube/index.ts';
import { exampleChart, helmBinaries, repoRoot } from '../support/tools.ts';
import { runAction } from './run-action.ts';

const tenants = Array.from({ length: 10 }, (_, i) => `t${String(i + 1).padStart(2, '0')}`);
/** The tenant whose upgrade fails (its own values file pins a crash-looping image): the rollback path. */
const BAD = 't07';

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

interface HelmRow {
  version: number;
  status: string;
}

describe.each([4, 3] as const)('fault table through dist/ (real helm %i)', (major) => {
  let kube: FakeKube;
  let dir: string;
  let sharedValues: string;
  let run = 0;

  beforeAll(async () => {
    kube = await startFakeKube({ crashLoopIntervalMs: 200 });
    for (const t of tenants) kube.addTenantNamespaces([`tenant-${t}`], ['t01', 't02'].includes(t) ? { ring: 'pilot' } : {});
    // Per-tenant values files are relative to the workspace (the action's cwd); .vitest-* is ignored by git.
    dir = mkdtempSync(join(repoRoot, '.vitest-faults-'));
    mkdirSync(join(dir, 'values'));
    sharedValues = join(dir, 'shared.yaml');
  });
  afterAll(async () => {
    await kube?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** helm's history of a tenant, as the cluster stores it (release Secrets). */
  const history = (t: string): HelmRow[] =>
    kube
      .list('secrets', `tenant-${t}`)
      .filter((s) => s.metadata.labels?.owner === 'helm')
      .map((s) => ({ version: Number(s.metadata.labels!.version), status: String(s.metadata.labels!.status) }))
      .sort((a, b) => a.version - b.version);
  const image = (t: string): string => kube.get('deployments', `tenant-${t}`, t)?.spec.template.spec.containers[0].image ?? '';

  /** One rollout of a new tag to every tenant; BAD's own values file pins `bad` when `withBad`. */
  const rollout = async (withBad: boolean) => {
    const tag = `1.0.${run++}`;
    writeFileSync(sharedValues, `image:\n  tag: "${tag}"\n`);
    const badFile = join(dir, 'values', `${BAD}.yaml`);
    if (withBad) writeFileSync(badFile, 'image:\n  tag: bad\n');
    else rmSync(badFile, { force: true });
    const before = new Map(tenants.map((t) => [t, history(t)]));
    const beforeImage = new Map(tenants.map((t) => [t, image(t)]));
    const r = await runAction('tenant-rollout', {
      chart: exampleChart,
      'values-files': sharedValues,
      'tenant-values-files': `${relative(repoRoot, dir)}/values/{{ tenant.slug }}.yaml`,
      pilot: 'ring=pilot',
      'batch-size': '4',
      'max-parallel': '4',
      'max-failures': '5',
      timeout: '6s',
      soak: '1s',
      'soak-interval': '400ms',
      kubeconfig: kube.kubeconfigYaml,
      helm: helmBinaries[major],
    });
    const report = r.outputs.report ? (JSON.parse(r.outputs.report) as RolloutReport) : undefined;
    return { ...r, report, tag, before, beforeImage };
  };

  /** The invariants of issue 10, whatever the faults were. */
  const checkTruth = (r: Awaited<ReturnType<typeof rollout>>, afterPost = false, postLog = '') => {
    const why = r.stdout
      .split('\n')
      .filter((l) => /::(error|warning)::/.test(l))
      .join('\n');
    expect(r.report, `no report:\n${r.stdout.slice(-3000)}`).toBeDefined();
    const rep = r.report!;
    expect(rep.tenants.map((t) => t.id).sort(), `${rep.outcome}: ${rep.stoppedBecause}\n${why}`).toEqual(tenants);
    expect(r.outputs.outcome).toBe(rep.outcome);
    expect(r.code).toBe(rep.exitCode);
    for (const t of rep.tenants) {
      const rows = history(t.id);
      const top = rows.at(-1)!;
      const lastDeployed = [...rows].reverse().find((x) => x.status === 'deployed');
      // 0 releases left pending-*.
      expect(top.status, `${t.id} ${t.status}: ${t.error}\n${why}`).not.toMatch(/^pending-/);
      switch (t.status) {
        case 'succeeded':
        case 'unchanged':
          // Verified on the new revision, and the report names it.
          expect([top.status, top.version, image(t.id)], `${t.id}: ${t.error}`).toEqual(['deployed', t.revisionAfter, expect.stringMatching(`:${r.tag}$`)]);
          break;
        case 'failed-rolled-back':
        case 'rolled-back':
          // Back on its last deployed revision: the content it ran before this rollout.
          expect([lastDeployed?.version, top.status], `${t.id}: ${t.error}`).toEqual([t.revisionAfter, 'deployed']);
          expect(image(t.id), t.id).toBe(r.beforeImage.get(t.id));
          break;
        case 'failed-untouched':
        case 'held':
        case 'skipped':
          // Untouched: helm's history is what it was.
          expect(rows, `${t.id} ${t.status}: ${t.error}`).toEqual(r.before.get(t.id));
          break;
        case 'unknown':
          expect(t.lookCommand, t.id).toMatch(/^helm (history|status) /);
          break;
        case 'failed':
          // Main could not return it (its rollback kept failing): it was left in the post step's
          // state, and the post step (which the runner always runs) brought it back.
          if (!afterPost) throw new Error(`${t.id} ended failed (needs a person): ${t.error}\n${why}`);
          expect([top.status, image(t.id)], `${t.id}: ${t.error}\npost:\n${postLog.slice(-3000)}`).toEqual(['deployed', r.beforeImage.get(t.id)]);
          break;
        default:
          throw new Error(`${t.id} ended ${t.status} (needs a person): ${t.error}\n${why}`);
      }
    }
    return rep;
  };

  it('baseline: every tenant on a first revision, no faults', { timeout: 120_000 }, async () => {
    const r = await rollout(false);
    const rep = checkTruth(r);
    expect(rep.counts.succeeded).toBe(10);
  });

  it.each(ROWS)('$name: one fault kind on each path, every tenant ends right', { timeout: 180_000 }, async (row) => {
    kube.clearFaults();
    const rules = row.faults.map((f) => ({ path: f.path, rule: kube.inject(f.match, f.fault, f.opts) }));
    const r = await rollout(true);
    kube.clearFaults();
    const rep = checkTruth(r);
    // Every fault really happened (a rule that never fired proves nothing).
    expect(rules.filter((x) => x.rule.injected === 0).map((x) => x.path)).toEqual([]);
    // Transient faults never change an outcome: only the bad tenant fails, and it is rolled back.
    expect(rep.tenants.filter((t) => t.status !== 'succeeded').map((t) => [t.id, t.status])).toEqual([[BAD, 'failed-rolled-back']]);
    expect([rep.outcome, r.code]).toEqual(['failed', 1]);
    expect(rep.api?.retries).toBeGreaterThan(0);
  });

});
