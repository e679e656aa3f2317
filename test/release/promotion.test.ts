import { describe, expect, it } from 'vitest';
import { ConfigurationError } from '../../src/core/errors.ts';
import { classifyPromotion } from '../../src/release/promotion.ts';
import type { Gate, PromotionKind } from '../../src/release/promotion.ts';

const W = { maintenanceWindow: 'Sat 02:00-04:00 UTC, CHG-1234' };

describe('classifyPromotion', () => {
  const table: [string, string[], string, { maintenanceWindow?: string }, PromotionKind, Gate, string][] = [
    // name, fleet, next, opts, kind, gate, fleet-version
    ['empty fleet: first install', [], '1.3.0', {}, 'initial', 'approval', ''],
    ['tenants with nothing installed count as empty', ['', '  '], 'v1.3.0', {}, 'initial', 'approval', ''],
    ['patch', ['1.3.0'], '1.3.1', {}, 'patch', 'none', '1.3.0'],
    ['patch with v prefixes on both sides', ['v1.3.0', 'v1.3.0'], 'v1.3.2', {}, 'patch', 'none', 'v1.3.0'],
    ['build metadata is ignored', ['1.3.0+build.7'], '1.3.1+build.9', {}, 'patch', 'none', '1.3.0+build.7'],
    ['minor', ['1.3.4'], '1.4.0', {}, 'minor', 'approval', '1.3.4'],
    ['major with a window', ['1.9.9'], '2.0.0', W, 'major', 'approval+window', '1.9.9'],
    ['same version: approval (the version does not describe the change)', ['1.3.0'], 'v1.3.0', {}, 'same', 'approval', '1.3.0'],
    ['downgrade within a major', ['1.4.0'], '1.3.9', {}, 'downgrade', 'approval', '1.4.0'],
    ['downgrade across a major needs the window', ['2.0.0'], '1.9.0', W, 'downgrade', 'approval+window', '2.0.0'],
    ['mixed fleet: compared with the oldest (minor for it)', ['1.4.0', '1.3.2', '1.4.0'], '1.4.1', {}, 'minor', 'approval', '1.3.2'],
    ['mixed fleet: oldest major decides', ['2.0.1', '1.8.0'], '2.0.2', W, 'major', 'approval+window', '1.8.0'],
    ['mixed fleet mid-patch: resuming a patch stays a patch', ['1.3.1', '1.3.0'], '1.3.1', {}, 'patch', 'none', '1.3.0'],
    ['prerelease patch: at least approval', ['1.3.0'], '1.3.1-rc.1', {}, 'patch', 'approval', '1.3.0'],
    ['prerelease minor stays approval', ['1.3.0'], '1.4.0-rc.1', {}, 'minor', 'approval', '1.3.0'],
    ['prerelease major still needs the window', ['1.3.0'], '2.0.0-beta.1', W, 'major', 'approval+window', '1.3.0'],
    ['release of a prerelease the fleet runs', ['1.4.0-rc.2'], '1.4.0', {}, 'patch', 'none', '1.4.0-rc.2'],
    ['rc to later rc of the same version is gated', ['1.4.0-rc.1'], '1.4.0-rc.2', {}, 'patch', 'approval', '1.4.0-rc.1'],
    ['final to its own prerelease is a downgrade', ['1.4.0'], '1.4.0-rc.2', {}, 'downgrade', 'approval', '1.4.0'],
    ['non-semver release version: unknown, approval', ['1.3.0'], 'sha-0123abc', {}, 'unknown', 'approval', '1.3.0'],
    ['fleet on non-semver versions only: unknown, approval', ['latest', 'sha-1'], '1.3.1', {}, 'unknown', 'approval', 'latest'],
    ['a non-semver tenant raises a patch to approval', ['1.3.0', 'sha-1'], '1.3.1', {}, 'patch', 'approval', '1.3.0'],
    ['numeric compare, not text (1.10 > 1.9)', ['1.9.0'], '1.10.0', {}, 'minor', 'approval', '1.9.0'],
  ];

  it.each(table)('%s', (_name, fleet, next, opts, kind, gate, fleetVersion) => {
    const p = classifyPromotion(fleet, next, opts);
    expect({ kind: p.kind, gate: p.gate, fleetVersion: p.fleetVersion }).toEqual({ kind, gate, fleetVersion });
    expect(p.reason.length).toBeGreaterThan(10);
  });

  it('says why in words a reviewer understands', () => {
    expect(classifyPromotion(['1.3.0', '1.4.0'], '1.4.1').reason).toMatch(
      /1\.3\.0 -> 1\.4\.1 \(fleet on 2 versions; compared with the oldest\) is a minor release/,
    );
    expect(classifyPromotion(['1.3.0'], '1.3.1-rc.1').reason).toMatch(/prerelease, so approval is required/);
    expect(classifyPromotion(['1.3.0'], '2.0.0', W).reason).toMatch(/maintenance window: Sat 02:00-04:00 UTC, CHG-1234$/);
    expect(classifyPromotion(['1.3.0', 'sha-1'], '1.3.1').reason).toMatch(/"sha-1", not semantic versions/);
  });

  it('a major release without a stated window is an error naming the input', () => {
    for (const window of [undefined, '', '   ']) {
      let err: unknown;
      try {
        classifyPromotion(['1.9.0'], '2.0.0', { maintenanceWindow: window });
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(ConfigurationError);
      expect((err as ConfigurationError).subject).toBe('input "maintenance-window"');
      expect((err as Error).message).toMatch(/major release \(1\.9\.0 -> 2\.0\.0\) needs a stated maintenance window/);
      expect((err as ConfigurationError).hint).toMatch(/set maintenance-window/);
    }
  });

  it('the oldest tenant decides the window too, and the input name can be changed', () => {
    expect(() => classifyPromotion(['2.1.0', '1.9.0'], '2.1.1', { windowInput: 'window' })).toThrow(
      /input "window": a major release \(1\.9\.0 -> 2\.1\.1\)/,
    );
    expect(() => classifyPromotion(['2.0.0'], '1.9.0')).toThrow(/a downgrade across a major version/);
  });

  it('does not need a window below major', () => {
    expect(() => classifyPromotion(['1.3.0'], '1.4.0')).not.toThrow();
    expect(() => classifyPromotion(['1.3.0'], '1.3.1')).not.toThrow();
  });
});
