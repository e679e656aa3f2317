import type { ClusterSpec } from '../../clusters/model.ts';
import { clusterTarget } from '../../core/cluster-target.ts';
import type { ClusterTarget } from '../../core/cluster-target.ts';
import { ConfigurationError } from '../../core/errors.ts';
import { suggest } from '../../core/closest.ts';
import { loadConfig } from '../../kube/client.ts';
import type { Secrets } from '../../core/secrets.ts';
import type { Cluster } from '../../kube/ports.ts';
import { maskKubeconfig } from '../common/kubeconfig.ts';
import type { PrivateDir } from '../common/kubeconfig.ts';

/**
 * One ClusterTarget per cluster of the tenants file, built once: a context of the run's
 * kubeconfig, or a kubeconfig taken from a named environment variable (a secret the workflow
 * maps into env), masked and written 0600 into main's private directory.
 */
export function targetOf(spec: ClusterSpec, base: ClusterTarget, env: NodeJS.ProcessEnv, dir: PrivateDir, secrets: Secrets): ClusterTarget {
  switch (spec.reach.kind) {
    case 'default':
      return clusterTarget({ ...base, name: spec.name });
    case 'context':
      return clusterTarget({ name: spec.name, kubeconfigPath: base.kubeconfigPath, context: spec.reach.context });
    case 'kubeconfig-env': {
      const content = env[spec.reach.env] ?? '';
      if (!content.trim())
        throw new ConfigurationError(
          `cluster "${spec.name}"`,
          `reads its kubeconfig from the environment variable ${spec.reach.env}, which is empty or unset`,
          `map the secret into the step's env: ${spec.reach.env}: \${{ secrets.${spec.reach.env} }}`,
        );
      maskKubeconfig(content, secrets);
      return clusterTarget({ name: spec.name, kubeconfigPath: dir.write(`kubeconfig-${spec.name}`, content), context: spec.reach.context });
    }
  }
}

/** What the action binds per cluster: the target, and the helm and client built from it. */
export interface BoundCluster<H> {
  target: ClusterTarget;
  helm?: H;
  client?: Cluster;
}

/** A port over several clusters' clients: the client of a tenant's cluster, or the run's own. */
export function clientOf(
  bound: ReadonlyMap<string, BoundCluster<unknown>>,
  fallback: Cluster | undefined,
  cluster?: string,
): Cluster | undefined {
  return cluster !== undefined && bound.size ? bound.get(cluster)?.client : fallback;
}

/**
 * Every cluster reached through a context of the run's kubeconfig names a context it has: an
 * unknown one fails before anything runs, with the closest context name.
 */
export function checkContexts(specs: readonly ClusterSpec[], base: ClusterTarget, subject?: string): void {
  const wanted = specs.flatMap((s) => (s.reach.kind === 'context' ? [{ name: s.name, context: s.reach.context }] : []));
  if (!wanted.length) return;
  const known = loadConfig({ kubeconfigPath: base.kubeconfigPath })
    .getContexts()
    .map((c) => c.name);
  for (const w of wanted)
    if (!known.includes(w.context))
      throw new ConfigurationError(
        subject ?? `cluster "${w.name}"`,
        `names kube context "${w.context}", which the kubeconfig does not have`,
        suggest(w.context, known),
      );
}
