import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { imagesOutput } from '../../src/build/report.ts';
import type { Release } from '../../src/build/release.ts';
import type { TenantResult } from '../../src/rollout/execute.ts';
import { buildReport } from '../../src/rollout/report.ts';
import type { RolloutStop } from '../../src/rollout/outcome.ts';
import { repoRoot } from '../support/tools.ts';
import { workflow } from './load.ts';
import type { Step } from './load.ts';

// The shell steps of the workflows run here as GitHub runs them (bash --noprofile --norc -eo
// pipefail), with the env their `env:` blocks give, on reports made by the real report builders,
// so a renamed report field breaks these tests and not a production rollout.

function step(path: string, job: string, name: string): Step {
  const s = workflow(path).doc.jobs[job]?.steps?.find((x) => x.name === name || x.id === name);
  if (!s?.run) throw new Error(`${path}: ${job} has no run step ${name}`);
  return s;
}

const actionSteps = (folder: string) =>
  (parse(readFileSync(join(repoRoot, folder, 'action.yml'), 'utf8')) as { runs: { steps: (Step & { shell?: string })[] } }).runs.steps;

/** A run step of one of our composite actions (cloud-login/action.yml), run as its `shell: bash` runs it. */
function actionStep(folder: string, name: string): Step {
  const s = actionSteps(folder).find((x) => x.name === name || x.id === name);
  if (!s?.run || s.shell !== 'bash') throw new Error(`${folder}/action.yml has no bash run step ${name}`);
  return s;
}

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'wf-script-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function run(s: Step, env: Record<string, string>, extraPath?: string) {
  const script = join(dir, 'step.sh');
  writeFileSync(script, s.run!);
  const files = { GITHUB_OUTPUT: join(dir, 'output'), GITHUB_STEP_SUMMARY: join(dir, 'summary.md'), GITHUB_ENV: join(dir, 'env') };
  for (const f of Object.values(files)) writeFileSync(f, '');
  const r = spawnSync('bash', ['--noprofile', '--norc', '-eo', 'pipefail', script], {
    encoding: 'utf8',
    env: { PATH: extraPath ? `${extraPath}:${process.env.PATH}` : process.env.PATH, HOME: dir, RUNNER_TEMP: dir, ...files, ...env },
  });
  return {
    code: r.status,
    stdout: r.stdout,
    stderr: r.stderr,
    summary: readFileSync(files.GITHUB_STEP_SUMMARY, 'utf8'),
    outputs: parseOutputs(readFileSync(files.GITHUB_OUTPUT, 'utf8')),
  };
}

/** GITHUB_OUTPUT: `k=v` lines and `k<<DELIM ... DELIM` blocks. */
function parseOutputs(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i]!;
    const heredoc = /^([\w-]+)<<(.+)$/.exec(l);
    if (heredoc) {
      const body: string[] = [];
      while (lines[++i] !== heredoc[2]) body.push(lines[i]!);
      out[heredoc[1]!] = body.join('\n');
    } else if (l.includes('=')) out[l.slice(0, l.indexOf('='))] = l.slice(l.indexOf('=') + 1);
  }
  return out;
}

const t = (
  id: string,
  status: TenantResult['status'],
  before?: number,
  after?: number,
  extra: Partial<TenantResult> = {},
): TenantResult => ({
  id,
  namespace: `tenant-${id}`,
  release: id,
  step: 'wave 1',
  status,
  revisionBefore: before,
  revisionAfter: after,
  durationMs: 1200,
  ...extra,
});

function report(phase: string, tenants: TenantResult[], stoppedBecause?: string, stop?: RolloutStop) {
  return buildReport(
    { tenants, durationMs: 60_000, stoppedBecause, stop },
    { phase, planFingerprint: 'f'.repeat(64), target: 'chart 1.3.0', startedAt: '2026-11-22T10:00:00Z', run: 'run=dotmac/product/42/1' },
  );
}

function writeReports(files: Record<string, unknown>): string {
  const d = join(dir, 'reports');
  mkdirSync(d, { recursive: true });
  for (const [name, doc] of Object.entries(files)) writeFileSync(join(d, name), JSON.stringify(doc, null, 2));
  return d;
}

describe('tenant-rollout.yml report job', () => {
  const s = step('.github/workflows/tenant-rollout.yml', 'report', 'summary');
  const base = {
    FLEET: '',
    MERGED: 'false',
    RELEASE_VERSION: '1.3.0',
    FINGERPRINT: 'f'.repeat(64),
    PROMOTION: 'minor',
    GATE: 'approval',
    FLEET_VERSION: '1.2.4',
    REASON: '1.2.4 -> 1.3.0 is a minor release',
    SMOKE: 'passed',
    RUN_URL: 'https://github.com/dotmac/product/actions/runs/42',
    RUN_ID: '42',
  };

  it('a rollout that succeeded: one table of both phases', () => {
    const reports = writeReports({
      'pilot.json': report('pilot', [t('alpha', 'succeeded', 3, 4)]),
      'waves.json': report('waves', [t('beta', 'succeeded', 7, 8), t('gamma', 'unchanged', 5, 5)]),
    });
    const r = run(s, { ...base, REPORTS: reports, PLAN_RESULT: 'success', PILOT_RESULT: 'success', WAVES_RESULT: 'success' });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.outputs.outcome).toBe('succeeded');
    expect(r.summary).toContain('## Tenant rollout to 1.3.0: ✅ succeeded');
    expect(r.summary).toContain('**Promotion:** minor (1.2.4 -> 1.3.0), gate: approval. 1.2.4 -> 1.3.0 is a minor release');
    expect(r.summary).toContain('| pilot | success | succeeded | 1 | 0 | 0 | 0 | 0 | 0 | 0 |');
    expect(r.summary).toContain('| waves | success | succeeded | 1 | 1 | 0 | 0 | 0 | 0 | 0 |');
    expect(r.summary).toContain('**Pilot smoke test:** passed');
    expect(r.summary).not.toContain('Needs attention');
    expect(r.summary).toContain('run the rollback workflow with run-id `42` ([this run]');
    // A named fleet: the rollback hint names it (rollback.yml is keyed by fleet).
    const prod = run(s, {
      ...base,
      FLEET: 'prod-eu',
      REPORTS: reports,
      PLAN_RESULT: 'success',
      PILOT_RESULT: 'success',
      WAVES_RESULT: 'success',
    });
    expect(prod.summary).toContain('run the rollback workflow with run-id `42` and fleet `prod-eu`');
  });

  it('a dry run: labelled first in the heading, no rollback hint, output dry-run=true', () => {
    const dry = (phase: string, tenants: TenantResult[]) => ({ ...report(phase, tenants), dryRun: true });
    const reports = writeReports({
      'pilot.json': dry('pilot', [t('alpha', 'succeeded', 3, 3)]),
      'waves.json': dry('waves', [t('beta', 'succeeded', 7, 7)]),
    });
    const r = run(s, { ...base, REPORTS: reports, PLAN_RESULT: 'success', PILOT_RESULT: 'success', WAVES_RESULT: 'success' });
    expect(r.stderr).toBe('');
    expect(r.outputs).toMatchObject({ outcome: 'succeeded', 'dry-run': 'true' });
    expect(r.summary).toContain('## Tenant rollout to 1.3.0: DRY RUN, nothing changed: ✅ succeeded');
    expect(r.summary).toContain('nothing was deployed, so there is nothing to roll back');
    expect(r.summary).not.toContain('run the rollback workflow');
    // A real run is not labelled.
    const real = writeReports({
      'pilot.json': report('pilot', [t('alpha', 'succeeded', 3, 4)]),
      'waves.json': report('waves', [t('beta', 'succeeded', 7, 8)]),
    });
    const r2 = run(s, { ...base, REPORTS: real, PLAN_RESULT: 'success', PILOT_RESULT: 'success', WAVES_RESULT: 'success' });
    expect(r2.outputs['dry-run']).toBe('false');
    expect(r2.summary).not.toContain('DRY RUN');
  });

  it('outputs a caller can act on: counts over both phases, failed tenants (first 50) and their count (issue 14)', () => {
    const bad = Array.from({ length: 60 }, (_, i) => t(`bad${String(i).padStart(2, '0')}`, i % 2 ? 'failed-rolled-back' : 'failed', 1, 2));
    const reports = writeReports({
      'pilot.json': report('pilot', [t('alpha', 'succeeded', 3, 4), t('pilot-bad', 'failed-untouched', 3, 3)]),
      'waves.json': report(
        'waves',
        [t('beta', 'succeeded', 7, 8), t('gamma', 'unchanged', 5, 5), ...bad, t('delta', 'skipped')],
        'failure budget spent',
      ),
    });
    const r = run(s, { ...base, REPORTS: reports, PLAN_RESULT: 'success', PILOT_RESULT: 'success', WAVES_RESULT: 'failure' });
    expect(r.code).toBe(0);
    expect(r.outputs).toMatchObject({ succeeded: '2', unchanged: '1', skipped: '1', 'failed-count': '61' });
    const ids = r.outputs['failed-tenants']!.split(',');
    expect(ids).toHaveLength(50);
    expect(ids.slice(0, 2)).toEqual(['pilot-bad', 'bad00']);
  });

  it('nothing ran: zero counts and no failed tenants', () => {
    const r = run(s, { ...base, REPORTS: join(dir, 'none'), PLAN_RESULT: 'failure', PILOT_RESULT: 'skipped', WAVES_RESULT: 'skipped' });
    expect(r.outputs).toMatchObject({ succeeded: '0', 'failed-count': '0', 'failed-tenants': '' });
  });

  it('failed waves: the tenants that need attention, with their revisions and reasons', () => {
    const reports = writeReports({
      'pilot.json': report('pilot', [t('alpha', 'succeeded', 3, 4)]),
      'waves.json': report(
        'waves',
        [
          t('beta', 'succeeded', 7, 8),
          t('gamma', 'failed-rolled-back', 5, 7, { error: 'GET /api/health | 503\nafter 3 tries' }),
          t('delta', 'skipped'),
        ],
        'failure budget (0) spent',
      ),
    });
    const r = run(s, { ...base, REPORTS: reports, PLAN_RESULT: 'success', PILOT_RESULT: 'success', WAVES_RESULT: 'failure' });
    expect(r.code).toBe(0);
    // A spent failure budget is the outcome "halted" (src/rollout/outcome.ts), which the report carries.
    expect(r.outputs.outcome).toBe('halted');
    expect(r.summary).toContain('❌ the waves failed');
    expect(r.summary).toContain('### Needs attention (waves)');
    expect(r.summary).toContain('**Stopped:** failure budget (0) spent');
    expect(r.summary).toContain('| gamma | tenant-gamma/gamma | failed-rolled-back | 5 -> 7 | GET /api/health \\| 503 after 3 tries |');
    expect(r.summary).toContain('| delta | tenant-delta/delta | skipped | – -> – |  |');
    expect(r.summary).not.toContain('| beta | tenant-beta');
  });

  it('merged shard reports: the waves failures are left to the merged summary, the pilot stays listed', () => {
    const reports = writeReports({
      'pilot.json': report('pilot', [t('alpha', 'failed-untouched', 3, 3)]),
      'waves.json': report('waves', [t('beta', 'succeeded', 7, 8), t('gamma', 'failed', 5, 6)], 'failure budget (0) spent'),
    });
    const env = { ...base, REPORTS: reports, PLAN_RESULT: 'success', PILOT_RESULT: 'success', WAVES_RESULT: 'failure' };
    const merged = run(s, { ...env, MERGED: 'true' });
    expect(merged.code).toBe(0);
    expect(merged.outputs).toMatchObject({ outcome: 'halted', 'failed-count': '2', 'failed-tenants': 'alpha,gamma' });
    expect(merged.summary).toContain('| waves | failure | halted | 1 | 0 | 0 | 0 | 1 | 0 | 0 |');
    expect(merged.summary).toContain('### Needs attention (pilot)');
    expect(merged.summary).not.toContain('### Needs attention (waves)');
    expect(merged.summary).toContain("every failure and rollback in the merged report's summary");
    // Without a merged summary (the merge did not run), the waves failures are listed here.
    const plain = run(s, { ...env, MERGED: 'false' });
    expect(plain.summary).toContain('### Needs attention (waves)');
    expect(plain.summary).toContain('| gamma | tenant-gamma/gamma | failed |');
  });

  it('a pilot that held (no verdict) says why, though no tenant failed', () => {
    const reports = writeReports({
      'pilot.json': report('pilot', [t('alpha', 'succeeded', 3, 4)], undefined, {
        outcome: 'held',
        reason: 'the soak analysis after pilot had no verdict: alpha: latency: no verdict, no p95 now (no data)',
      }),
    });
    const r = run(s, { ...base, REPORTS: reports, PLAN_RESULT: 'success', PILOT_RESULT: 'failure', WAVES_RESULT: 'skipped' });
    expect(r.outputs.outcome).toBe('held');
    expect(r.summary).toContain('### Needs attention (pilot)');
    expect(r.summary).toContain(
      '**Stopped:** the soak analysis after pilot had no verdict: alpha: latency: no verdict, no p95 now (no data)',
    );
  });

  it('the pilot succeeded but the waves never deployed: not approved', () => {
    const reports = writeReports({ 'pilot.json': report('pilot', [t('alpha', 'succeeded', 3, 4)]) });
    const r = run(s, { ...base, REPORTS: reports, PLAN_RESULT: 'success', PILOT_RESULT: 'success', WAVES_RESULT: 'failure' });
    expect(r.outputs.outcome).toBe('not-approved');
    expect(r.summary).toContain('| waves | failure | no report |');
  });

  it('planning failed: nothing downloaded, still one clear summary and no rollback hint', () => {
    const r = run(s, {
      ...base,
      PROMOTION: '',
      REASON: '',
      FINGERPRINT: '',
      SMOKE: '',
      REPORTS: join(dir, 'none'),
      PLAN_RESULT: 'failure',
      PILOT_RESULT: 'skipped',
      WAVES_RESULT: 'skipped',
    });
    expect(r.code).toBe(0);
    expect(r.outputs.outcome).toBe('failed');
    expect(r.summary).toContain('❌ planning failed: no tenant was touched');
    expect(r.summary).not.toContain('Promotion');
    expect(r.summary).not.toContain('rollback workflow');
  });

  it('a cancelled run says so', () => {
    const reports = writeReports({ 'pilot.json': report('pilot', [t('alpha', 'succeeded', 3, 4)]) });
    const r = run(s, { ...base, REPORTS: reports, PLAN_RESULT: 'success', PILOT_RESULT: 'cancelled', WAVES_RESULT: 'skipped' });
    expect(r.outputs.outcome).toBe('cancelled');
  });
});

describe('tenant-rollout.yml plan summary', () => {
  const s = step('.github/workflows/tenant-rollout.yml', 'plan', 'Show the plan and the promotion gate');
  const PLAN = '{"version":1,"pilot":[{"id":"alpha"}],"waves":[]}';
  let base: Record<string, string>;
  beforeEach(() => {
    writeFileSync(join(dir, 'action-plan.json'), PLAN);
    base = { ...fields, PLAN_FILE: join(dir, 'action-plan.json') };
  });
  const fields = {
    FINGERPRINT: 'abcdef0123456789',
    FLEET_VERSION: '1.3.0',
    RELEASE_VERSION: 'v1.3.1',
    WINDOW: '',
  };

  it('a patch: no gate, the waves environment and why', () => {
    const r = run(s, { ...base, PROMOTION: 'patch', GATE: 'none', REASON: '1.3.0 -> v1.3.1 is a patch release' });
    expect(r.code).toBe(0);
    expect(r.summary).toContain('### Promotion: patch (1.3.0 -> v1.3.1)');
    expect(r.summary).toContain('**Gate:** none: the waves follow the pilot in the ungated environment.');
    expect(r.summary).toContain('**Why:** 1.3.0 -> v1.3.1 is a patch release');
    expect(r.summary).toContain('Plan `abcdef012345`');
    expect(r.summary).toContain('"id": "alpha"');
    // The artifact is the action's file byte for byte (its fingerprint is its content).
    expect(readFileSync(join(dir, 'tenant-rollout-plan/plan.json'), 'utf8')).toBe(PLAN);
  });

  it('a major: the window is shown to the approvers', () => {
    const r = run(s, { ...base, PROMOTION: 'major', GATE: 'approval+window', REASON: 'major', WINDOW: 'Sat 02:00-04:00 UTC' });
    expect(r.summary).toContain('**Gate:** approval, within the maintenance window: Sat 02:00-04:00 UTC.');
  });

  it('no promotion outputs (an action without them): shown as gated', () => {
    const r = run(s, { ...base, PROMOTION: '', GATE: '', REASON: '' });
    expect(r.code).toBe(0);
    expect(r.summary).toContain('### Promotion: not classified');
    expect(r.summary).toContain('**Gate:** approval: the reviewers of the waves environment approve this plan after the pilot.');
  });
});

describe('tenant-rollout.yml shard count', () => {
  const s = step('.github/workflows/tenant-rollout.yml', 'plan', 'shards');
  it.each([
    ['1', '[0]'],
    ['3', '[0,1,2]'],
    ['08', '[0,1,2,3,4,5,6,7]'],
  ])('%s shards: the matrix %s', (n, matrix) => {
    const r = run(s, { SHARDS: n });
    expect(r.code, r.stderr).toBe(0);
    expect(r.outputs.indexes).toBe(matrix);
  });

  it('256 shards: the largest matrix', () => {
    const r = run(s, { SHARDS: '256' });
    expect(JSON.parse(r.outputs.indexes!)).toEqual(Array.from({ length: 256 }, (_, i) => i));
  });

  it.each(['0', '257', '1000', '2.5', '-1', 'two', ''])('refuses %j before the plan', (n) => {
    const r = run(s, { SHARDS: n });
    expect(r.code).toBe(1);
    expect(r.stdout).toContain(`::error::input "shards" is "${n}": use a whole number from 1 to 256`);
    expect(r.outputs.indexes).toBeUndefined();
  });
});

describe('cloud-login/action.yml: cloud credentials by OIDC (issue 12)', () => {
  const check = actionStep('cloud-login', 'clouds');
  const creds = actionStep('cloud-login', 'credentials');
  const none = {
    AWS_ROLE: '',
    AWS_DURATION: '',
    AWS_REGION: '',
    EKS: '',
    GCP_PROVIDER: '',
    GCP_SA: '',
    GKE: '',
    AZ_CLIENT: '',
    AZ_TENANT: '',
    AZ_SUB: '',
    AKS_RG: '',
    AKS: '',
  };
  const ROLE = 'arn:aws:iam::123456789012:role/deploy-tenants';
  const PROVIDER = 'projects/123456/locations/global/workloadIdentityPools/github/providers/dotmac';
  const GUID = '0f8fad5b-d9cb-469f-a165-70867728950e';

  it('nothing configured: no login, no credentials step', () => {
    const r = run(check, none);
    expect(r.code, r.stdout).toBe(0);
    expect(r.outputs).toEqual({ eks: '', aks: '' });
  });

  it('several clusters of each cloud: one login per cloud, every cluster listed', () => {
    const r = run(check, {
      ...none,
      AWS_ROLE: ROLE,
      AWS_REGION: 'eu-west-1',
      EKS: 'prod-eu-1, prod-eu-2\nprod-eu-3',
      GCP_PROVIDER: PROVIDER,
      GCP_SA: 'deploy@dotmac-prod.iam.gserviceaccount.com',
      GKE: 'gke-eu europe-west1\n\ngke-us us-central1-a dotmac-us\n',
      AZ_CLIENT: GUID,
      AZ_TENANT: GUID,
      AZ_SUB: GUID,
      AKS_RG: 'rg-prod',
      AKS: 'aks-us,rg-other/aks-asia',
    });
    expect(r.code, r.stdout).toBe(0);
    expect(r.outputs).toEqual({
      aws: 'true',
      eks: 'prod-eu-1 prod-eu-2 prod-eu-3',
      'gke-1-name': 'gke-eu',
      'gke-1-location': 'europe-west1',
      'gke-1-project': '',
      'gke-2-name': 'gke-us',
      'gke-2-location': 'us-central1-a',
      'gke-2-project': 'dotmac-us',
      gcp: 'true',
      azure: 'true',
      aks: 'aks-us rg-other/aks-asia',
      any: 'true',
    });
  });

  // aws-role-duration-seconds: a session longer than the AWS action's default hour, for a waves
  // job over thousands of tenants. The login step takes the input as given, so only '' (the
  // action's own 3600) or a whole number of seconds AWS accepts may pass the check.
  const EKS_SET = { AWS_ROLE: ROLE, AWS_REGION: 'eu-west-1', EKS: 'prod-eu-1' };

  it.each(['900', '14400', '43200'])('aws-role-duration-seconds %s: the AWS login runs, with it', (seconds) => {
    const r = run(check, { ...none, ...EKS_SET, AWS_DURATION: seconds });
    expect(r.code, r.stdout).toBe(0);
    expect(r.stdout).not.toContain('::error::');
    expect(r.outputs).toEqual({ aws: 'true', eks: 'prod-eu-1', aks: '', any: 'true' });
    // The AWS login step is given what the check saw: the same input expression as its env var.
    const login = actionSteps('cloud-login').find((x) => x.uses?.startsWith('aws-actions/configure-aws-credentials@'));
    expect(login?.with?.['role-duration-seconds']).toBe(check.env!.AWS_DURATION);
    expect(check.env!.AWS_DURATION).toBe('${{ inputs.aws-role-duration-seconds }}');
  });

  it.each([
    ['90m', 'input "aws-role-duration-seconds" is "90m": give seconds, 900 to 43200'],
    ['3600.5', 'input "aws-role-duration-seconds" is "3600.5": give seconds, 900 to 43200'],
    ['0900', 'input "aws-role-duration-seconds" is "0900": give seconds, 900 to 43200'],
    ['899', 'input "aws-role-duration-seconds" is "899": give seconds, 900 to 43200'],
    ['43201', 'input "aws-role-duration-seconds" is "43201": give seconds, 900 to 43200'],
    ['999999', 'input "aws-role-duration-seconds" is "999999": give seconds, 900 to 43200'],
  ])('aws-role-duration-seconds %j: refused with one error naming the input, before any login', (seconds, message) => {
    const r = run(check, { ...none, ...EKS_SET, AWS_DURATION: seconds });
    expect(r.code).toBe(1);
    expect(r.stdout.trim().split('\n')).toEqual([`::error::${message} (at most the role's MaxSessionDuration)`]);
    expect(r.outputs.any).toBeUndefined();
  });

  it('aws-role-duration-seconds without aws-role-to-assume: refused, naming both', () => {
    const r = run(check, { ...none, AWS_DURATION: '7200' });
    expect(r.code).toBe(1);
    expect(r.stdout.trim().split('\n')).toEqual([
      '::error::input "aws-role-duration-seconds" is "7200" but aws-role-to-assume is empty: set aws-role-to-assume ' +
        '(the role whose session it sets), or leave aws-role-duration-seconds empty',
    ]);
    expect(r.outputs.aws).toBeUndefined();
    expect(r.outputs.any).toBeUndefined();
  });

  it.each([
    [{ EKS: 'prod' }, 'input "aws-role-to-assume" is "": give the ARN of the role to assume'],
    [{ AWS_ROLE: ROLE, EKS: 'prod' }, 'input "aws-region" is "": give the region of eks-clusters'],
    [{ AWS_ROLE: ROLE, AWS_REGION: 'eu-west-1' }, 'input "eks-clusters" is empty'],
    [
      { AWS_ROLE: ROLE, AWS_REGION: 'eu-west-1', EKS: '--kubeconfig=/etc/x' },
      'input "eks-clusters": "--kubeconfig=/etc/x" is not a cluster name',
    ],
    [{ GKE: 'gke-eu europe-west1' }, 'input "gcp-workload-identity-provider" is "": give projects/<number>'],
    [
      { GCP_PROVIDER: PROVIDER, GCP_SA: 'a@b.iam.gserviceaccount.com', GKE: 'gke-eu' },
      'input "gke-clusters" line 1: location "" is not a GKE region or zone',
    ],
    [
      {
        GCP_PROVIDER: PROVIDER,
        GCP_SA: 'a@b.iam.gserviceaccount.com',
        GKE: 'a europe-west1\nb europe-west1\nc europe-west1\nd europe-west1\ne europe-west1',
      },
      'input "gke-clusters" names 5 clusters: at most 4',
    ],
    [
      { AZ_CLIENT: GUID, AZ_TENANT: GUID, AZ_SUB: GUID, AKS: 'aks-us' },
      'input "aks-clusters": "aks-us" has no resource group (set aks-resource-group',
    ],
    [
      { AZ_CLIENT: 'my-app', AZ_TENANT: GUID, AZ_SUB: GUID, AKS_RG: 'rg', AKS: 'aks-us' },
      'input "azure-client-id" is "my-app": give the id (a GUID)',
    ],
  ] as const)('refuses %j before any login', (over, message) => {
    const r = run(check, { ...none, ...over });
    expect(r.code).toBe(1);
    expect(r.stdout).toContain(`::error::${message}`);
    expect(r.outputs.any).toBeUndefined();
  });

  it('one context per cluster, named like it, in one kubeconfig exported as KUBECONFIG', () => {
    const bin = join(dir, 'bin');
    mkdirSync(bin);
    const log = join(dir, 'calls.log');
    // Fakes that record their argv (one line per call) and, for kubectl, the KUBECONFIG they were given.
    for (const tool of ['aws', 'az', 'kubectl']) {
      writeFileSync(
        join(bin, tool),
        `#!/bin/bash\nprintf '%s' ${tool} >> "${log}"; printf ' [%s]' "$@" >> "${log}"; printf ' KUBECONFIG=%s\\n' "\${KUBECONFIG:-}" >> "${log}"\n` +
          (tool === 'kubectl'
            ? 'if [ "$1 $2" = "config view" ]; then echo merged; else echo ctx-a; fi\n'
            : 'touch "${@: -1}" 2>/dev/null || true\n'),
      );
      chmodSync(join(bin, tool), 0o755);
    }
    const gke = join(dir, 'gha-kubeconfig-1');
    writeFileSync(gke, 'gke');
    const r = run(
      creds,
      {
        EKS: 'prod-eu-1 prod-eu-2',
        AWS_REGION: 'eu-west-1',
        AKS: 'aks-us rg-other/aks-asia',
        AKS_RG: 'rg-prod',
        GKE_KUBECONFIGS: `${gke}:::`,
      },
      bin,
    );
    expect(r.code, r.stderr).toBe(0);
    const cfg = join(dir, 'deploy-actions-kube/clouds');
    const calls = readFileSync(log, 'utf8').trim().split('\n');
    expect(calls.slice(0, 4)).toEqual([
      `aws [eks] [update-kubeconfig] [--name] [prod-eu-1] [--region] [eu-west-1] [--alias] [prod-eu-1] [--kubeconfig] [${cfg}] KUBECONFIG=`,
      `aws [eks] [update-kubeconfig] [--name] [prod-eu-2] [--region] [eu-west-1] [--alias] [prod-eu-2] [--kubeconfig] [${cfg}] KUBECONFIG=`,
      `az [aks] [get-credentials] [--resource-group] [rg-prod] [--name] [aks-us] [--context] [aks-us] [--file] [${cfg}] [--overwrite-existing] [--only-show-errors] KUBECONFIG=`,
      `az [aks] [get-credentials] [--resource-group] [rg-other] [--name] [aks-asia] [--context] [aks-asia] [--file] [${cfg}] [--overwrite-existing] [--only-show-errors] KUBECONFIG=`,
    ]);
    expect(calls[4]).toBe(`kubectl [config] [view] [--flatten] KUBECONFIG=${cfg}:${gke}`);
    expect(readFileSync(join(dir, 'deploy-actions-kube/config'), 'utf8')).toBe('merged\n');
    expect(readFileSync(join(dir, 'env'), 'utf8')).toBe(`KUBECONFIG=${join(dir, 'deploy-actions-kube/config')}\n`);
    expect(r.outputs).toEqual({ kubeconfig: join(dir, 'deploy-actions-kube/config') });
  });
});

describe('release.yml: pin the deployed images by digest', () => {
  const s = step('.github/workflows/release.yml', 'build', 'pin');
  const digest = `sha256:${'a'.repeat(64)}`;
  const images = JSON.stringify(
    imagesOutput({
      plan: { version: '1.3.0' },
      push: true,
      builder: 'buildx',
      outcomes: [
        { name: 'isp-ops-app', repository: 'ghcr.io/dotmac/isp-ops-app', tags: ['1.3.0'], status: 'pushed', digest },
        {
          name: 'platform-admin-app',
          repository: 'ghcr.io/dotmac/platform-admin-app',
          tags: ['1.3.0'],
          status: 'pushed',
          digest: `sha256:${'b'.repeat(64)}`,
        },
      ],
    } as unknown as Release),
  );
  const base = {
    IMAGES: images,
    VERSION: '1.3.0',
    TENANT_IMAGE: 'isp-ops-app',
    TENANT_KEY: 'image',
    PLATFORM_IMAGE: '',
    PLATFORM_KEY: 'image',
  };

  it('set-string lines for the tenant image (and the platform image when named)', () => {
    let r = run(s, base);
    expect(r.code).toBe(0);
    expect(r.outputs.tenant).toBe(`image.repository=ghcr.io/dotmac/isp-ops-app\nimage.tag=1.3.0\nimage.digest=${digest}`);
    expect(r.outputs.platform).toBe('');
    r = run(s, { ...base, PLATFORM_IMAGE: 'platform-admin-app', PLATFORM_KEY: 'admin.image' });
    expect(r.outputs.platform).toBe(
      `admin.image.repository=ghcr.io/dotmac/platform-admin-app\nadmin.image.tag=1.3.0\nadmin.image.digest=sha256:${'b'.repeat(64)}`,
    );
  });

  it('an image that was not built fails, naming what was', () => {
    const r = run(s, { ...base, TENANT_IMAGE: 'isp-ops' });
    expect(r.code).not.toBe(0);
    expect(r.stdout).toContain('::error::image "isp-ops" was not built and pushed (built: isp-ops-app, platform-admin-app)');
  });

  it('an image built but not pushed (no digest) fails', () => {
    const notPushed = JSON.stringify({ 'isp-ops-app': { ref: 'x:1', repository: 'x', digest: null, tags: [], pushed: false } });
    expect(run(s, { ...base, IMAGES: notPushed }).code).not.toBe(0);
  });

  it('a values key that is not a dotted key fails', () => {
    for (const key of ['image,x', 'image=x', '--set', 'a..b', '']) {
      const r = run(s, { ...base, TENANT_KEY: key });
      expect(r.code, key).not.toBe(0);
      expect(r.outputs.tenant, key).toBeUndefined();
    }
  });
});

describe('workflows/rollback.yml: the inputs are checked before anything is fetched', () => {
  const s = step('workflows/rollback.yml', 'rollback', 'Check the inputs');
  it.each([
    ['a run', { RUN_ID: '42', TENANTS: '', SELECTOR: '' }, 0, ''],
    ['named tenants', { RUN_ID: '', TENANTS: 'alpha,beta', SELECTOR: '' }, 0, ''],
    ['a selector', { RUN_ID: '', TENANTS: '', SELECTOR: 'ring=canary' }, 0, ''],
    ['nothing', { RUN_ID: '', TENANTS: '', SELECTOR: '' }, 1, '::error::give run-id, tenants or selector'],
    ['a run and tenants', { RUN_ID: '42', TENANTS: 'alpha', SELECTOR: '' }, 1, 'not both'],
    ['a run and a selector', { RUN_ID: '42', TENANTS: '', SELECTOR: 'ring=canary' }, 1, 'not both'],
    ['a run id that is not a number', { RUN_ID: '42; rm -rf /', TENANTS: '', SELECTOR: '' }, 1, 'is not a run number'],
  ] as const)('%s', (_name, env, code, message) => {
    const r = run(s, env);
    expect(r.code, r.stdout + r.stderr).toBe(code);
    if (message) expect(r.stdout).toContain(message);
    else expect(r.stdout).toBe('');
  });
});

describe('release.yml: the control plane is verified before any tenant starts', () => {
  const s = step('.github/workflows/release.yml', 'control-plane', 'verified');
  it.each<[string, Record<string, string>, string]>([
    ['blue-green switched, watch healthy', { STATUS: 'switched', VERDICT: 'healthy', ROLLED_BACK: 'false', WATCH: '10m' }, 'true'],
    ['rolling deployed, watch healthy', { STATUS: 'deployed', VERDICT: 'healthy', ROLLED_BACK: 'false', WATCH: '10m' }, 'true'],
    ['unchanged without a watch', { STATUS: 'unchanged', VERDICT: '', ROLLED_BACK: '', WATCH: '0s' }, 'true'],
    ['a dry run', { STATUS: 'dry-run', VERDICT: '', ROLLED_BACK: '', WATCH: '10m' }, 'true'],
    [
      'inconclusive watch: no verdict, not verified',
      { STATUS: 'switched', VERDICT: 'inconclusive', ROLLED_BACK: 'false', WATCH: '10m' },
      'false',
    ],
    ['switched back after a breach', { STATUS: 'switched', VERDICT: 'failed', ROLLED_BACK: 'true', WATCH: '10m' }, 'false'],
    ['a watch asked for but never run', { STATUS: 'switched', VERDICT: '', ROLLED_BACK: '', WATCH: '10m' }, 'false'],
    ['the deploy failed', { STATUS: 'rolled-back', VERDICT: '', ROLLED_BACK: '', WATCH: '10m' }, 'false'],
  ])('%s -> verified %s', (_n, env, verified) => {
    const r = run(s, env);
    expect(r.outputs.verified).toBe(verified);
    expect(r.code).toBe(verified === 'true' ? 0 : 1);
    if (verified === 'false') expect(r.stdout).toMatch(/::error::the control plane is not verified.*the tenants do not start/);
  });
});
