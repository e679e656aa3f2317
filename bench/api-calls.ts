// Kubernetes API calls per rollout, counted at the client (pages included) against the
// wire-level fake: discovery pages, the check after each tenant, and the soak re-checks.
import { createCluster } from '../src/kube/client.ts';
import { executeRollout } from '../src/rollout/execute.ts';
import { planRollout, parseBatchSize, parsePilot } from '../src/rollout/plan.ts';
import { tenantsFromNamespaces } from '../src/tenants/sources.ts';
import type { Helm } from '../src/helm/helm.ts';
import { silentLogger } from '../src/core/logger.ts';
import { startFakeKube } from '../test/support/fake-kube/index.ts';
import { VirtualClock } from './virtual-clock.ts';

async function measure(n: number) {
  const kube = await startFakeKube();
  const names = Array.from({ length: n }, (_, i) => `tenant-t${String(i).padStart(4, '0')}`);
  kube.addTenantNamespaces(names);
  const cluster = createCluster({ kubeconfigYaml: kube.kubeconfigYaml, pageSize: 100 });
  const tenants = tenantsFromNamespaces(await cluster.listNamespaces('app.kubernetes.io/component=tenant'));
  const discovery = cluster.stats.requests;
  const plan = planRollout(tenants, { pilot: parsePilot('2'), batchSize: parseBatchSize('25%') });
  const byId = new Map(tenants.map((t) => [t.id, t]));
  const steps = [plan.pilot, ...plan.waves].map((w, i) => ({ name: i ? `wave ${i}` : 'pilot', tenants: w.map((r) => byId.get(r.id)!) }));
  const clock = new VirtualClock();
  // A helm that leaves a ready Deployment behind, as a successful upgrade would.
  const helm: Helm = {
    version: { major: 4, minor: 1, patch: 4, raw: 'v4.1.4' },
    history: async () => [
      { revision: 1, updated: '', status: 'deployed', chart: 'tenant-app-1.2.0', app_version: '1.2.0', description: '' },
    ],
    async upgrade(o) {
      await kube.apply({
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: { name: o.release, namespace: o.namespace, annotations: { 'meta.helm.sh/release-name': o.release } },
        spec: {
          replicas: 1,
          selector: { matchLabels: { app: o.release } },
          template: { metadata: { labels: { app: o.release } }, spec: { containers: [{ name: 'app', image: 'repo/app:1.3.0' }] } },
        },
      });
      return { revision: 2, status: 'deployed', chartVersion: '1.3.0', appVersion: '1.3.0', contentDigest: 'x' };
    },
    listAll: async () => [],
    rollback: async () => {},
    uninstall: async () => {},
    contentDigest: async () => 'y',
  };
  let soakCalls = 0;
  const r = await executeRollout(
    {
      steps,
      maxParallel: 10,
      maxFailures: 0,
      soakMs: 60_000,
      soakIntervalMs: 20_000,
      rollbackWaveOnFailure: false,
      recoverPending: false,
      timeoutMs: 300_000,
      targetFingerprint: () => 'x',
      upgradeFor: (t) => ({
        release: t.release,
        namespace: t.namespace,
        chart: 'c',
        valuesFiles: [],
        set: [],
        setString: [],
        createNamespace: false,
        wait: 'ready',
        timeoutMs: 1,
        dryRun: 'none',
        serverSide: 'auto',
      }),
    },
    {
      helm,
      clock,
      logger: silentLogger,
      verify: async (t) => {
        const h = await cluster.releaseHealth(t.namespace, t.release);
        return { ok: h.healthy, reason: h.problems.join('; ') };
      },
      soakCheck: async (ts) => {
        const before = cluster.stats.requests;
        const health = await cluster.fleetHealth(ts);
        soakCalls += cluster.stats.requests - before;
        return new Map(ts.map((t) => [t.id, { ok: health.get(`${t.namespace}/${t.release}`)?.healthy ?? true }]));
      },
    },
  );
  await kube.close();
  // Soaks run between waves, when no tenant is in flight, so what is left is the checks.
  const verifyCalls = cluster.stats.requests - discovery - soakCalls;
  const ok = r.tenants.filter((t) => t.status === 'succeeded').length;
  console.log(
    `api calls: ${n} tenants, ${steps.length} steps (${ok} succeeded): ${cluster.stats.requests} in all = discovery ${discovery} (pages of 100) + post-upgrade checks ${verifyCalls} (${(verifyCalls / n).toFixed(1)} per tenant) + soak re-checks ${soakCalls} (${steps.length - 1} soaks x 3 looks, fleet-wide paginated lists)`,
  );
}

await measure(100);
await measure(400);
