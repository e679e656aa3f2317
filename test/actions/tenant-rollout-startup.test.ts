/**
 * Overlapped start-up (issue 13): `helm version` runs while the tenants are discovered and
 * planned, not before; errors stay as a serial start-up gave them.
 */
import { rmSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { createTenantRollout } from '../../src/actions/tenant-rollout/main.ts';
import type { CommandRunner } from '../../src/core/process.ts';
import type { Cluster, NamespaceInfo } from '../../src/kube/ports.ts';
import { testContext, type TestContext } from '../support/action-context.ts';

const namespaces: NamespaceInfo[] = ['acme', 'globex'].map((s) => ({
  name: `tenant-${s}`,
  labels: { 'app.kubernetes.io/component': 'tenant' },
  annotations: {},
}));

const inputs = { phase: 'plan', chart: 'examples/charts/tenant-app', 'release-version': '1.3.0', pilot: '1' };

describe('tenant-rollout start-up', () => {
  const contexts: TestContext[] = [];
  const ctx = (i: Record<string, string>) => {
    const c = testContext(i);
    contexts.push(c);
    return c;
  };
  afterEach(() => contexts.splice(0).forEach((c) => rmSync(c.tempDir, { recursive: true, force: true })));

  it('discovers the tenants while helm version runs', async () => {
    const events: string[] = [];
    let listed: () => void = () => {};
    const discovered = new Promise<void>((r) => (listed = r));
    const run: CommandRunner = async (_f, args) => {
      if (args[0] === 'version') {
        events.push('version started');
        // Answers once discovery has happened (serial start-up: after a fallback, so it cannot hang).
        await Promise.race([discovered, new Promise((r) => setTimeout(r, 3000))]);
        events.push('version answered');
        return { exitCode: 0, stdout: 'v4.1.4+g1', stderr: '', aborted: false };
      }
      return { exitCode: 0, stdout: '[]', stderr: '', aborted: false };
    };
    const cluster = {
      listNamespaces: async () => {
        events.push('namespaces listed');
        listed();
        return namespaces;
      },
    } as unknown as Cluster;
    const c = ctx(inputs);
    await createTenantRollout({ run, createCluster: () => cluster }).main(c);
    expect(events).toEqual(['version started', 'namespaces listed', 'version answered']);
    expect(c.outputs.promotion).toBeDefined();
    expect(JSON.parse(c.outputs.plan!).summary.tenants).toBe(2);
  }, 30_000);

  it("errors stay exact: helm's error comes before a discovery error, as it did when helm was asked first", async () => {
    const run: CommandRunner = async () => ({ exitCode: 127, stdout: '', stderr: 'helm: not found', aborted: false });
    const cluster = { listNamespaces: async () => Promise.reject(new Error('namespaces is forbidden')) } as unknown as Cluster;
    await expect(createTenantRollout({ run, createCluster: () => cluster }).main(ctx(inputs))).rejects.toThrow(
      /input "helm".*version" failed: helm: not found.*install Helm 3 or 4/,
    );
  });

  it('errors stay exact: a cluster that cannot be created wins over helm (it came first), and helm leaves no unhandled rejection', async () => {
    const run: CommandRunner = async () => ({ exitCode: 127, stdout: '', stderr: 'helm: not found', aborted: false });
    await expect(
      createTenantRollout({
        run,
        createCluster: () => {
          throw new Error('bad kubeconfig');
        },
      }).main(ctx(inputs)),
    ).rejects.toThrow('bad kubeconfig');
  });

  it('a planning error (no tenants match) waits for helm and is thrown as it is when helm is fine', async () => {
    const run: CommandRunner = async (_f, args) => ({
      exitCode: 0,
      stdout: args[0] === 'version' ? 'v4.1.4' : '[]',
      stderr: '',
      aborted: false,
    });
    const cluster = { listNamespaces: async () => Promise.reject(new Error('namespaces is forbidden')) } as unknown as Cluster;
    await expect(createTenantRollout({ run, createCluster: () => cluster }).main(ctx(inputs))).rejects.toThrow('namespaces is forbidden');
  });
});
