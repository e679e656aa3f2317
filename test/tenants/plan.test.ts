import { describe, expect, it } from 'vitest';
import {
  DEFAULT_ORDER,
  orderTenants,
  parseBatchSize,
  parsePhase,
  parsePilot,
  parsePlan,
  planRollout,
  reconcilePlan,
  serializePlan,
  stepsForPhase,
  tenantsForPhase,
  waveSize,
  type Plan,
} from '../../src/rollout/plan.ts';
import { renderPlanTable, renderPlanText } from '../../src/rollout/plan-render.ts';
import { loadTenantsFile } from '../../src/tenants/sources.ts';
import { tenant } from './helpers.ts';

const ids = (refs: ReadonlyArray<{ id: string }>) => refs.map((r) => r.id);
const fleet = (n: number, labels: (i: number) => Record<string, string> = () => ({})) =>
  Array.from({ length: n }, (_, i) => tenant(`t${String(i).padStart(3, '0')}`, labels(i)));
const plan = (tenants = fleet(10), pilot = '0', batch = '3', extra: Partial<Parameters<typeof planRollout>[1]> = {}) =>
  planRollout(tenants, { pilot: parsePilot(pilot), batchSize: parseBatchSize(batch), ...extra });

describe('parsePilot', () => {
  it.each([
    ['', { kind: 'none' }],
    ['0', { kind: 'none' }],
    ['2', { kind: 'count', count: 2 }],
    ['alpha,beta', { kind: 'ids', ids: ['alpha', 'beta'] }],
    ['alpha\nbeta gamma', { kind: 'ids', ids: ['alpha', 'beta', 'gamma'] }],
    ['ring=pilot', { kind: 'selector' }],
    ['ring in (pilot,canary),!legacy', { kind: 'selector' }],
  ])('%j', (v, want) => expect(parsePilot(v)).toMatchObject(want));
});

describe('parseBatchSize and waveSize', () => {
  it.each([
    ['10', 40, 10],
    ['25%', 40, 10],
    ['25%', 10, 3],
    ['7%', 100, 7], // no floating-point surprise (0.07 * 100 = 7.000000000000001)
    ['12.5%', 8, 1],
    ['12.5%', 9, 2],
    ['0.5%', 10, 1],
    ['100%', 37, 37],
    ['1%', 1, 1],
  ])('%s of %d tenants -> waves of %d', (v, total, size) => expect(waveSize(parseBatchSize(v).entries[0]!, total)).toBe(size));

  it('reads a schedule', () => {
    expect(parseBatchSize(' 1, 5% ,25%,100%').entries).toEqual([
      { kind: 'count', count: 1 },
      { kind: 'percent', basisPoints: 500 },
      { kind: 'percent', basisPoints: 2500 },
      { kind: 'percent', basisPoints: 10000 },
    ]);
  });
});

describe('planRollout', () => {
  it('fixed size: waves of 3', () => {
    const p = plan();
    expect(p.pilot).toEqual([]);
    expect(p.waves.map((w) => w.length)).toEqual([3, 3, 3, 1]);
    expect(ids(p.waves.flat())).toEqual(ids(fleet(10)));
  });

  it('percentage: of the tenants after the pilot, rounded up', () => {
    const p = plan(fleet(12), '2', '25%');
    expect(p.pilot.length).toBe(2);
    expect(p.waves.map((w) => w.length)).toEqual([3, 3, 3, 1]);
  });

  it('growing schedule: 1, 5%, 25%, then 100% of the rest', () => {
    const p = plan(fleet(42), '2', '1,5%,25%,100%');
    expect(p.waves.map((w) => w.length)).toEqual([1, 2, 10, 27]);
  });

  it('the last schedule entry repeats', () => {
    expect(plan(fleet(20), '0', '1,2,5').waves.map((w) => w.length)).toEqual([1, 2, 5, 5, 5, 2]);
  });

  it('pilot count takes the first tenants in order: ring pilot, then canary, then the rest, by id', () => {
    const ts = [
      tenant('zeta', { ring: 'pilot' }),
      tenant('alpha'),
      tenant('beta', { ring: 'canary' }),
      tenant('gamma', { ring: 'general' }),
      tenant('delta', { ring: 'pilot' }),
    ];
    const p = plan(ts, '3', '10');
    expect(ids(p.pilot)).toEqual(['delta', 'zeta', 'beta']);
    expect(ids(p.waves[0]!)).toEqual(['alpha', 'gamma']);
    expect(p.summary.order).toBe('ring: pilot, canary, then the rest; by id within each');
  });

  it('order null: by id only', () => {
    const ts = [tenant('b', { ring: 'pilot' }), tenant('a')];
    expect(ids(plan(ts, '1', '1', { order: null }).pilot)).toEqual(['a']);
    expect(ids(orderTenants(ts, { label: 'tier', first: [] }))).toEqual(['a', 'b']);
  });

  it('pilot by ids and by selector', () => {
    const ts = fleet(6, (i) => (i % 3 === 0 ? { ring: 'pilot' } : ({} as Record<string, string>)));
    expect(ids(plan(ts, 't004,t001', '10').pilot)).toEqual(['t001', 't004']);
    const bySel = plan(ts, 'ring=pilot', '2');
    expect(ids(bySel.pilot)).toEqual(['t000', 't003']);
    expect(ids(bySel.waves.flat())).toEqual(['t001', 't002', 't004', 't005']);
  });

  it('a pilot of every tenant leaves no waves; an empty fleet makes an empty plan', () => {
    expect(plan(fleet(3), '3', '1').waves).toEqual([]);
    expect(plan([], '0', '1')).toMatchObject({ pilot: [], waves: [], summary: { tenants: 0 } });
  });

  it('is deterministic whatever the input order, and createdAt is not part of the fingerprint', () => {
    const ts = fleet(30, (i) => ({ ring: ['pilot', 'canary', 'general'][i % 3]! }));
    const a = plan(ts, '2', '1,25%', { createdAt: '2026-01-01T00:00:00Z' });
    const b = plan([...ts].reverse(), '2', '1,25%', { createdAt: '2026-02-02T00:00:00Z' });
    expect(b.fingerprint).toBe(a.fingerprint);
    expect({ ...b, createdAt: undefined }).toEqual({ ...a, createdAt: undefined });
    expect(a.fingerprint).toMatch(/^[0-9a-f]{64}$/);
    expect(plan(ts, '2', '1,25%', { source: 'other' }).fingerprint).not.toBe(a.fingerprint);
  });

  it('plans the example tenants file for the quick start', async () => {
    const ts = await loadTenantsFile('examples/tenants.yaml');
    const p = plan(ts, 'ring=pilot', '1,50%', { source: 'tenants file examples/tenants.yaml' });
    expect(ids(p.pilot)).toEqual(['alpha-isp-1', 'fast-fiber']);
    expect(ids(p.waves[0]!)).toEqual(['beta-isp-1']); // canaries first
    expect(p.waves.flat().length + p.pilot.length).toBe(ts.length);
    expect(p.pilot.find((r) => r.id === 'alpha-isp-1')).toEqual({ id: 'alpha-isp-1', namespace: 'tenant-alpha', release: 'alpha' });
  });
});

describe('serializePlan / parsePlan', () => {
  const p = plan(
    fleet(12, (i) => ({ ring: i < 2 ? 'pilot' : 'general' })),
    'ring=pilot',
    '4',
    { createdAt: '2026-11-01T10:00:00Z', source: 'list', include: 't0*' },
  );

  it('round-trips', () => {
    expect(parsePlan(serializePlan(p))).toEqual(p);
    expect(parsePlan(serializePlan(p, { pretty: true }))).toEqual(p);
    expect(JSON.parse(serializePlan(p))).toEqual(JSON.parse(JSON.stringify(p)));
  });

  const tamper = (f: (o: Plan & Record<string, unknown>) => void) => {
    const o = JSON.parse(serializePlan(p)) as Plan & Record<string, unknown>;
    f(o);
    return JSON.stringify(o);
  };

  it.each([
    ['a tenant moved between waves', (o: Plan) => o.waves[0]!.push(o.waves[1]!.pop()!), /does not match its fingerprint/],
    ['a tenant removed, count adjusted', (o: Plan) => (o.waves[2]!.pop(), (o.summary.tenants -= 1)), /does not match its fingerprint/],
    ['a release renamed', (o: Plan) => (o.pilot[0]!.release = 'other'), /does not match its fingerprint/],
    ['the batch size rewritten', (o: Plan) => (o.summary.batchSize = '100%'), /does not match its fingerprint/],
    ['a tenant added twice', (o: Plan) => o.waves[0]!.push(o.pilot[0]!), /lists tenant "t000" twice/],
    ['an unsafe namespace', (o: Plan) => (o.pilot[0]!.namespace = 'x; rm -rf /'), /pilot\[0\] has an invalid namespace/],
    ['an extra key', (o: Record<string, unknown>) => (o.run = 'me'), /the plan has an unexpected key "run"/],
    ['another version', (o: Record<string, unknown>) => (o.version = 2), /has version 2, expected 1/],
    ['a count that does not add up', (o: Plan) => (o.summary.tenants = 99), /summary counts 99 tenants but the plan lists 12/],
  ])('rejects %s', (_name, f, re) => {
    expect(() => parsePlan(tamper(f as (o: Plan & Record<string, unknown>) => void))).toThrow(re);
  });

  it('a changed createdAt is not tampering', () => {
    expect(parsePlan(tamper((o) => (o.createdAt = '2030-01-01T00:00:00Z'))).fingerprint).toBe(p.fingerprint);
  });

  it('rejects what is not JSON, naming the input', () => {
    expect(() => parsePlan('{', 'approved-plan')).toThrow(/^input "approved-plan": is not JSON/);
    expect(() => parsePlan('[]')).toThrow(/^input "plan": is not a plan object/);
  });
});

describe('reconcilePlan', () => {
  const ts = fleet(10);
  const approved = plan(ts, '2', '3');

  it('changes nothing when the fleet is the same', () => {
    const r = reconcilePlan(approved, [...ts].reverse());
    expect(r.plan).toEqual(approved);
    expect(r.approvedFingerprint).toBe(approved.fingerprint);
    expect([r.appeared, r.vanished, r.changed]).toEqual([[], [], []]);
    expect(r.pilot).toEqual(ts.slice(0, 2));
  });

  it('reports tenants that appeared without adding them, and drops those that vanished or moved', () => {
    const moved = { ...ts[5]!, namespace: 'elsewhere' };
    const now = [...ts.filter((t) => !['t000', 't003', 't005'].includes(t.id)), moved, tenant('new-b'), tenant('new-a')];
    const r = reconcilePlan(approved, now);
    expect(ids(r.appeared)).toEqual(['new-a', 'new-b']);
    expect(r.vanished).toEqual([
      { id: 't000', namespace: 'tenant-t000', release: 't000' },
      { id: 't003', namespace: 'tenant-t003', release: 't003' },
    ]);
    expect(r.changed).toEqual([{ approved: { id: 't005', namespace: 'tenant-t005', release: 't005' }, current: moved }]);
    expect(ids(r.plan.pilot)).toEqual(['t001']);
    expect(r.plan.waves.map(ids)).toEqual([
      ['t002', 't004'],
      ['t006', 't007'],
      ['t008', 't009'],
    ]);
    expect(ids(r.waves.flat())).toEqual(ids(r.plan.waves.flat()));
    expect(r.plan.summary.tenants).toBe(7);
    expect(r.plan.fingerprint).not.toBe(approved.fingerprint);
    expect(parsePlan(serializePlan(r.plan))).toEqual(r.plan);
  });

  it('keeps wave numbers when a whole wave vanished', () => {
    const r = reconcilePlan(
      approved,
      ts.filter((t) => !['t002', 't003', 't004'].includes(t.id)),
    );
    expect(r.plan.waves.map((w) => w.length)).toEqual([0, 3, 2]);
    expect(stepsForPhase(r, 'waves').map((s) => s.name)).toEqual(['wave 2/3', 'wave 3/3']);
  });

  it('hands back current tenant data (values) for the approved tenants', () => {
    const withValues = ts.map((t) => ({ ...t, values: { v: t.id } }));
    expect(reconcilePlan(approved, withValues).waves[0]![0]!.values).toEqual({ v: 't002' });
  });
});

describe('phases', () => {
  const p = plan(fleet(7), '2', '2');
  it.each([
    ['plan', []],
    ['pilot', ['pilot']],
    ['waves', ['wave 1/3', 'wave 2/3', 'wave 3/3']],
    ['all', ['pilot', 'wave 1/3', 'wave 2/3', 'wave 3/3']],
  ] as const)('%s runs %j', (phase, names) => {
    expect(stepsForPhase(p, phase).map((s) => s.name)).toEqual(names);
  });
  it('flattens in run order', () => {
    expect(ids(tenantsForPhase(p, 'all'))).toEqual(ids(fleet(7)));
    expect(ids(tenantsForPhase(p, 'waves'))).toEqual(ids(fleet(7).slice(2)));
  });
  it('no pilot: the pilot phase runs nothing', () => {
    expect(stepsForPhase(plan(fleet(3), '0', '1'), 'pilot')).toEqual([]);
  });
  it('parses phase names', () => {
    expect(parsePhase('waves')).toBe('waves');
    expect(parsePhase('')).toBe('all');
    expect(() => parsePhase('pilots')).toThrow(/^input "phase": is not a phase, got "pilots" \(use one of plan, pilot, waves, all\)/);
  });
});

describe('renderPlanTable', () => {
  it('renders a small plan in full', () => {
    const p = plan(fleet(5), '1', '2', { source: 'tenants file t.yaml' });
    expect(renderPlanTable(p)).toBe(
      [
        `**Rollout plan** \`${p.fingerprint.slice(0, 12)}\`: 5 tenants, pilot 1, 2 waves`,
        '',
        'source: tenants file t.yaml · pilot: `1` · batch size: `2` · order: ring: pilot, canary, then the rest; by id within each',
        '',
        '| wave | tenants | ids |',
        '|---|---:|---|',
        '| pilot | 1 | `t000` |',
        '| 1 | 2 | `t001`, `t002` |',
        '| 2 | 2 | `t003`, `t004` |',
        '',
      ].join('\n'),
    );
  });

  it('as plain text for a log: the same facts, aligned, no Markdown; bounded the same way', () => {
    const p = plan(fleet(5), '1', '2', { source: 'tenants file t.yaml' });
    expect(renderPlanText(p)).toBe(
      [
        '5 tenants, pilot 1, 2 waves',
        'source: tenants file t.yaml · pilot: 1 · batch size: 2 · order: ring: pilot, canary, then the rest; by id within each',
        '  wave   tenants  ids',
        '  pilot        1  t000',
        '  1            2  t001, t002',
        '  2            2  t003, t004',
      ].join('\n'),
    );
    const big = renderPlanText(plan(fleet(1000), '0', '10'), { maxIds: 3, maxRows: 5 });
    expect(big).toContain('  1           10  t000, t001, t002, … +7 more');
    expect(big).toContain('  6-100      950  … 95 more waves');
    expect(big).not.toMatch(/[|`*]/);
  });

  it('truncates ids and rows for a large fleet', () => {
    const p = plan(fleet(1000), '0', '10');
    const md = renderPlanTable(p, { maxIds: 3, maxRows: 5 });
    expect(md).toContain('| 1 | 10 | `t000`, `t001`, `t002`, … +7 more |');
    expect(md).toContain('| 6–100 | 950 | … 95 more waves |');
    expect(md.split('\n').filter((l) => l.startsWith('| ')).length).toBe(1 + 5 + 1);
  });
});

describe('scale', () => {
  it('plans 10,000 tenants correctly (linear-ish; the benchmark measures time)', () => {
    const ts = fleet(10_000, (i) => ({ ring: i % 97 === 0 ? 'pilot' : i % 13 === 0 ? 'canary' : 'general' }));
    const p = plan(ts, 'ring=pilot', '1,5%,25%,100%');
    expect(p.pilot.length).toBe(104);
    expect(p.waves.map((w) => w.length)).toEqual([1, 495, 2474, 6926]);
    expect(new Set([...p.pilot, ...p.waves.flat()].map((r) => r.id)).size).toBe(10_000);
    expect(DEFAULT_ORDER.first).toEqual(['pilot', 'canary']);
  });
});
