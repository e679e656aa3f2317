import { inputError } from '../core/errors.ts';
import { isTenantId } from '../tenants/model.ts';
import { looksLikeSelector, parseSelector, type Selector } from '../tenants/selector.ts';

/**
 * The planning inputs, parsed once into plain data (errors name the input and the value).
 *
 * pilot:      ``/`0` none, a count `2`, ids `alpha,beta`, or a label selector `ring=pilot`
 *             (the whole value is then one selector; its commas mean AND).
 * batch-size: a schedule of wave sizes, each a count `10` or a percentage `25%` of the tenants
 *             left after the pilot (rounded up); the last entry repeats until every tenant is placed:
 *             `10` (waves of 10), `25%` (four waves), `1,5%,25%,100%` (growing).
 */
export type PilotSpec =
  | { kind: 'none'; source: string }
  | { kind: 'count'; source: string; count: number }
  | { kind: 'ids'; source: string; ids: string[] }
  | { kind: 'selector'; source: string; selector: Selector }
  /** `per-cluster`: the first tenant (in plan order) of each cluster, so every API server sees the release before the waves. */
  | { kind: 'per-cluster'; source: string };

/**
 * How clusters share the waves. `interleave` (default): each cluster's tenants are spread evenly
 * over the sequence, clusters taking turns by region then name, so a wave is never one region
 * when the fleet has several. `by-cluster`: cluster after cluster in the tenants file's order
 * (e.g. the staging cluster first), ring then id within each.
 */
export type ClusterOrder = 'interleave' | 'by-cluster';
export const CLUSTER_ORDERS: readonly ClusterOrder[] = ['interleave', 'by-cluster'];

/** `percent` is in hundredths of a percent (`12.5%` -> 1250) so sizes are exact integer arithmetic. */
export type WaveEntry = { kind: 'count'; count: number } | { kind: 'percent'; basisPoints: number };

export interface WaveSpec {
  source: string;
  entries: WaveEntry[];
}

/** Which tenants go first, before the id order. */
export interface OrderSpec {
  /** The label that ranks tenants, e.g. `ring`. */
  label: string;
  /** Its values in order; tenants without the label or with another value come after, by id. */
  first: string[];
}

/**
 * Default order: `ring=pilot`, then `ring=canary`, then everyone else, each group by id. A pilot
 * count then takes pilot-ring tenants first, and a growing schedule reaches canaries before the
 * general population.
 */
export const DEFAULT_ORDER: OrderSpec = { label: 'ring', first: ['pilot', 'canary'] };

export function parsePilot(value: string, input = 'pilot'): PilotSpec {
  const source = value.trim();
  if (source === '' || source === '0') return { kind: 'none', source };
  if (source === 'per-cluster') return { kind: 'per-cluster', source };
  if (/^\d+$/.test(source)) {
    const count = Number(source);
    if (!Number.isSafeInteger(count)) throw inputError(input, value, 'is too large a pilot count');
    return { kind: 'count', source, count };
  }
  if (/^-\d+$/.test(source))
    throw inputError(input, value, 'is a negative pilot count', 'use 0 for no pilot, a count, ids or a label selector');
  if (looksLikeSelector(source)) return { kind: 'selector', source, selector: parseSelector(input, source) };
  const ids = source.split(/[\s,]+/).filter(Boolean);
  for (const id of ids) {
    if (!isTenantId(id))
      throw inputError(
        input,
        value,
        `has "${id}", which is not a tenant id`,
        'use a count (2), tenant ids (alpha,beta) or a label selector (ring=pilot)',
      );
  }
  const dup = ids.find((id, i) => ids.indexOf(id) !== i);
  if (dup) throw inputError(input, value, `names tenant "${dup}" twice`);
  return { kind: 'ids', source, ids };
}

export function parseBatchSize(value: string, input = 'batch-size'): WaveSpec {
  const source = value.trim();
  const hint = 'use a count (10), a percentage of the tenants after the pilot (25%), or a growing schedule (1,5%,25%,100%)';
  if (!source) throw inputError(input, value, 'is empty', hint);
  const entries = source.split(',').map((raw): WaveEntry => {
    const e = raw.trim();
    let m: RegExpExecArray | null;
    if ((m = /^(\d+)$/.exec(e))) {
      const count = Number(m[1]);
      if (count === 0) throw inputError(input, value, 'has a wave size of 0', hint);
      if (!Number.isSafeInteger(count)) throw inputError(input, value, `has a wave size too large (${e})`, hint);
      return { kind: 'count', count };
    }
    if ((m = /^(\d+)(?:\.(\d{1,2}))?\s*%$/.exec(e))) {
      const basisPoints = Number(m[1]) * 100 + Number((m[2] ?? '').padEnd(2, '0'));
      if (basisPoints === 0) throw inputError(input, value, `has a wave size of ${e}`, hint);
      if (basisPoints > 10_000) throw inputError(input, value, `has a wave size over 100% (${e})`, hint);
      return { kind: 'percent', basisPoints };
    }
    if (/^-/.test(e)) throw inputError(input, value, `has a negative wave size (${e})`, hint);
    throw inputError(input, value, e ? `has "${e}", which is not a wave size` : 'has an empty entry', hint);
  });
  return { source, entries };
}

/** Size of a wave for an entry, given the tenants left after the pilot (`total`). Always >= 1. */
export function waveSize(entry: WaveEntry, total: number): number {
  if (entry.kind === 'count') return entry.count;
  const scaled = entry.basisPoints * total;
  return Math.max(1, Math.floor(scaled / 10_000) + (scaled % 10_000 === 0 ? 0 : 1));
}

export function describeOrder(order: OrderSpec | null): string {
  return order && order.first.length ? `${order.label}: ${order.first.join(', ')}, then the rest; by id within each` : 'by id';
}

/** max-failures: how many tenants may fail before the rollout stops, a count or a percentage. */
export type FailureBudget = { kind: 'count'; n: number } | { kind: 'percent'; pct: number };

/** `2`, `5%`; empty is 0 (stop at the first failure). */
export function parseMaxFailures(value: string, input = 'max-failures'): FailureBudget {
  const v = value.trim() || '0';
  const pct = /^(\d+(?:\.\d+)?)%$/.exec(v);
  if (pct) {
    const n = Number(pct[1]);
    if (n > 100) throw inputError(input, value, 'is over 100%', 'use a count such as 2 or a percentage such as 5%');
    return { kind: 'percent', pct: n };
  }
  if (!/^\d+$/.test(v))
    throw inputError(
      input,
      value,
      'is not a count or a percentage',
      'use a count such as 2 or a percentage such as 5% (0 stops at the first failure)',
    );
  return { kind: 'count', n: Number(v) };
}

/** Failures allowed for a run over `total` tenants: a percentage rounds down (5% of 10 allows 0). */
export function allowedFailures(m: FailureBudget, total: number): number {
  return m.kind === 'count' ? m.n : Math.floor((m.pct * total) / 100);
}
