import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Secrets } from '../../core/secrets.ts';

import { parse } from 'yaml';

// Keys of a user entry whose values are credentials (tokenFile, username are not).
const USER_SECRETS = ['token', 'password', 'client-key-data', 'client-certificate-data'];

// Only when the document cannot be parsed (then kubectl and helm cannot use it either): the
// lines that look like a credential, so a broken kubeconfig echoed back still shows none.
const CREDENTIAL_LINE =
  /^\s*-?\s*(token|client-key-data|client-certificate-data|password|id-token|refresh-token|access-token|client-secret|secret)\s*:\s*["']?([^"'\s]+)["']?\s*$/;

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const text = (v: unknown): string | undefined => (typeof v === 'string' ? v : typeof v === 'number' ? String(v) : undefined);

/**
 * The credentials of a kubeconfig (YAML or JSON, which is YAML), read from its structure: each
 * user's token, password, client key and certificate (and the decoded key's lines), every `exec`
 * env value, every `auth-provider` config value (id-token, refresh-token, client-secret...).
 * Undefined when the document cannot be parsed as a kubeconfig.
 */
export function kubeconfigCredentials(content: string): string[] | undefined {
  let doc: unknown;
  try {
    doc = parse(content);
  } catch {
    return undefined;
  }
  if (!isObj(doc)) return undefined;
  const out: string[] = [];
  for (const entry of Array.isArray(doc.users) ? doc.users : []) {
    const user = isObj(entry) && isObj(entry.user) ? entry.user : undefined;
    if (!user) continue;
    for (const k of USER_SECRETS) {
      const v = text(user[k]);
      if (!v) continue;
      out.push(v);
      // The decoded PEM too: a tool that prints the key prints it decoded.
      if (k.endsWith('-data')) {
        const pem = Buffer.from(v, 'base64').toString('utf8');
        for (const line of pem.split(/\r?\n/)) if (line.trim() && !line.startsWith('-----')) out.push(line.trim());
      }
    }
    const exec = isObj(user.exec) ? user.exec : undefined;
    for (const e of Array.isArray(exec?.env) ? exec.env : []) {
      const v = isObj(e) ? text(e.value) : undefined;
      if (v) out.push(v);
    }
    const provider = isObj(user['auth-provider']) ? user['auth-provider'] : undefined;
    if (provider && isObj(provider.config))
      for (const v of Object.values(provider.config)) {
        const t = text(v);
        if (t) out.push(t);
      }
  }
  return out;
}

/** Masks the kubeconfig as a whole and each credential in it (by parsing; see kubeconfigCredentials). */
export function maskKubeconfig(content: string, secrets: Secrets): void {
  secrets.add(content, { wholeOnly: true });
  const found = kubeconfigCredentials(content);
  if (found) {
    for (const v of found) secrets.add(v);
    return;
  }
  for (const line of content.split(/\r?\n/)) {
    const m = CREDENTIAL_LINE.exec(line);
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
