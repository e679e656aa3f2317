import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Inputs } from '../../src/actions/common/inputs.ts';
import { parseInputs } from '../../src/actions/helm-deploy/inputs.ts';
import { openHelm } from '../../src/actions/common/helm-session.ts';
import { runCommand } from '../../src/core/process.ts';
import { testContext } from '../support/action-context.ts';
import { exampleChart, helmBinaries } from '../support/tools.ts';

const parse = (over: Record<string, string>) => {
  const v: Record<string, string> = { release: 'admin', namespace: 'platform', chart: exampleChart, ...over };
  return parseInputs(new Inputs((n) => v[n] ?? ''));
};

describe('helm-deploy inputs', () => {
  it('reads a valid set into typed options', () => {
    const i = parse({
      set: 'image.tag=v1.3.0\nreplicaCount=2',
      timeout: '90s',
      wait: 'legacy',
      'dry-run': 'true',
      'set-secret': 'auth.jwt.secret=abc123',
    });
    expect(i.upgrade).toMatchObject({
      release: 'admin',
      namespace: 'platform',
      set: ['image.tag=v1.3.0', 'replicaCount=2'],
      timeoutMs: 90_000,
      wait: 'legacy',
      dryRun: 'server',
    });
    expect(i.secretValues).toEqual({ auth: { jwt: { secret: 'abc123' } } });
    expect(i.strategy).toBe('rolling');
  });

  it.each([
    [
      'missing chart',
      { chart: '' },
      'input "chart": is required, got "" (give a local chart path, an oci:// reference, or a chart name with repo-url)',
    ],
    ['a chart path that does not exist', { chart: 'charts/nope' }, 'input "chart": does not exist, got "charts/nope"'],
    ['malformed set', { set: 'image.tag=v1\nnot a pair' }, 'input "set": is not a key=value line, got "line 2 (no "=")"'],
    [
      'malformed set whose value may be secret',
      { set: 'db password=hunter22' },
      'input "set": is not a key=value line, got "db password=*** (line 1)"',
    ],
    [
      'malformed set-secret',
      { 'set-secret': '=sup3rs3cr3tvalue' },
      'input "set-secret": is not a key.path=value line, got "=*** (line 1)"',
    ],
    ['invalid release name', { release: 'Admin_App' }, 'input "release": is not a valid Helm release name, got "Admin_App"'],
    ['invalid namespace', { namespace: 'tenant;rm -rf' }, 'input "namespace": is not a valid namespace name, got "tenant;rm -rf"'],
    ['timeout not a duration', { timeout: '5 minutes' }, 'input "timeout": is not a duration, got "5 minutes"'],
    [
      'unknown wait mode',
      { wait: 'forever' },
      'input "wait": is not one of the allowed values, got "forever" (use one of: true, false, legacy)',
    ],
    [
      'a values file that does not exist',
      { 'values-files': 'values/prod.yaml' },
      'input "values-files": does not exist, got "values/prod.yaml"',
    ],
    [
      'repo-url with a path chart',
      { chart: 'x/y', 'repo-url': 'https://charts.example.com' },
      'input "chart": must be a bare chart name when repo-url is set',
    ],
    ['a bad oci reference', { chart: 'oci://' }, 'input "chart": is not a valid oci:// reference'],
    ['an unknown color', { strategy: 'blue-green', 'initial-color': 'red' }, 'input "initial-color": is not a color, got "red"'],
    [
      'blue-green rollback without the strategy',
      { 'blue-green-rollback': 'true' },
      'input "blue-green-rollback": needs strategy: blue-green',
    ],
  ])('%s: one clear line', (_name, over, message) => {
    expect(() => parse(over)).toThrow(message);
  });

  it('never puts a secret value in an error message', () => {
    const ctx = testContext({
      release: 'admin',
      namespace: 'platform',
      chart: exampleChart,
      set: 'db password=hunter22',
      'set-secret': 'ok.key=s3cr3t-1\nbad key=s3cr3t-2',
    });
    const err = (() => {
      try {
        parseInputs(ctx.inputs);
      } catch (e) {
        return (e as Error).message;
      }
    })();
    expect(err).toBeDefined();
    expect(err).not.toMatch(/hunter22|s3cr3t/);
  });

  it('masks secret values and --set values under credential-like keys', () => {
    const ctx = testContext({
      release: 'admin',
      namespace: 'platform',
      chart: exampleChart,
      set: 'db.password=hunter22\nimage.tag=v1.3.0',
      'set-secret': 'api.token=tok-998877',
    });
    parseInputs(ctx.inputs);
    expect(ctx.masked).toEqual(expect.arrayContaining(['hunter22', 'tok-998877']));
    expect(ctx.masked).not.toContain('v1.3.0');
  });
});

describe('helm binary', () => {
  it('an unknown helm version is one clear error before anything runs', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'helm2-'));
    const fake = join(dir, 'helm');
    writeFileSync(fake, '#!/bin/sh\necho v2.17.0\n');
    chmodSync(fake, 0o755);
    await expect(openHelm(testContext({}), fake, { PATH: process.env.PATH }, runCommand)).rejects.toThrow(
      'helm: version v2.17.0 is not supported (use Helm 3 (3.13 or later) or Helm 4)',
    );
    await expect(openHelm(testContext({}), join(dir, 'absent'), { PATH: process.env.PATH }, runCommand)).rejects.toThrow(
      /input "helm": cannot run helm/,
    );
  });

  it.each([3, 4] as const)('the example chart passes helm %i lint and renders with tenant values', async (major) => {
    const lint = await runCommand(helmBinaries[major], ['lint', exampleChart, '--set', 'tenant.slug=alpha'], {
      env: { PATH: process.env.PATH, HOME: tmpdir() },
    });
    expect(lint.exitCode, lint.stdout + lint.stderr).toBe(0);
    expect(lint.stdout).toContain('1 chart(s) linted, 0 chart(s) failed');
    const tpl = await runCommand(
      helmBinaries[major],
      ['template', 'alpha', exampleChart, '--set', 'tenant.id=alpha-1,tenant.slug=alpha,image.digest=sha256:abc'],
      { env: { PATH: process.env.PATH, HOME: tmpdir() } },
    );
    expect(tpl.exitCode).toBe(0);
    expect(tpl.stdout).toContain('image: "registry.example.com/dotmac/isp-ops-app@sha256:abc"');
    expect(tpl.stdout).toContain('TENANT_SLUG: "alpha"');
    expect(tpl.stdout).toMatch(/readinessProbe:\s+httpGet:\s+path: \/api\/ready/);
  });
});
