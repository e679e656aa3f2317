import { stringify } from 'yaml';
import { systemClock } from '../../core/clock.ts';
import type { Clock } from '../../core/clock.ts';
import { humanDuration } from '../../core/duration.ts';
import type { CommandRunner } from '../../core/process.ts';
import { deployRelease } from '../../helm/deploy.ts';
import type { DeployOutcome } from '../../helm/deploy.ts';
import { defaultCluster } from '../common/cluster.ts';
import type { ClusterFactory } from '../common/cluster.ts';
import type { ActionContext, ActionModule } from '../common/context.ts';
import { explainHelmError, openHelmSession, openPostHelm, removePrivateDir } from '../common/helm-session.ts';
import { recoverAfterCancel } from '../../helm/recover.ts';
import type { ClusterTarget } from '../../core/cluster-target.ts';
import type { Inflight } from '../../helm/recover.ts';
import { parseInputs } from './inputs.ts';
import type { HelmDeployInputs } from './inputs.ts';
import type { Cluster } from '../../kube/ports.ts';
import { deployBlueGreen, rollbackBlueGreen } from '../../bluegreen/index.ts';
import type { BlueGreenOutcome } from '../../bluegreen/index.ts';
import type { Helm } from '../../helm/helm.ts';
import type { Logger } from '../../core/logger.ts';
import type { VerifyResult } from '../../helm/deploy.ts';

export const STATE_INFLIGHT = 'helm-deploy-inflight';

/** What main saves while an upgrade is in flight: the release and, explicitly, the cluster it is in. */
type InflightState = Inflight & { target: ClusterTarget };

/** What the root action adds to helm-deploy: checks after the upgrade, and a watch window after that. */
export interface DeployExtension {
  needsCluster: boolean;
  /** Extra verification of the new revision (rolling) or the idle color (blue-green); a failure rolls back. */
  verify?(
    target: { namespace: string; release: string; color?: string; service?: string },
    ports: { cluster?: Cluster; clock: Clock },
  ): Promise<VerifyResult>;
  /** After a successful deploy: watch it, and undo it (throwing) when it breaches. */
  watch?(
    deployed: {
      namespace: string;
      release: string;
      timeoutMs: number;
      previousRevision?: number;
      blueGreen?: BlueGreenOutcome;
      colorLabel: string;
    },
    ports: { helm: Helm; cluster?: Cluster; clock: Clock },
  ): Promise<void>;
}

export interface HelmDeployDeps {
  run?: CommandRunner;
  clock?: Clock;
  /** The root action's additions (smoke checks, watch window). */
  extension?: (ctx: ActionContext) => DeployExtension;
  /** Injected in tests; defaults to the client-node adapter (blue-green only). */
  createCluster?: ClusterFactory;
}

export function blueGreenMarkdown(o: BlueGreenOutcome): string {
  const rows = [
    ['service', `\`${o.namespace}/${o.service}\``],
    ['status', o.status],
    ['live color', o.liveColor ?? '(none)'],
    ['previous color', o.previousColor ?? '(none)'],
    ['blue revision', o.revisions.blue ? String(o.revisions.blue) : '—'],
    ['green revision', o.revisions.green ? String(o.revisions.green) : '—'],
    ['old color', o.oldColor ?? '—'],
    ['duration', humanDuration(o.durationMs)],
  ];
  if (o.error) rows.push(['error', o.error.replace(/\|/g, '\\|').replace(/\n/g, ' ')]);
  const table = rows.map(([k, v]) => `| ${k} | ${v} |`).join('\n');
  return `### helm-deploy (blue-green): ${o.release}\n\n| | |\n|---|---|\n${table}\n\n${o.steps.map((x) => `1. ${x}`).join('\n')}\n`;
}

/** The default revision description: which run put this revision there (the ledger). */
export function runDescription(env: NodeJS.ProcessEnv, action: string): string {
  const sha = env.GITHUB_SHA?.slice(0, 7);
  const run = env.GITHUB_RUN_ID ? ` run ${env.GITHUB_RUN_ID}/${env.GITHUB_RUN_ATTEMPT ?? 1}` : '';
  return `deploy-actions ${action}${env.GITHUB_REPOSITORY ? ` ${env.GITHUB_REPOSITORY}` : ''}${sha ? `@${sha}` : ''}${run}`.slice(0, 500);
}

export function summaryMarkdown(o: DeployOutcome): string {
  const icon = { deployed: '✅', unchanged: '✅', 'dry-run': '📝', 'rolled-back': '↩️', uninstalled: '🗑️', failed: '❌', unknown: '❓' }[
    o.status
  ];
  const rows = [
    ['release', `\`${o.namespace}/${o.release}\``],
    ['status', `${icon} ${o.status}`],
    ['revision before', o.previousRevision ? String(o.previousRevision) : '(none)'],
    ['revision after', o.revision ? String(o.revision) : '(none)'],
    ['chart version', o.chartVersion || '—'],
    ['app version', o.appVersion || '—'],
    ['changed', String(o.changed)],
    ['duration', humanDuration(o.durationMs)],
  ];
  if (o.recovered) rows.push(['recovered', `revision ${o.recovered.revision} was ${o.recovered.status}: ${o.recovered.action}`]);
  if (o.error) rows.push(['error', o.error.replace(/\|/g, '\\|').replace(/\n/g, ' ')]);
  if (o.lookCommand) rows.push(['look', `\`${o.lookCommand}\``]);
  return `### helm-deploy: ${o.release}\n\n| | |\n|---|---|\n${rows.map(([k, v]) => `| ${k} | ${v} |`).join('\n')}\n`;
}

const watchTarget = (u: HelmDeployInputs['upgrade'], inp: HelmDeployInputs) => ({
  namespace: u.namespace,
  release: u.release,
  timeoutMs: u.timeoutMs,
  colorLabel: inp.blueGreen.colorLabel,
});

async function blueGreen(
  ctx: ActionContext,
  inp: HelmDeployInputs,
  upgrade: HelmDeployInputs['upgrade'] & { description: string },
  ports: { helm: Helm; cluster: Cluster; clock: Clock; logger: Logger },
  target: ClusterTarget,
  saveInflight: (json: string) => void,
  ext?: DeployExtension,
): Promise<BlueGreenOutcome> {
  const bg = inp.blueGreen;
  const common = {
    service: bg.service,
    colorLabel: bg.colorLabel,
    readyTimeoutMs: bg.readyTimeoutMs,
    checkIntervalMs: bg.checkIntervalMs,
    signal: ctx.signal,
  };
  const o = bg.rollback
    ? await rollbackBlueGreen({ ...common, release: upgrade.release, namespace: upgrade.namespace, to: bg.rollbackColor }, ports)
    : await deployBlueGreen(
        {
          ...common,
          upgrade,
          initialColor: bg.initialColor,
          keepOldMs: bg.keepOldMs,
          oldColor: bg.oldColor,
          rollbackOnFailure: inp.rollbackOnFailure,
          recoverPending: inp.recoverPending,
          smoke: ext?.verify
            ? (t) => ext.verify!({ namespace: t.namespace, release: t.release, color: t.color, service: t.service }, ports)
            : undefined,
          onUpgradeStart: (release, previous) =>
            saveInflight(
              JSON.stringify({
                release,
                namespace: upgrade.namespace,
                target,
                helm: inp.helm,
                previous,
                timeoutMs: upgrade.timeoutMs,
              } satisfies InflightState),
            ),
        },
        ports,
      ).catch(explainHelmError);
  saveInflight('');
  const live = o.liveColor ? o.revisions[o.liveColor] : undefined;
  const prev = o.previousColor ? o.revisions[o.previousColor] : undefined;
  ctx.setOutput('status', o.status);
  ctx.setOutput('live-color', o.liveColor ?? '');
  ctx.setOutput('previous-color', o.previousColor ?? '');
  ctx.setOutput('blue-revision', o.revisions.blue ?? '');
  ctx.setOutput('green-revision', o.revisions.green ?? '');
  ctx.setOutput('revision', live ?? '');
  ctx.setOutput('previous-revision', prev ?? '');
  ctx.setOutput('chart-version', o.deploy?.chartVersion ?? '');
  ctx.setOutput('app-version', o.deploy?.appVersion ?? '');
  ctx.setOutput('changed', o.switched);
  await ctx.summary(blueGreenMarkdown(o));
  const line = `${o.namespace}/${o.service}: ${o.status}, live color ${o.previousColor ?? '(none)'} -> ${o.liveColor ?? '(none)'}`;
  if (['switched', 'unchanged', 'dry-run'].includes(o.status) || (bg.rollback && o.status === 'rolled-back')) {
    ctx.logger.info(line);
    return o;
  }
  throw new Error(`${line}: ${o.error ?? o.status}`);
}

export function createHelmDeploy(deps: HelmDeployDeps = {}): ActionModule {
  const clock = deps.clock ?? systemClock;
  return {
    async main(ctx: ActionContext) {
      const inp = parseInputs(ctx.inputs);
      const ext = deps.extension?.(ctx);
      // Whether an upgrade is left for the post step to recover (core.getState cannot read back
      // what this same step saved, so it is tracked here).
      let inflightLeft = false;
      const saveInflight = (json: string) => {
        inflightLeft = json !== '';
        ctx.saveState(STATE_INFLIGHT, json);
      };
      const session = await openHelmSession(ctx, { binary: inp.helm, kubeconfig: inp.kubeconfig, context: inp.kubeContext, run: deps.run });
      try {
        const valuesFiles = [...inp.upgrade.valuesFiles];
        if (Object.keys(inp.secretValues).length)
          valuesFiles.push(session.private.write('secret-values.yaml', stringify(inp.secretValues)));
        const upgrade = { ...inp.upgrade, valuesFiles, description: inp.upgrade.description ?? runDescription(ctx.env, 'helm-deploy') };
        const cluster =
          inp.strategy === 'blue-green' || ext?.needsCluster ? await (deps.createCluster ?? defaultCluster)(session.target) : undefined;
        if (inp.strategy === 'blue-green') {
          const o = await blueGreen(
            ctx,
            inp,
            upgrade,
            { helm: session.helm, cluster: cluster!, clock, logger: ctx.logger },
            session.target,
            saveInflight,
            ext,
          );
          if (ext?.watch && o.status === 'switched') {
            await ext.watch({ ...watchTarget(upgrade, inp), blueGreen: o }, { helm: session.helm, cluster, clock });
          }
          return;
        }
        const outcome = await deployRelease(
          {
            upgrade,
            rollbackOnFailure: inp.rollbackOnFailure,
            recoverPending: inp.recoverPending,
            compareContent: true,
            verify: ext?.verify
              ? () => ext.verify!({ namespace: upgrade.namespace, release: upgrade.release }, { cluster, clock })
              : undefined,
            signal: ctx.signal,
            // If the runner kills us mid-upgrade, the post step knows what to return to.
            onUpgradeStart: (previous) =>
              saveInflight(
                JSON.stringify({
                  release: upgrade.release,
                  namespace: upgrade.namespace,
                  target: session.target,
                  helm: inp.helm,
                  previous,
                  timeoutMs: upgrade.timeoutMs,
                } satisfies InflightState),
              ),
          },
          { helm: session.helm, logger: ctx.logger, clock },
        ).catch(explainHelmError);
        // A release this run could not return to a good state stays in the state: the post step
        // tries once more (a rollback cut short by a cancel often succeeds a few seconds later).
        if (outcome.status !== 'failed' && outcome.status !== 'unknown') saveInflight('');
        ctx.setOutput('status', outcome.status);
        ctx.setOutput('revision', outcome.revision);
        ctx.setOutput('previous-revision', outcome.previousRevision ?? '');
        ctx.setOutput('chart-version', outcome.chartVersion);
        ctx.setOutput('app-version', outcome.appVersion);
        ctx.setOutput('changed', outcome.changed);
        await ctx.summary(summaryMarkdown(outcome));
        const line =
          `${outcome.namespace}/${outcome.release}: ${outcome.status}, revision ${outcome.previousRevision ?? '(none)'} ` +
          `-> ${outcome.revision || '(none)'} in ${humanDuration(outcome.durationMs)}`;
        if (outcome.status === 'deployed' || outcome.status === 'dry-run') {
          ctx.logger.info(line);
          if (ext?.watch && outcome.status === 'deployed') {
            await ext.watch(
              { ...watchTarget(upgrade, inp), previousRevision: outcome.previousRevision },
              { helm: session.helm, cluster, clock },
            );
          }
          return;
        }
        throw new Error(`${line}: ${outcome.error}`);
      } finally {
        // A release left for the post step to recover keeps main's kubeconfig until then (the
        // post step removes the private directory whatever happens).
        if (inflightLeft) session.private.removeAllBut('kubeconfig');
        else session.close();
      }
    },

    async post(ctx: ActionContext) {
      try {
        const inflight = ctx.getState(STATE_INFLIGHT);
        if (inflight) {
          const s = JSON.parse(inflight) as InflightState;
          await recoverAfterCancel(await openPostHelm(ctx, s.helm, s.target, deps.run), s, ctx.logger);
        }
      } finally {
        removePrivateDir(ctx);
      }
    },
  };
}

export const helmDeploy = createHelmDeploy();
