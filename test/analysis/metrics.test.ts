import { describe, expect, it } from 'vitest';
import { ConfigurationError } from '../../src/core/errors.ts';
import { DEFAULT_METRICS_YAML, parseMetrics } from '../../src/analysis/metrics.ts';

const parse = (yaml: string) => parseMetrics(yaml, { source: 'input "metrics"' });

function messageOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigurationError);
    return (err as Error).message;
  }
  throw new Error('expected a ConfigurationError');
}

describe('metrics YAML', () => {
  it("defaults to the seeds' log method (ERROR / HTTP lines above 5%) and crash loops", () => {
    const m = parseMetrics(DEFAULT_METRICS_YAML, { source: 'default metrics' });
    expect(m.map((x) => [x.name, x.provider, x.failureCondition.source, x.failureLimit, x.inconclusiveLimit])).toEqual([
      ['log-error-ratio', 'logs', 'result > 0.05', 0, 0],
      ['crash-loops', 'kubernetes', 'result > 0', 0, 0],
    ]);
    const logs = m[0]!;
    expect(logs.provider === 'logs' && [logs.errorPattern.source, logs.requestPattern.source]).toEqual(['ERROR', 'HTTP']);
  });

  it('reads every provider', () => {
    const m = parse(`
metrics:
  - name: error-rate
    provider: prometheus
    query: 'sum(rate(http_requests_total{namespace="{{ tenant.namespace }}",code=~"5.."}[1m])) / sum(rate(http_requests_total{namespace="{{ tenant.namespace }}"}[1m]))'
    failure-condition: result > 0.05
    failure-limit: 2
    inconclusive-limit: 3
    fleet: { margin: 50%, min-baseline: 3 }
  - name: restarts
    provider: kubernetes
    query: restarts
  - name: smoke
    provider: http
    url: https://{{ tenant.slug }}.isp.example.com
    checks: [{ path: /api/health, json: '$.status == "ok"', retries: 5 }]
    failure-condition: result >= 0.5
  - name: logs
    provider: logs
    error-pattern: 'level=error'
    request-pattern: 'status=\\d+'
    fleet: true
`);
    expect(m[0]).toMatchObject({
      provider: 'prometheus',
      failureLimit: 2,
      inconclusiveLimit: 3,
      fleet: { margin: 0.5, relative: true, minBaseline: 3 },
    });
    expect(m[1]).toMatchObject({ provider: 'kubernetes', query: 'restarts', failureCondition: { op: '>', threshold: 0 } });
    // Each http measurement is one sample of each check: no retries.
    expect(m[2]).toMatchObject({
      provider: 'http',
      url: 'https://{{ tenant.slug }}.isp.example.com',
      checks: [{ path: '/api/health', retries: 0 }],
      failureCondition: { op: '>=', threshold: 0.5 },
    });
    expect(m[3]).toMatchObject({ provider: 'logs', fleet: { margin: 0, relative: false, minBaseline: 1 } });
  });

  it.each([
    [
      '- name: x\n  provider: graphite',
      'metric "x": field "provider" "graphite" is not a provider (use one of: prometheus, kubernetes, http, logs)',
    ],
    ['- name: x\n  provider: prometheus', 'metric "x": field "failure-condition" is required'],
    ['- name: x\n  provider: prometheus\n  failure-condition: result > 1', 'metric "x": field "query" is required'],
    [
      '- name: x\n  provider: prometheus\n  query: up\n  failure-condition: error_rate > 0.05',
      'metric "x": field "failure-condition" "error_rate > 0.05" does not parse: expected "result"',
    ],
    [
      '- name: x\n  provider: prometheus\n  query: up\n  failure-condition: result > five',
      'field "failure-condition" "result > five" does not parse: expected a number at column 10',
    ],
    [
      '- name: x\n  provider: kubernetes\n  query: oom-kills',
      'metric "x": field "query" "oom-kills" is not a kubernetes measurement (use one of: restarts, not-ready, crash-loops)',
    ],
    ['- name: x\n  provider: kubernetes\n  url: http://x', 'metric "x": field "url" is not a field of a kubernetes metric'],
    ['- name: x\n  provider: logs\n  failure-limit: -1', 'metric "x": field "failure-limit" -1 is not a whole number >= 0'],
    ['- name: x\n  provider: logs\n  error-pattern: "("', 'metric "x": field "error-pattern" "(" is not a valid regular expression'],
    [
      '- name: x\n  provider: logs\n  failure-condition: result == 0\n  fleet: true',
      'metric "x": field "fleet" needs a condition with <, <=, > or >=',
    ],
    ['- name: x\n  provider: logs\n  fleet: { margin: lots }', 'field "fleet.margin" "lots" is not a number or a percentage'],
    ['- name: x\n  provider: http', 'metric "x": field "url" is required'],
    [
      '- name: x\n  provider: http\n  url: https://x\n  checks: [{ path: /h, stauts: 200 }]',
      'metric "x": field "checks": check "/h": field "stauts" is not a known field',
    ],
    [
      '- name: x\n  provider: prometheus\n  query: up{ns="{{ tenant.nam }}"}\n  failure-condition: result > 1',
      'metric "x": field "query": unknown tenant field in "{{ tenant.nam }}"',
    ],
    ['- provider: logs', 'metric #1: field "name" is required'],
    ['- name: a\n  provider: logs\n- name: a\n  provider: logs', 'two metrics are named "a"'],
    ['metrics: 3', 'must be a YAML list of metrics'],
  ])('rejects %j naming the metric and field', (yaml, message) => {
    expect(messageOf(() => parse(yaml))).toContain(message);
  });
});
