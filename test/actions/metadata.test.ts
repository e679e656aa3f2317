import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
// @ts-expect-error: a plain .mjs build script, no types
import { actionDirs } from '../../scripts/action-dirs.mjs';
// @ts-expect-error: a plain .mjs build script, no types
import { metadataFile, renderMetadata } from '../../scripts/metadata.mjs';
import { ACTION_METADATA } from '../../src/actions/metadata.ts';
import { repoRoot } from '../support/tools.ts';

describe('action metadata built into the bundle', () => {
  it('src/actions/metadata.json is what scripts/metadata.mjs makes from the action.yml files now (run npm run build)', async () => {
    expect(readFileSync(metadataFile as string, 'utf8')).toBe(await (renderMetadata as () => Promise<string>)());
  });

  it('carries every action with its inputs, descriptions and defaults (not the composite cloud-login: no code, no CLI command)', () => {
    expect(Object.keys(ACTION_METADATA).sort()).toEqual([
      'auto-rollback',
      'build-images',
      'helm-deploy',
      'root',
      'smoke-test',
      'tenant-rollout',
    ]);
    expect(ACTION_METADATA['tenant-rollout']!.inputs['max-parallel']).toMatchObject({ default: '5', required: false });
    expect(ACTION_METADATA['helm-deploy']!.inputs.release).toMatchObject({ required: true });
  });

  it('one list of the actions for the build, the metadata and the lint: a composite action gets no stub and no metadata', () => {
    const all = (actionDirs as (root: string, o?: object) => { dir: string; bundled: boolean }[])(repoRoot, { withRoot: true });
    expect(all.filter((a) => !a.bundled).map((a) => a.dir)).toEqual(['cloud-login']);
    const bundled = all.filter((a) => a.bundled).map((a) => (a.dir === '.' ? 'root' : a.dir));
    expect(Object.keys(ACTION_METADATA).sort()).toEqual(bundled.sort());
    // The committed dist/ (build.mjs) has a stub for each action the bundle runs, none for the composite one.
    for (const name of bundled) expect(existsSync(join(repoRoot, 'dist', name, 'index.js')), name).toBe(true);
    expect(existsSync(join(repoRoot, 'dist/cloud-login'))).toBe(false);
  });
});
