import { describe, expect, it } from 'vitest';
import { ConfigurationError } from '../../src/core/errors.ts';
import {
  orderTenants,
  parseBatchSize,
  parsePilot,
  parsePlan,
  planRollout,
  serializePlan,
  stepsForPhase,
  type Plan,
  type WaveEntry,
} from '../../src/rollout/plan.ts';
import type { Tenant } from '../../src/tenants/model.ts';
import { int, pick, prng, shuffle, tenant } from './helpers.ts';

/**
 * Property-style tests: many random fleets and inputs from a seeded PRNG (a failure prints its
 * seed, and re-running with that seed reproduces it). Expected sizes are checked against the
 * definition (ceil of a percentage, in exact integer arithmetic), not against the implementation.
 */
const RUNS = 400;
const RINGS = ['pilot', 'canary', 'general', undefined] as const;

interface Case {
  seed: number;
  tenants: Tenant[];
  pilot: string;
  batch: string;
}

function randomCase(seed: number): Case {
  const rand = prng(seed);
  const n = int(rand, 0, rand() < 0.1 ? 2_000 : 120);
  const ids = new Set<string>();
  while (ids.size < n) ids.add(`${pick(rand, ['eu', 'us', 'ap', 'isp'])}-${int(rand, 0, 99_999).toString(36)}`);
  const tenants = [...ids].map((id) => {
    const ring = pick(rand, RINGS);
    return tenant(id, ring ? { ring, region: pick(rand, ['eu', 'us']) } : { region: 'eu' });
  });
  const pilotKind = pick(rand, ['none', 'count', 'ids', 'selector'] as const);
  let pilot = '0';
  if (pilotKind === 'count') pilot = String(int(rand, 0, n));
  if (pilotKind === 'ids' && n > 0)
    pilot = shuffle(rand, [...ids])
      .slice(0, int(rand, 1, Math.min(n, 8)))
      .join(',');
  if (pilotKind === 'selector') pilot = pick(rand, ['ring=pilot', 'ring in (pilot,canary)', 'region=us,ring!=general', '!ring']);
  const entries = Array.from({ length: int(rand, 1, 4) }, () =>
    rand() < 0.5 ? String(int(rand, 1, 25)) : `${int(rand, 0, 100)}${rand() < 0.3 ? `.${int(rand, 1, 99)}` : ''}%`,
  ).map((e) => (e === '0%' || e === '100.50%' ? '1%' : e.startsWith('100.') ? '100%' : e));
  return { seed, tenants, pilot, batch: entries.join(',') };
}

/** The size an entry asks for: a count, or ceil(percent of total) in exact BigInt arithmetic. */
function nominal(e: WaveEntry, total: number): number {
  if (e.kind === 'count') return e.count;
  return Number((BigInt(e.basisPoints) * BigInt(total) + 9_999n) / 10_000n);
}

function make(c: Case, tenants = c.tenants): Plan | ConfigurationError {
  try {
    return planRollout(tenants, { pilot: parsePilot(c.pilot), batchSize: parseBatchSize(c.batch), source: `seed ${c.seed}` });
  } catch (err) {
    if (err instanceof ConfigurationError) return err;
    throw err;
  }
}

describe('planning properties', () => {
  const cases = Array.from({ length: RUNS }, (_, i) => randomCase(0x5eed + i));

  it('covers enough ground (the generator is not degenerate)', () => {
    const plans = cases.map((c) => make(c)).filter((p): p is Plan => !(p instanceof ConfigurationError));
    expect(plans.length).toBeGreaterThan(RUNS * 0.7);
    expect(plans.filter((p) => p.pilot.length > 0).length).toBeGreaterThan(RUNS * 0.3);
    expect(plans.filter((p) => p.waves.length >= 4).length).toBeGreaterThan(RUNS * 0.2);
    expect(plans.some((p) => p.summary.tenants >= 1_000)).toBe(true);
  });

  it.each(cases.map((c) => [c.seed, c] as const))(
    'seed %d: every tenant exactly once, pilot first, sizes as asked, deterministic, round trip',
    (_seed, c) => {
      const p = make(c);
      const spec = parsePilot(c.pilot);
      if (p instanceof ConfigurationError) {
        // The only ways a valid fleet and valid inputs fail: a pilot that cannot be satisfied.
        expect(p.message).toMatch(/^input "pilot": (matches no selected tenant|asks for \d+ pilot tenants but only \d+ are selected)/);
        if (spec.kind === 'count') expect(spec.count).toBeGreaterThan(c.tenants.length);
        else expect(spec.kind).toBe('selector');
        return;
      }
      const ordered = orderTenants(c.tenants);

      // Every tenant exactly once across pilot + waves.
      const placed = [...p.pilot, ...p.waves.flat()].map((r) => r.id);
      expect(placed.length).toBe(c.tenants.length);
      expect(new Set(placed)).toEqual(new Set(c.tenants.map((t) => t.id)));
      expect(p.summary.tenants).toBe(c.tenants.length);

      // Pilot first and exactly who was asked for; the rest keep the stable order.
      const pilotIds = new Set(p.pilot.map((r) => r.id));
      if (spec.kind === 'none') expect(p.pilot).toEqual([]);
      if (spec.kind === 'count') expect(p.pilot.map((r) => r.id)).toEqual(ordered.slice(0, spec.count).map((t) => t.id));
      if (spec.kind === 'ids') expect(pilotIds).toEqual(new Set(spec.ids));
      if (spec.kind === 'selector') {
        const want = c.tenants.filter((t) => {
          const r = t.labels.ring;
          return c.pilot === 'ring=pilot'
            ? r === 'pilot'
            : c.pilot === 'ring in (pilot,canary)'
              ? r === 'pilot' || r === 'canary'
              : c.pilot === '!ring'
                ? r === undefined
                : t.labels.region === 'us' && r !== 'general';
        });
        expect(pilotIds).toEqual(new Set(want.map((t) => t.id)));
      }
      expect(p.waves.flat().map((r) => r.id)).toEqual(ordered.filter((t) => !pilotIds.has(t.id)).map((t) => t.id));
      // ...and that order is ring pilot, canary, the rest; by id within each (checked independently).
      const rank = new Map(c.tenants.map((t) => [t.id, t.labels.ring === 'pilot' ? 0 : t.labels.ring === 'canary' ? 1 : 2]));
      const rest = p.waves.flat().map((r) => r.id);
      for (let i = 1; i < rest.length; i++) {
        const [a, b] = [rest[i - 1]!, rest[i]!];
        expect(rank.get(a)! < rank.get(b)! || (rank.get(a) === rank.get(b) && a < b), `${a} before ${b}`).toBe(true);
      }
      expect(stepsForPhase(p, 'all')[0]?.kind).toBe(p.pilot.length ? 'pilot' : p.waves.length ? 'wave' : undefined);

      // Wave sizes as asked: entry i (the last repeating), the final wave takes what is left.
      const entries = parseBatchSize(c.batch).entries;
      const total = c.tenants.length - p.pilot.length;
      p.waves.forEach((w, i) => {
        const e = entries[Math.min(i, entries.length - 1)]!;
        expect(w.length).toBeGreaterThan(0);
        if (i < p.waves.length - 1) expect(w.length, `wave ${i + 1} of ${c.batch} over ${total}`).toBe(nominal(e, total));
        else expect(w.length).toBeLessThanOrEqual(nominal(e, total));
      });
      if (total === 0) expect(p.waves).toEqual([]);

      // Deterministic: shuffled input, same plan, same fingerprint.
      const again = make(c, shuffle(prng(c.seed ^ 0xabcdef), c.tenants)) as Plan;
      expect(again.fingerprint).toBe(p.fingerprint);
      expect(serializePlan(again)).toBe(serializePlan(p));

      // Serialization round trip.
      expect(parsePlan(serializePlan(p))).toEqual(p);
    },
  );
});
