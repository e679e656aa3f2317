import { clone, deepEqual, isPlainObject, type Json } from './types.ts';

/** Thrown for a patch the server cannot decode or apply; `code` is the HTTP status to answer. */
export class PatchError extends Error {
  readonly code: number;
  constructor(message: string, code = 400) {
    super(message);
    this.code = code;
  }
}

/** RFC 7386 JSON merge patch: objects merge recursively, `null` deletes, anything else replaces. */
export function jsonMergePatch(target: Json, patch: Json): Json {
  if (!isPlainObject(patch)) return clone(patch);
  const out: Record<string, Json> = isPlainObject(target) ? clone(target) : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = jsonMergePatch(out[k], v);
  }
  return out;
}

/**
 * The merge key of a list field in the Kubernetes API (`patchMergeKey`), or undefined for lists
 * that are atomic (replaced whole). Container ports merge on `containerPort`, Service ports on
 * `port`: told apart by their items.
 */
export function mergeKeyOf(field: string, items: Json[]): string | undefined {
  switch (field) {
    case 'containers':
    case 'initContainers':
    case 'ephemeralContainers':
    case 'env':
    case 'volumes':
    case 'imagePullSecrets':
      return 'name';
    case 'volumeMounts':
      return 'mountPath';
    case 'volumeDevices':
      return 'devicePath';
    case 'hostAliases':
      return 'ip';
    case 'conditions':
      return 'type';
    case 'ownerReferences':
      return 'uid';
    case 'topologySpreadConstraints':
      return 'topologyKey';
    case 'ports':
      return items.some((i) => isPlainObject(i) && 'containerPort' in i) ? 'containerPort' : 'port';
    default:
      return undefined;
  }
}

/** Primitive lists with `patchStrategy:merge` (union). */
const mergedPrimitiveLists = new Set(['finalizers']);

/**
 * Strategic merge patch, the subset the API server applies for the built-in types: maps merge
 * key by key (`null` deletes), lists of objects with a merge key merge item by item (`$patch:
 * delete` removes one), other lists are replaced, and the directives `$patch`, `$retainKeys`,
 * `$setElementOrder/<list>` and `$deleteFromPrimitiveList/<list>` are honoured.
 */
export function strategicMergePatch(target: Json, patch: Json): Json {
  if (!isPlainObject(patch)) return clone(patch);
  if (patch.$patch === 'replace') {
    const rest = clone(patch);
    delete rest.$patch;
    return rest;
  }
  if (patch.$patch === 'delete') return undefined;
  const out: Record<string, Json> = isPlainObject(target) ? clone(target) : {};
  const orders: [string, Json[]][] = [];
  for (const [k, v] of Object.entries(patch)) {
    if (k === '$patch') continue;
    if (k === '$retainKeys') {
      if (!Array.isArray(v)) throw new PatchError('invalid $retainKeys: not a list');
      for (const key of Object.keys(out)) if (!v.includes(key) && !(key in patch)) delete out[key];
      continue;
    }
    if (k.startsWith('$setElementOrder/')) {
      if (!Array.isArray(v)) throw new PatchError(`invalid ${k}: not a list`);
      orders.push([k.slice('$setElementOrder/'.length), v]);
      continue;
    }
    if (k.startsWith('$deleteFromPrimitiveList/')) {
      const field = k.slice('$deleteFromPrimitiveList/'.length);
      if (Array.isArray(out[field]) && Array.isArray(v)) out[field] = (out[field] as Json[]).filter((x) => !v.includes(x));
      continue;
    }
    if (v === null) {
      delete out[k];
      continue;
    }
    if (Array.isArray(v)) {
      out[k] = mergeList(k, out[k], v);
      continue;
    }
    if (isPlainObject(v)) {
      const merged = strategicMergePatch(out[k], v);
      if (merged === undefined) delete out[k];
      else out[k] = merged;
      continue;
    }
    out[k] = v;
  }
  for (const [field, order] of orders) {
    const list = out[field];
    if (!Array.isArray(list)) continue;
    out[field] = reorder(field, list, order);
  }
  return out;
}

function mergeList(field: string, current: Json, patch: Json[]): Json[] {
  const cur: Json[] = Array.isArray(current) ? clone(current) : [];
  if (patch.every((p) => !isPlainObject(p))) {
    if (!mergedPrimitiveLists.has(field)) return clone(patch);
    return [...cur, ...patch.filter((p) => !cur.some((c) => deepEqual(c, p)))];
  }
  if (patch.some((p) => isPlainObject(p) && p.$patch === 'replace')) {
    return patch.filter((p) => !(isPlainObject(p) && p.$patch === 'replace')).map(clone);
  }
  const key = mergeKeyOf(field, [...patch, ...cur]);
  if (!key) return clone(patch);
  for (const item of patch) {
    if (!isPlainObject(item)) continue;
    const idx = cur.findIndex((c) => isPlainObject(c) && deepEqual(c[key], item[key]));
    if (item.$patch === 'delete') {
      if (idx >= 0) cur.splice(idx, 1);
      continue;
    }
    if (idx >= 0) cur[idx] = strategicMergePatch(cur[idx], item);
    else cur.push(strategicMergePatch({}, item));
  }
  return cur;
}

function reorder(field: string, list: Json[], order: Json[]): Json[] {
  const key = mergeKeyOf(field, list);
  const keyOf = (x: Json): Json => (key && isPlainObject(x) ? x[key] : x);
  const wanted = order.map(keyOf);
  const ranked = list.map((x, i) => ({ x, i, r: wanted.findIndex((w) => deepEqual(w, keyOf(x))) }));
  ranked.sort((a, b) => (a.r < 0 ? Infinity : a.r) - (b.r < 0 ? Infinity : b.r) || a.i - b.i);
  return ranked.map((e) => e.x);
}

/** RFC 6902 JSON patch. A body that is not a list is refused the way the API server refuses it. */
export function jsonPatch(target: Json, ops: Json): Json {
  if (!Array.isArray(ops)) {
    const what = isPlainObject(ops) ? 'object' : ops === null ? 'null' : typeof ops === 'string' ? 'string' : typeof ops;
    throw new PatchError(`error decoding patch: json: cannot unmarshal ${what} into Go value of type []handlers.jsonPatchOp`);
  }
  let doc = clone(target);
  for (const op of ops) {
    if (!isPlainObject(op) || typeof op.op !== 'string' || typeof op.path !== 'string') {
      throw new PatchError('error decoding patch: an operation needs "op" and "path"');
    }
    const path = parsePointer(op.path);
    switch (op.op) {
      case 'add':
        doc = pointerSet(doc, path, clone(op.value), 'add');
        break;
      case 'replace':
        pointerGet(doc, path, op.path);
        doc = pointerSet(doc, path, clone(op.value), 'replace');
        break;
      case 'remove':
        pointerGet(doc, path, op.path);
        doc = pointerRemove(doc, path);
        break;
      case 'copy':
      case 'move': {
        if (typeof op.from !== 'string') throw new PatchError(`${op.op} operation needs "from"`);
        const from = parsePointer(op.from);
        const value = clone(pointerGet(doc, from, op.from));
        if (op.op === 'move') doc = pointerRemove(doc, from);
        doc = pointerSet(doc, path, value, 'add');
        break;
      }
      case 'test':
        if (!deepEqual(pointerGet(doc, path, op.path), op.value)) {
          throw new PatchError(`the server rejected our request due to an error in our request`, 422);
        }
        break;
      default:
        throw new PatchError(`Unexpected kind: ${String(op.op)}`);
    }
  }
  return doc;
}

function parsePointer(p: string): string[] {
  if (p === '') return [];
  if (!p.startsWith('/')) throw new PatchError(`JSON pointer must start with '/': ${p}`);
  return p
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
}

function pointerGet(doc: Json, path: string[], shown: string): Json {
  let cur = doc;
  for (const seg of path) {
    if (Array.isArray(cur) && /^\d+$/.test(seg) && Number(seg) < cur.length) cur = cur[Number(seg)];
    else if (isPlainObject(cur) && seg in cur) cur = cur[seg];
    else throw new PatchError(`the server rejected our request due to an error in our request: path ${shown} does not exist`, 422);
  }
  return cur;
}

function pointerSet(doc: Json, path: string[], value: Json, mode: 'add' | 'replace'): Json {
  if (path.length === 0) return value;
  const parent = pointerGet(doc, path.slice(0, -1), '/' + path.slice(0, -1).join('/'));
  const last = path[path.length - 1]!;
  if (Array.isArray(parent)) {
    const idx = last === '-' ? parent.length : Number(last);
    if (!Number.isInteger(idx) || idx < 0 || idx > parent.length) throw new PatchError(`index out of range: ${last}`, 422);
    if (mode === 'add') parent.splice(idx, 0, value);
    else parent[idx] = value;
  } else if (isPlainObject(parent)) parent[last] = value;
  else throw new PatchError(`cannot set ${last} in a non-container`, 422);
  return doc;
}

function pointerRemove(doc: Json, path: string[]): Json {
  if (path.length === 0) return undefined;
  const parent = pointerGet(doc, path.slice(0, -1), '/' + path.slice(0, -1).join('/'));
  const last = path[path.length - 1]!;
  if (Array.isArray(parent)) parent.splice(Number(last), 1);
  else delete parent[last];
  return doc;
}
