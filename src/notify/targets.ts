import { closest } from '../core/closest.ts';
import { inputError } from '../core/errors.ts';

/**
 * Where notifications go: one webhook per line of the `notify` input, `<format> <url>`:
 *
 *   slack https://hooks.slack.com/services/...
 *   teams https://prod-00.westeurope.logic.azure.com/workflows/...   (a Teams Workflows webhook)
 *   json  https://hooks.example.com/deploys                          (signed, see payloads.ts)
 *
 * Webhook URLs are credentials (whoever has one can post): the caller masks each one, and the
 * code names a target by its format and position ("slack #1"), never by its URL.
 */

export type NotifyFormat = 'slack' | 'teams' | 'json';
export const NOTIFY_FORMATS: readonly NotifyFormat[] = ['slack', 'teams', 'json'];

export type NotifyEventKind = 'plan-ready' | 'approval-needed' | 'pilot-done' | 'wave-done' | 'halted' | 'rolled-back' | 'finished';
export const NOTIFY_EVENTS: readonly NotifyEventKind[] = [
  'plan-ready',
  'approval-needed',
  'pilot-done',
  'wave-done',
  'halted',
  'rolled-back',
  'finished',
];
/** wave-done is opt-in: a fleet of 40 waves would post 40 messages. */
export const DEFAULT_NOTIFY_EVENTS: readonly NotifyEventKind[] = NOTIFY_EVENTS.filter((e) => e !== 'wave-done');

export interface NotifyTarget {
  format: NotifyFormat;
  url: string;
  /** How logs name it: never the URL. */
  label: string;
}

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]']);

export function parseNotifyTargets(input: string, lines: readonly string[], mask: (v: string) => void): NotifyTarget[] {
  const count = new Map<string, number>();
  return lines.map((line, i) => {
    const m = /^(\S+)\s+(\S+)$/.exec(line.trim());
    // The value may hold a URL: only the position is shown.
    const where = `line ${i + 1}`;
    if (!m)
      throw inputError(
        input,
        where,
        'is not "<format> <webhook URL>"',
        `e.g. "slack \${{ secrets.SLACK_WEBHOOK_URL }}"; formats: ${NOTIFY_FORMATS.join(', ')}`,
      );
    const [, fmt, url] = m as unknown as [string, string, string];
    mask(url);
    const format = fmt.toLowerCase();
    if (!(NOTIFY_FORMATS as readonly string[]).includes(format)) {
      const near = closest(format, NOTIFY_FORMATS);
      throw inputError(
        input,
        `${where}: ${fmt}`,
        'names an unknown format',
        `${near ? `did you mean "${near}"? ` : ''}use one of: ${NOTIFY_FORMATS.join(', ')}`,
      );
    }
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw inputError(input, where, 'has no valid webhook URL after the format', 'give the full https:// URL (from a secret)');
    }
    // A webhook URL is a credential: plain http only to this machine (tests, a local relay).
    if (parsed.protocol !== 'https:' && !(parsed.protocol === 'http:' && LOOPBACK.has(parsed.hostname)))
      throw inputError(input, where, 'is not an https:// URL', 'webhook URLs are credentials: use https');
    const n = (count.get(format) ?? 0) + 1;
    count.set(format, n);
    return { format: format as NotifyFormat, url, label: `${format} #${n}` };
  });
}

export function parseNotifyEvents(input: string, values: readonly string[]): NotifyEventKind[] {
  if (!values.length) return [...DEFAULT_NOTIFY_EVENTS];
  const out = new Set<NotifyEventKind>();
  for (const v of values) {
    if (v === 'all') {
      for (const e of NOTIFY_EVENTS) out.add(e);
      continue;
    }
    if (v === 'default') {
      for (const e of DEFAULT_NOTIFY_EVENTS) out.add(e);
      continue;
    }
    if (!(NOTIFY_EVENTS as readonly string[]).includes(v)) {
      const near = closest(v, [...NOTIFY_EVENTS, 'all', 'default']);
      throw inputError(
        input,
        v,
        'is not a notification event',
        `${near ? `did you mean "${near}"? ` : ''}use: ${NOTIFY_EVENTS.join(', ')}, default or all`,
      );
    }
    out.add(v as NotifyEventKind);
  }
  return [...out];
}
