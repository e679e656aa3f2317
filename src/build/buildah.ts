import { randomBytes } from 'node:crypto';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { CommandRunner } from '../core/process.ts';
import { BuilderError, LineTail, runBuilderStep, tailOf, type BuildRequest, type ImageBuilder } from './builder.ts';

// Daemonless and unprivileged: chroot isolation needs no runc/crun and no cgroup access, vfs
// storage needs no overlay mount. Slower than overlay, but it runs in a plain container.
const STORAGE = '--storage-driver=vfs';

export interface BuildahArgvOptions {
  tlsVerify: boolean;
  /** Set after this run logged in: credentials live in a private file, not the user's. */
  authFile?: string;
}

function common(opts: BuildahArgvOptions): string[] {
  return [...(opts.authFile ? ['--authfile', opts.authFile] : []), ...(opts.tlsVerify ? [] : ['--tls-verify=false'])];
}

/** buildah can use a registry repository as a layer cache; other buildx cache types have no equivalent. */
export function buildahCache(req: Pick<BuildRequest, 'cacheFrom' | 'cacheTo'>): { from?: string; to?: string; ignored: string[] } {
  const ref = (spec: string) => {
    const fields = Object.fromEntries(spec.split(',').map((f) => [f.split('=')[0]?.trim() ?? '', f.slice(f.indexOf('=') + 1).trim()]));
    return fields.type === 'registry' && fields.ref ? fields.ref : undefined;
  };
  const ignored: string[] = [];
  const pick = (specs: string[]) => {
    let chosen: string | undefined;
    for (const s of specs) {
      const r = ref(s);
      // buildah 1.28 takes one repository per flag; more (or gha/local types) are reported.
      if (r && !chosen) chosen = r;
      else ignored.push(s);
    }
    return chosen;
  };
  return { from: pick(req.cacheFrom), to: pick(req.cacheTo), ignored };
}

/**
 * `buildah build` argv for one image. One platform: the image ID goes to `iidFile`, tags are
 * local names. Several platforms: the images are collected in the local manifest list `manifest`.
 */
export function buildahBuildArgv(req: BuildRequest, opts: BuildahArgvOptions & { iidFile: string; manifest?: string }): string[] {
  const argv = ['build', '--isolation=chroot', STORAGE, ...common(opts), '--file', req.dockerfile];
  if (req.target) argv.push('--target', req.target);
  if (req.platforms.length) argv.push('--platform', req.platforms.join(','));
  for (const [k, v] of Object.entries(req.buildArgs)) argv.push('--build-arg', `${k}=${v}`);
  for (const [k, v] of Object.entries(req.labels)) argv.push('--label', `${k}=${v}`);
  const cache = buildahCache(req);
  if (cache.from || cache.to) argv.push('--layers');
  if (cache.from) argv.push('--cache-from', cache.from);
  if (cache.to) argv.push('--cache-to', cache.to);
  if (opts.manifest) argv.push('--manifest', opts.manifest);
  else {
    argv.push('--iidfile', opts.iidFile);
    for (const t of req.tags) argv.push('--tag', `${req.repository}:${t}`);
  }
  argv.push(req.context);
  return argv;
}

/** Pushes one tag; the digest of what the registry stored goes to `digestFile`. */
export function buildahPushArgv(
  source: string,
  destination: string,
  opts: BuildahArgvOptions & { digestFile: string; manifest: boolean },
): string[] {
  const head = opts.manifest ? ['manifest', 'push', STORAGE, ...common(opts), '--all'] : ['push', STORAGE, ...common(opts)];
  return [...head, '--digestfile', opts.digestFile, source, `docker://${destination}`];
}

export function buildahLoginArgv(host: string, username: string, opts: BuildahArgvOptions): string[] {
  return ['login', ...common(opts), '--username', username, '--password-stdin', host];
}

/** Reads a file buildah wrote, then removes it: nothing of a build stays behind. */
function take(path: string): string {
  try {
    return readFileSync(path, 'utf8').trim();
  } finally {
    rmSync(path, { force: true });
  }
}

export interface BuildahOptions {
  run: CommandRunner;
  /** A private directory (0700) the caller removes at the end: the auth file and scratch files go there. */
  tempDir: string;
  /** Passed to buildah: CONTAINERS_STORAGE_CONF, REGISTRY_AUTH_FILE, TMPDIR... are honoured. */
  env: NodeJS.ProcessEnv;
  tlsVerify: boolean;
  buildah?: string;
}

/** `buildah build` + `buildah push`, for runners without a Docker engine. */
export function buildahBuilder(opts: BuildahOptions): ImageBuilder {
  const bin = opts.buildah ?? 'buildah';
  const argvOpts: BuildahArgvOptions = { tlsVerify: opts.tlsVerify };
  const id = () => randomBytes(6).toString('hex');
  return {
    name: 'buildah',
    async version(signal) {
      const r = await opts
        .run(bin, ['--version'], { env: opts.env, signal })
        .catch((e: Error) => ({ exitCode: 127, stdout: '', stderr: e.message, aborted: false }));
      if (r.exitCode !== 0)
        throw new BuilderError(`buildah is not usable here (exit ${r.exitCode})`, r.exitCode, tailOf(r.stderr || r.stdout));
      return r.stdout.trim();
    },
    async login(login, signal) {
      const authFile = join(opts.tempDir, `buildah-auth-${id()}.json`);
      const r = await opts.run(bin, buildahLoginArgv(login.host, login.username, { ...argvOpts, authFile }), {
        env: opts.env,
        signal,
        input: login.password,
      });
      if (r.exitCode !== 0)
        throw new BuilderError(`buildah login ${login.host} failed (exit ${r.exitCode})`, r.exitCode, tailOf(r.stderr || r.stdout));
      argvOpts.authFile = authFile;
    },
    async build(req, io) {
      const tail = new LineTail();
      // One tail for the build and its pushes: a push error shows the lines that led up to it.
      const exec = (argv: string[], what: string) => runBuilderStep(opts.run, bin, argv, what, { env: opts.env, io, tail });
      const warnings = buildahCache(req).ignored.map(
        (c) => `cache spec "${c}" is not used by buildah (it takes one type=registry,ref=... each for cache-from and cache-to)`,
      );
      const multi = req.platforms.length > 1;
      const iidFile = join(opts.tempDir, `buildah-iid-${id()}`);
      // A fresh list name per build: buildah adds to an existing list instead of replacing it.
      const manifest = multi ? `localhost/build-images/${req.name}:${id()}` : undefined;
      await exec(buildahBuildArgv(req, { ...argvOpts, iidFile, manifest }), 'buildah build');
      if (!req.push) return { warnings };
      const source = manifest ?? take(iidFile);
      let digest: string | undefined;
      for (const tag of req.tags) {
        const digestFile = join(opts.tempDir, `buildah-digest-${id()}`);
        await exec(
          buildahPushArgv(source, `${req.repository}:${tag}`, { ...argvOpts, digestFile, manifest: multi }),
          `buildah push ${req.repository}:${tag}`,
        );
        const d = take(digestFile);
        if (!/^sha256:[0-9a-f]{64}$/.test(d))
          throw new BuilderError(`buildah push wrote no digest for ${req.repository}:${tag}`, 0, tail.get());
        if (!digest) digest = d;
        else if (d !== digest)
          warnings.push(`tag ${tag} got digest ${d}, not ${digest} like the first tag (the registry re-encoded the manifest)`);
      }
      return { digest, warnings };
    },
  };
}
