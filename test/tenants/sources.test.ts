import { readFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import schema from '../../schemas/tenants.schema.json' with { type: 'json' };
import { ConfigurationError } from '../../src/core/errors.ts';
import type { NamespaceInfo } from '../../src/kube/ports.ts';
import {
  addTemplatedValuesFiles,
  loadTenantsFile,
  parseTenantsFile,
  tenantsFromList,
  tenantsFromNamespaces,
} from '../../src/tenants/sources.ts';
import { tenant, thrown } from './helpers.ts';

const ns = (name: string, labels: Record<string, string> = {}, annotations: Record<string, string> = {}): NamespaceInfo => ({
  name,
  labels,
  annotations,
});

describe('tenantsFromNamespaces', () => {
  it('reads the recorded namespace list: id from the label, slug from the name', () => {
    const items = ['namespaces-page1.json', 'namespaces-page2.json'].flatMap((f) => {
      const list = JSON.parse(readFileSync(path.resolve('test/fixtures/kube', f), 'utf8')) as {
        items: Array<{ metadata: { name: string; labels?: Record<string, string>; annotations?: Record<string, string> } }>;
      };
      return list.items.map((i) => ns(i.metadata.name, i.metadata.labels ?? {}, i.metadata.annotations ?? {}));
    });
    const tenants = tenantsFromNamespaces(items);
    expect(tenants.map((t) => [t.id, t.slug, t.namespace, t.release])).toEqual([
      ['alpha-isp-1', 'alpha', 'tenant-alpha', 'alpha'],
      ['beta-isp-1', 'beta', 'tenant-beta', 'beta'],
      ['gamma-isp-1', 'gamma', 'tenant-gamma', 'gamma'],
    ]);
    expect(tenants[0]!.labels['app.kubernetes.io/component']).toBe('tenant');
  });

  it('falls back: tenant-fast-fiber -> slug fast-fiber, id = slug', () => {
    const [t] = tenantsFromNamespaces([ns('tenant-fast-fiber', { ring: 'canary', region: 'eu' })]);
    expect(t).toEqual({
      id: 'fast-fiber',
      slug: 'fast-fiber',
      namespace: 'tenant-fast-fiber',
      release: 'fast-fiber',
      labels: { ring: 'canary', region: 'eu' },
      values: {},
      valuesFiles: [],
    });
  });

  it('takes id and slug from annotations when there is no label, and labels win over annotations', () => {
    const [a, b] = tenantsFromNamespaces([
      ns('tenant-x', {}, { 'dotmac.io/tenant-id': 'x-123', 'dotmac.io/tenant-slug': 'ex' }),
      ns('tenant-y', { 'dotmac.io/tenant-id': 'from-label' }, { 'dotmac.io/tenant-id': 'from-annotation' }),
    ]);
    expect([a!.id, a!.slug, a!.release]).toEqual(['x-123', 'ex', 'ex']);
    expect(b!.id).toBe('from-label');
  });

  it('honours custom keys, prefix, release template and label keys', () => {
    const [t] = tenantsFromNamespaces([ns('isp-acme', { 'acme/id': 'acme-1', ring: 'pilot', other: 'x' })], {
      idKey: 'acme/id',
      namespacePrefix: 'isp-',
      releaseTemplate: 'app-{{ tenant.slug }}-{{ tenant.labels.ring }}',
      labelKeys: ['ring'],
    });
    expect(t).toMatchObject({ id: 'acme-1', slug: 'acme', release: 'app-acme-pilot', labels: { ring: 'pilot' } });
  });

  it('keeps the whole name as slug when the prefix does not apply', () => {
    expect(tenantsFromNamespaces([ns('acme')])[0]!.slug).toBe('acme');
  });

  it('rejects an invalid id label, naming the namespace', () => {
    expect(() => tenantsFromNamespaces([ns('tenant-a', { 'dotmac.io/tenant-id': 'Bad_ID' })])).toThrow(
      /namespace "tenant-a": tenant id "Bad_ID"/,
    );
  });

  it('rejects two namespaces with one tenant id, naming both', () => {
    expect(() =>
      tenantsFromNamespaces([ns('tenant-a', { 'dotmac.io/tenant-id': 'same' }), ns('tenant-b', { 'dotmac.io/tenant-id': 'same' })]),
    ).toThrow(/namespace "tenant-b": duplicate tenant id "same" \(also at namespace "tenant-a"\)/);
  });

  it('rejects a release template giving an invalid name', () => {
    expect(() => tenantsFromNamespaces([ns('tenant-a')], { releaseTemplate: '{{ tenant.slug }}-' + 'x'.repeat(60) })).toThrow(
      /not a valid Helm release name/,
    );
  });
});

describe('tenantsFromList', () => {
  it('splits on commas and newlines and applies the defaults', () => {
    const ts = tenantsFromList('tenants', 'alpha, beta\ngamma,,\n');
    expect(ts.map((t) => [t.id, t.slug, t.namespace, t.release])).toEqual([
      ['alpha', 'alpha', 'tenant-alpha', 'alpha'],
      ['beta', 'beta', 'tenant-beta', 'beta'],
      ['gamma', 'gamma', 'tenant-gamma', 'gamma'],
    ]);
  });
  it.each(['Alpha', 'a;rm -rf /', '$(id)', '-x'])('rejects id %j naming the input', (id) => {
    expect(() => tenantsFromList('tenants', `ok,${id}`)).toThrow(/input "tenants": is not a valid tenant id/);
  });
  it('rejects duplicates', () => {
    expect(() => tenantsFromList('tenants', 'a,b,a')).toThrow(/duplicate tenant id "a" \(also at position 1\)/);
  });
  it('rejects an id too long for its namespace', () => {
    expect(() => tenantsFromList('tenants', 'a'.repeat(60), { releaseTemplate: 'app' })).toThrow(
      /input "tenants": namespace "tenant-a+" is not a valid namespace name, got "a+"/,
    );
    expect(() => tenantsFromList('tenants', 'a'.repeat(60))).toThrow(
      /input "release-name": template "\{\{ tenant.slug \}\}" gives "a+" for tenant "a+", which is not a valid Helm release name/,
    );
  });
});

describe('tenants file', () => {
  const file = 'deploy/tenants.yaml';

  it('applies defaults and resolves valuesFiles against the file directory', () => {
    const ts = parseTenantsFile(
      [
        'tenants:',
        '  - id: acme',
        '    labels: { ring: pilot }',
        '    values: { replicaCount: 2 }',
        '    valuesFiles: [values/acme.yaml]',
        '  - id: b-1',
        '    slug: bee',
        '    namespace: ns-b',
        '    release: rel-b',
      ].join('\n'),
      file,
    );
    expect(ts).toEqual([
      {
        id: 'acme',
        slug: 'acme',
        namespace: 'tenant-acme',
        release: 'acme',
        labels: { ring: 'pilot' },
        values: { replicaCount: 2 },
        valuesFiles: ['deploy/values/acme.yaml'],
      },
      { id: 'b-1', slug: 'bee', namespace: 'ns-b', release: 'rel-b', labels: {}, values: {}, valuesFiles: [] },
    ]);
  });

  it('uses the namespace prefix and release template options for defaults', () => {
    const [t] = parseTenantsFile('tenants:\n  - id: acme\n    labels: { ring: canary }\n', file, {
      namespacePrefix: 'isp-',
      releaseTemplate: '{{ tenant.id }}-{{ tenant.labels.ring }}',
    });
    expect([t!.namespace, t!.release]).toEqual(['isp-acme', 'acme-canary']);
  });

  it('names file, line and column of an invalid namespace, with a location for annotations', () => {
    const err = thrown(() => parseTenantsFile('tenants:\n  - id: ok\n  - id: bad\n    namespace: Tenant_Bad\n', file));
    expect(err).toBeInstanceOf(ConfigurationError);
    expect(err.message).toBe(
      'deploy/tenants.yaml:4:16: tenants[1].namespace: "Tenant_Bad" is not a valid namespace name (use at most 63 lowercase letters, digits and "-", starting and ending with a letter or digit)',
    );
    expect(err.location).toEqual({ file, line: 4, column: 16 });
  });

  it('points at an unknown key and lists the allowed ones', () => {
    expect(() => parseTenantsFile('tenants:\n  - id: a\n    valuesFile: x.yaml\n', file)).toThrow(
      /^deploy\/tenants.yaml:3:5: tenants\[0\]: unknown key "valuesFile" \(did you mean "valuesFiles"\?\) \(allowed keys: id, slug/,
    );
  });

  it('points at a missing id', () => {
    expect(() => parseTenantsFile('tenants:\n  - id: a\n  - slug: b\n', file)).toThrow(
      /^deploy\/tenants.yaml:3:5: tenants\[1\]: missing required key "id"/,
    );
  });

  it('points at a label value of the wrong type and says to quote it', () => {
    expect(() => parseTenantsFile('tenants:\n  - id: a\n    labels:\n      canary: true\n', file)).toThrow(
      /^deploy\/tenants.yaml:4:15: tenants\[0\].labels.canary must be a string \(quote the value\)/,
    );
  });

  it('points at an invalid label key', () => {
    expect(() => parseTenantsFile('tenants:\n  - id: a\n    labels:\n      "bad key": x\n', file)).toThrow(
      /^deploy\/tenants.yaml:4:7: tenants\[0\].labels: label key "bad key" is not valid/,
    );
  });

  it('rejects a document without tenants', () => {
    expect(() => parseTenantsFile('tenant:\n  - id: a\n', file)).toThrow(
      /^deploy\/tenants.yaml:1:1: the document: missing required key "tenants"/,
    );
    expect(() => parseTenantsFile('tenants: []\nextra: 1\n', file)).toThrow(
      /^deploy\/tenants.yaml:2:1: the document: unknown key "extra" \(allowed keys: clusters, tenants\)/,
    );
    expect(() => parseTenantsFile('', file)).toThrow(/^deploy\/tenants.yaml:1:1: the document must be a mapping/);
  });

  it('reports malformed YAML with its line', () => {
    const err = thrown(() => parseTenantsFile('tenants:\n  - id: a\n    labels: { ring: pilot\n  - id: b\n', file));
    expect(err.message).toMatch(/^deploy\/tenants.yaml:\d+:\d+: malformed YAML: /);
    expect((err.location as { line: number }).line).toBeGreaterThanOrEqual(3);
  });

  it('reports a duplicate YAML key as malformed, on its line', () => {
    expect(() => parseTenantsFile('tenants:\n  - id: a\n    id: b\n', file)).toThrow(
      /^deploy\/tenants.yaml:3:5: malformed YAML: Map keys must be unique/,
    );
  });

  it('names both lines of a duplicate tenant id', () => {
    expect(() => parseTenantsFile('tenants:\n  - id: a\n  - id: b\n  - id: a\n', file)).toThrow(
      /^deploy\/tenants.yaml:4:5: duplicate tenant id "a" \(also at line 2\)/,
    );
  });

  it('rejects two tenants on one release', () => {
    expect(() =>
      parseTenantsFile('tenants:\n  - id: a\n    release: x\n  - id: b\n    namespace: tenant-a\n    release: x\n', file),
    ).toThrow(/^deploy\/tenants.yaml:4:5: tenant "b" targets release "x" in namespace "tenant-a", as does tenant "a" \(at line 2\)/);
  });

  it('points at the tenant when a derived name is invalid', () => {
    expect(() => parseTenantsFile(`tenants:\n  - id: ${'a'.repeat(60)}\n    release: app\n`, file)).toThrow(
      /^deploy\/tenants.yaml:2:5: tenant "a+": namespace "tenant-a+" is not a valid namespace name/,
    );
  });

  it('refuses valuesFiles that leave the file directory', () => {
    expect(() => parseTenantsFile('tenants:\n  - id: a\n    valuesFiles: [../secrets.yaml]\n', file)).toThrow(
      /^deploy\/tenants.yaml:2:5: .*path "..\/secrets.yaml" leaves the base directory "deploy"/,
    );
    expect(() => parseTenantsFile('tenants:\n  - id: a\n    valuesFiles: [/etc/passwd]\n', file)).toThrow(
      /path "\/etc\/passwd" is absolute/,
    );
  });

  it('loads from disk and names a missing file', async () => {
    await expect(loadTenantsFile('test/tenants/does-not-exist.yaml')).rejects.toThrow(/does-not-exist.yaml: tenants file not found/);
  });
});

describe('examples/tenants.yaml', () => {
  it('is valid against the published schema and loads', async () => {
    const text = readFileSync('examples/tenants.yaml', 'utf8');
    const validate = new Ajv2020({ strict: true }).compile(schema);
    expect(validate(parse(text))).toBe(true);
    const ts = await loadTenantsFile('examples/tenants.yaml');
    expect(ts.length).toBeGreaterThanOrEqual(6);
    expect(new Set(ts.map((t) => t.labels.ring))).toEqual(new Set(['pilot', 'canary', 'general']));
    expect(ts.every((t) => t.labels.region)).toBe(true);
    const files = ts.flatMap((t) => t.valuesFiles);
    expect(files.length).toBeGreaterThanOrEqual(2);
    for (const f of files) expect(existsSync(f), f).toBe(true);
  });

  it('the schema documents every property', () => {
    const tenantProps = schema.$defs.tenant.properties as Record<string, { description?: string }>;
    for (const [k, v] of Object.entries(tenantProps)) expect(v.description, k).toBeTruthy();
  });
});

describe('addTemplatedValuesFiles', () => {
  const fleet = [tenant('alpha', { ring: 'pilot' }), { ...tenant('beta'), valuesFiles: ['deploy/values/beta-extra.yaml'] }];
  const existing = new Set(['deploy/values/alpha.yaml', 'deploy/values/beta.yaml', 'deploy/values/beta-extra.yaml']);

  it('adds existing files before the tenant own ones and reports missing ones (skip is the default)', () => {
    const { tenants, missing } = addTemplatedValuesFiles(fleet, {
      templates: ['values/{{ tenant.slug }}.yaml', 'values/ring-{{ tenant.id }}.yaml'],
      baseDir: 'deploy',
      exists: (p) => existing.has(p),
    });
    expect(tenants.map((t) => t.valuesFiles)).toEqual([
      ['deploy/values/alpha.yaml'],
      ['deploy/values/beta.yaml', 'deploy/values/beta-extra.yaml'],
    ]);
    expect(missing).toEqual([
      { id: 'alpha', path: 'deploy/values/ring-alpha.yaml' },
      { id: 'beta', path: 'deploy/values/ring-beta.yaml' },
    ]);
    expect(fleet[0]!.valuesFiles).toEqual([]); // inputs are not mutated
  });

  it('does not add a file twice', () => {
    const { tenants } = addTemplatedValuesFiles(fleet, {
      templates: ['values/{{ tenant.slug }}-extra.yaml'],
      baseDir: 'deploy',
      exists: () => true,
    });
    expect(tenants[1]!.valuesFiles).toEqual(['deploy/values/beta-extra.yaml']);
  });

  it('makes a missing file an error when asked', () => {
    expect(() =>
      addTemplatedValuesFiles(fleet, { templates: ['values/{{ tenant.slug }}.yaml'], exists: () => false, ifMissing: 'error' }),
    ).toThrow(/input "tenant-values-files": values file "values\/alpha.yaml" for tenant "alpha" does not exist/);
  });

  it('rejects an unknown field even for an empty fleet', () => {
    expect(() => addTemplatedValuesFiles([], { templates: ['values/{{ tenant.name }}.yaml'], exists: () => true })).toThrow(
      /unknown tenant field in "\{\{ tenant.name \}\}"/,
    );
  });
});
