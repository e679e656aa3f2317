/**
 * Release history in-process for the actions: `helm` whose `history` reads Helm's storage
 * Secrets through client-node (one API request, ~ms) instead of a `helm history` process, so a
 * good tenant costs one helm process (its upgrade). Only for Helm's default storage driver
 * (`HELM_DRIVER` unset or `secret`): with configmap/sql/memory storage, helm itself is asked.
 */
import type { ClusterTarget } from '../../core/cluster-target.ts';
import type { Helm } from '../../helm/helm.ts';
import { withStorageHistory } from '../../helm/storage.ts';
import { loadConfig } from '../../kube/client.ts';
import { createReleaseHistory, isForbidden, type ReleaseHistoryReader } from '../../kube/release-history.ts';
import type { ActionContext } from './context.ts';

export interface InProcessHistory {
  helm: Helm;
  /** The reader itself (fleet-wide reads for status and outcome re-reads); undefined when helm is asked. */
  reader?: ReleaseHistoryReader;
}

/** `target`: the cluster `helm` is bound to; the reader goes to the same one. */
export function inProcessHistory(ctx: ActionContext, helm: Helm, target: ClusterTarget): InProcessHistory {
  const driver = (ctx.env.HELM_DRIVER ?? '').toLowerCase();
  if (driver !== '' && driver !== 'secret' && driver !== 'secrets') {
    ctx.logger.debug(`HELM_DRIVER=${driver}: release history is read with helm history`);
    return { helm };
  }
  const reader = createReleaseHistory({
    kubeConfig: loadConfig(target),
    onSkip: (why) => ctx.logger.debug(why),
  });
  let warned = false;
  const wrapped = withStorageHistory(helm, (ns, rel) => reader.history(ns, rel), {
    permanent: isForbidden,
    onFallback: (why) => {
      if (warned) return ctx.logger.debug(why);
      warned = true;
      ctx.logger.warning(`${why} (grant "list" on "secrets" in the tenant namespaces to save a helm process per tenant)`);
    },
  });
  return { helm: wrapped, reader };
}
