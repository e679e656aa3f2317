/**
 * Field ownership (`metadata.managedFields`) and server-side apply, close enough to the real
 * structured-merge-diff for the built-in types the fake serves: maps are granular, lists of
 * objects with a key are granular per item, `.spec.selector` and lists without a key are atomic.
 */
import { mergeKeyOf } from './patch.ts';
import { clone, deepEqual, isPlainObject, nowTimestamp, type Json, type KubeObject, type ManagedFieldsEntry } from './types.ts';

type Seg = { f: string } | { k: Record<string, Json> };
const ITEM = Symbol('list item');

const serverOwnedMeta = new Set([
  'name',
  'namespace',
  'uid',
  'resourceVersion',
  'generation',
  'creationTimestamp',
  'managedFields',
  'deletionTimestamp',
  'selfLink',
  'generateName',
]);

export function pathString(segs: Seg[]): string {
  return segs
    .map((s) =>
      'f' in s
        ? `.${s.f}`
        : `[${Object.keys(s.k)
            .sort()
            .map((k) => `${k}=${JSON.stringify(s.k[k])}`)
            .join(',')}]`,
    )
    .join('');
}

function listKeyFields(field: string, items: Json[]): string[] | undefined {
  const key = mergeKeyOf(field, items);
  if (!key) return undefined;
  if (field === 'ports') return items.some((i) => isPlainObject(i) && 'protocol' in i) ? [key, 'protocol'] : [key];
  return [key];
}

function isAtomic(segs: Seg[]): boolean {
  return pathString(segs) === '.spec.selector';
}

export interface Leaf {
  segs: Seg[];
  value: Json;
}

/** Every owned path of an object with the value found there (list items map to a marker). */
export function leaves(obj: KubeObject): Map<string, Leaf> {
  const out = new Map<string, Leaf>();
  const emit = (segs: Seg[], value: Json) => out.set(pathString(segs), { segs, value });
  const walk = (v: Json, segs: Seg[]) => {
    if (segs.length > 0 && isAtomic(segs)) return emit(segs, v);
    if (isPlainObject(v) && Object.keys(v).length > 0) {
      for (const [k, child] of Object.entries(v)) {
        if (child === undefined) continue;
        walk(child, [...segs, { f: k }]);
      }
      return;
    }
    if (Array.isArray(v) && v.length > 0 && v.every(isPlainObject)) {
      const last = segs[segs.length - 1];
      const keys = last && 'f' in last ? listKeyFields(last.f, v) : undefined;
      if (keys && v.every((i) => keys.every((k) => k === 'protocol' || i[k] !== undefined))) {
        for (const item of v) {
          const k: Record<string, Json> = {};
          for (const kf of keys) if (item[kf] !== undefined) k[kf] = item[kf];
          const itemSegs = [...segs, { k }];
          emit(itemSegs, ITEM);
          walk(item, itemSegs);
        }
        return;
      }
    }
    emit(segs, v);
  };
  for (const [k, v] of Object.entries(obj)) {
    if (k === 'apiVersion' || k === 'kind' || k === 'status' || v === undefined) continue;
    if (k === 'metadata' && isPlainObject(v)) {
      for (const [mk, mv] of Object.entries(v)) if (!serverOwnedMeta.has(mk) && mv !== undefined) walk(mv, [{ f: 'metadata' }, { f: mk }]);
      continue;
    }
    walk(v, [{ f: k }]);
  }
  return out;
}

/** Paths to the `fieldsV1` tree the API server stores. */
export function toFieldsV1(paths: Iterable<Leaf>): Json {
  const root: Json = {};
  for (const { segs, value } of paths) {
    let node = root;
    for (const s of segs) {
      const name =
        'f' in s
          ? `f:${s.f}`
          : `k:${JSON.stringify(
              Object.fromEntries(
                Object.keys(s.k)
                  .sort()
                  .map((k) => [k, s.k[k]]),
              ),
            )}`;
      node = node[name] ??= {};
    }
    if (value === ITEM) node['.'] = {};
  }
  return root;
}

/** The `fieldsV1` tree back to paths. */
export function fromFieldsV1(tree: Json): Map<string, Leaf> {
  const out = new Map<string, Leaf>();
  const walk = (node: Json, segs: Seg[]) => {
    for (const [name, child] of Object.entries(node ?? {})) {
      if (name === '.') {
        out.set(pathString(segs), { segs, value: ITEM });
        continue;
      }
      let seg: Seg;
      if (name.startsWith('f:')) seg = { f: name.slice(2) };
      else if (name.startsWith('k:')) seg = { k: JSON.parse(name.slice(2)) as Record<string, Json> };
      else continue; // v: (sets of primitives) are not produced by this fake
      const childSegs = [...segs, seg];
      if (isPlainObject(child) && Object.keys(child).length > 0) walk(child, childSegs);
      else out.set(pathString(childSegs), { segs: childSegs, value: undefined });
    }
  };
  walk(tree, []);
  return out;
}

/** Reads the value at a path (undefined when absent). */
export function valueAt(obj: Json, segs: Seg[]): Json {
  let cur = obj;
  for (const s of segs) {
    if ('f' in s) cur = isPlainObject(cur) ? cur[s.f] : undefined;
    else
      cur = Array.isArray(cur) ? cur.find((i) => isPlainObject(i) && Object.entries(s.k).every(([k, v]) => deepEqual(i[k], v))) : undefined;
    if (cur === undefined) return undefined;
  }
  return cur;
}

function removeAt(obj: Json, segs: Seg[]): void {
  const parent = valueAt(obj, segs.slice(0, -1));
  const last = segs[segs.length - 1];
  if (!last) return;
  if ('f' in last) {
    if (isPlainObject(parent)) delete parent[last.f];
  } else if (Array.isArray(parent)) {
    const idx = parent.findIndex((i) => isPlainObject(i) && Object.entries(last.k).every(([k, v]) => deepEqual(i[k], v)));
    if (idx >= 0) parent.splice(idx, 1);
  }
}

/** Merges an applied configuration into the live object: maps and keyed lists merge, the rest is replaced. */
function applyMerge(live: Json, applied: Json, segs: Seg[]): Json {
  if (segs.length > 0 && isAtomic(segs)) return clone(applied);
  if (isPlainObject(applied)) {
    const out: Record<string, Json> = isPlainObject(live) ? clone(live) : {};
    for (const [k, v] of Object.entries(applied)) {
      if (v === null) delete out[k];
      else out[k] = applyMerge(out[k], v, [...segs, { f: k }]);
    }
    return out;
  }
  if (Array.isArray(applied) && applied.every(isPlainObject)) {
    const last = segs[segs.length - 1];
    const keys = last && 'f' in last ? listKeyFields(last.f, applied) : undefined;
    if (keys && Array.isArray(live)) {
      const out = clone(live);
      for (const item of applied) {
        const idx = out.findIndex((i: Json) => isPlainObject(i) && keys.every((k) => k === 'protocol' || deepEqual(i[k], item[k])));
        if (idx >= 0) out[idx] = applyMerge(out[idx], item, [...segs, { k: {} }]);
        else out.push(clone(item));
      }
      return out;
    }
  }
  return clone(applied);
}

export interface Conflict {
  manager: ManagedFieldsEntry;
  path: string;
}

export class ApplyConflictError extends Error {
  readonly conflicts: Conflict[];
  constructor(conflicts: Conflict[]) {
    super(conflictMessage(conflicts));
    this.conflicts = conflicts;
  }
}

/** How the API server names a manager in a conflict: `"curl" using v1` for an update, `"helm"` for an apply. */
export function printManager(m: ManagedFieldsEntry): string {
  let s = JSON.stringify(m.manager);
  if (m.subresource) s += ` with subresource ${JSON.stringify(m.subresource)}`;
  return m.operation === 'Update' ? `${s} using ${m.apiVersion}` : s;
}

/** The exact wording of structured-merge-diff's conflict message. */
export function conflictMessage(c: Conflict[]): string {
  if (c.length === 1) return `Apply failed with 1 conflict: conflict with ${printManager(c[0]!.manager)}: ${c[0]!.path}`;
  const byManager = new Map<string, string[]>();
  for (const x of c) {
    const name = printManager(x.manager);
    byManager.set(name, [...(byManager.get(name) ?? []), x.path]);
  }
  const lines: string[] = [];
  for (const name of [...byManager.keys()].sort()) {
    lines.push(`conflicts with ${name}:`);
    for (const p of byManager.get(name)!) lines.push(`- ${p}`);
  }
  return `Apply failed with ${c.length} conflicts: ${lines.join('\n')}`;
}

const sameManager = (a: ManagedFieldsEntry, b: { manager: string; operation: string; subresource?: string }) =>
  a.manager === b.manager && a.operation === b.operation && (a.subresource ?? '') === (b.subresource ?? '');

/**
 * Server-side apply of `applied` by `manager` onto `live` (undefined: the object is created).
 * Throws ApplyConflictError when another manager owns a field the apply changes and `force` is
 * not set. Returns the new object with its managedFields updated.
 */
export function serverSideApply(live: KubeObject | undefined, applied: KubeObject, manager: string, force: boolean): KubeObject {
  const entries: ManagedFieldsEntry[] = clone(live?.metadata.managedFields ?? []);
  const appliedLeaves = leaves(applied);
  const liveLeaves = live ? leaves(live) : new Map<string, Leaf>();
  const conflicts: Conflict[] = [];
  const others = entries.filter((e) => !sameManager(e, { manager, operation: 'Apply' }));
  for (const e of others) {
    const owned = fromFieldsV1(e.fieldsV1);
    for (const [path, leaf] of appliedLeaves) {
      if (leaf.value === ITEM || !owned.has(path)) continue;
      if (!deepEqual(leaf.value, liveLeaves.get(path)?.value)) conflicts.push({ manager: e, path });
    }
  }
  if (conflicts.length > 0 && !force) throw new ApplyConflictError(conflicts);

  const mine = entries.find((e) => sameManager(e, { manager, operation: 'Apply' }));
  const before = mine ? fromFieldsV1(mine.fieldsV1) : new Map<string, Leaf>();
  const body: Json = { ...clone(applied) };
  delete body.status;
  let merged: KubeObject = live ? (applyMerge(live, body, []) as KubeObject) : (clone(body) as KubeObject);

  // Fields this manager applied before, no longer applies, and nobody else owns: removed.
  const ownedByOthers = new Set<string>();
  for (const e of others) for (const p of fromFieldsV1(e.fieldsV1).keys()) ownedByOthers.add(p);
  const dropped = [...before.values()].filter((l) => !appliedLeaves.has(pathString(l.segs)) && !ownedByOthers.has(pathString(l.segs)));
  dropped.sort((a, b) => b.segs.length - a.segs.length);
  for (const l of dropped) removeAt(merged, l.segs);

  // Forced: the conflicting fields change hands.
  const taken = new Set(conflicts.map((c) => c.path));
  let next = entries.map((e) => (sameManager(e, { manager, operation: 'Apply' }) ? e : withoutPaths(e, taken)));
  const entry: ManagedFieldsEntry = {
    manager,
    operation: 'Apply',
    apiVersion: applied.apiVersion,
    time: nowTimestamp(),
    fieldsType: 'FieldsV1',
    fieldsV1: toFieldsV1(appliedLeaves.values()),
  };
  next = mine ? next.map((e) => (e === mine ? entry : e)) : [...next, entry];
  merged = { ...merged, metadata: { ...merged.metadata, managedFields: next.filter((e) => Object.keys(e.fieldsV1 ?? {}).length > 0) } };
  return merged;
}

function withoutPaths(e: ManagedFieldsEntry, paths: Set<string>): ManagedFieldsEntry {
  if (paths.size === 0) return e;
  const kept = [...fromFieldsV1(e.fieldsV1).values()].filter((l) => !paths.has(pathString(l.segs)));
  return { ...e, fieldsV1: toFieldsV1(kept) };
}

/**
 * Ownership after a create, update or non-apply patch: the manager takes every field whose value
 * it changed (all of them on create); other managers lose those fields and the removed ones.
 */
export function recordUpdate(old: KubeObject | undefined, next: KubeObject, manager: string, subresource?: string): KubeObject {
  const entries: ManagedFieldsEntry[] = clone(old?.metadata.managedFields ?? next.metadata.managedFields ?? []);
  // Status is not tracked: only the spec-side ownership matters to the conflicts the fake reports.
  if (subresource) return { ...next, metadata: { ...next.metadata, managedFields: entries } };
  const oldLeaves = old ? leaves(old) : new Map<string, Leaf>();
  const newLeaves = leaves(next);
  const changed = [...newLeaves.values()].filter((l) => {
    const p = pathString(l.segs);
    return !oldLeaves.has(p) || !deepEqual(oldLeaves.get(p)!.value, l.value);
  });
  const removed = [...oldLeaves.keys()].filter((p) => !newLeaves.has(p));
  if (changed.length === 0 && removed.length === 0 && old) return { ...next, metadata: { ...next.metadata, managedFields: entries } };
  const lost = new Set([...changed.map((l) => pathString(l.segs)), ...removed]);
  const me = { manager, operation: 'Update' as const, subresource };
  let out = entries.map((e) => (sameManager(e, me) ? e : withoutPaths(e, lost)));
  const mine = out.find((e) => sameManager(e, me));
  const prev = mine ? [...fromFieldsV1(mine.fieldsV1).values()].filter((l) => !removed.includes(pathString(l.segs))) : [];
  const all = new Map<string, Leaf>();
  for (const l of [...prev, ...changed]) all.set(pathString(l.segs), l);
  const entry: ManagedFieldsEntry = {
    manager,
    operation: 'Update',
    apiVersion: next.apiVersion,
    time: nowTimestamp(),
    fieldsType: 'FieldsV1',
    fieldsV1: toFieldsV1(all.values()),
    ...(subresource ? { subresource } : {}),
  };
  out = mine ? out.map((e) => (e === mine ? entry : e)) : [...out, entry];
  return { ...next, metadata: { ...next.metadata, managedFields: out.filter((e) => Object.keys(e.fieldsV1 ?? {}).length > 0) } };
}
