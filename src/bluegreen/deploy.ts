/**
 * Blue-green deploys of one application: two Helm releases of the same chart, `<release>-blue`
 * and `<release>-green` (values `color=<color>`), and a live Service, owned by nobody but this
 * flow, whose selector's color key says which one serves.
 *
 *   read the live color from the Service -> deploy the idle color (deployRelease: rolled back or
 *   uninstalled on failure) -> verify it (readiness, then smoke through its own Service) ->
 *   switch the live selector (strategic merge, field manager deploy-actions) and re-read it ->
 *   keep the old color for a window, re-checking the new one; if it degrades, switch back ->
 *   uninstall or keep the old color.
 *
 * The selector is only ever switched to a color that was just checked to be serving.
 */
import type { Clock } from '../core/clock.ts';
import { ConfigurationError, errorMessage } from '../core/errors.ts';
import type { Logger } from '../core/logger.ts';
import type { KubeTarget, UpgradeOptions } from '../helm/argv.ts';
import { deployRelease } from '../helm/deploy.ts';
import type { DeployOutcome, VerifyResult } from '../helm/deploy.ts';
import type { Helm } from '../helm/helm.ts';
import { lastGoodRevision } from '../helm/history.ts';
import { returnToGood } from '../helm/recover.ts';
import type { ColorSwitch } from '../helm/recover.ts';
import type { Cluster } from '../kube/ports.ts';
import {
  COLORS,
  FIELD_MANAGER,
  checkColorReleases,
  colorRelease,
  describeWithFingerprint,
  fingerprintOf,
  formatSelector,
  isColor,
  otherColor,
  PREVIOUS_COLOR_ANNOTATION,
  readLiveService,
  servingProblems,
  versionFingerprint,
} from './colors.ts';
import type { Color } from './colors.ts';

export type BlueGreenCluster = Pick<Cluster, 'readService' | 'patchServiceSelector' | 'releaseHealth'>;

export interface BlueGreenPorts {
  helm: Helm;
  cluster: BlueGreenCluster;
  clock: Clock;
  logger: Logger;
}

/** One color, as the smoke hook sees it: checks go through the color's OWN Service, never the live one. */
export interface ColorTarget {
  color: Color;
  release: string;
  namespace: string;
  /** The color release's own Service (the example chart names it after the release). */
  service: string;
}

export type OldColorAction = 'uninstall' | 'keep';

interface Common {
  /** Live Service name (default: the release name). */
  service?: string;
  /** Selector key holding the color (default `color`). */
  colorLabel?: string;
  /** Field manager of the selector patch (default `deploy-actions`). */
  fieldManager?: string;
  /** Images that must run in ready pods of the color (the version being deployed). */
  expectedImages?: string[];
  /** How long a color may take to report healthy before it is judged (default 60 s; 0 = one look). */
  readyTimeoutMs?: number;
  /** Interval of health checks while waiting and during the keep window (default 10 s). */
  checkIntervalMs?: number;
  /** Smoke checks against the color through its own Service; a failure keeps the selector where it is. */
  smoke?: (target: ColorTarget) => Promise<VerifyResult>;
  signal?: AbortSignal;
}

export interface BlueGreenRequest extends Common {
  /** The deploy, as for a rolling helm-deploy; `release` is the base name (colors add `-blue`/`-green`). */
  upgrade: UpgradeOptions;
  /** Values key the chart reads the color from (default `color`), set with --set. */
  colorValue?: string;
  /** First deploy: the Service's selector has no color key yet; deploy this color and add the key. */
  initialColor?: Color;
  /** How long the old color stays after the switch while the new one is watched (0: no window). */
  keepOldMs: number;
  /** What happens to the old color after the window. */
  oldColor: OldColorAction;
  rollbackOnFailure?: boolean;
  recoverPending?: boolean;
  /** Identity of the version being deployed (default: versionFingerprint(upgrade)). */
  fingerprint?: string;
  /** Passed to deployRelease (cancel recovery state of the idle color release). */
  onUpgradeStart?: (release: string, previousRevision: number | undefined) => void;
}

export interface BlueGreenRollbackRequest extends Common, KubeTarget {
  /** Base release name (colors add `-blue`/`-green`). */
  release: string;
  /** The color to go back to (default: the one recorded as live before the last switch). */
  to?: Color;
}

export type BlueGreenStatus =
  | 'switched' // the new color serves (after the keep window, when there was one)
  | 'unchanged' // the live color already runs the requested version: nothing deployed or switched
  | 'dry-run'
  | 'idle-failed' // the idle color failed to deploy or verify: the selector was never touched
  | 'rolled-back' // switched, the new color degraded in the keep window, switched back (or: rollbackBlueGreen)
  | 'failed'; // could not reach a good state: needs a person (error says what is live)

export interface BlueGreenOutcome {
  status: BlueGreenStatus;
  release: string;
  namespace: string;
  service: string;
  /** The color the live Service routes to at the end (undefined: none, e.g. a failed first deploy). */
  liveColor?: Color;
  /** The color live before this run (undefined on the first deploy). */
  previousColor?: Color;
  /** Whether the live Service routes to a different color at the end than at the start. */
  switched: boolean;
  /** Last deployed revision of each color release at the end (absent: no such release). */
  revisions: { blue?: number; green?: number };
  /** The idle color's deploy, as deployRelease reported it. */
  deploy?: DeployOutcome;
  /** What became of the old color. */
  oldColor?: 'kept' | 'uninstalled' | 'uninstall-failed';
  error?: string;
  /** What happened, in order, one line each (also logged). */
  steps: string[];
  durationMs: number;
}

const DEFAULT_READY_TIMEOUT_MS = 60_000;
const DEFAULT_INTERVAL_MS = 10_000;

/** Polls a color's health until it serves or the timeout passes. */
async function waitServing(
  ports: BlueGreenPorts,
  namespace: string,
  release: string,
  o: { timeoutMs: number; intervalMs: number; expectedImages?: string[]; signal?: AbortSignal },
): Promise<VerifyResult> {
  const deadline = ports.clock.now() + o.timeoutMs;
  for (;;) {
    const h = await ports.cluster.releaseHealth(namespace, release, { expectedImages: o.expectedImages, signal: o.signal });
    const problems = servingProblems(h);
    if (problems.length === 0) return { ok: true };
    const left = deadline - ports.clock.now();
    if (left <= 0 || o.signal?.aborted) return { ok: false, reason: problems.join('; ') };
    await ports.clock.sleep(Math.min(o.intervalMs, left), o.signal);
  }
}

/** Readiness, then smoke checks through the color's own Service. */
async function verifyColor(ports: BlueGreenPorts, target: ColorTarget, req: Common, timeoutMs: number): Promise<VerifyResult> {
  const ready = await waitServing(ports, target.namespace, target.release, {
    timeoutMs,
    intervalMs: req.checkIntervalMs ?? DEFAULT_INTERVAL_MS,
    expectedImages: req.expectedImages,
    signal: req.signal,
  });
  if (!ready.ok) return { ok: false, reason: `not ready: ${ready.reason}` };
  if (!req.smoke) return { ok: true };
  const smoke = await req.smoke(target).catch((err: unknown): VerifyResult => ({ ok: false, reason: errorMessage(err) }));
  return smoke.ok
    ? smoke
    : {
        ok: false,
        reason: `smoke checks through Service ${target.namespace}/${target.service} failed: ${smoke.reason ?? 'no reason given'}`,
      };
}

async function colorRevisions(helm: Helm, release: string, t: KubeTarget): Promise<BlueGreenOutcome['revisions']> {
  const out: BlueGreenOutcome['revisions'] = {};
  for (const c of COLORS) {
    const good = lastGoodRevision(await helm.history(colorRelease(release, c), t).catch(() => []));
    if (good) out[c] = good.revision;
  }
  return out;
}

/** Switches the live selector's color key (and only it), then re-reads the Service to confirm. */
async function switchSelector(
  ports: BlueGreenPorts,
  o: { namespace: string; service: string; colorLabel: string; fieldManager: string },
  from: Color | undefined,
  to: Color,
  annotations?: Record<string, string | null>,
): Promise<void> {
  const current = await ports.cluster.readService(o.namespace, o.service);
  if (!current) throw new Error(`Service ${o.namespace}/${o.service} disappeared before the switch`);
  const now = current.selector[o.colorLabel];
  if (now !== from) {
    throw new Error(
      `the live color of Service ${o.namespace}/${o.service} changed during the run (expected ${from ?? '(none)'}, found ${now ?? '(none)'}); not switching`,
    );
  }
  await ports.cluster.patchServiceSelector(
    o.namespace,
    o.service,
    { ...current.selector, [o.colorLabel]: to },
    o.fieldManager,
    annotations,
  );
  const after = await ports.cluster.readService(o.namespace, o.service);
  const got = after?.selector[o.colorLabel];
  if (got !== to)
    throw new Error(`after the patch, Service ${o.namespace}/${o.service} selects ${o.colorLabel}=${got ?? '(none)'} instead of ${to}`);
}

/** The live Service a deploy or rollback switches, with the defaults both apply: named after the release, label "color". */
function liveServiceOptions(namespace: string, release: string, req: Common) {
  return {
    namespace,
    service: req.service ?? release,
    colorLabel: req.colorLabel ?? 'color',
    fieldManager: req.fieldManager ?? FIELD_MANAGER,
  };
}

export async function deployBlueGreen(req: BlueGreenRequest, ports: BlueGreenPorts): Promise<BlueGreenOutcome> {
  const { clock, logger, helm } = ports;
  const started = clock.now();
  const u = req.upgrade;
  const t: KubeTarget = { namespace: u.namespace };
  const svc = liveServiceOptions(u.namespace, u.release, req);
  const steps: string[] = [];
  const step = (m: string, level: 'info' | 'warning' = 'info') => {
    steps.push(m);
    logger[level](m);
  };

  checkColorReleases(u.release);
  const live = await readLiveService(ports.cluster, { ...svc, release: u.release }, logger);
  const from = live.color;
  if (!from && !req.initialColor) {
    throw new ConfigurationError(
      `Service ${svc.namespace}/${svc.service}`,
      `has no "${svc.colorLabel}" key in its selector (${formatSelector(live.service.selector)}), so the live color cannot be read`,
      `add "${svc.colorLabel}: blue" (or green: the color that serves now) to its selector, ` +
        'or, on the first deploy, set initial-color to deploy that color and let this run add the key',
    );
  }
  if (!from) await refuseBesideRolling(helm, u, t, svc);
  const idle: Color = from ? otherColor(from) : req.initialColor!;
  const idleRelease = colorRelease(u.release, idle);
  const target: ColorTarget = { color: idle, release: idleRelease, namespace: u.namespace, service: idleRelease };
  const fingerprint = req.fingerprint ?? versionFingerprint(u);

  const finish = async (
    o: Omit<BlueGreenOutcome, 'release' | 'namespace' | 'service' | 'revisions' | 'steps' | 'durationMs' | 'previousColor'>,
  ): Promise<BlueGreenOutcome> => ({
    release: u.release,
    namespace: u.namespace,
    service: svc.service,
    previousColor: from,
    ...o,
    revisions: await colorRevisions(helm, u.release, t),
    steps,
    durationMs: clock.now() - started,
  });

  step(
    from
      ? `Service ${svc.namespace}/${svc.service} routes to ${from} (${svc.colorLabel}=${from}); deploying the idle color ${idle} as release ${idleRelease}`
      : `Service ${svc.namespace}/${svc.service} has no "${svc.colorLabel}" key yet (first deploy); deploying ${idle} as release ${idleRelease}`,
  );

  // Both colors on the same version: a switch would gain nothing and overwrite the rollback target.
  if (from) {
    const liveRelease = colorRelease(u.release, from);
    const history = await helm.history(liveRelease, t);
    const good = lastGoodRevision(history);
    if (good && fingerprintOf(history, good.revision) === fingerprint) {
      step(
        `${from} (${liveRelease} revision ${good.revision}) already runs this version (fingerprint ${fingerprint}): ` +
          `nothing to deploy or switch; ${idle} left as it is`,
      );
      return finish({ status: 'unchanged', liveColor: from, switched: false });
    }
  }

  const deploy = await deployRelease(
    {
      upgrade: {
        ...u,
        release: idleRelease,
        set: [...u.set, `${req.colorValue ?? 'color'}=${idle}`],
        description: describeWithFingerprint(u.description, fingerprint),
      },
      rollbackOnFailure: req.rollbackOnFailure ?? true,
      recoverPending: req.recoverPending ?? false,
      compareContent: false,
      verify: () => verifyColor(ports, target, req, req.readyTimeoutMs ?? DEFAULT_READY_TIMEOUT_MS),
      onUpgradeStart: (prev) => req.onUpgradeStart?.(idleRelease, prev),
      signal: req.signal,
    },
    { helm, logger, clock },
  );
  if (deploy.status === 'dry-run') {
    step(`dry run of ${idleRelease}: nothing deployed, selector not switched`);
    return finish({ status: 'dry-run', liveColor: from, switched: false, deploy });
  }
  if (deploy.status !== 'deployed') {
    const where = {
      'rolled-back': `rolled back to revision ${deploy.previousRevision}`,
      uninstalled: 'uninstalled (it never deployed)',
      failed: 'left failed',
      unknown: `in a state that could not be read (look: ${deploy.lookCommand})`,
      unchanged: '',
      'dry-run': '',
      deployed: '',
    }[deploy.status];
    step(
      `${idle} (${idleRelease}) failed: ${deploy.error}; ${idleRelease} ${where}; the selector was not switched${from ? `, ${from} still serves` : ''}`,
      'warning',
    );
    return finish({
      status: 'idle-failed',
      liveColor: from,
      switched: false,
      deploy,
      error: `${idle} (${idleRelease}) failed and never received traffic: ${deploy.error}`,
    });
  }
  step(
    `${idleRelease} revision ${deploy.revision} deployed and verified (chart ${deploy.chartVersion || '?'}, app ${deploy.appVersion || '?'})`,
  );

  if (req.signal?.aborted) {
    step(
      `cancelled before the switch: ${idleRelease} is deployed but receives no traffic${from ? `, ${from} still serves` : ''}`,
      'warning',
    );
    return finish({ status: 'idle-failed', liveColor: from, switched: false, deploy, error: 'cancelled before the selector switch' });
  }

  // The switch.
  try {
    await switchSelector(ports, svc, from, idle, { [PREVIOUS_COLOR_ANNOTATION]: from ?? null });
  } catch (err) {
    const now = (await ports.cluster.readService(svc.namespace, svc.service).catch(() => undefined))?.selector[svc.colorLabel];
    const liveNow = now === 'blue' || now === 'green' ? now : undefined;
    step(`switching ${svc.namespace}/${svc.service} to ${idle} failed: ${errorMessage(err)}`, 'warning');
    return finish({
      status: 'failed',
      liveColor: liveNow,
      switched: liveNow !== from,
      deploy,
      error: `selector switch to ${idle} failed: ${errorMessage(err)} (live color now: ${liveNow ?? 'none'})`,
    });
  }
  step(`switched Service ${svc.namespace}/${svc.service}: ${svc.colorLabel} ${from ?? '(none)'} -> ${idle}`);
  if (!from) return finish({ status: 'switched', liveColor: idle, switched: true, deploy });

  // Keep the old color while watching the new one.
  const oldRelease = colorRelease(u.release, from);
  const interval = Math.max(1, req.checkIntervalMs ?? DEFAULT_INTERVAL_MS);
  const windowEnd = clock.now() + req.keepOldMs;
  let checks = 0;
  while (clock.now() < windowEnd && !req.signal?.aborted) {
    await clock.sleep(Math.min(interval, windowEnd - clock.now()), req.signal);
    if (req.signal?.aborted) break;
    let problems: string[];
    try {
      problems = servingProblems(
        await ports.cluster.releaseHealth(u.namespace, idleRelease, { expectedImages: req.expectedImages, signal: req.signal }),
      );
    } catch (err) {
      // An API blip is not a verdict on the new color: never switch on it.
      logger.warning(`health check of ${idleRelease} failed (${errorMessage(err)}); not a verdict, checking again`);
      continue;
    }
    checks++;
    if (problems.length === 0) continue;

    const after = clock.now() - (windowEnd - req.keepOldMs);
    const why = `${idle} degraded ${Math.round(after / 1000)}s after the switch: ${problems.join('; ')}`;
    step(why, 'warning');
    // Back to the color this run switched away from, by the one policy (never to one that does not serve).
    const back = await returnToGood(
      helm,
      { release: u.release, namespace: u.namespace, colors: colorSwitch(ports, svc, u.release), to: from, why },
      logger,
    );
    if (back.action !== 'switched') {
      const error = 'error' in back ? `${back.subject}: ${back.error}` : `${back.live} already serves`;
      step(`not switching back to ${from}: ${error}; the selector stays on ${idle}`, 'warning');
      return finish({
        status: 'failed',
        liveColor: idle,
        switched: true,
        deploy,
        oldColor: 'kept',
        error: `${why}; not switching back to ${from}: ${error}; needs a person`,
      });
    }
    step(`switched Service ${svc.namespace}/${svc.service} back: ${svc.colorLabel} ${idle} -> ${from}; ${idleRelease} kept for inspection`);
    return finish({ status: 'rolled-back', liveColor: from, switched: false, deploy, oldColor: 'kept', error: why });
  }

  if (req.signal?.aborted) {
    step(`cancelled during the keep window: ${idle} serves, ${from} (${oldRelease}) kept`, 'warning');
    return finish({ status: 'switched', liveColor: idle, switched: true, deploy, oldColor: 'kept' });
  }
  if (req.keepOldMs > 0)
    step(
      `${idle} stayed healthy for the keep window (${checks} check${checks === 1 ? '' : 's'} over ${Math.round(req.keepOldMs / 1000)}s)`,
    );

  if (req.oldColor === 'keep') {
    step(`${from} (${oldRelease}) kept: rollback is a selector switch away`);
    return finish({ status: 'switched', liveColor: idle, switched: true, deploy, oldColor: 'kept' });
  }
  try {
    await helm.uninstall(oldRelease, { ...t, wait: u.wait, timeoutMs: u.timeoutMs, signal: req.signal });
    step(`uninstalled ${from} (${oldRelease})`);
    return finish({ status: 'switched', liveColor: idle, switched: true, deploy, oldColor: 'uninstalled' });
  } catch (err) {
    step(`could not uninstall ${from} (${oldRelease}): ${errorMessage(err)}; ${idle} serves, remove ${oldRelease} by hand`, 'warning');
    return finish({ status: 'switched', liveColor: idle, switched: true, deploy, oldColor: 'uninstall-failed' });
  }
}

/**
 * The live Service and the two color releases as `returnToGood` sees them: the live color and
 * the one recorded as live before the last deploy's switch, whether a color can serve
 * (readiness, then the smoke checks when given), and the selector switch (which keeps the record).
 */
function colorSwitch(
  ports: BlueGreenPorts,
  svc: { namespace: string; service: string; colorLabel: string; fieldManager: string },
  release: string,
  verify?: (target: ColorTarget) => Promise<VerifyResult>,
): ColorSwitch {
  const t: KubeTarget = { namespace: svc.namespace };
  return {
    service: `${svc.namespace}/${svc.service}`,
    switchCommand: (to) =>
      `kubectl -n ${svc.namespace} patch service ${svc.service} --type merge -p '{"spec":{"selector":{"${svc.colorLabel}":"${to}"}}}'`,
    async read() {
      const live = await readLiveService(ports.cluster, { ...svc, release }, ports.logger);
      const recorded = live.service.annotations[PREVIOUS_COLOR_ANNOTATION];
      return { live: live.color, recorded: isColor(recorded) ? recorded : undefined };
    },
    async problems(color) {
      const target = { color, release: colorRelease(release, color), namespace: svc.namespace, service: colorRelease(release, color) };
      const good = lastGoodRevision(await ports.helm.history(target.release, t));
      if (!good) return 'absent';
      if (!verify) return servingProblems(await ports.cluster.releaseHealth(svc.namespace, target.release));
      const v = await verify(target);
      return v.ok ? [] : [`revision ${good.revision} ${v.reason ?? 'does not serve'}`];
    },
    switchTo: (from, to) => switchSelector(ports, svc, from, to),
  };
}

/**
 * Returns the live Service to a color by the one policy (`returnToGood`, blue-green form): to
 * `req.to` when given, else to the color that was live before the last switch. A second run
 * finds that color live and does nothing. No chart is needed: both colors are already there.
 * Refusals are ConfigurationErrors: nothing was changed.
 */
export async function rollbackBlueGreen(req: BlueGreenRollbackRequest, ports: BlueGreenPorts): Promise<BlueGreenOutcome> {
  const { clock, logger, helm } = ports;
  const started = clock.now();
  const t: KubeTarget = { namespace: req.namespace };
  const svc = liveServiceOptions(req.namespace, req.release, req);
  const steps: string[] = [];
  checkColorReleases(req.release);
  const subject = `Service ${svc.namespace}/${svc.service}`;
  // A Service that cannot be a blue-green live Service is an input error, before any policy.
  const live = await readLiveService(ports.cluster, { ...svc, release: req.release }, logger);
  if (!live.color) {
    throw new ConfigurationError(
      subject,
      `has no "${svc.colorLabel}" key in its selector (${formatSelector(live.service.selector)}), so there is no live color to roll back from`,
      `check the "service" and "color-label" inputs`,
    );
  }
  const verify = (target: ColorTarget) => verifyColor(ports, target, req, req.readyTimeoutMs ?? 0);
  const back = await returnToGood(
    helm,
    {
      release: req.release,
      namespace: req.namespace,
      colors: colorSwitch(ports, svc, req.release, verify),
      to: req.to,
      why: `rollback requested${req.to ? ` to ${req.to}` : ' to the color live before the last switch'}`,
    },
    logger,
  );
  if (back.action !== 'none' && back.action !== 'switched') {
    if (back.action !== 'refused') throw new Error(`blue-green rollback of ${subject} ${back.action}: ${back.error}`);
    throw new ConfigurationError(
      back.subject,
      back.error,
      back.to
        ? `fix or redeploy ${back.to} first (the live color is never switched to one that does not serve), then run: ${back.command}`
        : `name the color to go back to with blue-green-rollback-color (blue or green), or switch it yourself: ${back.command}`,
    );
  }
  const to = back.live;
  const revisions = await colorRevisions(helm, req.release, t);
  const line =
    back.action === 'none'
      ? `${subject} already routes to ${to} (${colorRelease(req.release, to)} revision ${revisions[to] ?? '?'}): nothing to switch`
      : `switched ${subject}: ${svc.colorLabel} ${back.from} -> ${to} (${colorRelease(req.release, to)} revision ${revisions[to] ?? '?'})`;
  steps.push(line);
  return {
    status: back.action === 'none' ? 'unchanged' : 'rolled-back',
    release: req.release,
    namespace: req.namespace,
    service: svc.service,
    liveColor: to,
    previousColor: back.action === 'none' ? to : back.from,
    switched: back.action === 'switched',
    revisions,
    steps,
    durationMs: clock.now() - started,
  };
}

/**
 * A first blue-green deploy beside a release that runs today as ONE rolling release of the same
 * name would install a second copy of the application next to it (two sets of controllers, cron
 * jobs and migrations against one database). Stop, and say how to migrate.
 */
async function refuseBesideRolling(
  helm: Helm,
  u: UpgradeOptions,
  t: KubeTarget,
  svc: { namespace: string; service: string; colorLabel: string },
): Promise<void> {
  const history = await helm.history(u.release, t);
  const live = lastGoodRevision(history);
  if (!live) return;
  const ns = u.namespace;
  const blue = colorRelease(u.release, 'blue');
  throw new ConfigurationError(
    `release ${ns}/${u.release}`,
    `runs today as one rolling release (revision ${live.revision}, ${live.chart}, ${live.status}) ` +
      `and Service ${ns}/${svc.service} has no "${svc.colorLabel}" key: ` +
      `a blue-green deploy would install ${blue} beside it, a second copy of the application. Nothing was deployed`,
    [
      'to stay rolling, set strategy: rolling (release.yml: platform-strategy: rolling); to migrate to blue-green, once, in a quiet moment:',
      `1) keep the live Service when the rolling release goes: kubectl -n ${ns} annotate service ${svc.service} helm.sh/resource-policy=keep`,
      `2) install today's version as the blue color, not yet serving: ` +
        `helm upgrade --install ${blue} <chart> --version <the version running now> -n ${ns} -f <its values> --set color=blue, ` +
        `and check it through its own Service ${blue}`,
      `3) switch the traffic: kubectl -n ${ns} patch service ${svc.service} --type merge -p '{"spec":{"selector":{"${svc.colorLabel}":"blue"}}}' ` +
        "(the selector must also match only the color releases' pods)",
      `4) after a watch, remove the rolling copy: helm uninstall ${u.release} -n ${ns}`,
      '5) run the release again: it reads blue as live and deploys green',
    ].join(' '),
  );
}
