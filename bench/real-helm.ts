// npm run bench:real: a figure, not a test. tenant-rollout through dist/ (as the runner runs it)
// with real helm 4 against the wire-level API fake (pods Ready 2 s after scheduling), against a
// bare `helm upgrade --install --wait` loop with the same stages (the plan's pilot and waves,
// one after the other) and the same parallelism (xargs -P). Wall and CPU are whole-process-tree
// figures (/usr/bin/time: the child and every descendant it waited for). Rounds alternate
// A B A B with a new image tag each time, so every run really upgrades every tenant.
// Needs `npm run build` (dist/) and `npm run tools` (.tools/helm4).
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startFakeKube } from '../test/support/fake-kube/index.ts';
import { exampleChart, helmBinaries, repoRoot } from '../test/support/tools.ts';

interface Timed {
  wall: number;
  cpu: number;
  code: number;
  out: string;
}

/** Runs argv under /usr/bin/time; wall and user+sys CPU seconds of the whole tree. */
function timed(argv: string[], env: NodeJS.ProcessEnv, dir: string): Promise<Timed> {
  const tf = join(dir, `time-${process.hrtime.bigint()}`);
  return new Promise((resolve) => {
    const child = spawn('/usr/bin/time', ['-f', '%e %U %S', '-o', tf, ...argv], { cwd: repoRoot, env });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (out += c.toString()));
    child.on('close', (code) => {
      const [wall, user, sys] = readFileSync(tf, 'utf8').trim().split('\n').at(-1)!.split(' ').map(Number);
      resolve({ wall: wall!, cpu: user! + sys!, code: code ?? 1, out });
    });
  });
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function scenario(n: number, o: { batch: string; parallel: number; rounds: number }) {
  const kube = await startFakeKube({ podReadyDelayMs: 2000 });
  const dir = mkdtempSync(join(tmpdir(), 'bench-real-'));
  try {
    const names = Array.from({ length: n }, (_, i) => `t${String(i + 1).padStart(3, '0')}`);
    kube.addTenantNamespaces(names.map((t) => `tenant-${t}`));
    const kubeconfig = join(dir, 'kubeconfig');
    writeFileSync(kubeconfig, kube.kubeconfigYaml, { mode: 0o600 });
    const helm = helmBinaries[4];
    const baseEnv = { PATH: process.env.PATH, HOME: dir, RUNNER_TEMP: dir, KUBECONFIG: kubeconfig };
    const action = (inputs: Record<string, string>) => {
      const files = Object.fromEntries(
        ['GITHUB_OUTPUT', 'GITHUB_STATE', 'GITHUB_STEP_SUMMARY'].map((k) => [k, join(dir, `${k}-${process.hrtime.bigint()}`)]),
      );
      for (const f of Object.values(files)) writeFileSync(f, '');
      const env: NodeJS.ProcessEnv = { ...baseEnv, ...files };
      const all = {
        chart: exampleChart,
        pilot: '2',
        'batch-size': o.batch,
        'max-parallel': String(o.parallel),
        timeout: '120s',
        helm,
        ...inputs,
      };
      for (const [k, v] of Object.entries(all)) env[`INPUT_${k.toUpperCase()}`] = v;
      return { env, files };
    };
    // The plan's stages, for the loop: the same pilot and waves the action runs.
    const p = action({ phase: 'plan' });
    const planned = await timed([process.execPath, join(repoRoot, 'dist/tenant-rollout/index.js')], p.env, dir);
    const plan = /plan<<(.+)\n([\s\S]*?)\n\1/.exec(readFileSync(p.files.GITHUB_OUTPUT!, 'utf8'));
    if (!plan || planned.code !== 0) throw new Error(`phase plan failed: ${planned.out.slice(-400)}`);
    const parsed = JSON.parse(plan[2]!) as {
      pilot: { release: string; namespace: string }[];
      waves: { release: string; namespace: string }[][];
    };
    const stages = [parsed.pilot, ...parsed.waves];
    const loop = join(dir, 'loop.sh');
    writeFileSync(
      loop,
      `#!/bin/sh
# bare helm: each stage's tenants with xargs -P, stages one after the other
set -e
tag="$1"
${stages
  .map(
    (s) =>
      `printf '%s\\n' ${s.map((t) => `'${t.namespace} ${t.release}'`).join(' ')} | xargs -P ${o.parallel} -L 1 sh -c '${helm} upgrade --install --wait --timeout 120s -n "$0" "$1" ${exampleChart} --set image.tag='"$tag"' >/dev/null'`,
  )
  .join('\n')}
`,
      { mode: 0o755 },
    );
    const ratios = { wall: [] as number[], cpu: [] as number[] };
    const figures = { action: [] as Timed[], loop: [] as Timed[] };
    // Round 0 installs every release (not counted): both then measure upgrades.
    await timed(['sh', loop, 'install'], baseEnv, dir);
    for (let r = 1; r <= o.rounds; r++) {
      const run = action({ set: `image.tag=a${r}`, ...extra });
      const a = await timed([process.execPath, join(repoRoot, 'dist/tenant-rollout/index.js')], run.env, dir);
      // Adaptive parallelism's figures: a loaded machine's latency can look like a throttling server.
      const rep = /report<<(.+)\n([\s\S]*?)\n\1/.exec(readFileSync(run.files.GITHUB_OUTPUT!, 'utf8'));
      const par = rep?.[2]
        ? (JSON.parse(rep[2]) as { parallelism?: { min: number; final: number; throttled: number; slow: number } }).parallelism
        : undefined;
      if (par)
        console.log(
          `  round ${r}: effective max-parallel lowest ${par.min}, final ${par.final} (${par.throttled} throttled, ${par.slow} slow responses)`,
        );
      if (a.code !== 0)
        throw new Error(
          `tenant-rollout failed (${a.code}): ${a.out
            .split('\n')
            .filter((l) => l.startsWith('::error'))
            .join(' ')}`,
        );
      const b = await timed(['sh', loop, `b${r}`], baseEnv, dir);
      if (b.code !== 0) throw new Error(`the helm loop failed: ${b.out.slice(-400)}`);
      figures.action.push(a);
      figures.loop.push(b);
      ratios.wall.push(a.wall / b.wall);
      ratios.cpu.push(a.cpu / b.cpu);
    }
    const f = (xs: Timed[], k: 'wall' | 'cpu') => median(xs.map((x) => x[k])).toFixed(2);
    console.log(
      `real helm 4, ${n} tenants, ${stages.length} stages, max-parallel ${o.parallel}, ${o.rounds} rounds: tenant-rollout wall ${f(figures.action, 'wall')} s, CPU ${f(figures.action, 'cpu')} s; bare helm loop wall ${f(figures.loop, 'wall')} s, CPU ${f(figures.loop, 'cpu')} s; wall/floor median ${median(ratios.wall).toFixed(3)} (${Math.min(...ratios.wall).toFixed(3)}-${Math.max(...ratios.wall).toFixed(3)}), CPU/floor median ${median(ratios.cpu).toFixed(3)} (${Math.min(...ratios.cpu).toFixed(3)}-${Math.max(...ratios.cpu).toFixed(3)})`,
    );
  } finally {
    await kube.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
// BENCH_INPUTS='{"adaptive-parallelism":"false"}': extra tenant-rollout inputs; BENCH_ONLY=100: one scenario.
const extra = JSON.parse(process.env.BENCH_INPUTS ?? '{}') as Record<string, string>;
const only = Number(process.env.BENCH_ONLY ?? 0);
if (!only || only === 12) await scenario(12, { batch: '5', parallel: 5, rounds });
if (!only || only === 100) await scenario(100, { batch: '25%', parallel: 10, rounds: Math.max(1, rounds - 1) });
