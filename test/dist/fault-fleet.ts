/**
 * The fleet both fault tables run on (fault-table.test.ts: deterministic rows; fault-random.test.ts:
 * random rows): 10 tenants (pilot 2, waves of 4) on the wire-level API fake, one rollout of a new
 * tag through dist/ with a real helm, and the invariants of issue 10 checked against helm's
 * history as the cluster stores it (release Secrets, read straight from the fake's store, so no
 * injected fault can hide them).
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, expect } from 'vitest';
import type { RolloutReport } from '../../src/rollout/report.ts';
import { startFakeKube, type FakeKube } from '../support/fake-kube/index.ts';
import { exampleChart, helmBinaries, repoRoot } from '../support/tools.ts';
import { runAction, type ActionRun } from './run-action.ts';

export const tenants = Array.from({ length: 10 }, (_, i) => `t${String(i + 1).padStart(2, '0')}`);
/** The tenant whose upgrade fails (its own values file pins a crash-looping image): the rollback path. */
export const BAD = 't07';

export interface HelmRow {
  version: number;
  status: string;
  description: string;
}

export interface Rollout extends ActionRun {
  report?: RolloutReport;
  tag: string;
  before: Map<string, HelmRow[]>;
  beforeImage: Map<string, string>;
}

export interface FaultFleet {
  readonly kube: FakeKube;
  history(t: string): HelmRow[];
  image(t: string): string;
  rollout(withBad: boolean): Promise<Rollout>;
  /** The post step of a run, as the runner runs it after main (whatever main's outcome). */
  post(r: Rollout): Promise<ActionRun>;
  checkTruth(r: Rollout, afterPost?: boolean, postLog?: string): RolloutReport;
}

/** Registers the fleet's beforeAll/afterAll in the calling describe. */
export function faultFleet(major: 3 | 4): FaultFleet {
  let kube: FakeKube;
  let dir: string;
  let sharedValues: string;
  let run = 0;
  const runnerTemps: string[] = [];

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
    for (const d of runnerTemps) rmSync(d, { recursive: true, force: true });
  });

  const history = (t: string): HelmRow[] =>
    kube
      .list('secrets', `tenant-${t}`)
      .filter((s) => s.metadata.labels?.owner === 'helm')
      .map((s) => ({
        version: Number(s.metadata.labels!.version),
        status: String(s.metadata.labels!.status),
        description: releaseDescription(String(s.data?.release ?? '')),
      }))
      .sort((a, b) => a.version - b.version);
  const image = (t: string): string => kube.get('deployments', `tenant-${t}`, t)?.spec.template.spec.containers[0].image ?? '';

  const rollout = async (withBad: boolean): Promise<Rollout> => {
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
    runnerTemps.push(r.runnerTemp);
    const report = r.outputs.report ? (JSON.parse(r.outputs.report) as RolloutReport) : undefined;
    return { ...r, report, tag, before, beforeImage };
  };

  const post = (r: Rollout) => runAction('tenant-rollout', {}, { phase: 'post', state: r.state, runnerTemp: r.runnerTemp });

  /** The invariants of issue 10, whatever the faults were. */
  const checkTruth = (r: Rollout, afterPost = false, postLog = ''): RolloutReport => {
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
      const said = `${t.id} ${t.status}: ${t.error}\nhistory: ${JSON.stringify(rows)}\n${why}`;
      // 0 releases left pending-*.
      expect(top.status, said).not.toMatch(/^pending-/);
      switch (t.status) {
        case 'succeeded':
        case 'unchanged':
          // Verified on the new revision, and the report names it.
          expect([top.status, top.version, image(t.id)], said).toEqual(['deployed', t.revisionAfter, expect.stringMatching(`:${r.tag}$`)]);
          break;
        case 'failed-rolled-back':
        case 'rolled-back':
          // Back on its last deployed revision: the content it ran before this rollout.
          expect([lastDeployed?.version, top.status], said).toEqual([t.revisionAfter, 'deployed']);
          expect(image(t.id), said).toBe(r.beforeImage.get(t.id));
          break;
        case 'failed-untouched':
        case 'held':
        case 'skipped':
          // Untouched: helm's history is what it was.
          expect(rows, said).toEqual(r.before.get(t.id));
          break;
        case 'unknown':
          expect(t.lookCommand, said).toMatch(/^helm (history|status) /);
          if (afterPost) expect(top.status, said).toBe('deployed');
          break;
        case 'failed':
          // Main could not return it (its rollback kept failing): it was left in the post step's
          // state, and the post step (which the runner always runs) brought it back.
          if (!afterPost) throw new Error(`${t.id} ended failed (needs a person): ${said}`);
          expect([top.status, image(t.id)], `${said}\npost:\n${postLog.slice(-3000)}`).toEqual(['deployed', r.beforeImage.get(t.id)]);
          break;
        default:
          throw new Error(`${t.id} ended ${t.status} (needs a person): ${said}`);
      }
    }
    return rep;
  };

  return {
    get kube() {
      return kube;
    },
    history,
    image,
    rollout,
    post,
    checkTruth,
  };
}

/** A release Secret's description (helm stores the release as base64(gzip(JSON)), base64 again by the API). */
function releaseDescription(data: string): string {
  if (!data) return '';
  try {
    const inner = Buffer.from(Buffer.from(data, 'base64').toString(), 'base64');
    return String((JSON.parse(gunzipSync(inner).toString()) as { info?: { description?: string } }).info?.description ?? '');
  } catch {
    return '';
  }
}
