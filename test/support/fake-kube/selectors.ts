import type { KubeObject } from './types.ts';

/** One requirement of a label selector, as the API server parses it. */
export interface Requirement {
  key: string;
  op: 'in' | 'notin' | 'exists' | '!exists' | '=' | '!=';
  values: string[];
}

export class SelectorError extends Error {}

/**
 * Parses `a=b,c==d,e!=f,g in (x,y),h notin (z),i,!j`. Commas inside parentheses belong to the
 * value set, so the string is scanned rather than split.
 */
export function parseLabelSelector(selector: string | undefined): Requirement[] {
  const out: Requirement[] = [];
  if (!selector || !selector.trim()) return out;
  const parts: string[] = [];
  let depth = 0;
  let cur = '';
  for (const ch of selector) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (ch === ',' && depth === 0) {
      parts.push(cur);
      cur = '';
    } else cur += ch;
  }
  parts.push(cur);
  for (const raw of parts) {
    const p = raw.trim();
    if (!p) throw new SelectorError(`unable to parse requirement: found '', expected: identifier`);
    let m = /^([^\s!=(),]+)\s+(in|notin)\s*\(([^)]*)\)$/.exec(p);
    if (m) {
      out.push({
        key: m[1]!,
        op: m[2] as 'in' | 'notin',
        values: m[3]!
          .split(',')
          .map((v) => v.trim())
          .filter(Boolean),
      });
      continue;
    }
    m = /^([^\s!=(),]+)\s*(==|=|!=)\s*([^\s!=(),]*)$/.exec(p);
    if (m) {
      out.push({ key: m[1]!, op: m[2] === '!=' ? '!=' : '=', values: [m[3]!] });
      continue;
    }
    m = /^(!?)([^\s!=(),]+)$/.exec(p);
    if (m) {
      out.push({ key: m[2]!, op: m[1] ? '!exists' : 'exists', values: [] });
      continue;
    }
    throw new SelectorError(`unable to parse requirement: ${JSON.stringify(p)}`);
  }
  return out;
}

export function matchesLabels(reqs: Requirement[], labels: Record<string, string> | undefined): boolean {
  const l = labels ?? {};
  return reqs.every((r) => {
    const has = Object.prototype.hasOwnProperty.call(l, r.key);
    const v = l[r.key];
    switch (r.op) {
      case 'exists':
        return has;
      case '!exists':
        return !has;
      case '=':
      case 'in':
        return has && r.values.includes(v!);
      case '!=':
      case 'notin':
        return !has || !r.values.includes(v!);
    }
  });
}

export interface FieldRequirement {
  field: string;
  negate: boolean;
  value: string;
}

/** `metadata.name=x`, `metadata.namespace!=y` (the fields every resource supports), comma-joined. */
export function parseFieldSelector(selector: string | undefined): FieldRequirement[] {
  if (!selector || !selector.trim()) return [];
  return selector.split(',').map((raw) => {
    const m = /^\s*([\w.]+)\s*(==|=|!=)\s*(.*?)\s*$/.exec(raw);
    if (!m) throw new SelectorError(`invalid selector: '${selector}'; can't understand '${raw}'`);
    return { field: m[1]!, negate: m[2] === '!=', value: m[3]! };
  });
}

export function fieldValue(obj: KubeObject, field: string): string | undefined {
  let cur: unknown = obj;
  for (const seg of field.split('.')) {
    if (typeof cur !== 'object' || cur === null) return undefined;
    cur = (cur as Record<string, unknown>)[seg];
  }
  return cur === undefined || cur === null ? undefined : String(cur);
}

export function matchesFields(reqs: FieldRequirement[], obj: KubeObject): boolean {
  return reqs.every((r) => ((fieldValue(obj, r.field) ?? '') === r.value) !== r.negate);
}

/** A label selector object (matchLabels + matchExpressions) to the requirements it means. */
export function requirementsOf(
  sel: { matchLabels?: Record<string, string>; matchExpressions?: { key: string; operator: string; values?: string[] }[] } | undefined,
): Requirement[] {
  const out: Requirement[] = [];
  for (const [k, v] of Object.entries(sel?.matchLabels ?? {})) out.push({ key: k, op: '=', values: [v] });
  for (const e of sel?.matchExpressions ?? []) {
    const op = ({ In: 'in', NotIn: 'notin', Exists: 'exists', DoesNotExist: '!exists' } as const)[e.operator as 'In'];
    if (op) out.push({ key: e.key, op, values: e.values ?? [] });
  }
  return out;
}
