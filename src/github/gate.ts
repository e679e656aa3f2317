import { closest } from '../core/closest.ts';
import { ConfigurationError } from '../core/errors.ts';
import type { GitHubApi } from './api.ts';
import { GitHubApiError } from './api.ts';

/**
 * The approval gate, checked for real. GitHub creates a missing environment, without reviewers,
 * the first time a job references it: a typo in the gated environment's name silently removes the
 * approval. So before anything is deployed for a promotion that needs approval, the environment
 * must exist and have required reviewers (or a custom deployment protection rule, an app that
 * decides). A check that cannot be made stops too: no verdict is not a verdict.
 */

export interface GateFacts {
  environment: string;
  reviewers: string[];
  /** Custom deployment protection rules (apps) enabled on the environment. */
  apps: string[];
}

interface EnvironmentBody {
  name: string;
  protection_rules?: {
    type: string;
    reviewers?: { type?: string; reviewer?: { login?: string; slug?: string; name?: string } }[];
  }[];
}

const SUBJECT = (env: string) => `approval environment "${env}"`;

export async function checkApprovalGate(
  api: GitHubApi,
  o: { owner: string; repo: string; environment: string; why: string },
): Promise<GateFacts> {
  const { owner, repo, environment } = o;
  const where = `${owner}/${repo}`;
  const uncheckable = (err: unknown) => {
    const e = err instanceof GitHubApiError ? err : undefined;
    const perm =
      e && (e.status === 401 || e.status === 403)
        ? 'give the job a token that may read environments (workflow permissions: actions: read), or pass github-token'
        : 'retry the job once the GitHub API answers';
    return new ConfigurationError(
      SUBJECT(environment),
      `could not be checked (${e?.message ?? String(err)}); ${o.why}, and an unchecked gate is no gate: nothing was deployed`,
      perm,
    );
  };
  let env: EnvironmentBody;
  try {
    env = (await api.octokit.rest.repos.getEnvironment({ owner, repo, environment_name: environment })).data as EnvironmentBody;
  } catch (err) {
    if (!(err instanceof GitHubApiError && err.status === 404)) throw uncheckable(err);
    let names: string[];
    try {
      // Every page: a repository can hold hundreds of environments (per-tenant records make them).
      const all = await api.octokit.paginate(api.octokit.rest.repos.getAllEnvironments, { owner, repo, per_page: 100 });
      names = (all as { name: string }[]).map((e) => e.name);
    } catch (err2) {
      throw uncheckable(err2);
    }
    const near = closest(environment, names);
    throw new ConfigurationError(
      SUBJECT(environment),
      `does not exist in ${where}: GitHub would create it without reviewers on first use, so ${o.why} would go unapproved; nothing was deployed`,
      near
        ? `did you mean "${near}"? Set the environment input to it`
        : `create it with required reviewers (Settings -> Environments -> New environment "${environment}") or fix the environment input`,
    );
  }
  const reviewers = (env.protection_rules ?? [])
    .filter((r) => r.type === 'required_reviewers')
    .flatMap((r) => r.reviewers ?? [])
    .map((r) => r.reviewer?.login ?? r.reviewer?.slug ?? r.reviewer?.name ?? r.type ?? 'reviewer');
  let apps: string[] = [];
  if (!reviewers.length) {
    try {
      const r = await api.octokit.rest.repos.getAllDeploymentProtectionRules({ owner, repo, environment_name: environment });
      const rules = (r.data as { custom_deployment_protection_rules?: { enabled?: boolean; app?: { slug?: string } }[] })
        .custom_deployment_protection_rules;
      apps = (rules ?? []).filter((x) => x.enabled !== false).map((x) => x.app?.slug ?? 'app');
    } catch (err) {
      throw uncheckable(err);
    }
  }
  if (!reviewers.length && !apps.length) {
    throw new ConfigurationError(
      SUBJECT(environment),
      `has no required reviewers and no deployment protection rule in ${where}, but ` +
        `${o.why}: the job would deploy without anyone approving; nothing was deployed`,
      `add required reviewers (Settings -> Environments -> ${environment} -> Required reviewers), or point the environment input at the gated environment`,
    );
  }
  return { environment, reviewers, apps };
}
