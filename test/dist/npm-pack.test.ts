/**
 * The CLI as a package: `npm pack` gives a small tarball (the built CLI and bundle, no sources,
 * tests or node_modules) that installs into an empty directory with no network and no dependency
 * at all (the bundle is self-contained), after which `npx deploy-actions` runs on a machine with
 * only Node (24), npm, helm and sh on the PATH (no system directory): --help, a plan, a misuse,
 * and a rollout against the API fake that deploys with that helm.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeKube } from '../support/fake-kube/index.ts';
import { exampleChart, helmBinaries, repoRoot } from '../support/tools.ts';

interface PackResult {
  filename: string;
  size: number;
  unpackedSize: number;
  files: { path: string; size: number }[];
}

describe('npm pack: npx deploy-actions with only Node and helm', () => {
  let root = '';
  let pack: PackResult;
  let machine = '';
  let env: NodeJS.ProcessEnv = {};
  beforeAll(() => {
    expect(existsSync(join(repoRoot, 'dist/cli/index.js')), 'run npm run build first').toBe(true);
    root = mkdtempSync(join(tmpdir(), 'npm-pack-'));
    // npm's own scripts (npm-cli.js, npx-cli.js), run by whichever node is first on the PATH.
    const npmCli = realpathSync(spawnSync('sh', ['-c', 'command -v npm'], { encoding: 'utf8' }).stdout.trim());
    // The machine: Node 24, npm/npx (they come with Node), helm and a shell (npx runs the bin
    // through sh), and nothing else: no system directory on the PATH.
    const bin = join(root, 'bin');
    mkdirSync(bin);
    symlinkSync(process.execPath, join(bin, 'node'));
    symlinkSync(npmCli, join(bin, 'npm'));
    symlinkSync(join(dirname(npmCli), 'npx-cli.js'), join(bin, 'npx'));
    symlinkSync(helmBinaries[4], join(bin, 'helm'));
    symlinkSync(realpathSync('/bin/sh'), join(bin, 'sh'));
    machine = join(root, 'machine');
    mkdirSync(machine);
    env = {
      PATH: bin,
      HOME: machine,
      TMPDIR: machine,
      npm_config_cache: join(root, 'npm-cache'), // empty: nothing can come from this machine's cache
      npm_config_offline: 'true',
      npm_config_update_notifier: 'false',
      npm_config_fund: 'false',
      npm_config_audit: 'false',
    };
    const p = spawnSync('npm', ['pack', '--json', '--pack-destination', root], { cwd: repoRoot, env, encoding: 'utf8' });
    expect(p.status, p.stderr).toBe(0);
    pack = (JSON.parse(p.stdout) as PackResult[])[0]!;
  });
  afterAll(() => {
    if (root) rmSync(root, { recursive: true, force: true });
  });

  it('holds the CLI and its bundle only, and stays small', () => {
    const paths = pack.files.map((f) => f.path).sort();
    expect(paths).toEqual(
      expect.arrayContaining(['dist/cli/index.js', 'dist/lib/index.js', 'dist/lib/package.json', 'dist/package.json', 'package.json']),
    );
    for (const p of paths)
      expect(p, 'only the CLI, its bundle and the package files').toMatch(
        /^(dist\/(cli|lib)\/|dist\/package\.json$|package\.json$|README\.md$|dist\/lib\/licenses\.txt$)/,
      );
    expect(paths.filter((p) => /^(src|test|node_modules|scripts|bench)\//.test(p))).toEqual([]);
    expect(pack.size, 'packed bytes').toBeLessThan(2 * 1024 * 1024);
    expect(pack.unpackedSize, 'unpacked bytes').toBeLessThan(10 * 1024 * 1024);
  });

  it('installs with no network and no dependency; npx deploy-actions --help and plan run', () => {
    const install = spawnSync('npm', ['install', '--omit=dev', '--ignore-scripts', '--no-package-lock', join(root, pack.filename)], {
      cwd: machine,
      env,
      encoding: 'utf8',
    });
    expect(install.status, install.stderr).toBe(0);
    // The bundle needs nothing at run time: the package is the only thing installed.
    expect(readdirSync(join(machine, 'node_modules')).filter((d) => !d.startsWith('.'))).toEqual(['deploy-actions']);

    const npx = (args: string[]) => spawnSync('npx', ['--no', '--', 'deploy-actions', ...args], { cwd: machine, env, encoding: 'utf8' });
    const help = npx(['--help']);
    expect(help.status, help.stderr).toBe(0);
    expect(help.stdout).toMatch(/^fleet commands:\n {2}plan /m);

    writeFileSync(join(machine, 'tenants.yaml'), ['tenants:', '  - id: alpha', '  - id: beta', '  - id: gamma'].join('\n'));
    const plan = npx(['plan', '--tenants-file', 'tenants.yaml', '--pilot', '1']);
    expect(plan.status, plan.stderr).toBe(0);
    expect(plan.stdout).toMatch(/^plan [0-9a-f]{12}: 3 tenants, pilot 1, 2 waves \(tenants file tenants\.yaml\)$/m);
    expect(plan.stdout).toMatch(/^pilot +1 +alpha$/m);
    expect(plan.stdout).toMatch(/^2 +1 +gamma$/m);

    // A misuse through the installed package is the CLI's own one line, exit 2.
    const bad = npx(['plan', '--piolt', '1']);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/did you mean --pilot\?/);
  });

  it('a rollout from the installed package deploys with the helm on the PATH (no --helm)', { timeout: 120_000 }, async () => {
    const kube = await startFakeKube();
    try {
      kube.addTenantNamespaces(['tenant-alpha']);
      writeFileSync(join(machine, 'kubeconfig'), kube.kubeconfigYaml, { mode: 0o600 });
      // Never spawnSync here: the API fake answers from this process.
      const r = await new Promise<{ code: number; stderr: string }>((resolve) => {
        const child = spawn(
          'npx',
          [
            '--no',
            '--',
            'deploy-actions',
            'rollout',
            '--tenants',
            'alpha',
            '--pilot',
            '0',
            '--chart',
            exampleChart,
            '--set',
            'image.tag=1.0.0',
            '--timeout',
            '30s',
            '--yes',
          ],
          { cwd: machine, env: { ...env, KUBECONFIG: join(machine, 'kubeconfig') }, stdio: ['ignore', 'ignore', 'pipe'] },
        );
        let stderr = '';
        child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
        child.on('close', (code) => resolve({ code: code ?? 1, stderr }));
      });
      expect(r.code, r.stderr).toBe(0);
      // `helm` from the PATH, which holds nothing but the machine above: helm 4 there.
      expect(r.stderr).toMatch(/^helm v4\.\S+ \(helm\)$/m);
      expect(
        kube
          .list('secrets', 'tenant-alpha')
          .filter((x) => x.metadata.labels?.owner === 'helm')
          .map((x) => x.metadata.labels!.status),
      ).toEqual(['deployed']);
    } finally {
      await kube.close();
    }
  });
});
