import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Secrets } from '../../core/secrets.ts';

// Keys of a kubeconfig whose values are credentials. The document as a whole is masked too,
// but its ordinary lines ("kind: Config") are not, or half of every log would be stars.
const CREDENTIAL_KEY =
  /^\s*-?\s*(token|client-key-data|client-certificate-data|password|id-token|refresh-token|access-token|client-secret|secret)\s*:\s*["']?([^"'\s]+)["']?\s*$/;

export function maskKubeconfig(content: string, secrets: Secrets): void {
  secrets.add(content, { wholeOnly: true });
  for (const line of content.split(/\r?\n/)) {
    const m = CREDENTIAL_KEY.exec(line);
    if (m) secrets.add(m[2]);
  }
}

/**
 * A private directory (0700, files 0600) for what must not be readable by other users of the
 * runner: the kubeconfig and secret values files. Its path goes into the step state so the post
 * step removes it even after a cancelled main.
 */
export class PrivateDir {
  readonly path: string;
  constructor(tempDir: string) {
    this.path = mkdtempSync(join(tempDir, 'deploy-actions-'));
  }
  write(name: string, content: string): string {
    const p = join(this.path, name);
    writeFileSync(p, content, { mode: 0o600 });
    return p;
  }
  remove(): void {
    rmSync(this.path, { recursive: true, force: true });
  }
  /** Everything but `keep` (the kubeconfig a pending post-step recovery still needs; the post step removes the rest). */
  removeAllBut(keep: string): void {
    for (const f of readdirSync(this.path)) if (f !== keep) rmSync(join(this.path, f), { recursive: true, force: true });
  }
}
