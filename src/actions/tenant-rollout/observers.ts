import type { Clock } from '../../core/clock.ts';
import { closest } from '../../core/closest.ts';
import { inputError } from '../../core/errors.ts';
import type { Logger } from '../../core/logger.ts';
import { GitHubApi } from '../../github/api.ts';
import { checkApprovalGate } from '../../github/gate.ts';
import type { GateFacts } from '../../github/gate.ts';
import { DeploymentRecorder, RECORD_MODES } from '../../github/records.ts';
import type { RecordMode } from '../../github/records.ts';
import { Notifier } from '../../notify/notifier.ts';
import { parseNotifyEvents, parseNotifyTargets } from '../../notify/targets.ts';
import type { NotifyEventKind, NotifyTarget } from '../../notify/targets.ts';
import type { NoticeContext } from '../../notify/notices.ts';
import { approvalNeededNotice, endNotices, planReadyNotice, stepNotice } from '../../notify/notices.ts';
import type { RolloutEvent, RolloutEventListener } from '../../rollout/events.ts';
import { fanOut } from '../../rollout/events.ts';
import type { Plan } from '../../rollout/plan.ts';
import type { RolloutReport } from '../../rollout/report.ts';
import type { Promotion } from '../../release/promotion.ts';
import type { Tenant, TenantRef } from '../../tenants/model.ts';
import type { Http } from '../../core/http.ts';
import type { Inputs } from '../common/inputs.ts';

/**
 * tenant-rollout's GitHub side: deployment records, the approval-gate check, notifications.
 * Inputs are parsed (and validated) with the others, before anything is deployed; the objects
 * are built over the run's environment (repository, run, API URL).
 */

export interface ObserverInputs {
  githubToken: string;
  records: RecordMode;
  recordsEnvironment: string;
  /** Share of the token's remaining budget the records may spend. */
  recordsShare: number;
  approvalEnvironment: string;
  /** The plan's gate (none, approval, approval+window); '' = not given. */
  gate: string;
  targets: NotifyTarget[];
  events: NotifyEventKind[];
  signingKey: string;
  fleet: string;
}

const GATES = ['none', 'approval', 'approval+window'];

export function parseObserverInputs(inputs: Inputs): ObserverInputs {
  inputs = inputs.withDefaults('tenant-rollout');
  const records = inputs.string('deployment-records');
  if (!(RECORD_MODES as readonly string[]).includes(records)) {
    const near = closest(records, RECORD_MODES);
    throw inputError(
      'deployment-records',
      records,
      'is not a record mode',
      `${near ? `did you mean "${near}"? ` : ''}use one of: ${RECORD_MODES.join(', ')}`,
    );
  }
  const gate = inputs.string('gate');
  if (gate && !GATES.includes(gate)) {
    const near = closest(gate, GATES);
    throw inputError(
      'gate',
      gate,
      'is not a gate',
      `${near ? `did you mean "${near}"? ` : ''}use one of: ${GATES.join(', ')} (the plan job's gate output)`,
    );
  }
  const share = inputs.string('deployment-records-budget');
  const m = /^(\d{1,3})%$/.exec(share);
  if (!m || Number(m[1]) < 1 || Number(m[1]) > 100)
    throw inputError(
      'deployment-records-budget',
      share,
      'is not a percentage from 1% to 100%',
      'e.g. 50%: records spend at most half of what the token has left',
    );
  const targets = parseNotifyTargets('notify', inputs.lines('notify'), (v) => inputs.mask(v));
  const signingKey = inputs.secret('notify-signing-key');
  if (targets.some((t) => t.format === 'json') && !signingKey)
    throw inputError(
      'notify-signing-key',
      '',
      'is required by the json webhooks in "notify"',
      'give a secret the receiver shares, to verify the HMAC-SHA256 signature',
    );
  return {
    githubToken: inputs.secret('github-token'),
    records: records as RecordMode,
    recordsEnvironment: inputs.string('deployment-environment'),
    recordsShare: Number(m[1]) / 100,
    approvalEnvironment: inputs.string('approval-environment'),
    gate,
    targets,
    events: parseNotifyEvents('notify-events', inputs.list('notify-events')),
    signingKey,
    // The fleet object's default name is not worth a mention in a message.
    fleet: inputs.string('fleet') === 'default' ? '' : inputs.string('fleet'),
  };
}

export interface RunEnvironment {
  owner: string;
  repo: string;
  sha: string;
  apiUrl: string;
  runUrl?: string;
}

export function runEnvironment(env: NodeJS.ProcessEnv): Partial<RunEnvironment> {
  const [owner, repo] = (env.GITHUB_REPOSITORY ?? '').split('/');
  const server = env.GITHUB_SERVER_URL || 'https://github.com';
  const runUrl =
    env.GITHUB_REPOSITORY && env.GITHUB_RUN_ID
      ? `${server}/${env.GITHUB_REPOSITORY}/actions/runs/` +
        `${env.GITHUB_RUN_ID}${env.GITHUB_RUN_ATTEMPT && env.GITHUB_RUN_ATTEMPT !== '1' ? `/attempts/${env.GITHUB_RUN_ATTEMPT}` : ''}`
      : undefined;
  return { owner, repo, sha: env.GITHUB_SHA, apiUrl: env.GITHUB_API_URL || 'https://api.github.com', runUrl };
}

export interface Observers {
  api?: GitHubApi;
  recorder?: DeploymentRecorder;
  notifier: Notifier;
  context: NoticeContext;
  /** Whether the promotion needs the approval this run's gated environment gives. */
  needsApproval(gate?: string): boolean;
  checkGate(why: string): Promise<GateFacts | undefined>;
  /** The executor's event port: records, and pilot-done / wave-done notices. */
  onEvent: RolloutEventListener;
  /** Before anything is deployed: the gate (waves / all), the records' budget read. */
  beforeRun(phase: string): Promise<void>;
  /** After planning: the gate from the promotion (plan phase), plan-ready, approval-needed. */
  afterPlan(phase: string, plan: Plan, promotion?: Promotion): Promise<void>;
  /** After the report: halted, rolled-back, finished; approval-needed after a good pilot. */
  afterReport(phase: string, rep: RolloutReport): void;
  /** The run ended in an error before a report (helm missing, cluster unreadable): a finished notice says so. */
  failed(phase: string, message: string): void;
  /** Waits for records and notifications, each at most its deadline. */
  finish(): Promise<void>;
}

export function openObservers(
  o: ObserverInputs,
  env: NodeJS.ProcessEnv,
  ports: { clock: Clock; logger: Logger; http: Http; signal?: AbortSignal },
  run: {
    phase: string;
    version: string;
    environmentUrl?: (t: Tenant) => string | undefined;
    flushMs?: number;
    /**
     * A sharded run (shards > 1) observes itself once: a `shard` sees only its slice of each wave,
     * so it writes per-tenant records only and sends nothing; the report job's `merge`, from the
     * merged report, writes the wave records and sends the notices (see mergedEvents).
     */
    role?: 'shard' | 'merge';
    /**
     * A dry run deploys nothing, so it writes no deployment records (an environment would show a
     * version it does not run); its notices are labelled DRY RUN.
     */
    dryRun?: boolean;
  },
): Observers {
  const where = runEnvironment(env);
  if (run.dryRun && o.records !== 'none') {
    ports.logger.info(`dry run: no deployment records (deployment-records: ${o.records} applies to real runs only)`);
    o = { ...o, records: 'none' };
  }
  const token = o.githubToken || env.GITHUB_TOKEN || '';
  const needApi = o.records !== 'none' || !!o.approvalEnvironment;
  if (needApi && (!where.owner || !where.repo))
    throw inputError(
      o.records !== 'none' ? 'deployment-records' : 'approval-environment',
      o.records !== 'none' ? o.records : o.approvalEnvironment,
      'needs the repository, and GITHUB_REPOSITORY is not set',
      'outside a runner, set GITHUB_REPOSITORY=owner/repo (and GITHUB_SHA for records)',
    );
  if (needApi && !token)
    throw inputError(
      'github-token',
      '',
      'is empty',
      'pass ${{ github.token }} (the default) or a token that may write deployments and read environments',
    );
  if (o.records !== 'none' && !where.sha)
    throw inputError(
      'deployment-records',
      o.records,
      'needs the commit being deployed, and GITHUB_SHA is not set',
      'set GITHUB_SHA (a runner sets it)',
    );
  const api = needApi
    ? new GitHubApi({
        token,
        baseUrl: where.apiUrl!,
        clock: ports.clock,
        logger: ports.logger,
        share: o.recordsShare,
        signal: ports.signal,
      })
    : undefined;
  // A shard's tenant records are its own (each tenant runs in one shard); its wave records are not.
  const mode: RecordMode =
    run.role === 'shard' ? (o.records === 'tenant' ? 'tenant' : 'none') : run.role === 'merge' && o.records !== 'none' ? 'wave' : o.records;
  const recorder =
    api && mode !== 'none'
      ? new DeploymentRecorder(
          api,
          {
            owner: where.owner!,
            repo: where.repo!,
            ref: where.sha!,
            environment: o.recordsEnvironment,
            mode,
            version: run.version,
            logUrl: where.runUrl,
            environmentUrl: run.environmentUrl,
            waves: run.role !== 'shard',
          },
          ports,
        )
      : undefined;
  const notifier = new Notifier(
    { targets: run.role === 'shard' ? [] : o.targets, events: o.events, signingKey: o.signingKey || undefined },
    ports,
  );
  const context: NoticeContext = {
    fleet: o.fleet || undefined,
    version: run.version || undefined,
    phase: run.phase,
    runUrl: where.runUrl,
    reportUrl: where.runUrl ? `${where.runUrl}#artifacts` : undefined,
    ...(run.dryRun ? { dryRun: true } : {}),
  };
  const flushMs = run.flushMs ?? 30_000;
  const needsApproval = (gate?: string) => !!o.approvalEnvironment && (gate || o.gate || 'approval') !== 'none';
  const why = (gate?: string) => `the promotion needs approval (gate ${gate || o.gate || 'approval'})`;
  const checkGate = async (reason: string) => {
    if (!api || !o.approvalEnvironment) return undefined;
    const facts = await checkApprovalGate(api, { owner: where.owner!, repo: where.repo!, environment: o.approvalEnvironment, why: reason });
    ports.logger.info(
      `approval environment "${facts.environment}": ` +
        `${facts.reviewers.length ? `required reviewers ${facts.reviewers.join(', ')}` : `protection rules ${facts.apps.join(', ')}`}`,
    );
    return facts;
  };
  const approvalNeeded = (gate?: string) =>
    notifier.send(
      approvalNeededNotice(
        context,
        o.approvalEnvironment,
        `${why(gate)}; the plan is ready${run.phase === 'pilot' ? ' and the pilot succeeded' : ''}`,
      ),
    );
  return {
    api,
    recorder,
    notifier,
    context,
    needsApproval,
    checkGate,
    onEvent: fanOut(recorder?.onEvent, (e) => {
      if (e.type === 'step-finished') notifier.send(stepNotice(context, e));
    }),
    async beforeRun(phase) {
      // The gated job checks its own gate before its first tenant (the plan job checked it too).
      if ((phase === 'waves' || phase === 'all') && needsApproval()) await checkGate(why());
      if (phase !== 'plan') recorder?.prepare();
    },
    async afterPlan(phase, plan, promotion) {
      if (phase !== 'plan') return;
      const gate = promotion?.gate;
      // Planning is the earliest point: a missing gate stops the run before the pilot.
      if (needsApproval(gate)) await checkGate(why(gate));
      notifier.send(planReadyNotice(context, plan, promotion));
      // Without pilot tenants the gated job follows the plan directly.
      if (!plan.pilot.length && needsApproval(gate)) approvalNeeded(gate);
    },
    afterReport(phase, rep) {
      for (const n of endNotices(context, rep)) notifier.send(n);
      if (phase === 'pilot' && rep.outcome === 'succeeded' && needsApproval()) approvalNeeded();
    },
    failed(phase, message) {
      notifier.send({
        event: 'finished',
        fleet: context.fleet,
        version: context.version,
        phase,
        outcome: 'failed',
        title: `${context.fleet ? `${context.fleet}: ` : ''}rollout failed before its report`,
        text: message,
        links: context.runUrl ? [{ label: 'Open the run', url: context.runUrl }] : [],
      });
    },
    async finish() {
      await Promise.all([recorder?.finish(flushMs), notifier.flush(flushMs)]);
    },
  };
}

/**
 * The merged report of a sharded run as the events one job would have sent: each wave that ran
 * (up to the last with a tenant that did something), started then finished, with the stop on the
 * last. Replayed into the merge's observers, they give the wave records and wave-done notices
 * once, with the same states and texts as an unsharded run.
 */
export function mergedEvents(steps: readonly { name: string; tenants: readonly TenantRef[] }[], rep: RolloutReport): RolloutEvent[] {
  // Observers read a step's tenants by id only: the plan's references stand in for the tenants.
  const tenantsOf = (refs: readonly TenantRef[]): Tenant[] =>
    refs.map((r) => ({ ...r, slug: r.id, labels: {}, values: {}, valuesFiles: [] }));
  const results = steps.map((s) => rep.tenants.filter((t) => t.step === s.name));
  let last = -1;
  results.forEach((rs, i) => {
    if (rs.some((r) => r.status !== 'skipped')) last = i;
  });
  const plan = steps.map((s) => ({ name: s.name, tenants: s.tenants.length }));
  return steps.slice(0, last + 1).flatMap((s, index): RolloutEvent[] => [
    { type: 'step-started', step: s.name, index, steps: steps.length, tenants: tenantsOf(s.tenants), plan },
    {
      type: 'step-finished',
      step: s.name,
      index,
      steps: steps.length,
      results: results[index]!,
      ...(index === last && rep.stoppedBecause ? { stoppedBecause: rep.stoppedBecause } : {}),
    },
  ]);
}
