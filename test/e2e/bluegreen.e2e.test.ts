import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deployBlueGreen, rollbackBlueGreen } from '../../src/bluegreen/deploy.ts';
import type { BlueGreenPorts, BlueGreenRequest, ColorTarget } from '../../src/bluegreen/deploy.ts';
import { systemClock } from '../../src/core/clock.ts';
import { errorMessage } from '../../src/core/errors.ts';
import { runCommand } from '../../src/core/process.ts';
import { Secrets } from '../../src/core/secrets.ts';
import { HelmCli } from '../../src/helm/cli.ts';
import { createCluster } from '../../src/kube/client.ts';
import { RecordingLogger } from '../support/logger.ts';
import { exampleChart } from '../support/tools.ts';
import { e2eHelm, e2eImage, e2eKubeconfig, hasCluster, kubectl } from './support.ts';

// Issue 7's end-to-end scenario against a real cluster (E2E_KUBECONFIG): deploy blue, deploy
// green, switch, roll back to blue; a `bad` green never receives the selector. The image comes
// from E2E_IMAGE_REPOSITORY / E2E_IMAGE_TAG / E2E_IMAGE_ARGS (default hashicorp/http-echo:1.0,
// which answers 200 on every path on :3000); tag `bad` does not exist, so it never gets ready.
describe.skipIf(!hasCluster)('blue-green against a real cluster', () => {
  const ns = `e2e-bg-${Date.now().toString(36).slice(-5)}`;
  const SELECTOR = { 'app.kubernetes.io/name': 'tenant-app' };
  let home: string;
  let ports: BlueGreenPorts;

  beforeAll(async () => {
    home = mkdtempSync(join(tmpdir(), 'e2e-bluegreen-'));
    kubectl('create', 'namespace', ns);
    // The live Service: created by the user, part of no Helm release, no color key yet.
    const svc = join(home, 'live-service.json');
    writeFileSync(
      svc,
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'Service',
        metadata: { name: 'admin', namespace: ns },
        spec: { type: 'ClusterIP', selector: SELECTOR, ports: [{ name: 'http', port: 80, targetPort: 'http' }] },
      }),
    );
    kubectl('apply', '-f', svc);
    const logger = new RecordingLogger();
    const helm = await HelmCli.create({
      binary: e2eHelm,
      run: runCommand,
      secrets: new Secrets(),
      logger,
      env: { ...process.env, KUBECONFIG: e2eKubeconfig },
    });
    ports = { helm, cluster: createCluster({ kubeconfigPath: e2eKubeconfig }), clock: systemClock, logger };
  });
  afterAll(() => {
    if (hasCluster) kubectl('delete', 'namespace', ns, '--wait=false', '--ignore-not-found');
    if (home) rmSync(home, { recursive: true, force: true });
  });

  /** Smoke through the color's own Service, via the API server's service proxy. */
  const smoke = async (t: ColorTarget) => {
    try {
      kubectl('get', '--raw', `/api/v1/namespaces/${t.namespace}/services/${t.service}:80/proxy/api/ready`);
      return { ok: true };
    } catch (err) {
      return { ok: false, reason: errorMessage(err).split('\n')[0] };
    }
  };

  const request = (tag: string, over: Partial<BlueGreenRequest> = {}): BlueGreenRequest => ({
    upgrade: {
      release: 'admin',
      namespace: ns,
      chart: exampleChart,
      valuesFiles: [],
      set: [`image.repository=${e2eImage.repository}`, `image.tag=${tag}`, `args={${e2eImage.args.join(',')}}`],
      setString: [],
      createNamespace: false,
      wait: 'ready',
      timeoutMs: tag === 'bad' ? 45_000 : 180_000,
      dryRun: 'none',
      serverSide: 'auto',
    },
    keepOldMs: 5_000,
    checkIntervalMs: 1_000,
    readyTimeoutMs: 30_000,
    oldColor: 'keep',
    smoke,
    ...over,
  });

  /** The pods behind the live Service, as its EndpointSlices say (they follow the selector with a lag). */
  const liveEndpointsColor = async (color: string): Promise<string[]> => {
    let names: string[] = [];
    for (let i = 0; i < 30; i++) {
      const slices = JSON.parse(kubectl('get', 'endpointslices', '-n', ns, '-l', 'kubernetes.io/service-name=admin', '-o', 'json')) as {
        items: { endpoints?: { targetRef?: { name?: string } }[] }[];
      };
      names = slices.items.flatMap((s) => (s.endpoints ?? []).map((e) => e.targetRef?.name ?? ''));
      if (names.length > 0 && names.every((n) => n.startsWith(`admin-${color}-`))) return names;
      await new Promise((r) => setTimeout(r, 1_000));
    }
    return names;
  };
  const liveSelector = () =>
    (JSON.parse(kubectl('get', 'service', 'admin', '-n', ns, '-o', 'json')) as { spec: { selector: Record<string, string> } }).spec
      .selector;

  it('deploys blue, deploys green and switches, rolls back to blue; a bad green never receives the selector', async () => {
    const blue = await deployBlueGreen(request(e2eImage.tag, { initialColor: 'blue' }), ports);
    expect(blue, blue.error).toMatchObject({ status: 'switched', liveColor: 'blue', revisions: { blue: 1 } });
    expect(await liveEndpointsColor('blue')).not.toEqual([]);

    // Same image, a different values line: a new version to switch to.
    const green = await deployBlueGreen(
      request(e2eImage.tag, { upgrade: { ...request(e2eImage.tag).upgrade, setString: ['config.apiBaseUrl=https://api.example.com/v2'] } }),
      ports,
    );
    expect(green, green.error).toMatchObject({
      status: 'switched',
      liveColor: 'green',
      previousColor: 'blue',
      oldColor: 'kept',
      revisions: { blue: 1, green: 1 },
    });
    expect(liveSelector()).toEqual({ ...SELECTOR, color: 'green' });
    expect((await liveEndpointsColor('green')).length).toBeGreaterThan(0);

    const back = await rollbackBlueGreen({ release: 'admin', namespace: ns, smoke }, ports);
    expect(back).toMatchObject({ status: 'rolled-back', liveColor: 'blue', previousColor: 'green' });
    expect(liveSelector()).toEqual({ ...SELECTOR, color: 'blue' });
    expect((await liveEndpointsColor('blue')).length).toBeGreaterThan(0);

    const bad = await deployBlueGreen(request('bad'), ports);
    expect(bad).toMatchObject({ status: 'idle-failed', liveColor: 'blue', switched: false });
    expect(bad.deploy?.status).toBe('rolled-back');
    expect(liveSelector()).toEqual({ ...SELECTOR, color: 'blue' });
  }, 900_000);
});
