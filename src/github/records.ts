import type { Clock } from '../core/clock.ts';
import { errorMessage } from '../core/errors.ts';
import type { Logger } from '../core/logger.ts';
import type { RolloutEvent } from '../rollout/events.ts';
import type { TenantResult, TenantStatus } from '../rollout/execute.ts';
import type { Tenant } from '../tenants/model.ts';
import type { GitHubApi } from './api.ts';

/**
 * Deployment records: what GitHub's Deployments view shows for a rollout. One deployment per
 * wave (environment `<environment>/<step>`, e.g. `tenants/wave-2`) and, in `tenant` mode, one per
 * tenant (`<environment>/<tenant id>`), so the view answers "which tenant runs which version".
 * Each goes `in_progress` -> `success` / `failure` / `inactive` (rolled back with its wave).
 *
 * Records are off the critical path: events are queued and sent concurrently with the rollout,
 * failures only warn, and `finish` waits for the queue at most a deadline. Per-tenant records
 * cost 3 requests each; when the run's share of the token's budget cannot hold them (before the
 * run, or while it goes), the recorder falls back to per-wave records with a warning.
 */

export type RecordMode = 'none' | 'wave' | 'tenant';
export const RECORD_MODES: readonly RecordMode[] = ['none', 'wave', 'tenant'];

export type DeploymentState = 'in_progress' | 'success' | 'failure' | 'inactive';

export interface RecordsOptions {
  owner: string;
  repo: string;
  /** The commit being deployed (GITHUB_SHA). */
  ref: string;
  /** Environment prefix of the records. */
  environment: string;
  mode: RecordMode;
  /** What is deployed, in each description (the chart version or release version). */
  version: string;
  /** The run's log URL. */
  logUrl?: string;
  /** A tenant's public URL (its rendered smoke URL), shown as the environment URL. */
  environmentUrl?: (t: Tenant) => string | undefined;
  /** Plan fingerprint, in each deployment's payload. */
  plan?: string;
  /** Requests in flight at once. */
  concurrency?: number;
  /**
   * false: no wave records (a shard of a sharded run: each shard sees only its slice of a wave,
   * so the report job writes the waves from the merged report); per-tenant records still go.
   */
  waves?: boolean;
}

/** Requests one record costs: create, in_progress, final state. */
const PER_RECORD = 3;

const OK: ReadonlySet<TenantStatus> = new Set(['succeeded', 'unchanged']);

export function tenantState(s: TenantStatus): DeploymentState | undefined {
  if (OK.has(s)) return 'success';
  if (s === 'rolled-back') return 'inactive'; // it ran, then went back with its wave
  if (s === 'skipped') return 'inactive';
  return 'failure';
}

export function waveState(results: readonly Readonly<TenantResult>[]): DeploymentState {
  const touched = results.filter((r) => r.status !== 'skipped');
  if (touched.length && touched.every((r) => r.status === 'rolled-back')) return 'inactive';
  return results.some((r) => tenantState(r.status) === 'failure' || r.status === 'rolled-back') ? 'failure' : 'success';
}

/** A step's part of an environment name: "wave 2/5" -> "wave-2" (stable when the plan grows). */
export function stepEnvironment(step: string): string {
  return step
    .replace(/\/\d+$/, '')
    .trim()
    .replace(/\s+/g, '-');
}

/** GitHub caps descriptions at 140 characters. */
const desc = (s: string) => (s.length > 140 ? `${s.slice(0, 137)}...` : s);

interface Rec {
  environment: string;
  url?: string;
  id: Promise<number | undefined>;
  chain: Promise<void>;
  last?: DeploymentState;
}

export class DeploymentRecorder {
  /** The mode actually used (it may fall back from tenant to wave, or to none). */
  mode: RecordMode;
  readonly written: { environment: string; state: DeploymentState }[] = [];
  private readonly records = new Map<string, Rec>();
  private readonly pending = new Set<Promise<void>>();
  private reservedForWaves = 0;
  private running = 0;
  private readonly waiting: (() => void)[] = [];
  private failures = 0;
  private warnedFallback = false;
  private decided = false;
  /** Requests that opened records will still send (reserved when they were opened). */
  private outstanding = 0;

  constructor(
    private readonly api: GitHubApi,
    private readonly o: RecordsOptions,
    private readonly ports: { logger: Logger; clock: Clock },
  ) {
    this.mode = o.mode;
  }

  private ready: Promise<unknown> = Promise.resolve();
  private events: Promise<void> = Promise.resolve();

  /**
   * Starts reading the token's budget (free: `GET /rate_limit` is not counted). Not awaited by
   * the rollout: events wait for it in the recorder's own queue, never in the executor.
   */
  prepare(): void {
    if (this.mode !== 'none') this.ready = this.api.readBudget();
  }

  /** Decides the mode from the budget before the first tenant: a fleet that does not fit falls back. */
  private decide(steps: readonly { name: string; tenants: number }[]): boolean {
    const allowance = this.api.allowance();
    const remaining = this.api.budget?.remaining ?? '?';
    const waves = this.o.waves === false ? 0 : PER_RECORD * steps.length;
    const tenants = PER_RECORD * steps.reduce((n, s) => n + s.tenants, 0);
    if (this.mode === 'tenant' && waves + tenants > allowance) {
      this.fallBack(
        `per-tenant deployment records need ${waves + tenants} GitHub API requests, more ` +
          `than this run's share of the token's budget (${allowance} of ${remaining} remaining)`,
      );
    }
    if (this.mode === 'wave' && waves > allowance) {
      this.ports.logger.warning(
        `deployment records: ${waves} GitHub API requests needed, ${allowance} allowed (${remaining} remaining): no records this run`,
      );
      this.mode = 'none';
    }
    this.reservedForWaves = this.mode === 'none' ? 0 : waves;
    return this.mode !== 'none';
  }

  private fallBack(why: string): void {
    this.mode = 'wave';
    if (this.warnedFallback) return;
    this.warnedFallback = true;
    this.ports.logger.warning(`${why}: falling back to per-wave records`);
  }

  /** The executor's event port. Never throws, never waits. */
  readonly onEvent = (e: RolloutEvent): void => {
    if (this.mode === 'none' || this.api.down) return;
    this.events = this.events
      .then(() => this.ready)
      .then(
        () => this.handle(e),
        () => this.handle(e),
      );
    this.track(this.events);
  };

  private handle(e: RolloutEvent): void {
    if (this.mode === 'none' || this.api.down) return;
    switch (e.type) {
      case 'step-started':
        if (e.index === 0 || !this.decided) {
          this.decided = true;
          // decide() may turn records off (the budget cannot hold even per-wave records).
          if (!this.decide(e.plan.slice(e.index))) return;
        }
        if (this.o.waves === false) return;
        // The wave's reservation becomes the record's.
        this.reservedForWaves = Math.max(0, this.reservedForWaves - PER_RECORD);
        this.outstanding += PER_RECORD;
        this.open(
          `step:${e.step}`,
          `${this.o.environment}/${stepEnvironment(e.step)}`,
          `${this.o.version}: ${e.step}, ${e.tenants.length} tenants`,
          {
            tenants: e.tenants.slice(0, 50).map((t) => (t as Tenant).id),
          },
        );
        return;
      case 'tenant-started':
        if (this.mode !== 'tenant') return;
        this.open(
          `tenant:${e.tenant.id}`,
          `${this.o.environment}/${e.tenant.id}`,
          `${this.o.version} on ${e.tenant.id}`,
          {
            tenant: e.tenant.id,
            namespace: e.tenant.namespace,
            release: e.tenant.release,
          },
          this.o.environmentUrl?.(e.tenant),
          true,
        );
        return;
      case 'tenant-finished': {
        const state = tenantState(e.result.status);
        if (state)
          this.set(`tenant:${e.tenant.id}`, state, `${this.o.version}: ${e.result.status}${e.result.error ? `: ${e.result.error}` : ''}`);
        return;
      }
      case 'step-finished': {
        const counts = new Map<string, number>();
        for (const r of e.results) counts.set(r.status, (counts.get(r.status) ?? 0) + 1);
        const text = [...counts].map(([s, n]) => `${n} ${s}`).join(', ');
        this.set(`step:${e.step}`, waveState(e.results), `${this.o.version}: ${text}`);
        return;
      }
    }
  }

  /** One request of an opened record: it was counted in `outstanding` when the record was opened. */
  private async spend<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } finally {
      this.outstanding = Math.max(0, this.outstanding - 1);
    }
  }

  private open(
    key: string,
    environment: string,
    description: string,
    payload: Record<string, unknown>,
    url?: string,
    perTenant = false,
  ): void {
    const { owner, repo } = this.o;
    const id = this.queue(async () => {
      // Checked when the request would go out, against the budget GitHub reported last: what the
      // remaining waves need is kept; a tenant record that would eat into it is not created.
      if (perTenant) {
        if (this.mode !== 'tenant' || this.api.allowance() - this.reservedForWaves - this.outstanding < PER_RECORD) {
          if (this.mode === 'tenant')
            this.fallBack(`the GitHub API budget for this run is nearly spent (${this.api.allowance()} requests left of its share)`);
          return undefined;
        }
        this.outstanding += PER_RECORD;
      }
      const r = await this.spend(() =>
        this.api.octokit.rest.repos.createDeployment({
          owner,
          repo,
          ref: this.o.ref,
          environment,
          description: desc(description),
          task: 'deploy',
          auto_merge: false,
          // Without this GitHub refuses (409) while the commit's checks are pending or failing.
          required_contexts: [],
          transient_environment: false,
          payload: { ...payload, plan: this.o.plan, tool: 'deploy-actions' },
        }),
      );
      const d = r.data as { id?: number };
      if (!d.id) throw new Error(`no deployment created: ${JSON.stringify(r.data).slice(0, 200)}`);
      return d.id;
    }, `create the deployment for ${environment}`);
    const rec: Rec = { environment, url, id, chain: id.then(() => {}) };
    this.records.set(key, rec);
    this.set(key, 'in_progress', description);
  }

  private set(key: string, state: DeploymentState, description: string): void {
    const rec = this.records.get(key);
    if (!rec || rec.last === state) return;
    rec.last = state;
    const environmentUrl = rec.url;
    rec.chain = rec.chain.then(async () => {
      const id = await rec.id;
      if (id === undefined) return;
      await this.queue(async () => {
        await this.spend(() =>
          this.api.octokit.rest.repos.createDeploymentStatus({
            owner: this.o.owner,
            repo: this.o.repo,
            deployment_id: id,
            state,
            description: desc(description),
            log_url: this.o.logUrl,
            ...(environmentUrl ? { environment_url: environmentUrl } : {}),
            auto_inactive: true,
          }),
        );
        this.written.push({ environment: rec.environment, state });
      }, `set ${rec.environment} ${state}`);
    });
    this.track(rec.chain);
  }

  /** Runs `fn` within the concurrency limit; a failure warns (once per kind) and resolves undefined. */
  private queue<T>(fn: () => Promise<T>, what: string): Promise<T | undefined> {
    const p = (async () => {
      while (this.running >= (this.o.concurrency ?? 4)) await new Promise<void>((r) => this.waiting.push(r));
      this.running++;
      try {
        if (this.api.down) return undefined;
        return await fn();
      } catch (err) {
        this.failures++;
        if (this.failures <= 3) this.ports.logger.warning(`deployment record: could not ${what}: ${errorMessage(err)}`);
        return undefined;
      } finally {
        this.running--;
        this.waiting.shift()?.();
      }
    })();
    this.track(p.then(() => {}));
    return p;
  }

  private track(p: Promise<void>): void {
    this.pending.add(p);
    void p.finally(() => this.pending.delete(p));
  }

  /** Waits for the queued records, at most `deadlineMs`; what is left is abandoned with a warning. */
  async finish(deadlineMs: number): Promise<{ written: number; failed: number; abandoned: number }> {
    // Real time: the deadline bounds how long the job waits, whatever the rollout's clock says.
    let expired = false;
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<void>((r) => (timer = setTimeout(() => ((expired = true), r()), deadlineMs)));
    while (this.pending.size && !expired) await Promise.race([Promise.allSettled([...this.pending]), deadline]);
    clearTimeout(timer);
    const abandoned = this.pending.size;
    if (abandoned)
      this.ports.logger.warning(
        `deployment records: ${abandoned} GitHub requests still pending after ${Math.round(deadlineMs / 1000)}s: abandoned`,
      );
    if (this.failures > 3) this.ports.logger.warning(`deployment records: ${this.failures} GitHub requests failed in all`);
    return { written: this.written.length, failed: this.failures, abandoned };
  }
}
