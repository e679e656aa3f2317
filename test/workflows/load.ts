import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { repoRoot } from '../support/tools.ts';

/** The parts of a workflow file the tests read (GitHub's schema, loosely typed). */
export interface Step {
  id?: string;
  name?: string;
  uses?: string;
  run?: string;
  if?: string;
  with?: Record<string, unknown>;
  env?: Record<string, unknown>;
  'continue-on-error'?: unknown;
}

export interface Job {
  name?: string;
  needs?: string | string[];
  if?: string;
  'runs-on'?: unknown;
  environment?: string | { name: string; url?: string };
  permissions?: string | Record<string, string>;
  outputs?: Record<string, string>;
  uses?: string;
  with?: Record<string, unknown>;
  secrets?: string | Record<string, string>;
  steps?: Step[];
  services?: Record<string, unknown>;
  strategy?: { 'fail-fast'?: unknown; 'max-parallel'?: unknown; matrix?: Record<string, unknown> };
}

export interface InputDecl {
  description?: string;
  type?: string;
  required?: boolean;
  default?: unknown;
  options?: string[];
}

export interface Workflow {
  name?: string;
  on: Record<string, unknown>;
  permissions?: string | Record<string, string>;
  concurrency?: string | { group: string; 'cancel-in-progress'?: unknown };
  jobs: Record<string, Job>;
}

export interface WorkflowFile {
  /** Repository-relative path, e.g. `.github/workflows/tenant-rollout.yml`. */
  path: string;
  text: string;
  doc: Workflow;
}

export interface ActionMeta {
  inputs: Record<string, { description?: string; required?: boolean; default?: unknown }>;
  outputs: Record<string, { description?: string; value?: string }>;
  /** `runs.using` (node24, composite) and, for a composite action, its steps. */
  using: string;
  steps: (Step & { shell?: string })[];
}

export const WORKFLOW_DIRS = ['.github/workflows', 'workflows'] as const;

export function loadWorkflows(): WorkflowFile[] {
  return WORKFLOW_DIRS.flatMap((dir) => {
    const abs = join(repoRoot, dir);
    if (!existsSync(abs)) return [];
    return readdirSync(abs)
      .filter((f) => /\.ya?ml$/.test(f))
      .sort()
      .map((f) => {
        const path = `${dir}/${f}`;
        const text = readFileSync(join(repoRoot, path), 'utf8');
        return { path, text, doc: parse(text) as Workflow };
      });
  });
}

export function workflow(path: string): WorkflowFile {
  const w = loadWorkflows().find((x) => x.path === path);
  if (!w) throw new Error(`no workflow ${path}`);
  return w;
}

/** `action.yml` of an action folder of this repository ('' is the root action), or undefined. */
export function actionMeta(folder: string): ActionMeta | undefined {
  const file = join(repoRoot, folder, 'action.yml');
  if (!existsSync(file)) return undefined;
  const a = parse(readFileSync(file, 'utf8')) as Partial<ActionMeta> & { runs?: { using?: string; steps?: ActionMeta['steps'] } };
  return { inputs: a.inputs ?? {}, outputs: a.outputs ?? {}, using: a.runs?.using ?? '', steps: a.runs?.steps ?? [] };
}

/** The action folders of this repository (each holding an action.yml). */
export function actionFolders(): string[] {
  return readdirSync(repoRoot, { withFileTypes: true })
    .filter((d) => d.isDirectory() && existsSync(join(repoRoot, d.name, 'action.yml')))
    .map((d) => d.name)
    .sort();
}

/** The composite action folders of this repository (steps only, no code of ours: cloud-login). */
export const compositeActionFolders = (): string[] => actionFolders().filter((f) => actionMeta(f)!.using === 'composite');

export const needsOf = (j: Job): string[] => (j.needs === undefined ? [] : Array.isArray(j.needs) ? j.needs : [j.needs]);
export const envName = (j: Job): string | undefined => (typeof j.environment === 'string' ? j.environment : j.environment?.name);

/** on.workflow_call / on.workflow_dispatch blocks (`on: push` etc. may be null-valued keys). */
export function trigger<T = Record<string, unknown>>(w: Workflow, name: string): T | undefined {
  const on = w.on as Record<string, unknown> | string | string[];
  if (typeof on === 'string') return on === name ? ({} as T) : undefined;
  if (Array.isArray(on)) return on.includes(name) ? ({} as T) : undefined;
  return name in on ? ((on[name] ?? {}) as T) : undefined;
}

export interface CallDecl {
  inputs?: Record<string, InputDecl>;
  secrets?: Record<string, { description?: string; required?: boolean }>;
  outputs?: Record<string, { description?: string; value: string }>;
}

/**
 * Every expression of a workflow with where it was found: the contents of each `${{ }}` and each
 * `if:` (which is an expression with or without the braces).
 */
export function expressions(node: unknown, path = ''): { at: string; expr: string }[] {
  const out: { at: string; expr: string }[] = [];
  const visit = (n: unknown, at: string, key?: string) => {
    if (typeof n === 'string') {
      if (key === 'if') out.push({ at, expr: n.replace(/^\s*\$\{\{|\}\}\s*$/g, '') });
      else for (const m of n.matchAll(/\$\{\{([\s\S]*?)\}\}/g)) out.push({ at, expr: m[1]! });
    } else if (Array.isArray(n)) n.forEach((v, i) => visit(v, `${at}[${i}]`));
    else if (n && typeof n === 'object') for (const [k, v] of Object.entries(n)) visit(v, at ? `${at}.${k}` : k, k);
  };
  visit(node, path);
  return out;
}

/** All `<ctx>.<name>` references (e.g. inputs.chart) in the expressions of a node. */
export function refs(node: unknown, ctx: 'inputs' | 'secrets' | 'vars'): Set<string> {
  const re = new RegExp(`(?<![\\w.-])${ctx}\\.([A-Za-z_][\\w-]*)`, 'g');
  return new Set(expressions(node).flatMap(({ expr }) => [...expr.matchAll(re)].map((m) => m[1]!)));
}

/** `needs.<job>.outputs.<name>` / `steps.<id>.outputs.<name>` / `jobs.<job>.outputs.<name>` references. */
export function outputRefs(node: unknown, ctx: 'needs' | 'steps' | 'jobs'): { id: string; output: string; at: string }[] {
  const re = new RegExp(`(?<![\\w.-])${ctx}\\.([A-Za-z_][\\w-]*)\\.outputs\\.([A-Za-z_][\\w-]*)`, 'g');
  return expressions(node).flatMap(({ at, expr }) => [...expr.matchAll(re)].map((m) => ({ id: m[1]!, output: m[2]!, at })));
}

/** Our own actions as a user references them: `dotmac/deploy-actions/<folder>@ref`, or `./<folder>` in this repository's CI. */
export function ownActionFolder(uses: string): string | undefined {
  const remote = /^dotmac\/deploy-actions(?:\/([^@]+))?@.+$/.exec(uses);
  if (remote && !remote[1]?.startsWith('.github/')) return remote[1] ?? '';
  const local = /^\.\/(.*?)\/?$/.exec(uses);
  if (local && !local[1]!.startsWith('.github/')) return local[1]!;
  return undefined;
}

/** `dotmac/deploy-actions/.github/workflows/<f>@ref` or `./.github/workflows/<f>` -> `.github/workflows/<f>`. */
export function ownWorkflowPath(uses: string): string | undefined {
  const m = /^(?:dotmac\/deploy-actions\/|\.\/)(\.github\/workflows\/[^@]+\.ya?ml)(?:@.+)?$/.exec(uses);
  return m?.[1];
}
