/**
 * Notifications against a local webhook receiver, with the real fetch adapter: each event in each
 * format, a valid HMAC-SHA256 signature, a receiver answering 500 then 200 (retried), one that
 * never answers (bounded, rollout unaffected), and no webhook URL in any log line.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Secrets } from '../../src/core/secrets.ts';
import { approvalNeededNotice, endNotices, planReadyNotice, stepNotice } from '../../src/notify/notices.ts';
import { Notifier } from '../../src/notify/notifier.ts';
import type { Notice } from '../../src/notify/payloads.ts';
import { parseNotifyEvents, parseNotifyTargets, NOTIFY_EVENTS } from '../../src/notify/targets.ts';
import type { NotifyFormat } from '../../src/notify/targets.ts';
import type { Plan } from '../../src/rollout/plan.ts';
import type { RolloutReport } from '../../src/rollout/report.ts';
import { fetchHttp } from '../../src/core/http.ts';
import { FakeClock } from '../support/fake-clock.ts';
import { RecordingLogger } from '../support/logger.ts';

interface Received {
  path: string;
  headers: IncomingMessage['headers'];
  body: string;
}

let server: Server;
let base = '';
const received: Received[] = [];
/** Per path: statuses to answer in turn (then 200); 'hang' never answers. */
const script = new Map<string, (number | 'hang')[]>();
const hanging: ServerResponse[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push({ path: req.url!, headers: req.headers, body: Buffer.concat(chunks).toString() });
      const next = script.get(req.url!)?.shift() ?? 200;
      if (next === 'hang') return void hanging.push(res);
      res.writeHead(next, { 'content-type': 'text/plain' }).end(next === 200 ? 'ok' : `error, see ${base}${req.url}`);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => {
  for (const r of hanging) r.destroy();
  server.closeAllConnections();
  server.close();
});

const KEY = 'whsec-test-signing-key';
const ctx = {
  fleet: 'prod-eu',
  version: 'v1.4.0',
  phase: 'waves',
  runUrl: 'https://github.example/acme/fleet/actions/runs/4242',
  reportUrl: 'https://github.example/acme/fleet/actions/runs/4242#artifacts',
};
const plan = {
  fingerprint: 'abcdef0123456789',
  pilot: [{ id: 'p1' }],
  waves: [[{ id: 'a' }], [{ id: 'b' }]],
  summary: { tenants: 3 },
} as unknown as Plan;
const report: RolloutReport = {
  version: 1,
  phase: 'waves',
  planFingerprint: 'abcdef',
  target: 't',
  startedAt: '2026-12-07T10:00:00Z',
  durationMs: 754_000,
  outcome: 'failed',
  exitCode: 1,
  next: 'look at the failed tenants',
  stoppedBecause: 'failure budget spent: 1 failed, 0 allowed (last: b: smoke check /api/health: status 503)',
  counts: {
    succeeded: 1,
    unchanged: 0,
    'failed-rolled-back': 1,
    'rolled-back': 0,
    'failed-untouched': 0,
    failed: 0,
    unknown: 0,
    skipped: 1,
    held: 0,
  },
  appeared: [],
  vanished: [],
  tenants: [
    { id: 'a', namespace: 'tenant-a', release: 'a', step: 'wave-1', status: 'succeeded', durationMs: 1 },
    {
      id: 'b',
      namespace: 'tenant-b',
      release: 'b',
      step: 'wave-1',
      status: 'failed-rolled-back',
      durationMs: 1,
      error: 'smoke check /api/health: status 503',
    },
    { id: 'c', namespace: 'tenant-c', release: 'c', step: 'wave-2', status: 'skipped', durationMs: 0 },
  ],
};

function allNotices(): Notice[] {
  return [
    planReadyNotice(ctx, plan, { kind: 'minor', gate: 'approval', reason: 'a minor release goes through the pilot and an approval' }),
    approvalNeededNotice(ctx, 'tenants-production', 'the promotion needs approval (gate approval)'),
    stepNotice(ctx, { type: 'step-finished', step: 'pilot', index: 0, steps: 3, results: [report.tenants[0]!] }),
    stepNotice(ctx, {
      type: 'step-finished',
      step: 'wave-1',
      index: 1,
      steps: 3,
      results: report.tenants.slice(0, 2),
      stoppedBecause: report.stoppedBecause,
    }),
    ...endNotices(ctx, report),
  ];
}

function notifierFor(lines: string[], opts: { attempts?: number; timeoutMs?: number } = {}) {
  const secrets = new Secrets();
  // Not redacting: the code itself must never print a URL (the runner's masking is a second line).
  const logger = new RecordingLogger();
  const clock = new FakeClock();
  const targets = parseNotifyTargets('notify', lines, (v) => secrets.add(v));
  const n = new Notifier(
    { targets, events: [...NOTIFY_EVENTS], signingKey: KEY, backoffMs: 5, ...opts },
    { http: fetchHttp, clock, logger },
  );
  return { n, logger, clock, secrets };
}

const verify = (r: Received) => {
  const ts = String(r.headers['x-deploy-actions-timestamp']);
  const want = `sha256=${createHmac('sha256', KEY).update(`${ts}.${r.body}`).digest('hex')}`;
  const got = String(r.headers['x-deploy-actions-signature']);
  return got.length === want.length && timingSafeEqual(Buffer.from(got), Buffer.from(want));
};

describe('notifications', () => {
  it('every event reaches each format in its wire shape; json is signed with a valid HMAC', async () => {
    received.length = 0;
    const { n, logger } = notifierFor([
      `slack ${base}/slack/T0/B0/secretpath`,
      `teams ${base}/teams/workflows/sig=abc`,
      `json ${base}/json/hook-token-123`,
    ]);
    const notices = allNotices();
    expect(notices.map((x) => x.event)).toEqual([
      'plan-ready',
      'approval-needed',
      'pilot-done',
      'wave-done',
      'halted',
      'rolled-back',
      'finished',
    ]);
    for (const x of notices) n.send(x);
    await n.flush(5000);
    expect(n.deliveries.filter((d) => !d.ok)).toEqual([]);
    const by = (fmt: NotifyFormat) => received.filter((r) => r.path.startsWith(`/${fmt}/`)).map((r) => JSON.parse(r.body));
    const slack = by('slack');
    expect(slack).toHaveLength(7);
    const halted = slack.find((m) => m.text.startsWith('prod-eu: v1.4.0 rollout halted'))!;
    expect(halted.blocks[0]).toEqual({
      type: 'header',
      text: { type: 'plain_text', text: 'prod-eu: v1.4.0 rollout halted (failed)', emoji: true },
    });
    expect(JSON.stringify(halted.blocks)).toContain('b (failed-rolled-back): smoke check /api/health: status 503');
    const approval = slack.find((m) => m.text.includes('approval needed'))!;
    expect(approval.blocks.at(-1)).toEqual({
      type: 'actions',
      elements: [{ type: 'button', text: { type: 'plain_text', text: 'Review and approve' }, url: ctx.runUrl }],
    });
    const teams = by('teams');
    expect(teams).toHaveLength(7);
    const card = teams.find((m) => JSON.stringify(m).includes('rollout failed'))!;
    expect(card.type).toBe('message');
    expect(card.attachments[0].contentType).toBe('application/vnd.microsoft.card.adaptive');
    expect(card.attachments[0].content).toMatchObject({ type: 'AdaptiveCard', version: '1.4' });
    expect(card.attachments[0].content.body).toContainEqual({
      type: 'FactSet',
      facts: expect.arrayContaining([{ title: 'Duration', value: '12m34s' }]),
    });
    expect(card.attachments[0].content.actions).toContainEqual({ type: 'Action.OpenUrl', title: 'Report', url: ctx.reportUrl });
    const json = received.filter((r) => r.path.startsWith('/json/'));
    expect(json.map((r) => r.headers['x-deploy-actions-event'])).toEqual(notices.map((x) => x.event));
    expect(json.every(verify)).toBe(true);
    const finished = JSON.parse(json.at(-1)!.body);
    expect(finished).toMatchObject({
      schemaVersion: 1,
      version: 'v1.4.0',
      event: 'finished',
      outcome: 'failed',
      counts: report.counts,
      failedCount: 1,
      durationMs: 754_000,
    });
    // A tampered body fails verification.
    expect(verify({ ...json[0]!, body: json[0]!.body.replace('plan-ready', 'finished') })).toBe(false);
    expect(logger.lines).toEqual([]);
  });

  it('a receiver answering 500 then 200 gets the notice on the retry', async () => {
    received.length = 0;
    script.set('/flaky/hook', [500]);
    const { n, logger, clock } = notifierFor([`json ${base}/flaky/hook`]);
    n.send(endNotices(ctx, report).at(-1)!);
    await n.flush(5000);
    expect(received.filter((r) => r.path === '/flaky/hook')).toHaveLength(2);
    expect(n.deliveries).toEqual([{ target: 'json #1', event: 'finished', ok: true, attempts: 2 }]);
    expect(clock.sleeps).toEqual([5]);
    expect(logger.lines).toEqual([]);
  });

  it('a receiver that never answers: bounded attempts, one warning without the URL, nothing thrown', async () => {
    script.set('/silent/hook-secret', ['hang', 'hang']);
    const url = `${base}/silent/hook-secret`;
    const { n, logger } = notifierFor([`slack ${url}`], { attempts: 2, timeoutMs: 150 });
    n.send(endNotices(ctx, report).at(-1)!);
    await n.flush(5000);
    expect(n.deliveries).toEqual([{ target: 'slack #1', event: 'finished', ok: false, attempts: 2, error: 'no answer within 0s' }]);
    expect(logger.text()).toMatch(/notification "finished" to slack #1 failed after 2 attempts .*the rollout is not affected/);
    expect(logger.text()).not.toContain('/silent/hook-secret');
  });

  it('a 4xx is not retried; the error keeps only the status, not the body that echoes the URL', async () => {
    script.set('/gone/hook', [404]);
    const { n, logger } = notifierFor([`teams ${base}/gone/hook`]);
    n.send(endNotices(ctx, report).at(-1)!);
    await n.flush(5000);
    expect(n.deliveries[0]).toMatchObject({ ok: false, attempts: 1, error: 'HTTP 404' });
    expect(logger.text()).not.toContain(base);
  });
});

describe('notify inputs', () => {
  const parse = (lines: string[]) => {
    const masked: string[] = [];
    return { targets: parseNotifyTargets('notify', lines, (v) => masked.push(v)), masked };
  };
  it('one target per line, each URL masked, labelled by format and position', () => {
    const r = parse([
      'slack https://hooks.slack.com/services/T/B/x',
      'json https://h.example/a',
      'slack https://hooks.slack.com/services/T/B/y',
    ]);
    expect(r.targets.map((t) => t.label)).toEqual(['slack #1', 'json #1', 'slack #2']);
    expect(r.masked).toEqual(['https://hooks.slack.com/services/T/B/x', 'https://h.example/a', 'https://hooks.slack.com/services/T/B/y']);
  });
  it('a mistyped format names the closest, never the URL', () => {
    expect(() => parse(['slakc https://hooks.slack.com/services/T/B/x'])).toThrow(
      'input "notify": names an unknown format, got "line 1: slakc" (did you mean "slack"? use one of: slack, teams, json)',
    );
  });
  it('plain http only to this machine; a line without a URL is refused without echoing it', () => {
    expect(() => parse(['json http://hooks.example.com/x'])).toThrow(/is not an https:\/\/ URL/);
    expect(() => parse(['https://hooks.slack.com/services/T/B/x'])).toThrow(
      'input "notify": is not "<format> <webhook URL>", got "line 1"',
    );
  });
  it('events: default leaves out wave-done; a typo names the closest', () => {
    expect(parseNotifyEvents('notify-events', [])).not.toContain('wave-done');
    expect(parseNotifyEvents('notify-events', ['all'])).toContain('wave-done');
    expect(() => parseNotifyEvents('notify-events', ['halt'])).toThrow(/did you mean "halted"\?/);
  });
});
