/**
 * A sharded rollout observed once (issue 13 with the records and notifications of issue 14): 3
 * shards of tenant-rollout (the action's code path, in this process, concurrently) against the
 * Kubernetes fake, the GitHub REST fake and a webhook receiver, then the report job's
 * merge-reports step. The shards write per-tenant records only and send nothing; the merge writes
 * each wave's record once and sends the one finished notice.
 *
 * helm is simulated by the command runner: `version`, and `upgrade`, which writes the release's
 * storage Secret into the fake, where the in-process history reader reads it back.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTenantRollout } from '../../src/actions/tenant-rollout/main.ts';
import type { CommandRunner } from '../../src/core/process.ts';
import type { RolloutReport } from '../../src/rollout/report.ts';
import { testContext, type TestContext } from '../support/action-context.ts';
import { encode } from '../support/api-helm.ts';
import { startFakeGitHub, type FakeGitHub } from '../support/fake-github/index.ts';
import { startFakeKube, type FakeKube } from '../support/fake-kube/index.ts';
import { exampleChart } from '../support/tools.ts';

const ids = Array.from({ length: 9 }, (_, i) => `t${i + 1}`);
const KEY = 'sharded-signing-key-0123';

describe('a sharded rollout: one set of records and notifications', () => {
  let dir = '';
  let kube: FakeKube;
  let gh: FakeGitHub;
  let hooks: Server;
  let hookUrl = '';
  const received: { event: string; body: string }[] = [];
  const upgrades = new Map<string, number>();
  const contexts: TestContext[] = [];

  // The simulated helm: one upgrade writes one revision, as helm's storage does.
  const run: CommandRunner = async (_file, args) => {
    if (args[0] === 'version') return { exitCode: 0, stdout: 'v4.1.4+g1', stderr: '', aborted: false };
    if (args[0] !== 'upgrade') return { exitCode: 1, stdout: '', stderr: `simulated helm: ${args[0]} is not simulated`, aborted: false };
    const rel = args[1]!;
    const ns = args[args.indexOf('--namespace') + 1]!;
    const desc = args.includes('--description') ? args[args.indexOf('--description') + 1]! : '';
    upgrades.set(rel, (upgrades.get(rel) ?? 0) + 1);
    const v = kube.list('secrets', ns).filter((s) => s.metadata.labels?.name === rel).length + 1;
    kube.put({ apiVersion: 'v1', kind: 'Secret', ...encode(ns, rel, v, 'deployed', desc) } as never);
    const out = {
      version: v,
      info: { status: 'deployed' },
      chart: { metadata: { version: '1.0.0', appVersion: '1.0.0' } },
      manifest: `m-${rel}`,
      config: {},
    };
    return { exitCode: 0, stdout: JSON.stringify(out), stderr: '', aborted: false };
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sharded-observers-'));
    kube = await startFakeKube();
    kube.addNamespaces(ids.map((id) => `tenant-${id}`));
    gh = await startFakeGitHub();
    hooks = createServer((req: IncomingMessage, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        received.push({ event: String(req.headers['x-deploy-actions-event']), body: Buffer.concat(chunks).toString() });
        res.writeHead(200).end('ok');
      });
    });
    await new Promise<void>((r) => hooks.listen(0, '127.0.0.1', r));
    hookUrl = `http://127.0.0.1:${(hooks.address() as AddressInfo).port}/hooks/json`;
    writeFileSync(join(dir, 'tenants.yaml'), `tenants:\n${ids.map((id) => `  - id: ${id}\n`).join('')}`);
  });
  afterAll(async () => {
    contexts.forEach((c) => rmSync(c.tempDir, { recursive: true, force: true }));
    await kube?.close();
    await gh?.close();
    hooks?.closeAllConnections();
    hooks?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const step = async (inputs: Record<string, string>) => {
    const ctx = testContext(
      {
        chart: exampleChart,
        'tenants-file': join(dir, 'tenants.yaml'),
        pilot: '0',
        'batch-size': '3',
        'github-token': gh.token,
        'deployment-records': 'tenant',
        notify: `json ${hookUrl}`,
        'notify-events': 'all',
        'notify-signing-key': KEY,
        ...inputs,
      },
      { env: { ...process.env, ...gh.env() } },
    );
    contexts.push(ctx);
    const err = await createTenantRollout({ run })
      .main(ctx)
      .then(
        () => undefined,
        (e: Error) => e,
      );
    return { ctx, err };
  };

  it('3 shards and a merge: every tenant once, one record per tenant and per wave, one finished notice', async () => {
    const plan = await step({ phase: 'plan', 'deployment-records': 'none', notify: '' });
    expect(plan.err).toBeUndefined();
    const planFile = join(dir, 'plan.json');
    writeFileSync(planFile, readFileSync(plan.ctx.outputs['plan-file']!, 'utf8'));
    mkdirSync(join(dir, 'reports'));
    const shard = (i: number) =>
      step({
        phase: 'waves',
        'plan-file': planFile,
        shards: '3',
        'shard-index': String(i),
        helm: 'helm',
        kubeconfig: kube.kubeconfigYaml,
        'max-parallel': '2',
        'verify-workloads': 'false',
        timeout: '60s',
        'report-file': join(dir, 'reports', `waves-shard-${i}.json`),
      });
    const shards = await Promise.all([0, 1, 2].map(shard));
    for (const s of shards) expect(s.err, s.ctx.logger.text()).toBeUndefined();
    expect([...upgrades.keys()].sort()).toEqual([...ids].sort());
    expect([...upgrades.values()].every((n) => n === 1)).toBe(true);
    // The shards told nobody anything, and wrote no wave record.
    expect(received).toEqual([]);
    expect(gh.deployments.map((d) => d.environment).filter((e) => e.includes('wave'))).toEqual([]);

    const merged = await step({
      phase: 'waves',
      'plan-file': planFile,
      'merge-reports': join(dir, 'reports'),
      shards: '3',
      'report-file': join(dir, 'waves.json'),
    });
    expect(merged.err).toBeUndefined();
    const rep = JSON.parse(readFileSync(join(dir, 'waves.json'), 'utf8')) as RolloutReport;
    expect(rep.counts.succeeded).toBe(9);

    // One record per tenant (from its shard) and per wave (from the merge), each written once.
    expect(gh.timeline()).toEqual(
      [...ids.map((id) => `tenants/${id}`), 'tenants/wave-1', 'tenants/wave-2', 'tenants/wave-3']
        .sort()
        .map((e) => `${e}: in_progress -> success`),
    );
    // One finished notice for the run, from the merged report; one wave-done per wave.
    const events = received.map((x) => x.event);
    expect(events.filter((e) => e === 'finished')).toHaveLength(1);
    expect(events.filter((e) => e === 'wave-done')).toHaveLength(3);
    expect(JSON.parse(received.find((x) => x.event === 'finished')!.body)).toMatchObject({
      outcome: 'succeeded',
      counts: { succeeded: 9 },
    });
  }, 180_000);
});
