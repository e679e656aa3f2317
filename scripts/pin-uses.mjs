#!/usr/bin/env node
// Pins this suite's own nested references for a release, so a caller who pins a reusable workflow
// by commit SHA runs one tree, not whatever `v1` points to later.
//
//   node scripts/pin-uses.mjs --kind actions   --sha <commit> [--version v1.4.0] [--root .]
//   node scripts/pin-uses.mjs --kind workflows --sha <commit> [--version v1.4.0] [--root .]
//
// Rewrites `uses: dotmac/deploy-actions[/<action>]@<ref>` (kind actions) or
// `uses: dotmac/deploy-actions/.github/workflows/<file>@<ref>` (kind workflows) in the reusable
// workflows (.github/workflows), the starter workflows (workflows/) and every action.yml, to
// `@<commit>  # <version>`. Prints what it changed; exits 1 when nothing matched (a release that
// pins nothing is a broken release script, not a no-op) or on a bad argument.
//
// Two passes make the chain closed (release-suite.yml runs them): pass 1 pins the actions to the
// tagged commit S and is committed as P1; pass 2 pins the reusable workflows to P1, whose
// workflows already name their actions by S, and is committed as P2, which is what gets tagged.
import { readdirSync, readFileSync, writeFileSync, existsSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { parseArgs } from 'node:util';

const OWNER_REPO = 'dotmac/deploy-actions';

export function pinText(text, { kind, sha, version }) {
  // `uses:` (optionally quoted) then our repository, an optional path, `@ref`, and an optional comment.
  const re = new RegExp(
    `^(\\s*-?\\s*uses:\\s*)(["']?)(${OWNER_REPO.replace('/', '\\/')})(\\/[^@\\s"']+)?@([^\\s"'#]+)\\2([ \\t]*#[^\\n]*)?$`,
    'gm',
  );
  let count = 0;
  const out = text.replace(re, (line, lead, quote, repo, path = '', ref) => {
    const isWorkflow = path.startsWith('/.github/workflows/');
    if ((kind === 'workflows') !== isWorkflow) return line;
    if (ref === sha) return line;
    count++;
    return `${lead}${quote}${repo}${path}@${sha}${quote}${version ? ` # ${version}` : ''}`;
  });
  return { text: out, count };
}

function filesOf(root) {
  const out = [];
  for (const d of ['.github/workflows', 'workflows']) {
    const dir = join(root, d);
    if (!existsSync(dir)) continue;
    for (const f of readdirSync(dir)) if (/\.ya?ml$/.test(f)) out.push(join(dir, f));
  }
  if (existsSync(join(root, 'action.yml'))) out.push(join(root, 'action.yml'));
  for (const d of readdirSync(root)) {
    const f = join(root, d, 'action.yml');
    if (!d.startsWith('.') && d !== 'node_modules' && statSync(join(root, d)).isDirectory() && existsSync(f)) out.push(f);
  }
  return out.sort();
}

export function pinTree(root, opts) {
  const changed = [];
  for (const f of filesOf(root)) {
    const before = readFileSync(f, 'utf8');
    const { text, count } = pinText(before, opts);
    if (count) {
      writeFileSync(f, text);
      changed.push({ file: relative(root, f), count });
    }
  }
  return changed;
}

function main() {
  const { values } = parseArgs({
    options: { kind: { type: 'string' }, sha: { type: 'string' }, version: { type: 'string' }, root: { type: 'string', default: '.' } },
    strict: true,
  });
  if (values.kind !== 'actions' && values.kind !== 'workflows') {
    console.error(`pin-uses: --kind must be actions or workflows, got ${JSON.stringify(values.kind ?? '')}`);
    process.exit(2);
  }
  if (!/^[0-9a-f]{40}$/.test(values.sha ?? '')) {
    console.error(`pin-uses: --sha must be a full 40-hex commit id, got ${JSON.stringify(values.sha ?? '')}`);
    process.exit(2);
  }
  if (values.version && !/^v\d+\.\d+\.\d+$/.test(values.version)) {
    console.error(`pin-uses: --version must look like v1.2.3, got ${JSON.stringify(values.version)}`);
    process.exit(2);
  }
  const changed = pinTree(values.root, { kind: values.kind, sha: values.sha, version: values.version });
  for (const c of changed)
    console.log(`${c.file}: ${c.count} ${values.kind === 'actions' ? 'action' : 'workflow'} reference(s) -> ${values.sha}`);
  if (!changed.length) {
    console.error(`pin-uses: no ${OWNER_REPO} ${values.kind} reference found under ${values.root}`);
    process.exit(1);
  }
}

if (import.meta.url === `file://${process.argv[1]}`) main();
