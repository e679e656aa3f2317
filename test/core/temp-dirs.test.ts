import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { leakedTempDirs } from '../support/global-setup.ts';
import { tempDir } from '../support/temp-dirs.ts';

describe('test temp directories', () => {
  it('the run has its own TMPDIR (set by the global setup), so leftovers there are from this run', () => {
    expect(tmpdir()).toMatch(/deploy-actions-tests-/);
  });

  it('tempDir makes a directory that is removed when the file ends', () => {
    // Its removal is what the global teardown checks: a leak fails the run.
    expect(existsSync(tempDir('runner-'))).toBe(true);
  });

  it('the leak check names helper directories and ignores others', () => {
    const d = mkdtempSync(join(tmpdir(), 'leakcheck-'));
    for (const n of ['runner-a', 'da-test-b', 'post-c', 'helm-d', 'postgres']) mkdirSync(join(d, n));
    expect(leakedTempDirs(d)).toEqual(['da-test-b', 'post-c', 'runner-a']);
    rmSync(d, { recursive: true, force: true });
  });
});
