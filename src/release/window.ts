import type { Clock } from '../core/clock.ts';
import { humanDuration } from '../core/duration.ts';
import { ConfigurationError, inputError } from '../core/errors.ts';
import type { Logger } from '../core/logger.ts';

/**
 * Maintenance windows with structure, checked against the clock when the gated job starts:
 *
 * - an ISO 8601 interval with an explicit zone: `2026-12-06T02:00Z/2026-12-06T06:00Z`, or a start
 *   and a duration: `2026-12-06T02:00Z/PT4H`;
 * - a weekly window in UTC: `Sat 02:00-06:00 UTC`, several days `Sat,Sun 02:00-06:00 UTC`; an end
 *   at or before the start crosses midnight (`Fri 22:00-02:00 UTC` ends Saturday 02:00).
 *
 * A change ticket is separate free text (input `change-ticket`), shown next to the window.
 * Hand-written: the ISO 8601 durations and weekly windows need a few lines, and the only library
 * for them (Temporal) is not in Node 24 without a flag.
 */

export type MaintenanceWindow =
  | { kind: 'interval'; text: string; startMs: number; endMs: number }
  | { kind: 'weekly'; text: string; days: number[]; startMin: number; endMin: number };

export type WindowState = { inside: true; endsAt: number } | { inside: false; nextStart?: number };

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const DAY_MS = 86_400_000;
const WEEK_MS = 7 * DAY_MS;
const HINT =
  'give an ISO 8601 interval with a zone (2026-12-06T02:00Z/2026-12-06T06:00Z or ' +
  '2026-12-06T02:00Z/PT4H) or a weekly window (Sat 02:00-06:00 UTC); put a change ticket in change-ticket';

const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:\d{2})$/;
const ISO_DURATION = /^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$/;

function isoTime(input: string, text: string, part: string): number {
  const ms = ISO_TIME.test(part) ? Date.parse(part) : NaN;
  if (Number.isNaN(ms)) throw inputError(input, text, `"${part}" is not an ISO 8601 date and time with a zone (Z or +02:00)`, HINT);
  return ms;
}

function isoDuration(input: string, text: string, part: string): number {
  const m = ISO_DURATION.exec(part);
  if (!m || part === 'P' || part.endsWith('T'))
    throw inputError(input, text, `"${part}" is not an ISO 8601 duration such as PT4H or PT1H30M`, HINT);
  const [d, h, min, s] = m.slice(1).map((x) => Number(x ?? 0)) as [number, number, number, number];
  return ((d * 24 + h) * 60 + min) * 60_000 + s * 1000;
}

function clockMinutes(input: string, text: string, hhmm: string): number {
  const m = /^(\d{2}):(\d{2})$/.exec(hhmm);
  const h = Number(m?.[1]);
  const min = Number(m?.[2]);
  if (!m || h > 24 || min > 59 || (h === 24 && min > 0)) throw inputError(input, text, `"${hhmm}" is not a time of day HH:MM`, HINT);
  return h * 60 + min;
}

/** Parses a window; a ConfigurationError names the input, the value and the accepted forms. */
export function parseWindow(text: string, input = 'maintenance-window'): MaintenanceWindow {
  const t = text.trim();
  if (!t) throw inputError(input, text, 'is empty', HINT);
  if (t.includes('/')) {
    const [a = '', b = '', ...rest] = t.split('/');
    if (rest.length) throw inputError(input, text, 'has more than one "/"', HINT);
    const startMs = isoTime(input, text, a);
    const endMs = b.startsWith('P') ? startMs + isoDuration(input, text, b) : isoTime(input, text, b);
    if (endMs <= startMs) throw inputError(input, text, 'ends before it starts', HINT);
    return { kind: 'interval', text: t, startMs, endMs };
  }
  const m = /^([A-Za-z]{3}(?:,[A-Za-z]{3})*)\s+(\S+)-(\S+)\s+(\S+)$/.exec(t);
  if (!m) throw inputError(input, text, 'is not a maintenance window', HINT);
  const [, dayList = '', from = '', to = '', zone = ''] = m;
  if (zone !== 'UTC')
    throw inputError(
      input,
      text,
      `zone "${zone}" is not supported (weekly windows are in UTC)`,
      'write the window in UTC, e.g. Sat 02:00-06:00 UTC',
    );
  const days = dayList.split(',').map((d) => {
    const i = DAYS.findIndex((x) => x.toLowerCase() === d.toLowerCase());
    if (i < 0) throw inputError(input, text, `"${d}" is not a day (${DAYS.join(', ')})`, HINT);
    return i;
  });
  const startMin = clockMinutes(input, text, from);
  const endMin = clockMinutes(input, text, to);
  return { kind: 'weekly', text: t, days: [...new Set(days)].sort(), startMin, endMin };
}

/** Whether `nowMs` is inside the window; when not, when the next one opens (none for an interval in the past). */
export function windowAt(w: MaintenanceWindow, nowMs: number): WindowState {
  if (w.kind === 'interval') {
    if (nowMs >= w.startMs && nowMs < w.endMs) return { inside: true, endsAt: w.endMs };
    return nowMs < w.startMs ? { inside: false, nextStart: w.startMs } : { inside: false };
  }
  const lengthMs = (((w.endMin - w.startMin + 1440 - 1) % 1440) + 1) * 60_000; // end <= start: crosses midnight
  // Occurrences starting from yesterday's (it may still be open) to a week ahead.
  const today = Math.floor(nowMs / DAY_MS) * DAY_MS;
  let next: number | undefined;
  for (let k = -1; k <= 7; k++) {
    const day = today + k * DAY_MS;
    if (!w.days.includes(new Date(day).getUTCDay())) continue;
    const start = day + w.startMin * 60_000;
    if (nowMs >= start && nowMs < start + lengthMs) return { inside: true, endsAt: start + lengthMs };
    if (start > nowMs && next === undefined) next = start;
  }
  return { inside: false, nextStart: next ?? nowMs + WEEK_MS };
}

export interface WindowPolicy {
  /** `fail` (default): stop with the next window's time; `wait`: sleep until it opens, at most `maxWaitMs`. */
  outside: 'fail' | 'wait';
  maxWaitMs: number;
  changeTicket?: string;
}

const iso = (ms: number) => new Date(ms).toISOString().replace(/:00\.000Z$/, 'Z');

/**
 * The check the gated job makes before it touches a tenant. Inside: logs until when. Outside:
 * fails with the next window's time, or (wait) sleeps until it opens when that is within the
 * maximum wait. Throws a ConfigurationError naming `input` otherwise.
 */
export async function enforceWindow(
  w: MaintenanceWindow,
  policy: WindowPolicy,
  ports: { clock: Clock; logger: Logger; signal?: AbortSignal },
  input = 'maintenance-window',
): Promise<void> {
  const ticket = policy.changeTicket ? ` (change ticket: ${policy.changeTicket})` : '';
  let now = ports.clock.now();
  let state = windowAt(w, now);
  if (!state.inside && policy.outside === 'wait' && state.nextStart !== undefined && state.nextStart - now <= policy.maxWaitMs) {
    ports.logger.info(
      `outside the maintenance window ${w.text}${ticket}: waiting ${humanDuration(state.nextStart - now)} until it opens at ${iso(state.nextStart)}`,
    );
    await ports.clock.sleep(state.nextStart - now, ports.signal);
    if (ports.signal?.aborted) throw new Error('cancelled while waiting for the maintenance window');
    now = ports.clock.now();
    state = windowAt(w, now);
  }
  if (state.inside) {
    ports.logger.info(
      `inside the maintenance window ${w.text}${ticket}: it closes at ${iso(state.endsAt)} (in ${humanDuration(state.endsAt - now)})`,
    );
    return;
  }
  const when =
    state.nextStart === undefined
      ? 'it is in the past'
      : `the next one opens at ${iso(state.nextStart)} (in ${humanDuration(state.nextStart - now)})`;
  const fix =
    state.nextStart === undefined
      ? `set ${input} to a window that is still ahead and run again`
      : policy.outside === 'wait'
        ? `that is more than window-wait-max (${humanDuration(policy.maxWaitMs)}): run again closer to it, or raise window-wait-max`
        : 'run again inside the window, or set outside-window: wait (with window-wait-max) to wait for it';
  throw new ConfigurationError(`input "${input}"`, `it is ${iso(now)}, outside the maintenance window ${w.text}${ticket}: ${when}`, fix);
}
