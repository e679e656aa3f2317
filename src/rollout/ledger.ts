import type { Revision } from '../helm/history.ts';
import { LEDGER_PREFIX } from './execute.ts';

/**
 * The ledger: what each tenant's live Helm revision says about the rollout that put it there,
 * written into the revision description by tenant-rollout (`ledgerDescription`). It is the record
 * of what RUNS: the released version there is the version the images carry, which a chart's
 * `appVersion` (often left behind when only images move) is not.
 */
export interface LedgerEntry {
  fingerprint: string;
  /** The release version recorded at deploy time; '' for revisions written before versions were recorded. */
  version: string;
  /** The fleet's cluster the rollout deployed it to (multi-cluster fleets); '' otherwise. */
  cluster?: string;
  /** The revision the entry was read from (after following "Rollback to N"). */
  revision: number;
}

/** Parses one revision description; undefined when deploy-actions did not write it. */
export function parseLedger(description: string): Omit<LedgerEntry, 'revision'> | undefined {
  if (!description.startsWith(LEDGER_PREFIX)) return undefined;
  const [fingerprint = '', ...rest] = description.slice(LEDGER_PREFIX.length).split(' ');
  const version = rest.find((w) => w.startsWith('version='))?.slice('version='.length) ?? '';
  const cluster = rest.find((w) => w.startsWith('cluster='))?.slice('cluster='.length);
  return { fingerprint, version, ...(cluster ? { cluster } : {}) };
}

/**
 * The revision whose content is live: the newest `deployed` one, and for a rollback revision
 * ("Rollback to 3") revision 3, whose content it holds. Undefined when nothing is deployed.
 */
export function liveContentRevision(history: readonly Revision[]): Revision | undefined {
  let rev = [...history].reverse().find((r) => r.status === 'deployed');
  for (let hops = 0; rev && hops < history.length; hops++) {
    const back = /^Rollback to (\d+)$/.exec(rev.description);
    if (!back) return rev;
    rev = history.find((r) => r.revision === Number(back[1]));
  }
  return undefined;
}

/** The ledger entry of the live revision, or undefined (nothing deployed, or not written by deploy-actions). */
export function liveLedger(history: readonly Revision[]): LedgerEntry | undefined {
  const rev = liveContentRevision(history);
  const entry = rev && parseLedger(rev.description);
  return entry && rev ? { ...entry, revision: rev.revision } : undefined;
}
