/**
 * A Kubernetes API server fake at the HTTP wire level, real enough for the real helm 3 and helm 4
 * binaries (install/upgrade with --wait, history, status, rollback, uninstall) and for
 * @kubernetes/client-node. Answers are shaped on the recorded responses in kube-fixtures/.
 *
 *   const kube = await startFakeKube();
 *   kube.addTenantNamespaces(['tenant-alpha']);
 *   // helm: env KUBECONFIG=kube.kubeconfigPath; client-node: loadFromString(kube.kubeconfigYaml)
 *   await kube.close();
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { fixturesDir as defaultFixturesDir } from '../tools.ts';
import { Controllers, defaultImageBehaviour, type PodBehaviour } from './controllers.ts';
import { applyDefaults } from './defaults.ts';
import { apiVersionOf, findByKind, findLoosely, type ResourceType } from './resources.ts';
import { Handler } from './server.ts';
import { ObjectStore } from './store.ts';
import { clone, type Json, type KubeObject, type RecordedRequest } from './types.ts';

export type { KubeObject, RecordedRequest } from './types.ts';
export type { PodBehaviour } from './controllers.ts';
export type { Fault, FaultRule, InjectOptions, RequestMatch, Verb } from './faults.ts';
import type { Fault, FaultRule, InjectOptions, RequestMatch } from './faults.ts';
export { defaultImageBehaviour } from './controllers.ts';

export interface FakeKubeOptions {
  /** Where version.json, discovery-api.json and discovery-apis.json are read (default: test/fixtures/kube, the recorded fixtures). */
  fixturesDir?: string;
  /** Objects stored as they are before the server starts (no controller touches them until a client writes them). */
  objects?: KubeObject[];
  /** What a container does for an image (default: tag `bad` crash-loops, `missing` cannot pull, `pending` never starts). */
  imageBehaviour?: (image: string) => PodBehaviour;
  /** How often a crash-looping container's restartCount grows (default 1000 ms). */
  crashLoopIntervalMs?: number;
  /** How long a healthy pod takes to become Ready (default 0: at once). */
  podReadyDelayMs?: number;
  /** Interval of BOOKMARK events on watches that allow them (default 1000 ms). */
  bookmarkIntervalMs?: number;
  /** How long a namespace deleted through the API stays Terminating before it is gone (default 1000 ms). */
  namespaceTerminationMs?: number;
  /**
   * Answer 401 to requests without the kubeconfig's bearer token (/version and /healthz stay open).
   * Default false: helm (client-go) sends no bearer token to a plain-http server, so only
   * client-node and raw clients can be held to it.
   */
  requireToken?: boolean | 'when-sent';
  /** Receives one line per request and per unknown path (default: silent; FAKE_KUBE_DEBUG=1 prints to stderr). */
  log?: (line: string) => void;
}

export interface FailOptions {
  /** Overrides the canned Status message. */
  message?: string;
  /** How many matching requests fail (default 1). */
  times?: number;
}

export interface FakeKube {
  /** `http://127.0.0.1:<port>` */
  url: string;
  /** A kubeconfig file (mode 0600) whose context `fake` points at `url` with a bearer token. */
  kubeconfigPath: string;
  kubeconfigYaml: string;
  /** The bearer token in the kubeconfig, so tests can assert it is never printed. */
  token: string;
  /** Every request received, in order. */
  requests: RecordedRequest[];
  /** Requests for paths the fake does not serve (answered 404 Status). */
  unknownRequests: RecordedRequest[];
  /** Stores an object as given (create or replace); no controller reacts. `kindOrResource` accepts `Deployment`, `deployments`, `deploy`. */
  put(obj: KubeObject): KubeObject;
  get(kindOrResource: string, namespace: string | undefined, name: string): KubeObject | undefined;
  list(kindOrResource: string, namespace?: string): KubeObject[];
  /**
   * Server-side applies `obj` through the HTTP API (as field manager `fieldManager`, default `test`),
   * so controllers react as they do to any client. Throws with the Status message on failure.
   */
  apply(obj: KubeObject, opts?: { fieldManager?: string; force?: boolean }): Promise<KubeObject>;
  /** Deletes like the API would (Background propagation: owned objects go too). */
  remove(kindOrResource: string, namespace: string | undefined, name: string): boolean;
  addNamespaces(names: string[], labels?: Record<string, string>): void;
  /** Namespaces labelled `app.kubernetes.io/component=tenant` (names used as given). */
  addTenantNamespaces(names: string[], labels?: Record<string, string>): void;
  /** The text `GET .../pods/<pod>/log` answers (for one container, or all when omitted). */
  setPodLogs(namespace: string, pod: string, text: string, container?: string): void;
  /** The next request(s) matching `predicate` get a Status error with this HTTP code instead of an answer. */
  failNext(predicate: (r: RecordedRequest) => boolean, code: number, opts?: FailOptions): void;
  /**
   * Injects a fault (429 with Retry-After, 5xx, a dropped connection, latency) into matching
   * requests: deterministically (`skip` N, then `times` M) or at a seeded `rate`. See faults.ts.
   */
  inject(match: RequestMatch | ((r: RecordedRequest) => boolean), fault: Fault, opts?: InjectOptions): FaultRule;
  /**
   * Compacts the history up to the current resourceVersion, as etcd does every 5 minutes: `continue`
   * tokens and watch resourceVersions older than it get 410 Gone `Expired`.
   */
  compact(): void;
  /** Ends every injected fault rule. */
  clearFaults(): void;
  /**
   * The most helm releases that were being installed or upgraded at once (a release is in flight
   * while its newest storage Secret is `pending-*`), and the number now.
   */
  readonly upgrades: { max: number; now: number };
  /** Forgets the recorded requests. */
  clearRequests(): void;
  close(): Promise<void>;
}

const readJson = (dir: string, file: string, fallback: Json): Json => {
  try {
    return JSON.parse(readFileSync(join(dir, file), 'utf8'));
  } catch {
    return fallback;
  }
};

export async function startFakeKube(options: FakeKubeOptions = {}): Promise<FakeKube> {
  const dir = options.fixturesDir ?? defaultFixturesDir;
  const store = new ObjectStore();
  const controllers = new Controllers(store, {
    imageBehaviour: options.imageBehaviour ?? defaultImageBehaviour,
    crashLoopIntervalMs: options.crashLoopIntervalMs ?? 1000,
    podReadyDelayMs: options.podReadyDelayMs ?? 0,
  });
  const debugEnv = process.env.FAKE_KUBE_DEBUG === '1';
  const log = options.log ?? (debugEnv ? (l: string) => process.stderr.write(`[fake-kube] ${l}\n`) : () => {});
  const token = `fake-token-${randomBytes(12).toString('hex')}`;
  const handler = new Handler(store, controllers, {
    token: options.requireToken ? token : undefined,
    tokenWhenSent: options.requireToken === 'when-sent',
    version: readJson(dir, 'version.json', { major: '1', minor: '32', gitVersion: 'v1.32.13', platform: 'linux/amd64' }),
    discoveryApi: readJson(dir, 'discovery-api.json', { kind: 'APIVersions', versions: ['v1'] }),
    discoveryApis: readJson(dir, 'discovery-apis.json', { kind: 'APIGroupList', apiVersion: 'v1', groups: [] }),
    bookmarkIntervalMs: options.bookmarkIntervalMs ?? 1000,
    namespaceTerminationMs: options.namespaceTerminationMs ?? 1000,
    debug: log,
  });

  const typeOf = (kindOrResource: string): ResourceType => {
    const t = findLoosely(kindOrResource);
    if (!t) throw new Error(`fake-kube: unknown kind or resource ${kindOrResource}`);
    return t;
  };
  const put = (input: KubeObject): KubeObject => {
    const t = findByKind(input.apiVersion, input.kind) ?? typeOf(input.kind);
    const obj = clone(input);
    obj.apiVersion = apiVersionOf(t);
    applyDefaults(obj);
    const exists = store.get(t, obj.metadata.namespace, obj.metadata.name);
    return exists ? store.update(t, obj, 'seed') : store.create(t, obj, 'seed');
  };
  const nsType = findByKind('v1', 'Namespace')!;
  const addNamespaces = (names: string[], labels: Record<string, string> = {}) => {
    for (const name of names) {
      if (store.get(nsType, undefined, name)) continue;
      put({ apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels: { ...labels } } });
    }
  };
  addNamespaces(['default', 'kube-system', 'kube-public']);
  for (const o of options.objects ?? []) {
    if (o.metadata.namespace) addNamespaces([o.metadata.namespace]);
    put(o);
  }

  const sockets = new Set<Socket>();
  const server: Server = createServer((req, res) => {
    // A client that hangs up mid-request must not become an unhandled rejection in the test run.
    handler.handle(req, res).catch(() => res.destroy());
  });
  server.keepAliveTimeout = 5000;
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const addr = server.address();
  if (!addr || typeof addr === 'string') throw new Error('fake-kube: no port');
  const url = `http://127.0.0.1:${addr.port}`;
  const kubeconfigYaml = [
    'apiVersion: v1',
    'kind: Config',
    'clusters:',
    '- name: fake',
    '  cluster:',
    `    server: ${url}`,
    // client-node refuses a plain-http server unless this is set (client-go ignores it for http).
    '    insecure-skip-tls-verify: true',
    'users:',
    '- name: fake',
    '  user:',
    `    token: ${token}`,
    'contexts:',
    '- name: fake',
    '  context:',
    '    cluster: fake',
    '    user: fake',
    '    namespace: default',
    'current-context: fake',
    '',
  ].join('\n');
  const tmp = mkdtempSync(join(tmpdir(), 'fake-kube-'));
  const kubeconfigPath = join(tmp, 'kubeconfig');
  writeFileSync(kubeconfigPath, kubeconfigYaml, { mode: 0o600 });

  // Helm release storage Secrets whose status is pending-*: an install/upgrade/rollback in flight.
  const pending = new Map<string, string>();
  const upgrades = { max: 0, now: 0 };
  store.subscribe((e) => {
    if (e.t.kind !== 'Secret' || e.object.metadata.labels?.owner !== 'helm') return;
    const key = `${e.object.metadata.namespace}/${e.object.metadata.name}`;
    const st = e.object.metadata.labels?.status ?? '';
    if (e.type !== 'DELETED' && st.startsWith('pending'))
      pending.set(key, `${e.object.metadata.namespace}/${e.object.metadata.labels?.name}`);
    else pending.delete(key);
    upgrades.now = new Set(pending.values()).size;
    upgrades.max = Math.max(upgrades.max, upgrades.now);
  });
  let closed = false;
  return {
    upgrades,
    url,
    kubeconfigPath,
    kubeconfigYaml,
    token,
    requests: handler.requests,
    unknownRequests: handler.unknown,
    put,
    get: (k, ns, name) => store.get(typeOf(k), ns, name),
    list: (k, ns) => store.list(typeOf(k), ns),
    async apply(obj, opts = {}) {
      const t = findByKind(obj.apiVersion, obj.kind);
      if (!t) throw new Error(`fake-kube: unknown kind ${obj.apiVersion} ${obj.kind}`);
      const ns = t.namespaced ? (obj.metadata.namespace ?? 'default') : undefined;
      const base = t.group ? `/apis/${t.group}/${t.version}` : `/api/${t.version}`;
      const path = `${base}${ns ? `/namespaces/${ns}` : ''}/${t.resource}/${encodeURIComponent(obj.metadata.name)}`;
      const q = new URLSearchParams({ fieldManager: opts.fieldManager ?? 'test', ...(opts.force ? { force: 'true' } : {}) });
      const res = await fetch(`${url}${path}?${q}`, {
        method: 'PATCH',
        headers: { 'Content-Type': 'application/apply-patch+yaml', Authorization: `Bearer ${token}`, 'User-Agent': 'fake-kube-test' },
        body: JSON.stringify(obj),
      });
      const body = (await res.json()) as Json;
      if (!res.ok) throw new Error(`fake-kube apply ${obj.kind}/${obj.metadata.name}: ${body?.message ?? res.status}`);
      return body as KubeObject;
    },
    remove(k, ns, name) {
      const t = typeOf(k);
      const obj = store.get(t, ns, name);
      if (!obj) return false;
      handler.cascadeDelete(t, obj, 'Background');
      controllers.run();
      return true;
    },
    addNamespaces,
    addTenantNamespaces: (names, labels = {}) => addNamespaces(names, { 'app.kubernetes.io/component': 'tenant', ...labels }),
    setPodLogs: (ns, pod, text, container) => void handler.podLogs.set(`${ns}/${pod}/${container ?? ''}`, text),
    failNext: (predicate, code, opts = {}) =>
      void handler.injections.push({ predicate, code, message: opts.message, remaining: opts.times ?? 1 }),
    inject: (match, fault, opts) => handler.faults.add(match, fault, opts),
    compact: () => store.compact(),
    clearFaults: () => handler.faults.clear(),
    clearRequests: () => void handler.requests.splice(0),
    async close() {
      if (closed) return;
      closed = true;
      controllers.close();
      handler.closeStreams();
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      rmSync(tmp, { recursive: true, force: true });
    },
  };
}
