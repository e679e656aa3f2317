/**
 * The CLI is the same engine: `deploy-actions plan` with --notify and --approval-environment
 * checks the gate through the GitHub REST fake (real Octokit) and posts plan-ready to a local
 * receiver, without printing the webhook URL.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli } from '../../src/cli/main.ts';
import { startFakeGitHub, type FakeGitHub } from '../support/fake-github/index.ts';

let gh: FakeGitHub;
let hooks: Server;
let url = '';
const bodies: { event: string; body: string }[] = [];

beforeAll(async () => {
  gh = await startFakeGitHub({ environments: [{ name: 'tenants', reviewers: ['alice'] }] });
  hooks = createServer((req, res) => {
    let b = '';
    req.on('data', (c: Buffer) => (b += c.toString()));
    req.on('end', () => {
      bodies.push({ event: String(req.headers['x-deploy-actions-event']), body: b });
      res.end('ok');
    });
  });
  await new Promise<void>((r) => hooks.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(hooks.address() as AddressInfo).port}/hook/cli-secret`;
});
afterAll(async () => {
  await gh.close();
  hooks.close();
});

async function capture(argv: string[]) {
  const chunks: string[] = [];
  const sink = () => {
    const s = Object.assign(new PassThrough(), { isTTY: false, columns: 100 });
    s.on('data', (c: Buffer) => chunks.push(c.toString()));
    return s as unknown as NodeJS.WriteStream;
  };
  const stdin = Object.assign(new PassThrough(), { isTTY: false });
  const code = await cli(argv, { PATH: process.env.PATH, ...gh.env() }, { stdin, stdout: sink(), stderr: sink() });
  return { code, out: chunks.join('') };
}

describe('CLI: notifications and the gate check', () => {
  const args = (env: string, pilot = '1') => [
    'plan',
    '--tenants',
    'a,b,c',
    '--pilot',
    pilot,
    '--github-token',
    gh.token,
    '--approval-environment',
    env,
    '--notify',
    `json ${url}`,
    '--notify-signing-key',
    'cli-key-1234',
  ];

  it('plan: the gate is checked and plan-ready is posted', async () => {
    const r = await capture(args('tenants'));
    expect(r.code, r.out).toBe(0);
    expect(gh.requests.map((q) => q.path)).toContain('/repos/acme/fleet/environments/tenants');
    expect(bodies.map((b) => b.event)).toEqual(['plan-ready']);
    expect(JSON.parse(bodies[0]!.body)).toMatchObject({ event: 'plan-ready', phase: 'plan', title: 'rollout planned: 3 tenants' });
    expect(r.out).not.toContain('cli-secret');
  });

  it('gate none: nothing to check, and no approval-needed', async () => {
    bodies.length = 0;
    const before = gh.requests.length;
    // Without pilot tenants the plan job is where approval-needed would go: not with gate none.
    const r = await capture([...args('tenant', '0'), '--gate', 'none']);
    expect(r.code, r.out).toBe(0);
    expect(gh.requests.length).toBe(before);
    expect(bodies.map((b) => b.event)).toEqual(['plan-ready']);
  });

  it('a typo in the environment: exit 2 with the closest name, no plan-ready', async () => {
    bodies.length = 0;
    const r = await capture(args('tenant'));
    expect(r.code).toBe(2);
    expect(r.out).toMatch(/approval environment "tenant": does not exist .*did you mean "tenants"\?/);
    expect(bodies).toEqual([]);
  });
});
