import { ConfigurationError } from '../core/errors.ts';
import { suggest } from '../core/closest.ts';
import { compareStrings } from '../tenants/model.ts';

/**
 * The clusters of a fleet, as the tenants file's `clusters:` section (or the `clusters` input)
 * declares them. A cluster is a name, how to reach it, and labels (`region`, `provider`...).
 * The action turns each into one ClusterTarget (src/core/cluster-target.ts); the domain only
 * ever sees names.
 *
 * One cluster is the fleet's home: fleet-level objects (the operator's pause and lock, shard
 * coordination) live there. Per-tenant objects (release leases) live beside the release.
 */
export interface ClusterSpec {
  name: string;
  reach: ClusterReach;
  labels: Record<string, string>;
  home: boolean;
}

export type ClusterReach =
  /** A context of the run's kubeconfig (the `kubeconfig` input, or the runner's). */
  | { kind: 'context'; context: string }
  /** A whole kubeconfig held in an environment variable (a secret the workflow maps into env), optionally one of its contexts. */
  | { kind: 'kubeconfig-env'; env: string; context?: string }
  /** The run's kubeconfig and its current context (a single-cluster fleet). */
  | { kind: 'default' };

/** The label that names a cluster's region; waves spread over its values. */
export const REGION_LABEL = 'region';

export function regionOf(c: Pick<ClusterSpec, 'labels'> | undefined): string {
  return c?.labels[REGION_LABEL] ?? '';
}

/** The home cluster: the one marked `home`, else the only one. */
export function homeCluster(clusters: readonly ClusterSpec[]): ClusterSpec | undefined {
  return clusters.find((c) => c.home) ?? (clusters.length === 1 ? clusters[0] : undefined);
}

/** Throws, naming the closest declared cluster, when `name` is not one of `clusters`. */
export function checkClusterName(subject: string, name: string, clusters: readonly Pick<ClusterSpec, 'name'>[], hint?: string): void {
  const names = clusters.map((c) => c.name);
  if (!names.includes(name))
    throw new ConfigurationError(subject, `names unknown cluster "${name}"`, `${suggest(name, names)}${hint ? `; ${hint}` : ''}`);
}

/**
 * The order in which clusters take turns in a wave: regions alternate (sorted by name), and
 * within a region its clusters alternate (sorted by name), so consecutive turns are in
 * different regions whenever the fleet has more than one. E.g. eu:{eu-1,eu-2}, us:{us-1} ->
 * eu-1, us-1, eu-2.
 */
export function clusterTurns(clusters: readonly ClusterSpec[]): string[] {
  const byRegion = new Map<string, string[]>();
  for (const c of [...clusters].sort((a, b) => compareStrings(a.name, b.name))) {
    const r = regionOf(c);
    byRegion.set(r, [...(byRegion.get(r) ?? []), c.name]);
  }
  const regions = [...byRegion.keys()].sort(compareStrings).map((r) => byRegion.get(r)!);
  const out: string[] = [];
  for (let i = 0; out.length < clusters.length; i++) for (const names of regions) if (i < names.length) out.push(names[i]!);
  return out;
}

/**
 * Merges lists so that every prefix of the result holds each list in proportion to its size: at
 * each position the list furthest behind its share (n_list * position / total - taken) goes next,
 * ties to the earlier turn. A share never drifts a whole item from its ideal, so any slice the plan
 * cuts (a wave) holds each list about in proportion, whatever the wave sizes. (Placing each item at
 * a fixed offset (k + c) / n, as before, let two lists' offsets line up and left a wave of one
 * region: eu 4 / us 3 in waves of 2 gave eu, eu in the third wave.) Integer arithmetic, so ties
 * are exact and the order is stable: same inputs, same order. O(total x lists).
 */
function spread<T>(lists: readonly (readonly T[])[]): T[] {
  const total = lists.reduce((n, l) => n + l.length, 0);
  const taken = lists.map(() => 0);
  const out: T[] = [];
  for (let pos = 1; pos <= total; pos++) {
    let best = -1;
    let bestDeficit = -Infinity;
    lists.forEach((l, i) => {
      if (taken[i]! >= l.length) return;
      const deficit = l.length * pos - taken[i]! * total; // share behind, scaled by total
      if (deficit > bestDeficit) [best, bestDeficit] = [i, deficit];
    });
    out.push(lists[best]![taken[best]!++]!);
  }
  return out;
}

/**
 * Spreads the fleet over regions first and, within a region, over its clusters, so every slice
 * of the result (every wave) holds as many regions, then clusters, as the fleet allows, even when
 * one cluster has ten times the tenants of another. `turns` (clusterTurns) fixes who goes first;
 * each cluster's tenants keep their order (ring, then id). Tenants of an undeclared cluster go last.
 */
export function interleaveByCluster<T extends { cluster?: string }>(
  ordered: readonly T[],
  turns: readonly string[],
  regionOfCluster: (cluster: string) => string = () => '',
): T[] {
  const byCluster = new Map<string, T[]>(turns.map((c) => [c, []]));
  const unknown: T[] = [];
  for (const t of ordered) (byCluster.get(t.cluster ?? '') ?? unknown).push(t);
  const regions = new Map<string, T[][]>();
  for (const c of turns) {
    const r = regionOfCluster(c);
    regions.set(r, [...(regions.get(r) ?? []), byCluster.get(c)!]);
  }
  const perRegion = [...regions.values()].map((lists) => spread(lists.filter((l) => l.length))).filter((l) => l.length);
  return [...spread(perRegion), ...unknown];
}

/** Cluster by cluster, in `turns` order (each cluster's tenants keep their order). */
export function groupByCluster<T extends { cluster?: string }>(ordered: readonly T[], turns: readonly string[]): T[] {
  const rank = new Map(turns.map((c, i) => [c, i]));
  return ordered
    .map((t, i) => ({ t, i, r: rank.get(t.cluster ?? '') ?? turns.length }))
    .sort((a, b) => a.r - b.r || a.i - b.i)
    .map((x) => x.t);
}
