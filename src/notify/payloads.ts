import { createHmac } from 'node:crypto';
import { humanDuration } from '../core/duration.ts';
import type { NotifyEventKind, NotifyFormat } from './targets.ts';

/**
 * One notification, in the rollout's words, and its three wire shapes:
 *
 * - slack: an incoming-webhook message (`text` for the notification preview, Block Kit blocks).
 * - teams: a Teams Workflows ("Post to a channel when a webhook request is received") body: a
 *   `message` with one Adaptive Card 1.4 attachment.
 * - json: the notice itself, signed. Headers:
 *     X-Deploy-Actions-Event: <event>
 *     X-Deploy-Actions-Timestamp: <unix seconds>
 *     X-Deploy-Actions-Signature: sha256=<hex HMAC-SHA256(key, "<timestamp>.<body>")>
 *   The receiver recomputes the HMAC over the timestamp, a dot and the raw body, compares in
 *   constant time, and refuses a timestamp older than a few minutes (replays).
 */

export interface Notice {
  event: NotifyEventKind;
  /** One line: what happened. */
  title: string;
  /** A few sentences of detail (plain text). */
  text: string;
  fleet?: string;
  version?: string;
  phase?: string;
  /** Set on a dry run: nothing was changed, whatever the counts say. */
  dryRun?: boolean;
  /** succeeded, failed, halted, held, paused, cancelled (the rollout's outcome), when known. */
  outcome?: string;
  counts?: Record<string, number>;
  durationMs?: number;
  /** Failed tenants and why (the first 20; `failedCount` has all). */
  failed?: { id: string; status: string; reason: string }[];
  failedCount?: number;
  links: { label: string; url: string }[];
}

export interface WireMessage {
  body: string;
  headers: Record<string, string>;
}

const MAX_LISTED = 20;

function facts(n: Notice): [string, string][] {
  const f: [string, string][] = [];
  if (n.fleet) f.push(['Fleet', n.fleet]);
  if (n.version) f.push(['Version', n.version]);
  if (n.phase) f.push(['Phase', n.phase]);
  if (n.dryRun) f.push(['Dry run', 'nothing was changed']);
  if (n.outcome) f.push(['Outcome', n.outcome]);
  if (n.counts) {
    const c = Object.entries(n.counts).filter(([, v]) => v);
    if (c.length) f.push(['Tenants', c.map(([k, v]) => `${v} ${k}`).join(', ')]);
  }
  if (n.durationMs !== undefined) f.push(['Duration', humanDuration(n.durationMs)]);
  return f;
}

function failedLines(n: Notice): string[] {
  const list = (n.failed ?? []).slice(0, MAX_LISTED).map((t) => `${t.id} (${t.status}): ${t.reason}`);
  const more = (n.failedCount ?? list.length) - list.length;
  if (more > 0) list.push(`… and ${more} more (see the report)`);
  return list;
}

// Slack mrkdwn: only &, < and > need escaping.
const slackEscape = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

export function slackMessage(n: Notice): unknown {
  const blocks: unknown[] = [
    { type: 'header', text: { type: 'plain_text', text: n.title.slice(0, 150), emoji: true } },
    { type: 'section', text: { type: 'mrkdwn', text: slackEscape(n.text).slice(0, 3000) } },
  ];
  const f = facts(n);
  if (f.length)
    blocks.push({ type: 'section', fields: f.slice(0, 10).map(([k, v]) => ({ type: 'mrkdwn', text: `*${k}*\n${slackEscape(v)}` })) });
  const failed = failedLines(n);
  if (failed.length)
    blocks.push({
      type: 'section',
      text: { type: 'mrkdwn', text: `*Failed tenants*\n${failed.map((l) => `• ${slackEscape(l)}`).join('\n')}`.slice(0, 3000) },
    });
  if (n.links.length)
    blocks.push({
      type: 'actions',
      elements: n.links.slice(0, 5).map((l) => ({ type: 'button', text: { type: 'plain_text', text: l.label }, url: l.url })),
    });
  return { text: `${n.title}: ${n.text}`.slice(0, 3000), blocks };
}

export function teamsMessage(n: Notice): unknown {
  const body: unknown[] = [
    { type: 'TextBlock', text: n.title, weight: 'Bolder', size: 'Medium', wrap: true },
    { type: 'TextBlock', text: n.text, wrap: true },
  ];
  const f = facts(n);
  if (f.length) body.push({ type: 'FactSet', facts: f.map(([title, value]) => ({ title, value })) });
  const failed = failedLines(n);
  if (failed.length) {
    body.push({ type: 'TextBlock', text: 'Failed tenants', weight: 'Bolder', wrap: true });
    body.push({ type: 'TextBlock', text: failed.map((l) => `- ${l}`).join('\n'), wrap: true });
  }
  return {
    type: 'message',
    attachments: [
      {
        contentType: 'application/vnd.microsoft.card.adaptive',
        contentUrl: null,
        content: {
          $schema: 'http://adaptivecards.io/schemas/adaptive-card.json',
          type: 'AdaptiveCard',
          version: '1.4',
          body,
          actions: n.links.map((l) => ({ type: 'Action.OpenUrl', title: l.label, url: l.url })),
        },
      },
    ],
  };
}

export const SIGNATURE_HEADER = 'x-deploy-actions-signature';
export const TIMESTAMP_HEADER = 'x-deploy-actions-timestamp';
export const EVENT_HEADER = 'x-deploy-actions-event';

export function sign(key: string, timestamp: number, body: string): string {
  return `sha256=${createHmac('sha256', key).update(`${timestamp}.${body}`).digest('hex')}`;
}

export function wireMessage(format: NotifyFormat, n: Notice, o: { signingKey?: string; nowMs: number }): WireMessage {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (format === 'slack') return { body: JSON.stringify(slackMessage(n)), headers };
  if (format === 'teams') return { body: JSON.stringify(teamsMessage(n)), headers };
  const timestamp = Math.floor(o.nowMs / 1000);
  // `version` is the release's; the payload's own format is `schemaVersion`.
  const body = JSON.stringify({ schemaVersion: 1, sentAt: new Date(o.nowMs).toISOString(), ...n });
  headers[EVENT_HEADER] = n.event;
  headers[TIMESTAMP_HEADER] = String(timestamp);
  if (o.signingKey) headers[SIGNATURE_HEADER] = sign(o.signingKey, timestamp, body);
  return { body, headers };
}
