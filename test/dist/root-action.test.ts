/**
 * The root action (uses: dotmac/deploy-actions@v1) through dist/root: helm-deploy, then smoke
 * checks, then a watch window whose breach rolls the release back to the recorded revision.
 * Real helm 4 against the wire-level API fake; smoke checks against a local server.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeKube, type FakeKube } from '../support/fake-kube/index.ts';
import { exampleChart, helmBinaries } from '../support/tools.ts';
import { runAction, annotations } from './run-action.ts';

describe('root action through dist/root', () => {
  let kube: FakeKube;
  let server: Server;
  let base = '';
  let healthStatus = 200;
  beforeAll(async () => {
    kube = await startFakeKube({ crashLoopIntervalMs: 200 });
    kube.addNamespaces(['todo', 'todo-bg']);
    server = createServer((req, res) => {
      res.setHeader('content-type', 'application/json');
      if (req.url === '/api/orders') return res.writeHead(500).end('{"error":"boom"}'); // broken in the new version
      res.writeHead(req.url === '/api/health' ? healthStatus : 200).end(req.url === '/api/ready' ? '{"ready":true}' : '{"status":"ok"}');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await kube?.close();
    server?.close();
  });
  const release = (over: Record<string, string>) =>
    runAction('root', {
      release: 'todo',
      namespace: 'todo',
      chart: exampleChart,
      timeout: '30s',
      kubeconfig: kube.kubeconfigYaml,
      helm: helmBinaries[4],
      'smoke-url': base,
      ...over,
    });
  const image = () => kube.get('deployments', 'todo', 'todo')?.spec.template.spec.containers[0].image as string;

  it('deploys, passes the smoke checks, and a healthy watch keeps it', { timeout: 60_000 }, async () => {
    const r = await release({
      set: 'image.tag=1.0.0',
      watch: '2s',
      'watch-interval': '1s',
      metrics: '- name: crash-loops\n  provider: kubernetes\n  query: crash-loops\n  failure-condition: result > 0\n',
    });
    expect(r.code, annotations(r.stdout)).toBe(0);
    expect(r.outputs).toMatchObject({ status: 'deployed', revision: '1', smoke: 'passed', verdict: 'healthy', 'rolled-back': 'false' });
  });

  it('a failing smoke check rolls the upgrade back before anything else', { timeout: 60_000 }, async () => {
    healthStatus = 503;
    const r = await release({ set: 'image.tag=1.1.0' });
    healthStatus = 200;
    expect(r.code).toBe(1);
    expect(r.outputs).toMatchObject({ status: 'rolled-back', smoke: 'failed', 'previous-revision': '1' });
    expect(image()).toMatch(/:1\.0\.0$/);
  });

  it('a watch that sees errors climb rolls back to the revision recorded before the deploy', { timeout: 60_000 }, async () => {
    const r = await release({
      set: 'image.tag=1.2.0',
      watch: '3s',
      'watch-interval': '1s',
      // The smoke checks pass; the watch's own checks hit an endpoint the new version broke.
      metrics: `- name: orders\n  provider: http\n  url: ${base}\n  checks:\n    - name: orders\n      path: /api/orders\n      status: 200\n  failure-condition: result >= 0.5\n`,
    });
    expect(r.code).toBe(1);
    expect(r.outputs).toMatchObject({ smoke: 'passed', verdict: 'failed', 'rolled-back': 'true', status: 'rolled-back' });
    expect(r.stdout).toMatch(/::error::watch: .*rolled back to revision 3/);
    expect(image()).toMatch(/:1\.0\.0$/);
  });
  it(
    'blue-green: a watch breach switches the live Service back to the color this run switched away from',
    { timeout: 120_000 },
    async () => {
      await kube.apply(
        {
          apiVersion: 'v1',
          kind: 'Service',
          metadata: { name: 'todo', namespace: 'todo-bg' },
          spec: {
            selector: { 'app.kubernetes.io/name': 'tenant-app' },
            ports: [{ name: 'http', port: 80, targetPort: 'http', protocol: 'TCP' }],
          },
        },
        { fieldManager: 'kubectl' },
      );
      const bg = {
        namespace: 'todo-bg',
        strategy: 'blue-green',
        'keep-old': '0s',
        'old-color': 'keep',
        'check-interval': '1s',
        'ready-timeout': '10s',
      };
      const blue = await release({ ...bg, set: 'image.tag=1.0.0', 'initial-color': 'blue', 'smoke-url': '' });
      expect(blue.code, annotations(blue.stdout)).toBe(0);
      // No smoke URL: the switch rests on readiness alone, and the run says so.
      expect(blue.stdout).toMatch(/::warning::blue-green with no smoke-url: color blue is checked for readiness only/);
      const green = await release({
        ...bg,
        set: 'image.tag=1.2.0',
        watch: '3s',
        'watch-interval': '1s',
        metrics: `- name: orders\n  provider: http\n  url: ${base}\n  checks:\n    - name: orders\n      path: /api/orders\n      status: 200\n  failure-condition: result >= 0.5\n`,
      });
      expect(green.code).toBe(1);
      expect(green.stdout).not.toContain('with no smoke-url');
      expect(green.outputs).toMatchObject({ verdict: 'failed', 'rolled-back': 'true', 'live-color': 'blue' });
      expect(green.stdout).toMatch(/::error::watch: .*switched the live Service back to blue \(rolled-back\)/);
      const svc = kube.get('Service', 'todo-bg', 'todo')!;
      expect(svc.spec.selector.color).toBe('blue');
      // The record is kept: a later blue-green-rollback finds blue live and does nothing.
      expect(svc.metadata.annotations).toMatchObject({ 'deploy-actions/previous-color': 'blue' });
    },
  );
});
