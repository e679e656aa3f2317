import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
// @ts-expect-error: a plain .mjs build script, no types
import { metadataFile, renderMetadata } from '../../scripts/metadata.mjs';
import { ACTION_METADATA } from '../../src/actions/metadata.ts';

describe('action metadata built into the bundle', () => {
  it('src/actions/metadata.json is what scripts/metadata.mjs makes from the action.yml files now (run npm run build)', async () => {
    expect(readFileSync(metadataFile as string, 'utf8')).toBe(await (renderMetadata as () => Promise<string>)());
  });

  it('carries every action with its inputs, descriptions and defaults', () => {
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
});
