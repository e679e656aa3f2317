import { randomUUID } from 'node:crypto';
import { typeKey, type ResourceType } from './resources.ts';
import { clone, nowTimestamp, type KubeObject } from './types.ts';

/** Who made a change: the API (a client), a simulated controller, or a test seeding state. */
export type Origin = 'api' | 'controller' | 'seed';

export interface StoreEvent {
  rv: number;
  type: 'ADDED' | 'MODIFIED' | 'DELETED';
  t: ResourceType;
  object: KubeObject;
  previous?: KubeObject;
  origin: Origin;
}

export const objectKey = (namespace: string | undefined, name: string): string => (namespace ? `${namespace}/${name}` : name);

/**
 * An in-memory etcd: objects by (group, resource, namespace, name), one global resourceVersion
 * counter, and a bounded log of changes that watches replay from a resourceVersion.
 */
export class ObjectStore {
  private rv = 1000;
  private readonly data = new Map<string, Map<string, KubeObject>>();
  private readonly log: StoreEvent[] = [];
  private readonly subscribers = new Set<(e: StoreEvent) => void>();

  private readonly logLimit: number;
  /** Changes at or before this resourceVersion are compacted: no list snapshot or watch reaches back there. */
  private compactedRv = 0;
  constructor(logLimit = 10_000) {
    this.logLimit = logLimit;
  }

  /** Forgets the history up to now, as etcd's periodic compaction does (every 5 minutes on a real cluster). */
  compact(): void {
    this.compactedRv = this.rv;
    this.log.splice(0);
  }

  /** Whether the history still reaches back to `rv` (the log has every change after it). */
  private reaches(rv: number): boolean {
    if (rv < this.compactedRv) return false;
    const first = this.log[0];
    return !(first && rv < first.rv - 1 && this.log.length >= this.logLimit);
  }

  get resourceVersion(): number {
    return this.rv;
  }

  private bucket(t: ResourceType): Map<string, KubeObject> {
    let b = this.data.get(typeKey(t));
    if (!b) this.data.set(typeKey(t), (b = new Map()));
    return b;
  }

  get(t: ResourceType, namespace: string | undefined, name: string): KubeObject | undefined {
    return clone(this.bucket(t).get(objectKey(t.namespaced ? namespace : undefined, name)));
  }

  /** Objects of a type, in one namespace or all, in etcd key order. */
  list(t: ResourceType, namespace?: string): KubeObject[] {
    const out: [string, KubeObject][] = [];
    for (const [k, o] of this.bucket(t)) if (!namespace || !t.namespaced || o.metadata.namespace === namespace) out.push([k, o]);
    out.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    return out.map(([, o]) => clone(o));
  }

  /**
   * The objects of a type as they were at resourceVersion `rv` (current state with every later
   * change undone), or undefined when the history no longer reaches back there: a consistent
   * snapshot across list pages, as etcd serves later pages at the first page's revision.
   */
  listAt(t: ResourceType, namespace: string | undefined, rv: number): KubeObject[] | undefined {
    if (!this.reaches(rv)) return undefined;
    const key = (o: KubeObject) => objectKey(t.namespaced ? o.metadata.namespace : undefined, o.metadata.name);
    const state = new Map(this.bucket(t));
    for (let i = this.log.length - 1; i >= 0 && this.log[i]!.rv > rv; i--) {
      const e = this.log[i]!;
      if (typeKey(e.t) !== typeKey(t)) continue;
      if (e.type === 'ADDED') state.delete(key(e.object));
      else state.set(key(e.previous!), e.previous!);
    }
    const out = [...state].filter(([, o]) => !namespace || !t.namespaced || o.metadata.namespace === namespace);
    out.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    return out.map(([, o]) => clone(o));
  }

  /** Every object in the store (all types), for cascading deletes. */
  *all(): Generator<[ResourceType, KubeObject]> {
    for (const b of this.data.values()) for (const o of b.values()) yield [this.typeOf(o), o];
  }

  private readonly types = new Map<string, ResourceType>();
  private typeOf(o: KubeObject): ResourceType {
    return this.types.get(`${o.apiVersion}|${o.kind}`)!;
  }

  create(t: ResourceType, input: KubeObject, origin: Origin): KubeObject {
    const obj = clone(input);
    obj.apiVersion = t.group ? `${t.group}/${t.version}` : t.version;
    obj.kind = t.kind;
    this.types.set(`${obj.apiVersion}|${obj.kind}`, t);
    if (!t.namespaced) delete obj.metadata.namespace;
    obj.metadata.uid ??= randomUUID();
    obj.metadata.creationTimestamp ??= nowTimestamp();
    if (t.generation) obj.metadata.generation ??= 1;
    obj.metadata.resourceVersion = String(++this.rv);
    this.bucket(t).set(objectKey(obj.metadata.namespace, obj.metadata.name), obj);
    this.emit({ rv: this.rv, type: 'ADDED', t, object: obj, origin });
    return clone(obj);
  }

  /** Replaces an existing object; uid and creationTimestamp are kept. */
  update(t: ResourceType, input: KubeObject, origin: Origin): KubeObject {
    const key = objectKey(t.namespaced ? input.metadata.namespace : undefined, input.metadata.name);
    const previous = this.bucket(t).get(key);
    if (!previous) throw new Error(`update of a missing object ${typeKey(t)} ${key}`);
    const obj = clone(input);
    obj.apiVersion = previous.apiVersion;
    obj.kind = previous.kind;
    obj.metadata.uid = previous.metadata.uid;
    obj.metadata.creationTimestamp = previous.metadata.creationTimestamp;
    obj.metadata.resourceVersion = String(++this.rv);
    this.bucket(t).set(key, obj);
    this.emit({ rv: this.rv, type: 'MODIFIED', t, object: obj, previous, origin });
    return clone(obj);
  }

  remove(t: ResourceType, namespace: string | undefined, name: string, origin: Origin): KubeObject | undefined {
    const key = objectKey(t.namespaced ? namespace : undefined, name);
    const previous = this.bucket(t).get(key);
    if (!previous) return undefined;
    this.bucket(t).delete(key);
    const obj = { ...clone(previous), metadata: { ...clone(previous.metadata), resourceVersion: String(++this.rv) } };
    this.emit({ rv: this.rv, type: 'DELETED', t, object: obj, previous, origin });
    return clone(obj);
  }

  subscribe(fn: (e: StoreEvent) => void): () => void {
    this.subscribers.add(fn);
    return () => this.subscribers.delete(fn);
  }

  /** Changes after `rv`, or undefined when the log no longer reaches back that far (410 Gone). */
  eventsSince(rv: number): StoreEvent[] | undefined {
    if (!this.reaches(rv)) return undefined;
    return this.log.filter((e) => e.rv > rv);
  }

  private emit(e: StoreEvent): void {
    this.log.push(e);
    if (this.log.length > this.logLimit) this.log.splice(0, this.log.length - this.logLimit);
    for (const fn of [...this.subscribers]) fn(e);
  }
}
