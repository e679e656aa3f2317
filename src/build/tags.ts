import { ConfigurationError } from '../core/errors.ts';
import { compareVersions, parseVersion, type Version } from '../core/semver.ts';

/** The part of a GitHub run that decides tags and labels, read from the runner's env and payload. */
export interface GitEvent {
  eventName: string;
  /** `refs/tags/v1.3.0`, `refs/heads/main`, `refs/pull/42/merge`. */
  ref: string;
  /** GITHUB_SHA: for pull_request, the merge commit GitHub made. */
  sha: string;
  /** `https://github.com/dotmac/dotmac-ftth-ops`, for the `source` label. */
  sourceUrl: string;
  /** The parsed event payload (`{}` when there is none). */
  payload: Record<string, unknown>;
}

/**
 * Reads the event the way the runner hands it over: GITHUB_EVENT_NAME, GITHUB_REF, GITHUB_SHA,
 * GITHUB_EVENT_PATH (the payload JSON), GITHUB_SERVER_URL and GITHUB_REPOSITORY.
 */
export function readGitEvent(env: NodeJS.ProcessEnv, readFile: (path: string) => string): GitEvent {
  const ref = env.GITHUB_REF ?? '';
  const sha = env.GITHUB_SHA ?? '';
  if (!sha || !/^[0-9a-f]{40,64}$/.test(sha)) {
    throw new ConfigurationError(
      'environment "GITHUB_SHA"',
      `is not a commit id, got "${sha}"`,
      'run on a GitHub runner, or set GITHUB_SHA (and GITHUB_REF, e.g. refs/tags/v1.3.0) yourself',
    );
  }
  let payload: Record<string, unknown> = {};
  if (env.GITHUB_EVENT_PATH) {
    try {
      const parsed: unknown = JSON.parse(readFile(env.GITHUB_EVENT_PATH));
      if (parsed && typeof parsed === 'object') payload = parsed as Record<string, unknown>;
    } catch (err) {
      throw new ConfigurationError(
        'environment "GITHUB_EVENT_PATH"',
        `cannot be read as JSON (${(err as Error).message})`,
        'point it at the event payload file or unset it',
      );
    }
  }
  const repo = payload.repository as { html_url?: unknown } | undefined;
  const sourceUrl =
    env.GITHUB_SERVER_URL && env.GITHUB_REPOSITORY
      ? `${env.GITHUB_SERVER_URL}/${env.GITHUB_REPOSITORY}`
      : typeof repo?.html_url === 'string'
        ? repo.html_url
        : '';
  return { eventName: env.GITHUB_EVENT_NAME ?? '', ref, sha, sourceUrl, payload };
}

/**
 * `latest: auto`: a stable release is the newest when no stable semver tag in the repository is
 * higher. A hotfix `v1.2.5` pushed after `v1.3.0` does not move `latest` back. `known` undefined
 * means the tag list could not be read: then nothing is claimed (the caller warns).
 */
export function isNewestRelease(version: Version, known: readonly string[] | undefined): boolean {
  if (version.prerelease.length || !known) return false;
  return known.every((t) => {
    const v = parseVersion(t);
    return !v || v.prerelease.length > 0 || compareVersions(v, version) <= 0;
  });
}

export type LatestMode = 'auto' | 'true' | 'false';
export type RefKind = 'release' | 'prerelease' | 'tag' | 'branch' | 'pull_request' | 'commit';

export interface TagPlan {
  kind: RefKind;
  /** The most specific tag (`1.3.0`, `1.3.0-rc.1`, `sha-0123abc`, `pr-42`): `version` output, label and `image.tag`. */
  version: string;
  /** Derived tags then the extra ones, deduplicated, in a stable order. */
  tags: string[];
  /** The commit the image is built from (for a pull request: its head, not GitHub's merge commit). */
  revision: string;
  /** Whether `push: auto` pushes: everything but pull requests. */
  pushByDefault: boolean;
  /** Things the user should know (e.g. latest could not be decided). */
  notes: string[];
}

export interface TagOptions {
  latest: LatestMode;
  /** Tag names in the repository (for `latest: auto`); undefined when they could not be listed. */
  knownTags?: readonly string[];
  /** Extra tags for every image (already validated). */
  extraTags?: readonly string[];
}

/** Makes any string a valid tag: invalid characters become "-", no leading "." or "-", at most 128. */
export function sanitizeTag(s: string): string {
  const t = s
    .replace(/[^A-Za-z0-9_.-]+/g, '-')
    .replace(/^[.-]+/, '')
    .slice(0, 128)
    .replace(/-+$/, '');
  return t || 'untagged';
}

/**
 * The tag rules:
 * - tag `vX.Y.Z` (or `X.Y.Z`): `X.Y.Z`, `X.Y`, `X` (no bare `0` for 0.y.z releases: 0.x promises
 *   no compatibility), plus `latest` per `latest`; build metadata (`+meta`) is kept as `_meta`.
 * - prerelease tag `vX.Y.Z-rc.1`: only `X.Y.Z-rc.1` (`latest` only with `latest: true`).
 * - any other tag: the tag name, sanitized.
 * - branch (push, workflow_dispatch, schedule...): the branch name sanitized and `sha-<7>`.
 * - pull_request / pull_request_target: `pr-<number>`; not pushed by default.
 * - anything else: `sha-<7>`.
 */
export function deriveTags(event: GitEvent, opts: TagOptions): TagPlan {
  const notes: string[] = [];
  const short = `sha-${event.sha.slice(0, 7)}`;
  let kind: RefKind;
  let version: string;
  let tags: string[];
  let revision = event.sha;
  let latestAllowed = false;

  const prNumber = pullRequestNumber(event);
  if (prNumber !== undefined) {
    kind = 'pull_request';
    version = `pr-${prNumber}`;
    tags = [version];
    const head = (event.payload.pull_request as { head?: { sha?: unknown } } | undefined)?.head?.sha;
    if (typeof head === 'string' && head) revision = head;
  } else if (event.ref.startsWith('refs/tags/')) {
    const name = event.ref.slice('refs/tags/'.length);
    const sv = parseVersion(name);
    if (sv && !sv.prerelease.length) {
      kind = 'release';
      const core = `${sv.major}.${sv.minor}.${sv.patch}`;
      version = sv.build.length ? sanitizeTag(`${core}_${sv.build.join('.')}`) : core;
      tags = [version, `${sv.major}.${sv.minor}`, ...(sv.major > 0 ? [String(sv.major)] : [])];
      if (opts.latest === 'auto') {
        if (!opts.knownTags)
          notes.push(
            `latest: could not list the repository's tags, so "latest" is not moved; set latest: true on the release workflow to force it`,
          );
        latestAllowed = isNewestRelease(sv, opts.knownTags ? [...opts.knownTags, name] : undefined);
        if (opts.knownTags && !latestAllowed)
          notes.push(`latest: ${name} is not the newest release in the repository, so "latest" stays where it is`);
      }
    } else if (sv) {
      kind = 'prerelease';
      version = sanitizeTag(
        `${sv.major}.${sv.minor}.${sv.patch}-${sv.prerelease.join('.')}${sv.build.length ? `_${sv.build.join('.')}` : ''}`,
      );
      tags = [version];
    } else {
      kind = 'tag';
      version = sanitizeTag(name);
      tags = [version];
    }
  } else if (event.ref.startsWith('refs/heads/')) {
    kind = 'branch';
    version = short;
    tags = [sanitizeTag(event.ref.slice('refs/heads/'.length)), short];
  } else {
    kind = 'commit';
    version = short;
    tags = [short];
  }

  if (opts.latest === 'true' || latestAllowed) tags.push('latest');
  tags.push(...(opts.extraTags ?? []));
  return { kind, version, tags: [...new Set(tags)], revision, pushByDefault: kind !== 'pull_request', notes };
}

function pullRequestNumber(event: GitEvent): number | undefined {
  if (!event.eventName.startsWith('pull_request')) return undefined;
  const n = event.payload.number ?? (event.payload.pull_request as { number?: unknown } | undefined)?.number;
  if (typeof n === 'number') return n;
  const m = /^refs\/pull\/(\d+)\//.exec(event.ref);
  return m ? Number(m[1]) : undefined;
}

/** The OCI annotations every image carries; `created` comes from the Clock, never Date.now. */
export function ociLabels(event: GitEvent, plan: TagPlan, createdMs: number): Record<string, string> {
  return {
    ...(event.sourceUrl ? { 'org.opencontainers.image.source': event.sourceUrl } : {}),
    'org.opencontainers.image.revision': plan.revision,
    'org.opencontainers.image.version': plan.version,
    'org.opencontainers.image.created': new Date(createdMs).toISOString(),
  };
}
