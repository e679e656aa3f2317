import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { Inputs } from '../../src/actions/common/inputs.ts';
import { parseInputs } from '../../src/actions/tenant-rollout/inputs.ts';
import { runTenantRollout } from '../../src/rollout/run.ts';
import { allowedFailures, parseMaxFailures } from '../../src/rollout/plan-spec.ts';
import { renderReport, reportLine } from '../../src/rollout/report.ts';
import type { RunPorts } from '../../src/rollout/run.ts';
import type { NamespaceInfo } from '../../src/kube/ports.ts';
import { FakeHelm } from '../support/fake-helm.ts';
import { FakeClock } from '../support/fake-clock.ts';
import { RecordingLogger } from '../support/logger.ts';

function inputs(over: Record<string, string>) {
  const base: Record<string, string> = {
    chart: 'examples/charts/tenant-app',
    'tenants-file': 'examples/tenants.yaml',
    pilot: '2',
    'batch-size': '3',
    ...over,
  };
  return parseInputs(new Inputs((n) => base[n] ?? ''));
}

function ports(helm?: FakeHelm, namespaces: NamespaceInfo[] = []) {
  const written = new Map<string, string>();
  const logger = new RecordingLogger();
  const p: RunPorts = {
    readFile: (f) => readFileSync(f, 'utf8'),
    exists: (f) => existsSync(f),
    listNamespaces: async (sel) => {
      if (sel !== 'app.kubernetes.io/component=tenant') throw new Error(`unexpected selector ${sel}`);
      return namespaces;
    },
    writeValues: (name, content) => (written.set(name, content), `/private/${name}`),
    helm,
    clock: new FakeClock(),
    logger,
  };
  return { p, written, logger };
}

describe('runTenantRollout', () => {
  it('phase plan: plans the tenants file with no cluster and no helm', async () => {
    const { p } = ports();
    const out = await runTenantRollout(
      inputs({ phase: 'plan' }),
      { ...p, listNamespaces: () => Promise.reject(new Error('no cluster')) },
      { run: 'run=local' },
    );
    expect(out.report).toBeUndefined();
    expect(out.plan.pilot.map((t) => t.id)).toEqual(['alpha-isp-1', 'fast-fiber']);
    expect(out.plan.waves.flat().length + 2).toBe(out.plan.summary.tenants);
    expect(out.planTable).toContain('pilot');
    expect(JSON.parse(out.planJson).fingerprint).toBe(out.plan.fingerprint);
  });

  it('deploys every tenant with shared + per-tenant values files, identity values and the ledger description', async () => {
    const helm = new FakeHelm();
    const { p, written } = ports(helm);
    const planned = await runTenantRollout(inputs({ phase: 'plan' }), p, { run: 'run=x' });
    const ids = [...planned.plan.pilot, ...planned.plan.waves.flat()];
    for (const t of ids) helm.onUpgrade(t.namespace, t.release, { kind: 'ok' });
    const seen: string[][] = [];
    const orig = helm.upgrade.bind(helm);
    helm.upgrade = async (o, s) => (seen.push([o.release, ...o.valuesFiles, o.description ?? '']), orig(o, s));
    const out = await runTenantRollout(
      inputs({ 'values-files': 'examples/charts/tenant-app/values.yaml', 'set-secret': 'auth.jwt=topsecret' }),
      p,
      { run: 'run=acme/app/42/1' },
    );
    expect(out.report?.outcome).toBe('succeeded');
    expect(out.report?.counts.succeeded).toBe(ids.length);
    const ff = seen.find((s) => s[0] === 'fast-fiber')!;
    expect(ff.slice(1, 5)).toEqual([
      'examples/charts/tenant-app/values.yaml',
      expect.stringMatching(/values\/fast-fiber\.yaml$/),
      '/private/values-fast-fiber.yaml',
      '/private/secret-values.yaml',
    ]);
    expect(ff[5]).toMatch(/^deploy-actions target=[0-9a-f]{16} run=acme\/app\/42\/1$/);
    expect(parse(written.get('values-fast-fiber.yaml')!)).toMatchObject({
      tenant: { id: 'fast-fiber', slug: 'fast-fiber', name: 'Fast Fiber ISP' },
    });
    expect(parse(written.get('secret-values.yaml')!)).toEqual({ auth: { jwt: 'topsecret' } });
  });

  it('identity values: tenant.id and tenant.slug are given to tenants whose values do not carry them (and not with identity-values: false)', async () => {
    const helm = new FakeHelm();
    const { p, written } = ports(helm);
    // Unlike the example fleet, these tenants carry no `tenant:` values of their own.
    const files = new Map([['t.yaml', 'tenants:\n  - id: acme-net\n    slug: acme\n  - id: b\n    values: { replicaCount: 2 }\n']]);
    const q: RunPorts = { ...p, readFile: (f) => files.get(f) ?? readFileSync(f, 'utf8'), exists: (f) => files.has(f) || existsSync(f) };
    const planned = await runTenantRollout(inputs({ 'tenants-file': 't.yaml', pilot: '0', phase: 'plan' }), q, { run: 'r' });
    for (const t of planned.plan.waves.flat()) helm.onUpgrade(t.namespace, t.release, { kind: 'ok' });
    const out = await runTenantRollout(inputs({ 'tenants-file': 't.yaml', pilot: '0' }), q, { run: 'r' });
    expect(out.report?.outcome).toBe('succeeded');
    expect(parse(written.get('values-acme-net.yaml')!)).toEqual({ tenant: { id: 'acme-net', slug: 'acme' } });
    expect(parse(written.get('values-b.yaml')!)).toEqual({ tenant: { id: 'b', slug: 'b' }, replicaCount: 2 });

    written.clear();
    await runTenantRollout(inputs({ 'tenants-file': 't.yaml', pilot: '0', 'identity-values': 'false' }), q, { run: 'r' });
    expect(written.has('values-acme-net.yaml') ? parse(written.get('values-acme-net.yaml')!) : {}).not.toHaveProperty('tenant');
  });

  it('target fingerprints: stable for the same inputs, a shared change moves every tenant, a tenant change only that tenant', async () => {
    const helm = new FakeHelm();
    const { p } = ports(helm);
    const files = new Map([['t.yaml', 'tenants:\n  - id: a\n  - id: b\n    values: { replicaCount: 2 }\n']]);
    const q: RunPorts = { ...p, readFile: (f) => files.get(f) ?? readFileSync(f, 'utf8'), exists: (f) => files.has(f) || existsSync(f) };
    const descs = new Map<string, string>();
    helm.upgrade = async (o) => (
      descs.set(o.release, o.description!),
      { revision: 1, status: 'deployed', chartVersion: '1', appVersion: '1', contentDigest: 'x' }
    );
    const run = async (set: string) => {
      await runTenantRollout(inputs({ 'tenants-file': 't.yaml', pilot: '0', set }), q, { run: 'r' });
      return new Map(descs);
    };
    const first = await run('image.tag=1.3.0');
    expect(await run('image.tag=1.3.0')).toEqual(first);
    const shared = await run('image.tag=1.3.1');
    expect(shared.get('a')).not.toBe(first.get('a'));
    expect(shared.get('b')).not.toBe(first.get('b'));
    files.set('t.yaml', 'tenants:\n  - id: a\n  - id: b\n    values: { replicaCount: 3 }\n');
    const tenant = await run('image.tag=1.3.1');
    expect(tenant.get('a')).toBe(shared.get('a'));
    expect(tenant.get('b')).not.toBe(shared.get('b'));
  });

  it('discovers tenant namespaces when no file or list is given', async () => {
    const { p } = ports();
    const ns = (name: string, labels: Record<string, string> = {}) => ({
      name,
      labels: { 'app.kubernetes.io/component': 'tenant', ...labels },
      annotations: {},
    });
    const out = await runTenantRollout(
      inputs({ 'tenants-file': '', phase: 'plan', pilot: 'ring=pilot' }),
      { ...p, listNamespaces: async () => [ns('tenant-fast-fiber', { ring: 'pilot' }), ns('tenant-beta'), ns('tenant-gamma')] },
      { run: 'r' },
    );
    expect(out.plan.pilot).toEqual([{ id: 'fast-fiber', namespace: 'tenant-fast-fiber', release: 'fast-fiber' }]);
    expect(out.plan.waves.flat().map((t) => t.id)).toEqual(['beta', 'gamma']);
  });

  it('runs only the approved plan; a tenant that appeared since is reported, not deployed', async () => {
    const helm = new FakeHelm();
    const { p, logger } = ports(helm);
    const approved = await runTenantRollout(
      inputs({ tenants: 'a,b,c', 'tenants-file': '', phase: 'plan', pilot: '1', 'batch-size': '1' }),
      p,
      { run: 'r' },
    );
    for (const id of ['b', 'c']) helm.onUpgrade(`tenant-${id}`, id, { kind: 'ok' });
    const out = await runTenantRollout(inputs({ tenants: 'a,b,c,d', 'tenants-file': '', phase: 'waves', plan: approved.planJson }), p, {
      run: 'r',
    });
    expect(out.report?.tenants.map((t) => [t.id, t.step, t.status])).toEqual([
      ['b', 'wave 1/2', 'succeeded'],
      ['c', 'wave 2/2', 'succeeded'],
    ]);
    expect(out.report?.appeared).toEqual(['d']);
    expect(logger.text()).toContain('1 tenants are not in the approved plan and will not be deployed: d');
    expect(helm.calls.some((c) => c.includes('tenant-a/') || c.includes('tenant-d/'))).toBe(false);
  });

  it('phase plan with release-version classifies the promotion against what the fleet runs now', async () => {
    const helm = new FakeHelm();
    for (const id of ['a', 'b']) helm.seed(`tenant-${id}`, id, [{ status: 'deployed' }]); // no ledger: app 1.2.0
    const { p } = ports(helm);
    const plan = async (v: string, extra: Record<string, string> = {}) =>
      runTenantRollout(inputs({ tenants: 'a,b,c', 'tenants-file': '', phase: 'plan', pilot: '1', 'release-version': v, ...extra }), p, {
        run: 'r',
      });
    expect((await plan('v1.3.0')).promotion).toMatchObject({ kind: 'minor', gate: 'approval', fleetVersion: '1.2.0' });
    // Read from the chart's appVersion (no ledger): a labelled fallback that never goes ungated.
    const fallback = (await plan('1.2.1')).promotion;
    expect(fallback).toMatchObject({ kind: 'patch', gate: 'approval' });
    expect(fallback?.reason).toMatch(/no ledger entry, so their version is the chart's appVersion \(a fallback\)/);
    await expect(plan('v2.0.0')).rejects.toThrow(/input "maintenance-window"/);
    await expect(plan('v2.0.0', { 'maintenance-window': 'Sun 02:00-04:00' })).rejects.toThrow(
      /input "maintenance-window": is not a maintenance window, got "Sun 02:00-04:00"/,
    );
    const major = (await plan('v2.0.0', { 'maintenance-window': 'Sun 02:00-04:00 UTC', 'change-ticket': 'CHG-9' })).promotion;
    expect(major).toMatchObject({ kind: 'major', gate: 'approval+window' });
    expect(major?.reason).toMatch(/maintenance window: Sun 02:00-04:00 UTC \(change ticket: CHG-9\)$/);
  });

  it('the ledger records the released version, and the next plan reads it instead of the chart', async () => {
    const helm = new FakeHelm();
    for (const id of ['a', 'b']) {
      helm.seed(`tenant-${id}`, id, [{ status: 'deployed' }]);
      helm.onUpgrade(`tenant-${id}`, id, { kind: 'ok' });
    }
    const { p } = ports(helm);
    const run = (extra: Record<string, string>) =>
      runTenantRollout(inputs({ tenants: 'a,b', 'tenants-file': '', pilot: '1', 'release-version': 'v1.4.0', ...extra }), p, {
        run: 'run=7',
      });
    await run({ phase: 'all' });
    // The images moved to 1.4.0; the chart (appVersion 1.3.0 in the fake) did not.
    expect((await helm.history('a', { namespace: 'tenant-a' })).at(-1)).toMatchObject({
      app_version: '1.3.0',
      description: expect.stringMatching(/^deploy-actions target=\w+ version=v1\.4\.0 run=7$/),
    });
    const next = (await run({ phase: 'plan', 'release-version': '1.3.5' })).promotion;
    expect(next).toMatchObject({ kind: 'downgrade', gate: 'approval', fleetVersion: 'v1.4.0' });
    expect(next?.versions).toEqual([{ version: 'v1.4.0', source: 'ledger', tenants: ['a', 'b'] }]);
  });

  it('shows the plan before anything runs, in every phase; a dry run is labelled in the report', async () => {
    for (const phase of ['plan', 'pilot', 'waves', 'all']) {
      const helm = new FakeHelm();
      for (const id of ['a', 'b']) helm.onUpgrade(`tenant-${id}`, id, { kind: 'ok' });
      const { p } = ports(helm);
      const seen: { upgrades: number; table: string }[] = [];
      p.onPlan = async (o) => void seen.push({ upgrades: helm.calls.filter((c) => c.startsWith('upgrade')).length, table: o.planTable });
      const out = await runTenantRollout(inputs({ tenants: 'a,b', 'tenants-file': '', pilot: '1', phase }), p, { run: 'r' });
      expect(seen.length, phase).toBe(1);
      expect(seen[0]!.upgrades, `${phase}: no tenant touched before the plan is shown`).toBe(0);
      expect(seen[0]!.table).toContain('pilot');
      if (phase !== 'plan')
        expect(
          helm.calls.some((c) => c.startsWith('upgrade')),
          phase,
        ).toBe(true);
      expect(out.report?.dryRun).toBeUndefined();
    }
    const helm = new FakeHelm();
    for (const id of ['a', 'b']) helm.onUpgrade(`tenant-${id}`, id, { kind: 'ok' });
    const { p } = ports(helm);
    const dry = await runTenantRollout(inputs({ tenants: 'a,b', 'tenants-file': '', pilot: '1', 'dry-run': 'client' }), p, { run: 'r' });
    expect(dry.report?.dryRun).toBe(true);
    expect(renderReport(dry.report!)).toMatch(
      /— DRY RUN: nothing was changed\n\n\*\*Dry run:\*\* every tenant was rendered and validated by helm; no release was changed/,
    );
    expect(reportLine(dry.report!)).toMatch(/^DRY RUN, nothing changed: /);
  });

  it('the waves phase checks the maintenance window before it touches a tenant', async () => {
    const helm = new FakeHelm();
    const { p } = ports(helm);
    // FakeClock starts at 2023-11-14T22:13:20Z, a Tuesday.
    const waves = async (extra: Record<string, string>) =>
      runTenantRollout(
        inputs({ tenants: 'a,b', 'tenants-file': '', pilot: '0', phase: 'waves', 'maintenance-window': 'Sat 02:00-06:00 UTC', ...extra }),
        p,
        { run: 'r' },
      );
    await expect(waves({})).rejects.toThrow(
      /outside the maintenance window Sat 02:00-06:00 UTC: the next one opens at 2023-11-18T02:00Z .*outside-window: wait/,
    );
    await expect(waves({ 'outside-window': 'wait', 'window-wait-max': '1h' })).rejects.toThrow(/more than window-wait-max \(1h00m\)/);
    expect(helm.calls).toEqual([]);
    await expect(waves({ 'outside-window': 'sometimes' })).rejects.toThrow(/input "outside-window": is not one of the allowed values/);
  });

  it('a tenant values file that does not exist is an error before anything is deployed', async () => {
    const helm = new FakeHelm();
    const { p } = ports(helm);
    const files = new Map([['t.yaml', 'tenants:\n  - id: a\n  - id: b\n    valuesFiles: [values/b.yaml]\n']]);
    const q: RunPorts = { ...p, readFile: (f) => files.get(f) ?? readFileSync(f, 'utf8'), exists: (f) => files.has(f) || existsSync(f) };
    await expect(runTenantRollout(inputs({ 'tenants-file': 't.yaml', pilot: '0' }), q, { run: 'r' })).rejects.toThrow(
      'tenant "b": values file "values/b.yaml" does not exist',
    );
    expect(helm.calls).toEqual([]);
  });

  it('max-failures as a percentage of the tenants in this run', async () => {
    const helm = new FakeHelm();
    const { p } = ports(helm);
    const ids = Array.from({ length: 10 }, (_, i) => `t${i}`);
    for (const id of ids) helm.onUpgrade(`tenant-${id}`, id, id === 't1' ? { kind: 'fail' } : { kind: 'ok' });
    const out = await runTenantRollout(
      inputs({ tenants: ids.join(','), 'tenants-file': '', pilot: '0', 'batch-size': '10', 'max-failures': '10%', 'max-parallel': '1' }),
      p,
      { run: 'r' },
    );
    expect(out.report?.counts).toMatchObject({ succeeded: 9, 'failed-rolled-back': 1 });
    expect(out.report?.outcome).toBe('failed');
    expect(out.report?.stoppedBecause).toBeUndefined();
  });
});

// The failure budget is rounded down: a 5% budget of 10 tenants tolerates no failure, 15%
// tolerates one. Rounding up (1 and 2) lets a second failure through.
describe('max-failures percentages round down', () => {
  const ids = Array.from({ length: 10 }, (_, i) => `t${i}`);
  async function run(pct: string, failing: string[]) {
    const helm = new FakeHelm();
    const { p } = ports(helm);
    for (const id of ids) helm.onUpgrade(`tenant-${id}`, id, failing.includes(id) ? { kind: 'fail' } : { kind: 'ok' });
    const out = await runTenantRollout(
      inputs({ tenants: ids.join(','), 'tenants-file': '', pilot: '0', 'batch-size': '10', 'max-failures': pct, 'max-parallel': '1' }),
      p,
      { run: 'r' },
    );
    const upgraded = helm.calls.filter((c) => c.startsWith('upgrade ')).map((c) => c.split('/')[1]);
    return { report: out.report!, upgraded };
  }

  it('allowedFailures: 5% and 15% of 10 tenants', () => {
    expect(allowedFailures(parseMaxFailures('5%'), 10)).toBe(0);
    expect(allowedFailures(parseMaxFailures('15%'), 10)).toBe(1);
  });

  it('5% of 10: the first failure spends the budget, no tenant after it starts', async () => {
    const { report, upgraded } = await run('5%', ['t1']);
    expect(report.outcome).toBe('halted');
    expect(upgraded).toEqual(['t0', 't1']);
  });

  it('15% of 10: one failure is tolerated, the second halts the rollout', async () => {
    const one = await run('15%', ['t1']);
    expect(one.report.outcome).toBe('failed');
    expect(one.upgraded).toHaveLength(10);
    const two = await run('15%', ['t1', 't3']);
    expect(two.report.outcome).toBe('halted');
    expect(two.upgraded).toEqual(['t0', 't1', 't2', 't3']);
  });
});
