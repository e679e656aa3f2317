/** Levenshtein distance (insert, delete, substitute, and a swap of two neighbours counts as one). */
export function editDistance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i ? (j ? 0 : i) : j)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, d[i - 2]![j - 2]! + 1);
      d[i]![j] = v;
    }
  }
  return d[a.length]![b.length]!;
}

/**
 * The known name closest to a mistyped one, when it is close enough to be a likely typo (at most
 * a third of its length away, or a prefix/suffix of it such as `--dryrun` for `--dry-run`).
 */
export function closest(name: string, known: readonly string[]): string | undefined {
  const squash = (s: string) => s.replace(/[-_]/g, '').toLowerCase();
  let best: { name: string; d: number } | undefined;
  for (const k of known) {
    const d = squash(k) === squash(name) ? 0 : editDistance(name.toLowerCase(), k.toLowerCase());
    if (!best || d < best.d) best = { name: k, d };
  }
  if (!best) return undefined;
  return best.d <= Math.max(2, Math.floor(name.length / 3)) ? best.name : undefined;
}

/** `did you mean "x"?` or, without a close name, the list of known names. */
export function suggest(name: string, known: readonly string[]): string {
  const c = closest(name, known);
  return c ? `did you mean "${c}"?` : `known: ${known.join(', ') || '(none)'}`;
}
