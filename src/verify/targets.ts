import { ConfigurationError } from '../core/errors.ts';
import { isNamespaceName, isReleaseName } from '../core/names.ts';
import type { SmokeTarget } from './smoke.ts';
import { compileTemplate } from '../core/template.ts';
import { TENANT_TEMPLATE, expandForTenant, renderForTenant } from '../tenants/model.ts';
import type { TenantTarget } from '../tenants/model.ts';

/** Namespace of a tenant by the seeds' convention. */
export const tenantNamespace = (slug: string) => `tenant-${slug}`;

/**
 * Reads the tenants of a tenant-rollout report (JSON): `{ tenants: [{ id, namespace, release,
 * status, revisionBefore, slug?, labels? }] }` or a bare list. `revisions: { before }` is
 * accepted for `revisionBefore`.
 */
export function parseRolloutReport(text: string, source: string): TenantTarget[] {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new ConfigurationError(
      source,
      `is not valid JSON: ${(err as Error).message}`,
      "pass the tenant-rollout action's report output or report file",
    );
  }
  const list = Array.isArray(doc) ? doc : doc && typeof doc === 'object' ? (doc as { tenants?: unknown }).tenants : undefined;
  if (!Array.isArray(list))
    throw new ConfigurationError(source, 'has no "tenants" list', "pass the tenant-rollout action's report output or report file");
  return list.map((raw, i): TenantTarget => {
    const t = (raw ?? {}) as Record<string, unknown>;
    const where = `${source}: tenants[${i}]`;
    const str = (k: string, v: unknown, fallback?: string): string => {
      if (v === undefined || v === null || v === '') {
        if (fallback !== undefined) return fallback;
        throw new ConfigurationError(where, `has no "${k}"`, 'each tenant needs at least an id, a namespace and a release');
      }
      if (typeof v !== 'string') throw new ConfigurationError(where, `"${k}" must be a string, got ${JSON.stringify(v)}`);
      return v;
    };
    // tenant-rollout's report names tenants by id; the slug (for hostnames) follows the seeds'
    // `tenant-<slug>` namespace convention when the report carries no slug.
    const id = t.id === undefined && t.slug !== undefined ? str('slug', t.slug) : str('id', t.id);
    const nsGiven = typeof t.namespace === 'string' && t.namespace ? t.namespace : undefined;
    const slug = str('slug', t.slug, nsGiven?.startsWith('tenant-') ? nsGiven.slice('tenant-'.length) : id);
    const namespace = str('namespace', t.namespace, tenantNamespace(slug));
    const release = str('release', t.release);
    if (!isNamespaceName(namespace)) throw new ConfigurationError(where, `namespace "${namespace}" is not a valid namespace name`);
    if (!isReleaseName(release)) throw new ConfigurationError(where, `release "${release}" is not a valid Helm release name`);
    const before = t.revisionBefore ?? (t.revisions as { before?: unknown } | undefined)?.before;
    if (before !== undefined && before !== null && !(typeof before === 'number' && Number.isInteger(before) && before >= 0)) {
      throw new ConfigurationError(where, `"revisionBefore" must be a revision number, got ${JSON.stringify(before)}`);
    }
    const labels =
      t.labels && typeof t.labels === 'object'
        ? Object.fromEntries(Object.entries(t.labels as Record<string, unknown>).map(([k, v]) => [k, String(v)]))
        : undefined;
    return {
      id,
      slug,
      namespace,
      release,
      status: typeof t.status === 'string' ? t.status : undefined,
      revisionBefore: typeof before === 'number' && before > 0 ? before : undefined,
      labels,
    };
  });
}

/** Keeps the tenants whose report status is one of `statuses` (all when `statuses` is empty). */
export function withStatus(tenants: TenantTarget[], statuses: string[]): TenantTarget[] {
  if (statuses.length === 0) return tenants;
  return tenants.filter((t) => t.status !== undefined && statuses.includes(t.status));
}

/** Tenants from a list of slugs; namespace `tenant-<slug>`, release from a template (default: the slug). */
export function tenantsFromSlugs(slugs: string[], input: string, releaseTemplate = ''): TenantTarget[] {
  return slugs.map((slug) => {
    if (!isNamespaceName(tenantNamespace(slug)))
      throw new ConfigurationError(`input "${input}"`, `"${slug}" is not a valid tenant slug`, 'use lowercase letters, digits and "-"');
    const t: TenantTarget = { id: slug, slug, namespace: tenantNamespace(slug), release: slug };
    if (releaseTemplate) t.release = renderForTenant(releaseTemplate, t, 'input "release"');
    return t;
  });
}

export interface SmokeTargetInputs {
  /** A URL, or a template with `{{ tenant.* }}` expanded per tenant. */
  url: string;
  tenants?: TenantTarget[];
  /** For a single (non-tenant) target's in-cluster checks. */
  namespace?: string;
  release?: string;
}

/** One target per tenant (URL template expanded), or one target for a single URL / release. */
export function smokeTargets(i: SmokeTargetInputs): SmokeTarget[] {
  const url = i.url ? compileTemplate(i.url, 'input "url"', TENANT_TEMPLATE) : undefined;
  if (i.url) {
    if (!/^https?:\/\//.test(i.url))
      throw new ConfigurationError(
        'input "url"',
        `"${i.url}" is not an http(s) URL`,
        'write e.g. https://{{ tenant.slug }}.isp.example.com',
      );
  }
  if (i.tenants) {
    if (i.tenants.length === 0) return [];
    return i.tenants.map((t) => ({
      name: t.slug,
      url: url ? expandForTenant(url, t, encodeURIComponent) : undefined,
      tenant: t,
      namespace: t.namespace,
      release: t.release,
    }));
  }
  if (url && url.parts.some((p) => typeof p !== 'string')) {
    throw new ConfigurationError(
      'input "url"',
      `"${i.url}" is a per-tenant template, but no tenants were given`,
      'give the "report" of tenant-rollout or a "tenants" list, or a plain URL',
    );
  }
  if (!i.url && !(i.namespace && i.release)) {
    throw new ConfigurationError(
      'input "url"',
      'no target was given',
      'give a "url", a "report" or "tenants" (with a URL template), or a "namespace" and "release" for in-cluster checks',
    );
  }
  return [
    {
      name: i.url || `${i.namespace}/${i.release}`,
      url: i.url || undefined,
      namespace: i.namespace || undefined,
      release: i.release || undefined,
    },
  ];
}
