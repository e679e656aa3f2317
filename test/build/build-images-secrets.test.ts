/**
 * A secrets scan of build-images through dist/ (as the runner runs it), with real buildah and a
 * real registry and a registry password: nothing printed and nothing left under RUNNER_TEMP or
 * HOME holds the password or its base64 forms (an auth.json stores base64 of user:password),
 * and no scratch file (auth, iid, digest) stays behind, whether the build succeeds or fails.
 */
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { repoRoot } from '../support/tools.ts';
import { runAction, type ActionRun } from '../dist/run-action.ts';
import { eventEnv } from './support/events.ts';
import { buildahEnv, startRegistry, type TestRegistry } from './support/registry.ts';

const USER = 'dotmac-ci';
const PASSWORD = 'Xq7-registry-pass-9f2e1c';
const forms = [
  PASSWORD,
  Buffer.from(PASSWORD).toString('base64'),
  Buffer.from(`${USER}:${PASSWORD}`).toString('base64'),
  Buffer.from(`${USER}:${PASSWORD}`).toString('base64url'),
];

let registry: TestRegistry;
let storage: ReturnType<typeof buildahEnv>;
const runs: ActionRun[] = [];
beforeAll(async () => {
  registry = await startRegistry();
  storage = buildahEnv();
});
afterAll(async () => {
  await registry?.stop();
  if (storage) rmSync(storage.dir, { recursive: true, force: true });
  for (const r of runs) rmSync(r.runnerTemp, { recursive: true, force: true });
});

/** Every file under `dir` (symlinks not followed), with its content. */
function filesUnder(dir: string): { path: string; text: string }[] {
  const out: { path: string; text: string }[] = [];
  for (const name of readdirSync(dir, { recursive: true, encoding: 'utf8' })) {
    const p = join(dir, name);
    const st = statSync(p, { throwIfNoEntry: false });
    if (st?.isFile()) out.push({ path: name, text: readFileSync(p).toString('latin1') });
  }
  return out;
}

function buildImages(images: string, event: string): Promise<ActionRun> {
  return runAction(
    'build-images',
    { builder: 'buildah', registry: `${registry.host}/dotmac`, 'tls-verify': 'false', images, username: USER, password: PASSWORD },
    {
      env: {
        CONTAINERS_STORAGE_CONF: storage.env.CONTAINERS_STORAGE_CONF,
        TMPDIR: storage.env.TMPDIR,
        GITHUB_WORKSPACE: repoRoot,
        ...eventEnv(event),
      },
    },
  ).then((r) => (runs.push(r), r));
}

function expectClean(r: ActionRun): void {
  // `::add-mask::` lines are how the runner learns what to mask; it never shows them.
  const stdout = r.stdout
    .split('\n')
    .filter((l) => !l.startsWith('::add-mask::'))
    .join('\n');
  expect(r.stdout.split('\n').filter((l) => l.startsWith('::add-mask::'))).toContain(`::add-mask::${PASSWORD}`);
  const printed = `${stdout}\n${r.stderr}\n${r.summary}\n${JSON.stringify(r.outputs)}\n${JSON.stringify(r.state)}`;
  for (const f of forms) expect(printed, `printed: ${f}`).not.toContain(f);
  // RUNNER_TEMP is HOME here: ~/.docker, ~/.config/containers and the runner's temp files at once.
  const left = filesUnder(r.runnerTemp);
  for (const f of forms)
    expect(
      left.filter((l) => l.text.includes(f)).map((l) => l.path),
      `left on disk: ${f}`,
    ).toEqual([]);
  expect(readdirSync(r.runnerTemp).filter((n) => /^(buildah-(auth|iid|digest)-|buildx-metadata-|build-images-)/.test(n))).toEqual([]);
  expect(left.map((l) => l.path).filter((p) => /(^|\/)(auth\.json|config\.json)$/.test(p))).toEqual([]);
}

describe('build-images through dist/: a secrets scan of everything printed and left on disk', () => {
  it('after a successful push (logged in with the password)', { timeout: 300_000 }, async () => {
    const r = await buildImages('- name: scan-ok\n  context: examples/images/base\n', 'push_tag_v1.3.0');
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect((await registry.manifest('dotmac/scan-ok', '1.3.0')).status).toBe(200);
    expectClean(r);
  });

  it('after a failed build', { timeout: 300_000 }, async () => {
    const broken = join(storage.dir, 'broken-scan');
    mkdirSync(broken, { recursive: true });
    writeFileSync(join(broken, 'Dockerfile'), 'FROM scratch\nCOPY does-not-exist.txt /x\n');
    const r = await buildImages(`- name: scan-broken\n  context: ${broken}\n`, 'push_branch_main');
    expect(r.code).not.toBe(0);
    expect(r.stdout).toContain('scan-broken');
    expectClean(r);
  });
});
