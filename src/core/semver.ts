import semver from 'semver';

/**
 * The one semantic-version implementation of the suite: the `semver` package (npm's own), in its
 * strict mode. Every caller (promotion, image tags, helm version, maintenance of the suite) goes
 * through here so that one text means one version everywhere.
 *
 * Strict mode accepts what semver.org 2.0.0 allows plus a lowercase `v` prefix and surrounding
 * whitespace (`v1.2.3`, ` 1.2.3`); it refuses `V1.2.3`, `=1.2.3`, `1.2`, leading zeros.
 */
export type Version = semver.SemVer;

/** The version `text` names, or undefined when it is not a semantic version. */
export function parseVersion(text: string): Version | undefined {
  return semver.parse(text) ?? undefined;
}

/** Semver precedence: -1, 0 or 1. Build metadata is ignored; 1.0.0-rc.1 < 1.0.0. */
export function compareVersions(a: Version, b: Version): number {
  return semver.compare(a, b);
}

/** The lowest and highest of `vs` by precedence (undefined for an empty list). */
export function versionRange(vs: readonly Version[]): { lowest: Version; highest: Version } | undefined {
  if (!vs.length) return undefined;
  const sorted = [...vs].sort(compareVersions);
  return { lowest: sorted[0]!, highest: sorted.at(-1)! };
}

/** The first version found inside a longer text (e.g. `version.BuildInfo{Version:"v4.1.4", ...}`), prerelease kept. */
export function findVersion(text: string): Version | undefined {
  return semver.coerce(text, { includePrerelease: true }) ?? undefined;
}
