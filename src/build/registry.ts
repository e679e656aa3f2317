/**
 * Reads what a registry stored, over the distribution HTTP API, to report an image's size the
 * same way for both builders: the compressed bytes of config + layers of each platform manifest.
 * Anonymous, or with the credentials the action was given (Basic, or Bearer via the token realm
 * the registry names in WWW-Authenticate, as ghcr.io, ECR and Docker Hub do).
 */

export const MANIFEST_ACCEPT = [
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.docker.distribution.manifest.v2+json',
].join(', ');

export interface RegistryAccess {
  username?: string;
  password?: string;
  /** Plain HTTP (a test registry, or tls-verify: false). */
  insecure: boolean;
  fetch?: typeof fetch;
  signal?: AbortSignal;
}

export interface ImageSize {
  /** Sum over the platform manifests (attestations excluded). */
  total: number;
  /** Per platform (`linux/amd64`), when the digest is an index. */
  platforms?: Record<string, number>;
}

/** Splits `ghcr.io/dotmac/app` into the API host and the repository path (Docker Hub's defaults applied). */
export function splitRepository(repository: string): { host: string; path: string } {
  const [first, ...rest] = repository.split('/');
  if (rest.length && first && (/[.:]/.test(first) || first === 'localhost')) {
    return { host: first === 'docker.io' ? 'registry-1.docker.io' : first, path: rest.join('/') };
  }
  return { host: 'registry-1.docker.io', path: rest.length ? repository : `library/${repository}` };
}

/** Parses `Bearer realm="https://ghcr.io/token",service="ghcr.io",scope="repository:a/b:pull"`. */
export function parseChallenge(header: string): { scheme: string; params: Record<string, string> } {
  const sp = header.indexOf(' ');
  const scheme = (sp < 0 ? header : header.slice(0, sp)).toLowerCase();
  const params: Record<string, string> = {};
  for (const m of header.slice(sp + 1).matchAll(/([a-zA-Z_]+)="([^"]*)"/g)) params[m[1]!.toLowerCase()] = m[2]!;
  return { scheme, params };
}

interface Manifest {
  mediaType?: string;
  config?: { size?: number };
  layers?: { size?: number }[];
  manifests?: {
    digest: string;
    size?: number;
    platform?: { os?: string; architecture?: string; variant?: string };
    annotations?: Record<string, string>;
  }[];
}

export async function imageSize(repository: string, digest: string, access: RegistryAccess): Promise<ImageSize> {
  const { host, path } = splitRepository(repository);
  const doFetch = access.fetch ?? fetch;
  const base = `${access.insecure ? 'http' : 'https'}://${host}/v2/${path}`;
  let auth: string | undefined;

  const get = async (ref: string): Promise<Manifest> => {
    const url = `${base}/manifests/${ref}`;
    const headers = (a?: string): Record<string, string> => ({ Accept: MANIFEST_ACCEPT, ...(a ? { Authorization: a } : {}) });
    let res = await doFetch(url, { headers: headers(auth), signal: access.signal });
    if (res.status === 401 && !auth) {
      auth = await authorize(res.headers.get('www-authenticate') ?? '', path, access, doFetch);
      res = await doFetch(url, { headers: headers(auth), signal: access.signal });
    }
    if (!res.ok) throw new Error(`GET ${url}: HTTP ${res.status}`);
    return (await res.json()) as Manifest;
  };

  const sizeOf = (m: Manifest) => (m.config?.size ?? 0) + (m.layers ?? []).reduce((s, l) => s + (l.size ?? 0), 0);
  const top = await get(digest);
  if (!top.manifests) return { total: sizeOf(top) };
  const platforms: Record<string, number> = {};
  for (const child of top.manifests) {
    const p = child.platform;
    if (child.annotations?.['vnd.docker.reference.type'] === 'attestation-manifest' || !p?.os || p.os === 'unknown') continue;
    platforms[[p.os, p.architecture, p.variant].filter(Boolean).join('/')] = sizeOf(await get(child.digest));
  }
  return { total: Object.values(platforms).reduce((a, b) => a + b, 0), platforms };
}

async function authorize(header: string, path: string, access: RegistryAccess, doFetch: typeof fetch): Promise<string | undefined> {
  const basic =
    access.username && access.password ? `Basic ${Buffer.from(`${access.username}:${access.password}`).toString('base64')}` : undefined;
  const { scheme, params } = parseChallenge(header);
  if (scheme === 'basic') return basic;
  if (scheme !== 'bearer' || !params.realm) return undefined;
  const url = new URL(params.realm);
  if (params.service) url.searchParams.set('service', params.service);
  url.searchParams.set('scope', params.scope ?? `repository:${path}:pull`);
  const res = await doFetch(url, { headers: basic ? { Authorization: basic } : {}, signal: access.signal });
  if (!res.ok) throw new Error(`token request to ${url.origin}${url.pathname}: HTTP ${res.status}`);
  const body = (await res.json()) as { token?: string; access_token?: string };
  const token = body.token ?? body.access_token;
  return token ? `Bearer ${token}` : undefined;
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`;
}
