import { ConfigurationError } from '../core/errors.ts';
import { isNamespaceName, isReleaseName } from '../core/names.ts';
import { containedPath } from '../core/paths.ts';
import { compileTemplate, expandTemplate } from '../core/template.ts';
import type { Dialect, ExpandOptions, Ref, Template, TemplateValues } from '../core/template.ts';

/**
 * One tenant of the product: its own namespace and its own Helm release of the shared chart.
 * Every string here may end up in helm/kubectl argv, so a Tenant is only ever built through
 * `checkTenant` (or a source that calls it).
 */
export interface Tenant {
  /** Stable identity, used in the plan, in include/exclude/pilot lists and in reports. */
  id: string;
  /** Short name used in hostnames and file names (`tenant-<slug>` namespaces, `values/<slug>.yaml`). */
  slug: string;
  namespace: string;
  release: string;
  /** Labels used by selectors and templates (ring, tier, region...). */
  labels: Record<string, string>;
  /** Per-tenant Helm values (from the tenants file); applied after every values file. */
  values: Record<string, unknown>;
  /** Per-tenant values files, in the order helm must read them (later wins). */
  valuesFiles: string[];
  /** The cluster its release lives in (a name of the fleet's clusters); absent: the run's one cluster. */
  cluster?: string;
  /** Kept out of rollouts and rollbacks (tenants file `hold`, or the namespace's hold annotations). */
  hold?: TenantHold;
}

export interface TenantHold {
  reason: string;
  /** ISO time the hold ends; absent: until removed. */
  until?: string;
  /** Where it was set: the tenants file or the namespace annotation. */
  source: string;
}

/** Namespace annotations that hold a tenant: the reason, and an optional ISO end time. */
export const HOLD_ANNOTATION = 'deploy-actions.dotmac.io/hold';
export const HOLD_UNTIL_ANNOTATION = 'deploy-actions.dotmac.io/hold-until';

/** The hold in force at `now`, if any (an expired one no longer holds). */
export function activeHold(t: Tenant, now: number): TenantHold | undefined {
  if (!t.hold) return undefined;
  if (t.hold.until && Date.parse(t.hold.until) <= now) return undefined;
  return t.hold;
}

export function describeHold(h: TenantHold): string {
  return `held (${h.source}): ${h.reason}${h.until ? ` until ${h.until}` : ''}`;
}

/** What a plan records about a tenant: enough to recognise it again and to target helm. */
export interface TenantRef {
  id: string;
  namespace: string;
  release: string;
  /** Only in a multi-cluster fleet (so single-cluster plans and fingerprints are unchanged). */
  cluster?: string;
}

/**
 * A tenant as the checks and the analysis see it: the fields a URL or a query may be templated
 * on, and the revision recorded before the deploy (what a rollback goes back to).
 */
export interface TenantTarget {
  id: string;
  slug: string;
  namespace: string;
  release: string;
  /** Status in the tenant-rollout report (`succeeded`, `failed-rolled-back`, `failed`, `skipped`, `unchanged`). */
  status?: string;
  /** The revision that was deployed before this rollout touched the tenant. */
  revisionBefore?: number;
  labels?: Record<string, string>;
}

/** The target view of a tenant, for checks and analysis. */
export function toTarget(t: Tenant): TenantTarget {
  return { id: t.id, slug: t.slug, namespace: t.namespace, release: t.release, labels: t.labels };
}

/**
 * `{{ tenant.<field> }}` templates (release names, values-file paths, smoke URLs, check paths and
 * headers, metric queries): id, slug, namespace, release and labels.<key>, nothing else.
 */
export const TENANT_FIELDS = ['tenant.id', 'tenant.slug', 'tenant.namespace', 'tenant.release'] as const;
const TENANT_HINT = 'use {{ tenant.id }}, {{ tenant.slug }}, {{ tenant.namespace }}, {{ tenant.release }} or {{ tenant.labels.<key> }}';
export const TENANT_TEMPLATE: Dialect = { fields: TENANT_FIELDS, maps: ['tenant.labels'], hint: TENANT_HINT };
/** Release-name templates may not refer to the release itself. */
export const RELEASE_NAME_TEMPLATE: Dialect = { ...TENANT_TEMPLATE, forbid: ['tenant.release'] };

/** What a tenant template may read; `release` is absent while the release name itself is being made. */
export type TenantContext = Pick<TenantTarget, 'id' | 'slug' | 'namespace'> & { release?: string; labels?: Record<string, string> };

export function tenantValues(t: TenantContext): TemplateValues {
  return {
    'tenant.id': t.id,
    'tenant.slug': t.slug,
    'tenant.namespace': t.namespace,
    'tenant.release': t.release,
    'tenant.labels': t.labels ?? {},
  };
}

function missingTenantValue(ref: Ref, t: Template, tenant: TenantContext | undefined): never {
  if (!tenant)
    throw new ConfigurationError(
      t.subject,
      `"${ref.raw}" needs a tenant, but the target is a single URL or release`,
      'give tenants (a tenant-rollout report or a tenants list), or remove the placeholder',
    );
  if (ref.key !== undefined)
    throw new ConfigurationError(
      t.subject,
      `template "${t.source}" needs label "${ref.key}", which tenant "${tenant.id}" does not have`,
      `label every tenant with "${ref.key}" or change the template`,
    );
  throw new ConfigurationError(t.subject, `template "${t.source}" cannot use ${ref.name} here`, TENANT_HINT);
}

/**
 * Expands the `{{ tenant.* }}` placeholders of `t` for one tenant (none: a template that needs one
 * is an error); other placeholders are left for another pass. `escape` for URL or PromQL contexts.
 */
export function expandForTenant(t: Template, tenant: TenantContext | undefined, escape?: ExpandOptions['escape']): string {
  return expandTemplate(t, tenant ? tenantValues(tenant) : {}, {
    escape,
    keep: (ref) => !ref.name.startsWith('tenant.'),
    missing: (ref) => missingTenantValue(ref, t, tenant),
  });
}

/** Compiles `source` (in `dialect`, by default tenant fields only) and expands it for one tenant. */
export function renderForTenant(
  source: string,
  tenant: TenantContext | undefined,
  subject: string,
  opts: { escape?: ExpandOptions['escape']; dialect?: Dialect } = {},
): string {
  return expandForTenant(compileTemplate(source, subject, opts.dialect ?? TENANT_TEMPLATE), tenant, opts.escape);
}

/** The release name template of every tenant source; the default is the slug. */
export const DEFAULT_RELEASE_TEMPLATE = '{{ tenant.slug }}';

export function compileReleaseTemplate(input = 'release-name', source = DEFAULT_RELEASE_TEMPLATE): Template {
  return compileTemplate(source, `input "${input}"`, RELEASE_NAME_TEMPLATE);
}

export function expandReleaseName(t: Template, tenant: TenantContext): string {
  const name = expandForTenant(t, tenant);
  if (!isReleaseName(name)) {
    throw new ConfigurationError(
      t.subject,
      `template "${t.source}" gives "${name}" for tenant "${tenant.id}", which is not a valid Helm release name`,
      'the result must be at most 53 lowercase letters, digits, "-" and "."',
    );
  }
  return name;
}

/** Expands a values-file path template for one tenant and keeps it inside `baseDir`. */
export function expandValuesPath(t: Template, tenant: TenantContext, baseDir: string): string {
  return containedPath(`${t.subject} (template "${t.source}", tenant "${tenant.id}")`, expandForTenant(t, tenant), baseDir);
}

/** Seeds convention: tenant namespaces are `tenant-<slug>`. */
export const DEFAULT_NAMESPACE_PREFIX = 'tenant-';

/**
 * Tenant ids and slugs follow the DNS-1123 label rule (the same as namespace names): lowercase
 * letters, digits and "-", at most 63 characters, so they are safe in argv, file names and
 * label values.
 */
export function isTenantId(v: string): boolean {
  return isNamespaceName(v);
}

const LABEL_NAME = /^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** A Kubernetes label key: `[prefix/]name`, prefix a DNS subdomain (<= 253), name <= 63. */
export function isLabelKey(k: string): boolean {
  const slash = k.lastIndexOf('/');
  const name = slash < 0 ? k : k.slice(slash + 1);
  const prefix = slash < 0 ? undefined : k.slice(0, slash);
  if (name.length > 63 || !LABEL_NAME.test(name)) return false;
  return prefix === undefined || (prefix.length <= 253 && DNS1123_SUBDOMAIN.test(prefix));
}

/** A Kubernetes label value: empty, or <= 63 alphanumerics with "-", "_", "." inside. */
export function isLabelValue(v: string): boolean {
  return v === '' || (v.length <= 63 && LABEL_NAME.test(v));
}

const ID_HINT = 'use at most 63 lowercase letters, digits and "-", starting and ending with a letter or digit';

/** The first reason `t` is not a tenant we may hand to helm, or undefined when it is valid. */
export function tenantProblem(t: Tenant): { message: string; hint: string } | undefined {
  if (!isTenantId(t.id)) return { message: `tenant id "${t.id}" is not valid`, hint: ID_HINT };
  if (!isTenantId(t.slug)) return { message: `tenant slug "${t.slug}" is not valid`, hint: ID_HINT };
  if (!isNamespaceName(t.namespace)) {
    return { message: `namespace "${t.namespace}" is not a valid namespace name`, hint: ID_HINT };
  }
  if (!isReleaseName(t.release)) {
    return {
      message: `release "${t.release}" is not a valid Helm release name`,
      hint: 'use at most 53 lowercase letters, digits, "-" and ".", starting and ending with a letter or digit',
    };
  }
  for (const [k, v] of Object.entries(t.labels)) {
    if (!isLabelKey(k))
      return { message: `label key "${k}" is not valid`, hint: 'use a Kubernetes label key such as "ring" or "dotmac.io/ring"' };
    if (typeof v !== 'string' || !isLabelValue(v)) {
      return { message: `label "${k}" has an invalid value "${String(v)}"`, hint: 'use at most 63 letters, digits, "-", "_" and "."' };
    }
  }
  for (const f of t.valuesFiles) {
    if (typeof f !== 'string' || f === '' || f.includes('\0'))
      return { message: `values file ${JSON.stringify(f)} is not a path`, hint: 'use a relative path' };
  }
  return undefined;
}

/** Throws a ConfigurationError about `subject` (e.g. `namespace "tenant-x"`) when `t` is invalid. */
export function checkTenant(t: Tenant, subject: string, location?: ConfigurationError['location']): Tenant {
  const p = tenantProblem(t);
  if (p) throw new ConfigurationError(subject, p.message, p.hint, location);
  return t;
}

export function toRef(t: TenantRef): TenantRef {
  return { id: t.id, namespace: t.namespace, release: t.release, ...(t.cluster ? { cluster: t.cluster } : {}) };
}

/** Code-unit order (not locale order): identical on every machine and fast for 10,000 ids. */
export function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Rejects two tenants with the same id, or two that target the same release in the same
 * namespace (helm would deploy one release twice). `where(i)` names the i-th tenant's origin.
 */
export function checkUniqueTenants(
  tenants: readonly Tenant[],
  where: (index: number) => { subject: string; location?: ConfigurationError['location']; short: string },
): void {
  const ids = new Map<string, number>();
  const releases = new Map<string, number>();
  tenants.forEach((t, i) => {
    const seen = ids.get(t.id);
    if (seen !== undefined) {
      const here = where(i);
      throw new ConfigurationError(
        here.subject,
        `duplicate tenant id "${t.id}" (also at ${where(seen).short})`,
        'give every tenant its own id',
        here.location,
      );
    }
    ids.set(t.id, i);
    // The same namespace/release in two clusters are two releases.
    const key = `${t.cluster ?? ''}:${t.namespace}/${t.release}`;
    const other = releases.get(key);
    if (other !== undefined) {
      const here = where(i);
      throw new ConfigurationError(
        here.subject,
        `tenant "${t.id}" targets release "${t.release}" in namespace "${t.namespace}", as does tenant "${tenants[other]!.id}" (at ${where(other).short})`,
        'give every tenant its own namespace or release',
        here.location,
      );
    }
    releases.set(key, i);
  });
}
