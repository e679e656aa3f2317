import { analyze } from '../../analysis/analyze.ts';
import { rollbackBlueGreen } from '../../bluegreen/index.ts';
import { returnToGood } from '../../helm/recover.ts';
import { checkDeployedRelease } from '../../verify/release-check.ts';
import { fetchHttp } from '../../core/http.ts';
import { openPrometheus } from '../common/analysis-inputs.ts';
import type { ActionContext, ActionModule } from '../common/context.ts';
import { createHelmDeploy } from '../helm-deploy/main.ts';
import type { DeployExtension } from '../helm-deploy/main.ts';
import { expandSmokeUrl, parseExtra } from './inputs.ts';

/**
 * The root action (`uses: dotmac/deploy-actions@v1`): one release end to end for a product with a
 * single deployment. helm-deploy (rolling or blue-green), then the smoke checks against what was
 * deployed (a failure rolls it back), then a watch window analysed like auto-rollback (a breach
 * rolls it back to the revision recorded before the deploy, or switches the color back).
 */
function extension(ctx: ActionContext): DeployExtension {
  const x = parseExtra(ctx.inputs);
  return {
    needsCluster: x.verifyWorkloads || x.watchMs > 0,
    async verify(t, { cluster, clock }) {
      // Blue-green switches live traffic on this check: with no URL it is readiness only.
      if (t.color && !x.smokeUrl)
        ctx.logger.warning(
          `blue-green with no smoke-url: color ${t.color} is checked for readiness only before the switch; ` +
            'set smoke-url to its own address (e.g. http://{{ service }}.{{ namespace }}.svc) to smoke-test it first',
        );
      const url = x.smokeUrl
        ? expandSmokeUrl(x.smokeUrl, { release: t.release, namespace: t.namespace, color: t.color, service: t.service ?? t.release })
        : '';
      const res = await checkDeployedRelease(
        { name: t.release, namespace: t.namespace, release: t.release },
        { workloads: x.verifyWorkloads && !t.color, url, checks: x.smokeChecks, deadlineMs: 120_000, signal: ctx.signal },
        { cluster, clock, http: fetchHttp },
      );
      if (res.smoke) ctx.setOutput('smoke', res.smoke);
      return { ok: res.ok, reason: res.reason };
    },
    async watch(d, { helm, cluster, clock }) {
      if (x.watchMs <= 0) return;
      const target = {
        id: d.release,
        slug: d.release,
        namespace: d.namespace,
        release: d.blueGreen?.liveColor ? `${d.release}-${d.blueGreen.liveColor}` : d.release,
      };
      const prometheus = openPrometheus(x, fetchHttp);
      const result = await analyze(
        [target],
        x.metrics,
        { clock, logger: ctx.logger, prometheus, cluster, http: fetchHttp },
        { durationMs: x.watchMs, intervalMs: x.watchIntervalMs, signal: ctx.signal },
      );
      const verdict = result.targets[0];
      ctx.setOutput('verdict', result.verdict);
      await ctx.summary(
        `### watch: ${result.verdict}\n\n${verdict?.metrics.map((m) => `- ${m.metric} (\`${m.query}\`): ${m.phase}, ${m.reason}`).join('\n') ?? ''}\n`,
      );
      if (result.verdict !== 'failed') {
        if (result.verdict === 'inconclusive') ctx.logger.warning(`watch: inconclusive (${verdict?.reason}): not rolled back`);
        ctx.setOutput('rolled-back', false);
        return;
      }
      const why = verdict?.reason ?? 'a metric breached';
      if (d.blueGreen) {
        // Back to the color this run switched away from, through the one "return to a good state"
        // (blue-green form): never to a color that is gone or does not serve.
        const back = await rollbackBlueGreen(
          {
            release: d.release,
            namespace: d.namespace,
            service: d.blueGreen.service,
            colorLabel: d.colorLabel,
            to: d.blueGreen.previousColor,
            signal: ctx.signal,
          },
          { helm, cluster: cluster!, clock, logger: ctx.logger },
        );
        ctx.setOutput('rolled-back', back.status === 'rolled-back');
        ctx.setOutput('live-color', back.liveColor ?? '');
        throw new Error(`watch: ${why}; switched the live Service back to ${back.liveColor ?? '(none)'} (${back.status})`);
      }
      const back = await returnToGood(
        helm,
        {
          release: d.release,
          namespace: d.namespace,
          before: d.previousRevision,
          why: `watch: ${why}`,
          wait: 'ready',
          timeoutMs: d.timeoutMs,
          signal: ctx.signal,
        },
        ctx.logger,
        { clock },
      );
      if (back.action === 'uninstalled') {
        ctx.setOutput('rolled-back', true);
        throw new Error(`watch: ${why}; the release had no earlier revision and was uninstalled`);
      }
      if (back.action === 'rolled-back') {
        ctx.setOutput('rolled-back', true);
        ctx.setOutput('revision', back.revision);
        ctx.setOutput('status', 'rolled-back');
        throw new Error(`watch: ${why}; rolled back to revision ${back.to}`);
      }
      ctx.setOutput('rolled-back', false);
      const problem =
        'error' in back ? `${back.error}; run: ${back.command}` : `the release is ${back.action === 'absent' ? 'gone' : 'unchanged'}`;
      throw new Error(`watch: ${why}; not returned to a good state: ${problem}`);
    },
  };
}

export const root: ActionModule = createHelmDeploy({ extension });
