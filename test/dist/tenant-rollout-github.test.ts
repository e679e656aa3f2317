/**
 * tenant-rollout through dist/ with real helm (4, and 3) against the wire-level Kubernetes fake,
 * the GitHub REST fake (driven by the bundled Octokit) and a local webhook receiver (issue 14):
 * deployment records per tenant, notifications in two formats (one signed), the approval gate
 * stopping a rollout before it deploys, and no webhook URL in any log, output or summary.
 */
import { createHmac } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeKube, type FakeKube } from '../support/fake-kube/index.ts';
import { startFakeGitHub, type FakeGitHub } from '../support/fake-github/index.ts';
import { exampleChart, helmBinaries } from '../support/tools.ts';
import { runAction, annotations } from './run-action.ts';

const tenants = ['t1', 't2', 't3', 't4', 't5'];
const KEY = 'dist-signing-key-0123';

describe.each([4, 3] as const)('tenant-rollout GitHub side through dist/ (helm %i)', (major) => {
  let kube: FakeKube;
  let gh: FakeGitHub;
  let hooks: Server;
  let hookBase = '';
  const received: { path: string; headers: IncomingMessage['headers']; body: string }[] = [];
  beforeAll(async () => {
    kube = await startFakeKube({ crashLoopIntervalMs: 200 });
    kube.addTenantNamespaces(
      tenants.map((t) => `tenant-${t}`),
      {},
    );
    gh = await startFakeGitHub({ environments: [{ name: 'tenants-production', reviewers: ['alice'] }, { name: 'tenants-auto' }] });
    hooks = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        received.push({ path: req.url!, headers: req.headers, body: Buffer.concat(chunks).toString() });
        if (req.url!.startsWith('/hang/')) return; // a receiver that never answers
        res.writeHead(200).end('ok');
      });
    });
    await new Promise<void>((r) => hooks.listen(0, '127.0.0.1', r));
    hookBase = `http://127.0.0.1:${(hooks.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await kube?.close();
    await gh?.close();
    hooks?.closeAllConnections();
    hooks?.close();
  });

  const slackUrl = () => `${hookBase}/services/T0/B0/slack-secret-path`;
  const jsonUrl = () => `${hookBase}/hooks/json-secret-path`;
  const rollout = (tag: string, over: Record<string, string> = {}) =>
    runAction(
      'tenant-rollout',
      {
        chart: exampleChart,
        set: `image.tag=${tag}`,
        tenants: tenants.join(','),
        pilot: '1',
        'batch-size': '2',
        'max-parallel': '2',
        timeout: '30s',
        kubeconfig: kube.kubeconfigYaml,
        helm: helmBinaries[major],
        'release-version': tag,
        'github-token': gh.token,
        'deployment-records': 'tenant',
        'approval-environment': 'tenants-production',
        notify: `slack ${slackUrl()}\njson ${jsonUrl()}`,
        'notify-signing-key': KEY,
        fleet: 'prod-eu',
        ...over,
      },
      { env: gh.env() },
    );
  const releaseCount = (t: string) => kube.list('secrets', `tenant-${t}`).filter((s) => s.metadata.labels?.owner === 'helm').length;

  it('a typo in the approval environment stops before any tenant is deployed, naming the closest', { timeout: 120_000 }, async () => {
    const r = await rollout('1.0.0', { 'approval-environment': 'tenants-prodution' });
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(
      /::error::approval environment "tenants-prodution": does not exist in acme\/fleet.*did you mean "tenants-production"\?/,
    );
    expect(tenants.map(releaseCount)).toEqual(tenants.map(() => 0));
    expect(gh.deployments).toEqual([]);
  });

  it('an environment without reviewers stops too; with gate none it is not checked', { timeout: 120_000 }, async () => {
    const r = await rollout('1.0.0', { 'approval-environment': 'tenants-auto' });
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/::error::approval environment "tenants-auto": has no required reviewers/);
    expect(tenants.map(releaseCount)).toEqual(tenants.map(() => 0));
    const before = gh.requests.length;
    const ungated = await rollout('1.0.0', {
      'approval-environment': 'tenants-auto',
      gate: 'none',
      'deployment-records': 'none',
      notify: '',
    });
    expect(ungated.code).toBe(0);
    expect(gh.requests.slice(before).some((q) => q.path.includes('/environments'))).toBe(false);
  });

  it(
    'records per wave and per tenant, pilot-done and finished notices (signed json, slack), no URL anywhere',
    { timeout: 180_000 },
    async () => {
      received.length = 0;
      gh.deployments.length = 0;
      const r = await rollout('1.0.1');
      expect(r.code, annotations(r.stdout, /^::(error|warning)/)).toBe(0);
      expect(r.outputs).toMatchObject({ outcome: 'succeeded', succeeded: '5', 'failed-count': '0', 'failed-tenants': '' });
      expect(gh.timeline()).toEqual(
        ['pilot', 't1', 't2', 't3', 't4', 't5', 'wave-1', 'wave-2'].map((e) => `tenants/${e}: in_progress -> success`),
      );
      const t3 = gh.deployments.find((d) => d.environment === 'tenants/t3')!;
      expect(t3.description).toBe('1.0.1 on t3');
      expect(t3.statuses[0]!.log_url).toBe('https://github.example/acme/fleet/actions/runs/4242');
      // Notices: pilot-done, then finished, in both formats; the json ones verify.
      const json = received.filter((x) => x.path === '/hooks/json-secret-path');
      const events = json.map((x) => x.headers['x-deploy-actions-event']);
      expect(events).toEqual(expect.arrayContaining(['pilot-done', 'finished']));
      expect(events).not.toContain('approval-needed'); // phase all: no later gated job
      for (const x of json) {
        const ts = String(x.headers['x-deploy-actions-timestamp']);
        expect(x.headers['x-deploy-actions-signature']).toBe(`sha256=${createHmac('sha256', KEY).update(`${ts}.${x.body}`).digest('hex')}`);
      }
      expect(JSON.parse(json.find((x) => x.headers['x-deploy-actions-event'] === 'finished')!.body)).toMatchObject({
        outcome: 'succeeded',
        fleet: 'prod-eu',
        counts: { succeeded: 5 },
      });
      expect(received.filter((x) => x.path === '/services/T0/B0/slack-secret-path').length).toBe(json.length);
      // The webhook URLs are secrets: masked for the runner, and never printed.
      const everything = [r.stdout, r.stderr, r.summary, JSON.stringify(r.outputs)].join('\n');
      for (const u of [slackUrl(), jsonUrl(), 'slack-secret-path', 'json-secret-path', gh.token, KEY])
        expect(everything.replace(/::add-mask::.*/g, '')).not.toContain(u);
      expect(r.stdout).toContain(`::add-mask::${slackUrl()}`);
    },
  );

  it('a dry run writes no deployment record, changes no release, and every notice says DRY RUN', { timeout: 180_000 }, async () => {
    received.length = 0;
    gh.deployments.length = 0;
    const before = tenants.map(releaseCount);
    const r = await rollout('1.0.9', { 'dry-run': 'server', 'deployment-records': 'wave' });
    expect(r.code, annotations(r.stdout)).toBe(0);
    expect(JSON.parse(r.outputs.report!)).toMatchObject({ dryRun: true, outcome: 'succeeded' });
    expect(r.stdout).toContain('dry run: no deployment records (deployment-records: wave applies to real runs only)');
    expect(gh.deployments).toEqual([]);
    expect(tenants.map(releaseCount)).toEqual(before);
    const json = received
      .filter((x) => x.path === '/hooks/json-secret-path')
      .map((x) => JSON.parse(x.body) as { title: string; dryRun?: boolean });
    expect(json.length).toBeGreaterThan(0);
    for (const n of json) expect([n.title.startsWith('DRY RUN: prod-eu: 1.0.9 '), n.dryRun]).toEqual([true, true]);
    const slack = received.filter((x) => x.path.startsWith('/services/')).map((x) => JSON.parse(x.body) as { text: string });
    expect(slack.length).toBe(json.length);
    for (const m of slack) expect(m.text).toMatch(/^DRY RUN: /);
  });

  it('phase pilot with an approval gate: approval-needed after the pilot, linking the run', { timeout: 180_000 }, async () => {
    received.length = 0;
    const plan = await rollout('1.1.0', { phase: 'plan', 'deployment-records': 'none' });
    expect(plan.code).toBe(0);
    expect(received.map((x) => x.headers['x-deploy-actions-event']).filter(Boolean)).toEqual(['plan-ready']);
    received.length = 0;
    const r = await rollout('1.1.0', { phase: 'pilot', plan: plan.outputs.plan!, gate: 'approval', 'deployment-records': 'wave' });
    expect(r.code).toBe(0);
    const approval = received.find((x) => x.headers['x-deploy-actions-event'] === 'approval-needed')!;
    expect(JSON.parse(approval.body).links).toEqual([
      { label: 'Review and approve', url: 'https://github.example/acme/fleet/actions/runs/4242' },
    ]);
    received.length = 0;
    // A plan is bound to its values: a new version gets its own plan.
    const next = await rollout('1.1.1', { phase: 'plan', 'deployment-records': 'none' });
    expect(next.code).toBe(0);
    received.length = 0;
    const ungated = await rollout('1.1.1', { phase: 'pilot', plan: next.outputs.plan!, gate: 'none', 'deployment-records': 'none' });
    expect(ungated.code, annotations(ungated.stdout, /^::(error|warning)/)).toBe(0);
    expect(received.map((x) => x.headers['x-deploy-actions-event'])).not.toContain('approval-needed');
  });

  it(
    'GitHub answering 500 to everything and a webhook that never answers: the rollout succeeds, the job ends (bounded), with warnings',
    { timeout: 240_000 },
    async () => {
      gh.fault = (q) => (q.path.includes('/environments/') ? undefined : { status: 500 });
      try {
        const hang = `${hookBase}/hang/never-answers-secret`;
        const r = await rollout('1.2.0', { notify: `slack ${hang}` });
        expect(r.code).toBe(0);
        expect(r.outputs.outcome).toBe('succeeded');
        expect(r.stdout).toMatch(/::warning::.*the GitHub API failed 3 calls in a row/);
        // Each attempt gives up at 10 s; the job waits for notifications at most 30 s.
        expect(r.stdout).toMatch(
          /::warning::(notification "\S+" to slack #1 failed after|\d+ notifications still being sent after 30s: abandoned)/,
        );
        expect(r.stdout.replace(/::add-mask::.*/g, '')).not.toContain('never-answers-secret');
      } finally {
        gh.fault = undefined;
      }
    },
  );
});
