import { inputError } from './errors.ts';

// Kubernetes namespace names are DNS-1123 labels; Helm release names are DNS-1123 subdomains
// of at most 53 characters (helm adds suffixes to the Secret that stores each revision).
const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const RELEASE = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

export function isNamespaceName(v: string): boolean {
  return v.length <= 63 && DNS1123_LABEL.test(v);
}

export function isReleaseName(v: string): boolean {
  return v.length <= 53 && RELEASE.test(v);
}

function checkName(input: string, v: string, valid: (v: string) => boolean, what: string, rule: string): string {
  if (!valid(v)) throw inputError(input, v, `is not a valid ${what}`, `use at most ${rule}, starting and ending with a letter or digit`);
  return v;
}

export function checkNamespace(input: string, v: string): string {
  return checkName(input, v, isNamespaceName, 'namespace name', '63 lowercase letters, digits and "-"');
}

export function checkRelease(input: string, v: string): string {
  return checkName(input, v, isReleaseName, 'Helm release name', '53 lowercase letters, digits, "-" and "."');
}
