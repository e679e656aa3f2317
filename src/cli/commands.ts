import { ACTION_METADATA } from '../actions/metadata.ts';
import type { InputMetadata } from '../actions/metadata.ts';

/**
 * The CLI's subcommands. Each runs one action (tenant-rollout for the fleet commands) with some
 * inputs fixed (the phase), and accepts as flags exactly the action inputs that make sense for it:
 * a flag that is not one of them is refused, never ignored (a typo must not deploy).
 */

export interface Command {
  name: string;
  summary: string;
  action: string;
  /** Inputs the command sets itself (not flags). */
  fixed: Record<string, string>;
  /** Action inputs accepted as flags, in help order. */
  flags: string[];
  /** Changes the cluster: asks first on a terminal, needs --yes otherwise. */
  mutating: boolean;
  example?: string;
}

const TENANTS = ['tenants-file', 'tenants', 'selector', 'namespace-prefix', 'release-name', 'include', 'exclude'];
const CLUSTER = ['kubeconfig', 'kube-context', 'helm'];
const FLEET = ['fleet', 'fleet-namespace'];
const PLANNING = ['pilot', 'batch-size', 'plan', 'release-version', 'maintenance-window', 'tenant-values-files'];
// GitHub side (issue 14): the gate check and the notifications a plan sends.
const GITHUB = ['github-token', 'approval-environment', 'gate', 'notify', 'notify-events', 'notify-signing-key'];
const EXECUTION = ['max-parallel', 'max-failures', 'timeout', 'wait', 'dry-run', 'report-file'];

const rolloutInputs = Object.keys(ACTION_METADATA['tenant-rollout']!.inputs);
// The fleet operations' own inputs: not flags of a rollout.
const OPERATION_ONLY = new Set(['reason', 'rollback-report']);

export const COMMANDS: Command[] = [
  {
    name: 'plan',
    summary: 'Plan a rollout (pilot + waves) and print it; changes nothing.',
    action: 'tenant-rollout',
    fixed: { phase: 'plan' },
    flags: [...TENANTS, ...PLANNING, ...GITHUB, 'fleet', ...CLUSTER],
    mutating: false,
    example: 'deploy-actions plan --tenants-file tenants.yaml --pilot 2 --batch-size 25%',
  },
  {
    name: 'rollout',
    summary: 'Deploy a chart version to the fleet: pilot, then waves, verifying and rolling back failures.',
    action: 'tenant-rollout',
    fixed: {},
    flags: rolloutInputs.filter((n) => !OPERATION_ONLY.has(n)),
    mutating: true,
    example: 'deploy-actions rollout --chart oci://registry.example.com/charts/app --chart-version 1.3.0 --set image.tag=v1.3.0',
  },
  {
    name: 'status',
    summary: 'What every tenant runs now (release, revision, helm status, versions, the rollout that put it there, health).',
    action: 'tenant-rollout',
    fixed: { phase: 'status' },
    flags: [...TENANTS, ...FLEET, 'verify-workloads', 'report-file', ...CLUSTER],
    mutating: false,
    example: 'deploy-actions status --fleet prod',
  },
  {
    name: 'rollback',
    summary: 'Return tenants to an earlier revision: those a run changed (--rollback-report) or the selected ones.',
    action: 'tenant-rollout',
    fixed: { phase: 'rollback' },
    flags: ['rollback-report', ...TENANTS, ...FLEET, 'batch-size', ...EXECUTION, 'verify-workloads', ...CLUSTER],
    mutating: true,
    example: 'deploy-actions rollback --rollback-report /tmp/tenant-rollout-report-x/report.json --fleet prod',
  },
  {
    name: 'pause',
    summary: 'Pause the fleet: running rollouts finish the tenants in flight, start no new one and report paused.',
    action: 'tenant-rollout',
    fixed: { phase: 'pause' },
    flags: [...FLEET, 'reason', 'kubeconfig', 'kube-context'],
    mutating: true,
    example: 'deploy-actions pause --fleet prod --reason "5xx on v1.3.0"',
  },
  {
    name: 'resume',
    summary: 'Lift a pause of the fleet.',
    action: 'tenant-rollout',
    fixed: { phase: 'resume' },
    flags: [...FLEET, 'kubeconfig', 'kube-context'],
    mutating: true,
    example: 'deploy-actions resume --fleet prod',
  },
  // Each action by name, with all of its inputs.
  ...Object.entries(ACTION_METADATA).map(([name, meta]) => ({
    name,
    summary: meta.description,
    action: name,
    fixed: {},
    flags: Object.keys(meta.inputs),
    mutating: name !== 'smoke-test',
  })),
];

export function findCommand(name: string): Command | undefined {
  return COMMANDS.find((c) => c.name === name);
}

export function inputMetadata(c: Command, flag: string): InputMetadata {
  return ACTION_METADATA[c.action]!.inputs[flag]!;
}

/** Flags of the CLI itself, on every command. */
export const CLI_FLAGS: Record<string, { description: string; short?: string; mutatingOnly?: boolean }> = {
  help: { description: 'Show this help.', short: 'h' },
  json: { description: 'Print the report (or the outputs) as JSON on stdout.' },
  markdown: { description: 'Print the job summary (Markdown) on stdout.' },
  yes: { description: 'Do not ask before changing the cluster (required when stdin is not a terminal).', short: 'y', mutatingOnly: true },
};

/** Inputs that hold many lines: a repeated flag adds a line (--set a=1 --set b=2). */
export function multiLine(c: Command, flag: string): boolean {
  return /\blines\b|one per line|newlines/i.test(inputMetadata(c, flag).description);
}
