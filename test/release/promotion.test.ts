import { describe, expect, it } from 'vitest';
import { ConfigurationError } from '../../src/core/errors.ts';
import { classifyPromotion } from '../../src/release/promotion.ts';
import type { Gate, PromotionKind, TenantVersion } from '../../src/release/promotion.ts';
import { renderFleetVersions } from '../../src/release/promotion.ts';
import { readFleetVersions } from '../../src/release/fleet-versions.ts';
import { ledgerDescription } from '../../src/rollout/execute.ts';
import { FakeHelm } from '../support/fake-helm.ts';

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
      /1\.3\.0 -> 1\.4\.1 \(fleet on 2 versions, 1\.3\.0 to 1\.4\.0\) is a minor release/,
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

// The promotion table of issue 15: versions read from what runs (the ledger), the chart's
// appVersion only as a labelled fallback.
describe('promotion from what runs', () => {
  const ledger = (id: string, version: string): TenantVersion => ({ id, version, source: 'ledger' });
  const chart = (id: string, version: string): TenantVersion => ({ id, version, source: 'chart-app-version' });
  const table: [string, TenantVersion[], string, PromotionKind, Gate, RegExp][] = [
    [
      'fleet on 1.4.0 images (ledger) with chart 1.3.0, releasing 1.3.5: a downgrade, gated',
      [ledger('a', '1.4.0'), ledger('b', '1.4.0')],
      '1.3.5',
      'downgrade',
      'approval',
      /1\.3\.5 is older than 1\.4\.0, which 2 tenants run: a downgrade needs approval/,
    ],
    [
      'mixed fleet: below the highest is a downgrade even when above the lowest',
      [ledger('a', '1.3.0'), ledger('b', '1.4.0'), ledger('c', '1.3.0')],
      '1.3.5',
      'downgrade',
      'approval',
      /1\.3\.5 is older than 1\.4\.0 \(fleet on 2 versions, 1\.3\.0 to 1\.4\.0\), which 1 tenant runs/,
    ],
    [
      'mixed fleet at or above the highest: judged from the lowest',
      [ledger('a', '1.3.0'), ledger('b', '1.4.0')],
      '1.4.0',
      'minor',
      'approval',
      /1\.3\.0 -> 1\.4\.0 \(fleet on 2 versions, 1\.3\.0 to 1\.4\.0\) is a minor release/,
    ],
    ['prerelease patch over a ledger fleet: approval', [ledger('a', '1.4.0')], '1.4.1-rc.1', 'patch', 'approval', /prerelease/],
    [
      'ledger absent: the chart appVersion, labelled as a fallback, and never ungated',
      [chart('a', '1.3.0'), chart('b', '1.3.0')],
      '1.3.1',
      'patch',
      'approval',
      /2 tenants \("a", "b"\) have no ledger entry, so their version is the chart's appVersion \(a fallback\): approval required/,
    ],
    [
      'an unreadable history: approval, and it says whose',
      [ledger('a', '1.3.0'), { id: 'b', version: '', source: 'unreadable', detail: 'timeout' }],
      '1.3.1',
      'patch',
      'approval',
      /the release history of "b" could not be read/,
    ],
  ];
  it.each(table)('%s', (_n, fleet, next, kind, gate, reason) => {
    const p = classifyPromotion(fleet, next);
    expect({ kind: p.kind, gate: p.gate }).toEqual({ kind, gate });
    expect(p.reason).toMatch(reason);
  });

  it('the summary says which tenants run what, and where it was read', () => {
    const p = classifyPromotion(
      [ledger('a', '1.4.0'), chart('b', '1.3.0'), ledger('c', '1.4.0'), { id: 'd', version: '', source: 'not-installed' }],
      '1.4.1',
    );
    expect([p.fleetVersion, p.highestVersion]).toEqual(['1.3.0', '1.4.0']);
    expect(renderFleetVersions(p)).toBe(
      [
        '| version | read from | tenants | which |',
        '|---|---|---|---|',
        '| 1.3.0 | chart appVersion (fallback: no ledger entry) | 1 | b |',
        '| 1.4.0 | ledger | 2 | a, c |',
        '| — | not installed | 1 | d |',
        '',
      ].join('\n'),
    );
  });

  it('reads the ledger of the live revision (following a rollback), the appVersion without one', async () => {
    const helm = new FakeHelm();
    // a: images moved to 1.4.0 by a rollout while the chart stayed at 1.3.0 (app_version 1.2.0 in the fake).
    helm.seed('tenant-a', 'a', [{ status: 'deployed', description: ledgerDescription('fp', 'run=1', '1.4.0') }]);
    // b: 1.4.0, then 1.5.0 failed verification and was rolled back to revision 1 ("Rollback to 1").
    helm.seed('tenant-b', 'b', [
      { status: 'superseded', description: ledgerDescription('fp', 'run=1', 'v1.4.0') },
      { status: 'superseded', description: ledgerDescription('fp2', 'run=2', '1.5.0') },
      { status: 'deployed', description: 'Rollback to 1' },
    ]);
    // c: installed by hand, no ledger.
    helm.seed('tenant-c', 'c', [{ status: 'deployed', description: 'Install complete' }]);
    const tenants = ['a', 'b', 'c', 'd'].map((id) => ({ id, namespace: `tenant-${id}`, release: id }));
    const vs = await readFleetVersions(tenants, helm, {});
    expect(vs).toEqual([
      { id: 'a', version: '1.4.0', source: 'ledger' },
      { id: 'b', version: 'v1.4.0', source: 'ledger' },
      { id: 'c', version: '1.2.0', source: 'chart-app-version' },
      { id: 'd', version: '', source: 'not-installed' },
    ]);
    expect(helm.calls.filter((c) => c.startsWith('history'))).toHaveLength(3); // none for the tenant not installed
    expect(classifyPromotion(vs, '1.3.5').kind).toBe('downgrade');
  });

  it('a history that cannot be read is unreadable, not guessed', async () => {
    const helm = new FakeHelm();
    helm.seed('tenant-a', 'a', [{ status: 'deployed' }]);
    helm.history = () => Promise.reject(new Error('Kubernetes cluster unreachable'));
    const vs = await readFleetVersions([{ id: 'a', namespace: 'tenant-a', release: 'a' }], helm, {});
    expect(vs).toEqual([{ id: 'a', version: '', source: 'unreadable', detail: 'Kubernetes cluster unreachable' }]);
  });
});
