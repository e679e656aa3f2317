import { execFileSync } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { createHelmDeploy } from '../../src/actions/helm-deploy/main.ts';
import { createTenantRollout } from '../../src/actions/tenant-rollout/main.ts';
import type { RolloutReport } from '../../src/rollout/report.ts';
import { testContext } from '../support/action-context.ts';
import { tempDir } from '../support/temp-dirs.ts';
import { exampleChart } from '../support/tools.ts';
import { e2eHelm, e2eImage, e2eKubeconfig, hasCluster, kubeconfigContent, kubectl } from './support.ts';

// Issue 10's end-to-end additions (real cluster, E2E_KUBECONFIG; skipped without it):
// - a failed revision on top before a bad upgrade, so "previous" and "last deployed" differ;
// - an image that becomes Ready and then crashes (caught by the soak, rolled back);
// - the automatic blue-green switch-back during the keep window;
// - resuming a half-done rollout of a new version (pilot done, then the rest).
// Failures use the image tag `bad` (it does not exist). The Ready-then-crash image is busybox
// (E2E_CRASH_IMAGE): it serves the chart's probes with httpd for 20 s, then exits 1.
const crashImage = process.env.E2E_CRASH_IMAGE ?? 'busybox:1.36';
const run = Date.now().toString(36).slice(-5);
const goodSet = (tag: string) => [`image.repository=${e2eImage.repository}`, `image.tag=${tag}`, `args={${e2eImage.args.join(',')}}`];

/** Values that make the chart run `crashImage`, Ready for 20 s, then exiting (a crash loop after that). */
function crashValues(dir: string): string {
  const [repository, tag] = crashImage.split(':');
  const script = 'mkdir -p /w/api && echo ok > /w/api/ready && echo ok > /w/api/health && httpd -p 3000 -h /w && sleep 20 && exit 1';
  const file = join(dir, 'crash-values.yaml');
  writeFileSync(file, stringify({ image: { repository, tag: tag ?? 'latest' }, args: ['sh', '-c', script] }));
  return file;
}

const helmHistory = (release: string, ns: string) =>
  JSON.parse(
    execFileSync(e2eHelm, ['history', release, '-n', ns, '-o', 'json'], {
      encoding: 'utf8',
      env: { ...process.env, KUBECONFIG: e2eKubeconfig },
    }),
  ) as { revision: number; status: string; description: string }[];

const settle = <T>(p: Promise<T>) =>
  p.then(
    () => undefined,
    (e: Error) => e,
  );

describe.skipIf(!hasCluster)('recovery against a real cluster', () => {
  const nsDeploy = `e2e-top-${run}`;
  const nsBg = `e2e-bgkeep-${run}`;
  const tenants = Array.from({ length: 4 }, (_, i) => `e2er${run}-${i + 1}`);
  const selector = `app.kubernetes.io/component=tenant,e2e-run=r${run}`;
  let dir: string;

  beforeAll(() => {
    dir = tempDir('e2e-recovery-');
    for (const t of tenants) {
      kubectl('create', 'namespace', `tenant-${t}`);
      kubectl(
        'label',
        'namespace',
        `tenant-${t}`,
        'app.kubernetes.io/component=tenant',
        `e2e-run=r${run}`,
        ...(t.endsWith('-1') ? ['ring=pilot'] : []),
      );
    }
  });
  afterAll(() => {
    for (const ns of [nsDeploy, nsBg, ...tenants.map((t) => `tenant-${t}`)])
      kubectl('delete', 'namespace', ns, '--wait=false', '--ignore-not-found');
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const helmDeploy = async (inputs: Record<string, string>) => {
    const ctx = testContext({
      release: 'admin',
      chart: exampleChart,
      'create-namespace': 'true',
      kubeconfig: kubeconfigContent(),
      helm: e2eHelm,
      ...inputs,
    });
    const err = await settle(createHelmDeploy().main(ctx));
    return { err, out: ctx.outputs };
  };

  it('a failed revision on top: a bad upgrade goes back to the last DEPLOYED revision, not the previous one', async () => {
    const good = await helmDeploy({ namespace: nsDeploy, set: goodSet(e2eImage.tag).join('\n'), timeout: '3m' });
    expect(good.out).toMatchObject({ status: 'deployed', revision: '1' });
    // Revision 2: failed and left on top (no rollback), as a person's failed `helm upgrade` would.
    const left = await helmDeploy({ namespace: nsDeploy, set: goodSet('bad').join('\n'), timeout: '45s', 'rollback-on-failure': 'false' });
    expect(left.out).toMatchObject({ status: 'failed' });
    expect(helmHistory('admin', nsDeploy).map((r) => r.status)).toEqual(['deployed', 'failed']);

    const bad = await helmDeploy({ namespace: nsDeploy, set: goodSet('bad').join('\n'), timeout: '45s' });
    expect(bad.out).toMatchObject({ status: 'rolled-back', 'previous-revision': '1', revision: '4' });
    const history = helmHistory('admin', nsDeploy);
    expect(history.at(-1)).toMatchObject({ revision: 4, status: 'deployed', description: 'Rollback to 1' });
  }, 600_000);

  it('blue-green: a color that is Ready, then crashes in the keep window, is switched back automatically', async () => {
    kubectl('create', 'namespace', nsBg);
    const svc = join(dir, 'live-service.json');
    writeFileSync(
      svc,
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'Service',
        metadata: { name: 'admin', namespace: nsBg },
        spec: {
          type: 'ClusterIP',
          selector: { 'app.kubernetes.io/name': 'tenant-app' },
          ports: [{ name: 'http', port: 80, targetPort: 'http' }],
        },
      }),
    );
    kubectl('apply', '-f', svc);
    const bg = {
      namespace: nsBg,
      strategy: 'blue-green',
      'old-color': 'keep',
      'check-interval': '3s',
      'ready-timeout': '1m',
      timeout: '3m',
    };
    const blue = await helmDeploy({ ...bg, 'initial-color': 'blue', 'keep-old': '0s', set: goodSet(e2eImage.tag).join('\n') });
    expect(blue.out, blue.err?.message).toMatchObject({ status: 'switched', 'live-color': 'blue' });

    const green = await helmDeploy({ ...bg, 'keep-old': '2m', 'values-files': crashValues(dir), set: '' });
    expect(green.err?.message).toMatch(/rolled-back/);
    expect(green.out).toMatchObject({ status: 'rolled-back', 'live-color': 'blue', 'previous-color': 'blue' });
    const live = JSON.parse(kubectl('get', 'service', 'admin', '-n', nsBg, '-o', 'json')) as { spec: { selector: Record<string, string> } };
    expect(live.spec.selector.color).toBe('blue');
  }, 900_000);

  const rollout = async (extra: Record<string, string>) => {
    const ctx = testContext({
      selector,
      chart: exampleChart,
      pilot: 'ring=pilot',
      'batch-size': '3',
      'max-parallel': '3',
      timeout: '3m',
      kubeconfig: kubeconfigContent(),
      helm: e2eHelm,
      ...extra,
    });
    const err = await settle(createTenantRollout().main(ctx));
    return { err, report: JSON.parse(ctx.outputs.report!) as RolloutReport };
  };
  const statuses = (r: RolloutReport) => Object.fromEntries(r.tenants.map((t) => [t.id, t.status]));

  it('resumes a half-done rollout of a new version: the pilot is not deployed again, the rest are', async () => {
    const v1 = await rollout({ set: goodSet(e2eImage.tag).join('\n') });
    expect(v1.err).toBeUndefined();
    // A new version (a changed values line), stopped after the pilot.
    const v2 = [...goodSet(e2eImage.tag), 'config.apiBaseUrl=https://api.example.com/v2'].join('\n');
    const pilot = await rollout({ set: v2, phase: 'pilot' });
    expect(pilot.err).toBeUndefined();
    expect(pilot.report.tenants.filter((t) => t.status === 'succeeded').map((t) => t.id)).toEqual([tenants[0]]);
    const resumed = await rollout({ set: v2 });
    expect(resumed.err).toBeUndefined();
    expect(statuses(resumed.report)).toEqual({
      [tenants[0]!]: 'unchanged',
      [tenants[1]!]: 'succeeded',
      [tenants[2]!]: 'succeeded',
      [tenants[3]!]: 'succeeded',
    });
    const first = resumed.report.tenants.find((t) => t.id === tenants[0])!;
    expect(helmHistory(first.release, first.namespace)).toHaveLength(2);
  }, 900_000);

  it('an image that becomes Ready and then crashes is caught by the pilot soak and rolled back; no wave starts', async () => {
    const r = await rollout({ 'values-files': crashValues(dir), set: '', soak: '90s', 'soak-interval': '5s' });
    expect(r.err).toBeDefined();
    const pilot = r.report.tenants.find((t) => t.id === tenants[0])!;
    expect(pilot.status).toBe('failed-rolled-back');
    expect(r.report.tenants.filter((t) => t.id !== tenants[0]).map((t) => t.status)).toEqual(['skipped', 'skipped', 'skipped']);
    expect(helmHistory(pilot.release, pilot.namespace).at(-1)).toMatchObject({
      status: 'deployed',
      description: expect.stringMatching(/^Rollback to /),
    });
  }, 900_000);
});
