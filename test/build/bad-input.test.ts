import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBuildImages } from '../../src/actions/build-images/main.ts';
import { ConfigurationError } from '../../src/core/errors.ts';
import { runCommand, type CommandRunner } from '../../src/core/process.ts';
import { testContext } from '../support/action-context.ts';
import { repoRoot } from '../support/tools.ts';
import { eventEnv } from './support/events.ts';
import { buildahEnv, startRegistry, type TestRegistry } from './support/registry.ts';

// Bad input fails before anything is built: one clear line naming the input, the value and the
// fix, no builder command beyond the availability check, and nothing in the (real) registry.
// Each list starts with a valid image, so a lazy check would have built and pushed it first.

let registry: TestRegistry;
let storage: ReturnType<typeof buildahEnv>;
beforeAll(async () => {
  registry = await startRegistry();
  storage = buildahEnv();
});
afterAll(async () => {
  await registry?.stop();
  if (storage) rmSync(storage.dir, { recursive: true, force: true });
});

const GOOD = '- name: platform-admin-app\n  context: examples/images/platform-admin-app\n  target: runner\n';

describe('build-images: bad input: one clear error each, nothing pushed', () => {
  it.each<[string, Record<string, string>, string]>([
    [
      'missing Dockerfile',
      { images: `${GOOD}- name: isp-ops-app\n  context: examples/images/isp-ops-app\n  dockerfile: Dockerfile.prod\n` },
      'input "images": image "isp-ops-app": Dockerfile examples/images/isp-ops-app/Dockerfile.prod does not exist ("dockerfile" is relative to the image\'s context; check both)',
    ],
    [
      'missing context directory',
      { images: `${GOOD}- name: isp-ops-app\n  context: apps/isp-ops-app\n` },
      'input "images": image "isp-ops-app": context directory apps/isp-ops-app does not exist (set "context" to a directory relative to the workspace)',
    ],
    [
      'duplicate image names',
      { images: `${GOOD}${GOOD}` },
      'input "images": image "platform-admin-app": name "platform-admin-app" appears more than once (give every image a unique name: it keys the outputs)',
    ],
    [
      'duplicate across images-file and images',
      { 'images-file': 'examples/images/images.yaml', images: GOOD },
      'input "images": image "platform-admin-app": name "platform-admin-app" appears more than once (give every image a unique name: it keys the outputs)',
    ],
    [
      'invalid tag characters (extra tags)',
      { images: GOOD, tags: 'stable, release/1.3' },
      'input "tags": tag "release/1.3" has characters a registry rejects (a tag is 1 to 128 of A-Z a-z 0-9 _ . - and does not start with "." or "-")',
    ],
    [
      'invalid tag characters (image tags)',
      { images: `${GOOD}- name: isp-ops-app\n  context: examples/images/isp-ops-app\n  tags: ["-edge"]\n` },
      'input "images": image "isp-ops-app": tag "-edge" has characters a registry rejects (a tag is 1 to 128 of A-Z a-z 0-9 _ . - and does not start with "." or "-")',
    ],
    [
      'unknown builder',
      { images: GOOD, builder: 'kaniko' },
      'input "builder": is not one of the allowed values, got "kaniko" (use one of: buildx, buildah)',
    ],
    [
      'invalid image name',
      { images: `${GOOD}- name: ISP_Ops\n  context: examples/images/isp-ops-app\n` },
      'input "images": image "ISP_Ops": name "ISP_Ops" is not a valid image name (use lowercase letters, digits and single ".", "_" or "-" between them (and "/" between path parts))',
    ],
    [
      'misspelled key',
      { images: `${GOOD}- name: isp-ops-app\n  context: examples/images/isp-ops-app\n  buildArgs: {A: b}\n` },
      'input "images": image "isp-ops-app": unknown key "buildArgs" (use only: name, context, dockerfile, target, build-args, platforms, labels, tags, repository)',
    ],
    [
      'no images at all',
      {},
      'input "images": and "images-file" are both empty (list the images inline in "images" or give a YAML file in "images-file")',
    ],
  ])('%s', async (_name, inputs, message) => {
    const argvs: string[][] = [];
    const run: CommandRunner = (file, args, opts) => {
      argvs.push([file, ...args]);
      return runCommand(file, args, opts);
    };
    const ctx = testContext(
      { builder: 'buildah', registry: `${registry.host}/dotmac`, 'tls-verify': 'false', ...inputs },
      { env: { ...storage.env, ...eventEnv('push_tag_v1.3.0'), GITHUB_WORKSPACE: repoRoot } },
    );
    const err = await createBuildImages({ run, listTags: async () => [] })
      .main(ctx)
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(err).toBeInstanceOf(ConfigurationError);
    expect((err as Error).message).toBe(message);
    expect((err as Error).message).not.toContain('\n');
    expect(argvs.filter((a) => a[1] !== '--version')).toEqual([]);
    expect(ctx.outputs).toEqual({});
    expect(await registry.catalog()).toEqual([]);
  });
});
