import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, symlinkSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { CommandRunner } from '../core/process.ts';
import { BuilderError, LineTail, runBuilderStep, tailOf, type BuildRequest, type ImageBuilder } from './builder.ts';

export interface BuildxArgvOptions {
  metadataFile: string;
  /** false: push over plain HTTP / unverified TLS (`registry.insecure=true` on the image exporter). */
  tlsVerify: boolean;
}

/** `docker` argv for one image. Pure: the table test in test/build pins it. */
export function buildxBuildArgv(req: BuildRequest, opts: BuildxArgvOptions): string[] {
  const argv = ['buildx', 'build', '--file', req.dockerfile];
  if (req.target) argv.push('--target', req.target);
  if (req.platforms.length) argv.push('--platform', req.platforms.join(','));
  for (const [k, v] of Object.entries(req.buildArgs)) argv.push('--build-arg', `${k}=${v}`);
  for (const [k, v] of Object.entries(req.labels)) argv.push('--label', `${k}=${v}`);
  for (const t of req.tags) argv.push('--tag', `${req.repository}:${t}`);
  for (const c of req.cacheFrom) argv.push('--cache-from', c);
  for (const c of req.cacheTo) argv.push('--cache-to', c);
  argv.push('--metadata-file', opts.metadataFile);
  if (req.push) {
    if (opts.tlsVerify) argv.push('--push');
    else argv.push('--output', 'type=image,push=true,registry.insecure=true');
  }
  argv.push(req.context);
  return argv;
}

export function dockerLoginArgv(host: string, username: string): string[] {
  return ['login', '--username', username, '--password-stdin', host];
}

export interface BuildxMetadata {
  /** The pushed manifest or index digest. */
  digest?: string;
  configDigest?: string;
  mediaType?: string;
}

const DIGEST = /^sha256:[0-9a-f]{64}$/;

/**
 * Reads the file `docker buildx build --metadata-file` writes. `containerimage.digest` is the
 * digest of what was pushed (an index when there are several platforms or attestations);
 * `containerimage.descriptor.digest` carries the same value and is the fallback.
 */
export function parseBuildxMetadata(text: string): BuildxMetadata {
  let doc: Record<string, unknown>;
  try {
    doc = JSON.parse(text) as Record<string, unknown>;
  } catch {
    throw new Error('the buildx metadata file is not JSON');
  }
  const descriptor = (doc['containerimage.descriptor'] ?? {}) as { digest?: unknown; mediaType?: unknown };
  const digest = [doc['containerimage.digest'], descriptor.digest].find((d): d is string => typeof d === 'string' && DIGEST.test(d));
  const config = doc['containerimage.config.digest'];
  return {
    digest,
    configDigest: typeof config === 'string' ? config : undefined,
    mediaType: typeof descriptor.mediaType === 'string' ? descriptor.mediaType : undefined,
  };
}

/**
 * A private DOCKER_CONFIG in `dir` for this run's registry login, so the credentials never land
 * in the runner's ~/.docker (which outlives the job on self-hosted runners) and go with `dir`.
 * The runner's buildx builders, CLI plugins and contexts are linked in, so a builder made by
 * setup-buildx-action is still the one used.
 */
export function privateDockerConfig(dir: string, env: NodeJS.ProcessEnv): string {
  const config = join(dir, 'docker');
  mkdirSync(config, { recursive: true, mode: 0o700 });
  const home = env.DOCKER_CONFIG || join(env.HOME || homedir(), '.docker');
  for (const entry of ['buildx', 'cli-plugins', 'contexts']) {
    const from = join(home, entry);
    const to = join(config, entry);
    if (existsSync(from) && !existsSync(to)) symlinkSync(from, to);
  }
  return config;
}

export interface BuildxOptions {
  run: CommandRunner;
  /** A private directory (0700) the caller removes at the end: the docker config and metadata files go there. */
  tempDir: string;
  env: NodeJS.ProcessEnv;
  tlsVerify: boolean;
  /** The docker CLI; default `docker` from PATH. */
  docker?: string;
}

/** `docker buildx build --push`, the default on GitHub-hosted runners (BuildKit, cache export). */
export function buildxBuilder(opts: BuildxOptions): ImageBuilder {
  const docker = opts.docker ?? 'docker';
  // Set by login: from then on every docker command reads the private config.
  let env = opts.env;
  return {
    name: 'buildx',
    async version(signal) {
      const r = await opts
        .run(docker, ['buildx', 'version'], { env: opts.env, signal })
        .catch((e: Error) => ({ exitCode: 127, stdout: '', stderr: e.message, aborted: false }));
      if (r.exitCode !== 0)
        throw new BuilderError(`docker buildx is not usable here (exit ${r.exitCode})`, r.exitCode, tailOf(r.stderr || r.stdout));
      return r.stdout.trim();
    },
    async login(login, signal) {
      env = { ...opts.env, DOCKER_CONFIG: privateDockerConfig(opts.tempDir, opts.env) };
      const r = await opts.run(docker, dockerLoginArgv(login.host, login.username), { env, signal, input: login.password });
      if (r.exitCode !== 0)
        throw new BuilderError(`docker login ${login.host} failed (exit ${r.exitCode})`, r.exitCode, tailOf(r.stderr || r.stdout));
    },
    async build(req, io) {
      const metadataFile = join(opts.tempDir, `buildx-metadata-${randomBytes(6).toString('hex')}.json`);
      const tail = new LineTail();
      await runBuilderStep(opts.run, docker, buildxBuildArgv(req, { metadataFile, tlsVerify: opts.tlsVerify }), 'docker buildx build', {
        env,
        io,
        tail,
      });
      if (!req.push) return { warnings: [] };
      const meta = parseBuildxMetadata(readFileSync(metadataFile, 'utf8'));
      if (!meta.digest)
        throw new BuilderError('docker buildx build pushed but its metadata file holds no containerimage.digest', 0, tail.get());
      return { digest: meta.digest, warnings: [] };
    },
  };
}
