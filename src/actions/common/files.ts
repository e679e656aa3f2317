import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { ConfigurationError } from '../../core/errors.ts';
import type { ActionContext } from './context.ts';

/**
 * A value that is either inline text or the path of a file in the workspace. A single line
 * naming an existing file is read; anything else is the text itself.
 */
export function textOrFile(value: string, exts: RegExp): { text: string; file?: string } {
  const v = value.trim();
  if (v && !v.includes('\n') && exts.test(v)) {
    const p = resolve(v);
    if (!existsSync(p))
      throw new ConfigurationError(`file "${v}"`, 'does not exist', 'give the path relative to the workspace, or the content inline');
    return { text: readFileSync(p, 'utf8'), file: v };
  }
  return { text: value };
}

/** A tenant-rollout report given inline (JSON) or as a file path. */
export function reportText(value: string): { text: string; file?: string } {
  const v = value.trim();
  return v.startsWith('{') || v.startsWith('[') ? { text: value } : textOrFile(value, /./);
}

/** Writes a JSON report (already redacted) where asked, or into the runner's temp directory. */
export function writeReport(ctx: ActionContext, file: string, fallbackName: string, json: string): string {
  const path = file ? resolve(file) : join(ctx.tempDir, fallbackName);
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, `${json}\n`);
  return path;
}
