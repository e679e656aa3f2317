import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { systemClock, type Clock } from '../../core/clock.ts';
import { runCommand, type CommandRunner } from '../../core/process.ts';
import { buildahBuilder } from '../../build/buildah.ts';
import { buildxBuilder } from '../../build/buildx.ts';
import { gitTagLister, type TagLister } from '../../build/git.ts';
import { imageSize } from '../../build/registry.ts';
import { releaseImages } from '../../build/release.ts';
import { failureMessage, imagesOutput, summaryMarkdown, valuesSnippet } from '../../build/report.ts';
import { readGitEvent } from '../../build/tags.ts';
import type { ActionContext, ActionModule } from '../common/context.ts';
import { parseInputs } from './inputs.ts';

export interface BuildImagesDeps {
  clock?: Clock;
  run?: CommandRunner;
  /** Default: `git ls-remote --tags` then `git tag --list` in the workspace. */
  listTags?: TagLister;
}

/** build-images: inputs -> src/build (validate, derive tags, build, push) -> outputs and summary. */
export function createBuildImages(deps: BuildImagesDeps = {}): ActionModule {
  const run = deps.run ?? runCommand;
  return {
    async main(ctx: ActionContext) {
      const cfg = parseInputs(ctx.inputs);
      // The builders' private directory (mkdtemp: 0700): registry credentials (buildah's auth file,
      // buildx's DOCKER_CONFIG) and their scratch files live there, never in the runner's
      // ~/.docker or loose in RUNNER_TEMP, and it is removed on every way out.
      const privateDir = mkdtempSync(join(ctx.tempDir, 'build-images-'));
      try {
        await buildAndPublish(ctx, cfg, privateDir);
      } finally {
        rmSync(privateDir, { recursive: true, force: true });
      }
    },
  };

  async function buildAndPublish(ctx: ActionContext, cfg: ReturnType<typeof parseInputs>, privateDir: string): Promise<void> {
    const workspace = ctx.env.GITHUB_WORKSPACE || process.cwd();
    const readFile = (p: string) => readFileSync(p, 'utf8');
    const adapterOpts = { run, tempDir: privateDir, env: ctx.env, tlsVerify: cfg.tlsVerify };
    const release = await releaseImages(cfg, {
      builder: cfg.builder === 'buildah' ? buildahBuilder(adapterOpts) : buildxBuilder(adapterOpts),
      clock: deps.clock ?? systemClock,
      logger: ctx.logger,
      redact: (s) => ctx.secrets.redact(s),
      signal: ctx.signal,
      event: readGitEvent(ctx.env, readFile),
      workspace,
      readFile,
      listTags: deps.listTags ?? gitTagLister(run, workspace, ctx.env, ctx.signal),
      imageSize: (repository, digest) =>
        imageSize(repository, digest, {
          username: cfg.username,
          password: cfg.password,
          insecure: !cfg.tlsVerify,
          signal: AbortSignal.any([ctx.signal, AbortSignal.timeout(30_000)]),
        }),
    });
    // Outputs are written even when an image failed: the ones pushed anyway are listed.
    ctx.setOutput('images', JSON.stringify(imagesOutput(release)));
    ctx.setOutput('version', release.plan.version);
    ctx.setOutput('tags', JSON.stringify(release.plan.tags));
    ctx.setOutput('values', valuesSnippet(release));
    await ctx.summary(summaryMarkdown(release));
    const failure = failureMessage(release);
    if (failure) throw new Error(failure);
  }
}

export const buildImages: ActionModule = createBuildImages();
