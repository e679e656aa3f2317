// Per-tenant cost against the wire-level fake: Kubernetes API requests counted at the client
// (pages and retries included) for discovery, the release history read in-process from Helm's
// storage, the check after each tenant and the soak re-checks; and helm processes per tenant.
import { createCluster, loadConfig } from '../src/kube/client.ts';
import { createReleaseHistory } from '../src/kube/release-history.ts';
import { withStorageHistory } from '../src/helm/storage.ts';
import { executeRollout } from '../src/rollout/execute.ts';
import { tenantsFromNamespaces } from '../src/tenants/sources.ts';
import type { Helm } from '../src/helm/helm.ts';
import { benchOptions, benchSteps } from './common.ts';
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
  const steps = benchSteps(tenants, '2', '25%');
  const clock = new VirtualClock();
  // A helm that leaves a ready Deployment behind, as a successful upgrade would; each call is a process.
  let processes = 0;
  const cli: Helm = {
    version: { major: 4, minor: 1, patch: 4, raw: 'v4.1.4' },
    history: async () => {
      processes++;
      return [{ revision: 1, updated: '', status: 'deployed', chart: 'tenant-app-1.2.0', app_version: '1.2.0', description: '' }];
    },
    async upgrade(o) {
      processes++;
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
  // As the action runs it: history from Helm's storage Secrets through the API (one list request), not a helm process.
  const reader = createReleaseHistory({ kubeConfig: loadConfig({ kubeconfigYaml: kube.kubeconfigYaml }) });
  const helm = withStorageHistory(cli, (ns, rel) => reader.history(ns, rel));
  let soakCalls = 0;
  const r = await executeRollout(benchOptions(steps, { soakMs: 60_000, soakIntervalMs: 20_000 }), {
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
  });
  await kube.close();
  // Soaks run between waves, when no tenant is in flight, so what is left is the checks.
  const verifyCalls = cluster.stats.requests - discovery - soakCalls;
  const historyCalls = reader.stats.requests;
  const all = cluster.stats.requests + historyCalls;
  const ok = r.tenants.filter((t) => t.status === 'succeeded').length;
  console.log(
    `per-tenant cost: ${n} tenants, ${steps.length} steps (${ok} succeeded): ${(processes / n).toFixed(2)} helm processes and ${(all / n).toFixed(2)} API requests per tenant; ${all} requests in all = discovery ${discovery} (pages of 100) + release history ${historyCalls} (${(historyCalls / n).toFixed(1)} per tenant, in-process) + post-upgrade checks ${verifyCalls} (${(verifyCalls / n).toFixed(1)} per tenant) + soak re-checks ${soakCalls} (${steps.length - 1} soaks x 3 looks, fleet-wide paginated lists)`,
  );
}

await measure(100);
await measure(400);
