/**
 * Helm's release storage, read without the helm binary. Helm 3 and 4 (storage driver `secret`,
 * the default) keep each revision in a Secret `sh.helm.release.v1.<release>.v<revision>` of type
 * `helm.sh/release.v1`, labelled `owner=helm`, `name`, `status`, `version`; its `release` key holds
 * the release JSON gzipped and base64-encoded (then base64 again by the Secret's own encoding).
 * Decoding it gives exactly the rows `helm history -o json` prints, for ~ms instead of a process.
 *
 * Hand-written rather than a library: there is no maintained JS reader of Helm's storage, and the
 * format is three lines (base64, gunzip, JSON).
 */
import { gunzipSync } from 'node:zlib';
import type { Helm } from './helm.ts';
import type { Revision } from './history.ts';

export const RELEASE_SECRET_TYPE = 'helm.sh/release.v1';
export const OWNER_SELECTOR = 'owner=helm';
/** `helm history` prints the newest 256 revisions unless `--max` says otherwise. */
export const HELM_HISTORY_MAX = 256;

/** The parts of a Secret the decoder reads (client-node's V1Secret fits). */
export interface StorageSecret {
  metadata?: { name?: string; namespace?: string; labels?: Record<string, string> };
  type?: string;
  data?: Record<string, string>;
}

interface StoredRelease {
  name?: string;
  namespace?: string;
  version?: number;
  info?: { last_deployed?: string; status?: string; description?: string };
  chart?: { metadata?: { name?: string; version?: string; appVersion?: string } };
}

export interface StoredRevision {
  namespace: string;
  release: string;
  row: Revision;
}

const GZIP = [0x1f, 0x8b];

/** The release JSON inside one storage Secret, as `helm history` shows it; throws naming the Secret when it is not one. */
export function decodeReleaseSecret(s: StorageSecret): StoredRevision {
  const where = `secret ${s.metadata?.namespace ?? ''}/${s.metadata?.name ?? ''}`;
  const data = s.data?.release;
  if (!data) throw new Error(`${where} has no release data: not a Helm release record`);
  // client-node returns Secret data base64-encoded; Helm's own value is base64 of the gzip.
  const inner = Buffer.from(Buffer.from(data, 'base64').toString('latin1'), 'base64');
  const raw = inner[0] === GZIP[0] && inner[1] === GZIP[1] ? gunzipSync(inner) : inner;
  let rel: StoredRelease;
  try {
    rel = JSON.parse(raw.toString('utf8')) as StoredRelease;
  } catch {
    throw new Error(`${where}: the release record is not valid JSON`);
  }
  const meta = rel.chart?.metadata ?? {};
  return {
    namespace: rel.namespace ?? s.metadata?.namespace ?? '',
    release: rel.name ?? s.metadata?.labels?.name ?? '',
    row: {
      revision: rel.version ?? Number(s.metadata?.labels?.version ?? 0),
      updated: rel.info?.last_deployed ?? '',
      status: rel.info?.status ?? s.metadata?.labels?.status ?? 'unknown',
      chart: `${meta.name ?? ''}-${meta.version ?? ''}`,
      app_version: meta.appVersion ?? '',
      description: rel.info?.description ?? '',
    },
  };
}

export const historyKey = (namespace: string, release: string) => `${namespace}/${release}`;

/**
 * Groups decoded Secrets into histories keyed `namespace/release`, oldest first, keeping the
 * newest `max` rows as `helm history` does. Secrets that are not release records are skipped
 * (reported through `onSkip`): a foreign Secret labelled owner=helm must not fail a fleet read.
 */
export function historiesFrom(
  secrets: readonly StorageSecret[],
  opts: { max?: number; onSkip?: (why: string) => void } = {},
): Map<string, Revision[]> {
  const out = new Map<string, Revision[]>();
  for (const s of secrets) {
    if (s.type !== undefined && s.type !== RELEASE_SECRET_TYPE) continue;
    let d: StoredRevision;
    try {
      d = decodeReleaseSecret(s);
    } catch (e) {
      opts.onSkip?.((e as Error).message);
      continue;
    }
    const k = historyKey(d.namespace, d.release);
    const rows = out.get(k);
    if (rows) rows.push(d.row);
    else out.set(k, [d.row]);
  }
  const max = opts.max ?? HELM_HISTORY_MAX;
  for (const [k, rows] of out) {
    rows.sort((a, b) => a.revision - b.revision);
    if (rows.length > max) out.set(k, rows.slice(-max));
  }
  return out;
}

export interface StorageHistoryStats {
  /** History reads answered from the storage Secrets. */
  storage: number;
  /** History reads that ran `helm history` (fallback). */
  cli: number;
}

/**
 * `helm` with `history` answered from Helm's storage (`read`, e.g. the client-node reader), so a
 * tenant whose upgrade succeeds costs one helm process. A read that fails falls back to
 * `helm history` for that call (helm's own answer is the truth); an error `permanent` says will not
 * go away (403: this identity may not list Secrets) turns the storage reads off for the run.
 */
export function withStorageHistory(
  helm: Helm,
  read: (namespace: string, release: string) => Promise<Revision[]>,
  opts: { permanent?: (e: unknown) => boolean; onFallback?: (why: string) => void } = {},
): Helm & { readonly historyStats: StorageHistoryStats } {
  const historyStats: StorageHistoryStats = { storage: 0, cli: 0 };
  let disabled = false;
  return {
    version: helm.version,
    target: helm.target,
    historyStats,
    async history(release, t) {
      if (!disabled) {
        try {
          const rows = await read(t.namespace, release);
          historyStats.storage++;
          return rows;
        } catch (e) {
          if (opts.permanent?.(e)) disabled = true;
          opts.onFallback?.(`reading ${t.namespace}/${release} from Helm's storage failed (${(e as Error).message}); using helm history`);
        }
      }
      historyStats.cli++;
      return helm.history(release, t);
    },
    upgrade: (o, signal) => helm.upgrade(o, signal),
    rollback: (release, revision, o) => helm.rollback(release, revision, o),
    uninstall: (release, o) => helm.uninstall(release, o),
    listAll: () => helm.listAll(),
    contentDigest: (release, revision, t) => helm.contentDigest(release, revision, t),
  };
}
