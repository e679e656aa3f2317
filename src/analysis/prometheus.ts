import { errorMessage } from '../core/errors.ts';
import type { Http } from '../core/http.ts';

export interface PromSample {
  labels: Record<string, string>;
  value: number;
}

export interface PromResult {
  resultType: 'vector' | 'scalar' | 'matrix' | 'string';
  samples: PromSample[];
}

/** The metrics port: one instant PromQL query. */
export interface PrometheusApi {
  /** Base URL, for messages. */
  readonly url: string;
  query(promql: string, signal?: AbortSignal): Promise<PromResult>;
}

export type PrometheusErrorKind = 'unreachable' | 'bad-query' | 'unauthorized' | 'server' | 'bad-response';

export class PrometheusError extends Error {
  override readonly name = 'PrometheusError';
  constructor(
    readonly kind: PrometheusErrorKind,
    message: string,
    readonly status?: number,
  ) {
    super(message);
  }
}

export interface PrometheusApiOptions {
  /** e.g. `http://prometheus.monitoring:9090` or a prefix such as `https://host/api/prom`. */
  url: string;
  /** Sent as `Authorization: Bearer <token>`; the caller registers it as a secret. */
  token?: string;
  http: Http;
}

/** `/api/v1/query` over the Http port (GET, instant query at "now"). */
export function prometheusApi(o: PrometheusApiOptions): PrometheusApi {
  const base = o.url.replace(/\/+$/, '');
  return {
    url: base,
    async query(promql, signal) {
      const headers: Record<string, string> = { accept: 'application/json' };
      if (o.token) headers.authorization = `Bearer ${o.token}`;
      let res;
      try {
        res = await o.http.request({
          url: `${base}/api/v1/query?query=${encodeURIComponent(promql)}`,
          method: 'GET',
          headers,
          redirect: 'follow',
          signal,
        });
      } catch (err) {
        throw new PrometheusError('unreachable', `cannot reach Prometheus at ${base}: ${errorMessage(err)}`);
      }
      let body: { status?: string; errorType?: string; error?: string; data?: { resultType?: string; result?: unknown } } | undefined;
      try {
        body = JSON.parse(res.body) as typeof body;
      } catch {
        body = undefined;
      }
      if (res.status === 401 || res.status === 403)
        throw new PrometheusError('unauthorized', `Prometheus at ${base} refused the query (HTTP ${res.status})`, res.status);
      if (body?.status === 'error') {
        const kind: PrometheusErrorKind = body.errorType === 'bad_data' ? 'bad-query' : 'server';
        throw new PrometheusError(
          kind,
          `Prometheus rejected the query (${body.errorType ?? `HTTP ${res.status}`}): ${body.error ?? ''}`.trim(),
          res.status,
        );
      }
      if (res.status !== 200 || body?.status !== 'success' || !body.data) {
        throw new PrometheusError(
          res.status >= 500 ? 'server' : 'bad-response',
          `Prometheus at ${base} answered HTTP ${res.status}${body ? '' : ' with a body that is not the Prometheus API JSON'}`,
          res.status,
        );
      }
      return parseData(body.data);
    },
  };
}

function num(v: unknown): number {
  // Prometheus encodes sample values as strings: "0.5", "NaN", "+Inf".
  if (typeof v !== 'string') throw new PrometheusError('bad-response', `unexpected sample value ${JSON.stringify(v)}`);
  if (v === '+Inf') return Infinity;
  if (v === '-Inf') return -Infinity;
  return Number(v);
}

function parseData(data: { resultType?: string; result?: unknown }): PromResult {
  const t = data.resultType;
  if (t === 'scalar') {
    const r = data.result as [number, string];
    return { resultType: 'scalar', samples: [{ labels: {}, value: num(r?.[1]) }] };
  }
  if (t === 'vector') {
    const r = (data.result ?? []) as { metric?: Record<string, string>; value?: [number, string] }[];
    return { resultType: 'vector', samples: r.map((s) => ({ labels: s.metric ?? {}, value: num(s.value?.[1]) })) };
  }
  if (t === 'matrix' || t === 'string') return { resultType: t, samples: [] };
  throw new PrometheusError('bad-response', `unexpected resultType ${JSON.stringify(t)}`);
}
