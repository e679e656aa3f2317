import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { parseCommandLine, UsageError } from '../src/cli/args.ts';
import { cli } from '../src/cli/main.ts';
import { closest } from '../src/core/closest.ts';
import { startFakeKube } from './support/fake-kube/index.ts';
import { helmBinaries } from './support/tools.ts';

function terminal(opts: { tty?: boolean; answer?: string } = {}) {
  const stdin = Object.assign(new PassThrough(), { isTTY: opts.tty ?? false });
  const sink = () => {
    const chunks: string[] = [];
    const s = Object.assign(new PassThrough(), { isTTY: false, columns: 100 });
    s.on('data', (c: Buffer) => chunks.push(c.toString()));
    return { s, text: () => chunks.join('') };
  };
  const out = sink();
  const err = sink();
  if (opts.answer !== undefined) {
    // Answer the question once it has been asked.
    err.s.on('data', (c: Buffer) => {
      if (c.toString().includes('[y/N]')) stdin.write(`${opts.answer}\n`);
    });
  }
  return {
    term: { stdin, stdout: out.s as unknown as NodeJS.WriteStream, stderr: err.s as unknown as NodeJS.WriteStream },
    out: out.text,
    err: err.text,
  };
}

async function run(argv: string[], opts: { tty?: boolean; answer?: string; env?: Record<string, string> } = {}) {
  const t = terminal(opts);
  const code = await cli(argv, { PATH: process.env.PATH, ...opts.env }, t.term);
  return { code, out: t.out(), err: t.err() };
}

const usage = (argv: string[]) => {
  try {
    parseCommandLine(argv);
  } catch (e) {
    if (e instanceof UsageError) return e.message;
    throw e;
  }
  return 'parsed';
};

describe('deploy-actions CLI', () => {
  it('maps flags onto action inputs, repeated multi-line flags into lines', () => {
    const p = parseCommandLine(['rollout', '--set', 'a=1', '--set=b=2', '--pilot', '2', '--yes']);
    expect(p).toMatchObject({ inputs: { set: 'a=1\nb=2', pilot: '2' }, yes: true });
    expect(parseCommandLine(['plan', '--tenants', 'a,b'])).toMatchObject({ inputs: { phase: 'plan', tenants: 'a,b' } });
  });

  it('refuses what it does not know, naming the closest flag', () => {
    expect(usage(['plan', '--piolt', '2'])).toMatch(/unknown flag --piolt; did you mean --pilot\?/);
    expect(usage(['rollout', '--dryrun', 'server'])).toMatch(/unknown flag --dryrun; did you mean --dry-run\?/);
    expect(usage(['status', '--pilot', '2'])).toMatch(/--pilot is not a flag of "status" \(it is one of plan, rollout\)/);
    expect(usage(['plan', 'oops'])).toMatch(/unexpected argument "oops"/);
    expect(usage(['plan', '--pilot'])).toMatch(/--pilot needs a value/);
    expect(usage(['plan', '--pilot', '1', '--pilot', '2'])).toMatch(/--pilot given 2 times/);
    expect(usage(['rolout'])).toMatch(/unknown command "rolout"; did you mean "rollout"\?/);
    expect(usage(['plan', '--phase', 'all'])).toMatch(/--phase is not a flag of "plan" \(it is one of rollout\)/);
  });

  it('closest: typos and squashed dashes, nothing for a far name', () => {
    expect(closest('dryrun', ['dry-run', 'pilot'])).toBe('dry-run');
    expect(closest('batchsize', ['batch-size'])).toBe('batch-size');
    expect(closest('zzzzzzzz', ['pilot', 'set'])).toBeUndefined();
  });

  it('-h and --help on a command list its flags with descriptions and defaults', async () => {
    for (const h of ['-h', '--help']) {
      const r = await run(['plan', h]);
      expect(r.code).toBe(0);
      expect(r.out).toMatch(/--pilot +Pilot tenants: [\s\S]*?\[default: 1\]/);
      expect(r.out).toMatch(/--batch-size [^-]*\[default: 25%\]/);
      expect(r.out).not.toMatch(/--chart /);
    }
  });

  it('plans the example fleet with no cluster and prints an aligned plan', async () => {
    const r = await run(['plan', '--tenants-file', 'examples/tenants.yaml', '--pilot', '2', '--batch-size', '1,25%,100%']);
    expect(r.err).not.toMatch(/error/);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^wave +tenants +ids$/m);
    expect(r.out).toMatch(/^pilot +2 +/m);
  });

  it('--json prints the outputs, the plan among them', async () => {
    const r = await run(['plan', '--tenants', 'a,b,c,d', '--pilot', 'a', '--batch-size', '2', '--json']);
    const plan = JSON.parse((JSON.parse(r.out) as Record<string, string>).plan!);
    expect(plan.waves.map((w: { id: string }[]) => w.map((t) => t.id))).toEqual([['b', 'c'], ['d']]);
  });

  it('--markdown prints the job summary', async () => {
    const r = await run(['plan', '--tenants', 'a,b', '--markdown']);
    expect(r.out).toMatch(/\| wave \| tenants \| ids \|/);
  });

  it('bad input: one clear line and exit code 2', async () => {
    const r = await run(['plan', '--tenants', 'a,b', '--batch-size', '150%']);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/^error: input "batch-size": .*150%/);
  });

  it('a mutating command is refused without --yes when stdin is not a terminal', async () => {
    const r = await run(['rollout', '--tenants', 'a', '--chart', 'examples/charts/tenant-app']);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/stdin is not a terminal to ask: add --yes/);
  });

  it('on a terminal it shows the plan and asks; "n" changes nothing', async () => {
    // A cluster to read the tenants' namespaces from (their hold annotations), and to prove that
    // "n" changes nothing in it.
    const kube = await startFakeKube();
    kube.addNamespaces(['tenant-a', 'tenant-b', 'tenant-c']);
    const dir = mkdtempSync(join(tmpdir(), 'cli-tty-'));
    const kubeconfig = join(dir, 'kubeconfig');
    writeFileSync(kubeconfig, kube.kubeconfigYaml);
    try {
      const r = await run(
        [
          'rollout',
          '--tenants',
          'a,b,c',
          '--pilot',
          '1',
          '--batch-size',
          '1',
          '--chart',
          'examples/charts/tenant-app',
          '--set',
          'image.tag=v1.3.0',
          '--helm',
          helmBinaries[4],
          '--verify-workloads',
          'false',
        ],
        { tty: true, answer: 'n', env: { KUBECONFIG: kubeconfig } },
      );
      expect(r.err).toMatch(/^pilot +1 +a$/m);
      expect(r.err).toMatch(/Deploy v1\.3\.0 to 3 tenants in 3 waves\? \[y\/N\]/);
      expect(r.err).toMatch(/nothing done: the operator declined/);
      expect(kube.requests.filter((q) => q.method !== 'GET')).toEqual([]);
    } finally {
      await kube.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
