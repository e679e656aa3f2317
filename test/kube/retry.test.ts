/**
 * The adapter's retries against the wire-level fake's injected faults: what a large cluster does
 * to clients (429 with Retry-After, 5xx, dropped connections, slow answers) never changes what a
 * read returns; a real answer (403, 404) or a non-idempotent write is not retried; the retries are
 * bounded, counted and cancel-aware.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createCluster, type KubeCluster } from '../../src/kube/client.ts';
import { KubeApiError } from '../../src/kube/errors.ts';
import { backoffMs, DEFAULT_RETRY, transientReason, withRetries } from '../../src/kube/retry.ts';
import { onApiPressure, type ApiPressure } from '../../src/kube/pressure.ts';
import { startFakeKube, type FakeKube } from '../support/fake-kube/index.ts';

let kube: FakeKube;
let waits: number[];
const cluster = (extra: Parameters<typeof createCluster>[0] = {}): KubeCluster =>
  createCluster({
    kubeconfigYaml: kube.kubeconfigYaml,
    pageSize: 2,
    // No wall clock: the waits are recorded, not slept.
    requests: { sleep: async (ms, signal) => void (signal?.throwIfAborted(), waits.push(ms)), random: () => 0.5 },
    ...extra,
  });
beforeEach(async () => {
  kube = await startFakeKube();
  kube.addTenantNamespaces(['tenant-a', 'tenant-b', 'tenant-c', 'tenant-d', 'tenant-e']);
  waits = [];
});
afterEach(async () => {
  await kube.close();
});

const NS = '/api/v1/namespaces';
const names = ['tenant-a', 'tenant-b', 'tenant-c', 'tenant-d', 'tenant-e'];

describe('transient API failures are retried and never change the answer', () => {
  it.each([
    ['429 with Retry-After', { status: 429, retryAfterSeconds: 2 }, '429'],
    ['500', { status: 500 }, '500'],
    ['502 from the load balancer', { status: 502 }, '502'],
    ['503', { status: 503 }, '503'],
    ['504', { status: 504 }, '504'],
    ['a dropped connection', { drop: true as const }, 'reset'],
  ])('%s on the second page of a list', async (_name, fault, reason) => {
    const c = cluster();
    const rule = kube.inject({ path: NS, verb: 'list' }, fault, { skip: 1, times: 2 });
    const got = await c.listNamespaces('app.kubernetes.io/component=tenant');
    expect(got.map((n) => n.name)).toEqual(names);
    expect(rule.injected).toBe(2);
    expect(c.stats.retry).toEqual({ retried: 1, retries: 2, exhausted: 0, byReason: { [reason]: 2 } });
    expect(c.stats.requests).toBe(5); // 3 pages + 2 retries
    if ('retryAfterSeconds' in fault) expect(waits.every((w) => w >= 2000)).toBe(true);
  });

  it("reports the pressure it saw (what adaptive parallelism follows): throttled answers and each answer's latency", async () => {
    const c = cluster();
    const seen: ApiPressure[] = [];
    const off = onApiPressure((e) => seen.push(e));
    kube.inject({ path: NS, verb: 'list' }, { status: 429, retryAfterSeconds: 1 }, { times: 2 });
    kube.inject({ path: NS, verb: 'list' }, { drop: true }, { skip: 2, times: 1 });
    await c.listNamespaces('');
    off();
    await c.listNamespaces('');
    // The reset says nothing about load: only the 429s are throttling.
    expect(seen.filter((e) => e.kind === 'throttled').map((e) => (e.kind === 'throttled' ? e.reason : ''))).toEqual(['429', '429']);
    const latencies = seen.filter((e) => e.kind === 'latency');
    expect(latencies.length).toBeGreaterThan(0);
    expect(latencies.every((e) => e.server === c.server && e.kind === 'latency' && e.ms >= 0)).toBe(true);
    expect(seen.length).toBe(2 + latencies.length); // nothing after the unsubscribe
  });

  it('a request slower than the per-request timeout is retried as a timeout', async () => {
    // Far apart, so a loaded machine cannot blur them: the slow answer takes 6x the deadline.
    const c = cluster({ requestTimeoutMs: 1000 });
    kube.inject({ path: NS }, { latencyMs: 6000 }, { times: 1 });
    expect((await c.listNamespaces('')).length).toBeGreaterThan(5);
    expect(c.stats.retry.byReason).toEqual({ timeout: 1 });
  });

  it('bounded: after the last try the transient error is thrown, and counted as exhausted', async () => {
    const c = cluster();
    kube.inject({ path: NS }, { status: 503 }, { times: Infinity });
    await expect(c.listNamespaces('')).rejects.toThrow(/the server is currently unable to handle the request/);
    expect(kube.requests.filter((r) => r.path === NS)).toHaveLength(DEFAULT_RETRY.attempts);
    expect(c.stats.retry).toMatchObject({ retried: 1, retries: DEFAULT_RETRY.attempts - 1, exhausted: 1 });
    // Exponential: each ceiling twice the one before (random() = 0.5 gives half of it).
    expect(waits).toEqual([125, 250, 500, 1000, 2000]);
  });

  it('real answers are not retried: 403 and 404 come back at once', async () => {
    const c = cluster();
    kube.inject({ path: NS }, { status: 403 });
    await expect(c.listNamespaces('')).rejects.toThrow(/forbidden/);
    expect(await c.readService('default', 'nope')).toBeUndefined();
    expect(c.stats.retry.retries).toBe(0);
    expect(c.stats.requests).toBe(2);
  });

  it('cancel-aware: an abort during the backoff ends the call with the abort reason, without another try', async () => {
    const ac = new AbortController();
    const c = cluster({ requests: { sleep: async () => ac.abort(new Error('cancelled by SIGINT')) } });
    kube.inject({ path: NS }, { status: 429, retryAfterSeconds: 30 }, { times: Infinity });
    await expect(c.listNamespaces('', ac.signal)).rejects.toThrow('cancelled by SIGINT');
    expect(kube.requests.filter((r) => r.path === NS)).toHaveLength(1);
  });

  it('random faults at a seeded rate over many reads: every read right, the same pattern each run', async () => {
    const run = async () => {
      const c = cluster();
      const rule = kube.inject({ path: NS }, { status: 503 }, { rate: 1 / 3, seed: 7 });
      for (let i = 0; i < 10; i++) expect((await c.listNamespaces('app.kubernetes.io/component=tenant')).map((n) => n.name)).toEqual(names);
      rule.remove();
      return [rule.injected, c.stats.retry.retries];
    };
    const first = await run();
    expect(first[0]).toBeGreaterThan(3);
    expect(first[1]).toBe(first[0]);
    expect(await run()).toEqual(first);
  });
});

describe('retry policy', () => {
  it('a non-idempotent call is tried once', async () => {
    let tries = 0;
    const err = Object.assign(new Error('fetch failed'), { cause: { code: 'ECONNRESET' } });
    await expect(withRetries(async () => (tries++, Promise.reject(err)), { idempotent: false, sleep: async () => {} })).rejects.toBe(err);
    expect(tries).toBe(1);
  });

  it('classifies: codes and socket errors, not a refused connection, not a cancel', () => {
    expect(transientReason(new KubeApiError('x', 503))).toBe('503');
    expect(transientReason(new KubeApiError('x', 409))).toBeUndefined();
    expect(transientReason(Object.assign(new Error('x'), { code: 'ECONNREFUSED' }))).toBeUndefined();
    expect(transientReason(Object.assign(new Error('The operation was aborted'), { name: 'AbortError' }))).toBe('timeout');
    expect(transientReason(Object.assign(new Error('The operation was aborted'), { name: 'AbortError' }), true)).toBeUndefined();
  });

  it('Retry-After is a floor, capped so one answer cannot stall the run', () => {
    expect(backoffMs(0, DEFAULT_RETRY, () => 0, 3000)).toBe(3000);
    expect(backoffMs(0, DEFAULT_RETRY, () => 0, 3_600_000)).toBe(DEFAULT_RETRY.maxRetryAfterMs);
    expect(backoffMs(10, DEFAULT_RETRY, () => 1)).toBe(DEFAULT_RETRY.maxDelayMs);
  });
});
