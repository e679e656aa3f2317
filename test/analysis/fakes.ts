import { PrometheusError } from '../../src/analysis/prometheus.ts';
import type { PrometheusApi, PromResult } from '../../src/analysis/prometheus.ts';
import type { Rollbacker, RollbackTarget } from '../../src/analysis/rollback.ts';
import { silentLogger } from '../../src/core/logger.ts';
import type { Helm } from '../../src/helm/helm.ts';
import type { Revision } from '../../src/helm/history.ts';
import { returnToGood } from '../../src/helm/recover.ts';
import type { ReturnOutcome } from '../../src/helm/recover.ts';

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

/**
 * The rollback port over the real `returnToGood` policy and a tiny in-memory helm: each release
 * holds `revisionBefore` deployed revisions then the one that breached (or, without a recorded
 * revision, the statuses `histories` gives, by default an upgrade nobody recorded). Records the
 * rollbacks and uninstalls; rollbacks fail for the releases told to.
 */
export class RecordingRollbacker implements Rollbacker {
  readonly calls: { namespace: string; release: string; revision: number }[] = [];
  readonly uninstalled: string[] = [];
  constructor(
    private readonly failFor: string[] = [],
    private readonly histories: Record<string, string[]> = {},
  ) {}
  async returnToGood(t: RollbackTarget): Promise<ReturnOutcome> {
    const statuses =
      this.histories[t.release] ??
      (t.revisionBefore === undefined ? ['superseded', 'deployed'] : [...Array<string>(t.revisionBefore).fill('superseded'), 'deployed']);
    const rows: Revision[] = statuses.map((status, i) => ({
      revision: i + 1,
      status,
      updated: '',
      chart: 'app-1.0.0',
      app_version: '1',
      description: '',
    }));
    const helm: Pick<Helm, 'history' | 'rollback' | 'uninstall'> = {
      history: async () => rows.map((r) => ({ ...r })),
      rollback: async (release, revision, o) => {
        this.calls.push({ namespace: o.namespace, release, revision });
        if (this.failFor.includes(release)) throw new Error(`helm rollback ${release}: timed out waiting for the condition`);
        rows.push({ ...rows[revision - 1]!, revision: rows.length + 1, status: 'deployed', description: `Rollback to ${revision}` });
      },
      uninstall: async (release, o) => {
        this.uninstalled.push(`${o.namespace}/${release}`);
        rows.length = 0;
      },
    };
    const r = {
      namespace: t.namespace,
      release: t.release,
      before: t.revisionBefore,
      why: t.why,
      wait: 'ready' as const,
      timeoutMs: 60_000,
    };
    return returnToGood(helm as Helm, r, silentLogger);
  }
}
