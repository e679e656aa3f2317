// Cold start of an action: from spawning `node dist/helm-deploy/index.js` to the moment it runs
// its first helm command (a stub helm that records the time and fails, ending the run).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync, chmodSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export function coldStart(runs = 7): void {
  const dir = mkdtempSync(join(tmpdir(), 'cold-'));
  const stamp = join(dir, 'stamp');
  const helm = join(dir, 'helm');
  writeFileSync(helm, `#!/bin/sh\ndate +%s%N > ${stamp}\nexit 1\n`);
  chmodSync(helm, 0o755);
  writeFileSync(join(dir, 'out'), '');
  writeFileSync(join(dir, 'state'), '');
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const env = {
      PATH: process.env.PATH,
      RUNNER_TEMP: dir,
      INPUT_RELEASE: 'a',
      INPUT_NAMESPACE: 'a',
      INPUT_CHART: 'examples/charts/tenant-app',
      INPUT_HELM: helm,
      GITHUB_OUTPUT: join(dir, 'out'),
      GITHUB_STATE: join(dir, 'state'),
    };
    const t0 = process.hrtime.bigint() + BigInt(Date.now()) * 1_000_000n - process.hrtime.bigint();
    spawnSync(process.execPath, ['dist/helm-deploy/index.js'], { env, stdio: 'ignore' });
    times.push(Number(BigInt(readFileSync(stamp, 'utf8').trim()) - t0) / 1e6);
  }
  times.sort((a, b) => a - b);
  const size = statSync('dist/lib/index.js').size;
  console.log(
    `cold start (node ${process.version}, dist/lib/index.js ${(size / 2 ** 20).toFixed(1)} MiB): process start to first helm call, median ${times[Math.floor(runs / 2)]!.toFixed(0)} ms (min ${times[0]!.toFixed(0)}, max ${times.at(-1)!.toFixed(0)}, ${runs} runs)`,
  );
}
