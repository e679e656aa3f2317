import { inputError } from '../core/errors.ts';
import { isLabelKey, isLabelValue } from './model.ts';

/**
 * Kubernetes label selectors over tenant labels, the one parser shared by include/exclude and
 * pilot selection. Grammar (as kubectl's `-l`):
 *
 *   selector    := requirement ( "," requirement )*        (all must hold)
 *   requirement := key | "!" key
 *                | key ( "=" | "==" | "!=" ) value
 *                | key ( "in" | "notin" ) "(" value ( "," value )* ")"
 *
 * As in Kubernetes, `!=` and `notin` also match tenants without the label.
 */
export type Requirement =
  | { key: string; op: 'exists' | '!exists' }
  | { key: string; op: '=' | '!='; value: string }
  | { key: string; op: 'in' | 'notin'; values: string[] };

export interface Selector {
  /** The text as given, for messages and the plan summary. */
  source: string;
  requirements: Requirement[];
}

const HINT = 'use a label selector such as "ring=canary", "tier in (gold,silver)" or "!legacy"';

/**
 * True when `text` is meant as a label selector rather than an id or a glob: it has an operator
 * (`=`, `!`, parentheses, ` in `/` notin `) or a key prefix (`dotmac.io/pilot`), none of which
 * can appear in a tenant id.
 */
export function looksLikeSelector(text: string): boolean {
  return /[=!()/]/.test(text) || /\s(not)?in\s/.test(text);
}

/** Splits on commas outside parentheses. */
function splitTopLevel(text: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '(') depth++;
    else if (c === ')') depth--;
    else if (c === ',' && depth === 0) {
      parts.push(text.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(text.slice(start));
  return parts;
}

export function parseSelector(input: string, text: string): Selector {
  const fail = (why: string): never => {
    throw inputError(input, text, `is not a valid label selector (${why})`, HINT);
  };
  const source = text.trim();
  if (!source) fail('it is empty');
  let depth = 0;
  for (const c of source) {
    depth += c === '(' ? 1 : c === ')' ? -1 : 0;
    if (depth < 0 || depth > 1) fail('unbalanced parentheses');
  }
  if (depth !== 0) fail('unbalanced parentheses');

  const requirements: Requirement[] = [];
  for (const raw of splitTopLevel(source)) {
    const part = raw.trim();
    if (!part) fail('empty requirement');
    const checkKey = (k: string): string => {
      if (!isLabelKey(k)) fail(`"${k}" is not a label key`);
      return k;
    };
    const checkValue = (v: string): string => {
      if (!isLabelValue(v)) fail(`"${v}" is not a label value`);
      return v;
    };
    let m: RegExpExecArray | null;
    if ((m = /^!\s*([^\s=!(),]+)$/.exec(part))) {
      requirements.push({ key: checkKey(m[1]!), op: '!exists' });
    } else if ((m = /^([^\s=!(),]+)\s*(==|=|!=)\s*([^\s=!(),]*)$/.exec(part))) {
      const op = m[2] === '!=' ? '!=' : '=';
      requirements.push({ key: checkKey(m[1]!), op, value: checkValue(m[3]!) });
    } else if ((m = /^([^\s=!(),]+)\s+(in|notin)\s*\(([^()]*)\)$/.exec(part))) {
      const values = m[3]!.split(',').map((v) => v.trim());
      if (values.some((v) => v === '')) fail(`empty value in "${part}"`);
      requirements.push({ key: checkKey(m[1]!), op: m[2] as 'in' | 'notin', values: values.map(checkValue) });
    } else if (/^[^\s=!(),]+$/.test(part)) {
      requirements.push({ key: checkKey(part), op: 'exists' });
    } else {
      fail(`cannot read "${part}"`);
    }
  }
  return { source, requirements };
}

export function matchesSelector(sel: Selector, labels: Readonly<Record<string, string>>): boolean {
  for (const r of sel.requirements) {
    const has = Object.hasOwn(labels, r.key);
    const v = labels[r.key];
    switch (r.op) {
      case 'exists':
        if (!has) return false;
        break;
      case '!exists':
        if (has) return false;
        break;
      case '=':
        if (!has || v !== r.value) return false;
        break;
      case '!=':
        if (has && v === r.value) return false;
        break;
      case 'in':
        if (!has || !r.values.includes(v!)) return false;
        break;
      case 'notin':
        if (has && r.values.includes(v!)) return false;
        break;
    }
  }
  return true;
}
