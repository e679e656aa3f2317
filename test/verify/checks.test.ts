import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigurationError } from '../../src/core/errors.ts';
import { defaultChecks, parseChecks, parseNamedSecrets, secretHeaderValues, statusMatches } from '../../src/verify/checks.ts';
import { parseRolloutReport, smokeTargets, tenantsFromSlugs, withStatus } from '../../src/verify/targets.ts';
import { renderForTenant } from '../../src/tenants/model.ts';

const parse = (yaml: string, secrets?: Record<string, string>) => parseChecks(yaml, { source: 'input "checks"', secrets });

function errorOf(fn: () => unknown): ConfigurationError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigurationError);
    return err as ConfigurationError;
  }
  throw new Error('expected a ConfigurationError');
}

describe('checks YAML', () => {
  it('defaults to the seeds: /, /login, /api/health ($.status == "ok"), /api/ready ($.ready == true)', () => {
    const c = defaultChecks();
    expect(c.map((x) => [x.name, x.path, x.json.map((j) => j.source)])).toEqual([
      ['home', '/', []],
      ['login', '/login', []],
      ['api-health', '/api/health', ['$.status == "ok"']],
      ['api-ready', '/api/ready', ['$.ready == true']],
    ]);
    // curl -sf: anything below 400, redirects not followed.
    expect(c[0]!.status.source).toBe('2xx|3xx');
    expect(c[0]!.followRedirects).toBe(false);
    expect(c[0]).toMatchObject({ method: 'GET', retries: 2, timeoutMs: 10_000, retryDelayMs: 2_000 });
  });

  it('reads every field', () => {
    const [c] = parse(
      `
checks:
  - name: login
    path: /login
    method: post
    headers: { X-Tenant: '{{ tenant.slug }}', Authorization: 'Bearer {{ secrets.TOKEN }}' }
    body: '{"user":"smoke"}'
    status: [200, 3xx]
    body-contains: [Sign in, csrf]
    body-regex: 'v\\d+\\.\\d+'
    json: ['$.ok == true', '$.items.length > 0']
    max-latency: 750ms
    timeout: 3s
    retries: 4
    retry-delay: 500ms
    follow-redirects: true
`,
      { TOKEN: 'tok-123456' },
    );
    expect(c).toMatchObject({
      name: 'login',
      path: '/login',
      method: 'POST',
      headers: { 'X-Tenant': '{{ tenant.slug }}', Authorization: 'Bearer tok-123456' },
      body: '{"user":"smoke"}',
      bodyContains: ['Sign in', 'csrf'],
      maxLatencyMs: 750,
      timeoutMs: 3000,
      retries: 4,
      retryDelayMs: 500,
      followRedirects: true,
    });
    expect(c!.status.source).toBe('200|3xx');
    expect(statusMatches(c!.status, 302)).toBe(true);
    expect(statusMatches(c!.status, 201)).toBe(false);
    expect(c!.bodyRegex[0]!.test('v1.3')).toBe(true);
    expect(c!.json.map((j) => j.source)).toEqual(['$.ok == true', '$.items.length > 0']);
  });

  it.each([
    ['- name: health\n  path: /api/health\n  stauts: 200', 'input "checks": check "health": field "stauts" is not a known field'],
    ['- name: health\n  path: /api/health\n  status: ok', 'check "health": field "status" "ok" is not a status code or class'],
    ['- name: health\n  path: /api/health\n  status: 2x', 'check "health": field "status" "2x" is not a status code or class'],
    ['- name: health\n  path: api/health', 'check "health": field "path" "api/health" must start with "/"'],
    ['- name: health', 'check "health": field "path" is required'],
    ['- path: /x\n  method: FETCH', 'check "/x": field "method" "FETCH" is not supported'],
    ['- name: health\n  path: /h\n  max-latency: fast', 'check "health": field "max-latency" "fast" is not a duration'],
    ['- name: health\n  path: /h\n  retries: -1', 'check "health": field "retries" -1 is not a whole number from 0 to 20'],
    ['- name: health\n  path: /h\n  body-regex: "("', 'check "health": field "body-regex" "(" is not a valid regular expression'],
    ['- name: health\n  path: /h\n  headers: [a, b]', 'check "health": field "headers" must be a mapping'],
    ['- name: health\n  path: /h\n  follow-redirects: maybe', 'check "health": field "follow-redirects" "maybe" is not a boolean'],
    ['- name: health\n  path: /h\n  timeout: 0s', 'check "health": field "timeout" must be more than zero'],
    ['- name: a\n  path: /\n- name: a\n  path: /x', 'two checks are named "a"'],
    ['- just a string', 'input "checks": check #1: is not a mapping'],
    ['name: health', 'must be a YAML list of checks'],
    ['- name: health\n  path: [/h', 'is not valid YAML'],
    ['[]', 'holds no checks'],
  ])('rejects %j naming the check and field', (yaml, message) => {
    expect(errorOf(() => parse(yaml)).message).toContain(message);
  });

  it('a JSON path that does not parse is an error naming the check, the expression and the column', () => {
    const e = errorOf(() => parse(`- name: api-health\n  path: /api/health\n  json: '$.status = "ok"'`));
    expect(e.message).toBe(
      'input "checks": check "api-health": field "json" expectation "$.status = "ok"" does not parse: expected an operator (==, !=, <, <=, >, >=) at column 10 (write a path and a comparison, e.g. $.status == "ok", $.ready == true or $.items.length > 0)',
    );
  });

  it('an unknown placeholder or secret is an error naming the check and field', () => {
    expect(errorOf(() => parse('- name: h\n  path: /{{ tenant.slugg }}')).message).toContain(
      'check "h": field "path": unknown tenant field in "{{ tenant.slugg }}"',
    );
    expect(
      errorOf(() => parse('- name: h\n  path: /\n  headers: { Authorization: "Bearer {{ secrets.NOPE }}" }', { TOKEN: 'x' })).message,
    ).toContain(
      'check "h": field "headers.Authorization": "{{ secrets.NOPE }}" names no secret given in the "secrets" input (known secrets: TOKEN)',
    );
    expect(errorOf(() => parse('- name: h\n  path: /{{ env.HOME }}')).message).toContain('unsupported placeholder "{{ env.HOME }}"');
  });

  it('errors from a checks file carry its file and line for an annotation', () => {
    const dir = mkdtempSync(join(tmpdir(), 'checks-'));
    const file = join(dir, 'checks.yml');
    const text = '- name: ok\n  path: /\n- name: broken\n  path: /x\n  status: nope\n';
    writeFileSync(file, text);
    const e = errorOf(() => parseChecks(text, { source: `checks file "${file}"`, file }));
    expect(e.location).toEqual({ file, line: 3, column: 3 });
    expect(e.message).toContain('check "broken": field "status"');
  });

  it('finds the header values to mask: credential headers and bearer/basic tokens', () => {
    const checks = parse(`
- name: a
  path: /
  headers:
    Authorization: Bearer abc.def.ghi
    X-Api-Key: key-123456
    Cookie: session=zzz999
    X-Plain: hello
    X-Forwarded: 'Token tok-777777'
    X-Tenant: '{{ tenant.slug }}'
`);
    expect(secretHeaderValues(checks).sort()).toEqual(
      ['Bearer abc.def.ghi', 'abc.def.ghi', 'key-123456', 'session=zzz999', 'tok-777777'].sort(),
    );
  });

  it('reads NAME=value secrets, never echoing a malformed line', () => {
    expect(parseNamedSecrets(['TOKEN=a=b', 'EMPTY='], 'secrets')).toEqual({ TOKEN: 'a=b', EMPTY: '' });
    const e = errorOf(() => parseNamedSecrets(['hunter2-secret'], 'secrets'));
    expect(e.message).not.toContain('hunter2');
    expect(e.message).toContain('input "secrets": has a line that is not NAME=value');
  });
});

describe('targets', () => {
  const report = JSON.stringify({
    version: 1,
    tenants: [
      { id: 'fast-fiber', namespace: 'tenant-fast-fiber', release: 'fast-fiber', status: 'succeeded', revisionBefore: 4, revisionAfter: 5 },
      { id: 'metro', slug: 'metro-net', namespace: 'tenant-metro-net', release: 'metro-net-isp', status: 'skipped', revisionBefore: 7 },
      { id: 'new-isp', namespace: 'isp-new', release: 'new-isp', status: 'succeeded' },
      { id: 'failed-one', namespace: 'tenant-failed-one', release: 'failed-one', status: 'failed-rolled-back', revisionBefore: 2 },
    ],
  });

  it('reads a tenant-rollout report: id, namespace, release, status, revisionBefore; slug from the tenant-<slug> namespace', () => {
    const t = parseRolloutReport(report, 'input "report"');
    expect(t).toEqual([
      {
        id: 'fast-fiber',
        slug: 'fast-fiber',
        namespace: 'tenant-fast-fiber',
        release: 'fast-fiber',
        status: 'succeeded',
        revisionBefore: 4,
        labels: undefined,
      },
      {
        id: 'metro',
        slug: 'metro-net',
        namespace: 'tenant-metro-net',
        release: 'metro-net-isp',
        status: 'skipped',
        revisionBefore: 7,
        labels: undefined,
      },
      {
        id: 'new-isp',
        slug: 'new-isp',
        namespace: 'isp-new',
        release: 'new-isp',
        status: 'succeeded',
        revisionBefore: undefined,
        labels: undefined,
      },
      {
        id: 'failed-one',
        slug: 'failed-one',
        namespace: 'tenant-failed-one',
        release: 'failed-one',
        status: 'failed-rolled-back',
        revisionBefore: 2,
        labels: undefined,
      },
    ]);
    expect(withStatus(t, ['succeeded']).map((x) => x.id)).toEqual(['fast-fiber', 'new-isp']);
  });

  it.each([
    ['not json', 'input "report": is not valid JSON'],
    ['{"tenants": 3}', 'has no "tenants" list'],
    ['{"tenants": [{"id": "a", "namespace": "tenant-a"}]}', 'tenants[0]: has no "release"'],
    ['{"tenants": [{"id": "a", "namespace": "Tenant_A", "release": "a"}]}', 'namespace "Tenant_A" is not a valid namespace name'],
    [
      '{"tenants": [{"id": "a", "namespace": "tenant-a", "release": "a", "revisionBefore": "3"}]}',
      '"revisionBefore" must be a revision number',
    ],
  ])('rejects report %j', (text, message) => {
    expect(errorOf(() => parseRolloutReport(text, 'input "report"')).message).toContain(message);
  });

  it('expands a URL template per tenant (tenant fields only), URL-encoding the values', () => {
    const tenants = tenantsFromSlugs(['fast-fiber', 'metro-net'], 'tenants', '{{ tenant.slug }}-isp');
    const targets = smokeTargets({ url: 'https://{{ tenant.slug }}.isp.example.com', tenants });
    expect(targets.map((t) => [t.name, t.url, t.namespace, t.release])).toEqual([
      ['fast-fiber', 'https://fast-fiber.isp.example.com', 'tenant-fast-fiber', 'fast-fiber-isp'],
      ['metro-net', 'https://metro-net.isp.example.com', 'tenant-metro-net', 'metro-net-isp'],
    ]);
    expect(
      renderForTenant(
        '{{tenant.labels.ring}}/{{ tenant.id }}',
        { id: 'a b', slug: 'a', namespace: 'n', release: 'r', labels: { ring: 'pilot' } },
        'x',
        { escape: encodeURIComponent },
      ),
    ).toBe('pilot/a%20b');
  });

  it('a template without tenants, or no target at all, is a clear input error', () => {
    expect(errorOf(() => smokeTargets({ url: 'https://{{ tenant.slug }}.example.com' })).message).toContain(
      'input "url": "https://{{ tenant.slug }}.example.com" is a per-tenant template, but no tenants were given',
    );
    expect(errorOf(() => smokeTargets({ url: '' })).message).toContain('no target was given');
    expect(errorOf(() => smokeTargets({ url: 'ftp://x' })).message).toContain('is not an http(s) URL');
    expect(errorOf(() => smokeTargets({ url: 'https://{{ tenant.name }}.x' })).message).toContain('unknown tenant field');
    expect(smokeTargets({ url: 'https://x.example.com' })).toEqual([
      { name: 'https://x.example.com', url: 'https://x.example.com', namespace: undefined, release: undefined },
    ]);
  });
});
