import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatBytes, imageSize, parseChallenge, splitRepository } from '../../src/build/registry.ts';

// A registry that wants a Bearer token, like ghcr.io: 401 + WWW-Authenticate, a token realm that
// checks Basic credentials, then manifests (an index with an attestation) for that token only.
const D = (c: string) => `sha256:${c.repeat(64)}`;
let server: Server;
let base = '';
const seen: { url: string; auth?: string; accept?: string }[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    seen.push({ url: req.url!, auth: req.headers.authorization, accept: req.headers.accept });
    const json = (code: number, body: unknown, headers: Record<string, string> = {}) => {
      res.writeHead(code, { 'content-type': 'application/json', ...headers });
      res.end(JSON.stringify(body));
    };
    if (req.url!.startsWith('/token')) {
      const ok = req.headers.authorization === `Basic ${Buffer.from('bot:pw-123456').toString('base64')}`;
      const u = new URL(req.url!, base);
      return ok && u.searchParams.get('scope') === 'repository:dotmac/app:pull' && u.searchParams.get('service') === 'test-registry'
        ? json(200, { token: 'tok-abc' })
        : json(401, {});
    }
    if (req.headers.authorization !== 'Bearer tok-abc') {
      return json(
        401,
        { errors: [{ code: 'UNAUTHORIZED' }] },
        { 'www-authenticate': `Bearer realm="${base}/token",service="test-registry",scope="repository:dotmac/app:pull"` },
      );
    }
    const manifests: Record<string, unknown> = {
      [`/v2/dotmac/app/manifests/${D('a')}`]: {
        mediaType: 'application/vnd.oci.image.index.v1+json',
        manifests: [
          { digest: D('b'), platform: { os: 'linux', architecture: 'amd64' } },
          { digest: D('c'), platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } },
          {
            digest: D('d'),
            platform: { os: 'unknown', architecture: 'unknown' },
            annotations: { 'vnd.docker.reference.type': 'attestation-manifest' },
          },
        ],
      },
      [`/v2/dotmac/app/manifests/${D('b')}`]: { config: { size: 100 }, layers: [{ size: 1000 }, { size: 24 }] },
      [`/v2/dotmac/app/manifests/${D('c')}`]: { config: { size: 100 }, layers: [{ size: 900 }] },
    };
    const m = manifests[req.url!];
    return m ? json(200, m) : json(404, {});
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const a = server.address();
  base = `http://127.0.0.1:${typeof a === 'object' && a ? a.port : 0}`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

describe('build-images: image size from the registry', () => {
  it('gets a token from the realm with Basic credentials and sums each platform, skipping attestations', async () => {
    const size = await imageSize(`${base.slice('http://'.length)}/dotmac/app`, D('a'), {
      username: 'bot',
      password: 'pw-123456',
      insecure: true,
    });
    expect(size).toEqual({ total: 1124 + 1000, platforms: { 'linux/amd64': 1124, 'linux/arm64/v8': 1000 } });
    expect(seen.filter((s) => s.url.startsWith('/token'))).toHaveLength(1);
    expect(seen.find((s) => s.url.includes('/manifests/'))?.accept).toContain('application/vnd.oci.image.index.v1+json');
  });

  it('fails clearly when the credentials are refused', async () => {
    await expect(
      imageSize(`${base.slice('http://'.length)}/dotmac/app`, D('a'), { username: 'bot', password: 'wrong', insecure: true }),
    ).rejects.toThrow(/token request to .*\/token: HTTP 401/);
  });

  it.each([
    ['ghcr.io/dotmac/app', 'ghcr.io', 'dotmac/app'],
    ['localhost/app', 'localhost', 'app'],
    ['127.0.0.1:5000/a/b', '127.0.0.1:5000', 'a/b'],
    ['dotmac/app', 'registry-1.docker.io', 'dotmac/app'],
    ['nginx', 'registry-1.docker.io', 'library/nginx'],
    ['docker.io/library/nginx', 'registry-1.docker.io', 'library/nginx'],
  ])('splits %s', (repo, host, path) => expect(splitRepository(repo)).toEqual({ host, path }));

  it('parses a challenge', () => {
    expect(parseChallenge('Bearer realm="https://ghcr.io/token",service="ghcr.io",scope="repository:a/b:pull"')).toEqual({
      scheme: 'bearer',
      params: { realm: 'https://ghcr.io/token', service: 'ghcr.io', scope: 'repository:a/b:pull' },
    });
    expect(parseChallenge('Basic realm="Registry Realm"').scheme).toBe('basic');
  });

  it.each([
    [512, '512 B'],
    [1536, '1.5 KiB'],
    [52_428_800, '50 MiB'],
    [1_288_490_189, '1.2 GiB'],
  ])('formats %d', (n, s) => expect(formatBytes(n)).toBe(s));
});
