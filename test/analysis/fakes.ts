import { PrometheusError } from '../../src/analysis/prometheus.ts';
import type { PrometheusApi, PromResult } from '../../src/analysis/prometheus.ts';
import type { Rollbacker, RollbackTarget } from '../../src/analysis/rollback.ts';

/** One answer: a value, `null` for no series, NaN, several values (several series), or an error. */
export type PromAnswer = number | null | number[] | Error;

/** A PrometheusApi answering each exact query from a queue (the last answer repeats); any other query throws. */
export class FakePrometheus implements PrometheusApi {
  readonly url = 'http://prometheus.test:9090';
  readonly queries: string[] = [];
  private readonly answers = new Map<string, PromAnswer[]>();

  on(query: string, ...answers: PromAnswer[]): this {
    this.answers.set(query, answers);
    return this;
  }

  async query(promql: string): Promise<PromResult> {
    this.queries.push(promql);
    const q = this.answers.get(promql);
    if (!q) throw new Error(`FakePrometheus: unexpected query ${promql}`);
    const a = q.length > 1 ? q.shift()! : q[0]!;
    if (a instanceof Error) throw a;
    if (a === null) return { resultType: 'vector', samples: [] };
    const values = Array.isArray(a) ? a : [a];
    return { resultType: 'vector', samples: values.map((value, i) => ({ labels: { i: String(i) }, value })) };
  }
}

export const unreachable = () =>
  new PrometheusError('unreachable', 'cannot reach Prometheus at http://prometheus.test:9090: connect ECONNREFUSED 10.0.0.1:9090');

/** Records rollbacks; fails for the releases told to. */
export class RecordingRollbacker implements Rollbacker {
  readonly calls: RollbackTarget[] = [];
  constructor(private readonly failFor: string[] = []) {}
  async rollback(t: RollbackTarget): Promise<void> {
    this.calls.push(t);
    if (this.failFor.includes(t.release)) throw new Error(`helm rollback ${t.release}: timed out waiting for the condition`);
  }
}
