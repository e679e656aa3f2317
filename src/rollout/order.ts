import { ConfigurationError } from '../core/errors.ts';
import type { Tenant } from '../tenants/model.ts';

/**
 * Longest-first within a wave (issue 13): a wave ends when its slowest tenant ends, so the
 * tenants that took longest last time start first and the wave's tail shrinks (LPT scheduling:
 * within 4/3 of the best possible makespan, against up to 2x for an arbitrary order). The order
 * is decided at run time from a previous report; it is not part of the plan or its fingerprint,
 * so an approved plan stays approved whatever the last run measured.
 */

/** Per-tenant durations (ms) from a previous rollout report's JSON: tenants that ran (a duration above 0). */
export function previousDurations(text: string, input = 'previous-report'): Map<string, number> {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new ConfigurationError(
      `input "${input}"`,
      `is not JSON (${(err as Error).message})`,
      'give the report-file of an earlier tenant-rollout run',
    );
  }
  const tenants = (doc as { tenants?: unknown } | null)?.tenants;
  if (!Array.isArray(tenants))
    throw new ConfigurationError(
      `input "${input}"`,
      'is not a tenant-rollout report (no "tenants" list)',
      'give the report-file of an earlier tenant-rollout run',
    );
  const out = new Map<string, number>();
  for (const t of tenants as { id?: unknown; durationMs?: unknown }[]) {
    if (typeof t?.id === 'string' && typeof t.durationMs === 'number' && Number.isFinite(t.durationMs) && t.durationMs > 0)
      out.set(t.id, t.durationMs);
  }
  return out;
}

/**
 * The tenants longest-first by `durations`; a tenant with no duration (new since) counts as the
 * median of the known ones. Stable: equal durations keep the plan order.
 */
export function longestFirst<T extends Pick<Tenant, 'id'>>(tenants: readonly T[], durations: ReadonlyMap<string, number>): T[] {
  if (!durations.size || tenants.length < 2) return [...tenants];
  const known = tenants
    .map((t) => durations.get(t.id))
    .filter((d): d is number => d !== undefined)
    .sort((a, b) => a - b);
  const median = known.length ? known[Math.floor(known.length / 2)]! : 0;
  return tenants
    .map((t, i) => ({ t, i, d: durations.get(t.id) ?? median }))
    .sort((a, b) => b.d - a.d || a.i - b.i)
    .map((x) => x.t);
}
