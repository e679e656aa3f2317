import { ConfigurationError } from '../core/errors.ts';
import { findVersion } from '../core/semver.ts';

export interface HelmVersion {
  major: 3 | 4;
  minor: number;
  patch: number;
  raw: string;
}

/**
 * Parses what `helm version --template '{{.Version}}'` prints ("v3.17.3", "v4.1.4"), or the full
 * `version.BuildInfo{Version:"v4.1.4", ...}` line. Only majors 3 and 4 are supported: their flags
 * differ (see argv.ts) and an unknown major would get flags it may not accept.
 */
export function parseHelmVersion(text: string): HelmVersion {
  const v = findVersion(text);
  if (!v)
    throw new ConfigurationError(
      'helm',
      `could not read the helm version from ${JSON.stringify(text.trim().slice(0, 120))}`,
      'install Helm 3 or 4, or point the "helm" input at its binary',
    );
  const { major, minor, patch } = v;
  const raw = `v${major}.${minor}.${patch}`;
  if (major !== 3 && major !== 4) {
    throw new ConfigurationError('helm', `version ${raw} is not supported`, 'use Helm 3 (3.13 or later) or Helm 4');
  }
  if (major === 3 && minor < 13) {
    // 3.13 introduced --dry-run=server, which server-side previews rely on.
    throw new ConfigurationError('helm', `version ${raw} is too old`, 'use Helm 3.13 or later, or Helm 4');
  }
  return { major, minor, patch, raw };
}
