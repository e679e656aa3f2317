/**
 * tenant-rollout run through its own folder (dist/) with the real helm 4 and helm 3 against the
 * wire-level API fake: issue 3's scenario (discovery, pilot 2, waves of 5; a bad image stops at the pilot and
 * touches nobody else; a re-run skips what is done), plus smoke checks against a local server.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RolloutReport } from '../../src/rollout/report.ts';
import { startFakeKube, type FakeKube } from '../support/fake-kube/index.ts';
import { exampleChart, helmBinaries } from '../support/tools.ts';
import { readJournal } from '../../src/actions/tenant-rollout/inflight.ts';
import { leftovers, runAction, annotations } from './run-action.ts';

const tenants = Array.from({ length: 12 }, (_, i) => `t${String(i + 1).padStart(2, '0')}`);

describe.each([4, 3] as const)('tenant-rollout through dist/ (real helm %i, wire-level API fake)', (major) => {
  let kube: FakeKube;
  let server: Server;
  let base = '';
  const unhealthy = new Set<string>();
  beforeAll(async () => {
    kube = await startFakeKube({ crashLoopIntervalMs: 200 });
    for (const t of tenants) kube.addTenantNamespaces([`tenant-${t}`], ['t01', 't02'].includes(t) ? { ring: 'pilot' } : {});
    kube.addNamespaces(['not-a-tenant']);
    // The tenants' public endpoints: /<slug>/api/health answers like the seeds' app.
    server = createServer((req, res) => {
      const slug = req.url!.split('/')[1]!;
      res.setHeader('content-type', 'application/json');
      if (unhealthy.has(slug)) return res.writeHead(503).end('{"status":"down"}');
      res.end(req.url!.endsWith('/api/ready') ? '{"ready":true}' : '{"status":"ok"}');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await kube?.close();
    server?.close();
  });

  const rollout = async (tag: string, over: Record<string, string> = {}) => {
    const r = await runAction('tenant-rollout', {
      chart: exampleChart,
      set: `image.tag=${tag}`,
      pilot: 'ring=pilot',
      'batch-size': '5',
      'max-parallel': '5',
      timeout: tag === 'bad' ? '4s' : '30s',
      kubeconfig: kube.kubeconfigYaml,
      helm: helmBinaries[major],
      ...over,
    });
    return { ...r, report: r.outputs.report ? (JSON.parse(r.outputs.report) as RolloutReport) : undefined };
  };
  const releaseCount = (t: string) => kube.list('secrets', `tenant-${t}`).filter((s) => s.metadata.labels?.owner === 'helm').length;

  it('phase plan: discovery through the API, the plan and its promotion, nothing deployed', async () => {
    const r = await rollout('1.0.0', { phase: 'plan', 'release-version': 'v1.0.0' });
    expect(r.code, annotations(r.stdout)).toBe(0);
    const plan = JSON.parse(r.outputs.plan!);
    expect(plan.pilot.map((t: { id: string }) => t.id)).toEqual(['t01', 't02']);
    expect(plan.waves.map((w: unknown[]) => w.length)).toEqual([5, 5]);
    expect(r.outputs).toMatchObject({ promotion: 'initial', gate: 'approval' });
    expect(r.summary).toContain('| pilot |');
    expect(tenants.map(releaseCount)).toEqual(tenants.map(() => 0));
  });

  it('deploys the pilot, then waves of 5, every tenant verified, one helm process per tenant', { timeout: 180_000 }, async () => {
    // A helm that notes each command it runs, then runs the real one.
    const dir = mkdtempSync(join(tmpdir(), 'helm-shim-'));
    const log = join(dir, 'calls');
    writeFileSync(join(dir, 'helm'), `#!/bin/sh\necho "$1" >> '${log}'\nexec '${helmBinaries[major]}' "$@"\n`, { mode: 0o755 });
    const r = await rollout('1.0.0', { helm: join(dir, 'helm') });
    const calls = readFileSync(log, 'utf8').trim().split('\n');
    rmSync(dir, { recursive: true, force: true });
    // History comes from Helm's storage Secrets through the API: only `version` once, then one upgrade a tenant.
    expect(calls.filter((c) => c !== 'version')).toEqual(Array(12).fill('upgrade'));
    expect(r.code, annotations(r.stdout)).toBe(0);
    expect(r.report!.counts.succeeded).toBe(12);
    expect(r.outputs.succeeded).toBe('12');
    expect(r.report!.tenants.map((t) => t.step)).toEqual(['pilot', 'pilot', ...Array(5).fill('wave 1/2'), ...Array(5).fill('wave 2/2')]);
    expect(r.summary).toMatch(/tenant-rollout \(all\): ✅ succeeded \(exit 0\)/);
    expect(r.stdout).toMatch(/wave 2\/2 \(3\/3\): 5\/5 done · overall 12\/12, 0 failed/);
  });

  it('a bad image fails the pilot, which is rolled back, and no other tenant is touched', { timeout: 180_000 }, async () => {
    const before = tenants.map(releaseCount);
    const r = await rollout('bad');
    expect(r.code).toBe(3);
    expect(r.outputs).toMatchObject({ outcome: 'halted', 'exit-code': '3' });
    expect(r.report!.tenants.filter((t) => t.step === 'pilot').map((t) => [t.id, t.status, t.revisionBefore, t.revisionAfter])).toEqual([
      ['t01', 'failed-rolled-back', 1, 3],
      ['t02', 'failed-rolled-back', 1, 3],
    ]);
    expect(r.report!.counts.skipped).toBe(10);
    // The budget is spent at the first failure; the other pilot, already in flight, finishes (and fails too).
    expect(r.report!.stoppedBecause).toMatch(/^failure budget spent: 1 failed, 0 allowed/);
    expect(tenants.slice(2).map(releaseCount)).toEqual(before.slice(2));
    expect(r.stdout).toMatch(/::error::tenant-rollout halted: 2 failed and rolled back, 10 skipped/);
  });

  it(
    'a re-run with the good image skips everyone already on it (the pilots via their rollback revision)',
    { timeout: 180_000 },
    async () => {
      const r = await rollout('1.0.0');
      expect(r.code).toBe(0);
      expect(r.report!.counts.unchanged).toBe(12);
      expect(tenants.map(releaseCount)).toEqual(tenants.map((t) => (['t01', 't02'].includes(t) ? 3 : 1)));
    },
  );

  it('a smoke check failing after a successful upgrade rolls that tenant back and spends the budget', { timeout: 180_000 }, async () => {
    unhealthy.add('t07');
    const r = await rollout('1.1.0', { 'smoke-url': `${base}/{{ tenant.slug }}`, 'max-failures': '1', 'max-parallel': '1' });
    unhealthy.delete('t07');
    expect(r.code).toBe(1);
    expect(r.report!.outcome).toBe('failed');
    const t07 = r.report!.tenants.find((t) => t.id === 't07')!;
    expect(t07.status).toBe('failed-rolled-back');
    expect(t07.error).toMatch(/smoke check .*health.*503/);
    expect(r.report!.counts.succeeded).toBe(11);
  });

  it('cancelled mid-wave: no new tenant starts, the ones in flight go back, the report says cancelled', { timeout: 120_000 }, async () => {
    let sent = false;
    const r = await runAction(
      'tenant-rollout',
      {
        chart: exampleChart,
        set: 'image.tag=pending', // pods never start: every upgrade waits until cancelled
        pilot: '0',
        'batch-size': '100%',
        'max-parallel': '2',
        timeout: '90s',
        kubeconfig: kube.kubeconfigYaml,
        helm: helmBinaries[major],
      },
      {
        onStart: (kill) => {
          const t = setInterval(() => {
            const pending = tenants.filter((x) =>
              kube.list('secrets', `tenant-${x}`).some((sec) => String(sec.metadata.labels?.status).startsWith('pending-')),
            );
            if (pending.length < 2) return;
            clearInterval(t);
            sent = true;
            setTimeout(() => kill('SIGINT'), 300);
          }, 50);
        },
      },
    );
    expect(sent).toBe(true);
    expect(r.code).toBe(130);
    const report = JSON.parse(r.outputs.report!) as RolloutReport;
    expect(report.outcome).toBe('cancelled');
    expect(report.stoppedBecause).toBe('the job was cancelled');
    expect(report.counts['failed-rolled-back']).toBe(2);
    expect(report.counts.skipped).toBe(10);
    // The two in flight are back on their last good revision (earlier tests deployed them), not left pending.
    for (const t of report.tenants.filter((x) => x.status === 'failed-rolled-back')) {
      const statuses = kube
        .list('secrets', t.namespace)
        .map((s) => [Number(s.metadata.labels!.version), s.metadata.labels!.status] as const)
        .sort((a, b) => a[0] - b[0]);
      expect(statuses.at(-1)?.[1], t.id).toBe('deployed');
      expect(t.revisionAfter).toBe(statuses.at(-1)![0]);
    }
    // Every tenant ended: the journal is gone and the post step has nothing to recover.
    expect(r.state['tenant-rollout-inflight'] ?? '').toBe('');
  });

  it(
    'killed mid-wave (no chance to clean up): the post step replays the in-flight journal and rolls those back',
    { timeout: 180_000 },
    async () => {
      const pendingNow = () =>
        tenants.filter((x) =>
          kube.list('secrets', `tenant-${x}`).some((sec) => String(sec.metadata.labels?.status).startsWith('pending-')),
        );
      const main = await runAction(
        'tenant-rollout',
        {
          chart: exampleChart,
          set: 'image.tag=pending',
          pilot: '0',
          'batch-size': '100%',
          'max-parallel': '2',
          timeout: '90s',
          kubeconfig: kube.kubeconfigYaml,
          helm: helmBinaries[major],
        },
        {
          onStart: (kill) => {
            const t = setInterval(() => {
              if (pendingNow().length < 2) return;
              clearInterval(t);
              setTimeout(() => kill('SIGKILL', true), 300);
            }, 50);
          },
        },
      );
      expect(main.code).not.toBe(0);
      const stuck = pendingNow().map((x) => `tenant-${x}`);
      expect(stuck).toHaveLength(2);
      const state = JSON.parse(main.state['tenant-rollout-inflight']!) as { journal: string };
      // The state was saved once and names the journal; the journal holds the two in flight.
      const stateFile = readdirSync(main.runnerTemp).find((f) => f.startsWith('state-'))!;
      expect(readFileSync(join(main.runnerTemp, stateFile), 'utf8').split('tenant-rollout-inflight<<').length - 1).toBe(1);
      expect(readFileSync(state.journal, 'utf8').trim().split('\n')).toHaveLength(2);
      const post = await runAction('tenant-rollout', {}, { phase: 'post', state: main.state, runnerTemp: main.runnerTemp });
      expect(post.code, post.stdout).toBe(0);
      expect(post.stdout).toMatch(/post: 2 releases were not returned to a good state by main/);
      // Each of the two is back on a deployed revision (or uninstalled when it never had one).
      for (const ns of stuck) {
        const rows = kube.list('secrets', ns).map((x) => [Number(x.metadata.labels!.version), x.metadata.labels!.status] as const);
        const newest = rows.sort((a, b) => a[0] - b[0]).at(-1);
        if (newest) expect(newest[1], ns).toBe('deployed');
      }
      expect(() => readFileSync(state.journal)).toThrow();
    },
  );

  it(
    'killed (SIGKILL) mid-wave: post.js returns every tenant in flight, in parallel, and leaves nothing pending',
    { timeout: 180_000 },
    async () => {
      // A release is pending when its newest revision is (helm's rollback leaves the interrupted
      // revision's own record as it was, below the new deployed one).
      const pendingNow = () =>
        tenants.filter((x) => {
          const rows = kube.list('secrets', `tenant-${x}`).filter((sec) => sec.metadata.labels?.owner === 'helm');
          const top = rows.sort((a, b) => Number(a.metadata.labels!.version) - Number(b.metadata.labels!.version)).at(-1);
          return String(top?.metadata.labels?.status).startsWith('pending-');
        });
      let killed = false;
      const main = await runAction(
        'tenant-rollout',
        {
          chart: exampleChart,
          set: 'image.tag=pending', // pods never start: every upgrade waits until killed
          // Its own fleet: the fleet lock of each killed run is its own test's concern (fleet-lock.test.ts).
          fleet: 'kill-test',
          pilot: '0',
          'batch-size': '100%',
          'max-parallel': '3',
          timeout: '90s',
          kubeconfig: kube.kubeconfigYaml,
          helm: helmBinaries[major],
        },
        {
          onStart: (kill) => {
            const t = setInterval(() => {
              if (pendingNow().length < 3) return;
              clearInterval(t);
              killed = true;
              // The whole process tree, helm included, as the runner does when the cancel times out.
              kill('SIGKILL', true);
            }, 50);
          },
        },
      );
      expect(killed).toBe(true);
      expect(main.outputs.report).toBeUndefined(); // killed: main never got to write one
      // The state names the in-flight journal (one line per start/end); replayed, it lists those in flight.
      const inflight = readJournal((JSON.parse(main.state['tenant-rollout-inflight']!) as { journal: string }).journal);
      expect(inflight.length).toBe(3);
      const stuck = pendingNow();
      expect(stuck.length).toBeGreaterThanOrEqual(3);
      expect(inflight.map((r) => r.namespace).sort()).toEqual(stuck.map((x) => `tenant-${x}`).sort());

      const post = await runAction('tenant-rollout', {}, { phase: 'post', state: main.state, runnerTemp: main.runnerTemp });
      expect(post.code, post.stdout).toBe(0);
      expect(pendingNow(), post.stdout).toEqual([]);
      for (const r of inflight) {
        const rows = kube
          .list('secrets', r.namespace)
          .filter((x) => x.metadata.labels?.owner === 'helm')
          .map((x) => [Number(x.metadata.labels!.version), x.metadata.labels!.status] as const)
          .sort((a, b) => a[0] - b[0]);
        expect(rows.at(-1)?.[1], r.namespace).toBe('deployed');
        // Back on the content of the revision recorded before the killed upgrade.
        const dep = kube.get('deployments', r.namespace, r.namespace.replace(/^tenant-/, ''))!;
        expect(dep.spec.template.spec.containers[0].image, r.namespace).not.toMatch(/:pending$/);
      }
      expect(post.stdout).toMatch(/post: 3 releases were not returned to a good state by main; recovering them/);
      expect(leftovers(main.runnerTemp)).toEqual([]);
      // The killed main's release leases are given up by its post step: the next run is not refused.
      expect(inflight.map((r) => kube.get('leases', r.namespace, `deploy-actions-${r.release}`))).toEqual(inflight.map(() => undefined));
    },
  );
});
