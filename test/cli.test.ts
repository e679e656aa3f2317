/* eslint-disable no-control-regex -- a terminal's escape codes are what these tests look for */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { parseCommandLine, UsageError } from '../src/cli/args.ts';
import { cli } from '../src/cli/main.ts';
import { renderReportText } from '../src/cli/render.ts';
import { buildReport } from '../src/rollout/report.ts';
import { closest } from '../src/core/closest.ts';
import { startFakeKube } from './support/fake-kube/index.ts';
import { helmBinaries } from './support/tools.ts';

interface TermOpts {
  /** stdin is a terminal (the CLI may ask). */
  tty?: boolean;
  /** stdout / stderr are terminals (colour, the live progress line). */
  ttyOut?: boolean;
  ttyErr?: boolean;
  answer?: string;
}

function terminal(opts: TermOpts = {}) {
  const stdin = Object.assign(new PassThrough(), { isTTY: opts.tty ?? false });
  const sink = (isTTY: boolean) => {
    const chunks: string[] = [];
    const s = Object.assign(new PassThrough(), { isTTY, columns: 100 });
    s.on('data', (c: Buffer) => chunks.push(c.toString()));
    return { s, text: () => chunks.join('') };
  };
  const out = sink(opts.ttyOut ?? false);
  const err = sink(opts.ttyErr ?? false);
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

async function run(argv: string[], opts: TermOpts & { env?: Record<string, string> } = {}) {
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

  it('colour on a terminal only: a pipe and NO_COLOR get plain text, aligned the same', async () => {
    const argv = ['plan', '--tenants', 'a,b,c,d', '--pilot', 'a', '--batch-size', '2'];
    const tty = await run(argv, { ttyOut: true });
    const pipe = await run(argv);
    const noColor = await run(argv, { ttyOut: true, env: { NO_COLOR: '1' } });
    expect(tty.code).toBe(0);
    // The header is bold on a terminal; nothing else differs once the escapes are gone.
    expect(tty.out).toMatch(/^\x1b\[1mwave +tenants +ids\x1b\[0m$/m);
    expect(pipe.out).not.toContain('\x1b');
    expect(noColor.out).not.toContain('\x1b');
    expect(tty.out.replace(/\x1b\[[0-9;]*m/g, '')).toBe(pipe.out);
  });

  it('a rollout on a terminal keeps one live progress line; in a pipe each progress is a plain line', { timeout: 120_000 }, async () => {
    const kube = await startFakeKube();
    kube.addTenantNamespaces(['tenant-a', 'tenant-b']);
    const dir = mkdtempSync(join(tmpdir(), 'cli-progress-'));
    const kubeconfig = join(dir, 'kubeconfig');
    writeFileSync(kubeconfig, kube.kubeconfigYaml);
    const argv = (tag: string) => [
      'rollout',
      '--tenants',
      'a,b',
      '--pilot',
      '0',
      '--batch-size',
      '100%',
      '--chart',
      'examples/charts/tenant-app',
      '--set',
      `image.tag=${tag}`,
      '--helm',
      helmBinaries[4],
      '--timeout',
      '30s',
      '--yes',
    ];
    try {
      const tty = await run(argv('1.0.0'), { ttyErr: true, ttyOut: true, env: { KUBECONFIG: kubeconfig, HOME: dir } });
      expect(tty.code, tty.err).toBe(0);
      // Each progress replaces the last (carriage return, erase line); the final count is among them.
      expect(tty.err).toMatch(/\r\x1b\[Kwave 1\/1 \(1\/1\): 2\/2 done · overall 2\/2, 0 failed/);
      // Every live line is erased before the next line is written: without them, no progress is left.
      const cleared = tty.err.replace(/\r\x1b\[K[^\r\n]*(?=\r)/g, '').replaceAll('\r\x1b[K', '');
      expect(cleared).not.toMatch(/done · overall/);
      expect(cleared).toMatch(/^── ✓ a \(tenant-a\/a\): succeeded/m);
      expect(cleared).toMatch(/^report: \S+\/report\.json$/m);
      // The result table is coloured: succeeded in green.
      expect(tty.out).toContain('\x1b[32msucceeded\x1b[0m');

      const pipe = await run(argv('1.0.1'), { env: { KUBECONFIG: kubeconfig, HOME: dir } });
      expect(pipe.code, pipe.err).toBe(0);
      expect(pipe.err).not.toContain('\r');
      expect(pipe.err).not.toContain('\x1b');
      expect(pipe.err).toMatch(/^wave 1\/1 \(1\/1\): 2\/2 done · overall 2\/2, 0 failed/m);
      expect(pipe.out).not.toContain('\x1b');
    } finally {
      await kube.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("a dry run's result line says so, in a pipe and on a terminal", () => {
    const tenants = [{ id: 'a', namespace: 'tenant-a', release: 'a', step: 'wave 1/1', status: 'succeeded' as const, durationMs: 1000 }];
    const meta = { phase: 'all', planFingerprint: 'f', target: 't', startedAt: '2026-12-07T10:00:00Z' };
    const dry = buildReport({ tenants, durationMs: 1000 }, { ...meta, dryRun: true });
    const last = (text: string) => text.split('\n').at(-1);
    expect(last(renderReportText(dry, { color: false }))).toBe('DRY RUN, nothing changed: succeeded: 1 succeeded in 1s');
    expect(last(renderReportText(dry, { color: true }))).toMatch(/^\x1b\[1mDRY RUN, nothing changed: \x1b\[0m/);
    expect(last(renderReportText(buildReport({ tenants, durationMs: 1000 }, meta), { color: false }))).toBe('succeeded: 1 succeeded in 1s');
  });
});
