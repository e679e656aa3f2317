import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { repoRoot } from '../support/tools.ts';
import { workflow } from './load.ts';

const SCRIPT = join(repoRoot, 'scripts/pin-uses.mjs');
const S = 'a'.repeat(40);
const P1 = 'b'.repeat(40);

let dir = '';
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'pin-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function write(rel: string, text: string) {
  mkdirSync(join(dir, rel, '..'), { recursive: true });
  writeFileSync(join(dir, rel), text);
}
const read = (rel: string) => readFileSync(join(dir, rel), 'utf8');
const pin = (...args: string[]) => spawnSync(process.execPath, [SCRIPT, '--root', dir, ...args], { encoding: 'utf8' });

describe('scripts/pin-uses.mjs on a fixture tree', () => {
  beforeEach(() => {
    write(
      '.github/workflows/release.yml',
      [
        'jobs:',
        '  build:',
        '    steps:',
        '      - uses: dotmac/deploy-actions/build-images@v1',
        '      - uses: actions/checkout@08c6903cd8c0fde910a37f88322edcfb5dd907a8 # v5.0.0',
        '  tenants:',
        '    uses: dotmac/deploy-actions/.github/workflows/tenant-rollout.yml@v1',
        '',
      ].join('\n'),
    );
    write(
      '.github/workflows/tenant-rollout.yml',
      [
        'jobs:',
        '  plan:',
        '    steps:',
        "      - uses: 'dotmac/deploy-actions/tenant-rollout@v1'",
        '      - uses: dotmac/deploy-actions@v1 # root',
        '      - uses: ./smoke-test',
        '',
      ].join('\n'),
    );
    write('workflows/release-on-tag.yml', 'jobs:\n  release:\n    uses: dotmac/deploy-actions/.github/workflows/release.yml@v1\n');
    write('helm-deploy/action.yml', "runs:\n  using: node24\n  main: '../dist/helm-deploy/index.js'\n");
    write('other/notes.yml', 'uses: dotmac/deploy-actions/tenant-rollout@v1\n'); // not a workflow or action: untouched
  });

  it('pass 1 pins the actions to the tagged commit, pass 2 the reusable workflows to the pass-1 commit', () => {
    const one = pin('--kind', 'actions', '--sha', S, '--version', 'v1.4.0');
    expect(one.status, one.stderr).toBe(0);
    expect(one.stdout).toContain(`.github/workflows/tenant-rollout.yml: 2 action reference(s) -> ${S}`);
    expect(read('.github/workflows/tenant-rollout.yml')).toContain(`- uses: 'dotmac/deploy-actions/tenant-rollout@${S}' # v1.4.0`);
    expect(read('.github/workflows/tenant-rollout.yml')).toContain(`- uses: dotmac/deploy-actions@${S} # v1.4.0`);
    expect(read('.github/workflows/tenant-rollout.yml')).toContain('- uses: ./smoke-test');
    // Workflow references wait for pass 2; third-party pins are untouched.
    expect(read('.github/workflows/release.yml')).toContain('uses: dotmac/deploy-actions/.github/workflows/tenant-rollout.yml@v1');
    expect(read('.github/workflows/release.yml')).toContain('actions/checkout@08c6903cd8c0fde910a37f88322edcfb5dd907a8 # v5.0.0');

    const two = pin('--kind', 'workflows', '--sha', P1, '--version', 'v1.4.0');
    expect(two.status, two.stderr).toBe(0);
    expect(read('.github/workflows/release.yml')).toContain(
      `uses: dotmac/deploy-actions/.github/workflows/tenant-rollout.yml@${P1} # v1.4.0`,
    );
    expect(read('workflows/release-on-tag.yml')).toContain(`uses: dotmac/deploy-actions/.github/workflows/release.yml@${P1} # v1.4.0`);
    // Nothing of ours follows a moving tag any more, except outside workflows and actions.
    for (const f of ['.github/workflows/release.yml', '.github/workflows/tenant-rollout.yml', 'workflows/release-on-tag.yml'])
      expect(read(f), f).not.toMatch(/dotmac\/deploy-actions[^\s@]*@v1/);
    expect(read('other/notes.yml')).toBe('uses: dotmac/deploy-actions/tenant-rollout@v1\n');
  });

  it('refuses a bad sha or kind, and fails when nothing matched', () => {
    expect(pin('--kind', 'actions', '--sha', 'v1').stderr).toMatch(/--sha must be a full 40-hex commit id, got "v1"/);
    expect(pin('--kind', 'both', '--sha', S).status).toBe(2);
    expect(pin('--kind', 'actions', '--sha', S, '--version', '1.4').status).toBe(2);
    expect(pin('--kind', 'actions', '--sha', S).status).toBe(0);
    const again = pin('--kind', 'actions', '--sha', S);
    expect(again.status).toBe(1);
    expect(again.stderr).toMatch(/no dotmac\/deploy-actions actions reference found/);
  });

  it('pins every own reference of the real tree, and leaves it valid for the graph tests', () => {
    for (const d of ['.github', 'workflows']) cpSync(join(repoRoot, d), join(dir, d), { recursive: true });
    expect(pin('--kind', 'actions', '--sha', S, '--version', 'v1.4.0').status).toBe(0);
    expect(pin('--kind', 'workflows', '--sha', P1, '--version', 'v1.4.0').status).toBe(0);
    const left = spawnSync(
      'grep',
      [
        '-rnE',
        '^[[:space:]]*-?[[:space:]]*uses:[[:space:]]*["\']?dotmac/deploy-actions[^@]*@v[0-9]',
        '--include=*.yml',
        join(dir, '.github'),
        join(dir, 'workflows'),
      ],
      {
        encoding: 'utf8',
      },
    );
    expect(left.stdout).toBe('');
  });
});

describe('release-suite.yml pins what it tags', () => {
  const w = workflow('.github/workflows/release-suite.yml');
  it('runs both passes, commits each, and moves vX.Y.Z and vX to the pinned commit in one atomic push', () => {
    const job = w.doc.jobs['move-major']!;
    const script = job.steps!.map((s) => s.run ?? '').join('\n');
    expect(script).toMatch(
      /node scripts\/pin-uses\.mjs --kind actions --sha "\$SHA"[\s\S]*git commit[\s\S]*node scripts\/pin-uses\.mjs --kind workflows --sha "\$P1"[\s\S]*git commit/,
    );
    expect(script).toContain('git push --atomic --force origin "$P2:refs/tags/$TAG" "$P2:refs/tags/$MAJOR"');
  });
});
