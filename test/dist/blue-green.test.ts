/**
 * helm-deploy with strategy: blue-green through dist/ (real helm 3 and 4, wire-level API fake):
 * the action's inputs reach the blue-green engine, and its outputs say which color serves.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeKube, type FakeKube } from '../support/fake-kube/index.ts';
import { exampleChart, helmBinaries, repoRoot } from '../support/tools.ts';
import { runAction, annotations } from './run-action.ts';

const WRITES = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

describe.each([3, 4] as const)('helm-deploy strategy: blue-green through dist/ (helm %i)', (major) => {
  let kube: FakeKube;
  const NS = 'platform-admin';
  const liveService = (name: string, namespace: string) =>
    kube.apply(
      {
        apiVersion: 'v1',
        kind: 'Service',
        metadata: { name, namespace },
        spec: {
          type: 'ClusterIP',
          selector: { 'app.kubernetes.io/name': 'tenant-app' },
          ports: [{ name: 'http', port: 80, targetPort: 'http', protocol: 'TCP' }],
        },
      },
      { fieldManager: 'kubectl' },
    );
  beforeAll(async () => {
    kube = await startFakeKube({ crashLoopIntervalMs: 100 });
    kube.addNamespaces([NS, 'platform-rolling']);
    // The live Service, created by the user outside any release, with no color key yet.
    await liveService('admin', NS);
  });
  afterAll(() => kube?.close());
  const base = (namespace = NS) => ({
    strategy: 'blue-green',
    release: 'admin',
    namespace,
    timeout: '20s',
    'keep-old': '0s',
    'old-color': 'keep',
    'check-interval': '1s',
    'ready-timeout': '10s',
    kubeconfig: kube.kubeconfigYaml,
    helm: helmBinaries[major],
  });
  const deploy = (over: Record<string, string>) => runAction('helm-deploy', { ...base(), chart: exampleChart, ...over });
  // A rollback is given no chart: both colors are already installed.
  const rollback = (over: Record<string, string> = {}) => runAction('helm-deploy', { ...base(), 'blue-green-rollback': 'true', ...over });
  const service = () => kube.get('Service', NS, 'admin')!;
  const selector = () => service().spec.selector as Record<string, string>;

  it(
    'first deploy (initial-color), then green, then a bad version never gets the selector, then rollback twice: a destination, not a toggle',
    { timeout: 240_000 },
    async () => {
      const blue = await deploy({ set: 'image.tag=1.0.0', 'initial-color': 'blue' });
      expect(blue.code, annotations(blue.stdout)).toBe(0);
      expect(blue.outputs).toMatchObject({ status: 'switched', 'live-color': 'blue', 'previous-color': '', 'blue-revision': '1' });
      expect(selector().color).toBe('blue');

      const green = await deploy({ set: 'image.tag=1.1.0' });
      expect(green.outputs).toMatchObject({
        status: 'switched',
        'live-color': 'green',
        'previous-color': 'blue',
        'blue-revision': '1',
        'green-revision': '1',
      });
      expect(selector()).toEqual({ 'app.kubernetes.io/name': 'tenant-app', color: 'green' });
      // The switch records the color it switched away from: the rollback's destination.
      expect(service().metadata.annotations).toMatchObject({ 'deploy-actions/previous-color': 'blue' });
      expect(green.summary).toContain('| live color | green |');

      const bad = await deploy({ set: 'image.tag=bad', timeout: '4s' });
      expect(bad.code).toBe(1);
      expect(bad.outputs).toMatchObject({ status: 'idle-failed', 'live-color': 'green' });
      expect(selector().color).toBe('green');

      kube.clearRequests();
      const back = await rollback();
      expect(back.code, annotations(back.stdout)).toBe(0);
      expect(back.outputs).toMatchObject({ status: 'rolled-back', 'live-color': 'blue', 'previous-color': 'green', changed: 'true' });
      expect(selector().color).toBe('blue');
      expect(kube.requests.filter((r) => WRITES.has(r.method)).map((r) => `${r.method} ${r.path}`)).toEqual([
        `PATCH /api/v1/namespaces/${NS}/services/admin`,
      ]);

      // The same rollback again: blue is already the destination, nothing is switched.
      kube.clearRequests();
      const again = await rollback();
      expect(again.code, annotations(again.stdout)).toBe(0);
      expect(again.outputs).toMatchObject({ status: 'unchanged', 'live-color': 'blue', changed: 'false' });
      expect(selector().color).toBe('blue');
      expect(kube.requests.filter((r) => WRITES.has(r.method))).toEqual([]);

      // An explicit color is a destination too: green (still installed, serving) on request, then a no-op.
      const toGreen = await rollback({ 'blue-green-rollback-color': 'green' });
      expect(toGreen.outputs).toMatchObject({ status: 'rolled-back', 'live-color': 'green' });
      const toGreenAgain = await rollback({ 'blue-green-rollback-color': 'green' });
      expect(toGreenAgain.outputs).toMatchObject({ status: 'unchanged', 'live-color': 'green' });
      expect(selector().color).toBe('green');

      // The operator's terminal: the same rollback through the CLI, no chart; green is live, nothing to do.
      kube.clearRequests();
      // Asynchronously: the API fake answers from this process.
      const cli = await new Promise<{ code: number; out: string }>((resolve) =>
        execFile(
          process.execPath,
          [join(repoRoot, 'dist/cli/index.js'), 'helm-deploy', '--strategy', 'blue-green', '--release', 'admin', '--namespace', NS].concat([
            '--blue-green-rollback',
            'true',
            '--blue-green-rollback-color',
            'green',
            '--helm',
            helmBinaries[major],
            '--yes',
          ]),
          { cwd: repoRoot, env: { PATH: process.env.PATH, HOME: process.env.HOME, KUBECONFIG: kube.kubeconfigPath, NO_COLOR: '1' } },
          (err, stdout, stderr) => resolve({ code: err ? Number(err.code ?? 1) : 0, out: `${stdout}${stderr}` }),
        ),
      );
      expect(cli.code, cli.out).toBe(0);
      expect(cli.out).toMatch(/^status: unchanged$/m);
      expect(cli.out).toMatch(/^live-color: green$/m);
      expect(kube.requests.filter((r) => WRITES.has(r.method))).toEqual([]);
    },
  );

  it(
    'a control plane that runs today as one rolling release: the job stops with the migration steps, nothing written, no second copy',
    { timeout: 120_000 },
    async () => {
      // Today's control plane: one rolling release, whose chart renders the Service "admin" itself.
      const ns = 'platform-rolling';
      const rolling = await runAction('helm-deploy', {
        release: 'admin',
        namespace: ns,
        chart: exampleChart,
        set: 'image.tag=1.0.0',
        timeout: '20s',
        kubeconfig: kube.kubeconfigYaml,
        helm: helmBinaries[major],
      });
      expect(rolling.code, annotations(rolling.stdout)).toBe(0);
      const secrets = () =>
        kube
          .list('Secret', ns)
          .map((s) => s.metadata.name)
          .sort();
      const before = secrets();

      kube.clearRequests();
      const run = await runAction('helm-deploy', { ...base(ns), chart: exampleChart, set: 'image.tag=1.1.0', 'initial-color': 'blue' });
      expect(run.code).toBe(1);
      const error = annotations(run.stdout);
      expect(error).toContain(`release ${ns}/admin: runs today as one rolling release (revision 1`);
      expect(error).toContain(
        'a blue-green deploy would install admin-blue beside it, a second copy of the application. Nothing was deployed',
      );
      expect(error).toContain(`kubectl -n ${ns} annotate service admin helm.sh/resource-policy=keep`);
      expect(error).toContain(`helm uninstall admin -n ${ns}`);
      // Reads only: no write request of any kind, no admin-blue release, the Service untouched.
      expect(kube.requests.filter((r) => WRITES.has(r.method)).map((r) => `${r.method} ${r.path}`)).toEqual([]);
      expect(secrets()).toEqual(before);
      expect(kube.get('Deployment', ns, 'admin-blue')).toBeUndefined();
      expect(kube.get('Service', ns, 'admin')!.spec.selector).not.toHaveProperty('color');
    },
  );
});
