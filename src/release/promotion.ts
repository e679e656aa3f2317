import { ConfigurationError } from '../core/errors.ts';
import { compareVersions, parseVersion, type Version } from '../core/semver.ts';

/**
 * Promotion policy: how much ceremony a release needs, from the version the fleet runs now and
 * the version being released (the seeds' versioning strategy):
 *
 * - patch: bug fixes, "safe to deploy immediately, automated rollout acceptable" -> no gate;
 * - minor: backward compatible, "test with a subset of tenants first" -> pilot, approval, waves;
 * - major: breaking, "plan a migration window" -> approval AND a stated maintenance window;
 * - a prerelease (1.4.0-rc.1) is never ungated;
 * - a downgrade is a deliberate act: approval (and a window when it crosses a major);
 * - a fleet on mixed versions is judged from its OLDEST tenant: the change that tenant sees is
 *   the biggest any tenant sees;
 * - the first install of a fleet (no tenant runs a version) goes through approval.
 *
 * Pure: no I/O, no clock. The tenant-rollout plan phase calls it and exposes the result as the
 * outputs `promotion` (kind), `gate`, `fleet-version` and `promotion-reason`.
 */

export type PromotionKind = 'initial' | 'same' | 'patch' | 'minor' | 'major' | 'downgrade' | 'unknown';
/** `none`: the waves run in an environment without reviewers; `approval`: behind the gated environment; `approval+window`: gated, and a maintenance window was stated. */
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
  /** The version the comparison was made against: the oldest version in the fleet (as given), or '' when none. */
  fleetVersion: string;
}

const show = (v: Version) => v.raw.trim();
const stricter = (a: Gate, b: Gate): Gate => {
  const rank: Gate[] = ['none', 'approval', 'approval+window'];
  return rank.indexOf(a) >= rank.indexOf(b) ? a : b;
};

/**
 * Classifies the promotion of `next` over a fleet whose tenants run `fleetVersions` (one entry
 * per tenant or a deduplicated list; '' for a tenant with nothing installed yet).
 *
 * Throws a ConfigurationError naming the window input when the change is major and no
 * maintenance window was stated.
 */
export function classifyPromotion(fleetVersions: readonly string[], next: string, opts: PromotionOptions = {}): Promotion {
  const windowInput = opts.windowInput ?? 'maintenance-window';
  const window = opts.maintenanceWindow?.trim() ?? '';
  const target = parseVersion(next);
  const installed = [...new Set(fleetVersions.map((v) => v.trim()).filter(Boolean))];
  const parsed = installed.map(parseVersion).filter((v): v is Version => v !== undefined);
  const unreadable = installed.filter((v) => !parseVersion(v));

  if (!target) {
    return {
      kind: 'unknown',
      gate: 'approval',
      fleetVersion: oldest(parsed)?.raw ?? installed[0] ?? '',
      reason: `release version "${next.trim()}" is not a semantic version (MAJOR.MINOR.PATCH), so the size of the change is unknown: approval required`,
    };
  }
  if (!installed.length) {
    return {
      kind: 'initial',
      gate: 'approval',
      fleetVersion: '',
      reason: `no tenant runs a version yet: ${show(target)} is a first install, approval required after the pilot`,
    };
  }
  const old = oldest(parsed);
  if (!old) {
    return {
      kind: 'unknown',
      gate: 'approval',
      fleetVersion: installed[0] ?? '',
      reason: `the fleet runs ${list(unreadable)}, not semantic versions, so the change to ${show(target)} cannot be sized: approval required`,
    };
  }

  const cmp = compareVersions(target, old);
  const mixed = installed.length > 1 ? ` (fleet on ${installed.length} versions; compared with the oldest)` : '';
  let kind: PromotionKind;
  let gate: Gate;
  let why: string;
  if (cmp === 0) {
    kind = 'same';
    gate = 'approval';
    why = `every tenant already runs ${show(target)}: a redeploy of the same version changes only values or chart, which the version does not describe, so approval is required`;
  } else if (cmp < 0) {
    kind = 'downgrade';
    gate = target.major !== old.major ? 'approval+window' : 'approval';
    why = `${show(target)} is older than ${show(old)}${mixed}: a downgrade${gate === 'approval+window' ? ' across a major version needs approval and a maintenance window' : ' needs approval'}`;
  } else if (target.major !== old.major) {
    kind = 'major';
    gate = 'approval+window';
    why = `${show(old)} -> ${show(target)}${mixed} is a major release (breaking changes): approval and a maintenance window`;
  } else if (target.minor !== old.minor) {
    kind = 'minor';
    gate = 'approval';
    why = `${show(old)} -> ${show(target)}${mixed} is a minor release (backward compatible features): pilot, then approval, then the waves`;
  } else {
    kind = 'patch';
    gate = 'none';
    why = `${show(old)} -> ${show(target)}${mixed} is a patch release (bug fixes): the waves follow the pilot without approval`;
    if (target.patch === old.patch) why = `${show(old)} -> ${show(target)}${mixed} changes only the prerelease of a patch`;
  }

  if (target.prerelease.length && gate === 'none') {
    gate = 'approval';
    why += `; ${show(target)} is a prerelease, so approval is required`;
  }
  if (unreadable.length) {
    gate = stricter(gate, 'approval');
    why += `; some tenants run ${list(unreadable)}, not semantic versions: approval required`;
  }
  if (gate === 'approval+window') {
    if (!window) {
      throw new ConfigurationError(
        `input "${windowInput}"`,
        `${kind === 'major' ? 'a major release' : 'a downgrade across a major version'} (${show(old)} -> ${show(target)}) needs a stated maintenance window, got none`,
        `set ${windowInput} to the agreed window (e.g. "2026-12-06 02:00-04:00 UTC, CHG-1234") and run again`,
      );
    }
    why += `; maintenance window: ${window}`;
  }
  return { kind, gate, fleetVersion: old.raw, reason: why };
}

function oldest(vs: Version[]): Version | undefined {
  return vs.reduce<Version | undefined>((min, v) => (!min || compareVersions(v, min) < 0 ? v : min), undefined);
}

function list(vs: string[]): string {
  const shown = vs
    .slice(0, 5)
    .map((v) => `"${v}"`)
    .join(', ');
  return vs.length > 5 ? `${shown} and ${vs.length - 5} more` : shown;
}
