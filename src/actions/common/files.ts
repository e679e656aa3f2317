import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { ConfigurationError } from '../../core/errors.ts';

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
