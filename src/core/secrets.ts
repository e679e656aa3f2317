/**
 * Every secret the run knows about (kubeconfig content, registry passwords, tokens, values the
 * user marked secret). Anything printed that did not come from our own wording (helm's stderr,
 * an HTTP error body) goes through `redact` first, so a secret echoed back by a tool is hidden
 * even where the runner's own masking cannot see it (e.g. in a report file or a job summary).
 */
export class Secrets {
  private readonly values = new Set<string>();
  private readonly onAdd: (value: string) => void;

  constructor(onAdd: (value: string) => void = () => {}) {
    this.onAdd = onAdd;
  }

  /**
   * Registers a secret. A multi-line secret (a PEM key, a token file) is also registered line by
   * line, since tools often print one line of it; pass `wholeOnly` for structured documents
   * (a kubeconfig) whose individual lines are not secret and would mask harmless text.
   */
  add(value: string | undefined, opts: { wholeOnly?: boolean } = {}): void {
    if (!value) return;
    const lines = opts.wholeOnly ? [] : value.split(/\r?\n/).map((l) => l.trim());
    // Short strings like "1" or "on" would mask half the log and protect nothing.
    for (const v of new Set([value, value.trim(), ...lines])) {
      if (v.length < 4 || this.values.has(v)) continue;
      this.values.add(v);
      this.onAdd(v);
    }
  }

  redact(text: string): string {
    if (this.values.size === 0 || !text) return text;
    let out = text;
    // Longest first, so a secret that contains another is hidden whole.
    for (const v of [...this.values].sort((a, b) => b.length - a.length)) out = out.split(v).join('***');
    return out;
  }
}
