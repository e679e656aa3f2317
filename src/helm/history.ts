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
 * The revision to return to when an upgrade fails: the newest one that is `deployed`; failing
 * that, the newest `superseded` one (it was once deployed successfully — this happens after a
 * failed rollback). Never "previous": after a failed upgrade the previous revision is often the
 * failed one itself, and `helm rollback` with no revision would go back to it.
 */
export function lastGoodRevision(history: readonly Revision[]): Revision | undefined {
  const newestWith = (status: string) => [...history].reverse().find((r) => r.status === status);
  return newestWith('deployed') ?? newestWith('superseded');
}

export function isPending(r: Revision | undefined): boolean {
  return !!r && r.status.startsWith('pending-');
}

/** `demo-0.1.0` -> `0.1.0` (chart names may contain dashes; versions start with a digit). */
export function chartVersionOf(chart: string): string {
  const m = /-(v?\d[^-]*(?:-.+)?)$/.exec(chart);
  return m?.[1] ?? '';
}
