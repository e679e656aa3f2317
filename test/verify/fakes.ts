import type { Clock } from '../../src/core/clock.ts';
import type { Cluster, PodInfo, ReleaseHealth, WorkloadInfo } from '../../src/kube/ports.ts';
import type { Http, HttpRequest, HttpResponse } from '../../src/core/http.ts';

/**
 * Virtual time: `sleep` registers a timer; whenever the program has nothing else to do
 * (after the microtask queue drains, on the next macrotask) the earliest timer fires and the
 * clock jumps to it. Concurrent sleeps therefore fire in due order, so a request that "takes"
 * 5s (a fake sleeping 5s) loses against a 1s timeout, in microseconds of real time.
 * Only for code whose collaborators are in-memory fakes (real I/O would race the jumps).
 */
export class VirtualClock implements Clock {
  private timers: { due: number; seq: number; fire: () => void }[] = [];
  private seq = 0;
  private scheduled = false;
  readonly sleeps: number[] = [];
  constructor(public t = 1_700_000_000_000) {}

  now(): number {
    return this.t;
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    this.sleeps.push(ms);
    return new Promise((resolve) => {
      if (signal?.aborted) return resolve();
      const timer = {
        due: this.t + Math.max(0, ms),
        seq: this.seq++,
        fire: () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        },
      };
      const onAbort = () => {
        this.timers = this.timers.filter((x) => x !== timer);
        resolve();
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.timers.push(timer);
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      if (this.timers.length === 0) return;
      this.timers.sort((a, b) => a.due - b.due || a.seq - b.seq);
      const next = this.timers.shift()!;
      this.t = Math.max(this.t, next.due);
      next.fire();
      if (this.timers.length) this.schedule();
    });
  }
}

type Handler = (req: HttpRequest) => Promise<HttpResponse> | HttpResponse;

/** An Http port answering from a table of `METHOD url` -> handler; any other request throws. */
export class FakeHttp implements Http {
  readonly requests: HttpRequest[] = [];
  constructor(private readonly routes: Record<string, Handler>) {}
  async request(req: HttpRequest): Promise<HttpResponse> {
    this.requests.push(req);
    const h = this.routes[`${req.method} ${req.url}`];
    if (!h) throw new Error(`FakeHttp: unexpected request ${req.method} ${req.url}`);
    return h(req);
  }
}

export const json = (status: number, body: unknown): HttpResponse => ({
  status,
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify(body),
});

/** A Cluster whose releaseHealth answers from a queue per release; everything else throws. */
export class FakeCluster implements Cluster {
  readonly calls: string[] = [];
  private readonly health = new Map<string, (ReleaseHealth | Error | (() => ReleaseHealth))[]>();
  private readonly logs = new Map<string, string[]>();

  /** Successive answers for `namespace/release` (the last one repeats); a function is asked each time. */
  setHealth(namespace: string, release: string, ...answers: (ReleaseHealth | Error | (() => ReleaseHealth))[]): this {
    this.health.set(`${namespace}/${release}`, answers);
    return this;
  }

  /** Successive log texts for `namespace/pod` (the last one repeats). */
  setLogs(namespace: string, pod: string, ...texts: string[]): this {
    this.logs.set(`${namespace}/${pod}`, texts);
    return this;
  }

  async releaseHealth(namespace: string, release: string): Promise<ReleaseHealth> {
    this.calls.push(`releaseHealth ${namespace}/${release}`);
    const q = this.health.get(`${namespace}/${release}`);
    if (!q) throw new Error(`FakeCluster: releaseHealth(${namespace}, ${release}) was not set up`);
    const a = q.length > 1 ? q.shift()! : q[0]!;
    if (a instanceof Error) throw a;
    return typeof a === 'function' ? a() : a;
  }

  async podLogs(namespace: string, pod: string, sinceSeconds: number): Promise<string> {
    this.calls.push(`podLogs ${namespace}/${pod} ${sinceSeconds}`);
    const q = this.logs.get(`${namespace}/${pod}`);
    if (!q) throw new Error(`FakeCluster: podLogs(${namespace}, ${pod}) was not set up`);
    return q.length > 1 ? q.shift()! : q[0]!;
  }

  listNamespaces(): never {
    throw new Error('FakeCluster: listNamespaces was not set up');
  }
  fleetHealth(): never {
    throw new Error('FakeCluster: fleetHealth was not set up');
  }
  readService(): never {
    throw new Error('FakeCluster: readService was not set up');
  }
  patchServiceSelector(): never {
    throw new Error('FakeCluster: patchServiceSelector was not set up');
  }
}

export function workload(o: Partial<WorkloadInfo> & { name: string }): WorkloadInfo {
  return {
    kind: 'Deployment',
    desired: 2,
    ready: 2,
    updated: 2,
    available: 2,
    observed: true,
    images: ['registry.example.com/isp-ops:v1.3.0'],
    ...o,
  };
}

export function pod(o: Partial<PodInfo> & { name: string }): PodInfo {
  return { phase: 'Running', ready: true, restarts: 0, reasons: [], images: ['registry.example.com/isp-ops:v1.3.0'], ...o };
}

export function health(namespace: string, release: string, workloads: WorkloadInfo[], pods: PodInfo[]): ReleaseHealth {
  return { namespace, release, healthy: true, workloads, pods, problems: [] };
}
