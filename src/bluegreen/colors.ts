/**
 * Blue-green colors, the live Service that routes to one of them, and the identity of "the
 * version being deployed". Pure helpers plus the one read of the live Service; the flow itself is
 * in `deploy.ts`.
 *
 * Each color is its own Helm release of the same chart, `<release>-blue` and `<release>-green`.
 * The LIVE Service is not part of either: its `.spec.selector` is switched by this suite (field
 * manager `deploy-actions`), and `.spec.selector` is an atomic map, so whoever else applies it
 * afterwards (Helm 4 applies server-side) gets a conflict on `.spec.selector` on every upgrade
 * (kube-fixtures/helm4-upgrade-ssa-conflict-after-selector-patch.txt).
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigurationError } from '../core/errors.ts';
import type { Logger } from '../core/logger.ts';
import { isReleaseName } from '../core/names.ts';
import type { UpgradeOptions } from '../helm/argv.ts';
import type { Revision } from '../helm/history.ts';
import type { Cluster, ReleaseHealth, ServiceInfo } from '../kube/ports.ts';

export const COLORS = ['blue', 'green'] as const;
export type Color = (typeof COLORS)[number];

export const isColor = (v: unknown): v is Color => v === 'blue' || v === 'green';
export const otherColor = (c: Color): Color => (c === 'blue' ? 'green' : 'blue');
export const colorRelease = (release: string, color: Color): string => `${release}-${color}`;

/** The label written on the managed fields of every selector switch. */
export const FIELD_MANAGER = 'deploy-actions';
/**
 * Written on the live Service by every deploy's switch, in the same patch: the color that was
 * live before it. A rollback goes back to it (a destination, not a toggle) and leaves it as it
 * is, so a second rollback finds that color live and does nothing.
 */
export const PREVIOUS_COLOR_ANNOTATION = 'deploy-actions/previous-color';
const HELM_RELEASE_ANNOTATION = 'meta.helm.sh/release-name';

export const formatSelector = (s: Record<string, string>): string =>
  Object.keys(s).length
    ? Object.entries(s)
        .map(([k, v]) => `${k}=${v}`)
        .join(',')
    : '(empty)';

/** Both color release names must be valid Helm release names (at most 53 characters). */
export function checkColorReleases(release: string): void {
  for (const c of COLORS) {
    if (!isReleaseName(colorRelease(release, c))) {
      throw new ConfigurationError(
        `input "release"`,
        `"${release}" cannot carry the color suffix: "${colorRelease(release, c)}" is not a valid Helm release name`,
        'blue-green deploys <release>-blue and <release>-green: use a release name of at most 47 lowercase letters, digits, "-" and "."',
      );
    }
  }
}

export interface LiveService {
  service: ServiceInfo;
  /** The color the selector routes to; undefined when the selector has no color key. */
  color?: Color;
}

/**
 * Reads the live Service and the color it routes to. Refuses, with the reason, a Service that
 * does not exist, that is part of a color release (the SSA trap), or whose color key holds
 * something other than blue/green. A Service owned by some other Helm release is allowed with a
 * warning: that release must not apply `.spec.selector` again.
 */
export async function readLiveService(
  cluster: Pick<Cluster, 'readService'>,
  o: { namespace: string; service: string; release: string; colorLabel: string },
  logger: Logger,
): Promise<LiveService> {
  const subject = `Service ${o.namespace}/${o.service}`;
  const service = await cluster.readService(o.namespace, o.service);
  if (!service) {
    throw new ConfigurationError(
      subject,
      'does not exist: blue-green switches the selector of a live Service, and reads the live color from it',
      `create it outside the color releases (e.g. kubectl apply) with a selector that includes "${o.colorLabel}: blue", ` +
        'or name another Service with the "service" input',
    );
  }
  const owner = service.annotations[HELM_RELEASE_ANNOTATION];
  if (owner && COLORS.some((c) => colorRelease(o.release, c) === owner)) {
    throw new ConfigurationError(
      subject,
      `is part of the color release "${owner}": once its selector is switched by another field manager, ` +
        `every later Helm 4 upgrade of "${owner}" fails with a server-side-apply conflict on .spec.selector`,
      `keep the live Service out of the color releases (each color has its own Service ` +
        `"${colorRelease(o.release, 'blue')}"/"${colorRelease(o.release, 'green')}"); ` +
        'create the live Service with kubectl, or name a Service no color release renders',
    );
  }
  if (owner) {
    logger.warning(
      `${subject} is managed by Helm release "${owner}": from now on "${FIELD_MANAGER}" owns its .spec.selector (an atomic field), ` +
        `so a Helm 4 upgrade of "${owner}" that renders a selector will fail with a server-side-apply conflict; keep the live Service out of Helm`,
    );
  }
  const value = service.selector[o.colorLabel];
  if (value === undefined) return { service };
  if (!isColor(value)) {
    throw new ConfigurationError(
      subject,
      `selects ${o.colorLabel}=${value}, which is neither blue nor green (selector ${formatSelector(service.selector)})`,
      `set its selector's "${o.colorLabel}" to blue or green (the color that serves now), or name the right key with "color-label"`,
    );
  }
  return { service, color: value };
}

/** Problems that keep a color from receiving traffic: unhealthy, or scaled to zero (healthy but serving nothing). */
export function servingProblems(h: ReleaseHealth): string[] {
  const problems = [...h.problems];
  for (const w of h.workloads) if (w.desired === 0) problems.push(`${w.kind.toLowerCase()}/${w.name}: scaled to 0 replicas`);
  return problems;
}

// ---------------------------------------------------------------------------------------------
// "Is the live color already on this version?" — the fingerprint of a deploy request.

const MARKER = /\[bg ([0-9a-f]{16})\]/;
const ROLLBACK = /^Rollback to (\d+)$/;

function hashPath(h: ReturnType<typeof createHash>, path: string, depth = 0): void {
  let st;
  try {
    st = statSync(path);
  } catch {
    h.update(`\0missing:${path}`);
    return;
  }
  if (st.isDirectory()) {
    if (depth > 8) return;
    for (const name of readdirSync(path).sort()) {
      h.update(`\0${name}`);
      hashPath(h, join(path, name), depth + 1);
    }
    return;
  }
  h.update('\0');
  h.update(readFileSync(path));
}

/**
 * What is being deployed, without the color: chart reference and version, --set lines, and the
 * CONTENT of the values files and of a local chart (a directory or .tgz: its files change under
 * the same path and version). Recorded in the revision description of each color, so a run can
 * tell that the live color already runs what it was asked to deploy.
 */
export function versionFingerprint(u: Pick<UpgradeOptions, 'chart' | 'version' | 'repoUrl' | 'set' | 'setString' | 'valuesFiles'>): string {
  const h = createHash('sha256');
  h.update(JSON.stringify({ chart: u.chart, version: u.version ?? '', repoUrl: u.repoUrl ?? '', set: u.set, setString: u.setString }));
  const local =
    !u.repoUrl && !u.chart.startsWith('oci://') && (u.chart.startsWith('.') || u.chart.startsWith('/') || existsLocally(u.chart));
  if (local) hashPath(h, u.chart);
  for (const f of u.valuesFiles) hashPath(h, f);
  return h.digest('hex').slice(0, 16);
}

function existsLocally(p: string): boolean {
  try {
    statSync(p);
    return true;
  } catch {
    return false;
  }
}

/** The revision description helm records, with the fingerprint appended. */
export function describeWithFingerprint(description: string | undefined, fingerprint: string): string {
  return `${description ? `${description} ` : ''}[bg ${fingerprint}]`;
}

/**
 * The fingerprint a revision was deployed with. A rollback revision ("Rollback to N") holds the
 * content of N, so it is followed back.
 */
export function fingerprintOf(history: readonly Revision[], revision: number): string | undefined {
  const seen = new Set<number>();
  let rev: number | undefined = revision;
  while (rev !== undefined && !seen.has(rev)) {
    seen.add(rev);
    const row = history.find((r) => r.revision === rev);
    if (!row) return undefined;
    const m = MARKER.exec(row.description);
    if (m) return m[1];
    const rb = ROLLBACK.exec(row.description.trim());
    rev = rb ? Number(rb[1]) : undefined;
  }
  return undefined;
}
