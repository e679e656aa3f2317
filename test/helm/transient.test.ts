/**
 * Transient API failures with the REAL helm 3 and helm 4 against the wire-level fake, faults
 * injected on the paths helm uses: what helm prints for each is classified as transient, an
 * upgrade that failed before helm wrote a revision is retried, one that got as far as a revision
 * is rolled back (not retried), and the outcome always matches what helm's history says.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../../src/core/clock.ts';
import { runCommand } from '../../src/core/process.ts';
import { Secrets } from '../../src/core/secrets.ts';
import type { UpgradeOptions } from '../../src/helm/argv.ts';
import { HelmCli } from '../../src/helm/cli.ts';
import { deployRelease } from '../../src/helm/deploy.ts';
import { HelmError } from '../../src/helm/helm.ts';
import { startFakeKube, type FakeKube, type RecordedRequest } from '../support/fake-kube/index.ts';
import { RecordingLogger } from '../support/logger.ts';
import { exampleChart, helmBinaries } from '../support/tools.ts';

const err = (line: string) => new HelmError(line, 'helm upgrade', `Error: ${line}`);

describe('HelmError.transient', () => {
  it.each([
    // What helm 3.17 / 4.1 printed against the fake with each fault injected:
    'query: failed to query with labels: the server is currently unable to handle the request', // 503 on history
    'query: failed to query with labels: Too many requests, please try again later.', // 429
    'UPGRADE FAILED: create: failed to create: Internal error occurred: injected failure', // 500 storing the release
    'UPGRADE FAILED: could not get apiVersions from Kubernetes: could not get apiVersions from Kubernetes: the server is currently unable to handle the request',
    'Kubernetes cluster unreachable: Get "https://10.0.0.1:6443/version": dial tcp 10.0.0.1:6443: connect: connection refused',
    'kubernetes cluster unreachable: Get "https://10.0.0.1:6443/version": net/http: TLS handshake timeout', // helm 4's lower case
    'UPGRADE FAILED: Get "https://10.0.0.1:6443/apis/apps/v1/namespaces/t/deployments/a": read tcp 10.0.0.2:5555->10.0.0.1:6443: read: connection reset by peer',
    'UPGRADE FAILED: Get "https://10.0.0.1:6443/api/v1/namespaces/t/secrets": dial tcp 10.0.0.1:6443: i/o timeout',
    'the server was unable to return a response in the time allotted, but may still be processing the request (get secrets)', // 504
    'an error on the server ("bad gateway") has prevented the request from succeeding (get secrets)', // 502
    'UPGRADE FAILED: Patch "https://x/apis/apps/v1/namespaces/t/deployments/a": http2: server sent GOAWAY and closed the connection',
    'UPGRADE FAILED: unexpected EOF',
    // helm 4 against the fake's 504, as the real apiserver's timeout filter words it (a random fault row)
    'query: failed to query with labels: Timeout: request did not complete within requested timeout - context deadline exceeded',
    // helm 4's --wait when its watch kept failing under random faults: the status was never observed
    'UPGRADE FAILED: resource Deployment/tenant-t02/t02 not ready. status: Unknown, message:',
    'UPGRADE FAILED: error validating "": error validating data: failed to download openapi: the server could not find the requested resource',
  ])('transient: %s', (line) => {
    expect(err(line).transient).toBe(true);
  });

  it.each([
    'UPGRADE FAILED: context deadline exceeded',
    // a crash loop, as helm 4's --wait words it: observed, and not ready
    'UPGRADE FAILED: resource Deployment/tenant-t07/t07 not ready. status: InProgress, message: Pending termination: 1',
    'non-absolute URLs should be in form of repo_name/path_to_chart, got: nope',
    'UPGRADE FAILED: another operation (install/upgrade/rollback) is in progress',
    'UPGRADE FAILED: cannot patch "a" with kind Deployment: Deployment.apps "a" is invalid: spec.selector: Invalid value: field is immutable',
    'query: failed to query with labels: secrets is forbidden: User "ci" cannot list resource "secrets" in API group "" in the namespace "t"',
    'chart "tenant-app" version "9.9.9" not found in https://charts.example.com repository',
  ])('not transient: %s', (line) => {
    expect(err(line).transient).toBe(false);
  });

  it('an interrupted helm is never transient (the job was cancelled)', () => {
    expect(new HelmError('UPGRADE FAILED: connection reset', 'helm upgrade', 'connection reset by peer', true).transient).toBe(false);
  });

  it("helm 4's lowercase 'kubernetes cluster unreachable' keeps the unreachable hint", () => {
    expect(err('kubernetes cluster unreachable: Get "https://x/version": EOF').unreachable).toBe(true);
    expect(err('Kubernetes cluster unreachable: Get "https://x/version": EOF').unreachable).toBe(true);
  });
});

const NS = 'tenant-alpha';
// Each fault names its release, so one left armed never touches another test's release.
const secretsList = (release: string) => (r: RecordedRequest) =>
  r.method === 'GET' && r.path === `/api/v1/namespaces/${NS}/secrets` && !!r.query.labelSelector?.includes(`name=${release}`);
const secretCreate = (release: string) => (r: RecordedRequest) =>
  r.method === 'POST' && r.path === `/api/v1/namespaces/${NS}/secrets` && r.body.includes(`sh.helm.release.v1.${release}.`);
const deploymentWrite = (release: string) => (r: RecordedRequest) =>
  (r.method === 'PATCH' || r.method === 'PUT') && r.path === `/apis/apps/v1/namespaces/${NS}/deployments/${release}`;

describe.each([3, 4] as const)('transient faults with the real helm %i', (major) => {
  let kube: FakeKube;
  let home: string;
  let helm: HelmCli;
  const logger = new RecordingLogger();

  beforeAll(async () => {
    kube = await startFakeKube();
    kube.addTenantNamespaces([NS]);
    home = mkdtempSync(join(tmpdir(), `helm${major}-transient-`));
    const env = {
      PATH: process.env.PATH,
      HOME: home,
      KUBECONFIG: kube.kubeconfigPath,
      HELM_CACHE_HOME: join(home, 'c'),
      HELM_CONFIG_HOME: join(home, 'f'),
      HELM_DATA_HOME: join(home, 'd'),
    };
    helm = await HelmCli.create({ binary: helmBinaries[major], env, run: runCommand, secrets: new Secrets(), logger });
  });
  afterAll(async () => {
    await kube?.close();
    if (home) rmSync(home, { recursive: true, force: true });
  });

  const upgrade = (release: string, tag: string): UpgradeOptions => ({
    release,
    namespace: NS,
    chart: exampleChart,
    valuesFiles: [],
    set: [`image.tag=${tag}`],
    setString: [],
    createNamespace: false,
    wait: 'ready',
    timeoutMs: 20_000,
    dryRun: 'none',
    serverSide: 'auto',
  });
  // Short pauses: the retries are what is tested, not their length.
  const deps = {
    get helm() {
      return helm;
    },
    logger,
    clock: systemClock,
    retry: { attempts: 4, baseDelayMs: 20 },
  };
  const deploy = (release: string, tag: string) =>
    deployRelease({ upgrade: upgrade(release, tag), rollbackOnFailure: true, recoverPending: false }, deps);
  const statuses = async (release: string) => (await helm.history(release, { namespace: NS })).map((r) => `${r.revision}:${r.status}`);

  it(
    '503 and 429 before helm wrote a revision are retried: deployed, and history holds no failed revision',
    { timeout: 120_000 },
    async () => {
      expect((await deploy('alpha', '1.0.0')).status).toBe('deployed');
      kube.failNext(secretCreate('alpha'), 503, { times: 2 });
      const a = await deploy('alpha', '1.1.0');
      expect(a).toMatchObject({ status: 'deployed', revision: 2, previousRevision: 1 });
      expect(await statuses('alpha')).toEqual(['1:superseded', '2:deployed']);

      kube.failNext(secretsList('alpha'), 429, { times: 2 });
      const b = await deploy('alpha', '1.2.0');
      expect(b).toMatchObject({ status: 'deployed', revision: 3, previousRevision: 2 });
      expect(await statuses('alpha')).toEqual(['1:superseded', '2:superseded', '3:deployed']);
    },
  );

  it('a 503 after helm wrote its revision: that revision is rolled back, then the upgrade is retried', { timeout: 120_000 }, async () => {
    expect((await deploy('beta', '1.0.0')).status).toBe('deployed');
    kube.failNext(deploymentWrite('beta'), 503);
    const o = await deploy('beta', '1.1.0');
    expect(o).toMatchObject({ status: 'deployed', previousRevision: 1, attemptedRevision: 4, revision: 4, attempts: 2 });
    expect(await statuses('beta')).toEqual(['1:superseded', '2:failed', '3:superseded', '4:deployed']);
  });

  it('a fault that never clears ends untouched, as history proves', { timeout: 120_000 }, async () => {
    expect((await deploy('gamma', '1.0.0')).status).toBe('deployed');
    kube.failNext(secretCreate('gamma'), 500, { times: 1000 });
    const o = await deploy('gamma', '1.1.0');
    expect(o).toMatchObject({ status: 'failed', revision: 1 });
    expect(o.attemptedRevision).toBeUndefined();
    expect(o.error).toContain('(release untouched)');
    expect(kube.requests.filter(secretCreate('gamma')).filter((r) => r.status === 500)).toHaveLength(4);
    expect(await statuses('gamma')).toEqual(['1:deployed']);
  });

  it('history unreadable after a failure: unknown, with the command to look', { timeout: 120_000 }, async () => {
    expect((await deploy('delta', '1.0.0')).status).toBe('deployed');
    let armed = false;
    kube.failNext((r) => deploymentWrite('delta')(r) && (armed = true), 503);
    // Once the upgrade has failed, helm's history stays unreadable.
    kube.failNext((r) => armed && secretsList('delta')(r), 503, { times: 1000 });
    const o = await deploy('delta', '1.1.0');
    expect(o.status).toBe('unknown');
    expect(o.lookCommand).toBe(`helm history delta -n ${NS}`);
    expect(o.error).toContain(`look: helm history delta -n ${NS}`);
  });

  it('an unreachable cluster is transient and unreachable, in helm 3 and helm 4 wording', { timeout: 60_000 }, async () => {
    const dead = join(home, 'dead-kubeconfig');
    writeFileSync(dead, kube.kubeconfigYaml.replace(kube.url, 'http://127.0.0.1:1'), { mode: 0o600 });
    const r = await runCommand(helmBinaries[major], ['history', 'alpha', '-n', NS, '-o', 'json'], {
      env: { PATH: process.env.PATH, HOME: home, KUBECONFIG: dead, HELM_CACHE_HOME: join(home, 'c'), HELM_CONFIG_HOME: join(home, 'f') },
    });
    expect(r.exitCode).not.toBe(0);
    const e = new HelmError(
      r.stderr
        .trim()
        .split('\n')
        .at(-1)!
        .replace(/^Error: /, ''),
      'helm history',
      r.stderr,
    );
    expect(e.transient, r.stderr).toBe(true);
    expect(e.unreachable, r.stderr).toBe(true);
  });
});
