import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fsProbe } from '../../src/build/release.ts';
import { checkRegistry, parseImageList, parseKeyValues, registryHost, resolveImages, type ImageDefaults } from '../../src/build/spec.ts';
import { ConfigurationError } from '../../src/core/errors.ts';

const ws = mkdtempSync(join(tmpdir(), 'da-spec-'));
mkdirSync(join(ws, 'apps/api'), { recursive: true });
writeFileSync(join(ws, 'apps/api/Dockerfile'), 'FROM scratch\n');
writeFileSync(join(ws, 'apps/api/Dockerfile.prod'), 'FROM scratch\n');
writeFileSync(join(ws, 'Dockerfile'), 'FROM scratch\n');

const defaults: ImageDefaults = {
  registry: 'ghcr.io/dotmac',
  workspace: ws,
  platforms: ['linux/amd64'],
  buildArgs: { NODE_ENV: 'production', A: '1' },
  labels: { team: 'platform' },
};
const inline = { kind: 'input', input: 'images' } as const;
const resolveText = (text: string, d: Partial<ImageDefaults> = {}) =>
  resolveImages(parseImageList(text, inline), { ...defaults, ...d }, fsProbe);

describe('build-images: image list', () => {
  it('resolves paths (context from the workspace, dockerfile from the context) and merges defaults, image values winning', () => {
    const [api, root] = resolveText(
      [
        '- name: api',
        '  context: apps/api',
        '  dockerfile: Dockerfile.prod',
        '  platforms: linux/arm64, linux/amd64',
        '  build-args: { A: "2", PORT: 8080 }',
        '  labels: [team=ops, tier=backend]',
        '- name: tools/root',
        '  repository: registry.example.com:5000/other/root',
      ].join('\n'),
    );
    expect(api).toEqual({
      name: 'api',
      repository: 'ghcr.io/dotmac/api',
      context: join(ws, 'apps/api'),
      dockerfile: join(ws, 'apps/api/Dockerfile.prod'),
      target: undefined,
      buildArgs: { NODE_ENV: 'production', A: '2', PORT: '8080' },
      labels: { team: 'ops', tier: 'backend' },
      platforms: ['linux/arm64', 'linux/amd64'],
      tags: [],
    });
    expect(root).toMatchObject({
      name: 'tools/root',
      repository: 'registry.example.com:5000/other/root',
      context: ws,
      dockerfile: join(ws, 'Dockerfile'),
      platforms: ['linux/amd64'],
    });
  });

  it('accepts `images:` around the list in a file, and names file and line for YAML errors', () => {
    const file = { kind: 'file', input: 'images-file', path: 'ci/images.yaml' } as const;
    expect(parseImageList('images:\n  - name: api\n', file).map((e) => e.entry.name)).toEqual(['api']);
    let err: unknown;
    try {
      parseImageList('- name: api\n  context: [oops\n', file);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigurationError);
    expect((err as ConfigurationError).message).toMatch(/^ci\/images\.yaml:\d+: is not valid YAML/);
    expect((err as ConfigurationError).location?.file).toBe('ci/images.yaml');
  });

  it.each([
    ['', 'input "images": must be a non-empty YAML list of images'],
    ['name: api', 'input "images": must be a non-empty YAML list of images'],
    ['- just-a-string', 'input "images": entry 1 is not a mapping'],
    ['- context: apps/api', 'input "images": image 1: has no "name"'],
    ['- name: api\n  context: apps/api\n  platforms: [linux]', 'input "images": image "api": platform "linux" is not os/arch[/variant]'],
    [
      '- name: api\n  context: apps/api\n  build-args: { "NO-DASH": x }',
      'input "images": image "api": build arg "NO-DASH" is not a valid ARG name',
    ],
    [
      '- name: api\n  context: apps/api\n  target: "bad stage"',
      'input "images": image "api": target "bad stage" is not a valid stage name',
    ],
    [
      '- name: api\n  context: apps/api\n  repository: "ghcr.io/Dotmac/API"',
      'input "images": image "api": repository "ghcr.io/Dotmac/API" is not a valid repository',
    ],
    ['- name: api\n  context: apps/api\n  labels: 3', 'input "images": image "api": "labels" must be a mapping'],
  ])('%j -> %s', (text, message) => {
    expect(() => resolveText(text)).toThrow(message);
  });

  it('needs a registry unless the image names its repository', () => {
    expect(() => resolveText('- name: api\n  context: apps/api', { registry: '' })).toThrow(
      'input "images": image "api": has no registry to push to',
    );
  });
});

describe('build-images: input helpers', () => {
  it.each(['ghcr.io/dotmac', '127.0.0.1:5000', 'registry.example.com/a/b', '123456789012.dkr.ecr.eu-west-1.amazonaws.com', ''])(
    'accepts registry %j',
    (r) => {
      expect(checkRegistry('registry', r)).toBe(r);
    },
  );
  it.each(['https://ghcr.io/dotmac', 'ghcr.io/Dotmac', 'ghcr.io:port', 'a b'])('rejects registry %j naming the input', (r) => {
    expect(() => checkRegistry('registry', r)).toThrow(/^input "registry": is not a registry/);
  });
  it('login goes to the host of the registry', () => {
    expect(registryHost('ghcr.io/dotmac/sub')).toBe('ghcr.io');
    expect(registryHost('127.0.0.1:5000')).toBe('127.0.0.1:5000');
  });
  it('parses KEY=VALUE lines, keeping "=" in values', () => {
    expect(parseKeyValues('build-args', ['A=1', 'B=x=y', 'C='])).toEqual({ A: '1', B: 'x=y', C: '' });
    expect(() => parseKeyValues('labels', ['novalue'])).toThrow(
      'input "labels": "novalue" is not KEY=VALUE (write one KEY=VALUE per line)',
    );
  });
});
