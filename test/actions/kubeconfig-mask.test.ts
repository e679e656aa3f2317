/**
 * Kubeconfig masking reads the document (YAML in any style, or JSON), not its lines: every
 * credential is hidden wherever a tool prints it, and the ordinary parts (server URLs, names,
 * the CA) stay readable.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { kubeconfigCredentials, maskKubeconfig } from '../../src/actions/common/kubeconfig.ts';
import { Secrets } from '../../src/core/secrets.ts';
import { repoRoot } from '../support/tools.ts';

const fixture = (name: string) => readFileSync(join(repoRoot, 'test', 'fixtures', 'kubeconfigs', name), 'utf8');
const b64 = (s: string) => Buffer.from(s).toString('base64');
const key = b64(
  '-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIKeyBodyLineOneSecretAAAA\nKeyBodyLineTwoSecretBBBB\n-----END EC PRIVATE KEY-----\n',
);
const cert = b64('-----BEGIN CERTIFICATE-----\nCertBodyLineSecretCCCC\n-----END CERTIFICATE-----\n');

describe('maskKubeconfig: credentials found by parsing', () => {
  it.each([
    [
      'token.yaml (block style, quoted token)',
      ['tok-en.Secret_value-1'],
      ['https://prod.example.com:6443', 'Q0EtaXMtcHVibGljLW5vdC1zZWNyZXQ=', 'tenants'],
    ],
    [
      'client-cert.yaml (flow style, client key and certificate, and the decoded key lines)',
      [key, cert, 'MHcCAQEEIKeyBodyLineOneSecretAAAA', 'KeyBodyLineTwoSecretBBBB', 'CertBodyLineSecretCCCC'],
      ['https://127.0.0.1:41234', 'admin', '-----BEGIN EC PRIVATE KEY-----'],
    ],
    [
      'basic-and-exec.yaml (a folded password, exec env values)',
      ['pass-word-folded-Secret', 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY', 'FwoGZXIvYXdzEXAMPLESESSION'],
      ['operator', 'AWS_SECRET_ACCESS_KEY', 'get-token', 'https://ABCD.gr7.eu-west-1.eks.amazonaws.com'],
    ],
    [
      'auth-provider.json (JSON; every auth-provider config value)',
      [
        'oidc-client-Secret-42',
        'eyJhbGciOiJSUzI1NiJ9.payload.signatureSecret',
        'refresh-Secret-token-77',
        'kubernetes-client-id-x',
        'https://issuer.example.com',
      ],
      ['https://oidc.example.com'],
    ],
  ])('%s', (file, hidden, shown) => {
    const secrets = new Secrets();
    const content = fixture(file.split(' ')[0]!);
    maskKubeconfig(content, secrets);
    const printed = [...hidden, ...shown].map((v) => `helm said: ${v} (end)`).join('\n');
    const out = secrets.redact(printed);
    for (const h of hidden) expect(out, h).not.toContain(h);
    for (const s of shown) expect(out, s).toContain(`helm said: ${s} (end)`);
    // The whole document too.
    expect(secrets.redact(`x ${content} y`)).toBe('x *** y');
  });

  it('falls back to credential-looking lines only for a document that cannot be parsed', () => {
    const broken = 'users:\n- name: x\n  user:\n    token: broken-doc-token-1\n  : : [\n';
    expect(kubeconfigCredentials(broken)).toBeUndefined();
    const secrets = new Secrets();
    maskKubeconfig(broken, secrets);
    expect(secrets.redact('got broken-doc-token-1')).toBe('got ***');
  });
});
