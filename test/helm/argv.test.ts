import { describe, expect, it } from 'vitest';
import { rollbackArgv, uninstallArgv, upgradeArgv, historyArgv, listAllArgv } from '../../src/helm/argv.ts';
import type { UpgradeOptions } from '../../src/helm/argv.ts';
import { parseHelmVersion } from '../../src/helm/version.ts';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fixturesDir } from '../support/tools.ts';

const helm3 = parseHelmVersion(readFileSync(join(fixturesDir, 'helm3-version.txt'), 'utf8'));
const helm4 = parseHelmVersion(readFileSync(join(fixturesDir, 'helm4-version.txt'), 'utf8'));

const base: UpgradeOptions = {
  release: 'fast-fiber',
  namespace: 'tenant-fast-fiber',
  chart: 'oci://registry.example.com/charts/isp-ops-tenant',
  version: '1.3.0',
  valuesFiles: [],
  set: [],
  setString: [],
  createNamespace: false,
  wait: 'ready',
  timeoutMs: 300_000,
  dryRun: 'none',
  serverSide: 'auto',
};

describe('helm version detection', () => {
  it('reads both recorded `helm version` outputs', () => {
    expect(helm3).toMatchObject({ major: 3, minor: 17, patch: 3 });
    expect(helm4).toMatchObject({ major: 4, minor: 1, patch: 4 });
    expect(parseHelmVersion('v4.0.0')).toMatchObject({ major: 4 });
  });
  it.each([
    ['v2.17.0', /version v2.17.0 is not supported/],
    ['v5.0.0', /version v5.0.0 is not supported/],
    ['v3.12.3', /too old/],
    ['garbage', /could not read the helm version/],
  ])('rejects %s', (text, re) => expect(() => parseHelmVersion(text)).toThrow(re));
});

describe('upgradeArgv', () => {
  type Row = [string, Partial<UpgradeOptions> & { kubeContext?: string }, 3 | 4, string[]];
  const table: Row[] = [
    [
      'helm 3 waits with a boolean and never passes --atomic',
      {},
      3,
      [
        'upgrade',
        'fast-fiber',
        'oci://registry.example.com/charts/isp-ops-tenant',
        '--install',
        '--namespace',
        'tenant-fast-fiber',
        '--version',
        '1.3.0',
        '--wait',
        '--wait-for-jobs',
        '--timeout',
        '300s',
        '--output',
        'json',
      ],
    ],
    [
      'helm 4 waits with the watcher strategy and keeps server-side auto',
      {},
      4,
      [
        'upgrade',
        'fast-fiber',
        'oci://registry.example.com/charts/isp-ops-tenant',
        '--install',
        '--namespace',
        'tenant-fast-fiber',
        '--version',
        '1.3.0',
        '--wait=watcher',
        '--wait-for-jobs',
        '--timeout',
        '300s',
        '--server-side=auto',
        '--output',
        'json',
      ],
    ],
    [
      'helm 4 without wait says hookOnly explicitly',
      { wait: 'none', version: undefined },
      4,
      [
        'upgrade',
        'fast-fiber',
        'oci://registry.example.com/charts/isp-ops-tenant',
        '--install',
        '--namespace',
        'tenant-fast-fiber',
        '--wait=hookOnly',
        '--timeout',
        '300s',
        '--server-side=auto',
        '--output',
        'json',
      ],
    ],
    [
      'helm 3 without wait passes no wait flag',
      { wait: 'none', version: undefined },
      3,
      [
        'upgrade',
        'fast-fiber',
        'oci://registry.example.com/charts/isp-ops-tenant',
        '--install',
        '--namespace',
        'tenant-fast-fiber',
        '--timeout',
        '300s',
        '--output',
        'json',
      ],
    ],
    [
      'helm 4 legacy wait',
      { wait: 'legacy', version: undefined },
      4,
      [
        'upgrade',
        'fast-fiber',
        'oci://registry.example.com/charts/isp-ops-tenant',
        '--install',
        '--namespace',
        'tenant-fast-fiber',
        '--wait=legacy',
        '--wait-for-jobs',
        '--timeout',
        '300s',
        '--server-side=auto',
        '--output',
        'json',
      ],
    ],
    [
      'repo chart, values, set, context, history, description, create-namespace (helm 3)',
      {
        chart: 'isp-ops-tenant',
        repoUrl: 'https://charts.example.com',
        valuesFiles: ['a.yaml', 'b.yaml'],
        set: ['image.tag=v1.3.0', 'a=b,c'],
        setString: ['tenant.id=007'],
        kubeContext: 'prod',
        historyMax: 20,
        description: 'deploy-actions run 42',
        createNamespace: true,
        timeoutMs: 90_500,
      },
      3,
      [
        'upgrade',
        'fast-fiber',
        'isp-ops-tenant',
        '--install',
        '--namespace',
        'tenant-fast-fiber',
        '--kube-context',
        'prod',
        '--repo',
        'https://charts.example.com',
        '--version',
        '1.3.0',
        '--create-namespace',
        '--values',
        'a.yaml',
        '--values',
        'b.yaml',
        '--set',
        'image.tag=v1.3.0',
        '--set',
        'a=b,c',
        '--set-string',
        'tenant.id=007',
        '--wait',
        '--wait-for-jobs',
        '--timeout',
        '91s',
        '--history-max',
        '20',
        '--description',
        'deploy-actions run 42',
        '--output',
        'json',
      ],
    ],
    [
      'server dry-run does not wait (helm 3)',
      { dryRun: 'server', version: undefined },
      3,
      [
        'upgrade',
        'fast-fiber',
        'oci://registry.example.com/charts/isp-ops-tenant',
        '--install',
        '--namespace',
        'tenant-fast-fiber',
        '--timeout',
        '300s',
        '--dry-run=server',
        '--output',
        'json',
      ],
    ],
    [
      'client dry-run (helm 4) with server-side forced',
      { dryRun: 'client', serverSide: 'true', version: undefined },
      4,
      [
        'upgrade',
        'fast-fiber',
        'oci://registry.example.com/charts/isp-ops-tenant',
        '--install',
        '--namespace',
        'tenant-fast-fiber',
        '--wait=hookOnly',
        '--timeout',
        '300s',
        '--dry-run=client',
        '--server-side=true',
        '--output',
        'json',
      ],
    ],
  ];
  // The context is the bound cluster target's, passed beside the options (never inside them).
  const split = (over: Row[1]) => {
    const { kubeContext, ...o } = over;
    return [{ ...base, ...o }, kubeContext] as const;
  };
  it.each(table)('%s', (_name, over, major, argv) => {
    const [o, context] = split(over);
    expect(upgradeArgv(o, major === 3 ? helm3 : helm4, context)).toEqual(argv);
  });

  it('never emits a flag the other major rejects', () => {
    for (const o of table) {
      const [opts, context] = split(o[1]);
      const a3 = upgradeArgv(opts, helm3, context).join(' ');
      const a4 = upgradeArgv(opts, helm4, context).join(' ');
      expect(a3).not.toMatch(/--atomic|--rollback-on-failure|--server-side|--wait=/);
      expect(a4).not.toMatch(/--atomic|--wait( |$)/);
    }
  });
});

describe('rollback and uninstall argv', () => {
  const t = { namespace: 'tenant-a', wait: 'ready' as const, timeoutMs: 60_000 };
  it.each([
    [3, ['rollback', 'a', '2', '--namespace', 'tenant-a', '--wait', '--wait-for-jobs', '--timeout', '60s', '--history-max', '0']],
    [4, ['rollback', 'a', '2', '--namespace', 'tenant-a', '--wait=watcher', '--wait-for-jobs', '--timeout', '60s', '--history-max', '0']],
  ] as const)('rollback to an explicit revision, helm %d', (major, argv) => {
    expect(rollbackArgv('a', 2, t, major === 3 ? helm3 : helm4)).toEqual(argv);
  });
  it('rollback without waiting (cancel path) on helm 4 is hookOnly', () => {
    expect(rollbackArgv('a', 2, { ...t, wait: 'none' }, helm4)).toContain('--wait=hookOnly');
  });
  it.each([
    [3, ['uninstall', 'a', '--namespace', 'tenant-a', '--wait', '--timeout', '60s']],
    [4, ['uninstall', 'a', '--namespace', 'tenant-a', '--wait=watcher', '--timeout', '60s']],
  ] as const)('uninstall, helm %d', (major, argv) => {
    expect(uninstallArgv('a', t, major === 3 ? helm3 : helm4)).toEqual(argv);
  });
  it('list --all-namespaces pages through every status (Helm 4 has no --all)', () => {
    expect(listAllArgv(1000, 1000, helm3, 'prod')).toEqual([
      'list',
      '--all-namespaces',
      '--all',
      '--max',
      '1000',
      '--offset',
      '1000',
      '--kube-context',
      'prod',
      '--output',
      'json',
    ]);
    expect(listAllArgv(0, 1000, helm4)).toEqual(['list', '--all-namespaces', '--max', '1000', '--offset', '0', '--output', 'json']);
  });
  it('history asks for JSON and the whole history', () => {
    expect(historyArgv('a', { namespace: 'tenant-a' }, 'c')).toEqual([
      'history',
      'a',
      '--namespace',
      'tenant-a',
      '--kube-context',
      'c',
      '--max',
      '256',
      '--output',
      'json',
    ]);
  });
});
