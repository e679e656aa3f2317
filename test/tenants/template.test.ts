import { describe, expect, it } from 'vitest';
import {
  compileReleaseTemplate,
  compileTemplate,
  containedPath,
  expandReleaseName,
  expandTemplate,
  expandValuesPath,
} from '../../src/tenants/template.ts';

const ctx = {
  id: 'fast-fiber-isp-123',
  slug: 'fast-fiber',
  namespace: 'tenant-fast-fiber',
  release: 'fast-fiber',
  labels: { ring: 'canary', 'dotmac.io/region': 'eu-west' },
};

describe('templates', () => {
  it.each([
    ['{{ tenant.slug }}', 'fast-fiber'],
    ['{{tenant.id}}', 'fast-fiber-isp-123'],
    ['ns={{ tenant.namespace }} rel={{  tenant.release  }}', 'ns=tenant-fast-fiber rel=fast-fiber'],
    ['{{ tenant.labels.ring }}-{{ tenant.labels.dotmac.io/region }}', 'canary-eu-west'],
    ['plain', 'plain'],
  ])('%s -> %s', (tpl, out) => expect(expandTemplate(compileTemplate('t', tpl), ctx)).toBe(out));

  it.each(['{{ tenant.name }}', '{{ env.HOME }}', '{{ tenant }}', '{{ }}', '{{ tenant.slug | upper }}', '{{ process.env.SECRET }}'])(
    'rejects %j naming the template and the input',
    (tpl) => {
      expect(() => compileTemplate('release-name', tpl)).toThrow(
        /^input "release-name": uses unknown field ".*", got ".*" \(use \{\{ tenant.id \}\}/,
      );
    },
  );

  it.each(['{{ tenant.slug', 'x }}', '{{ tenant.slug }} }}', '{{ {{ tenant.slug }} }}'])('rejects unbalanced %j', (tpl) => {
    expect(() => compileTemplate('release-name', tpl)).toThrow(/input "release-name": (has an unbalanced|uses unknown field)/);
  });

  it('names the template and the tenant when a label is missing', () => {
    const t = compileTemplate('values', 'values/{{ tenant.labels.tier }}.yaml');
    expect(() => expandTemplate(t, ctx)).toThrow(
      /template "values\/\{\{ tenant.labels.tier \}\}.yaml" needs label "tier", which tenant "fast-fiber-isp-123" does not have/,
    );
  });

  it('a release template may not use the release', () => {
    expect(() => compileReleaseTemplate('release-name', '{{ tenant.release }}-x')).toThrow(/may not use "tenant.release"/);
  });

  it('validates the expanded release name', () => {
    expect(expandReleaseName(compileReleaseTemplate('r', 'isp-{{ tenant.slug }}'), ctx)).toBe('isp-fast-fiber');
    expect(() => expandReleaseName(compileReleaseTemplate('r', '{{ tenant.id }}-{{ tenant.id }}-{{ tenant.id }}'), ctx)).toThrow(
      /not a valid Helm release name/,
    );
    expect(() => expandReleaseName(compileReleaseTemplate('r', '{{ tenant.labels.ring }}_x'), ctx)).toThrow(/gives "canary_x"/);
  });

  it('keeps values paths inside the base directory', () => {
    expect(expandValuesPath(compileTemplate('v', 'values/{{ tenant.slug }}.yaml'), ctx, 'deploy')).toBe('deploy/values/fast-fiber.yaml');
    expect(expandValuesPath(compileTemplate('v', './a/../values/{{ tenant.slug }}.yaml'), ctx, '.')).toBe('values/fast-fiber.yaml');
    expect(() => expandValuesPath(compileTemplate('v', '../{{ tenant.slug }}.yaml'), ctx, 'deploy')).toThrow(
      /input "v" \(template "..\/\{\{ tenant.slug \}\}.yaml", tenant "fast-fiber-isp-123"\): path "..\/fast-fiber.yaml" leaves the base directory/,
    );
    expect(() => expandValuesPath(compileTemplate('v', 'a/../../{{ tenant.slug }}.yaml'), ctx, '.')).toThrow(/leaves the base directory/);
    expect(() => expandValuesPath(compileTemplate('v', '/etc/{{ tenant.slug }}'), ctx, '.')).toThrow(/is absolute/);
  });

  it.each([
    ['C:\\x.yaml', /is absolute/],
    ['..\\..\\x.yaml', /leaves the base directory/],
    ['', /is empty/],
    ['a\0b', /NUL/],
  ])('containedPath rejects %j', (p, re) => expect(() => containedPath('s', p, '.')).toThrow(re));
});
