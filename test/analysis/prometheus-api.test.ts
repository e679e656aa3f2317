import { describe, expect, it } from 'vitest';
import { analyze } from '../../src/analysis/analyze.ts';
import { parseMetrics } from '../../src/analysis/metrics.ts';
import { PrometheusError, prometheusApi } from '../../src/analysis/prometheus.ts';
import type { HttpResponse } from '../../src/core/http.ts';
import { RecordingLogger } from '../support/logger.ts';
import { FakeCluster, FakeHttp, VirtualClock } from '../verify/fakes.ts';

// The Prometheus adapter's handling of each answer shape, over a fake Http port (the real
// Prometheus runs in prometheus.test.ts).
const URL = 'http://prom.test/prefix/api/v1/query?query=up';
const api = (res: HttpResponse | Error, token?: string) => {
  const http = new FakeHttp({
    [`GET ${URL}`]: () => {
      if (res instanceof Error) throw res;
      return res;
    },
  });
  return { http, prom: prometheusApi({ url: 'http://prom.test/prefix/', token, http }) };
};
const ok = (data: unknown): HttpResponse => ({ status: 200, headers: {}, body: JSON.stringify({ status: 'success', data }) });

describe('prometheusApi', () => {
  it('reads vectors, scalars and the special values; sends the bearer token', async () => {
    const { http, prom } = api(
      ok({
        resultType: 'vector',
        result: [
          { metric: { namespace: 'a' }, value: [1, '0.25'] },
          { metric: {}, value: [1, 'NaN'] },
          { metric: {}, value: [1, '+Inf'] },
        ],
      }),
      'tok-1234',
    );
    expect(await prom.query('up')).toEqual({
      resultType: 'vector',
      samples: [
        { labels: { namespace: 'a' }, value: 0.25 },
        { labels: {}, value: NaN },
        { labels: {}, value: Infinity },
      ],
    });
    expect(http.requests[0]!.headers.authorization).toBe('Bearer tok-1234');
    expect(await api(ok({ resultType: 'scalar', result: [1, '3'] })).prom.query('up')).toEqual({
      resultType: 'scalar',
      samples: [{ labels: {}, value: 3 }],
    });
  });

  it.each([
    [
      new Error('connect ECONNREFUSED 10.0.0.1:9090'),
      'unreachable',
      'cannot reach Prometheus at http://prom.test/prefix: connect ECONNREFUSED 10.0.0.1:9090',
    ],
    [
      { status: 400, headers: {}, body: JSON.stringify({ status: 'error', errorType: 'bad_data', error: '1:5: parse error' }) },
      'bad-query',
      'Prometheus rejected the query (bad_data): 1:5: parse error',
    ],
    [
      { status: 401, headers: {}, body: 'Unauthorized' },
      'unauthorized',
      'Prometheus at http://prom.test/prefix refused the query (HTTP 401)',
    ],
    [
      { status: 503, headers: {}, body: '<html>' },
      'server',
      'Prometheus at http://prom.test/prefix answered HTTP 503 with a body that is not the Prometheus API JSON',
    ],
    [
      { status: 200, headers: {}, body: '{"status":"success","data":{"resultType":"weird"}}' },
      'bad-response',
      'unexpected resultType "weird"',
    ],
  ])('classifies %j', async (res, kind, message) => {
    const err = await api(res as HttpResponse | Error)
      .prom.query('up')
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PrometheusError);
    expect(err).toMatchObject({ kind, message });
  });
});

describe('analyze with nothing to watch', () => {
  it('returns healthy at once, without waiting out the window', async () => {
    const clock = new VirtualClock();
    const r = await analyze(
      [],
      parseMetrics('- name: m\n  provider: logs', { source: 'x' }),
      { clock, logger: new RecordingLogger(), cluster: new FakeCluster() },
      { durationMs: 600_000, intervalMs: 30_000 },
    );
    expect(r).toMatchObject({ verdict: 'healthy', targets: [], durationMs: 0 });
    expect(clock.sleeps).toEqual([]);
  });
});
