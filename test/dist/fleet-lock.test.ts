/**
 * The fleet lock a killed run leaves, through dist/ with the real helm 4 against the wire-level
 * API fake: tenant-rollout main is SIGKILLed mid-rollout (no `finally` runs, so the lock stays in
 * the fleet's ConfigMap), its post step (post.js, as the runner runs it) releases the lock, and
 * the next rollout of the same fleet proceeds instead of waiting for the lock to expire. And a lock
 * another run holds (renewed, not expired) refuses a rollout and a rollback of that fleet at once,
 * naming the holder, before any tenant is touched.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FleetState } from '../../src/fleet/state.ts';
import { startFakeKube, type FakeKube } from '../support/fake-kube/index.ts';
import { exampleChart, helmBinaries } from '../support/tools.ts';
import { runAction, annotations } from './run-action.ts';

const tenants = ['t01', 't02', 't03'];
const fleet = 'lock-kill';

describe('tenant-rollout through dist/: a SIGKILLed main leaves the fleet lock, post releases it', () => {
  let kube: FakeKube;
  beforeAll(async () => {
    kube = await startFakeKube({ crashLoopIntervalMs: 200 });
    kube.addTenantNamespaces(tenants.map((t) => `tenant-${t}`));
  });
  afterAll(async () => {
    await kube?.close();
  });

  const fleetDoc = () => {
    const cm = kube.get('configmaps', 'default', `deploy-actions-fleet-${fleet}`);
    return cm ? (JSON.parse(cm.data!['document.json']!) as FleetState) : undefined;
  };
  const rollout = (tag: string, opts: Parameters<typeof runAction>[2] = {}) =>
    runAction(
      'tenant-rollout',
      {
        chart: exampleChart,
        set: `image.tag=${tag}`,
        tenants: tenants.join(','),
        fleet,
        pilot: '0',
        'batch-size': '100%',
        'max-parallel': '1',
        timeout: '90s',
        kubeconfig: kube.kubeconfigYaml,
        helm: helmBinaries[4],
      },
      opts,
    );

  it('killed while it holds the lock; post.js releases it; the next rollout of the fleet runs', { timeout: 240_000 }, async () => {
    let killed = false;
    const main = await rollout('pending', {
      // pods never start: the first upgrade waits until the kill
      onStart: (kill) => {
        const t = setInterval(() => {
          const pending = kube.list('secrets', 'tenant-t01').some((s) => String(s.metadata.labels?.status).startsWith('pending-'));
          if (!pending || !fleetDoc()?.lock) return;
          clearInterval(t);
          killed = true;
          kill('SIGKILL', true);
        }, 50);
      },
    });
    expect(killed).toBe(true);
    expect(main.outputs.report).toBeUndefined(); // killed: main never got to its end
    // The lock is still there, held by the killed run; main recorded it for the post step.
    const held = fleetDoc()!.lock!;
    expect(held).toMatchObject({ operation: 'rollout', holder: expect.stringMatching(/^run=local /) });
    expect(JSON.parse(main.state['tenant-rollout-fleet-lock']!)).toMatchObject({ fleet, namespace: 'default', holder: held.holder });

    const post = await runAction('tenant-rollout', {}, { phase: 'post', state: main.state, runnerTemp: main.runnerTemp });
    expect(post.code, post.stdout).toBe(0);
    expect(post.stdout).toContain(`post: released the lock of fleet ${fleet} that main held`);
    expect(fleetDoc()?.lock).toBeUndefined();

    // The next rollout of the same fleet is not refused by a lock that would hold for 10 minutes.
    const next = await rollout('1.0.0');
    expect(next.code, annotations(next.stdout)).toBe(0);
    expect(next.outputs.outcome).toBe('succeeded');
    expect(fleetDoc()?.lock).toBeUndefined();
  });

  it(
    'a live lock of another run refuses a rollout and a rollback of the fleet at once, naming it; nothing changes',
    { timeout: 240_000 },
    async () => {
      const live = 'lock-live';
      const now = Date.now();
      const lock = {
        holder: 'run=acme/fleet/99/1',
        members: ['runner-7 4242'],
        operation: 'rollout',
        at: new Date(now - 60_000).toISOString(),
        expiresAt: new Date(now + 9 * 60_000).toISOString(),
      };
      kube.put({
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name: `deploy-actions-fleet-${live}`, namespace: 'default' },
        data: { 'document.json': JSON.stringify({ lock }) },
      } as never);
      const helmWrites = () =>
        tenants.flatMap((t) => kube.list('secrets', `tenant-${t}`).filter((x) => x.metadata.labels?.owner === 'helm')).length;
      const before = helmWrites();
      const common = { tenants: tenants.join(','), fleet: live, kubeconfig: kube.kubeconfigYaml, helm: helmBinaries[4], timeout: '30s' };
      const refused =
        /::error::.*fleet "lock-live" is locked by run=acme\/fleet\/99\/1 \(rollout since \S+, until \S+\): wait for it to finish, or pause the fleet to stop it/;
      for (const inputs of [
        { ...common, chart: exampleChart, set: 'image.tag=2.0.0', pilot: '0', 'batch-size': '100%' },
        { ...common, phase: 'rollback', 'batch-size': '100%' },
      ]) {
        const r = await runAction('tenant-rollout', inputs);
        expect(r.code, r.stdout).not.toBe(0);
        expect(r.stdout).toMatch(refused);
        expect(helmWrites()).toBe(before);
      }
      // The other run's lock is untouched: refused runs neither took nor released it.
      const cm = kube.get('configmaps', 'default', `deploy-actions-fleet-${live}`)!;
      expect((JSON.parse(cm.data!['document.json']!) as FleetState).lock).toEqual(lock);
    },
  );
});
