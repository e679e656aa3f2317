// The action folders of this repository, each with its parsed action.yml: the one list the build,
// the metadata and the lint scripts read. `bundled` is false for a composite action (steps only,
// no code of ours): it has no dist/<action> stub, no entry in the bundle's table, no metadata in
// src/actions/metadata.json and no CLI command.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';

/** Every folder holding an action.yml, sorted; the root action (`.`) first when `withRoot`. */
export function actionDirs(root, { withRoot = false } = {}) {
  const dirs = readdirSync(root, { withFileTypes: true })
    .filter((d) => d.isDirectory() && !d.name.startsWith('.') && d.name !== 'node_modules' && existsSync(join(root, d.name, 'action.yml')))
    .map((d) => d.name)
    .sort();
  if (withRoot && existsSync(join(root, 'action.yml'))) dirs.unshift('.');
  return dirs.map((dir) => {
    const file = join(dir, 'action.yml');
    const yml = parse(readFileSync(join(root, file), 'utf8'));
    return { dir, file, yml, bundled: yml?.runs?.using !== 'composite' };
  });
}

/** The folders whose action runs the shared bundle (dist/<action>/index.js): every one but composites. */
export const bundledActionDirs = (root, opts) => actionDirs(root, opts).filter((a) => a.bundled);
