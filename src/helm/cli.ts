import { createHash } from 'node:crypto';
import type { Logger } from '../core/logger.ts';
import type { CommandRunner } from '../core/process.ts';
import type { Secrets } from '../core/secrets.ts';
import { clusterTarget } from '../core/cluster-target.ts';
import type { ClusterTarget } from '../core/cluster-target.ts';
import { getManifestArgv, getValuesArgv, historyArgv, listAllArgv, rollbackArgv, uninstallArgv, upgradeArgv, versionArgv } from './argv.ts';
import type { KubeTarget, UpgradeOptions } from './argv.ts';
import { HelmError } from './helm.ts';
import type { Helm, ListedRelease, OpOptions, ReleaseResult } from './helm.ts';
import { parseHistory } from './history.ts';
import type { Revision } from './history.ts';
import { parseHelmVersion } from './version.ts';
import type { HelmVersion } from './version.ts';

export interface HelmCliOptions {
  /** The helm binary: a name on PATH or a path. */
  binary: string;
  run: CommandRunner;
  secrets: Secrets;
  logger: Logger;
  /** Environment for helm (HELM_* settings); never includes our own secrets. */
  env: NodeJS.ProcessEnv;
  /**
   * The cluster every command goes to: its kubeconfig becomes helm's KUBECONFIG, its context
   * `--kube-context` on every command line. Default: the ambient kubeconfig and its context.
   */
  target?: ClusterTarget;
}

export function digestOf(manifest: string, values: unknown): string {
  return createHash('sha256')
    .update(manifest.trim())
    .update('\0')
    .update(JSON.stringify(values ?? {}))
    .digest('hex');
}

/** Helm's own error line ("Error: UPGRADE FAILED: ...") without the noise around it. */
function errorLine(stderr: string): string {
  const lines = stderr
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
  const err = lines.filter((l) => l.startsWith('Error:')).at(-1);
  return (err ?? lines.at(-1) ?? 'helm failed with no output').replace(/^Error:\s*/, '');
}

export class HelmCli implements Helm {
  readonly target: ClusterTarget;
  private readonly env: NodeJS.ProcessEnv;
  private constructor(
    private readonly o: HelmCliOptions,
    readonly version: HelmVersion,
  ) {
    this.target = o.target ?? clusterTarget({});
    this.env = this.target.kubeconfigPath ? { ...o.env, KUBECONFIG: this.target.kubeconfigPath } : o.env;
  }

  /** The same helm (version detected once) bound to another cluster. */
  forTarget(target: ClusterTarget): HelmCli {
    return new HelmCli({ ...this.o, target }, this.version);
  }

  /** Detects the helm version once; every later command line is built for it. */
  static async create(o: HelmCliOptions): Promise<HelmCli> {
    let out;
    try {
      const env = o.target?.kubeconfigPath ? { ...o.env, KUBECONFIG: o.target.kubeconfigPath } : o.env;
      out = await o.run(o.binary, versionArgv, { env });
    } catch (err) {
      throw new HelmError(`cannot run helm "${o.binary}": ${(err as Error).message}`, 'helm version', '');
    }
    if (out.exitCode !== 0)
      throw new HelmError(`"${o.binary} version" failed: ${errorLine(o.secrets.redact(out.stderr))}`, 'helm version', out.stderr);
    return new HelmCli(o, parseHelmVersion(out.stdout));
  }

  private async helm(args: string[], signal?: AbortSignal): Promise<string> {
    const shown = `helm ${args.slice(0, 2).join(' ')}`;
    this.o.logger.debug(this.o.secrets.redact(`${this.o.binary} ${args.join(' ')}`));
    const r = await this.o.run(this.o.binary, args, { env: this.env, signal, killAfterMs: 5000 });
    if (r.exitCode !== 0 || r.aborted) {
      const stderr = this.o.secrets.redact(r.stderr);
      throw new HelmError(r.aborted ? `${shown} was interrupted: ${errorLine(stderr)}` : errorLine(stderr), shown, stderr, r.aborted);
    }
    return r.stdout;
  }

  async history(release: string, t: KubeTarget): Promise<Revision[]> {
    try {
      return parseHistory(await this.helm(historyArgv(release, t, this.target.context)));
    } catch (err) {
      if (err instanceof HelmError && /release: not found/.test(err.output)) return [];
      throw err;
    }
  }

  async upgrade(o: UpgradeOptions, signal?: AbortSignal): Promise<ReleaseResult> {
    const out = await this.helm(upgradeArgv(o, this.version, this.target.context), signal);
    // The JSON release holds the rendered manifest and user values (possibly secret): digest it,
    // keep nothing else of it.
    const rel = JSON.parse(out) as {
      version: number;
      info: { status: string };
      chart: { metadata: { version: string; appVersion?: string } };
      config?: unknown;
      manifest?: string;
    };
    return {
      revision: rel.version,
      status: rel.info.status,
      chartVersion: rel.chart.metadata.version,
      appVersion: rel.chart.metadata.appVersion ?? '',
      contentDigest: digestOf(rel.manifest ?? '', rel.config),
    };
  }

  async rollback(release: string, revision: number, o: OpOptions): Promise<void> {
    await this.helm(rollbackArgv(release, revision, o, this.version, this.target.context), o.signal);
  }

  async uninstall(release: string, o: OpOptions): Promise<void> {
    await this.helm(uninstallArgv(release, o, this.version, this.target.context), o.signal);
  }

  async listAll(): Promise<ListedRelease[]> {
    const page = 1000;
    const out: ListedRelease[] = [];
    for (let offset = 0; ; offset += page) {
      const text = (await this.helm(listAllArgv(offset, page, this.version, this.target.context))).trim();
      const rows = (text ? JSON.parse(text) : []) as ListedRelease[];
      out.push(...rows);
      if (rows.length < page) return out;
    }
  }

  async contentDigest(release: string, revision: number, t: KubeTarget): Promise<string> {
    const [manifest, values] = await Promise.all([
      this.helm(getManifestArgv(release, revision, t, this.target.context)),
      this.helm(getValuesArgv(release, revision, t, this.target.context)),
    ]);
    return digestOf(manifest, JSON.parse(values || 'null'));
  }
}
