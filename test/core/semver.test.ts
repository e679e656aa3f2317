import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { compareVersions, findVersion, parseVersion, versionRange } from '../../src/core/semver.ts';
import { deriveTags } from '../../src/build/tags.ts';
import { classifyPromotion } from '../../src/release/promotion.ts';
import { parseHelmVersion } from '../../src/helm/version.ts';

// One table for every caller: what parses, and as which version.
const TABLE: [string, string | undefined][] = [
  ['1.2.3', '1.2.3'],
  ['v1.2.3', '1.2.3'],
  ['V1.2.3', undefined], // only a lowercase v: a tag "V1.2.3" is not a release tag
  [' 1.2.3 ', '1.2.3'], // surrounding whitespace is trimmed (a value pasted with a space)
  ['=1.2.3', undefined],
  ['1.2.3-rc.1+b.5', '1.2.3-rc.1'],
  ['1.2.3+meta', '1.2.3'],
  ['1.2', undefined],
  ['01.2.3', undefined],
  ['1.2.3-01', undefined],
  ['1.2.3-', undefined],
  ['v1.2.3.4', undefined],
  ['vv1.2.3', undefined],
  ['latest', undefined],
  ['', undefined],
];

describe('one semver for the suite', () => {
  it.each(TABLE)('%j -> %s', (text, version) => {
    expect(parseVersion(text)?.version).toBe(version);
  });

  it('promotion and image tags agree with the table', () => {
    for (const [text, version] of TABLE) {
      const p = classifyPromotion(['0.0.1'], text, { maintenanceWindow: 'CHG-1' });
      expect(p.kind === 'unknown', `promotion of ${JSON.stringify(text)}`).toBe(version === undefined);
      if (!text.trim() || /\s/.test(text)) continue; // not a possible git tag name
      const kind = deriveTags(
        { eventName: 'push', ref: `refs/tags/${text}`, sha: '0'.repeat(40), sourceUrl: '', payload: {} },
        { latest: 'false' },
      ).kind;
      expect(kind === 'release' || kind === 'prerelease', `tag ${text}`).toBe(version !== undefined);
    }
  });

  it('orders by semver precedence (semver.org example chain)', () => {
    const chain = [
      '1.0.0-alpha',
      '1.0.0-alpha.1',
      '1.0.0-alpha.beta',
      '1.0.0-beta',
      '1.0.0-beta.2',
      '1.0.0-beta.11',
      '1.0.0-rc.1',
      '1.0.0',
      '1.0.1',
      '1.1.0',
      '1.10.0',
      '2.0.0',
    ];
    const vs = chain.map((s) => parseVersion(s)!);
    for (let i = 0; i + 1 < vs.length; i++) {
      expect(compareVersions(vs[i]!, vs[i + 1]!), `${chain[i]} < ${chain[i + 1]}`).toBe(-1);
      expect(compareVersions(vs[i + 1]!, vs[i]!)).toBe(1);
    }
    expect(compareVersions(parseVersion('v1.0.0+a')!, parseVersion('1.0.0+b')!)).toBe(0);
  });

  it('lowest and highest of a fleet', () => {
    const r = versionRange(['1.4.0', '1.3.2', '1.10.0', '1.4.0-rc.1'].map((s) => parseVersion(s)!));
    expect([r?.lowest.version, r?.highest.version]).toEqual(['1.3.2', '1.10.0']);
    expect(versionRange([])).toBeUndefined();
  });

  it('finds the version inside helm version output', () => {
    expect(findVersion('version.BuildInfo{Version:"v4.1.4", GitCommit:"x"}')?.version).toBe('4.1.4');
    expect(parseHelmVersion('version.BuildInfo{Version:"v3.17.3", GitCommit:"x"}')).toMatchObject({ major: 3, minor: 17, raw: 'v3.17.3' });
  });

  it('no hand-written semver parser is left in src/', () => {
    const files: string[] = [];
    const walk = (d: string) => {
      for (const n of readdirSync(d)) {
        const p = join(d, n);
        if (statSync(p).isDirectory()) walk(p);
        else if (p.endsWith('.ts')) files.push(p);
      }
    };
    walk('src');
    const offenders = files.filter((f) => {
      const s = readFileSync(f, 'utf8');
      return /\(0\|\[1-9\]\\d\*\)|function (parse|compare)Semver|\\d\+\)\\\.\(\\d\+\)\\\.\(\\d\+\)/.test(s);
    });
    expect(offenders).toEqual([]);
  });
});
