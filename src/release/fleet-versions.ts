import { errorMessage } from '../core/errors.ts';
import type { Helm } from '../helm/helm.ts';
import { chartVersionOf } from '../helm/history.ts';
import { liveContentRevision, liveLedger } from '../rollout/ledger.ts';
import type { TenantVersion } from './promotion.ts';

export interface FleetTenant {
  id: string;
  namespace: string;
  release: string;
}

/**
 * What each tenant runs now, from what runs: one `helm list` finds the installed releases, then
 * each installed tenant's history gives its live revision's ledger entry (the version released
 * there). A revision without a version in its ledger is read from the chart's appVersion (or the
 * chart version), labelled `chart-app-version`: a fallback, since images can move without the
 * chart. A history that cannot be read is `unreadable`, never guessed.
 */
export async function readFleetVersions(
  tenants: readonly FleetTenant[],
  helm: Helm,
  opts: { concurrency?: number },
): Promise<TenantVersion[]> {
  const listed = new Set((await helm.listAll()).map((r) => `${r.namespace}/${r.name}`));
  const out: TenantVersion[] = tenants.map((t) => ({ id: t.id, version: '', source: 'not-installed' }));
  const queue = tenants.map((t, i) => ({ t, i })).filter(({ t }) => listed.has(`${t.namespace}/${t.release}`));
  const worker = async () => {
    for (let job = queue.shift(); job; job = queue.shift()) {
      const { t, i } = job;
      try {
        const history = await helm.history(t.release, { namespace: t.namespace });
        const ledger = liveLedger(history);
        const live = liveContentRevision(history);
        if (ledger?.version) out[i] = { id: t.id, version: ledger.version, source: 'ledger' };
        else if (live) out[i] = { id: t.id, version: live.app_version || chartVersionOf(live.chart), source: 'chart-app-version' };
        // Listed but nothing deployed (only failed or pending revisions): nothing runs that a version describes.
      } catch (err) {
        out[i] = { id: t.id, version: '', source: 'unreadable', detail: errorMessage(err) };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(opts.concurrency ?? 8, queue.length) }, worker));
  return out;
}
