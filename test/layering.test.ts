import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot } from './support/tools.ts';

// The layering of DESIGN.md, checked on the import statements of src/ (type-only imports
// included: a type import is still a dependency a maintainer has to follow).
const src = join(repoRoot, 'src');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((d) =>
    d.isDirectory() ? sourceFiles(join(dir, d.name)) : d.name.endsWith('.ts') ? [join(dir, d.name)] : [],
  );
}

/** Relative imports and re-exports of one file, as paths relative to src/. */
export function importsOf(file: string, text = readFileSync(file, 'utf8')): string[] {
  const out: string[] = [];
  for (const m of text.matchAll(/^\s*(?:import|export)\b[^;]*?\bfrom\s+'(\.{1,2}\/[^']+)'/gms))
    out.push(relative(src, normalize(join(dirname(file), m[1]!))));
  return out;
}

const graph = new Map(sourceFiles(src).map((f) => [relative(src, f), importsOf(f)]));

/** `actions/<a>/...` -> `a`; anything else -> undefined. */
const actionOf = (p: string) => /^actions\/([^/]+)\//.exec(p)?.[1];

// The root action is helm-deploy plus a smoke test and a watch: it composes helm-deploy's module
// instead of copying it. Every other sharing goes through src/actions/common/.
const ALLOWED = new Set(['root->helm-deploy']);

export function siblingImports(g: ReadonlyMap<string, readonly string[]>): string[] {
  const bad: string[] = [];
  for (const [file, deps] of g) {
    const a = actionOf(file);
    if (!a || a === 'common') continue;
    for (const d of deps) {
      const b = actionOf(d);
      if (b && b !== a && b !== 'common' && !ALLOWED.has(`${a}->${b}`)) bad.push(`${file} imports ${d}`);
    }
  }
  return bad;
}

/** Every import cycle, each as the files along it. */
export function cycles(g: ReadonlyMap<string, readonly string[]>): string[][] {
  const found: string[][] = [];
  const state = new Map<string, 'open' | 'done'>();
  const path: string[] = [];
  const visit = (f: string) => {
    state.set(f, 'open');
    path.push(f);
    for (const d of g.get(f) ?? []) {
      if (state.get(d) === 'open') found.push([...path.slice(path.indexOf(d)), d]);
      else if (!state.has(d)) visit(d);
    }
    path.pop();
    state.set(f, 'done');
  };
  for (const f of g.keys()) if (!state.has(f)) visit(f);
  return found;
}

describe('layering', () => {
  it('no action imports a sibling action (only src/actions/common/, and root composing helm-deploy)', () => {
    expect(siblingImports(graph)).toEqual([]);
  });

  it('has no import cycle in src/, type-only imports included', () => {
    expect(cycles(graph)).toEqual([]);
  });

  it('only src/actions/common/github.ts imports @actions/core', () => {
    const bad = [...graph.keys()].filter((f) => /from '@actions\/core'/.test(readFileSync(join(src, f), 'utf8')));
    expect(bad).toEqual(['actions/common/github.ts']);
  });

  // The checks above must be able to fail: the same functions on known-bad graphs.
  it('catches a sibling import and a two-file circle', () => {
    const bad = new Map([
      ['actions/auto-rollback/inputs.ts', ['actions/smoke-test/inputs.ts', 'actions/common/files.ts']],
      ['actions/root/main.ts', ['actions/helm-deploy/main.ts']],
      ['rollout/plan.ts', ['rollout/plan-render.ts']],
      ['rollout/plan-render.ts', ['rollout/plan.ts']],
    ]);
    expect(siblingImports(bad)).toEqual(['actions/auto-rollback/inputs.ts imports actions/smoke-test/inputs.ts']);
    expect(cycles(bad)).toEqual([['rollout/plan.ts', 'rollout/plan-render.ts', 'rollout/plan.ts']]);
    expect(importsOf(join(src, 'x/a.ts'), "import type { A } from './b.ts';\nexport { c } from '../y/c.ts';\n")).toEqual([
      'x/b.ts',
      'y/c.ts',
    ]);
  });
});
