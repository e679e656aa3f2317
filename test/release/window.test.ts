import { describe, expect, it } from 'vitest';
import { ConfigurationError } from '../../src/core/errors.ts';
import { enforceWindow, parseWindow, windowAt } from '../../src/release/window.ts';
import { FakeClock } from '../support/fake-clock.ts';
import { RecordingLogger } from '../support/logger.ts';

const at = (iso: string) => Date.parse(iso);
// 2026-12-05 is a Saturday.
describe('maintenance windows', () => {
  const table: [string, string, string, boolean, string | undefined][] = [
    // name, window, now, inside, next start (when outside)
    ['weekly: inside', 'Sat 02:00-06:00 UTC', '2026-12-05T03:00:00Z', true, undefined],
    ['weekly: start is inside', 'Sat 02:00-06:00 UTC', '2026-12-05T02:00:00Z', true, undefined],
    ['weekly: end is outside', 'Sat 02:00-06:00 UTC', '2026-12-05T06:00:00Z', false, '2026-12-12T02:00:00.000Z'],
    ['weekly: earlier the same day', 'Sat 02:00-06:00 UTC', '2026-12-05T01:59:00Z', false, '2026-12-05T02:00:00.000Z'],
    ['weekly: mid-week', 'Sat 02:00-06:00 UTC', '2026-12-09T12:00:00Z', false, '2026-12-12T02:00:00.000Z'],
    ['weekly: several days', 'Sat,Sun 02:00-06:00 UTC', '2026-12-05T07:00:00Z', false, '2026-12-06T02:00:00.000Z'],
    ['weekly: across midnight, after it', 'Fri 22:00-02:00 UTC', '2026-12-05T01:00:00Z', true, undefined],
    ['weekly: across midnight, before it', 'Fri 22:00-02:00 UTC', '2026-12-04T21:00:00Z', false, '2026-12-04T22:00:00.000Z'],
    ['interval: inside', '2026-12-06T02:00Z/2026-12-06T06:00Z', '2026-12-06T05:59:00Z', true, undefined],
    ['interval with a duration: inside', '2026-12-06T02:00Z/PT4H', '2026-12-06T05:00:00Z', true, undefined],
    ['interval with an offset', '2026-12-06T03:00+01:00/PT1H', '2026-12-06T02:30:00Z', true, undefined],
    ['interval: ahead', '2026-12-06T02:00Z/PT4H', '2026-12-05T02:00:00Z', false, '2026-12-06T02:00:00.000Z'],
    ['interval: in the past', '2026-12-06T02:00Z/PT4H', '2026-12-07T02:00:00Z', false, undefined],
  ];
  it.each(table)('%s', (_n, text, now, inside, next) => {
    const s = windowAt(parseWindow(text), at(now));
    expect(s.inside).toBe(inside);
    if (!s.inside) expect(s.nextStart === undefined ? undefined : new Date(s.nextStart).toISOString()).toBe(next);
  });

  it.each([
    ['Sat 02:00-06:00', /is not a maintenance window/],
    ['Sat 02:00-06:00 CET', /zone "CET" is not supported/],
    ['Sab 02:00-06:00 UTC', /"Sab" is not a day/],
    ['Sat 2:00-06:00 UTC', /"2:00" is not a time of day/],
    ['Sat 02:00-25:00 UTC', /"25:00" is not a time of day/],
    ['2026-12-06 02:00-04:00 UTC, CHG-1234', /is not a maintenance window/],
    ['2026-12-06T02:00/PT4H', /not an ISO 8601 date and time with a zone/],
    ['2026-12-06T02:00Z/4h', /"4h" is not an ISO 8601 date/],
    ['2026-12-06T02:00Z/PT', /"PT" is not an ISO 8601 duration/],
    ['2026-12-06T06:00Z/2026-12-06T02:00Z', /ends before it starts/],
    ['', /is empty/],
  ])('malformed %j: names the input, the value and the fix', (text, re) => {
    let err: unknown;
    try {
      parseWindow(text, 'maintenance-window');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigurationError);
    const e = err as ConfigurationError;
    expect(e.subject).toBe('input "maintenance-window"');
    expect(e.message).toMatch(re);
    expect(e.message).toContain(`got "${text}"`);
    expect(e.hint).toMatch(/Sat 02:00-06:00 UTC/);
  });

  const policy = { outside: 'fail' as const, maxWaitMs: 3_600_000 };
  it('inside: the gated job goes on and says until when', async () => {
    const logger = new RecordingLogger();
    const clock = new FakeClock(at('2026-12-05T03:00:00Z'));
    await enforceWindow(parseWindow('Sat 02:00-06:00 UTC'), { ...policy, changeTicket: 'CHG-1234' }, { clock, logger });
    expect(logger.text()).toMatch(
      /inside the maintenance window Sat 02:00-06:00 UTC \(change ticket: CHG-1234\): it closes at 2026-12-05T06:00Z/,
    );
    expect(clock.sleeps).toEqual([]);
  });

  it('outside with fail (the default): stops with the next window time', async () => {
    const clock = new FakeClock(at('2026-12-09T12:00:00Z'));
    await expect(enforceWindow(parseWindow('Sat 02:00-06:00 UTC'), policy, { clock, logger: new RecordingLogger() })).rejects.toThrow(
      /it is 2026-12-09T12:00Z, outside the maintenance window Sat 02:00-06:00 UTC: the next one opens at 2026-12-12T02:00Z \(in 62h00m\).*outside-window: wait/,
    );
    expect(clock.sleeps).toEqual([]);
  });

  it('outside with wait: sleeps until it opens when that is within the maximum', async () => {
    const clock = new FakeClock(at('2026-12-05T01:30:00Z'));
    const logger = new RecordingLogger();
    await enforceWindow(parseWindow('Sat 02:00-06:00 UTC'), { outside: 'wait', maxWaitMs: 3_600_000 }, { clock, logger });
    expect(clock.sleeps).toEqual([30 * 60_000]);
    expect(logger.text()).toMatch(/waiting 30m00s until it opens at 2026-12-05T02:00Z/);
  });

  it('outside with wait, but further than the maximum: fails without waiting', async () => {
    const clock = new FakeClock(at('2026-12-04T02:00:00Z'));
    await expect(
      enforceWindow(
        parseWindow('Sat 02:00-06:00 UTC'),
        { outside: 'wait', maxWaitMs: 3_600_000 },
        { clock, logger: new RecordingLogger() },
      ),
    ).rejects.toThrow(/more than window-wait-max \(1h00m\)/);
    expect(clock.sleeps).toEqual([]);
  });

  it('an interval in the past says so', async () => {
    const clock = new FakeClock(at('2026-12-08T00:00:00Z'));
    await expect(enforceWindow(parseWindow('2026-12-06T02:00Z/PT4H'), policy, { clock, logger: new RecordingLogger() })).rejects.toThrow(
      /it is in the past.*still ahead/,
    );
  });
});
