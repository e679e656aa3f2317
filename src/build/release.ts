import { statSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import type { Clock } from '../core/clock.ts';
import { ConfigurationError, errorMessage } from '../core/errors.ts';
import type { Logger } from '../core/logger.ts';
import { BuilderError, type ImageBuilder } from './builder.ts';
import type { TagLister } from './git.ts';
import type { ImageSize } from './registry.ts';
import { checkTags, parseImageList, registryHost, resolveImages, type FileProbe, type ImageSpec } from './spec.ts';
import { parseVersion } from '../core/semver.ts';
import { deriveTags, ociLabels, type GitEvent, type LatestMode, type TagPlan } from './tags.ts';

/** The action's inputs, parsed and typed (src/actions/build-images/inputs.ts produces it). */
export interface BuildImagesConfig {
  /** Inline list (`images`) and/or file (`images-file`); both given: the file's images, then the inline ones. */
  images: { inline: string; file: string };
  registry: string;
  username: string;
  password: string;
  builder: 'buildx' | 'buildah';
  push: 'auto' | 'true' | 'false';
  latest: LatestMode;
  tags: string[];
  platforms: string[];
  buildArgs: Record<string, string>;
  labels: Record<string, string>;
  cacheFrom: string[];
  cacheTo: string[];
  concurrency: number;
  failFast: boolean;
  tlsVerify: boolean;
}

export interface ReleasePorts {
  builder: ImageBuilder;
  clock: Clock;
  logger: Logger;
  /** Hides every known secret in text that did not come from our own wording. */
  redact(text: string): string;
  signal: AbortSignal;
  event: GitEvent;
  workspace: string;
  readFile(path: string): string;
  probe?: FileProbe;
  listTags: TagLister;
  /** Reads a pushed image's size from the registry; failures only cost the summary column. */
  imageSize?(repository: string, digest: string): Promise<ImageSize>;
}

export type ImageStatus = 'pushed' | 'built' | 'failed' | 'not-started';

export interface ImageOutcome {
  name: string;
  repository: string;
  tags: string[];
  status: ImageStatus;
  digest?: string;
  durationMs?: number;
  size?: ImageSize;
  /** Redacted. */
  error?: string;
  /** The builder's last output lines, redacted. */
  tail?: string[];
}

export interface Release {
  plan: TagPlan;
  push: boolean;
  builder: string;
  outcomes: ImageOutcome[];
}

export const fsProbe: FileProbe = {
  kind(path) {
    try {
      const s = statSync(path);
      return s.isDirectory() ? 'dir' : s.isFile() ? 'file' : 'missing';
    } catch {
      return 'missing';
    }
  },
};

/** Everything that can be wrong with the inputs, checked before anything is built or pushed. */
export async function planRelease(
  cfg: BuildImagesConfig,
  ports: ReleasePorts,
): Promise<{ images: ImageSpec[]; plan: TagPlan; push: boolean }> {
  const raw: ReturnType<typeof parseImageList> = [];
  if (cfg.images.file) {
    const path = isAbsolute(cfg.images.file) ? cfg.images.file : resolve(ports.workspace, cfg.images.file);
    let text: string;
    try {
      text = ports.readFile(path);
    } catch (err) {
      throw new ConfigurationError(
        'input "images-file"',
        `cannot read "${cfg.images.file}" (${errorMessage(err)})`,
        'give a path relative to the workspace',
      );
    }
    raw.push(...parseImageList(text, { kind: 'file', input: 'images-file', path: cfg.images.file }));
  }
  if (cfg.images.inline) raw.push(...parseImageList(cfg.images.inline, { kind: 'input', input: 'images' }));
  if (!raw.length)
    throw new ConfigurationError(
      'input "images"',
      'and "images-file" are both empty',
      'list the images inline in "images" or give a YAML file in "images-file"',
    );
  const images = resolveImages(
    raw,
    { registry: cfg.registry, workspace: ports.workspace, platforms: cfg.platforms, buildArgs: cfg.buildArgs, labels: cfg.labels },
    ports.probe ?? fsProbe,
  );
  checkTags('input "tags"', cfg.tags);
  if (cfg.username && !cfg.password)
    throw new ConfigurationError(
      'input "password"',
      'is empty while "username" is set',
      'pass the registry password or token as a secret, e.g. ${{ secrets.GITHUB_TOKEN }}',
    );
  if (cfg.password && !cfg.registry)
    throw new ConfigurationError(
      'input "registry"',
      'is empty while credentials are set',
      'name the registry to log in to, e.g. ghcr.io/my-org',
    );

  try {
    const version = await ports.builder.version(ports.signal);
    ports.logger.info(`builder: ${ports.builder.name} (${version.split('\n')[0]})`);
  } catch (err) {
    const detail = err instanceof BuilderError ? ` (${ports.redact(err.tail.slice(-1)[0] ?? err.message)})` : '';
    throw new ConfigurationError(
      'input "builder"',
      `"${ports.builder.name}" cannot run on this runner${detail}`,
      ports.builder.name === 'buildah'
        ? 'install buildah (apt-get install buildah) or use builder: buildx'
        : 'set up buildx (docker/setup-buildx-action) or use builder: buildah',
    );
  }

  const release = ports.event.ref.startsWith('refs/tags/') ? parseVersion(ports.event.ref.slice('refs/tags/'.length)) : undefined;
  // Only a stable release tag can become latest; only then is the repository's tag list needed.
  const knownTags = cfg.latest === 'auto' && release && !release.prerelease.length ? await ports.listTags() : undefined;
  const plan = deriveTags(ports.event, { latest: cfg.latest, knownTags, extraTags: cfg.tags });
  for (const n of plan.notes) ports.logger.warning(n);
  const push = cfg.push === 'auto' ? plan.pushByDefault : cfg.push === 'true';
  if (!push && cfg.push === 'auto')
    ports.logger.info(`not pushing: ${ports.event.eventName} builds are checked, not published (set push: true to publish them)`);
  return { images, plan, push };
}

/**
 * Builds (and pushes) every image, at most `concurrency` at a time. After a failure with
 * `failFast`, no further image is started; those already running finish, so the report can say
 * exactly which images were pushed anyway.
 */
export async function releaseImages(cfg: BuildImagesConfig, ports: ReleasePorts): Promise<Release> {
  const { images, plan, push } = await planRelease(cfg, ports);
  const { logger, builder, clock } = ports;

  // Also without push: a pull request build may pull a private base image.
  if (cfg.username && cfg.password) {
    const host = registryHost(cfg.registry);
    try {
      await builder.login({ host, username: cfg.username, password: cfg.password }, ports.signal);
      logger.info(`logged in to ${host} as ${cfg.username}`);
    } catch (err) {
      const tail = err instanceof BuilderError ? `: ${err.tail.slice(-3).join(' | ')}` : '';
      throw new Error(ports.redact(`${errorMessage(err)}${tail}`));
    }
  }

  const created = clock.now();
  const oci = ociLabels(ports.event, plan, created);
  const outcomes: ImageOutcome[] = images.map((i) => ({
    name: i.name,
    repository: i.repository,
    tags: [...new Set([...plan.tags, ...i.tags])],
    status: 'not-started',
  }));
  logger.info(
    `version ${plan.version}; tags ${plan.tags.join(', ')}; ${push ? 'pushing' : 'not pushing'}; ${images.length} image(s), ${cfg.concurrency} at a time`,
  );

  let next = 0;
  let stop = false;
  const worker = async () => {
    while (!stop && !ports.signal.aborted && next < images.length) {
      const i = next++;
      const spec = images[i]!;
      const out = outcomes[i]!;
      const started = clock.now();
      logger.info(
        `[${spec.name}] building ${spec.repository}:${out.tags.join(',')}${spec.platforms.length ? ` for ${spec.platforms.join(',')}` : ''}`,
      );
      try {
        const result = await builder.build(
          {
            name: spec.name,
            repository: spec.repository,
            tags: out.tags,
            context: spec.context,
            dockerfile: spec.dockerfile,
            target: spec.target,
            buildArgs: spec.buildArgs,
            labels: { ...oci, ...spec.labels },
            platforms: spec.platforms,
            push,
            cacheFrom: cfg.cacheFrom,
            cacheTo: cfg.cacheTo,
          },
          { signal: ports.signal, onLine: (l) => logger.info(`[${spec.name}] ${ports.redact(l)}`) },
        );
        for (const w of result.warnings) logger.warning(`[${spec.name}] ${ports.redact(w)}`);
        out.durationMs = clock.now() - started;
        out.digest = result.digest;
        out.status = push ? 'pushed' : 'built';
        if (out.digest && ports.imageSize) {
          try {
            out.size = await ports.imageSize(spec.repository, out.digest);
          } catch (err) {
            logger.debug(`[${spec.name}] size unknown: ${ports.redact(errorMessage(err))}`);
          }
        }
        logger.info(`[${spec.name}] ${out.status}${out.digest ? ` ${spec.repository}@${out.digest}` : ''}`);
      } catch (err) {
        out.durationMs = clock.now() - started;
        out.status = 'failed';
        out.error = ports.redact(errorMessage(err));
        out.tail = err instanceof BuilderError ? err.tail.map((l) => ports.redact(l)) : [];
        logger.error(`[${spec.name}] ${out.error}`);
        if (cfg.failFast) stop = true;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(cfg.concurrency, images.length) }, worker));
  return { plan, push, builder: builder.name, outcomes };
}
