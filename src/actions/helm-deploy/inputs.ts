import { checkNamespace, checkRelease } from '../../core/names.ts';
import type { UpgradeOptions } from '../../helm/argv.ts';
import { parseHelmSettings, secretValues } from '../common/helm-inputs.ts';
import type { Inputs } from '../common/inputs.ts';
import { inputError } from '../../core/errors.ts';
import { isColor } from '../../bluegreen/index.ts';
import type { Color, OldColorAction } from '../../bluegreen/index.ts';

export interface BlueGreenInputs {
  service: string;
  colorLabel: string;
  initialColor?: Color;
  keepOldMs: number;
  checkIntervalMs: number;
  readyTimeoutMs: number;
  oldColor: OldColorAction;
  /** Switch the live Service back to a color instead of deploying. */
  rollback: boolean;
  /** The color to go back to (default: the one recorded as live before the last switch). */
  rollbackColor?: Color;
}

export interface HelmDeployInputs {
  strategy: 'rolling' | 'blue-green';
  blueGreen: BlueGreenInputs;
  upgrade: Omit<UpgradeOptions, 'description'> & { description?: string };
  secretValues: Record<string, unknown>;
  rollbackOnFailure: boolean;
  recoverPending: boolean;
  kubeconfig: string;
  kubeContext?: string;
  helm: string;
}

/** Reads and validates every helm-deploy input, before anything runs. */
export function parseInputs(inputs: Inputs): HelmDeployInputs {
  inputs = inputs.withDefaults('helm-deploy');
  const release = checkRelease('release', inputs.required('release', 'name the Helm release, e.g. platform-admin'));
  const namespace = checkNamespace('namespace', inputs.required('namespace', 'name the namespace of the release'));
  // A blue-green rollback only switches between colors already installed: it needs no chart.
  const rollback = inputs.bool('blue-green-rollback');
  const settings = parseHelmSettings(inputs, { chartOptional: rollback });
  const secretVals = secretValues('set-secret', inputs.lines('set-secret'), (v) => inputs.mask(v));
  const kubeconfig = inputs.string('kubeconfig'); /* masked whole and per credential by openCredentials */
  const upgrade = { release, namespace, ...settings, description: inputs.string('description') || undefined };
  const initialColor = inputs.string('initial-color');
  if (initialColor && !isColor(initialColor)) throw inputError('initial-color', initialColor, 'is not a color', 'use blue or green');
  const rollbackColor = inputs.string('blue-green-rollback-color');
  if (rollbackColor && !isColor(rollbackColor))
    throw inputError('blue-green-rollback-color', rollbackColor, 'is not a color', 'use blue or green');
  if (rollbackColor && !rollback)
    throw inputError(
      'blue-green-rollback-color',
      rollbackColor,
      'only applies to a rollback',
      'also set blue-green-rollback: true, or leave it empty to deploy',
    );
  const blueGreen: BlueGreenInputs = {
    service: inputs.string('service', release),
    colorLabel: inputs.string('color-label'),
    initialColor: initialColor ? (initialColor as Color) : undefined,
    keepOldMs: inputs.duration('keep-old'),
    checkIntervalMs: inputs.duration('check-interval'),
    readyTimeoutMs: inputs.duration('ready-timeout'),
    oldColor: inputs.oneOf('old-color', ['uninstall', 'keep']),
    rollback,
    rollbackColor: rollbackColor ? (rollbackColor as Color) : undefined,
  };
  checkNamespace('service', blueGreen.service);
  const strategy = inputs.oneOf('strategy', ['rolling', 'blue-green']);
  if (blueGreen.rollback && strategy !== 'blue-green')
    throw inputError(
      'blue-green-rollback',
      'true',
      'needs strategy: blue-green',
      'set strategy: blue-green, or use helm rollback for a rolling release',
    );
  return {
    strategy,
    blueGreen,
    upgrade,
    secretValues: secretVals,
    rollbackOnFailure: inputs.bool('rollback-on-failure'),
    recoverPending: inputs.bool('recover-pending'),
    kubeconfig,
    kubeContext: inputs.string('kube-context') || undefined,
    helm: inputs.string('helm'),
  };
}
