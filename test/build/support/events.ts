import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../../support/tools.ts';

export const eventsDir = join(repoRoot, 'test/fixtures/events');

/** The runner env recorded for one event (`<name>.env`), with GITHUB_EVENT_PATH at its payload. */
export function eventEnv(name: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const line of readFileSync(join(eventsDir, `${name}.env`), 'utf8').split('\n')) {
    const eq = line.indexOf('=');
    if (eq > 0) env[line.slice(0, eq)] = line.slice(eq + 1);
  }
  env.GITHUB_EVENT_PATH = join(eventsDir, `${name}.json`);
  return env;
}
