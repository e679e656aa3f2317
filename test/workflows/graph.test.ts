import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../support/tools.ts';
import {
  actionFolders,
  actionMeta,
  compositeActionFolders,
  envName,
  expressions,
  loadWorkflows,
  needsOf,
  outputRefs,
  ownActionFolder,
  ownWorkflowPath,
  refs,
  trigger,
  workflow,
} from './load.ts';
import type { CallDecl, Job, Step, WorkflowFile } from './load.ts';

const files = loadWorkflows();
const byPath = (p: string) => workflow(p);

/** The only jobs (or top levels) allowed to write anything, and exactly what. */
const WRITES: Record<string, string[]> = {
  '.github/workflows/release.yml#build': ['packages'],
  // The control plane deploys too, and logs in the same way as the tenants' deploy jobs (cloud-login).
  '.github/workflows/release.yml#control-plane': ['id-token'],
  '.github/workflows/release-suite.yml#move-major': ['contents'],
  // A caller grants at least what the called jobs ask for: release.yml's build pushes images.
  // Deployment records (issue 14): the jobs that deploy write them, and their callers grant it.
  // id-token (issue 12): the jobs that deploy log in to the clouds by OIDC (cloud-login); their callers grant it.
  '.github/workflows/tenant-rollout.yml#pilot': ['deployments', 'id-token'],
  '.github/workflows/tenant-rollout.yml#waves': ['deployments', 'id-token'],
  // A sharded run's wave records come from the merge, which alone sees every shard's slice.
  '.github/workflows/tenant-rollout.yml#report': ['deployments'],
  '.github/workflows/release.yml#tenants': ['deployments', 'id-token'],
  'workflows/release-on-tag.yml#(top level)': ['deployments', 'id-token', 'packages'],
  'workflows/manual-rollout.yml#(top level)': ['deployments', 'id-token'],
};

/** Steps whose action needs an OIDC token (id-token: write). */
const OIDC_ACTIONS = [/^aws-actions\/configure-aws-credentials@/, /^google-github-actions\/auth@/, /^azure\/login@/];
const isOidcLogin = (uses: string | undefined) => !!uses && OIDC_ACTIONS.some((re) => re.test(uses));

/**
 * A step logs in by OIDC when its action is an OIDC login, or one of our composite actions holding
 * one (cloud-login) given settings: without any, every input is empty and it logs in nowhere (as
 * ci.yml runs it, with no token).
 */
function stepNeedsOidc(s: Step): boolean {
  if (isOidcLogin(s.uses)) return true;
  const folder = s.uses ? ownActionFolder(s.uses) : undefined;
  const meta = folder === undefined ? undefined : actionMeta(folder);
  return !!meta && meta.steps.some((x) => isOidcLogin(x.uses)) && Object.keys(s.with ?? {}).length > 0;
}

/** A job needs id-token: write when it runs an OIDC login, or calls a workflow with a job that does. */
function jobNeedsOidc(j: Job): boolean {
  if ((j.steps ?? []).some(stepNeedsOidc)) return true;
  const target = j.uses ? ownWorkflowPath(j.uses) : undefined;
  return !!target && Object.values(byPath(target).doc.jobs).some(jobNeedsOidc);
}

/** The one cloud login: our composite action, as the workflows reference it. */
const CLOUD_LOGIN = 'dotmac/deploy-actions/cloud-login@v1';
/** Its inputs: the OIDC settings, each passed through under the workflow input of the same name. */
const OIDC_INPUTS = [
  'aws-role-to-assume',
  'aws-role-duration-seconds',
  'aws-region',
  'eks-clusters',
  'gcp-workload-identity-provider',
  'gcp-service-account',
  'gke-clusters',
  'azure-client-id',
  'azure-tenant-id',
  'azure-subscription-id',
  'aks-resource-group',
  'aks-clusters',
];

/** Outputs of a job: its `outputs`, or for a job calling a reusable workflow, that workflow's outputs. */
function jobOutputs(w: WorkflowFile, id: string): string[] {
  const j = w.doc.jobs[id];
  if (!j) return [];
  const target = j.uses ? ownWorkflowPath(j.uses) : undefined;
  if (target) return Object.keys(trigger<CallDecl>(byPath(target).doc, 'workflow_call')?.outputs ?? {});
  return Object.keys(j.outputs ?? {});
}

const allSteps = (w: WorkflowFile) => Object.entries(w.doc.jobs).flatMap(([job, j]) => (j.steps ?? []).map((s, i) => ({ job, j, s, i })));

describe.each(files.map((f) => [f.path, f] as const))('%s', (path, w) => {
  const jobs = Object.entries(w.doc.jobs);
  const call = trigger<CallDecl>(w.doc, 'workflow_call');
  const dispatch = trigger<{ inputs?: Record<string, unknown> }>(w.doc, 'workflow_dispatch');

  it('never runs on pull_request_target', () => {
    expect(trigger(w.doc, 'pull_request_target')).toBeUndefined();
  });

  it('declares permissions explicitly and minimally', () => {
    expect(w.doc.permissions, 'top-level permissions').toBeDefined();
    for (const [id, j] of [['(top level)', { permissions: w.doc.permissions } as Job] as const, ...jobs]) {
      const perms = j.permissions;
      expect(typeof perms === 'string' ? perms : '', `${id}: no read-all / write-all`).not.toMatch(/-all$/);
      if (perms === undefined) continue;
      expect(typeof perms, `${id}: permissions as a map`).toBe('object');
      const writes = Object.entries(perms as Record<string, string>)
        .filter(([, v]) => v === 'write')
        .map(([k]) => k)
        .sort();
      expect(writes, `${path}#${id} writes`).toEqual(WRITES[`${path}#${id}`] ?? []);
    }
    for (const [id, j] of jobs) {
      const needsOidc = jobNeedsOidc(j);
      const perms = typeof j.permissions === 'object' ? j.permissions : typeof w.doc.permissions === 'object' ? w.doc.permissions : {};
      expect(perms['id-token'] === 'write', `${id}: id-token: write only with an OIDC login step`).toBe(needsOidc);
    }
  });

  it('pins every third-party action and reusable workflow to a full commit SHA with a version comment', () => {
    const uses = [...allSteps(w).map(({ s }) => s.uses), ...jobs.map(([, j]) => j.uses)].filter((u): u is string => !!u);
    expect(uses.length).toBeGreaterThan(0);
    for (const u of uses) {
      if (ownActionFolder(u) !== undefined || ownWorkflowPath(u)) continue;
      if (u.startsWith('docker://')) {
        expect(u, 'a docker action by digest').toMatch(/@sha256:[0-9a-f]{64}$/);
        continue;
      }
      expect(u, 'owner/repo@<40 hex>').toMatch(/^[\w.-]+\/[\w./-]+@[0-9a-f]{40}$/);
      for (const line of w.text.split('\n').filter((l) => l.includes(u)))
        expect(line, 'a "# vX" comment names the version').toMatch(/#\s*v\d+(\.\d+)*\s*$/);
    }
  });

  it('uses only actions of this repository that exist, with declared inputs and outputs', () => {
    for (const { job, s, i } of allSteps(w)) {
      if (!s.uses) continue;
      const folder = ownActionFolder(s.uses);
      if (folder === undefined) continue;
      const where = `${job}.steps[${i}] (${s.uses})`;
      if (s.uses.startsWith('dotmac/')) expect(s.uses, where).toMatch(/@v\d+$/);
      const meta = actionMeta(folder);
      expect(meta, `${where}: ${folder || '(root)'}/action.yml exists`).toBeDefined();
      const declared = new Set(Object.keys(meta!.inputs));
      for (const key of Object.keys(s.with ?? {}))
        expect(declared.has(key), `${where}: with.${key} is an input of ${folder}/action.yml`).toBe(true);
      for (const [name, decl] of Object.entries(meta!.inputs)) {
        if (decl.required && decl.default === undefined)
          expect(Object.keys(s.with ?? {}), `${where}: required input ${name}`).toContain(name);
      }
    }
    // steps.<id>.outputs.<name> of our actions are declared outputs.
    for (const [job, j] of jobs) {
      const stepById = new Map((j.steps ?? []).filter((s) => s.id).map((s) => [s.id!, s]));
      for (const r of outputRefs(j, 'steps')) {
        const s = stepById.get(r.id);
        expect(s, `${job}: ${r.at} refers to step ${r.id}, which exists in this job`).toBeDefined();
        const folder = s!.uses ? ownActionFolder(s!.uses) : undefined;
        if (folder === undefined) continue;
        const outs = new Set(Object.keys(actionMeta(folder)?.outputs ?? {}));
        expect(outs.has(r.output), `${job}: ${r.at}: ${folder} has an output ${r.output}`).toBe(true);
      }
    }
  });

  it('calls reusable workflows of this repository that exist, with declared inputs and secrets', () => {
    for (const [id, j] of jobs) {
      if (!j.uses) continue;
      const target = ownWorkflowPath(j.uses);
      expect(target, `${id}: calls a workflow of this repository`).toBeDefined();
      if (j.uses.startsWith('dotmac/')) expect(j.uses, id).toMatch(/@v\d+$/);
      expect(existsSync(join(repoRoot, target!)), `${target} exists`).toBe(true);
      const callee = trigger<CallDecl>(byPath(target!).doc, 'workflow_call');
      expect(callee, `${target} is on: workflow_call`).toBeDefined();
      const inputs = callee!.inputs ?? {};
      for (const key of Object.keys(j.with ?? {}))
        expect(Object.keys(inputs), `${id}: with.${key} is an input of ${target}`).toContain(key);
      for (const [name, d] of Object.entries(inputs))
        if (d.required) expect(Object.keys(j.with ?? {}), `${id}: required input ${name} of ${target}`).toContain(name);
      if (j.secrets === 'inherit') continue;
      for (const key of Object.keys(j.secrets ?? {}))
        expect(Object.keys(callee!.secrets ?? {}), `${id}: secret ${key} is declared by ${target}`).toContain(key);
    }
  });

  it('uses only the inputs it declares, and declares none it does not use', () => {
    const declared = { ...(call?.inputs ?? {}), ...((dispatch?.inputs ?? {}) as Record<string, unknown>) };
    const used = refs(w.doc.jobs, 'inputs');
    for (const r of refs({ 'run-name': (w.doc as { 'run-name'?: string })['run-name'], c: w.doc.concurrency }, 'inputs')) used.add(r);
    for (const u of used) expect(Object.keys(declared), `inputs.${u} is declared`).toContain(u);
    for (const d of Object.keys(declared)) expect([...used], `input ${d} is used`).toContain(d);
    if (call) {
      const secretsUsed = refs(w.doc.jobs, 'secrets');
      secretsUsed.delete('GITHUB_TOKEN');
      for (const s of secretsUsed) expect(Object.keys(call.secrets ?? {}), `secrets.${s} is declared in workflow_call`).toContain(s);
      for (const s of Object.keys(call.secrets ?? {})) expect([...secretsUsed], `secret ${s} is used`).toContain(s);
    }
  });

  it('reads needs outputs only from jobs it needs, and only outputs they declare', () => {
    for (const [id, j] of jobs) {
      for (const r of outputRefs(j, 'needs')) {
        expect(needsOf(j), `${id}: ${r.at} reads needs.${r.id}`).toContain(r.id);
        expect(jobOutputs(w, r.id), `${id}: job ${r.id} declares output ${r.output}`).toContain(r.output);
      }
      for (const n of needsOf(j)) expect(Object.keys(w.doc.jobs), `${id} needs ${n}`).toContain(n);
    }
    for (const r of outputRefs(call?.outputs ?? {}, 'jobs'))
      expect(jobOutputs(w, r.id), `workflow output reads jobs.${r.id}.outputs.${r.output}`).toContain(r.output);
  });

  it('never interpolates expressions into shell scripts (values go through env)', () => {
    for (const { job, s, i } of allSteps(w)) {
      if (s.run) expect(s.run, `${job}.steps[${i}].run`).not.toMatch(/\$\{\{/);
    }
  });

  it('sets concurrency so two runs never overlap half-way (or every job calls a workflow that does)', () => {
    const own = w.doc.concurrency;
    if (own === undefined) {
      for (const [id, j] of jobs) {
        const target = j.uses ? ownWorkflowPath(j.uses) : undefined;
        expect(target, `${id}: without concurrency of its own, only calls workflows`).toBeDefined();
        expect(byPath(target!).doc.concurrency, `${target} sets concurrency`).toBeDefined();
      }
      return;
    }
    expect(typeof own === 'object' && own.group, 'a concurrency group').toBeTruthy();
    if (path !== '.github/workflows/ci.yml')
      expect((own as { 'cancel-in-progress'?: unknown })['cancel-in-progress'], 'a deploy is never cancelled by the next run').toBe(false);
  });
});

describe('tenant-rollout.yml: plan -> pilot -> waves (the one gate) -> report', () => {
  const w = byPath('.github/workflows/tenant-rollout.yml');
  const { jobs } = w.doc;
  const call = trigger<CallDecl>(w.doc, 'workflow_call')!;
  const rollout = (j: Job): Step => {
    const s = (j.steps ?? []).filter((x) => x.uses?.startsWith('dotmac/deploy-actions/tenant-rollout@'));
    expect(s).toHaveLength(1);
    return s[0]!;
  };

  it('runs the jobs in order', () => {
    expect(Object.keys(jobs)).toEqual(['plan', 'pilot', 'waves', 'report']);
    expect(needsOf(jobs.plan!)).toEqual([]);
    expect(needsOf(jobs.pilot!)).toEqual(['plan']);
    expect(needsOf(jobs.waves!).sort()).toEqual(['pilot', 'plan']);
    expect(needsOf(jobs.report!).sort()).toEqual(['pilot', 'plan', 'waves']);
    expect(jobs.report!.if).toBe('always()');
    expect(jobs.waves!.if, 'waves run only after a successful pilot').toBeUndefined();
  });

  it('gives each job its environment; exactly one job references the gated one', () => {
    expect(envName(jobs.plan!)).toBeUndefined();
    expect(envName(jobs.report!)).toBeUndefined();
    expect(envName(jobs.pilot!)).toBe('${{ inputs.pilot-environment }}');
    expect(envName(jobs.waves!)).toBe("${{ needs.plan.outputs.gate == 'none' && inputs.ungated-environment || inputs.environment }}");
    const gated = Object.entries(jobs).filter(([, j]) => refs(j.environment ?? '', 'inputs').has('environment'));
    expect(gated.map(([id]) => id)).toEqual(['waves']);
    // Other jobs read the gated environment's name only to check it through the API (issue 14):
    // plan first (before the pilot), pilot for its approval-needed notice.
    expect(
      Object.entries(jobs)
        .filter(([, j]) => refs(j, 'inputs').has('environment'))
        .map(([id]) => id),
    ).toEqual(['plan', 'pilot', 'waves']);
    for (const id of ['plan', 'pilot', 'waves']) {
      const step = jobs[id]!.steps!.find((st) => st.uses?.includes('tenant-rollout@'))!;
      expect(String(step.with!['approval-environment']), id).toContain('inputs.environment');
    }
    expect(call.inputs!['pilot-environment']!.default).toBe('tenants-pilot');
    expect(call.inputs!.environment!.default).toBe('tenants');
    expect(call.inputs!['ungated-environment']!.default).toBe('tenants-auto');
  });

  it('plans once, and the pilot and the waves run that plan, handed over as an artifact', () => {
    expect(rollout(jobs.plan!).with?.phase).toBe('plan');
    // The plan job keeps the plan file the action wrote, under one artifact name.
    const keep = jobs.plan!.steps!.find((s) => s.name === 'Show the plan and the promotion gate')!;
    expect(keep.env?.PLAN_FILE).toBe('${{ steps.plan.outputs.plan-file }}');
    expect(keep.run).toContain('cp "$PLAN_FILE" "$RUNNER_TEMP/tenant-rollout-plan/plan.json"');
    const up = jobs.plan!.steps!.find((s) => s.uses?.startsWith('actions/upload-artifact@'))!;
    expect(up.with).toMatchObject({ path: '${{ runner.temp }}/tenant-rollout-plan/plan.json', 'if-no-files-found': 'error' });
    expect(up.with?.name).toBe(jobs.plan!.outputs!['plan-artifact']);
    expect(jobs.plan!.outputs!['plan-fingerprint']).toBe('${{ steps.plan.outputs.plan-fingerprint }}');
    for (const [id, phase] of [
      ['pilot', 'pilot'],
      ['waves', 'waves'],
    ] as const) {
      const steps = jobs[id]!.steps!;
      const s = rollout(jobs[id]!);
      expect(s.with?.phase, id).toBe(phase);
      expect(s.with?.plan, `${id}: never the plan by value`).toBeUndefined();
      const down = steps.findIndex((x) => x.uses?.startsWith('actions/download-artifact@') && x.with?.name);
      expect(steps[down]?.with, id).toEqual({
        name: '${{ needs.plan.outputs.plan-artifact }}',
        path: '${{ runner.temp }}/tenant-rollout-plan',
      });
      expect(down, `${id}: the plan is fetched before it runs`).toBeLessThan(steps.indexOf(s));
      expect(s.with?.['plan-file'], `${id} runs the approved plan`).toBe('${{ runner.temp }}/tenant-rollout-plan/plan.json');
    }
    // The tenant selection is the same in every job (the plan checks it, but keep them equal).
    const sel = ['tenants-file', 'tenants', 'selector', 'include', 'exclude', 'release-name', 'namespace-prefix', 'pilot', 'batch-size'];
    const pick = (s: Step) => Object.fromEntries(sel.map((k) => [k, s.with?.[k]]));
    expect(pick(rollout(jobs.pilot!))).toEqual(pick(rollout(jobs.plan!)));
    expect(pick(rollout(jobs.waves!))).toEqual(pick(rollout(jobs.plan!)));
  });

  it('puts the plan and the promotion decision in the plan job summary and outputs', () => {
    expect(jobs.plan!.outputs).toMatchObject({
      gate: '${{ steps.plan.outputs.gate }}',
      promotion: '${{ steps.plan.outputs.promotion }}',
      'fleet-version': '${{ steps.plan.outputs.fleet-version }}',
      'promotion-reason': '${{ steps.plan.outputs.promotion-reason }}',
    });
    const show = jobs.plan!.steps!.find((s) => s.run?.includes('GITHUB_STEP_SUMMARY'));
    expect(show?.env).toMatchObject({
      PLAN_FILE: '${{ steps.plan.outputs.plan-file }}',
      REASON: '${{ steps.plan.outputs.promotion-reason }}',
    });
    expect(rollout(jobs.plan!).with).toMatchObject({
      'release-version': '${{ inputs.release-version }}',
      'maintenance-window': '${{ inputs.maintenance-window }}',
    });
  });

  it('watches the pilot for pilot-soak (default 30m) against the tenants not yet updated, then smoke-tests it', () => {
    const steps = jobs.pilot!.steps!;
    const idx = (prefix: string) => steps.findIndex((s) => s.uses?.startsWith(prefix));
    const [r, smoke] = ['dotmac/deploy-actions/tenant-rollout@', 'dotmac/deploy-actions/smoke-test@'].map(idx);
    expect(r).toBeGreaterThanOrEqual(0);
    expect(smoke).toBeGreaterThan(r!);
    expect(steps[smoke!]!.with?.report).toBe('${{ steps.rollout.outputs.report-file }}');
    // The soak runs inside phase pilot, where the plan names the tenants not yet updated.
    expect(steps[r!]!.with).toMatchObject({ phase: 'pilot', soak: '${{ inputs.pilot-soak }}', analysis: '${{ inputs.analysis }}' });
    expect(call.inputs!['pilot-soak']!.default).toBe('30m');
    // Between waves: not 0, so fleet comparison happens in the shipped workflow.
    expect(rollout(jobs.waves!).with).toMatchObject({ soak: '${{ inputs.soak }}', analysis: '${{ inputs.analysis }}' });
    expect(call.inputs!.soak!.default).toBe('10m');
    // auto-rollback on a pilot-only report would compare the pilot with no one.
    expect(steps.filter((s) => s.uses?.includes('/auto-rollback@'))).toEqual([]);
    expect((jobs.waves!.steps ?? []).filter((s) => s.uses?.includes('/smoke-test@') || s.uses?.includes('/auto-rollback@'))).toEqual([]);
  });

  it('the waves job checks the maintenance window it was given', () => {
    expect(rollout(jobs.waves!).with).toMatchObject({
      'maintenance-window': '${{ inputs.maintenance-window }}',
      'change-ticket': '${{ inputs.change-ticket }}',
      'outside-window': '${{ inputs.outside-window }}',
      'window-wait-max': '${{ inputs.window-wait-max }}',
    });
  });

  it('keeps every phase report, and the report job summarises them whatever happened', () => {
    for (const id of ['pilot', 'waves']) {
      const up = jobs[id]!.steps!.find((s) => s.uses?.startsWith('actions/upload-artifact@'));
      expect(up?.if, id).toBe('always()');
      expect(String(up?.with?.name)).toMatch(new RegExp(`^tenant-rollout-report-${id}`));
    }
    expect(jobs.report!.if).toBe('always()');
    expect(jobs.report!.permissions).toEqual({ deployments: 'write' });
  });

  describe('cloud credentials by OIDC (issue 12)', () => {
    const login = (j: Job) => (j.steps ?? []).filter((s) => s.uses === CLOUD_LOGIN);

    it('id-token: write only in the jobs that deploy, which are the only ones logging in', () => {
      const withToken = Object.entries(jobs)
        .filter(([, j]) => typeof j.permissions === 'object' && j.permissions['id-token'] === 'write')
        .map(([id]) => id);
      expect(withToken).toEqual(['pilot', 'waves']);
      expect(w.doc.permissions).toEqual({});
      for (const id of ['plan', 'report']) {
        expect(login(jobs[id]!), id).toEqual([]);
        expect(jobs[id]!.steps!.filter(stepNeedsOidc), id).toEqual([]);
      }
    });

    it('pilot and waves log in through cloud-login, the same way, before anything reads the cluster', () => {
      for (const id of ['pilot', 'waves']) {
        const j = jobs[id]!;
        const steps = j.steps!;
        expect(login(j), id).toHaveLength(1);
        const at = steps.indexOf(login(j)[0]!);
        expect(at, id).toBeLessThan(steps.indexOf(rollout(j)));
        // No login step of its own: the logins live in cloud-login only.
        expect(steps.filter((s) => isOidcLogin(s.uses)).length, id).toBe(0);
        expect(login(j)[0]!.if, `${id}: it checks and skips by itself`).toBeUndefined();
        expect(login(j)[0]!.with, id).toEqual(Object.fromEntries(OIDC_INPUTS.map((n) => [n, `\${{ inputs.${n} }}`])));
        // The static kubeconfig secret stays possible: with it empty, the action uses the KUBECONFIG the logins exported.
        expect(rollout(j).with?.kubeconfig).toBe('${{ secrets.kubeconfig }}');
      }
      expect(login(jobs.waves!)).toEqual(login(jobs.pilot!));
    });

    it('declares each cloud-login input as an optional string of the same name, as cloud-login does', () => {
      const action = Object.keys(actionMeta('cloud-login')!.inputs);
      for (const n of action) expect(call.inputs![n], n).toMatchObject({ type: 'string', default: '', description: expect.any(String) });
    });
  });

  describe('sharded waves (issue 13)', () => {
    const SFX = "${{ inputs.fleet && format('-{0}', inputs.fleet) || '' }}";
    const waves = jobs.waves!;
    const report = jobs.report!;
    const step = (j: Job, pred: (s: Step) => boolean) => j.steps!.find(pred);

    it('takes shards (default 1) and validates it in the plan job, before anything else', () => {
      expect(call.inputs!.shards).toMatchObject({ type: 'number', default: 1 });
      const first = jobs.plan!.steps![0]!;
      expect(first.id).toBe('shards');
      expect(first.env).toEqual({ SHARDS: '${{ inputs.shards }}' });
      expect(jobs.plan!.outputs!['shard-indexes']).toBe('${{ steps.shards.outputs.indexes }}');
    });

    it('runs the waves as a matrix over the shard indexes, fail-fast off, each shard its slice', () => {
      expect(waves.strategy?.['fail-fast']).toBe(false);
      expect(waves.strategy?.matrix).toEqual({ 'shard-index': '${{ fromJSON(needs.plan.outputs.shard-indexes) }}' });
      // No max-parallel: a shard never waits for one that has not started (the live ones take its slices).
      expect(waves.strategy?.['max-parallel']).toBeUndefined();
      expect(rollout(waves).with).toMatchObject({ shards: '${{ inputs.shards }}', 'shard-index': '${{ matrix.shard-index }}' });
      // Matrix outputs are whichever shard finished last: the report job owns the outputs.
      expect(waves.outputs).toBeUndefined();
    });

    it('each shard uploads its own report under its own name, which the report job downloads', () => {
      const file = String(rollout(waves).with!['report-file']);
      expect(file).toBe('${{ runner.temp }}/tenant-rollout-reports/waves-shard-${{ matrix.shard-index }}.json');
      const up = step(waves, (s) => !!s.uses?.startsWith('actions/upload-artifact@'))!;
      expect(up.with).toMatchObject({
        name: `tenant-rollout-report-waves-shard-\${{ matrix.shard-index }}${SFX}`,
        path: '${{ runner.temp }}/tenant-rollout-reports/',
      });
      const down = step(report, (s) => s.name === 'Fetch the shard reports')!;
      expect(down.uses).toMatch(/^actions\/download-artifact@/);
      expect(down.with).toEqual({
        pattern: `tenant-rollout-report-waves-shard-*${SFX}`,
        path: '${{ runner.temp }}/tenant-rollout-shards',
        'merge-multiple': true,
      });
      // The pattern matches every shard's name and nothing of the pilot's.
      const pattern = new RegExp(`^${String(down.with!.pattern).replace(SFX, '').replace('*', '.*')}$`);
      expect(String(up.with!.name).replace(SFX, '').replace('${{ matrix.shard-index }}', '17')).toMatch(pattern);
      const pilotUp = step(jobs.pilot!, (s) => !!s.uses?.startsWith('actions/upload-artifact@'))!;
      expect(String(pilotUp.with!.name).replace(SFX, '')).not.toMatch(pattern);
      // The plan the shards ran is the plan the report job merges against.
      const plan = step(report, (s) => s.name === 'Fetch the plan')!;
      expect(plan.with).toMatchObject({ pattern: jobs.plan!.outputs!['plan-artifact'], path: '${{ runner.temp }}/tenant-rollout-plan' });
    });

    it('the report job merges the shard reports into one report artifact and one summary, and owns the outputs', () => {
      const steps = report.steps!;
      const merge = steps.findIndex((s) => s.id === 'merge');
      const m = steps[merge]!;
      expect(m.uses).toBe('dotmac/deploy-actions/tenant-rollout@v1');
      expect(m.with).toMatchObject({
        phase: 'waves',
        'plan-file': '${{ runner.temp }}/tenant-rollout-plan/plan.json',
        'merge-reports': '${{ runner.temp }}/tenant-rollout-shards',
        'report-file': '${{ runner.temp }}/tenant-rollout-reports/waves.json',
      });
      // A sharded run's one observer: the shard count, and what the records and notices need.
      expect(m.with).toMatchObject({
        shards: '${{ inputs.shards }}',
        'deployment-records': '${{ inputs.deployment-records }}',
        notify: '${{ secrets.notify }}',
        'notify-events': '${{ inputs.notify-events }}',
        'notify-signing-key': '${{ secrets.notify-signing-key }}',
      });
      expect(m['continue-on-error'], 'a failed rollout still gets its summary and outputs').toBe(true);
      expect(m.if).toBe("steps.found.outputs.reports != '0'");
      // Exactly one merge, one merged upload, and the summary after them.
      expect(steps.filter((s) => s.uses?.startsWith('dotmac/deploy-actions/tenant-rollout@'))).toHaveLength(1);
      const ups = steps.filter((s) => s.uses?.startsWith('actions/upload-artifact@'));
      expect(ups).toHaveLength(1);
      expect(ups[0]!.with).toMatchObject({
        name: `tenant-rollout-report-waves${SFX}`,
        path: '${{ runner.temp }}/tenant-rollout-reports/waves.json',
      });
      expect(steps.indexOf(ups[0]!)).toBeGreaterThan(merge);
      const summary = steps.findIndex((s) => s.id === 'summary');
      expect(summary).toBeGreaterThan(merge);
      expect(steps[summary]!.env).toMatchObject({
        REPORTS: '${{ runner.temp }}/tenant-rollout-reports',
        MERGED: "${{ steps.merge.outputs.report-file != '' }}",
      });
      expect(report.outputs!['report-url']).toBe('${{ steps.upload.outputs.artifact-url || needs.pilot.outputs.report-url }}');
      expect(call.outputs!['plan-artifact']!.value).toBe('${{ jobs.plan.outputs.plan-artifact }}');
    });

    it('hands nothing sized by the fleet over by value: no plan or report in an output, input or env', () => {
      const outs = Object.entries(jobs).flatMap(([id, j]) => Object.entries(j.outputs ?? {}).map(([k, v]) => [`${id}.${k}`, v] as const));
      for (const [k, v] of outs) expect(v, k).not.toMatch(/outputs\.(plan|report)\b(?!-)/);
      for (const { at, expr } of expressions(jobs)) expect(expr, at).not.toMatch(/outputs\.(plan|report) ?(\}|$)/);
      expect(Object.keys(call.outputs ?? {})).not.toContain('plan');
    });
  });

  it('takes credentials as secrets only, and every knob as an input', () => {
    expect(Object.keys(call.secrets ?? {})).toContain('kubeconfig');
    expect(call.secrets!.kubeconfig!.required).toBe(false);
    for (const k of [
      'chart',
      'chart-version',
      'set',
      'values-files',
      'selector',
      'pilot',
      'batch-size',
      'max-failures',
      'soak',
      'pilot-soak',
      'analysis',
      'pilot-environment',
      'environment',
      'ungated-environment',
      'runs-on',
      'dry-run',
      'release-version',
      'maintenance-window',
      'fleet',
    ]) {
      expect(Object.keys(call.inputs ?? {}), k).toContain(k);
    }
    for (const j of Object.values(jobs)) expect(j['runs-on']).toBe('${{ inputs.runs-on }}');
    expect(w.doc.concurrency).toMatchObject({
      group: expect.stringContaining('${{ inputs.fleet || github.repository }}'),
      'cancel-in-progress': false,
    });
  });
});

describe('release.yml: build -> control plane (platform) -> tenant rollout with the built digests', () => {
  const w = byPath('.github/workflows/release.yml');
  const { jobs } = w.doc;

  it('runs the jobs in order, the control plane in the platform environment', () => {
    expect(Object.keys(jobs)).toEqual(['build', 'control-plane', 'tenants']);
    expect(needsOf(jobs['control-plane']!)).toEqual(['build']);
    expect(needsOf(jobs.tenants!).sort()).toEqual(['build', 'control-plane']);
    expect(envName(jobs['control-plane']!)).toBe('${{ inputs.platform-environment }}');
    expect(trigger<CallDecl>(w.doc, 'workflow_call')!.inputs!['platform-environment']!.default).toBe('platform');
    expect(jobs.build!.steps!.some((s) => s.uses === 'dotmac/deploy-actions/build-images@v1')).toBe(true);
    // The tenants go ahead without a control plane (skipped), never after a failed or unverified one.
    expect(jobs.tenants!.if).toContain(
      "(needs.control-plane.result == 'success' && needs.control-plane.outputs.verified == 'true') || needs.control-plane.result == 'skipped'",
    );
  });

  it('deploys the control plane blue-green by default: idle color, smoke checks before the switch, a watch with switch-back', () => {
    const call = trigger<CallDecl>(w.doc, 'workflow_call')!;
    expect(call.inputs!['platform-strategy']!.default).toBe('blue-green');
    expect(call.inputs!['platform-watch']!.default).not.toMatch(/^0/);
    const steps = jobs['control-plane']!.steps!;
    const deploy = steps.findIndex((s) => s.id === 'deploy');
    // The root action: deploy + smoke (blue-green: through the idle color's own Service, before the
    // switch) + watch window whose breach switches the live Service back.
    expect(steps[deploy]!.uses).toBe('dotmac/deploy-actions@v1');
    expect(steps[deploy]!.with).toMatchObject({
      strategy: '${{ inputs.platform-strategy }}',
      'initial-color': 'blue',
      'smoke-url': '${{ inputs.platform-smoke-url }}',
      watch: '${{ inputs.platform-watch }}',
      metrics: '${{ inputs.platform-metrics }}',
    });
    // No second deploy of the control plane anywhere else in the job.
    expect(steps.filter((s) => s.uses?.includes('/helm-deploy@') || s.uses === 'dotmac/deploy-actions@v1')).toHaveLength(1);
    const verified = steps.findIndex((s) => s.id === 'verified');
    expect(verified).toBeGreaterThan(deploy);
    expect(jobs['control-plane']!.outputs!.verified).toBe('${{ steps.verified.outputs.verified }}');
    expect(steps[verified]!.env).toMatchObject({
      STATUS: '${{ steps.deploy.outputs.status }}',
      VERDICT: '${{ steps.deploy.outputs.verdict }}',
      ROLLED_BACK: '${{ steps.deploy.outputs.rolled-back }}',
    });
    // Every tenant job runs after the control plane: the nested workflow is the only tenant job.
    expect(needsOf(jobs.tenants!)).toContain('control-plane');
  });

  it('passes shards and the OIDC settings through to tenant-rollout.yml, under their names', () => {
    const own = trigger<CallDecl>(w.doc, 'workflow_call')!.inputs!;
    const callee = trigger<CallDecl>(byPath('.github/workflows/tenant-rollout.yml').doc, 'workflow_call')!.inputs!;
    const names = Object.keys(callee).filter((k) => k === 'shards' || /^(aws|gcp|azure|eks|gke|aks)-/.test(k));
    expect(names).toHaveLength(13);
    expect(names).toContain('aws-role-duration-seconds');
    for (const n of names) {
      expect(own[n], n).toEqual(
        callee[n]!.type === 'number' ? expect.objectContaining({ type: 'number' }) : expect.objectContaining({ default: '' }),
      );
      expect(jobs.tenants!.with![n], n).toBe(`\${{ inputs.${n} }}`);
    }
    expect(jobs.tenants!.permissions).toMatchObject({ 'id-token': 'write' });
  });

  it('the control plane logs in by OIDC as the tenants do (cloud-login), before its deploy; the kubeconfig secret stays possible', () => {
    const cp = jobs['control-plane']!;
    expect(cp.permissions).toEqual({ contents: 'read', 'id-token': 'write' });
    const steps = cp.steps!;
    const logins = steps.filter((s) => s.uses === CLOUD_LOGIN);
    expect(logins).toHaveLength(1);
    expect(steps.indexOf(logins[0]!)).toBeLessThan(steps.findIndex((s) => s.id === 'deploy'));
    expect(steps.filter((s) => isOidcLogin(s.uses))).toEqual([]);
    // The same settings, passed the same way as tenant-rollout.yml's pilot passes them.
    const pilot = byPath('.github/workflows/tenant-rollout.yml').doc.jobs.pilot!.steps!.find((s) => s.uses === CLOUD_LOGIN)!;
    expect(logins[0]!.with).toEqual(pilot.with);
    expect(logins[0]!.with).toEqual(Object.fromEntries(OIDC_INPUTS.map((n) => [n, `\${{ inputs.${n} }}`])));
    expect(steps.find((s) => s.id === 'deploy')!.with!.kubeconfig).toBe('${{ secrets.kubeconfig }}');
  });

  it('calls tenant-rollout.yml by repository and ref, with the digests and the version built', () => {
    expect(jobs.tenants!.uses).toBe('dotmac/deploy-actions/.github/workflows/tenant-rollout.yml@v1');
    expect(jobs.tenants!.with).toMatchObject({
      'set-string': '${{ needs.build.outputs.tenant-set-string }}',
      'release-version': '${{ inputs.release-version || needs.build.outputs.version }}',
    });
    expect(jobs['control-plane']!.steps!.find((s) => s.id === 'deploy')!.with!['set-string']).toBe(
      '${{ needs.build.outputs.platform-set-string }}',
    );
  });
});

describe('cloud-login/action.yml: the one OIDC login (issue 12)', () => {
  const a = actionMeta('cloud-login')!;
  const steps = a.steps;
  const LOGINS: Record<string, RegExp> = {
    aws: /^aws-actions\/configure-aws-credentials@e6de054238d6b7531b4efff3b6587d9aade6a06c$/,
    gcp: /^google-github-actions\/auth@7c6bc770dae815cd3e89ee6cdf493a5fab2cc093$/,
    gke: /^google-github-actions\/get-gke-credentials@3da1e46a907576cefaa90c484278bb5b259dd395$/,
    azure: /^azure\/login@f5d393ae46f8fde4be8b75f32e3fc50e654ad0ca$/,
  };
  const byUse = (re: RegExp) => steps.filter((s) => re.test(s.uses ?? ''));

  it('is a composite action whose inputs are the OIDC settings, all optional', () => {
    expect(a.using).toBe('composite');
    expect(Object.keys(a.inputs)).toEqual(OIDC_INPUTS);
    for (const [k, v] of Object.entries(a.inputs)) expect(v, k).toMatchObject({ required: false, default: '' });
    expect(a.outputs['logged-in']!.value).toBe("${{ steps.credentials.outputs.kubeconfig != '' }}");
    expect(a.outputs.kubeconfig!.value).toBe('${{ steps.credentials.outputs.kubeconfig }}');
  });

  it('the id-token jobs are exactly the ones that deploy, and each logs in through cloud-login', () => {
    const withToken = files.flatMap((f) =>
      Object.entries(f.doc.jobs)
        .filter(([, j]) => j.steps && typeof j.permissions === 'object' && j.permissions['id-token'] === 'write')
        .map(([id, j]) => ({ at: `${f.path}#${id}`, j })),
    );
    expect(withToken.map((x) => x.at).sort()).toEqual([
      '.github/workflows/release.yml#control-plane',
      '.github/workflows/tenant-rollout.yml#pilot',
      '.github/workflows/tenant-rollout.yml#waves',
    ]);
    for (const { at, j } of withToken) expect(j.steps!.filter((s) => s.uses === CLOUD_LOGIN).length, at).toBe(1);
    // No workflow logs in by itself: every OIDC login action is inside cloud-login.
    for (const f of files) for (const { job, s } of allSteps(f)) expect(isOidcLogin(s.uses), `${f.path}#${job}: ${s.uses}`).toBe(false);
  });

  it('checks the settings first, then logs in to each configured cloud only, with the official actions pinned', () => {
    expect(steps[0]!.id).toBe('clouds');
    expect(steps.at(-1)!.id).toBe('credentials');
    for (const [cloud, re] of Object.entries(LOGINS)) expect(byUse(re).length, cloud).toBeGreaterThan(0);
    // Each login only when its cloud is configured (checked first by the clouds step).
    for (const s of steps.slice(1)) expect(s.if, s.name).toMatch(/^steps\.clouds\.outputs\./);
    expect(byUse(LOGINS.aws!)[0]!.with).toEqual({
      'role-to-assume': '${{ inputs.aws-role-to-assume }}',
      // As given: the clouds step lets only '' (the action's 3600 s: parseInt('') || 3600) or 900-43200 through.
      'role-duration-seconds': '${{ inputs.aws-role-duration-seconds }}',
      'aws-region': '${{ inputs.aws-region }}',
    });
    expect(byUse(LOGINS.gcp!)[0]!.with).toEqual({
      workload_identity_provider: '${{ inputs.gcp-workload-identity-provider }}',
      service_account: '${{ inputs.gcp-service-account }}',
    });
    expect(byUse(LOGINS.azure!)[0]!.with).toEqual({
      'client-id': '${{ inputs.azure-client-id }}',
      'tenant-id': '${{ inputs.azure-tenant-id }}',
      'subscription-id': '${{ inputs.azure-subscription-id }}',
    });
    // One get-gke-credentials per GKE cluster, each named like its cluster, all merged into one kubeconfig.
    const gke = byUse(LOGINS.gke!);
    expect(gke.map((s) => s.id)).toEqual(['gke-1', 'gke-2', 'gke-3', 'gke-4']);
    const creds = steps.at(-1)!;
    for (const s of gke) {
      expect(s.with?.context_name).toBe(s.with?.cluster_name);
      expect(String(creds.env?.GKE_KUBECONFIGS)).toContain(`steps.${s.id}.outputs.kubeconfig_path`);
    }
    expect(creds.run).toContain('echo "KUBECONFIG=$dir/config" >> "$GITHUB_ENV"');
    expect(creds.run).toContain('echo "kubeconfig=$dir/config" >> "$GITHUB_OUTPUT"');
    // Every input reaches the check through env:, under the same variable as before.
    expect(Object.values(steps[0]!.env ?? {}).sort()).toEqual(OIDC_INPUTS.map((n) => `\${{ inputs.${n} }}`).sort());
  });
});

describe.each(compositeActionFolders().map((f) => [f] as const))('%s/action.yml (composite)', (folder) => {
  const a = actionMeta(folder)!;
  const text = readFileSync(join(repoRoot, folder, 'action.yml'), 'utf8');

  it('pins every action it uses to a full commit SHA with a version comment', () => {
    const uses = a.steps.map((s) => s.uses).filter((u): u is string => !!u);
    expect(uses.length).toBeGreaterThan(0);
    for (const u of uses) {
      expect(u, 'owner/repo@<40 hex>').toMatch(/^[\w.-]+\/[\w./-]+@[0-9a-f]{40}$/);
      for (const line of text.split('\n').filter((l) => l.includes(u)))
        expect(line, 'a "# vX" comment names the version').toMatch(/#\s*v\d+(\.\d+)*\s*$/);
    }
  });

  it('runs its scripts in bash, with values through env only, and reads only its own inputs and steps', () => {
    for (const s of a.steps.filter((x) => x.run)) {
      expect(s.shell, s.name).toBe('bash');
      expect(s.run, s.name).not.toMatch(/\$\{\{/);
    }
    const ids = a.steps.map((s) => s.id).filter(Boolean);
    for (const r of outputRefs({ steps: a.steps, outputs: a.outputs }, 'steps')) expect(ids, r.at).toContain(r.id);
    for (const i of refs(a.steps, 'inputs')) expect(Object.keys(a.inputs), `inputs.${i}`).toContain(i);
    for (const i of Object.keys(a.inputs)) expect([...refs(a.steps, 'inputs')], `input ${i} is used`).toContain(i);
    for (const [k, v] of Object.entries({ ...a.inputs, ...a.outputs })) expect(v.description, k).toBeTruthy();
  });
});

describe('starter workflows', () => {
  it('release-on-tag: a v* tag calls release.yml', () => {
    const w = byPath('workflows/release-on-tag.yml').doc;
    expect(trigger<{ tags: string[] }>(w, 'push')).toEqual({ tags: ['v*'] });
    expect(Object.values(w.jobs).map((j) => j.uses)).toEqual(['dotmac/deploy-actions/.github/workflows/release.yml@v1']);
  });

  it('manual-rollout: workflow_dispatch with version, pilot, batch size, dry-run, only-tenants', () => {
    const w = byPath('workflows/manual-rollout.yml').doc;
    const inputs = trigger<{ inputs: Record<string, unknown> }>(w, 'workflow_dispatch')!.inputs;
    expect(Object.keys(inputs)).toEqual(expect.arrayContaining(['version', 'pilot', 'batch-size', 'dry-run', 'only-tenants']));
    expect(Object.keys(inputs).length, 'GitHub allows at most 10 dispatch inputs').toBeLessThanOrEqual(10);
    const job = Object.values(w.jobs)[0]!;
    expect(job.uses).toBe('dotmac/deploy-actions/.github/workflows/tenant-rollout.yml@v1');
    expect(job.with).toMatchObject({
      include: '${{ inputs.only-tenants }}',
      'release-version': '${{ inputs.version }}',
      'dry-run': '${{ inputs.dry-run }}',
    });
  });

  it('rollback: tenant-rollout phase rollback keyed by fleet, in its own concurrency group (never behind a waiting rollout)', () => {
    const w = byPath('workflows/rollback.yml').doc;
    const inputs = trigger<{ inputs: Record<string, unknown> }>(w, 'workflow_dispatch')!.inputs;
    expect(Object.keys(inputs)).toEqual(expect.arrayContaining(['fleet', 'run-id', 'tenants', 'selector']));
    expect(Object.keys(inputs).length, 'GitHub allows at most 10 dispatch inputs').toBeLessThanOrEqual(10);
    // One step does the work: the action's rollback, not a shell loop of its own.
    const steps = Object.values(w.jobs).flatMap((j) => j.steps ?? []);
    const roll = steps.filter((s) => s.uses?.startsWith('dotmac/deploy-actions/tenant-rollout@'));
    expect(roll).toHaveLength(1);
    expect(roll[0]!.with).toMatchObject({
      phase: 'rollback',
      fleet: '${{ inputs.fleet }}',
      tenants: '${{ inputs.tenants }}',
      selector: '${{ inputs.selector }}',
    });
    expect(String(roll[0]!.with!['rollback-report'])).toMatch(/inputs\.run-id/);
    expect(steps.some((s) => /helm"? rollback|\$helm/.test(s.run ?? ''))).toBe(false);
    // The reports come from that run's artifacts of this fleet, named as tenant-rollout.yml names them.
    const fetch = steps.find((s) => s.uses?.startsWith('actions/download-artifact@'))!;
    expect(fetch.with).toMatchObject({ 'run-id': '${{ inputs.run-id }}' });
    expect(fetch.with!.pattern).toBe("tenant-rollout-report-*${{ inputs.fleet && format('-{0}', inputs.fleet) || '' }}");
    // Keyed by the same fleet as the rollout, but its own group: it never queues behind a rollout
    // that waits for its approval (the fleet lock in the cluster keeps it off a deploying one).
    const rollout = (byPath('.github/workflows/tenant-rollout.yml').doc.concurrency as { group: string }).group;
    const own = (w.concurrency as { group: string }).group;
    expect(rollout).toContain('${{ inputs.fleet || github.repository }}');
    expect(own).toBe('deploy-actions-rollback-${{ inputs.fleet || github.repository }}');
    expect(own).not.toBe(rollout);
    expect(w.permissions).toEqual({ actions: 'read', contents: 'read' });
  });
});

describe("the suite's own CI and release", () => {
  it('ci.yml exercises every action through its own folder', () => {
    const w = byPath('.github/workflows/ci.yml').doc;
    const used = new Set(
      Object.values(w.jobs).flatMap((j) => (j.steps ?? []).map((s) => s.uses).filter((u): u is string => !!u?.startsWith('./'))),
    );
    const folders = actionFolders().map((f) => `./${f}`);
    if (existsSync(join(repoRoot, 'action.yml'))) folders.push('./');
    for (const f of folders) expect([...used], `ci.yml runs uses: ${f}`).toContain(f);
    expect(trigger(w, 'pull_request')).toBeDefined();
    expect(Object.values(w.jobs).some((j) => (j.steps ?? []).some((s) => s.run?.trim() === 'bash .ci/run'))).toBe(true);
    const e2e = Object.values(w.jobs).find((j) => (j.steps ?? []).some((s) => s.run?.includes('npm run test:e2e')));
    expect(e2e?.steps?.some((s) => s.uses?.startsWith('helm/kind-action@'))).toBe(true);
    expect(e2e?.steps?.find((s) => s.run?.includes('npm run test:e2e'))?.run).toMatch(/E2E_KUBECONFIG=/);
  });

  it('release-suite.yml: verifies dist from a clean build, then moves vX atomically behind the release environment', () => {
    const w = byPath('.github/workflows/release-suite.yml');
    const { jobs } = w.doc;
    expect(trigger<{ tags: string[] }>(w.doc, 'push')).toEqual({ tags: ['v[0-9]+.[0-9]+.[0-9]+'] });
    const verify = jobs.verify!.steps!.map((s) => s.run ?? '').join('\n');
    expect(verify).toMatch(/npm ci[\s\S]*npm run build[\s\S]*git status --porcelain --untracked-files=all -- dist/);
    expect(jobs.ci!.uses).toBe('./.github/workflows/ci.yml');
    const move = jobs['move-major']!;
    expect(needsOf(move).sort()).toEqual(['ci', 'verify']);
    expect(envName(move)).toBe('release');
    expect(
      Object.entries(jobs)
        .filter(([, j]) => envName(j) === 'release')
        .map(([id]) => id),
    ).toEqual(['move-major']);
    const script = move.steps!.map((s) => s.run ?? '').join('\n');
    expect(script).toContain('git push --atomic --force origin "$P2:refs/tags/$TAG" "$P2:refs/tags/$MAJOR"');
    // The pinning commits change .github/workflows/: GITHUB_TOKEN may not push them, so the
    // checkout (whose credentials the push uses) takes the environment's RELEASE_TOKEN, checked first.
    const checkout = move.steps!.findIndex((s) => s.uses?.startsWith('actions/checkout@'));
    expect(move.steps![checkout]!.with).toMatchObject({ token: '${{ secrets.RELEASE_TOKEN }}' });
    const check = move.steps!.findIndex((s) => /RELEASE_TOKEN/.test(s.run ?? ''));
    expect(check).toBeGreaterThanOrEqual(0);
    expect(check).toBeLessThan(checkout);
    expect(move.steps![check]!.run).toMatch(/-z "\$RELEASE_TOKEN"[\s\S]*exit 1/);
    expect(w.text, 'the major tag is never deleted').not.toMatch(/git tag -d|git push[^\n]*(--delete|\s:refs\/tags)/);
  });
});

describe('one vocabulary', () => {
  // The same meaning under another action's own name: the tenant URL template and checks that
  // tenant-rollout calls smoke-url/smoke-checks are smoke-test's url/checks.
  const SAME_MEANING = new Set(['smoke-url -> smoke-test url', 'smoke-checks -> smoke-test checks']);
  // Every input name of every action of the suite.
  const actionInputs = new Map<string, Set<string>>();
  for (const f of [...actionFolders(), '']) {
    const m = actionMeta(f);
    if (!m) continue;
    for (const k of Object.keys(m.inputs)) actionInputs.set(k, (actionInputs.get(k) ?? new Set()).add(f || '(root)'));
  }

  it.each(files.map((f) => [f.path, f] as const))('%s: an input named like an action input is passed under that name', (_p, w) => {
    const wrong: string[] = [];
    for (const [job, j] of Object.entries(w.doc.jobs)) {
      const withs: { target: string; with: Record<string, unknown> }[] = (j.steps ?? [])
        .filter((s) => s.uses && ownActionFolder(s.uses) !== undefined)
        .map((s) => ({ target: s.uses!, with: s.with ?? {} }));
      if (j.uses && ownWorkflowPath(j.uses)) withs.push({ target: j.uses, with: j.with ?? {} });
      for (const { target, with: w2 } of withs)
        for (const [k, v] of Object.entries(w2)) {
          const m = /^\$\{\{ inputs\.([a-z0-9-]+) \}\}$/.exec(String(v).trim());
          if (!m) continue;
          const name = m[1]!;
          const folder = ownActionFolder(target);
          if (folder !== undefined && SAME_MEANING.has(`${name} -> ${folder} ${k}`)) continue;
          if (name !== k && actionInputs.has(name))
            wrong.push(`${job}: inputs.${name} -> ${target} ${k} (${name} is an input of ${[...actionInputs.get(name)!].join(', ')})`);
        }
    }
    expect(wrong).toEqual([]);
  });
});

it('finds every workflow and its expressions', () => {
  expect(files.map((f) => f.path).sort()).toEqual(
    expect.arrayContaining([
      '.github/workflows/ci.yml',
      '.github/workflows/release-suite.yml',
      '.github/workflows/release.yml',
      '.github/workflows/tenant-rollout.yml',
      'workflows/manual-rollout.yml',
      'workflows/release-on-tag.yml',
      'workflows/rollback.yml',
    ]),
  );
  expect(expressions({ if: "inputs.a != ''", x: 'a ${{ inputs.b }} ${{ secrets.c }}' }).map((e) => e.expr.trim())).toEqual([
    "inputs.a != ''",
    'inputs.b',
    'secrets.c',
  ]);
});
