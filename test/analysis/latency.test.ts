import { describe, expect, it } from 'vitest';
import { DEFAULT_LATENCY, judgeLatency, latencyQuery } from '../../src/analysis/latency.ts';
import type { PrometheusApi } from '../../src/analysis/prometheus.ts';

const trigger = { ...DEFAULT_LATENCY, metric: 'http_request_duration_seconds' };

/** Answers from a table of query -> value; a query it was not given has no data. */
function fakeProm(answers: Record<string, number>): PrometheusApi & { asked: string[] } {
  const asked: string[] = [];
  return {
    url: 'http://prom',
    asked,
    async query(q) {
      asked.push(q);
      const v = answers[q];
      return { resultType: 'vector', samples: v === undefined ? [] : [{ labels: {}, value: v }] };
    },
  };
}

describe('latency trigger', () => {
  it('the documented PromQL', () => {
    expect(latencyQuery(trigger, ['tenant-a'], 600)).toBe(
      'histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket{namespace="tenant-a"}[600s])))',
    );
    expect(latencyQuery(trigger, ['tenant-a'], 600, 660)).toBe(
      'histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket{namespace="tenant-a"}[600s] offset 660s)))',
    );
    expect(latencyQuery(trigger, ['tenant-b', 'tenant-c'], 600)).toContain('{namespace=~"tenant-b|tenant-c"}[600s]');
  });

  const NOW = 1_000_000_000;
  const a = { id: 'a', namespace: 'tenant-a', upgradedAt: NOW - 660_000 };
  const q = (ns: string[], offset = 0) => latencyQuery(trigger, ns, 600, offset);
  const table: [string, Record<string, number>, string[], 'healthy' | 'failed' | 'inconclusive', RegExp][] = [
    [
      'twice as slow as before and slower than the fleet: failed',
      { [q(['tenant-a'])]: 0.4, [q(['tenant-a'], 660)]: 0.1, [q(['tenant-b'])]: 0.1 },
      ['tenant-b'],
      'failed',
      /p95 400ms over the last 600s, 100ms over the 600s before its upgrade, 100ms for the 1 tenants not yet updated: above 2x/,
    ],
    [
      'slower, but so is the fleet: healthy',
      { [q(['tenant-a'])]: 0.4, [q(['tenant-a'], 660)]: 0.1, [q(['tenant-b'])]: 0.5 },
      ['tenant-b'],
      'healthy',
      /^latency: p95 400ms/,
    ],
    [
      'slower than the fleet but not twice its own: healthy',
      { [q(['tenant-a'])]: 0.19, [q(['tenant-a'], 660)]: 0.1, [q(['tenant-b'])]: 0.1 },
      ['tenant-b'],
      'healthy',
      /190ms/,
    ],
    [
      'no data now: no verdict',
      { [q(['tenant-a'], 660)]: 0.1, [q(['tenant-b'])]: 0.1 },
      ['tenant-b'],
      'inconclusive',
      /no verdict, no p95 now \(no data\)/,
    ],
    [
      'no data before the upgrade: no verdict',
      { [q(['tenant-a'])]: 0.4, [q(['tenant-b'])]: 0.1 },
      ['tenant-b'],
      'inconclusive',
      /before the upgrade \(no data\)/,
    ],
    [
      'no data for the fleet: no verdict',
      { [q(['tenant-a'])]: 0.4, [q(['tenant-a'], 660)]: 0.1 },
      ['tenant-b'],
      'inconclusive',
      /for the tenants not yet updated \(no data\)/,
    ],
    [
      'no tenant left to compare with: judged on its own history',
      { [q(['tenant-a'])]: 0.4, [q(['tenant-a'], 660)]: 0.1 },
      [],
      'failed',
      /no tenant left to compare with/,
    ],
  ];
  it.each(table)('%s', async (_n, answers, baseline, verdict, reason) => {
    const prom = fakeProm(answers);
    const [v] = await judgeLatency(prom, trigger, [a], baseline, 600_000, NOW);
    expect(v!.verdict).toBe(verdict);
    expect(v!.reason).toMatch(reason);
  });

  it('an unreachable Prometheus is no verdict, with its error', async () => {
    const prom: PrometheusApi = { url: 'x', query: () => Promise.reject(new Error('cannot reach Prometheus at x')) };
    const [v] = await judgeLatency(prom, trigger, [a], ['tenant-b'], 600_000, NOW);
    expect(v).toMatchObject({ verdict: 'inconclusive' });
    expect(v!.reason).toMatch(/no p95 now \(cannot reach Prometheus at x\)/);
  });
});
