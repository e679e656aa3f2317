import { ConfigurationError, inputError } from '../core/errors.ts';
import { isTenantId, type Tenant } from './model.ts';
import { looksLikeSelector, matchesSelector, parseSelector, type Selector } from './selector.ts';

/**
 * `include` / `exclude`: each a list of entries, one of
 *   - an exact tenant id      `alpha`
 *   - a glob over ids         `eu-*`, `isp-??`, `eu-[ab]*`
 *   - a label selector        `ring=canary`, `tier in (gold,silver)`, `!legacy`
 *
 * Reading a value: each line is read on its own. A line with a selector operator is ONE label
 * selector, whose commas mean AND (as in kubectl: `ring=canary,tier=gold`); any other line is a
 * comma-separated list of ids and globs. Entries (lines, list items) are OR-ed.
 */
export type SelectionEntry =
  | { kind: 'id'; text: string; id: string }
  | { kind: 'glob'; text: string; pattern: RegExp }
  | { kind: 'selector'; text: string; selector: Selector };

export interface Selection {
  input: string;
  /** The value as given. */
  source: string;
  entries: SelectionEntry[];
}

export function globToRegExp(glob: string): RegExp {
  let re = '^';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === '*') re += '.*';
    else if (c === '?') re += '.';
    else if (c === '[') {
      const end = glob.indexOf(']', i + 1);
      if (end < 0) return new RegExp(`^${escape(glob)}$`); // lone "[" is a literal, as in shells
      const body = glob.slice(i + 1, end).replace(/^!/, '^');
      re += `[${body.replace(/[\\\]]/g, '\\$&')}]`;
      i = end;
    } else re += escape(c);
  }
  return new RegExp(`${re}$`);
}

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&');
}

export function parseSelection(input: string, value: string): Selection {
  const entries: SelectionEntry[] = [];
  for (const rawLine of value.split(/\r?\n/)) {
    const line = rawLine.trim();
    if (!line) continue;
    if (looksLikeSelector(line)) {
      entries.push({ kind: 'selector', text: line, selector: parseSelector(input, line) });
      continue;
    }
    for (const rawItem of line.split(/[\s,]+/)) {
      const item = rawItem.trim();
      if (!item) continue;
      if (/[*?[]/.test(item)) {
        if (!/^[-a-z0-9*?[\]!]+$/.test(item))
          throw inputError(
            input,
            item,
            'is not a valid glob over tenant ids',
            'use lowercase letters, digits, "-" and the wildcards * ? [...]',
          );
        entries.push({ kind: 'glob', text: item, pattern: globToRegExp(item) });
      } else {
        if (!isTenantId(item))
          throw inputError(
            input,
            item,
            'is not a tenant id, a glob or a label selector',
            'use ids such as "alpha", globs such as "eu-*" or selectors such as "ring=canary"',
          );
        entries.push({ kind: 'id', text: item, id: item });
      }
    }
  }
  return { input, source: value.trim(), entries };
}

function matches(e: SelectionEntry, t: Tenant): boolean {
  switch (e.kind) {
    case 'id':
      return t.id === e.id;
    case 'glob':
      return e.pattern.test(t.id);
    case 'selector':
      return matchesSelector(e.selector, t.labels);
  }
}

/**
 * Applies include (all tenants when absent or empty) then exclude, keeping the input order.
 * An exact id, in include or exclude, that names no tenant is an error (a typo would otherwise
 * deploy the wrong set); globs and selectors may match nothing. An empty result is an error.
 */
export function selectTenants(tenants: readonly Tenant[], sel: { include?: Selection; exclude?: Selection } = {}): Tenant[] {
  const known = new Set(tenants.map((t) => t.id));
  for (const s of [sel.include, sel.exclude]) {
    for (const e of s?.entries ?? []) {
      if (e.kind === 'id' && !known.has(e.id)) {
        throw inputError(
          s!.input,
          e.id,
          'names a tenant that does not exist',
          `check the id; known tenants include ${[...known].slice(0, 5).join(', ') || 'none'}`,
        );
      }
    }
  }
  const include = sel.include?.entries.length ? sel.include.entries : undefined;
  const exclude = sel.exclude?.entries ?? [];
  const ids = (list: readonly SelectionEntry[]) => new Set(list.flatMap((e) => (e.kind === 'id' ? [e.id] : [])));
  const includeIds = include ? ids(include) : undefined;
  const excludeIds = ids(exclude);
  const includeOther = include?.filter((e) => e.kind !== 'id') ?? [];
  const excludeOther = exclude.filter((e) => e.kind !== 'id');

  const selected = tenants.filter((t) => {
    if (include && !includeIds!.has(t.id) && !includeOther.some((e) => matches(e, t))) return false;
    return !excludeIds.has(t.id) && !excludeOther.some((e) => matches(e, t));
  });
  if (selected.length === 0) {
    const how = [sel.include?.source && `include "${sel.include.source}"`, sel.exclude?.source && `exclude "${sel.exclude.source}"`]
      .filter(Boolean)
      .join(' and ');
    throw new ConfigurationError(
      'tenant selection',
      tenants.length === 0 ? 'no tenants were found' : `no tenant is left after ${how || 'selection'} (out of ${tenants.length})`,
      tenants.length === 0 ? 'check the tenant source (namespace selector, tenants file or list)' : 'widen include or narrow exclude',
    );
  }
  return selected;
}
