/**
 * 5,000 tenants through dist/ (issue 13): the plan phase, then the waves with a simulated helm,
 * then the report job's merge, each handing the plan and the report over by file. Proves that
 * nothing sized by the fleet travels through env or argv (the runner passes inputs as env: a
 * fleet-sized input fails with E2BIG near 1,360 tenants), that every job summary stays under
 * GitHub's 1 MiB, and that every failure is listed in full in it.
 *
 * The simulated helm is a bash script (one process per tenant, as helm is): `version`, and
 * `upgrade`, which asks a helper in this process over /dev/tcp (no curl) to write the release's
 * storage Secret into the API fake, where the production in-process history reader reads it
 * back. A bad tenant fails before any revision (helm's "UPGRADE FAILED"). No waits anywhere.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RolloutReport } from '../../src/rollout/report.ts';
import { encode } from '../support/api-helm.ts';
import { startFakeKube, type FakeKube } from '../support/fake-kube/index.ts';
import { exampleChart } from '../support/tools.ts';
import { runAction, type ActionRun } from './run-action.ts';

const N = 5000;
const ids = Array.from({ length: N }, (_, i) => `t${String(i + 1).padStart(4, '0')}`);
// Every 17th tenant fails: 294 failures, each with a long reason that must reach the summary whole.
const bad = new Set(ids.filter((_, i) => i % 17 === 5));
const reason = (id: string) =>
  `Error: UPGRADE FAILED: simulated failure of ${id}: resource Deployment/tenant-${id}/api not ready: ` +
  `ProgressDeadlineExceeded, 0 of 2 replicas available, last event "Back-off pulling image registry.example.com/isp-ops:1.4.0"`;
const MiB = 1024 * 1024;

/** Bytes of the environment a step gets from its inputs (INPUT_* variables): the E2BIG budget. */
const inputBytes = (inputs: Record<string, string>) =>
  Object.entries(inputs).reduce((n, [k, v]) => n + k.length + 7 + Buffer.byteLength(v), 0);

describe('5,000 tenants through dist/: plan, waves (simulated helm), merge, all by file', () => {
  let dir = '';
  let kube: FakeKube;
  let helper: Server;
  let helm = '';
  const upgrades = new Map<string, number>();
  let helmProcesses = 0;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'scale-'));
    kube = await startFakeKube();
    kube.addNamespaces(ids.map((id) => `tenant-${id}`));
    helper = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        helmProcesses++;
        const m = /^\/upgrade\/([^/]+)\/([^/]+)$/.exec(req.url ?? '');
        if (!m) return res.writeHead(404).end(`simulated helm: ${req.url} is not simulated\n`);
        const [, ns, rel] = m as unknown as [string, string, string];
        upgrades.set(rel, (upgrades.get(rel) ?? 0) + 1);
        if (bad.has(rel)) return res.writeHead(500).end(`${reason(rel)}\n`);
        const v = kube.list('secrets', ns).filter((s) => s.metadata.labels?.name === rel).length + 1;
        kube.put({ apiVersion: 'v1', kind: 'Secret', ...encode(ns, rel, v, 'deployed', body) } as never);
        res.writeHead(200).end(
          JSON.stringify({
            version: v,
            info: { status: 'deployed' },
            chart: { metadata: { version: '1.0.0', appVersion: '1.0.0' } },
            manifest: `m-${rel}`,
            config: {},
          }),
        );
      });
    });
    await new Promise<void>((r) => helper.listen(0, '127.0.0.1', r));
    const port = (helper.address() as AddressInfo).port;
    helm = join(dir, 'helm');
    writeFileSync(
      helm,
      [
        '#!/bin/bash',
        'case "$1" in',
        '  version) echo v4.1.4; exit 0 ;;',
        '  upgrade) ;;',
        '  *) echo "simulated helm: $1 is not simulated" >&2; exit 1 ;;',
        'esac',
        'rel="$2"; ns=""; desc=""',
        'while [ $# -gt 0 ]; do',
        '  case "$1" in --namespace) ns="$2"; shift ;; --description) desc="$2"; shift ;; esac',
        '  shift',
        'done',
        `exec 3<>/dev/tcp/127.0.0.1/${port}`,
        'LC_ALL=C len=${#desc}',
        `printf 'POST /upgrade/%s/%s HTTP/1.0\\r\\nContent-Length: %d\\r\\n\\r\\n%s' "$ns" "$rel" "$len" "$desc" >&3`,
        'IFS= read -r status <&3',
        'while IFS= read -r line <&3 && [ "${line%$\'\\r\'}" != "" ]; do :; done',
        'body=""',
        'while IFS= read -r line <&3 || [ -n "$line" ]; do body+="$line"$\'\\n\'; done',
        'case "$status" in *" 200 "*) printf \'%s\' "$body" ;; *) printf \'%s\' "$body" >&2; exit 1 ;; esac',
        '',
      ].join('\n'),
      { mode: 0o755 },
    );
    writeFileSync(join(dir, 'tenants.yaml'), `tenants:\n${ids.map((id) => `  - id: ${id}\n`).join('')}`);
  });
  afterAll(async () => {
    helper?.close();
    await kube?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const common = { chart: exampleChart, 'tenants-file': '', pilot: '0', 'batch-size': '10%' };
  let plan: ActionRun;
  let planFile = '';
  let waves: ActionRun;

  const step = async (inputs: Record<string, string>) => {
    const all = { ...common, 'tenants-file': join(dir, 'tenants.yaml'), ...inputs };
    // Nothing sized by the fleet goes in: file paths and settings only.
    expect(inputBytes(all), 'the inputs (env) of the step').toBeLessThan(4096);
    const r = await runAction('tenant-rollout', all);
    expect(r.stderr + r.stdout).not.toMatch(/E2BIG|argument list too long/i);
    expect(Buffer.byteLength(r.summary), 'the job summary').toBeLessThan(MiB);
    return r;
  };

  it('plan phase: the plan of 5,000 tenants as a file, its fingerprint in an output', async () => {
    plan = await step({ phase: 'plan' });
    expect(plan.code, plan.stdout.slice(-2000)).toBe(0);
    planFile = join(dir, 'plan.json');
    // As the workflow's plan job does: the action's file, kept byte for byte as the artifact.
    writeFileSync(planFile, readFileSync(plan.outputs['plan-file']!, 'utf8'));
    const p = JSON.parse(readFileSync(planFile, 'utf8')) as { fingerprint?: string; summary: { tenants: number } };
    expect(p.summary.tenants).toBe(N);
    expect(plan.outputs['plan-fingerprint']).toMatch(/^[0-9a-f]{64}$/);
    expect(statSync(planFile).size, 'a plan far past what an input can carry').toBeGreaterThan(128 * 1024);
    console.log(`plan: ${statSync(planFile).size} bytes, summary ${Buffer.byteLength(plan.summary)} bytes`);
  }, 120_000);

  it(
    'waves with a simulated helm: every tenant once, one helm process each, every failure in full in the summary',
    async () => {
      expect(planFile, 'the plan test ran').not.toBe('');
      const report = join(dir, 'reports/waves-shard-0.json');
      mkdirSync(join(dir, 'reports'));
      const before = kube.requests.length;
      waves = await step({
        phase: 'waves',
        'plan-file': planFile,
        shards: '1',
        'shard-index': '0',
        helm,
        kubeconfig: kube.kubeconfigYaml,
        'max-parallel': '50',
        'max-failures': '100%',
        'verify-workloads': 'false',
        timeout: '60s',
        'report-file': report,
      });
      const rep = JSON.parse(readFileSync(report, 'utf8')) as RolloutReport;
      expect(rep.tenants).toHaveLength(N);
      expect(rep.counts.succeeded).toBe(N - bad.size);
      const failed = rep.tenants.filter((t) => t.status !== 'succeeded');
      expect(new Set(failed.map((t) => t.id))).toEqual(bad);
      expect(waves.code, 'a rollout with failures fails the step').not.toBe(0);
      // Each tenant upgraded exactly once, by one helm process: no `helm history`, no second process.
      expect(upgrades.size).toBe(N);
      expect([...upgrades.values()].every((n) => n === 1)).toBe(true);
      expect(helmProcesses).toBe(N);
      // The report is too big for an output: the file is the hand-off.
      expect(waves.outputs.report).toBe('');
      expect(waves.outputs['report-file']).toBe(report);
      expect(waves.outputs['failed-count']).toBe(String(bad.size));
      for (const id of bad) {
        expect(waves.summary, id).toContain(id);
        expect(waves.summary, `${id}: its reason in full`).toContain(
          'last event "Back-off pulling image registry.example.com/isp-ops:1.4.0"',
        );
      }
      const api = kube.requests.length - before;
      console.log(
        `waves: ${N} tenants, ${helmProcesses / N} helm process and ${(api / N).toFixed(1)} API requests per tenant, summary ${Buffer.byteLength(waves.summary)} bytes`,
      );
    },
    // ~1 min on a quiet 2-core machine; minutes when it is shared (5,000 helm processes).
    900_000,
  );

  it('the report job: merge-reports (no chart, no checkout) gives one report and one summary with every failure', async () => {
    expect(waves, 'the waves test ran').toBeDefined();
    const merged = join(dir, 'waves.json');
    const r = await runAction('tenant-rollout', {
      phase: 'waves',
      'plan-file': planFile,
      'merge-reports': join(dir, 'reports'),
      'report-file': merged,
    });
    expect(r.stderr).not.toMatch(/E2BIG/);
    expect(Buffer.byteLength(r.summary)).toBeLessThan(MiB);
    const rep = JSON.parse(readFileSync(merged, 'utf8')) as RolloutReport;
    expect(rep.tenants).toHaveLength(N);
    expect(rep.counts.succeeded).toBe(N - bad.size);
    expect(r.outputs.outcome).toBe(waves.outputs.outcome);
    for (const id of bad) expect(r.summary, id).toContain(reason(id).slice(7, 60));
    expect(r.code).not.toBe(0);
  }, 120_000);
});
