/**
 * One shard as its own process (node --experimental-transform-types test/support/shard-worker.ts
 * <config.json>): the approved plan from a file, the shard coordination through the fleet
 * document in the fake, the production executor and in-process history, and the simulated
 * API helm. Writes its report to `out`.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { systemClock } from '../../src/core/clock.ts';
import { loadConfig } from '../../src/kube/client.ts';
import { createFleetDocuments } from '../../src/kube/documents.ts';
import { executeRollout, ledgerDescription } from '../../src/rollout/execute.ts';
import { buildReport } from '../../src/rollout/report.ts';
import { parsePlan, stepsForPhase } from '../../src/rollout/plan.ts';
import { openShardCoordinator, shardDocumentName } from '../../src/rollout/shards.ts';
import type { Tenant } from '../../src/tenants/model.ts';
import { ApiHelm } from './api-helm.ts';

interface WorkerConfig {
  kubeconfigYaml: string;
  planFile: string;
  shard: number;
  shards: number;
  maxFailures: number;
  maxParallel: number;
  bad: string[];
  durationMs: number;
  heartbeatMs: number;
  lapseMs: number;
  run: string;
  out: string;
}

const cfg = JSON.parse(readFileSync(process.argv[2]!, 'utf8')) as WorkerConfig;
const kc = loadConfig({ kubeconfigYaml: cfg.kubeconfigYaml });
const plan = parsePlan(readFileSync(cfg.planFile, 'utf8'));
const tenant = (r: { id: string; namespace: string; release: string }): Tenant => ({
  ...r,
  slug: r.id,
  labels: {},
  values: {},
  valuesFiles: [],
});
const steps = stepsForPhase({ pilot: plan.pilot.map(tenant), waves: plan.waves.map((w) => w.map(tenant)) }, 'all').map((s) => ({
  name: s.name,
  tenants: s.tenants,
}));
const logger = {
  info: (m: string) => process.stdout.write(`[shard ${cfg.shard}] ${m}\n`),
  warning: (m: string) => process.stdout.write(`[shard ${cfg.shard}] warning: ${m}\n`),
  error: (m: string) => process.stdout.write(`[shard ${cfg.shard}] error: ${m}\n`),
  debug: () => {},
  group: async <T>(name: string, fn: () => Promise<T>) => {
    process.stdout.write(`[shard ${cfg.shard}] ${name}\n`);
    return fn();
  },
};
const ac = new AbortController();
process.on('SIGINT', () => ac.abort());

const shards = await openShardCoordinator({
  docs: createFleetDocuments({ kubeConfig: kc, namespace: 'deploy-actions' }),
  name: shardDocumentName(plan.fingerprint, cfg.run),
  shard: cfg.shard,
  shards: cfg.shards,
  planFingerprint: plan.fingerprint,
  maxFailures: cfg.maxFailures,
  steps,
  clock: systemClock,
  logger,
  heartbeatMs: cfg.heartbeatMs,
  lapseMs: cfg.lapseMs,
  pollMs: 50,
});
const bad = new Set(cfg.bad);
const helm = new ApiHelm(kc, { durationMs: () => cfg.durationMs, bad: (r) => bad.has(r) });
const started = Date.now();
const result = await executeRollout(
  {
    steps,
    maxParallel: cfg.maxParallel,
    maxFailures: cfg.maxFailures,
    soakMs: 0,
    soakIntervalMs: 1000,
    rollbackWaveOnFailure: false,
    recoverPending: true,
    timeoutMs: 10_000,
    targetFingerprint: () => `fp-${cfg.run}`,
    upgradeFor: (t, fp) => ({
      release: t.release,
      namespace: t.namespace,
      chart: 'simulated',
      valuesFiles: [],
      set: [],
      setString: [],
      createNamespace: false,
      wait: 'ready',
      timeoutMs: 10_000,
      dryRun: 'none',
      serverSide: 'auto',
      description: ledgerDescription(fp, cfg.run),
    }),
    signal: ac.signal,
  },
  { helm, clock: systemClock, logger, shards },
);
const report = buildReport(result, {
  phase: 'all',
  planFingerprint: plan.fingerprint,
  target: 'fp-shards',
  run: cfg.run,
  startedAt: new Date(started).toISOString(),
});
writeFileSync(cfg.out, JSON.stringify({ report, calls: helm.calls }));
process.exit(0);
