import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';

/** Accept header a client sends to get whatever manifest the registry holds, OCI or Docker. */
export const ACCEPT_MANIFESTS = [
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.docker.distribution.manifest.v2+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
].join(', ');

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (addr && typeof addr === 'object' ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

/** The fields of an OCI/Docker manifest or index the tests read. */
export interface Manifest {
  mediaType?: string;
  config: { digest: string; size: number };
  layers: { digest: string; size: number }[];
  manifests: { digest: string; platform: { os: string; architecture: string } }[];
}

export interface TestRegistry {
  /** `127.0.0.1:PORT` */
  host: string;
  url: string;
  dir: string;
  stop(): Promise<void>;
  catalog(): Promise<string[]>;
  /** HEAD-less GET of a manifest with the OCI and Docker Accept headers. */
  manifest(
    repo: string,
    ref: string,
    accept?: string,
  ): Promise<{ status: number; digest: string | null; mediaType: string | null; body: Manifest }>;
  blob(repo: string, digest: string): Promise<Buffer>;
}

/** Debian's docker-registry (distribution 2.8) on 127.0.0.1, random port, storage in a temp dir. */
export async function startRegistry(): Promise<TestRegistry> {
  const dir = mkdtempSync(join(tmpdir(), 'da-registry-'));
  mkdirSync(join(dir, 'data'));
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = await freePort();
    const config = join(dir, 'config.yml');
    writeFileSync(
      config,
      [
        'version: 0.1',
        'log:',
        '  level: error',
        'storage:',
        '  filesystem:',
        `    rootdirectory: ${join(dir, 'data')}`,
        '  delete:',
        '    enabled: true',
        'http:',
        `  addr: 127.0.0.1:${port}`,
        '',
      ].join('\n'),
    );
    const child: ChildProcess = spawn('docker-registry', ['serve', config], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr?.on('data', (c: Buffer) => (stderr += c.toString()));
    const url = `http://127.0.0.1:${port}`;
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    let up = false;
    for (let i = 0; i < 100 && child.exitCode === null; i++) {
      try {
        if ((await fetch(`${url}/v2/`)).status === 200) {
          up = true;
          break;
        }
      } catch {
        /* not listening yet */
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    if (!up) {
      child.kill('SIGKILL');
      await exited;
      if (attempt === 4) throw new Error(`docker-registry did not start: ${stderr}`);
      continue;
    }
    return {
      host: `127.0.0.1:${port}`,
      url,
      dir,
      async stop() {
        child.kill('SIGTERM');
        await exited;
        rmSync(dir, { recursive: true, force: true });
      },
      async catalog() {
        const res = await fetch(`${url}/v2/_catalog`);
        return ((await res.json()) as { repositories: string[] | null }).repositories ?? [];
      },
      async manifest(repo, ref, accept = ACCEPT_MANIFESTS) {
        const res = await fetch(`${url}/v2/${repo}/manifests/${ref}`, { headers: { Accept: accept } });
        const text = await res.text();
        return {
          status: res.status,
          digest: res.headers.get('docker-content-digest'),
          mediaType: res.headers.get('content-type'),
          body: (res.ok ? JSON.parse(text) : {}) as Manifest,
        };
      },
      async blob(repo, digest) {
        const res = await fetch(`${url}/v2/${repo}/blobs/${digest}`);
        if (!res.ok) throw new Error(`blob ${digest}: HTTP ${res.status}`);
        return Buffer.from(await res.arrayBuffer());
      },
    };
  }
  throw new Error('unreachable');
}

/** File names in a (gzipped) tar layer. */
export function tarNames(layer: Buffer): string[] {
  const tar = layer[0] === 0x1f && layer[1] === 0x8b ? gunzipSync(layer) : layer;
  const names: string[] = [];
  for (let off = 0; off + 512 <= tar.length;) {
    const header = tar.subarray(off, off + 512);
    if (header.every((b) => b === 0)) break;
    const field = (a: number, b: number) => header.subarray(a, b).toString('utf8').replace(/\0.*$/s, '');
    const name = field(0, 100);
    const prefix = field(345, 500);
    const size = parseInt(field(124, 136).trim() || '0', 8);
    const type = field(156, 157);
    if (type !== 'x' && type !== 'g') names.push((prefix ? `${prefix}/${name}` : name).replace(/^\.\//, ''));
    off += 512 + Math.ceil(size / 512) * 512;
  }
  return names;
}

/** Private buildah storage (vfs, own root/runroot) through CONTAINERS_STORAGE_CONF, so test files never collide. */
export function buildahEnv(): { env: NodeJS.ProcessEnv; dir: string } {
  const dir = mkdtempSync(join(tmpdir(), 'da-buildah-'));
  const conf = join(dir, 'storage.conf');
  writeFileSync(conf, `[storage]\ndriver = "vfs"\ngraphroot = "${join(dir, 'root')}"\nrunroot = "${join(dir, 'runroot')}"\n`);
  return { env: { ...process.env, CONTAINERS_STORAGE_CONF: conf, TMPDIR: dir }, dir };
}
