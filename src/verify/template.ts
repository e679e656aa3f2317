import { ConfigurationError } from '../core/errors.ts';
import type { TenantTarget } from '../tenants/model.ts';

/** Fields a `{{ tenant.<field> }}` placeholder may name (plus `labels.<name>`). */
export const TENANT_FIELDS = ['id', 'slug', 'namespace', 'release'] as const;

// `{{ root.path }}`: the only placeholder form. Anything else between braces is an error, so a
// typo (`{{ tennant.slug }}`, `{{ .slug }}`) fails before any request is sent.
const PLACEHOLDER = /\{\{\s*([^{}]*?)\s*\}\}/g;
const REF = /^(tenant|secrets)\.([A-Za-z0-9_][A-Za-z0-9_.-]*)$/;

export interface Placeholder {
  root: 'tenant' | 'secrets';
  field: string;
  raw: string;
}

/** Lists the placeholders of a template, throwing a clear error on any it cannot resolve. */
export function placeholders(template: string, subject: string, allowed: readonly ('tenant' | 'secrets')[] = ['tenant']): Placeholder[] {
  const out: Placeholder[] = [];
  for (const m of template.matchAll(PLACEHOLDER)) {
    const ref = REF.exec(m[1]!);
    const root = ref?.[1] as Placeholder['root'] | undefined;
    if (!ref || !root || !allowed.includes(root)) {
      throw new ConfigurationError(
        subject,
        `unsupported placeholder "${m[0]}"`,
        `use ${allowed.map((r) => (r === 'tenant' ? `{{ tenant.<${TENANT_FIELDS.join('|')}|labels.NAME> }}` : '{{ secrets.NAME }}')).join(' or ')}`,
      );
    }
    const field = ref[2]!;
    if (root === 'tenant' && !(TENANT_FIELDS as readonly string[]).includes(field) && !/^labels\.[A-Za-z0-9_./-]+$/.test(field)) {
      throw new ConfigurationError(subject, `unknown tenant field in "${m[0]}"`, `use one of: ${TENANT_FIELDS.join(', ')}, labels.NAME`);
    }
    out.push({ root, field, raw: m[0] });
  }
  return out;
}

export function hasTenantPlaceholder(template: string): boolean {
  for (const m of template.matchAll(PLACEHOLDER)) if (m[1]!.startsWith('tenant.')) return true;
  return false;
}

function tenantField(t: TenantTarget, field: string): string | undefined {
  if (field.startsWith('labels.')) return t.labels?.[field.slice('labels.'.length)];
  return t[field as (typeof TENANT_FIELDS)[number]];
}

/**
 * Expands `{{ tenant.<field> }}` for one tenant. `escape` is applied to each substituted value
 * (e.g. PromQL string escaping). Placeholders of other roots are left for another pass.
 */
export function renderTenant(
  template: string,
  tenant: TenantTarget | undefined,
  subject: string,
  escape: (v: string) => string = (v) => v,
): string {
  placeholders(template, subject, ['tenant', 'secrets']);
  return template.replace(PLACEHOLDER, (raw, inner: string) => {
    const ref = REF.exec(inner)!;
    if (ref[1] !== 'tenant') return raw;
    if (!tenant)
      throw new ConfigurationError(
        subject,
        `"${raw}" needs a tenant, but the target is a single URL or release`,
        'give tenants (a tenant-rollout report or a tenants list), or remove the placeholder',
      );
    const v = tenantField(tenant, ref[2]!);
    if (v === undefined)
      throw new ConfigurationError(
        subject,
        `tenant "${tenant.slug}" has no value for "${raw}"`,
        'add the label to the tenant, or remove the placeholder',
      );
    return escape(v);
  });
}

/** Expands `{{ secrets.NAME }}` from the named secrets the user gave; an unknown name is an error. */
export function renderSecrets(template: string, secrets: Record<string, string>, subject: string): string {
  placeholders(template, subject, ['tenant', 'secrets']);
  return template.replace(PLACEHOLDER, (raw, inner: string) => {
    const ref = REF.exec(inner)!;
    if (ref[1] !== 'secrets') return raw;
    const v = secrets[ref[2]!];
    if (v === undefined) {
      const known = Object.keys(secrets);
      throw new ConfigurationError(
        subject,
        `"${raw}" names no secret given in the "secrets" input`,
        known.length ? `known secrets: ${known.join(', ')}` : 'add NAME=value lines to the "secrets" input',
      );
    }
    return v;
  });
}

/** Escapes a value for a double-quoted PromQL string (label matchers). */
export function promqlString(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}
