import { humanDuration } from './duration.ts';

/** `250 ms`, `10s`, `4m05s`. */
export function formatMs(ms: number): string {
  return ms < 1000 ? `${Math.round(ms)} ms` : humanDuration(ms);
}

/** A value safe inside a Markdown table cell. */
export function cell(text: string, max = 200): string {
  const t = text.length > max ? `${text.slice(0, max - 3)}...` : text;
  return t.replace(/\\/g, '\\\\').replace(/\|/g, '\\|').replace(/\r?\n/g, ' ');
}

/** One Markdown table row of already-escaped cells. */
export function tableRow(cells: readonly (string | number)[]): string {
  return `| ${cells.join(' | ')} |`;
}
