import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildahBuildArgv, buildahCache, buildahLoginArgv, buildahPushArgv } from '../../src/build/buildah.ts';
import type { BuildRequest } from '../../src/build/builder.ts';
import { buildxBuildArgv, dockerLoginArgv, parseBuildxMetadata } from '../../src/build/buildx.ts';
import { repoRoot } from '../support/tools.ts';

const base: BuildRequest = {
  name: 'isp-ops-app',
  repository: 'ghcr.io/dotmac/isp-ops-app',
  tags: ['1.3.0', '1.3'],
  context: '/w/apps/isp',
  dockerfile: '/w/apps/isp/Dockerfile',
  buildArgs: {},
  labels: {},
  platforms: [],
  push: true,
  cacheFrom: [],
  cacheTo: [],
};
const M = '/tmp/m.json';

describe('build-images: docker buildx build argv', () => {
  it.each<[string, Partial<BuildRequest>, boolean, string[]]>([
    [
      'minimal push',
      {},
      true,
      [
        'buildx',
        'build',
        '--file',
        '/w/apps/isp/Dockerfile',
        '--tag',
        'ghcr.io/dotmac/isp-ops-app:1.3.0',
        '--tag',
        'ghcr.io/dotmac/isp-ops-app:1.3',
        '--metadata-file',
        M,
        '--push',
        '/w/apps/isp',
      ],
    ],
    [
      'everything',
      {
        target: 'runner',
        platforms: ['linux/amd64', 'linux/arm64'],
        buildArgs: { NODE_ENV: 'production', EMPTY: '' },
        labels: { 'org.opencontainers.image.version': '1.3.0', 'a.b': 'x=y z' },
        cacheFrom: ['type=gha'],
        cacheTo: ['type=gha,mode=max', 'type=registry,ref=ghcr.io/dotmac/cache:isp'],
        tags: ['1.3.0'],
      },
      true,
      [
        'buildx',
        'build',
        '--file',
        '/w/apps/isp/Dockerfile',
        '--target',
        'runner',
        '--platform',
        'linux/amd64,linux/arm64',
        '--build-arg',
        'NODE_ENV=production',
        '--build-arg',
        'EMPTY=',
        '--label',
        'org.opencontainers.image.version=1.3.0',
        '--label',
        'a.b=x=y z',
        '--tag',
        'ghcr.io/dotmac/isp-ops-app:1.3.0',
        '--cache-from',
        'type=gha',
        '--cache-to',
        'type=gha,mode=max',
        '--cache-to',
        'type=registry,ref=ghcr.io/dotmac/cache:isp',
        '--metadata-file',
        M,
        '--push',
        '/w/apps/isp',
      ],
    ],
    [
      'pull request: no push, no output',
      { push: false, tags: ['pr-42'] },
      true,
      [
        'buildx',
        'build',
        '--file',
        '/w/apps/isp/Dockerfile',
        '--tag',
        'ghcr.io/dotmac/isp-ops-app:pr-42',
        '--metadata-file',
        M,
        '/w/apps/isp',
      ],
    ],
    [
      'insecure registry',
      { tags: ['1'] },
      false,
      [
        'buildx',
        'build',
        '--file',
        '/w/apps/isp/Dockerfile',
        '--tag',
        'ghcr.io/dotmac/isp-ops-app:1',
        '--metadata-file',
        M,
        '--output',
        'type=image,push=true,registry.insecure=true',
        '/w/apps/isp',
      ],
    ],
    [
      'a value that looks like a flag stays one argument',
      { tags: ['1'], buildArgs: { X: '--push; rm -rf /' } },
      true,
      [
        'buildx',
        'build',
        '--file',
        '/w/apps/isp/Dockerfile',
        '--build-arg',
        'X=--push; rm -rf /',
        '--tag',
        'ghcr.io/dotmac/isp-ops-app:1',
        '--metadata-file',
        M,
        '--push',
        '/w/apps/isp',
      ],
    ],
  ])('%s', (_name, req, tlsVerify, argv) => {
    expect(buildxBuildArgv({ ...base, ...req }, { metadataFile: M, tlsVerify })).toEqual(argv);
  });

  it('docker login takes the password on stdin', () => {
    expect(dockerLoginArgv('ghcr.io', 'bot')).toEqual(['login', '--username', 'bot', '--password-stdin', 'ghcr.io']);
  });
});

describe('build-images: buildx metadata file', () => {
  const fixture = (n: string) => readFileSync(join(repoRoot, 'test/build/fixtures', n), 'utf8');
  it('reads the pushed manifest digest (single platform, as documented by docker)', () => {
    expect(parseBuildxMetadata(fixture('buildx-metadata-single.json'))).toEqual({
      digest: 'sha256:19ffeab6f8bc9293ac2c3fdf94ebe28396254c993aea0b5a542cfb02e0883fa3',
      configDigest: 'sha256:2937f66a9722f7f4a2df583de2f8cb97fc9196059a410e7f00072fc918930e66',
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
    });
  });
  it('reads the index digest of a multi-platform push with provenance', () => {
    expect(parseBuildxMetadata(fixture('buildx-metadata-multiplatform.json'))).toEqual({
      digest: 'sha256:b09b9482c72371486bb2c1d2c2a2633ed1d0b8389e12c8d52b9e052725c0c83c',
      configDigest: undefined,
      mediaType: 'application/vnd.oci.image.index.v1+json',
    });
  });
  it('has no digest when nothing was pushed', () => {
    expect(parseBuildxMetadata(fixture('buildx-metadata-no-push.json')).digest).toBeUndefined();
  });
  it('falls back to the descriptor and ignores malformed digests', () => {
    const d = `sha256:${'a'.repeat(64)}`;
    expect(parseBuildxMetadata(JSON.stringify({ 'containerimage.descriptor': { digest: d } })).digest).toBe(d);
    expect(
      parseBuildxMetadata(JSON.stringify({ 'containerimage.digest': 'sha256:xyz', 'containerimage.descriptor': { digest: d } })).digest,
    ).toBe(d);
    expect(() => parseBuildxMetadata('not json')).toThrow(/not JSON/);
  });
});

describe('build-images: buildah argv', () => {
  const opts = { tlsVerify: true, iidFile: '/tmp/iid' };
  it.each<[string, Partial<BuildRequest>, Partial<typeof opts & { manifest: string; authFile: string }>, string[]]>([
    [
      'one platform: image id to a file, tags local',
      { target: 'runner', buildArgs: { A: '1' }, labels: { l: 'v' } },
      {},
      [
        'build',
        '--isolation=chroot',
        '--storage-driver=vfs',
        '--file',
        '/w/apps/isp/Dockerfile',
        '--target',
        'runner',
        '--build-arg',
        'A=1',
        '--label',
        'l=v',
        '--iidfile',
        '/tmp/iid',
        '--tag',
        'ghcr.io/dotmac/isp-ops-app:1.3.0',
        '--tag',
        'ghcr.io/dotmac/isp-ops-app:1.3',
        '/w/apps/isp',
      ],
    ],
    [
      'several platforms: a manifest list; insecure; logged in',
      { platforms: ['linux/amd64', 'linux/arm64'] },
      { tlsVerify: false, manifest: 'localhost/build-images/isp-ops-app:abc', authFile: '/tmp/auth.json' },
      [
        'build',
        '--isolation=chroot',
        '--storage-driver=vfs',
        '--authfile',
        '/tmp/auth.json',
        '--tls-verify=false',
        '--file',
        '/w/apps/isp/Dockerfile',
        '--platform',
        'linux/amd64,linux/arm64',
        '--manifest',
        'localhost/build-images/isp-ops-app:abc',
        '/w/apps/isp',
      ],
    ],
    [
      'registry cache becomes --layers --cache-from/--cache-to',
      {
        cacheFrom: ['type=gha', 'type=registry,ref=ghcr.io/dotmac/cache'],
        cacheTo: ['type=registry,ref=ghcr.io/dotmac/cache,mode=max'],
        tags: ['1'],
      },
      {},
      [
        'build',
        '--isolation=chroot',
        '--storage-driver=vfs',
        '--file',
        '/w/apps/isp/Dockerfile',
        '--layers',
        '--cache-from',
        'ghcr.io/dotmac/cache',
        '--cache-to',
        'ghcr.io/dotmac/cache',
        '--iidfile',
        '/tmp/iid',
        '--tag',
        'ghcr.io/dotmac/isp-ops-app:1',
        '/w/apps/isp',
      ],
    ],
  ])('build: %s', (_n, req, o, argv) => {
    expect(buildahBuildArgv({ ...base, ...req }, { ...opts, ...o })).toEqual(argv);
  });

  it('reports the cache specs it cannot use', () => {
    expect(
      buildahCache({ cacheFrom: ['type=gha', 'type=registry,ref=a', 'type=registry,ref=b'], cacheTo: ['type=local,dest=/c'] }),
    ).toEqual({
      from: 'a',
      to: undefined,
      ignored: ['type=gha', 'type=registry,ref=b', 'type=local,dest=/c'],
    });
  });

  it.each<[string, boolean, boolean, string[]]>([
    ['image', true, false, ['push', '--storage-driver=vfs', '--digestfile', '/tmp/d', 'SRC', 'docker://ghcr.io/dotmac/isp-ops-app:1.3.0']],
    [
      'image, insecure',
      false,
      false,
      ['push', '--storage-driver=vfs', '--tls-verify=false', '--digestfile', '/tmp/d', 'SRC', 'docker://ghcr.io/dotmac/isp-ops-app:1.3.0'],
    ],
    [
      'manifest list',
      true,
      true,
      ['manifest', 'push', '--storage-driver=vfs', '--all', '--digestfile', '/tmp/d', 'SRC', 'docker://ghcr.io/dotmac/isp-ops-app:1.3.0'],
    ],
  ])('push: %s', (_n, tlsVerify, manifest, argv) => {
    expect(buildahPushArgv('SRC', 'ghcr.io/dotmac/isp-ops-app:1.3.0', { tlsVerify, manifest, digestFile: '/tmp/d' })).toEqual(argv);
  });

  it('login takes the password on stdin and writes a private auth file', () => {
    expect(buildahLoginArgv('127.0.0.1:5000', 'ci', { tlsVerify: false, authFile: '/tmp/a.json' })).toEqual([
      'login',
      '--authfile',
      '/tmp/a.json',
      '--tls-verify=false',
      '--username',
      'ci',
      '--password-stdin',
      '127.0.0.1:5000',
    ]);
  });
});
