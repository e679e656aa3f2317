import { readdirSync, readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { Inputs } from '../src/actions/common/inputs.ts';
import { repoRoot } from './support/tools.ts';

// Every action.yml input is read by the code, and the code reads no input it does not declare
// (STYLE.md habit 6). Each action exports `parseInputs(inputs)`; it is fed the example values in
// test/fixtures/inputs/<action>.json, which must be a valid, complete set.
// The root action.yml (uses: dotmac/deploy-actions@v1) is the `root` module (src/actions/root), run from dist/root.
// A composite action (cloud-login) has no code of ours to read its inputs: test/workflows checks its steps.
const composite = (dir: string) =>
  (parse(readFileSync(join(repoRoot, dir, 'action.yml'), 'utf8')) as { runs?: { using?: string } }).runs?.using === 'composite';
const actionDirs = [
  ...readdirSync(repoRoot, { withFileTypes: true })
    .filter((d) => d.isDirectory() && existsSync(join(repoRoot, d.name, 'action.yml')) && !composite(d.name))
    .map((d) => ({ dir: d.name, name: d.name, dist: `../dist/${d.name}` })),
  { dir: '.', name: 'root', dist: 'dist/root' },
];

describe.each(actionDirs)('$dir/action.yml', ({ dir, name, dist }) => {
  const yml = parse(readFileSync(join(repoRoot, dir, 'action.yml'), 'utf8')) as {
    inputs?: Record<string, { description?: string; default?: unknown; required?: boolean }>;
    outputs?: Record<string, { description?: string }>;
    runs: { using: string; main: string; post?: string };
  };
  const declared = Object.keys(yml.inputs ?? {}).sort();

  it('runs on node24 from the shared dist through its own stub', () => {
    expect(yml.runs.using).toBe('node24');
    expect(yml.runs.main).toBe(`${dist}/index.js`);
    if (yml.runs.post) expect(yml.runs.post).toBe(`${dist}/post.js`);
    expect(existsSync(join(repoRoot, dir, yml.runs.main))).toBe(true);
  });

  it('documents every input and output', () => {
    for (const [k, v] of Object.entries({ ...yml.inputs, ...yml.outputs })) expect(v.description, k).toBeTruthy();
  });

  it('reads exactly the inputs it declares', async () => {
    const mod = (await import(`../src/actions/${name}/inputs.ts`)) as { parseInputs(i: Inputs): unknown };
    const example = JSON.parse(readFileSync(join(repoRoot, 'test/fixtures/inputs', `${name}.json`), 'utf8')) as Record<string, string>;
    const inputs = new Inputs((n) => example[n] ?? String(yml.inputs?.[n]?.default ?? ''));
    mod.parseInputs(inputs);
    expect([...inputs.seen].sort()).toEqual(declared);
    expect(Object.keys(example).filter((k) => !declared.includes(k))).toEqual([]);
  });
});

// Defaults written once: an input left empty must give the same parsed inputs whether the runner
// fills in the action.yml default (as GitHub does) or the code falls back on its own. A code
// fallback that disagrees with action.yml makes the two parses differ.
describe.each(actionDirs)('$dir/action.yml defaults', ({ dir, name }) => {
  it("the code's fallbacks equal the action.yml defaults", async () => {
    const yml = parse(readFileSync(join(repoRoot, dir, 'action.yml'), 'utf8')) as {
      inputs?: Record<string, { default?: unknown }>;
    };
    const mod = (await import(`../src/actions/${name}/inputs.ts`)) as { parseInputs(i: Inputs): unknown };
    const example = JSON.parse(readFileSync(join(repoRoot, 'test/fixtures/inputs', `${name}.json`), 'utf8')) as Record<string, string>;
    const differing: string[] = [];
    for (const [input, spec] of Object.entries(yml.inputs ?? {})) {
      // `${{ github.token }}` and the like are the runner's to evaluate: the code cannot repeat them.
      if (spec.default === undefined || String(spec.default).includes('${{')) continue;
      // Every other input as in the example; this one given its default, or left empty.
      const read = (value: string) => new Inputs((n) => (n === input ? value : (example[n] ?? '')));
      const withYml = mod.parseInputs(read(String(spec.default)));
      const withCode = mod.parseInputs(read(''));
      if (JSON.stringify(withYml) !== JSON.stringify(withCode)) differing.push(`${input} (action.yml: ${JSON.stringify(spec.default)})`);
    }
    expect(differing.join('; ')).toBe('');
  });
});

it('leaves out exactly the composite actions, which run no code of ours', () => {
  const all = readdirSync(repoRoot, { withFileTypes: true }).filter(
    (d) => d.isDirectory() && existsSync(join(repoRoot, d.name, 'action.yml')),
  );
  expect(all.filter((d) => composite(d.name)).map((d) => d.name)).toEqual(['cloud-login']);
  expect(actionDirs).toHaveLength(all.length); // every other folder, and the root action
});

describe('Inputs.withDefaults', () => {
  const read = (values: Record<string, string>) => new Inputs((n) => values[n] ?? '').withDefaults('tenant-rollout');

  it('an input left empty gets its action.yml default, one given keeps its value', () => {
    expect(read({}).int('max-parallel', { min: 1, max: 200 })).toBe(5);
    expect(read({ 'max-parallel': '7' }).int('max-parallel', { min: 1, max: 200 })).toBe(7);
    expect(read({}).string('release-name')).toBe('{{ tenant.slug }}');
  });

  it('a code fallback that repeats a declared default is refused: the default is written once', () => {
    expect(() => read({}).bool('identity-values', true)).toThrow(/input "identity-values": the code repeats its action.yml default/);
  });

  it('an input that needs a default and declares none is a mistake in the code, not the user', () => {
    expect(() => new Inputs(() => '').bool('verify-workloads')).toThrow(/input "verify-workloads" has no default/);
    expect(() => read({}).duration('report-file')).toThrow(/has no default: declare one in action.yml/);
  });
});
