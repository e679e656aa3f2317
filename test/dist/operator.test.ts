/**
 * The operator's fleet commands through the built CLI (dist/cli/index.js) with the real helm 3
 * and helm 4 against the wire-level API fake: a rollout, a rollback from its report (every
 * changed tenant back to its revisionBefore), the same rollback again (nothing done), a pause
 * during a rollout (no new tenant after the one in flight, the report says paused, exit 5), and
 * status on a fleet with deployed, failed, pending, drifted and missing tenants.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import type { RolloutReport } from '../../src/rollout/report.ts';
import type { FleetStatus } from '../../src/rollout/status.ts';
import { startFakeKube, type FakeKube } from '../support/fake-kube/index.ts';
import { exampleChart, helmBinaries, repoRoot } from '../support/tools.ts';

const bin = join(repoRoot, 'dist/cli/index.js');
const tenants = ['t01', 't02', 't03', 't04'];

describe.each([3, 4] as const)('operator commands through dist/ with helm %i', (major) => {
  const helm = helmBinaries[major];
  let kube: FakeKube;
  let home = '';
  beforeAll(async () => {
    // Pods take 3 s to become Ready, so a rollout outlasts the few seconds a second CLI process
    // (the operator's `pause`) needs to start on a loaded machine.
    kube = await startFakeKube({ crashLoopIntervalMs: 200, podReadyDelayMs: 3000 });
    kube.addTenantNamespaces([...tenants, 't05'].map((t) => `tenant-${t}`));
    home = mkdtempSync(join(tmpdir(), 'operator-'));
  });
  afterAll(async () => {
    await kube?.close();
  });

  const env = () => ({ PATH: process.env.PATH, HOME: home, TMPDIR: home, KUBECONFIG: kube.kubeconfigPath, NO_COLOR: '1', USER: 'oncall' });
  // Never spawnSync: the API fake answers from this process, so a blocked event loop deadlocks helm.
  const exec = (cmd: string, args: string[], onStderr?: (text: string) => void) =>
    new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
      const child = spawn(cmd, args, { cwd: repoRoot, env: env(), stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
      child.stderr.on('data', (c: Buffer) => {
        stderr += c.toString();
        onStderr?.(stderr);
      });
      child.on('close', (code) => resolve({ code: code ?? 1, stdout, stderr }));
    });
  const run = (args: string[], onStderr?: (text: string) => void) => exec(process.execPath, [bin, ...args], onStderr);
  const h = (args: string[]) => exec(helm, args);
  const common = ['--tenants', tenants.join(','), '--helm', helm, '--yes'];
  const rollout = (tag: string, extra: string[] = ['--batch-size', '2'], onStderr?: (text: string) => void) =>
    run(
      ['rollout', ...common, '--chart', exampleChart, '--set', `image.tag=${tag}`, '--pilot', '0', '--timeout', '30s', '--json', ...extra],
      onStderr,
    );
  const releaseSecrets = (t: string) => kube.list('secrets', `tenant-${t}`).filter((s) => s.metadata.labels?.owner === 'helm');
  const revisions = () => tenants.map((t) => releaseSecrets(t).length);
  const reportOf = (r: { stdout: string }) => JSON.parse(r.stdout) as RolloutReport;
  let changingReport = '';

  it('a rollout, then a second one whose report is kept (0600, path printed)', { timeout: 240_000 }, async () => {
    const first = await rollout('1.0.0');
    expect(first.code, first.stderr).toBe(0);
    const second = await rollout('1.1.0');
    expect(second.code, second.stderr).toBe(0);
    const rep = reportOf(second);
    expect(rep.tenants.map((t) => [t.id, t.status, t.revisionBefore, t.revisionAfter])).toEqual(tenants.map((t) => [t, 'succeeded', 1, 2]));
    changingReport = /^report: (.+)$/m.exec(second.stderr)![1]!;
    expect(statSync(changingReport).mode & 0o777).toBe(0o600);
    expect(changingReport).not.toBe(/^report: (.+)$/m.exec(first.stderr)![1]);
  });

  it(
    'a dry-run rollback of the selected tenants: labelled, every tenant previewed, not one write (not even the fleet lock)',
    { timeout: 240_000 },
    async () => {
      const from = kube.requests.length;
      const r = await run(['rollback', ...common, '--dry-run', 'server', '--json']);
      expect(r.code, r.stderr).toBe(0);
      const rep = reportOf(r);
      expect(rep.dryRun).toBe(true);
      expect(r.stderr).toMatch(/DRY RUN, nothing changed: rollback succeeded/);
      // By selection, no report: each tenant's target is the revision deployed before its current one.
      expect(rep.tenants.map((t) => [t.id, t.status, t.error])).toEqual(
        tenants.map((t) => [t, 'succeeded', 'dry run: would roll back to 1']),
      );
      const writes = kube.requests.slice(from).filter((q) => q.method !== 'GET');
      expect(writes.map((q) => `${q.method} ${q.path}`)).toEqual([]);
      expect(revisions()).toEqual([2, 2, 2, 2]);
    },
  );

  it('rollback from that report: every changed tenant back to its revisionBefore; again: nothing done', { timeout: 240_000 }, async () => {
    const r = await run(['rollback', ...common, '--rollback-report', changingReport, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const rep = reportOf(r);
    expect(rep.phase).toBe('rollback');
    expect(rep.tenants.map((t) => [t.id, t.status, t.revisionBefore, t.revisionAfter])).toEqual(tenants.map((t) => [t, 'succeeded', 2, 3]));
    // Revision 3 is "Rollback to 1": the content of revision 1.
    expect((await h(['history', 't01', '-n', 'tenant-t01', '-o', 'json'])).stdout).toContain('Rollback to 1');
    expect(revisions()).toEqual([3, 3, 3, 3]);

    const again = await run(['rollback', ...common, '--rollback-report', changingReport, '--json']);
    expect(again.code, again.stderr).toBe(0);
    expect(reportOf(again).tenants.map((t) => t.status)).toEqual(tenants.map(() => 'unchanged'));
    expect(revisions()).toEqual([3, 3, 3, 3]);
    // By selection too: a tenant whose live revision is a rollback is already back, never rolled forward.
    const bySelection = await run(['rollback', ...common, '--json']);
    expect(bySelection.code, bySelection.stderr).toBe(0);
    expect(reportOf(bySelection).tenants.map((t) => [t.status, t.error])).toEqual(
      tenants.map(() => ['unchanged', 'already on revision 1']),
    );
    expect(revisions()).toEqual([3, 3, 3, 3]);
  });

  it(
    'pause during a rollout: the tenant in flight finishes, no new one starts, the report says paused (exit 5)',
    { timeout: 240_000 },
    async () => {
      let paused: Promise<unknown> | undefined;
      let soFar = '';
      let atPause = -1;
      const r = await rollout('1.2.0', ['--max-parallel', '1', '--batch-size', '4'], (err) => {
        soFar = err;
        // As soon as the first tenant is done, the operator pauses the fleet from another terminal.
        if (!paused && /✓ t01 /.test(err))
          paused = run(['pause', '--yes', '--reason', 'errors on 1.2.0']).then((p) => {
            atPause = soFar.length;
            return p;
          });
      });
      // Whatever happens below, the next test must not inherit a paused fleet.
      onTestFinished(async () => {
        await run(['resume', '--yes']);
      });
      expect(((await paused) as { code: number }).code).toBe(0);
      expect(r.code, r.stderr).toBe(5);
      const rep = reportOf(r);
      expect(rep.outcome).toBe('paused');
      expect(rep.stoppedBecause).toMatch(/^fleet paused by oncall@\S+ at \S+: errors on 1\.2\.0$/);
      // Once the pause is recorded, at most the one tenant in flight finishes; none starts after it.
      expect(atPause).toBeGreaterThan(0);
      expect(r.stderr.slice(atPause).match(/^── [✓✗] t0/gm)?.length ?? 0).toBeLessThanOrEqual(1);
      expect(rep.tenants.filter((t) => t.status === 'succeeded').map((t) => t.id)).toContain('t01');
      expect(rep.tenants.at(-1)!.status).toBe('skipped');
      expect(rep.tenants.at(-1)!.error).toMatch(/fleet paused by oncall/);

      const resumed = await run(['resume', '--yes']);
      expect(resumed.code, resumed.stderr).toBe(0);
      expect(resumed.stderr).toMatch(/resumed fleet default \(it was fleet paused by oncall/);
    },
  );

  it('status: deployed, failed, pending, drifted and missing tenants, and the fleet in one line', { timeout: 240_000 }, async () => {
    // t02: a hand-run upgrade that fails and is left failed.
    await h(['upgrade', 't02', exampleChart, '-n', 'tenant-t02', '--set', 'image.tag=bad', '--wait', '--timeout', '3s']);
    // t03: its newest revision stuck in pending-upgrade (what a killed helm leaves).
    const [latest] = releaseSecrets('t03').sort((a, b) => Number(b.metadata.labels!.version) - Number(a.metadata.labels!.version));
    const rel = JSON.parse(gunzipSync(Buffer.from(Buffer.from(latest!.data!.release!, 'base64').toString(), 'base64')).toString());
    rel.info.status = 'pending-upgrade';
    latest!.data!.release = Buffer.from(gzipSync(Buffer.from(JSON.stringify(rel))).toString('base64')).toString('base64');
    latest!.metadata.labels!.status = 'pending-upgrade';
    kube.put(latest!);
    // t04: a hand-run upgrade that worked: deployed, but not by a rollout (no ledger).
    expect((await h(['upgrade', 't04', exampleChart, '-n', 'tenant-t04', '--set', 'image.tag=1.1.0'])).code).toBe(0);

    const before = kube.requests.length;
    const r = await run(['status', '--tenants', [...tenants, 't05'].join(','), '--helm', helm, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const s = JSON.parse(r.stdout) as FleetStatus;
    const by = Object.fromEntries(s.tenants.map((t) => [t.id, t]));
    expect(by.t01).toMatchObject({ status: 'deployed', chartVersion: '1.3.0', appVersion: '1.3.0', drifted: false, health: 'healthy' });
    expect(by.t01!.fingerprint).toMatch(/^[0-9a-f]{16}$/);
    expect(by.t01!.run).toBe('local');
    expect(by.t02).toMatchObject({ status: 'failed' });
    expect(by.t03).toMatchObject({ status: 'pending-upgrade' });
    expect(by.t04).toMatchObject({ status: 'deployed', drifted: true });
    expect(by.t05).toMatchObject({ status: 'not-installed' });
    expect(s.line).toMatch(/^2 on v1\.3\.0, (1 failed|1 pending-upgrade|1 not installed), .*1 drifted/);
    expect(s.line).toContain('1 pending-upgrade');
    expect(s.line).toContain('1 failed');
    // Paginated reads: a handful of list requests, not one (or more) per tenant.
    const secretReads = kube.requests.slice(before).filter((q) => q.method === 'GET' && /secrets/.test(q.path));
    expect(secretReads.length).toBeLessThanOrEqual(2);

    const text = await run(['status', '--tenants', [...tenants, 't05'].join(','), '--helm', helm]);
    expect(text.stdout).toMatch(/^tenant +release +revision +status +chart +app +rollout +run +health/m);
    expect(text.stdout).toMatch(/^fleet default: 2 on v1\.3\.0, /m);
    expect(readFileSync(/^report: (.+)$/m.exec(text.stderr)![1]!, 'utf8')).toContain('"line"');
  });

  it('a held tenant (tenants file hold) is planned as held, never deployed, and in the report', { timeout: 240_000 }, async () => {
    const file = join(home, 'tenants.yaml');
    writeFileSync(
      file,
      [
        'tenants:',
        '  - id: t01',
        '  - id: t02',
        '    hold: { reason: "customer audit", until: "2999-01-01T00:00:00Z" }',
        '  - id: t04',
        '    hold: { reason: "expired hold", until: "2000-01-01T00:00:00Z" }',
      ].join('\n'),
    );
    const before = [releaseSecrets('t02').length, releaseSecrets('t04').length];
    const r = await run([
      'rollout',
      '--tenants-file',
      file,
      '--helm',
      helm,
      '--yes',
      '--chart',
      exampleChart,
      '--set',
      'image.tag=1.4.0',
      '--pilot',
      '0',
      '--timeout',
      '30s',
      '--json',
    ]);
    expect(r.code, r.stderr).toBe(0);
    const rep = reportOf(r);
    expect(rep.tenants.find((t) => t.id === 't02')).toMatchObject({ status: 'held', error: /customer audit until 2999-01-01/ });
    expect(rep.tenants.find((t) => t.id === 't04')!.status).toBe('succeeded');
    expect(rep.counts.held).toBe(1);
    expect(releaseSecrets('t02').length).toBe(before[0]);
    expect(releaseSecrets('t04').length).toBe(before[1]! + 1);
  });
  it(
    'a namespace hold on a listed tenant: never deployed, and not rolled back from a report that changed it',
    { timeout: 240_000 },
    async () => {
      const list = ['--tenants', 't01,t05', '--helm', helm, '--yes'];
      const deploy = (tag: string) =>
        run(['rollout', ...list, '--chart', exampleChart, '--set', `image.tag=${tag}`, '--pilot', '0', '--timeout', '30s', '--json']);
      const first = await deploy('1.5.0');
      expect(first.code, first.stderr).toBe(0);
      expect(reportOf(first).tenants.map((t) => [t.id, t.status])).toEqual([
        ['t01', 'succeeded'],
        ['t05', 'succeeded'],
      ]);
      const firstReport = /^report: (.+)$/m.exec(first.stderr)![1]!;
      // The tenant is held on its namespace (an inline list names it: no discovery involved).
      const ns = kube.get('namespaces', undefined, 'tenant-t05')!;
      kube.put({
        ...ns,
        metadata: { ...ns.metadata, annotations: { ...ns.metadata.annotations, 'deploy-actions.dotmac.io/hold': 'noisy neighbour' } },
      });
      const t05 = releaseSecrets('t05').length;
      const before = kube.requests.length;
      const held = await deploy('1.6.0');
      expect(held.code, held.stderr).toBe(0);
      expect(reportOf(held).tenants.find((t) => t.id === 't05')).toMatchObject({
        status: 'held',
        error: /annotation on namespace tenant-t05\): noisy neighbour/,
      });
      expect(releaseSecrets('t05').length).toBe(t05);
      // The namespaces in one list request, not a GET per tenant.
      expect(
        kube.requests
          .slice(before)
          .filter(
            (q) =>
              q.method === 'GET' &&
              /^\/api\/v1\/namespaces\/tenant-/.test(q.path) &&
              !/\/(secrets|pods|configmaps|services|leases)/.test(q.path),
          ),
      ).toEqual([]);

      // Rolling back the first run, from a directory of reports (a run's artifacts; other JSON there is
      // not a report): t01 goes back, t05 (which that run installed) is held, not touched.
      const dir = mkdtempSync(join(home, 'reports-'));
      writeFileSync(join(dir, 'waves.json'), readFileSync(firstReport));
      writeFileSync(join(dir, 'pilot-smoke.json'), '{"checks": []}');
      const rb = await run(['rollback', ...list, '--rollback-report', dir, '--json']);
      expect(rb.code, rb.stderr).toBe(0);
      const rep = reportOf(rb);
      expect(rep.tenants.find((t) => t.id === 't01')).toMatchObject({
        status: 'succeeded',
        revisionBefore: reportOf(held).tenants[0]!.revisionAfter,
      });
      expect(rep.tenants.find((t) => t.id === 't05')).toMatchObject({ status: 'held', error: /noisy neighbour/ });
      expect(releaseSecrets('t05').length).toBe(t05);
    },
  );
});
