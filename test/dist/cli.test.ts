/**
 * The operator's CLI through the built bin (dist/cli/index.js), as a user runs it: every misuse
 * is exit 2 with one clear line on stderr, nothing on stdout, and not one request to the API
 * (the fake's kubeconfig is the one in use, so any request would be recorded).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { COMMANDS } from '../../src/cli/commands.ts';
import { startFakeKube, type FakeKube } from '../support/fake-kube/index.ts';
import { exampleChart, helmBinaries, repoRoot } from '../support/tools.ts';

const bin = join(repoRoot, 'dist/cli/index.js');
// An old Node: the machine's own when it has one below 24 (Debian's, 20 here), and always this
// Node told it is 20.11.1 by a preload, so the check runs wherever the suite runs.
const machineNode = ['/usr/bin/node', '/usr/local/bin/node'].find(
  (p) => existsSync(p) && Number(/^v(\d+)/.exec(spawnSync(p, ['--version'], { encoding: 'utf8' }).stdout ?? '')?.[1]) < 24,
);
const pretend20 = `--import=data:text/javascript,Object.defineProperty(process,"versions",{value:{...process.versions,node:"20.11.1"}})`;
const oldNodes: Array<{ node: string; pre: string[]; version: RegExp }> = [
  { node: process.execPath, pre: [pretend20], version: /20\.11\.1/ },
  ...(machineNode ? [{ node: machineNode, pre: [], version: /20\.\d+\.\d+|1\d\.\d+\.\d+|2[0-3]\.\d+\.\d+/ }] : []),
];

describe('deploy-actions CLI misuse through dist/ (zero API requests)', () => {
  let kube: FakeKube;
  beforeAll(async () => {
    kube = await startFakeKube();
    kube.addTenantNamespaces(['tenant-t01', 'tenant-t02']);
    kube.clearRequests();
  });
  afterAll(async () => {
    await kube?.close();
  });
  const cli = (args: string[], node = process.execPath, pre: string[] = []) =>
    spawnSync(node, [...pre, bin, ...args], {
      cwd: repoRoot,
      encoding: 'utf8',
      // stdin is a pipe, not a terminal: the CLI cannot ask.
      input: '',
      env: { PATH: process.env.PATH, HOME: process.env.HOME, KUBECONFIG: kube.kubeconfigPath, NO_COLOR: '1' },
    });

  const cases: Array<[string, string[], RegExp]> = [
    ['unknown flag', ['plan', '--tenants', 't01', '--frobnicate', 'x'], /^error: plan: unknown flag --frobnicate \(/],
    ['misspelt flag (piolt)', ['plan', '--tenants', 't01', '--piolt', '2'], /unknown flag --piolt; did you mean --pilot\?/],
    [
      'misspelt flag that deployed before (dryrun)',
      ['rollout', '--tenants', 't01', '--pilot', '0', '--dryrun', 'server', '--yes'],
      /did you mean --dry-run\?/,
    ],
    [
      'flag of another subcommand (status --pilot)',
      ['status', '--pilot', '2'],
      /--pilot is not a flag of "status" \(it is one of plan, rollout\)/,
    ],
    [
      'flag of another subcommand (pause --chart)',
      ['pause', '--chart', exampleChart, '--yes'],
      /--chart is not a flag of "pause" \(it is one of rollout\)/,
    ],
    [
      'flag of another subcommand (plan --rollback-report)',
      ['plan', '--rollback-report', 'r.json'],
      /is not a flag of "plan" \(it is one of rollback\)/,
    ],
    ['missing value at the end', ['plan', '--tenants', 't01', '--pilot'], /^error: plan: --pilot needs a value/],
    ['missing value before another flag', ['plan', '--pilot', '--batch-size', '2'], /--pilot needs a value/],
    ['a value for a switch', ['rollback', '--yes=no'], /--yes takes no value/],
    ['stray argument', ['plan', 't01'], /unexpected argument "t01"/],
    ['unknown command', ['rolout', '--tenants', 't01'], /unknown command "rolout"; did you mean "rollout"\?/],
    ['a single-valued flag twice', ['plan', '--pilot', '1', '--pilot', '2'], /--pilot given 2 times/],
    ['--yes on a command that changes nothing', ['status', '--yes'], /unknown flag --yes/],
    [
      'rollout without --yes, not a terminal',
      ['rollout', '--tenants', 't01', '--chart', exampleChart, '--helm', helmBinaries[4]],
      /rollout changes the cluster and stdin is not a terminal to ask: add --yes/,
    ],
    ['rollback without --yes, not a terminal', ['rollback', '--tenants', 't01'], /rollback changes the cluster .* add --yes/],
    ['pause without --yes, not a terminal', ['pause', '--reason', 'x'], /pause changes the cluster .* add --yes/],
    ['resume without --yes, not a terminal', ['resume'], /resume changes the cluster .* add --yes/],
    [
      'an action by name without --yes',
      ['helm-deploy', '--release', 'a', '--namespace', 'tenant-t01', '--chart', exampleChart],
      /helm-deploy changes the cluster .* add --yes/,
    ],
    ['rollout --phase that is not a rollout phase', ['rollout', '--phase', 'status', '--yes'], /--phase must be pilot, waves or all/],
  ];

  it.each(cases)('%s: exit 2, one line, nothing on stdout, no API request', (_name, args, message) => {
    expect(existsSync(bin), 'run npm run build first').toBe(true);
    const before = kube.requests.length;
    const r = cli(args);
    expect(r.stderr).toMatch(message);
    expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(r.stdout).toBe('');
    expect(r.status).toBe(2);
    expect(kube.requests.length - before).toBe(0);
  });

  it('no kubeconfig anywhere: one line saying so, not a riddle about localhost:8080', () => {
    const home = mkdtempSync(join(tmpdir(), 'cli-nokube-'));
    try {
      const bare = (args: string[]) =>
        spawnSync(process.execPath, [bin, ...args], {
          cwd: repoRoot,
          encoding: 'utf8',
          input: '',
          env: { PATH: process.env.PATH, HOME: home, NO_COLOR: '1' },
        });
      const status = bare(['status', '--tenants', 't01']);
      expect(status.status).toBe(2);
      expect(status.stderr).toBe(
        'error: the default kubeconfig: was not found: KUBECONFIG is not set, there is no ~/.kube/config and this is not a pod ' +
          '(set KUBECONFIG or pass --kubeconfig; on a runner, the kubeconfig input)\n',
      );
      // A plan needs no cluster: it says what it could not read, and plans.
      const plan = bare(['plan', '--tenants', 't01,t02', '--pilot', '1']);
      expect(plan.status, plan.stderr).toBe(0);
      expect(plan.stderr).toMatch(
        /^warning: namespace hold annotations not read \(the default kubeconfig: was not found: KUBECONFIG is not set/m,
      );
      expect(plan.stderr).not.toMatch(/localhost:8080|skipTLSVerify/);
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
  });

  it('Node older than 24: one clear line, exit 2, the bundle never loaded (no minified code printed)', () => {
    for (const old of oldNodes)
      for (const args of [['plan', '--tenants', 't01'], ['--help'], []]) {
        const before = kube.requests.length;
        const r = cli(args, old.node, old.pre);
        expect(r.status).toBe(2);
        const esc = old.node.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
        expect(r.stderr).toMatch(
          new RegExp(`^deploy-actions needs Node\\.js 24 or later; this is Node (${old.version.source}) \\(${esc}\\)\n$`),
        );
        expect(r.stdout).toBe('');
        expect(kube.requests.length - before).toBe(0);
      }
  });

  // Every command, -h and --help taking turns (each spawn loads the bundle); both on the fleet commands.
  const helpCases = COMMANDS.flatMap((c, i) =>
    c.name !== c.action
      ? [
          [c.name, '-h'],
          [c.name, '--help'],
        ]
      : [[c.name, i % 2 ? '-h' : '--help']],
  );
  it.each(helpCases)('%s %s lists every flag with its description and default, exit 0, no API request', (name, flag) => {
    const before = kube.requests.length;
    const r = cli([name, flag]);
    expect(r.status).toBe(0);
    expect(r.stderr).toBe('');
    const c = COMMANDS.find((x) => x.name === name)!;
    for (const f of c.flags) expect(r.stdout).toContain(`--${f} `);
    expect(r.stdout).toMatch(/-h, --help +Show this help\./);
    if (c.flags.includes('max-parallel')) expect(r.stdout).toMatch(/--max-parallel +Tenants deployed at once[^\n]*\n?[^-]*\[default: 5\]/);
    expect(kube.requests.length - before).toBe(0);
  });

  it('no command or --help: the command list, exit 0', () => {
    for (const args of [[], ['--help'], ['-h']]) {
      const r = cli(args);
      expect(r.status).toBe(0);
      expect(r.stdout).toMatch(/^fleet commands:\n {2}plan /m);
      expect(r.stdout).toMatch(/^ {2}pause /m);
    }
  });
});
