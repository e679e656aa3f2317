import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Inputs } from '../../src/actions/common/inputs.ts';
import { parseInputs } from '../../src/actions/tenant-rollout/inputs.ts';
import { longestFirst, previousDurations } from '../../src/rollout/order.ts';
import { runTenantRollout } from '../../src/rollout/run.ts';
import type { RunPorts } from '../../src/rollout/run.ts';
import { FakeClock } from '../support/fake-clock.ts';
import { FakeHelm } from '../support/fake-helm.ts';
import { RecordingLogger } from '../support/logger.ts';

describe('longestFirst', () => {
  it('longest first; a tenant with no duration counts as the median; equal durations keep the plan order', () => {
    const d = new Map([
      ['a', 10],
      ['b', 90],
      ['c', 50],
      ['e', 50],
    ]);
    const order = longestFirst(
      ['a', 'b', 'c', 'd', 'e'].map((id) => ({ id })),
      d,
    ).map((t) => t.id);
    // median of 10, 50, 50, 90 is 50: d sits with c and e, in plan order.
    expect(order).toEqual(['b', 'c', 'd', 'e', 'a']);
    expect(longestFirst([{ id: 'x' }, { id: 'y' }], new Map()).map((t) => t.id)).toEqual(['x', 'y']);
  });

  it('reads the durations of a report; anything else is a clear error naming the input', () => {
    const rep = { version: 1, tenants: [{ id: 'a', durationMs: 5 }, { id: 'b', durationMs: 0 }, { id: 'c' }] };
    expect([...previousDurations(JSON.stringify(rep))]).toEqual([['a', 5]]);
    expect(() => previousDurations('{not json')).toThrow(/input "previous-report": is not JSON/);
    expect(() => previousDurations('{"plan": 1}')).toThrow(/input "previous-report": is not a tenant-rollout report/);
  });
});

describe('tenant-rollout with previous-report', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'da-test-order-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const inputs = (over: Record<string, string>) => {
    const base: Record<string, string> = {
      chart: 'examples/charts/tenant-app',
      'tenants-file': 'examples/tenants.yaml',
      pilot: '1',
      'batch-size': '3',
      'max-parallel': '1',
      ...over,
    };
    return parseInputs(new Inputs((n) => base[n] ?? ''));
  };
  const run = async (over: Record<string, string>) => {
    const helm = new FakeHelm();
    const logger = new RecordingLogger();
    const p: RunPorts = {
      readFile: (f) => readFileSync(f, 'utf8'),
      exists: (f) => existsSync(f),
      listNamespaces: async () => [],
      writeValues: (name) => `/private/${name}`,
      helm,
      clock: new FakeClock(),
      logger,
    };
    const planned = await runTenantRollout(inputs({ phase: 'plan' }), p, { run: 'run=x' });
    for (const t of [...planned.plan.pilot, ...planned.plan.waves.flat()]) helm.onUpgrade(t.namespace, t.release, { kind: 'ok' });
    const out = await runTenantRollout(inputs(over), p, { run: 'run=x' });
    const upgraded = helm.calls.filter((c) => c.startsWith('upgrade ')).map((c) => c.split('/')[1]!);
    return { out, upgraded, logger };
  };

  it('each wave starts its longest tenants first; the plan and its fingerprint are unchanged', async () => {
    const plain = await run({});
    const waves = plain.out.plan.waves.map((w) => w.map((t) => t.release));
    expect(waves.length).toBeGreaterThan(1);
    // The last run: within each wave, the later in plan order, the longer it took.
    const tenants = [...plain.out.plan.pilot, ...plain.out.plan.waves.flat()].map((t, i) => ({ id: t.id, durationMs: 1000 * (i + 1) }));
    const file = join(dir, 'report.json');
    writeFileSync(file, JSON.stringify({ version: 1, tenants }));
    const ordered = await run({ 'previous-report': file });
    expect(ordered.out.planJson).toBe(plain.out.planJson);
    expect(ordered.out.plan.fingerprint).toBe(plain.out.plan.fingerprint);
    expect(ordered.out.report?.planFingerprint).toBe(plain.out.report?.planFingerprint);
    // Every wave's own tenants, reversed: the waves themselves (and their membership) stay.
    expect(ordered.upgraded).toEqual([...plain.out.plan.pilot.map((t) => t.release), ...waves.flatMap((w) => [...w].reverse())]);
    expect(plain.upgraded).toEqual([...plain.out.plan.pilot.map((t) => t.release), ...waves.flat()]);
    expect(ordered.logger.text()).toMatch(/each wave starts its longest tenants first \(\d+ durations from /);
  });

  it('a previous report that does not exist (a first run) warns and keeps the plan order', async () => {
    const r = await run({ 'previous-report': join(dir, 'none.json') });
    expect(r.out.report?.outcome).toBe('succeeded');
    expect(r.upgraded).toEqual([...r.out.plan.pilot, ...r.out.plan.waves.flat()].map((t) => t.release));
    expect(r.logger.text()).toMatch(/previous-report ".*none\.json" does not exist \(a first run\?\): each wave runs in plan order/);
  });
});
