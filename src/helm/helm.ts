import type { Revision } from './history.ts';
import type { UpgradeOptions, KubeTarget, WaitMode } from './argv.ts';
import type { HelmVersion } from './version.ts';

/** What an upgrade produced, from `helm upgrade -o json`. */
export interface ReleaseResult {
  revision: number;
  status: string;
  chartVersion: string;
  appVersion: string;
  /** sha256 of the rendered manifest + user values: equal digests mean nothing changed. */
  contentDigest: string;
}

/** A helm command failed; `message` is helm's own error line, redacted. */
export class HelmError extends Error {
  override readonly name = 'HelmError';
  constructor(
    message: string,
    readonly command: string,
    readonly output: string,
    readonly aborted = false,
  ) {
    super(message);
  }
  /** Helm's "another operation (install/upgrade/rollback) is in progress". */
  get releaseLocked(): boolean {
    return /another operation .* is in progress/.test(this.output);
  }
  get timedOut(): boolean {
    return /context deadline exceeded|timed out waiting/.test(this.output);
  }
  get unreachable(): boolean {
    return /Kubernetes cluster unreachable|connection refused|no such host|dial tcp|i\/o timeout/.test(this.output);
  }
}

export interface OpOptions extends KubeTarget {
  wait: WaitMode;
  timeoutMs: number;
  signal?: AbortSignal;
}

/** One line of `helm list -o json`. */
export interface ListedRelease {
  name: string;
  namespace: string;
  revision: string;
  status: string;
  chart: string;
  app_version: string;
}

/** The Helm port, in the domain's words. `HelmCli` implements it over the helm binary. */
export interface Helm {
  readonly version: HelmVersion;
  /** Revisions oldest first; empty when the release does not exist. */
  history(release: string, t: KubeTarget): Promise<Revision[]>;
  upgrade(o: UpgradeOptions, signal?: AbortSignal): Promise<ReleaseResult>;
  rollback(release: string, revision: number, o: OpOptions): Promise<void>;
  uninstall(release: string, o: OpOptions): Promise<void>;
  /** Every release in every namespace, in one helm call per 1,000 releases (what the fleet runs now). */
  listAll(kubeContext?: string): Promise<ListedRelease[]>;
  /** Digest of a stored revision's manifest + user values, comparable with ReleaseResult.contentDigest. */
  contentDigest(release: string, revision: number, t: KubeTarget): Promise<string>;
}
