/** One line of `helm history -o json`. */
export interface Revision {
  revision: number;
  updated: string;
  status: string;
  chart: string;
  app_version: string;
  description: string;
}

export function parseHistory(json: string): Revision[] {
  const rows = JSON.parse(json) as Revision[];
  if (!Array.isArray(rows)) throw new Error('helm history did not return a JSON list');
  return [...rows].sort((a, b) => a.revision - b.revision);
}

export function latest(history: readonly Revision[]): Revision | undefined {
  return history.at(-1);
}

/**
 * helm's own words on a revision that never deployed: `Upgrade "x" failed: ...`, `Release "x"
 * failed: ...` (an install), `Rollback "x" failed: ...`, `Preparing upgrade` (left pending). A failed rollback marks the revision it
 * started from `superseded`, failed or not, so `superseded` alone does not say it ever ran.
 */
const NEVER_DEPLOYED = /^(?:(?:Upgrade|Install|Release|Rollback) ".*" failed|Preparing (?:upgrade|install|rollback))/;

/** Was this revision ever live: `deployed`, or `superseded` without helm saying it failed. */
export function wasDeployed(r: Revision): boolean {
  return r.status === 'deployed' || (r.status === 'superseded' && !NEVER_DEPLOYED.test(r.description ?? ''));
}

/**
 * The revision to return to when an upgrade fails: the newest one that is `deployed`; failing
 * that, the newest `superseded` one that was once deployed successfully (this happens after a
 * failed rollback; a failed upgrade that a failed rollback superseded is not one). Never
 * "previous": after a failed upgrade the previous revision is often the failed one itself, and
 * `helm rollback` with no revision would go back to it.
 */
export function lastGoodRevision(history: readonly Revision[]): Revision | undefined {
  const newest = [...history].reverse();
  return newest.find((r) => r.status === 'deployed') ?? newest.find(wasDeployed);
}

export function isPending(r: Revision | undefined): boolean {
  return !!r && r.status.startsWith('pending-');
}

/** `demo-0.1.0` -> `0.1.0` (chart names may contain dashes; versions start with a digit). */
export function chartVersionOf(chart: string): string {
  const m = /-(v?\d[^-]*(?:-.+)?)$/.exec(chart);
  return m?.[1] ?? '';
}
