import { ConfigurationError } from '../core/errors.ts';
import { compareVersions, parseVersion, versionRange, type Version } from '../core/semver.ts';

/**
 * Promotion policy: how much ceremony a release needs, from the version the fleet runs now and
 * the version being released (the seeds' versioning strategy):
 *
 * - patch: bug fixes, "safe to deploy immediately, automated rollout acceptable" -> no gate;
 * - minor: backward compatible, "test with a subset of tenants first" -> pilot, approval, waves;
 * - major: breaking, "plan a migration window" -> approval AND a stated maintenance window;
 * - a prerelease (1.4.0-rc.1) is never ungated;
 * - a downgrade is its own class and a deliberate act: approval (and a window when it crosses a
 *   major);
 * - a fleet on mixed versions is judged from its LOWEST and HIGHEST versions: below the highest
 *   it is a downgrade for the tenants there; otherwise the change the lowest tenant sees is the
 *   biggest any tenant sees;
 * - the versions come from what runs (the ledger in each live revision); a tenant without a
 *   ledger entry is read from its chart's appVersion, which is labelled as a fallback and never
 *   lets a release through ungated (images move without the chart: that is how a downgrade
 *   once passed as a patch);
 * - the first install of a fleet (no tenant runs a version) goes through approval.
 *
 * Pure: no I/O, no clock. The tenant-rollout plan phase calls it and exposes the result as the
 * outputs `promotion` (kind), `gate`, `fleet-version` and `promotion-reason`.
 */

export type PromotionKind = 'initial' | 'same' | 'patch' | 'minor' | 'major' | 'downgrade' | 'unknown';
/**
 * `none`: the waves run in an environment without reviewers; `approval`: behind the gated
 * environment; `approval+window`: gated, and a maintenance window was stated.
 */
export type Gate = 'none' | 'approval' | 'approval+window';

export interface PromotionOptions {
  /** The stated maintenance window (free text: a time range, a change ticket). Required for a major release. */
  maintenanceWindow?: string;
  /** Name of the input holding the window, for the error message. Default `maintenance-window`. */
  windowInput?: string;
}

export interface Promotion {
  kind: PromotionKind;
  gate: Gate;
  /** One sentence a reviewer reads in the job summary. */
  reason: string;
  /** The lowest version in the fleet (as recorded), or '' when none. */
  fleetVersion: string;
  /** The highest version in the fleet, or '' when none. */
  highestVersion: string;
  /** Who runs what, lowest version first (tenants with nothing installed last). */
  versions: VersionGroup[];
}

/** Where a tenant's running version was read. */
export type VersionSource = 'ledger' | 'chart-app-version' | 'not-installed' | 'unreadable';

export interface TenantVersion {
  id: string;
  /** '' when not installed or unreadable. */
  version: string;
  source: VersionSource;
  /** Why it is unreadable (the error). */
  detail?: string;
}

export interface VersionGroup {
  version: string;
  source: VersionSource;
  tenants: string[];
}

const show = (v: Version) => v.raw.trim();
const stricter = (a: Gate, b: Gate): Gate => {
  const rank: Gate[] = ['none', 'approval', 'approval+window'];
  return rank.indexOf(a) >= rank.indexOf(b) ? a : b;
};

/**
 * Classifies the promotion of `next` over a fleet whose tenants run `fleet` (a TenantVersion per
 * tenant; plain strings count as ledger versions, '' as nothing installed).
 *
 * Throws a ConfigurationError naming the window input when the change needs a window and none
 * was stated.
 */
export function classifyPromotion(fleet: readonly (string | TenantVersion)[], next: string, opts: PromotionOptions = {}): Promotion {
  const windowInput = opts.windowInput ?? 'maintenance-window';
  const window = opts.maintenanceWindow?.trim() ?? '';
  const tenants = fleet.map((f, i): TenantVersion => {
    if (typeof f !== 'string') return { ...f, version: f.version.trim() };
    const version = f.trim();
    return { id: `#${i + 1}`, version, source: version ? 'ledger' : 'not-installed' };
  });
  const versions = groups(tenants);
  const target = parseVersion(next);
  const installed = [...new Set(tenants.map((t) => t.version).filter(Boolean))];
  const parsed = installed.map((v) => parseVersion(v)).filter((v): v is Version => v !== undefined);
  const unreadable = installed.filter((v) => !parseVersion(v));
  const range = versionRange(parsed);
  const base = { fleetVersion: range?.lowest.raw.trim() ?? installed[0] ?? '', highestVersion: range?.highest.raw.trim() ?? '', versions };
  const notes: string[] = [];
  const fallback = tenants.filter((t) => t.source === 'chart-app-version');
  if (fallback.length)
    notes.push(
      `${fallback.length} tenant${fallback.length === 1 ? '' : 's'} (${list(fallback.map((t) => t.id))}) ` +
        `have no ledger entry, so their version is the chart's appVersion (a fallback): approval required`,
    );
  const failed = tenants.filter((t) => t.source === 'unreadable');
  if (failed.length)
    notes.push(`the release history of ${list(failed.map((t) => t.id))} could not be read, so what they run is unknown: approval required`);
  if (unreadable.length) notes.push(`some tenants run ${list(unreadable)}, not semantic versions: approval required`);

  if (!target) {
    return {
      kind: 'unknown',
      gate: 'approval',
      ...base,
      reason: `release version "${next.trim()}" is not a semantic version (MAJOR.MINOR.PATCH), so the size of the change is unknown: approval required`,
    };
  }
  if (!range) {
    if (!installed.length && !failed.length) {
      return {
        kind: 'initial',
        gate: 'approval',
        ...base,
        reason: `no tenant runs a version yet: ${show(target)} is a first install, approval required after the pilot`,
      };
    }
    return {
      kind: 'unknown',
      gate: 'approval',
      ...base,
      reason: `the change to ${show(target)} cannot be sized: ${notes.join('; ')}`,
    };
  }

  const { lowest, highest } = range;
  const mixed =
    compareVersions(lowest, highest) !== 0 ? ` (fleet on ${installed.length} versions, ${show(lowest)} to ${show(highest)})` : '';
  let kind: PromotionKind;
  let gate: Gate;
  let why: string;
  if (compareVersions(target, highest) < 0) {
    // Some tenants would go back: a downgrade for them, whatever the others see.
    const down = tenants.filter((t) => {
      const v = parseVersion(t.version);
      return v && compareVersions(target, v) < 0;
    });
    kind = 'downgrade';
    gate = target.major !== highest.major ? 'approval+window' : 'approval';
    why =
      `${show(target)} is older than ${show(highest)}${mixed}, which ${down.length} tenant${down.length === 1 ? ' runs' : 's run'}: a ` +
      `downgrade${gate === 'approval+window' ? ' across a major version needs approval and a maintenance window' : ' needs approval'}`;
  } else if (compareVersions(target, lowest) === 0) {
    kind = 'same';
    gate = 'approval';
    why =
      `every tenant already runs ${show(target)}: a redeploy of the same version changes ` +
      `only values or chart, which the version does not describe, so approval is required`;
  } else if (target.major !== lowest.major) {
    kind = 'major';
    gate = 'approval+window';
    why = `${show(lowest)} -> ${show(target)}${mixed} is a major release (breaking changes): approval and a maintenance window`;
  } else if (target.minor !== lowest.minor) {
    kind = 'minor';
    gate = 'approval';
    why = `${show(lowest)} -> ${show(target)}${mixed} is a minor release (backward compatible features): pilot, then approval, then the waves`;
  } else {
    kind = 'patch';
    gate = 'none';
    why =
      target.patch === lowest.patch
        ? `${show(lowest)} -> ${show(target)}${mixed} changes only the prerelease of a patch`
        : `${show(lowest)} -> ${show(target)}${mixed} is a patch release (bug fixes): the waves follow the pilot without approval`;
  }

  if (target.prerelease.length && gate === 'none') {
    gate = 'approval';
    why += `; ${show(target)} is a prerelease, so approval is required`;
  }
  if (notes.length) {
    gate = stricter(gate, 'approval');
    why += `; ${notes.join('; ')}`;
  }
  if (gate === 'approval+window') {
    if (!window) {
      const from = kind === 'downgrade' ? highest : lowest;
      throw new ConfigurationError(
        `input "${windowInput}"`,
        `${kind === 'major' ? 'a major release' : 'a downgrade across a major version'} ` +
          `(${show(from)} -> ${show(target)}) needs a stated maintenance window, got none`,
        `set ${windowInput} to the agreed window (an ISO 8601 interval such as 2026-12-06T02:00Z/PT4H, or weekly: Sat 02:00-06:00 UTC) and run again`,
      );
    }
    why += `; maintenance window: ${window}`;
  }
  return { kind, gate, ...base, reason: why };
}

/** Who runs what: one group per (version, source), lowest version first, then unversioned, unreadable, not installed. */
function groups(tenants: readonly TenantVersion[]): VersionGroup[] {
  const byKey = new Map<string, VersionGroup>();
  for (const t of tenants) {
    const key = `${t.source}\0${t.version}`;
    const g = byKey.get(key) ?? { version: t.version, source: t.source, tenants: [] };
    g.tenants.push(t.id);
    byKey.set(key, g);
  }
  const rank = (g: VersionGroup) => (g.source === 'not-installed' ? 3 : g.source === 'unreadable' ? 2 : parseVersion(g.version) ? 0 : 1);
  return [...byKey.values()].sort((a, b) => {
    const r = rank(a) - rank(b);
    if (r || rank(a) !== 0) return r || a.version.localeCompare(b.version);
    return compareVersions(parseVersion(a.version)!, parseVersion(b.version)!) || a.source.localeCompare(b.source);
  });
}

const SOURCE_LABEL: Record<VersionSource, string> = {
  ledger: 'ledger',
  'chart-app-version': 'chart appVersion (fallback: no ledger entry)',
  'not-installed': 'not installed',
  unreadable: 'history unreadable',
};

/** The "who runs what" table for the log and the job summary (at most `limit` tenant ids per row). */
export function renderFleetVersions(p: Promotion, limit = 20): string {
  const rows = p.versions.map((g) => {
    const ids = g.tenants.slice(0, limit).join(', ') + (g.tenants.length > limit ? ` and ${g.tenants.length - limit} more` : '');
    return `| ${g.version || '—'} | ${SOURCE_LABEL[g.source]} | ${g.tenants.length} | ${ids} |`;
  });
  return `| version | read from | tenants | which |\n|---|---|---|---|\n${rows.join('\n')}\n`;
}

function list(vs: string[]): string {
  const shown = vs
    .slice(0, 5)
    .map((v) => `"${v}"`)
    .join(', ');
  return vs.length > 5 ? `${shown} and ${vs.length - 5} more` : shown;
}
