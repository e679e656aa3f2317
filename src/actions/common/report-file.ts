import { chmodSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

/**
 * Every action's one report writer: a report (already redacted), readable only by its owner
 * (0600). With no path given, into a fresh private directory under `tempDir` (never a fixed name
 * another run would overwrite or read); the path is returned to be printed and set as an output.
 */
export function writeReportFile(path: string, tempDir: string, content: string, prefix = 'tenant-rollout'): string {
  const file = path ? resolve(path) : join(mkdtempSync(join(tempDir, `${prefix}-report-`)), 'report.json');
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, content, { mode: 0o600 });
  chmodSync(file, 0o600); // an existing file keeps its mode on write
  return file;
}
