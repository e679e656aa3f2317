import type { Revision } from './history.ts';
import type { UpgradeOptions, KubeTarget, WaitMode } from './argv.ts';
import type { HelmVersion } from './version.ts';
import type { ClusterTarget } from '../core/cluster-target.ts';

/** What an upgrade produced, from `helm upgrade -o json`. */
export interface ReleaseResult {
  revision: number;
  status: string;
  chartVersion: string;
  appVersion: string;
  /** sha256 of the rendered manifest + user values: equal digests mean nothing changed. */
  contentDigest: string;
}

/**
 * Which helm failures are the API server or the network having a bad moment rather than a real
 * problem with the release. helm prints client-go's words for them and exits 1 like for any other
 * failure, so they can only be matched as text (what helm 3.17 and 4.1 print for each was found by
 * running them against the fake with injected faults; test/helm/transient.test.ts keeps it true).
 *
 * A transient failure says nothing about whether helm wrote a revision before it happened: only
 * the release history can tell, so callers re-read it before retrying anything (see deploy.ts).
 */
const TRANSIENT: readonly RegExp[] = [
  /kubernetes cluster unreachable/i, // helm 3 capitalises it, helm 4 does not
  /connection refused/i,
  /connection reset/i,
  /broken pipe/i,
  /unexpected EOF/i,
  /http2: (?:server sent GOAWAY|client connection lost)/i,
  /use of closed network connection/i,
  /i\/o timeout/i,
  /TLS handshake timeout/i,
  /net\/http: (?:request canceled|timeout awaiting response headers)/i,
  /the server is currently unable to handle the request/i, // 503
  /too many requests/i, // 429 (API Priority and Fairness)
  /the server has received too many requests/i, // 429, newer client-go wording
  /Internal error occurred/i, // 500
  /the server was unable to return a response in the time allotted/i, // 504
  /Timeout: request did not complete within requested timeout/i, // 504 from the apiserver's own timeout filter
  // helm 4's --wait (kstatus) when its watch of a resource kept failing: the status could not be
  // observed at all (a crash loop is InProgress or Failed, never Unknown). No verdict, not a failure.
  /not ready\. status: Unknown/,
  // client-go's schema download for validation failed (it falls back from /openapi/v3 to v2 on an
  // error, and the fallback's 404 is what helm prints): the API, not the chart.
  /failed to download openapi/i,
  /an error on the server .* has prevented the request from succeeding/i, // 502 and other 5xx
  /Gateway Timeout|Bad Gateway|Service Unavailable/i,
  /the server rejected our request for an unknown reason/i,
  /stream error: stream ID \d+; INTERNAL_ERROR/i,
];

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
  /** helm 4 writes "kubernetes cluster unreachable" in lower case; the hint must follow both. */
  get unreachable(): boolean {
    return /kubernetes cluster unreachable|connection refused|no such host|dial tcp|i\/o timeout/i.test(this.output);
  }
  /** The API or the network failed, not the release: worth retrying once history proves nothing was written. */
  get transient(): boolean {
    return !this.aborted && TRANSIENT.some((re) => re.test(`${this.message}\n${this.output}`));
  }
  /**
   * helm's final error line itself is the API's or the network's. Stricter than `transient`:
   * for a failure after helm wrote a revision, where no history check can tell a blip from a
   * real failure whose output merely mentions the requests client-go retried on the way.
   */
  get transientError(): boolean {
    return !this.aborted && TRANSIENT.some((re) => re.test(this.message));
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
  /** The one cluster every call of this helm goes to (bound at creation, never per call). */
  readonly target?: ClusterTarget;
  /** Revisions oldest first; empty when the release does not exist. */
  history(release: string, t: KubeTarget): Promise<Revision[]>;
  upgrade(o: UpgradeOptions, signal?: AbortSignal): Promise<ReleaseResult>;
  rollback(release: string, revision: number, o: OpOptions): Promise<void>;
  uninstall(release: string, o: OpOptions): Promise<void>;
  /** Every release in every namespace, in one helm call per 1,000 releases (what the fleet runs now). */
  listAll(): Promise<ListedRelease[]>;
  /** Digest of a stored revision's manifest + user values, comparable with ReleaseResult.contentDigest. */
  contentDigest(release: string, revision: number, t: KubeTarget): Promise<string>;
}
