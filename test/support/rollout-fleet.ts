// What the executor tests share: a tenant made from its id, and the upgrade a test rollout asks
// helm for (the example chart, the run's ledger in the description).
import { ledgerDescription } from '../../src/rollout/execute.ts';
import type { RolloutOptions } from '../../src/rollout/execute.ts';
import type { Tenant } from '../../src/tenants/model.ts';

export const tenant = (id: string): Tenant => ({
  id,
  slug: id,
  namespace: `tenant-${id}`,
  release: id,
  labels: {},
  values: {},
  valuesFiles: [],
});

export const testUpgrade: RolloutOptions['upgradeFor'] = (t, fp) => ({
  release: t.release,
  namespace: t.namespace,
  chart: 'examples/charts/tenant-app',
  valuesFiles: [],
  set: [],
  setString: [],
  createNamespace: false,
  wait: 'ready',
  timeoutMs: 60_000,
  dryRun: 'none',
  serverSide: 'auto',
  description: ledgerDescription(fp, 'run 7/1'),
});
