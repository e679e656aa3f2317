/**
 * mergedEvents: a sharded run's merged report as the step events one job would have sent, which
 * the merge replays into its records and notices (observers.ts).
 */
import { describe, expect, it } from 'vitest';
import { mergedEvents } from '../../src/actions/tenant-rollout/observers.ts';
import type { RolloutReport } from '../../src/rollout/report.ts';
import { waveState } from '../../src/github/records.ts';

const ref = (id: string) => ({ id, namespace: `tenant-${id}`, release: id });
const steps = [
  { name: 'wave 1/3', tenants: [ref('a'), ref('b')] },
  { name: 'wave 2/3', tenants: [ref('c'), ref('d')] },
  { name: 'wave 3/3', tenants: [ref('e')] },
];
const result = (id: string, step: string, status: string) => ({ ...ref(id), step, status, durationMs: 1 });

describe('mergedEvents', () => {
  it('replays the waves that ran, each started then finished, the stop on the last; a wave never started is not replayed', () => {
    const rep = {
      stoppedBecause: 'failure budget spent',
      tenants: [
        result('a', 'wave 1/3', 'succeeded'),
        result('b', 'wave 1/3', 'succeeded'),
        result('c', 'wave 2/3', 'failed'),
        result('d', 'wave 2/3', 'skipped'),
        result('e', 'wave 3/3', 'skipped'),
      ],
    } as unknown as RolloutReport;
    const events = mergedEvents(steps, rep);
    expect(events.map((e) => `${e.type} ${'step' in e ? e.step : ''}`)).toEqual([
      'step-started wave 1/3',
      'step-finished wave 1/3',
      'step-started wave 2/3',
      'step-finished wave 2/3',
    ]);
    const [started, first, , second] = events;
    expect(started).toMatchObject({
      index: 0,
      steps: 3,
      plan: [
        { name: 'wave 1/3', tenants: 2 },
        { name: 'wave 2/3', tenants: 2 },
        { name: 'wave 3/3', tenants: 1 },
      ],
    });
    expect(started?.type === 'step-started' && started.tenants.map((t) => t.id)).toEqual(['a', 'b']);
    expect(first).not.toHaveProperty('stoppedBecause');
    expect(second).toMatchObject({ index: 1, stoppedBecause: 'failure budget spent' });
    // The wave records' states come from these results: the failed wave is a failure.
    expect(second?.type === 'step-finished' && waveState(second.results)).toBe('failure');
    expect(first?.type === 'step-finished' && waveState(first.results)).toBe('success');
  });
});
