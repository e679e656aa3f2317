// Generates src/actions/metadata.json from the action.yml of every action the bundle runs, so the
// bundle knows each action's declared inputs (names, descriptions, defaults, required) without
// reading YAML at run time: the CLI checks flags against them and prints them in --help. build.mjs
// runs it first;
// test/actions/metadata.test.ts fails when the committed file is stale. JSON, not TypeScript: it is
// data (src/actions/metadata.ts types it), so long descriptions and the inputs the root action
// shares with helm-deploy are not source lines to wrap or deduplicate.
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { format, resolveConfig } from 'prettier';
import { bundledActionDirs } from './action-dirs.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
export const metadataFile = join(root, 'src/actions/metadata.json');

/** The action name the bundle's dispatcher uses for a folder (the root action.yml is `root`). */
const nameOf = (dir) => (dir === '.' ? 'root' : dir);

export async function renderMetadata() {
  // Only the actions the bundle runs: a composite action (cloud-login) has no code, no CLI command.
  const actions = {};
  for (const { dir, yml } of bundledActionDirs(root, { withRoot: true })) {
    const inputs = {};
    for (const [name, i] of Object.entries(yml.inputs ?? {})) {
      inputs[name] = { description: String(i.description ?? ''), required: i.required === true || i.required === 'true' };
      if (i.default !== undefined) inputs[name].default = String(i.default);
    }
    actions[nameOf(dir)] = { description: String(yml.description ?? ''), inputs };
  }
  const text = JSON.stringify(actions, null, 2);
  // Formatted like every other source file, so prettier --check passes on it.
  return format(text, { ...(await resolveConfig(metadataFile)), filepath: metadataFile });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  writeFileSync(metadataFile, await renderMetadata());
  console.log(`wrote ${metadataFile}`);
}
