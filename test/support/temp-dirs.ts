import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';

/**
 * A temp directory that is removed when the test file ends (helpers hand their directories to
 * the tests, which read them after the run, so they cannot remove them themselves). The global
 * setup fails the run if a `runner-*`, `da-test-*` or `post-*` directory is left behind.
 */
const made: string[] = [];
// Imported at the top of a test file: the hook belongs to that file's root suite.
afterAll(() => {
  for (const d of made.splice(0)) rmSync(d, { recursive: true, force: true });
});

export function tempDir(prefix: string): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  made.push(d);
  return d;
}
