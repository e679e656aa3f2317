import { describe, expect, it } from 'vitest';
import { SMOKE_URL, expandSmokeUrl } from '../../src/actions/root/inputs.ts';
import { containedPath } from '../../src/core/paths.ts';
import { compileTemplate, expandTemplate, promqlString } from '../../src/core/template.ts';
import {
  TENANT_TEMPLATE,
  compileReleaseTemplate,
  expandForTenant,
  expandReleaseName,
  expandValuesPath,
  renderForTenant,
} from '../../src/tenants/model.ts';
import { CHECK_TEMPLATE, parseChecks } from '../../src/verify/checks.ts';

const ctx = {
  id: 'fast-fiber-isp-123',
  slug: 'fast-fiber',
  namespace: 'tenant-fast-fiber',
  release: 'fast-fiber',
  labels: { ring: 'canary', 'dotmac.io/region': 'eu-west', note: 'a "b"/c d' },
};

// Every use of the engine, as its caller runs it: the same template must mean the same thing in each.
const dialects = {
  /** Release names of every tenant source (tenants file, namespaces, list). */
  'release-name': (s: string) => expandReleaseName(compileReleaseTemplate('release-name', s), ctx),
  /** `tenant-values-files`: expanded, then kept inside the base directory. */
  'values-path': (s: string) => expandValuesPath(compileTemplate(s, 'input "tenant-values-files"', TENANT_TEMPLATE), ctx, 'deploy'),
  /** Smoke URLs (smoke-test `url`, tenant-rollout `smoke-url`) and http metric URLs: values URL-encoded. */
  url: (s: string) => renderForTenant(s, ctx, 'input "url"', { escape: encodeURIComponent }),
  /** Prometheus queries: values escaped for a double-quoted PromQL string. */
  promql: (s: string) => renderForTenant(s, ctx, 'metric "m": query', { escape: promqlString }),
  /** Check paths: secrets when the checks are read, the tenant per target (as smoke.ts sends them). */
  check: (s: string) => {
    const [check] = parseChecks(`- name: h\n  path: ${JSON.stringify(s)}`, {
      source: 'input "checks"',
      secrets: { TOKEN: 't/k', BRACES: 'x{{ tenant.slug }}' },
    });
    return renderForTenant(check!.path, ctx, 'check "h"', { escape: encodeURIComponent, dialect: CHECK_TEMPLATE });
  },
  /** The root action's smoke URL: the one release it deploys, no tenant. */
  'smoke-url': (s: string) =>
    expandSmokeUrl(compileTemplate(s, 'input "smoke-url"', SMOKE_URL), { release: 'web', namespace: 'prod', service: 'web-svc' }),
};
type DialectName = keyof typeof dialects;

const rows: Array<[DialectName, string, string | RegExp]> = [
  // What each dialect expands.
  ['release-name', '{{ tenant.slug }}', 'fast-fiber'],
  ['release-name', 'isp-{{tenant.slug}}-{{ tenant.labels.ring }}', 'isp-fast-fiber-canary'],
  ['values-path', 'values/{{ tenant.slug }}.yaml', 'deploy/values/fast-fiber.yaml'],
  [
    'values-path',
    'ns={{ tenant.namespace }}/rel={{  tenant.release  }}/{{ tenant.id }}',
    'deploy/ns=tenant-fast-fiber/rel=fast-fiber/fast-fiber-isp-123',
  ],
  ['values-path', '{{ tenant.labels.ring }}-{{ tenant.labels.dotmac.io/region }}', 'deploy/canary-eu-west'],
  ['values-path', './a/../values/{{ tenant.slug }}.yaml', 'deploy/values/fast-fiber.yaml'],
  ['url', 'https://{{ tenant.slug }}.isp.example.com/{{ tenant.labels.note }}', 'https://fast-fiber.isp.example.com/a%20%22b%22%2Fc%20d'],
  ['url', 'plain', 'plain'],
  [
    'promql',
    'up{namespace="{{ tenant.namespace }}",note="{{ tenant.labels.note }}"}',
    'up{namespace="tenant-fast-fiber",note="a \\"b\\"/c d"}',
  ],
  ['check', '/t/{{ tenant.slug }}?k={{ secrets.TOKEN }}', '/t/fast-fiber?k=t/k'],
  ['smoke-url', 'http://{{ service }}.{{ namespace }}.svc/{{ release }}', 'http://web-svc.prod.svc/web'],
  ['smoke-url', 'http://{{ release }}{{ color }}.example.com', 'http://web.example.com'],

  // Own properties only: what an object inherits is no label, secret or field.
  ['values-path', '{{ tenant.labels.constructor }}', /needs label "constructor", which tenant "fast-fiber-isp-123" does not have/],
  ['url', 'https://x/{{ tenant.labels.toString }}', /needs label "toString"/],
  ['promql', 'up{x="{{ tenant.labels.__proto__ }}"}', /needs label "__proto__"/],
  [
    'check',
    '/{{ secrets.constructor }}',
    /"\{\{ secrets.constructor \}\}" names no secret given in the "secrets" input \(known secrets: TOKEN, BRACES\)/,
  ],
  ['smoke-url', 'http://{{ constructor }}', /^input "smoke-url": unsupported placeholder "\{\{ constructor \}\}" of template/],

  ['check', '/{{ secrets.BRACES }}', /field "path": a secret it uses contains "\{\{" or "\}\}" \(a check cannot carry such a secret\)$/],

  // Unknown names: a known root with a wrong field, or a placeholder the dialect does not have.
  ['release-name', '{{ tenant.name }}', /^input "release-name": unknown tenant field in "\{\{ tenant.name \}\}" \(use \{\{ tenant.id \}\}/],
  ['release-name', '{{ tenant }}', /^input "release-name": unknown tenant field in "\{\{ tenant \}\}"/],
  ['release-name', '{{ tenant.slug | upper }}', /unknown tenant field in "\{\{ tenant.slug \| upper \}\}"/],
  ['release-name', '{{ env.HOME }}', /^input "release-name": unsupported placeholder "\{\{ env.HOME \}\}"/],
  ['release-name', '{{ }}', /unsupported placeholder "\{\{ \}\}"/],
  [
    'values-path',
    'v/{{ process.env.SECRET }}',
    /unsupported placeholder "\{\{ process.env.SECRET \}\}" of template "v\/\{\{ process.env.SECRET \}\}"/,
  ],
  ['url', 'https://x/{{ secrets.TOKEN }}', /^input "url": unsupported placeholder "\{\{ secrets.TOKEN \}\}"/],
  ['promql', 'up{ns="{{ tenant.nam }}"}', /^metric "m": query: unknown tenant field in "\{\{ tenant.nam \}\}"/],
  ['check', '/{{ tenant.slugg }}', /check "h": field "path": unknown tenant field in "\{\{ tenant.slugg \}\}"/],
  [
    'check',
    '/{{ env.HOME }}',
    /unsupported placeholder "\{\{ env.HOME \}\}" of template "\/\{\{ env.HOME \}\}" \(use .*\{\{ secrets.NAME \}\}\)/,
  ],
  [
    'smoke-url',
    'http://{{ tenant.slug }}.svc',
    /^input "smoke-url": unsupported placeholder "\{\{ tenant.slug \}\}".*\(use \{\{ release \}\}/,
  ],
  ['smoke-url', 'http://{{ release.name }}', /unsupported placeholder "\{\{ release.name \}\}"/],

  // Unbalanced braces, refused by every dialect, naming the template.
  ...(Object.keys(dialects) as DialectName[]).flatMap((d): Array<[DialectName, string, RegExp]> =>
    ['/{{ tenant.slug }', '/{{ tenant.slug', '/x }}', '/{{ tenant.slug }} }}', '/{{ {{ tenant.slug }} }}', '/{ {release} }}'].map((s) => [
      d,
      s,
      new RegExp(`template "${s.replace(/[{}.|/]/g, '\\$&')}" has an unbalanced "\\{\\{" or "\\}\\}"`),
    ]),
  ),

  // What a dialect refuses or checks after expanding.
  [
    'release-name',
    '{{ tenant.release }}-x',
    /^input "release-name": may not use "tenant.release" in template "\{\{ tenant.release \}\}-x"/,
  ],
  [
    'release-name',
    '{{ tenant.id }}-{{ tenant.id }}-{{ tenant.id }}',
    /gives "fast-fiber-isp-123-.*", which is not a valid Helm release name/,
  ],
  ['release-name', '{{ tenant.labels.ring }}_x', /gives "canary_x"/],
  [
    'release-name',
    'values/{{ tenant.labels.tier }}',
    /template "values\/\{\{ tenant.labels.tier \}\}" needs label "tier", which tenant "fast-fiber-isp-123"/,
  ],
  [
    'values-path',
    '../{{ tenant.slug }}.yaml',
    /input "tenant-values-files" \(template "..\/\{\{ tenant.slug \}\}.yaml", tenant "fast-fiber-isp-123"\): path "..\/fast-fiber.yaml" leaves the base directory/,
  ],
  ['values-path', 'a/../../{{ tenant.slug }}.yaml', /leaves the base directory/],
  ['values-path', '/etc/{{ tenant.slug }}', /is absolute/],
  [
    'check',
    '/{{ secrets.NOPE }}',
    /field "path": "\{\{ secrets.NOPE \}\}" names no secret given in the "secrets" input \(known secrets: TOKEN, BRACES\)/,
  ],
];

describe('one template engine', () => {
  it.each(rows)('%s %j -> %s', (dialect, template, expected) => {
    const run = () => dialects[dialect](template);
    if (typeof expected === 'string') expect(run()).toBe(expected);
    else expect(run).toThrow(expected);
  });

  it('a template that needs a tenant, expanded without one, says so', () => {
    expect(() => renderForTenant('https://{{ tenant.slug }}.x', undefined, 'input "url"')).toThrow(
      /^input "url": "\{\{ tenant.slug \}\}" needs a tenant, but the target is a single URL or release/,
    );
  });

  it('a pass leaves the placeholders of a later pass as written', () => {
    const t = compileTemplate('/{{ tenant.slug }}/{{secrets.A}}', 's', CHECK_TEMPLATE);
    expect(expandTemplate(t, { secrets: { A: 'a' } }, { keep: (r) => r.name !== 'secrets' })).toBe('/{{ tenant.slug }}/a');
    expect(expandForTenant(t, ctx)).toBe('/fast-fiber/{{secrets.A}}');
  });

  it.each([
    ['C:\\x.yaml', /is absolute/],
    ['..\\..\\x.yaml', /leaves the base directory/],
    ['', /is empty/],
    ['a\0b', /NUL/],
  ])('containedPath rejects %j', (p, re) => expect(() => containedPath('s', p, '.')).toThrow(re));
});
