/**
 * The HTTP side of the fake: routes Kubernetes API paths onto the object store, speaks the wire
 * format (Status bodies, content types, chunked watch streams, pagination tokens) and records
 * every request so tests can assert what a client really sent.
 */
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { parse as parseYaml } from 'yaml';
import type { Controllers } from './controllers.ts';
import { PROTOBUF, ProtobufError, decodeProtobuf } from './protobuf.ts';
import { applyDefaults, defaultListKeys } from './defaults.ts';
import { PatchError, jsonMergePatch, jsonPatch, strategicMergePatch } from './patch.ts';
import {
  aggregatedDiscovery,
  aggregatedVersion,
  apiResourceList,
  apiVersionOf,
  findByKind,
  findByResource,
  openApiV3Doc,
  openApiV3Index,
  resourceTypes,
  type ResourceType,
} from './resources.ts';
import {
  SelectorError,
  matchesFields,
  matchesLabels,
  parseFieldSelector,
  parseLabelSelector,
  type FieldRequirement,
  type Requirement,
} from './selectors.ts';
import { ApplyConflictError, printManager, recordUpdate, serverSideApply } from './ssa.ts';
import {
  StatusError,
  alreadyExists,
  qualified,
  badRequest,
  injected,
  methodNotAllowed,
  modifiedConflict,
  notFound,
  pathNotFound,
  status,
  unsupportedMediaType,
} from './status.ts';
import type { ObjectStore, StoreEvent } from './store.ts';
import { FaultInjector, verbOf, type Fault } from './faults.ts';
import { validate } from './validation.ts';
import { clone, deepEqual, isPlainObject, nowTimestamp, type Json, type KubeObject, type RecordedRequest } from './types.ts';

export interface Injection {
  predicate: (r: RecordedRequest) => boolean;
  code: number;
  message?: string;
  remaining: number;
}

export interface ServerOptions {
  /** The bearer token a request must carry (401 otherwise); undefined: anyone may ask. */
  token?: string;
  /** With `token`: only a request carrying another bearer token is refused (401); one without any passes (helm over plain http). */
  tokenWhenSent?: boolean;
  version: Json;
  discoveryApi: Json;
  discoveryApis: Json;
  bookmarkIntervalMs: number;
  /** How long a deleted namespace stays Terminating before it is gone. */
  namespaceTerminationMs: number;
  debug: (line: string) => void;
}

interface Target {
  t: ResourceType;
  namespace?: string;
  name?: string;
  sub?: string;
  watch: boolean;
}

const SAFE = 'bcdfghjklmnpqrstvwxz2456789';
const randomSuffix = () => [...randomBytes(5)].map((b) => SAFE[b % SAFE.length]).join('');

export class Handler {
  readonly requests: RecordedRequest[] = [];
  /** Requests for paths the fake does not serve (answered 404). */
  readonly unknown: RecordedRequest[] = [];
  readonly injections: Injection[] = [];
  readonly faults = new FaultInjector();
  readonly podLogs = new Map<string, string>();
  private readonly open = new Set<ServerResponse>();
  private readonly timers = new Set<NodeJS.Timeout>();

  private readonly store: ObjectStore;
  private readonly controllers: Controllers;
  private readonly opts: ServerOptions;

  constructor(store: ObjectStore, controllers: Controllers, opts: ServerOptions) {
    this.store = store;
    this.controllers = controllers;
    this.opts = opts;
  }

  /** Ends every open watch stream (the server is closing). */
  closeStreams(): void {
    for (const res of this.open) res.destroy();
    this.open.clear();
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }

  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://fake');
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks);
    const protobuf = (req.headers['content-type'] ?? '').startsWith(PROTOBUF);
    let body = raw.toString('utf8');
    let protobufError: string | undefined;
    if (protobuf && raw.length > 0) {
      // Recorded (and handled) as its JSON equivalent, so tests read every body the same way.
      try {
        body = JSON.stringify(decodeProtobuf(raw));
      } catch (e) {
        if (!(e instanceof ProtobufError)) throw e;
        protobufError = e.message;
      }
    }
    const rec: RecordedRequest = {
      method: req.method ?? 'GET',
      path: url.pathname,
      query: Object.fromEntries(url.searchParams.entries()),
      rawQuery: url.search.replace(/^\?/, ''),
      contentType: req.headers['content-type'],
      accept: req.headers.accept,
      userAgent: req.headers['user-agent'],
      body,
      status: 0,
    };
    this.requests.push(rec);
    this.opts.debug(
      `${rec.method} ${rec.path}${rec.rawQuery ? `?${rec.rawQuery}` : ''} ${rec.contentType ?? ''} accept=${rec.accept ?? ''}`,
    );
    // Authentication: like a cluster with anonymous auth limited to the public info endpoints.
    const sent = req.headers.authorization;
    if (this.opts.token !== undefined && sent !== `Bearer ${this.opts.token}` && (!this.opts.tokenWhenSent || sent !== undefined)) {
      if (!['/version', '/healthz', '/livez', '/readyz'].includes(url.pathname)) {
        this.sendJson(res, 401, status(401, 'Unauthorized', 'Unauthorized').body, rec);
        return;
      }
    }
    const target0 = this.parseTarget(url.pathname);
    const fault = this.faults.pick(rec, verbOf(rec, !!target0?.name));
    if (fault) {
      if (fault.latencyMs) {
        rec.fault = `latency ${fault.latencyMs}ms`;
        await new Promise((r) => setTimeout(r, fault.latencyMs));
      }
      if ('drop' in fault) {
        rec.fault = 'drop';
        // After the request was read, as a load balancer or a restarting apiserver does it: the client sees a reset.
        req.socket.destroy();
        return;
      }
      if ('status' in fault) {
        rec.fault = `status ${fault.status}`;
        return this.sendFault(res, fault, rec, target0);
      }
    }
    try {
      const inj = this.injections.find((i) => i.remaining > 0 && i.predicate(rec));
      if (inj) {
        inj.remaining--;
        const target = this.parseTarget(url.pathname);
        const verb =
          rec.method === 'GET'
            ? target?.name
              ? 'get'
              : rec.query.watch
                ? 'watch'
                : 'list'
            : (({ POST: 'create', PUT: 'update', PATCH: 'patch', DELETE: 'delete' } as Record<string, string>)[rec.method] ?? 'get');
        throw injected(inj.code, { verb, t: target?.t, namespace: target?.namespace, name: target?.name }, inj.message);
      }
      if (protobufError) throw unsupportedMediaType(`${PROTOBUF}: ${protobufError}`);
      await this.route(rec, url, res);
    } catch (e) {
      if (e instanceof StatusError) this.sendJson(res, e.code, e.body, rec);
      else {
        this.opts.debug(`internal error: ${String((e as Error)?.stack ?? e)}`);
        const err = status(500, 'InternalError', `Internal error occurred: ${(e as Error)?.message ?? String(e)}`);
        this.sendJson(res, 500, err.body, rec);
      }
    }
  }

  /** An injected error answer, shaped like the component that would send it. */
  private sendFault(res: ServerResponse, fault: Extract<Fault, { status: number }>, rec: RecordedRequest, target?: Target): void {
    rec.status = fault.status;
    const headers: Record<string, string | number> = { 'Cache-Control': 'no-cache, private' };
    if (fault.retryAfterSeconds !== undefined) headers['Retry-After'] = String(fault.retryAfterSeconds);
    let text: string;
    if (fault.status === 502) {
      // Not the apiserver: the load balancer in front of it.
      headers['Content-Type'] = 'text/html';
      text =
        fault.message ?? '<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1></center></body></html>\n';
    } else {
      const verb = verbOf(rec, !!target?.name);
      const err =
        fault.status === 504
          ? status(
              504,
              'Timeout',
              fault.message ?? 'Timeout: request did not complete within requested timeout - context deadline exceeded',
              {},
            )
          : fault.status === 500
            ? status(500, 'InternalError', fault.message ?? 'Internal error occurred: etcdserver: request timed out')
            : injected(fault.status, { verb, t: target?.t, namespace: target?.namespace, name: target?.name }, fault.message);
      if (fault.status === 429) err.body.details = { ...(err.body.details ?? {}), retryAfterSeconds: fault.retryAfterSeconds ?? 1 };
      headers['Content-Type'] = 'application/json';
      text = JSON.stringify(err.body);
    }
    headers['Content-Length'] = Buffer.byteLength(text);
    res.writeHead(fault.status, headers);
    res.end(text);
  }

  private sendJson(res: ServerResponse, code: number, body: unknown, rec: RecordedRequest, contentType = 'application/json'): void {
    rec.status = code;
    if (res.headersSent) {
      res.end();
      return;
    }
    const text = JSON.stringify(body);
    res.writeHead(code, {
      'Content-Type': contentType,
      // /api and /apis answer by Accept (aggregated or legacy): caches must keep both.
      ...(rec.path === '/api' || rec.path === '/apis' ? { Vary: 'Accept' } : {}),
      'Content-Length': Buffer.byteLength(text),
      'Cache-Control': 'no-cache, private',
    });
    res.end(text);
  }

  private sendText(res: ServerResponse, code: number, text: string, rec: RecordedRequest): void {
    rec.status = code;
    res.writeHead(code, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': Buffer.byteLength(text) });
    res.end(text);
  }

  private parseTarget(path: string): Target | undefined {
    const segs = path.split('/').filter(Boolean).map(decodeURIComponent);
    let group: string;
    let version: string;
    let rest: string[];
    if (segs[0] === 'api' && segs.length >= 3) [group, version, rest] = ['', segs[1]!, segs.slice(2)];
    else if (segs[0] === 'apis' && segs.length >= 4) [group, version, rest] = [segs[1]!, segs[2]!, segs.slice(3)];
    else return undefined;
    let watch = false;
    if (rest[0] === 'watch') [watch, rest] = [true, rest.slice(1)];
    if (rest[0] === 'namespaces' && rest.length >= 3) {
      const t = findByResource(group, version, rest[2]!);
      if (t?.namespaced && rest.length <= 5) return { t, namespace: rest[1], name: rest[3], sub: rest[4], watch };
    }
    const t = findByResource(group, version, rest[0]!);
    if (!t || rest.length > 3) return undefined;
    if (t.namespaced && rest.length > 1) return undefined;
    return { t, name: rest[1], sub: rest[2], watch };
  }

  private async route(rec: RecordedRequest, url: URL, res: ServerResponse): Promise<void> {
    const p = url.pathname.replace(/\/+$/, '') || '/';
    if (rec.method === 'GET') {
      const aggregated = (p === '/api' || p === '/apis') && aggregatedVersion(rec.accept);
      if (aggregated) {
        const doc = aggregatedDiscovery(p === '/api' ? [{ name: '', versions: [{ version: 'v1' }] }] : this.groupList().groups, aggregated);
        return this.sendJson(res, 200, doc, rec, `application/json;g=apidiscovery.k8s.io;v=${aggregated};as=APIGroupDiscoveryList`);
      }
      const doc = this.discovery(p);
      if (doc !== undefined) return this.sendJson(res, 200, doc, rec);
      if (p === '/healthz' || p === '/livez' || p === '/readyz') return this.sendText(res, 200, 'ok', rec);
    }
    const target = this.parseTarget(p);
    if (!target) {
      this.unknown.push(rec);
      this.opts.debug(`unknown path: ${rec.method} ${p}`);
      throw pathNotFound();
    }
    const { t, name, sub } = target;
    if (sub && !(t.subresources ?? []).includes(sub)) {
      this.unknown.push(rec);
      throw pathNotFound();
    }
    const watch = target.watch || rec.query.watch === '1' || rec.query.watch === 'true';
    switch (rec.method) {
      case 'GET':
        if (watch) return this.watch(rec, target, res);
        if (!name) return this.sendJson(res, 200, this.list(rec, target), rec);
        if (sub === 'log') return this.sendText(res, 200, this.logs(rec, target), rec);
        return this.sendJson(res, 200, this.read(target, sub), rec);
      case 'POST':
        if (name) throw methodNotAllowed();
        return this.sendJson(res, 201, this.create(rec, target), rec);
      case 'PUT':
        if (!name) throw methodNotAllowed();
        return this.sendJson(res, 200, this.update(rec, target), rec);
      case 'PATCH': {
        if (!name) throw methodNotAllowed();
        const { object, created } = this.patch(rec, target);
        return this.sendJson(res, created ? 201 : 200, object, rec);
      }
      case 'DELETE':
        if (!name) return this.sendJson(res, 200, this.deleteCollection(rec, target), rec);
        return this.sendJson(res, 200, this.delete(rec, target), rec);
      default:
        throw methodNotAllowed();
    }
  }

  // ---- discovery -----------------------------------------------------------------------------

  private discovery(p: string): Json {
    if (p === '/version') return this.opts.version;
    if (p === '/api') return this.opts.discoveryApi;
    if (p === '/apis') return this.groupList();
    if (p === '/api/v1') return apiResourceList('', 'v1');
    if (p === '/openapi/v3') return openApiV3Index();
    const oa = /^\/openapi\/v3\/(?:api\/(v1)|apis\/([^/]+)\/([^/]+))$/.exec(p);
    if (oa) return oa[1] ? openApiV3Doc('', oa[1]) : openApiV3Doc(oa[2]!, oa[3]!);
    const m = /^\/apis\/([^/]+)(?:\/([^/]+))?$/.exec(p);
    if (!m) return undefined;
    const group = this.groupList().groups.find((g: Json) => g.name === m[1]);
    if (!group) return undefined;
    if (!m[2]) return { kind: 'APIGroup', apiVersion: 'v1', ...group };
    if (!group.versions.some((v: Json) => v.version === m[2])) return undefined;
    return apiResourceList(m[1]!, m[2]);
  }

  private groupList(): Json {
    const doc = clone(this.opts.discoveryApis);
    for (const t of resourceTypes) {
      if (!t.group || doc.groups.some((g: Json) => g.name === t.group)) continue;
      const gv = { groupVersion: apiVersionOf(t), version: t.version };
      doc.groups.push({ name: t.group, versions: [gv], preferredVersion: gv });
    }
    return doc;
  }

  // ---- reads ---------------------------------------------------------------------------------

  private read(target: Target, sub?: string): KubeObject {
    const obj = this.store.get(target.t, target.namespace, target.name!);
    if (!obj) throw notFound(target.t, target.name!);
    if (sub === 'scale') {
      return {
        kind: 'Scale',
        apiVersion: 'autoscaling/v1',
        metadata: {
          name: obj.metadata.name,
          namespace: obj.metadata.namespace,
          uid: obj.metadata.uid,
          resourceVersion: obj.metadata.resourceVersion,
          creationTimestamp: obj.metadata.creationTimestamp,
        },
        spec: { replicas: obj.spec?.replicas ?? 1 },
        status: {
          replicas: obj.status?.replicas ?? 0,
          selector: Object.entries(obj.spec?.selector?.matchLabels ?? {})
            .map(([k, v]) => `${k}=${v}`)
            .join(','),
        },
      };
    }
    return obj;
  }

  private selectors(rec: RecordedRequest): { labels: Requirement[]; fields: FieldRequirement[] } {
    try {
      return { labels: parseLabelSelector(rec.query.labelSelector), fields: parseFieldSelector(rec.query.fieldSelector) };
    } catch (e) {
      if (e instanceof SelectorError) throw badRequest(`unable to parse requirement: ${e.message}`);
      throw e;
    }
  }

  private list(rec: RecordedRequest, target: Target): Json {
    const { labels, fields } = this.selectors(rec);
    let rv = this.store.resourceVersion;
    let all = this.store.list(target.t, target.namespace);
    const keyOf = (o: KubeObject) => (o.metadata.namespace ? `${o.metadata.namespace}/${o.metadata.name}` : o.metadata.name);
    let start: string | undefined;
    if (rec.query.continue) {
      let tok: { v: string; rv: number; start: string };
      try {
        tok = JSON.parse(Buffer.from(rec.query.continue, 'base64').toString('utf8')) as { v: string; rv: number; start: string };
        if (tok.v !== 'meta.k8s.io/v1' || typeof tok.start !== 'string' || typeof tok.rv !== 'number') throw new Error('bad token');
      } catch {
        throw badRequest(`continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)`);
      }
      // Later pages are read at the first page's revision (a consistent snapshot), as etcd does;
      // once that revision is compacted the token has expired: 410, and the client starts over.
      const snapshot = this.store.listAt(target.t, target.namespace, tok.rv);
      if (!snapshot) {
        const fresh = Buffer.from(JSON.stringify({ v: 'meta.k8s.io/v1', rv: -1, start: tok.start })).toString('base64');
        const err = status(
          410,
          'Expired',
          'The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list.',
        );
        err.body.metadata = { continue: fresh };
        throw err;
      }
      [rv, all, start] = [tok.rv, snapshot, tok.start];
    }
    let items = all.filter((o) => matchesLabels(labels, o.metadata.labels) && matchesFields(fields, o));
    if (start !== undefined) items = items.filter((o) => keyOf(o) >= start);
    const limit = Number(rec.query.limit ?? 0);
    const meta: Json = { resourceVersion: String(rv) };
    if (limit > 0 && items.length > limit) {
      const last = items[limit - 1]!;
      meta.continue = Buffer.from(JSON.stringify({ v: 'meta.k8s.io/v1', rv, start: `${keyOf(last)}\u0000` })).toString('base64');
      // Like etcd, the count of what remains is only known when nothing filters the keys.
      if (labels.length === 0 && fields.length === 0) meta.remainingItemCount = items.length - limit;
      items = items.slice(0, limit);
    }
    return {
      kind: `${target.t.kind}List`,
      apiVersion: apiVersionOf(target.t),
      metadata: meta,
      items: items.map((o) => {
        const { apiVersion: _a, kind: _k, ...rest } = o;
        return rest;
      }),
    };
  }

  private logs(rec: RecordedRequest, target: Target): string {
    const pod = this.store.get(target.t, target.namespace, target.name!);
    if (!pod) throw notFound(target.t, target.name!);
    const containers: string[] = (pod.spec?.containers ?? []).map((c: Json) => String(c.name));
    const container = rec.query.container ?? (containers.length === 1 ? containers[0] : undefined);
    if (!container) {
      throw badRequest(`a container name must be specified for pod ${target.name}, choose one of: [${containers.join(' ')}]`);
    }
    if (!containers.includes(container)) throw badRequest(`container ${container} is not valid for pod ${target.name}`);
    const set =
      this.podLogs.get(`${target.namespace}/${target.name}/${container}`) ?? this.podLogs.get(`${target.namespace}/${target.name}/`);
    if (set !== undefined) return set;
    const cs = (pod.status?.containerStatuses ?? []).find((s: Json) => s.name === container);
    if (cs?.state?.waiting?.reason === 'CrashLoopBackOff')
      return `starting ${cs.image}\nError: listen tcp :3000: fake crash (image ${cs.image})\n`;
    if (cs?.state?.running) return `starting ${cs.image}\nlistening on :3000\n`;
    return '';
  }

  // ---- watch -----------------------------------------------------------------------------------

  private watch(rec: RecordedRequest, target: Target, res: ServerResponse): void {
    const { labels, fields } = this.selectors(rec);
    const matches = (o: KubeObject | undefined) =>
      !!o &&
      (!target.namespace || o.metadata.namespace === target.namespace) &&
      (!target.name || o.metadata.name === target.name) &&
      matchesLabels(labels, o.metadata.labels) &&
      matchesFields(fields, o);
    const rvParam = rec.query.resourceVersion ?? '';
    const sendInitial = rec.query.sendInitialEvents === 'true';
    const bookmarks = rec.query.allowWatchBookmarks === 'true' || rec.query.allowWatchBookmarks === '1';
    const gvk = { kind: target.t.kind, apiVersion: apiVersionOf(target.t) };

    rec.status = 200;
    res.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-cache, private', 'Transfer-Encoding': 'chunked' });
    res.flushHeaders();
    this.open.add(res);
    const write = (type: string, object: Json) => {
      if (!res.writableEnded && !res.destroyed) res.write(`${JSON.stringify({ type, object })}\n`);
    };
    const bookmark = (initialEnd = false) =>
      write('BOOKMARK', {
        ...gvk,
        metadata: {
          resourceVersion: String(this.store.resourceVersion),
          creationTimestamp: null,
          ...(initialEnd ? { annotations: { 'k8s.io/initial-events-end': 'true' } } : {}),
        },
      });
    const translate = (e: StoreEvent) => {
      if (e.t !== target.t) return;
      const now = e.type !== 'DELETED' && matches(e.object);
      const before = e.type !== 'ADDED' && matches(e.previous);
      if (e.type === 'DELETED') {
        if (before) write('DELETED', e.object);
      } else if (now && before) write('MODIFIED', e.object);
      else if (now) write('ADDED', e.object);
      else if (before) write('DELETED', e.object);
    };

    const finish = () => {
      unsubscribe();
      clearInterval(timer);
      clearTimeout(timeout);
      this.open.delete(res);
      if (!res.writableEnded) res.end();
    };
    if (rvParam === '' || rvParam === '0' || sendInitial) {
      for (const o of this.store.list(target.t, target.namespace)) if (matches(o)) write('ADDED', o);
      if (sendInitial) bookmark(true);
    } else {
      const since = this.store.eventsSince(Number(rvParam));
      if (!since || !/^\d+$/.test(rvParam)) {
        write('ERROR', status(410, 'Expired', `too old resource version: ${rvParam} (${this.store.resourceVersion})`).body);
        res.end();
        this.open.delete(res);
        return;
      }
      for (const e of since) translate(e);
    }
    const unsubscribe = this.store.subscribe(translate);
    const timer = bookmarks ? setInterval(() => bookmark(), this.opts.bookmarkIntervalMs) : undefined;
    const seconds = Number(rec.query.timeoutSeconds ?? 0);
    const timeout = seconds > 0 ? setTimeout(finish, seconds * 1000) : undefined;
    timer?.unref();
    timeout?.unref();
    res.on('close', finish);
  }

  // ---- writes --------------------------------------------------------------------------------

  private body(rec: RecordedRequest): Json {
    if (!rec.body.trim()) throw badRequest('the body of the request was empty');
    const ct = (rec.contentType ?? 'application/json').split(';')[0]!.trim();
    try {
      if (ct === 'application/yaml' || ct === 'application/apply-patch+yaml') return parseYaml(rec.body);
      if (ct.includes('json') || ct === PROTOBUF) return JSON.parse(rec.body);
    } catch (e) {
      throw badRequest(`error decoding ${ct.includes('yaml') ? 'YAML' : 'JSON'}: ${(e as Error).message}`);
    }
    throw unsupportedMediaType(ct);
  }

  /** The field manager of a write: `fieldManager`, else the user agent's program name (`curl`, `helm`). */
  private manager(rec: RecordedRequest): string {
    return rec.query.fieldManager || (rec.userAgent ?? 'unknown').split('/')[0]!.trim() || 'unknown';
  }

  private dryRun(rec: RecordedRequest): boolean {
    return rec.query.dryRun === 'All';
  }

  /** A create in `ns` must find it, and not Terminating (the NamespaceLifecycle admission plugin). */
  private ensureNamespace(t: ResourceType, ns: string | undefined, name: string): void {
    if (!t.namespaced) return;
    const nsType = findByKind('v1', 'Namespace')!;
    const found = ns ? this.store.get(nsType, undefined, ns) : undefined;
    if (!found) throw notFound(nsType, ns ?? '');
    if (found.metadata.deletionTimestamp) {
      throw status(
        403,
        'Forbidden',
        `${qualified(t)} "${name}" is forbidden: unable to create new content in namespace ${ns} because it is being terminated`,
        {
          name,
          ...(t.group ? { group: t.group } : {}),
          kind: t.resource,
          causes: [{ reason: 'NamespaceTerminating', message: `namespace ${ns} is being terminated`, field: 'metadata.namespace' }],
        },
      );
    }
  }

  /**
   * A deleted namespace is not gone at once: it turns Terminating (deletionTimestamp, phase,
   * the `kubernetes` finalizer) while the namespace controller deletes its content, and only
   * then disappears. Until it does, nothing new can be created in it and it cannot be re-created.
   */
  private terminateNamespace(t: ResourceType, obj: KubeObject): KubeObject {
    if (obj.metadata.deletionTimestamp) return obj;
    const next = clone(obj);
    next.metadata.deletionTimestamp = nowTimestamp();
    next.spec = { ...(next.spec ?? {}), finalizers: ['kubernetes'] };
    next.status = {
      ...(next.status ?? {}),
      phase: 'Terminating',
      conditions: [
        {
          type: 'NamespaceDeletionContentFailure',
          status: 'False',
          lastTransitionTime: nowTimestamp(),
          reason: 'ContentDeleted',
          message: 'All content successfully deleted, may be waiting on finalization',
        },
      ],
    };
    const stored = this.store.update(t, next, 'controller');
    const name = obj.metadata.name;
    for (const [ct, o] of [...this.store.all()]) if (o.metadata.namespace === name) this.cascadeDelete(ct, o, 'Background');
    this.controllers.run();
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      const cur = this.store.get(t, undefined, name);
      if (cur && cur.metadata.uid === obj.metadata.uid) this.cascadeDelete(t, cur, 'Background');
      this.controllers.run();
    }, this.opts.namespaceTerminationMs);
    timer.unref();
    this.timers.add(timer);
    return stored;
  }

  /** Defaults, generation, status protection, field ownership; then stores (unless dry run). */
  private persist(
    rec: RecordedRequest,
    t: ResourceType,
    before: KubeObject | undefined,
    after: KubeObject,
    opts: { subresource?: string; applied?: boolean } = {},
  ): KubeObject {
    const obj = clone(after);
    obj.apiVersion = apiVersionOf(t);
    obj.kind = t.kind;
    if (before) {
      obj.metadata.uid = before.metadata.uid;
      obj.metadata.creationTimestamp = before.metadata.creationTimestamp;
      obj.metadata.resourceVersion = before.metadata.resourceVersion;
      obj.metadata.generation = before.metadata.generation;
      obj.metadata.namespace = before.metadata.namespace;
      obj.metadata.name = before.metadata.name;
    }
    const hasStatus = (t.subresources ?? []).includes('status');
    if (opts.subresource === 'status') {
      const status = obj.status;
      Object.assign(obj, clone(before!));
      obj.status = status;
    } else if (hasStatus) {
      if (before) obj.status = clone(before.status);
      else delete obj.status;
    }
    applyDefaults(obj);
    if (opts.subresource !== 'status') {
      const invalid = validate(t, obj, before);
      if (invalid) throw invalid;
    }
    if (t.generation) {
      if (!before) obj.metadata.generation = 1;
      else if (!deepEqual(before.spec, obj.spec)) obj.metadata.generation = (before.metadata.generation ?? 1) + 1;
    }
    let out = obj;
    if (!opts.applied) {
      const clientSet =
        !deepEqual(obj.metadata.managedFields ?? [], before?.metadata.managedFields ?? []) && (obj.metadata.managedFields?.length ?? 0) > 0;
      if (!clientSet) {
        if (before) obj.metadata.managedFields = before.metadata.managedFields;
        else delete obj.metadata.managedFields;
        out = recordUpdate(before, obj, this.manager(rec), opts.subresource);
      }
    }
    if (before && deepEqual(before, out)) return before;
    if (this.dryRun(rec)) return out;
    const stored = before ? this.store.update(t, out, 'api') : this.store.create(t, out, 'api');
    this.controllers.run();
    return stored;
  }

  private create(rec: RecordedRequest, target: Target): KubeObject {
    const { t } = target;
    const obj = this.body(rec) as KubeObject;
    if (!isPlainObject(obj) || !isPlainObject(obj.metadata)) throw badRequest(`Object 'metadata' is missing in '${rec.body.slice(0, 80)}'`);
    if (obj.kind && obj.kind !== t.kind)
      throw badRequest(`the API version in the data (${obj.apiVersion}) does not match the expected API version (${apiVersionOf(t)})`);
    if (t.namespaced) {
      if (obj.metadata.namespace && obj.metadata.namespace !== target.namespace) {
        throw badRequest('the namespace of the provided object does not match the namespace sent on the request');
      }
      obj.metadata.namespace = target.namespace;
    }
    if (!obj.metadata.name && obj.metadata.generateName) obj.metadata.name = `${obj.metadata.generateName}${randomSuffix()}`;
    if (!obj.metadata.name) {
      throw status(422, 'Invalid', `${t.kind} "" is invalid: metadata.name: Required value: name or generateName is required`, {
        kind: t.kind,
        causes: [{ reason: 'FieldValueRequired', message: 'Required value: name or generateName is required', field: 'metadata.name' }],
      });
    }
    this.ensureNamespace(t, target.namespace, obj.metadata.name);
    const existing = this.store.get(t, target.namespace, obj.metadata.name);
    if (existing?.metadata.deletionTimestamp) {
      throw status(409, 'AlreadyExists', `object is being deleted: ${qualified(t)} "${obj.metadata.name}" already exists`, {
        name: obj.metadata.name,
        ...(t.group ? { group: t.group } : {}),
        kind: t.resource,
      });
    }
    if (existing) throw alreadyExists(t, obj.metadata.name);
    for (const k of ['uid', 'resourceVersion', 'creationTimestamp', 'generation', 'deletionTimestamp'] as const) delete obj.metadata[k];
    return this.persist(rec, t, undefined, obj);
  }

  private update(rec: RecordedRequest, target: Target): KubeObject {
    const { t } = target;
    const name = target.name!;
    const obj = this.body(rec) as KubeObject;
    if (!isPlainObject(obj) || !isPlainObject(obj.metadata)) throw badRequest("Object 'metadata' is missing");
    if (obj.metadata.name && obj.metadata.name !== name) {
      throw badRequest(`the name of the object (${obj.metadata.name}) does not match the name on the URL (${name})`);
    }
    const before = this.store.get(t, target.namespace, name);
    if (!before) throw notFound(t, name);
    if (obj.metadata.resourceVersion && obj.metadata.resourceVersion !== before.metadata.resourceVersion) throw modifiedConflict(t, name);
    return this.persist(rec, t, before, { ...obj, metadata: { ...obj.metadata, name } }, { subresource: target.sub });
  }

  private patch(rec: RecordedRequest, target: Target): { object: KubeObject; created: boolean } {
    const { t } = target;
    const name = target.name!;
    const ct = (rec.contentType ?? '').split(';')[0]!.trim();
    const before = this.store.get(t, target.namespace, name);
    if (ct === 'application/apply-patch+yaml') {
      const applied = this.body(rec) as KubeObject;
      if (!isPlainObject(applied) || !applied.apiVersion || !applied.kind)
        throw badRequest('apply patches must specify apiVersion and kind');
      if (applied.kind !== t.kind || applied.apiVersion !== apiVersionOf(t)) {
        throw badRequest(
          `the API version in the data (${applied.apiVersion}) does not match the expected API version (${apiVersionOf(t)})`,
        );
      }
      if (applied.metadata?.name && applied.metadata.name !== name) {
        throw badRequest(`the name of the object (${applied.metadata.name}) does not match the name on the URL (${name})`);
      }
      if (!rec.query.fieldManager) throw badRequest('PATCH, application/apply-patch+yaml requires fieldManager to be set');
      if (!before) this.ensureNamespace(t, target.namespace, name);
      const desired = clone(applied);
      desired.metadata = { ...(desired.metadata ?? {}), name, ...(t.namespaced ? { namespace: target.namespace } : {}) };
      defaultListKeys(desired);
      let merged: KubeObject;
      try {
        merged = serverSideApply(before, desired, rec.query.fieldManager, rec.query.force === 'true');
      } catch (e) {
        if (e instanceof ApplyConflictError) {
          throw status(409, 'Conflict', e.message, {
            causes: e.conflicts.map((c) => ({
              reason: 'FieldManagerConflict',
              message: `conflict with ${printManager(c.manager)}`,
              field: c.path,
            })),
          });
        }
        throw e;
      }
      return { object: this.persist(rec, t, before, merged, { applied: true, subresource: target.sub }), created: !before };
    }
    if (!before) throw notFound(t, name);
    if (!['application/json-patch+json', 'application/merge-patch+json', 'application/strategic-merge-patch+json'].includes(ct)) {
      throw status(
        415,
        'UnsupportedMediaType',
        `the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml, application/strategic-merge-patch+json`,
      );
    }
    let patch: Json;
    try {
      patch = JSON.parse(rec.body);
    } catch (e) {
      throw badRequest(`error decoding patch: ${(e as Error).message}`);
    }
    let next: KubeObject;
    try {
      if (ct === 'application/json-patch+json') next = jsonPatch(before, patch);
      else if (!isPlainObject(patch))
        throw new PatchError(
          `error decoding patch: json: cannot unmarshal ${Array.isArray(patch) ? 'array' : typeof patch} into Go value of type map[string]interface {}`,
        );
      else next = ct === 'application/merge-patch+json' ? jsonMergePatch(before, patch) : strategicMergePatch(before, patch);
    } catch (e) {
      if (e instanceof PatchError) throw e.code === 422 ? status(422, 'Invalid', e.message) : badRequest(e.message);
      throw e;
    }
    if (!isPlainObject(next) || !isPlainObject(next.metadata)) throw badRequest('the patch removed the object metadata');
    if (next.metadata.resourceVersion && next.metadata.resourceVersion !== before.metadata.resourceVersion) throw modifiedConflict(t, name);
    return { object: this.persist(rec, t, before, next, { subresource: target.sub }), created: false };
  }

  private deleteOptions(rec: RecordedRequest): { policy: string; preconditions?: { uid?: string; resourceVersion?: string } } {
    let body: Json = {};
    if (rec.body.trim()) {
      try {
        body = JSON.parse(rec.body);
      } catch {
        throw badRequest('error decoding DeleteOptions');
      }
    }
    if (rec.query.dryRun) body.dryRun = [rec.query.dryRun];
    let policy = rec.query.propagationPolicy ?? body.propagationPolicy;
    if (!policy && body.orphanDependents === true) policy = 'Orphan';
    return { policy: policy ?? 'Background', preconditions: body.preconditions };
  }

  private delete(rec: RecordedRequest, target: Target): Json {
    const { t } = target;
    const name = target.name!;
    const obj = this.store.get(t, target.namespace, name);
    if (!obj) throw notFound(t, name);
    const { policy, preconditions } = this.deleteOptions(rec);
    if (preconditions?.uid && preconditions.uid !== obj.metadata.uid) {
      throw status(
        409,
        'Conflict',
        `Operation cannot be fulfilled on ${t.resource} "${name}": Precondition failed: UID in precondition: ${preconditions.uid}, UID in object meta: ${obj.metadata.uid}`,
      );
    }
    if (preconditions?.resourceVersion && preconditions.resourceVersion !== obj.metadata.resourceVersion) throw modifiedConflict(t, name);
    // The API answers a namespace delete with the namespace, now Terminating.
    if (t.kind === 'Namespace') return this.dryRun(rec) ? obj : this.terminateNamespace(t, obj);
    if (!this.dryRun(rec)) {
      this.cascadeDelete(t, obj, policy);
      this.controllers.run();
    }
    if (t.kind === 'Pod') return { ...obj, metadata: { ...obj.metadata, deletionTimestamp: nowTimestamp() } };
    return {
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Success',
      details: { name, ...(t.group ? { group: t.group } : {}), kind: t.resource, uid: obj.metadata.uid },
    };
  }

  private deleteCollection(rec: RecordedRequest, target: Target): Json {
    const { labels, fields } = this.selectors(rec);
    const { policy } = this.deleteOptions(rec);
    const items = this.store
      .list(target.t, target.namespace)
      .filter((o) => matchesLabels(labels, o.metadata.labels) && matchesFields(fields, o));
    if (!this.dryRun(rec)) {
      for (const o of items) this.cascadeDelete(target.t, o, policy);
      this.controllers.run();
    }
    return {
      kind: `${target.t.kind}List`,
      apiVersion: apiVersionOf(target.t),
      metadata: { resourceVersion: String(this.store.resourceVersion) },
      items,
    };
  }

  /** Deletes an object, then its dependents (owner first, so no controller re-creates them), or orphans them. */
  cascadeDelete(t: ResourceType, obj: KubeObject, policy: string): void {
    if (!this.store.remove(t, obj.metadata.namespace, obj.metadata.name, 'api')) return;
    if (t.kind === 'Namespace') {
      for (const [ct, o] of [...this.store.all()]) if (o.metadata.namespace === obj.metadata.name) this.cascadeDelete(ct, o, 'Background');
      return;
    }
    const uid = obj.metadata.uid;
    for (const [ct, o] of [...this.store.all()]) {
      if (!o.metadata.ownerReferences?.some((r) => r.uid === uid)) continue;
      if (policy === 'Orphan') {
        const next = clone(o);
        next.metadata.ownerReferences = o.metadata.ownerReferences.filter((r) => r.uid !== uid);
        if (next.metadata.ownerReferences.length === 0) delete next.metadata.ownerReferences;
        this.store.update(ct, next, 'api');
      } else this.cascadeDelete(ct, o, 'Background');
    }
  }
}
