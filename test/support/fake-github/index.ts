/**
 * A local GitHub REST API for the calls deploy-actions makes, in GitHub's wire format, so the
 * REAL Octokit (@actions/github) is tested against it: paths and methods, JSON bodies, `Link`
 * pagination, `x-ratelimit-*` headers on every answer (a budget that runs down; 403 when spent),
 * token auth, and faults on demand (a 403 secondary rate limit with retry-after, 5xx, an answer
 * that never comes). Shaped on docs.github.com/rest (deployments, environments, rate limit).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FakeEnvironment {
  name: string;
  reviewers?: string[];
  waitTimer?: number;
  /** Custom deployment protection rule apps (their slugs). */
  apps?: string[];
}

export interface RecordedRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  body?: Record<string, unknown>;
  status: number;
}

export interface Deployment {
  id: number;
  environment: string;
  ref: string;
  description: string;
  payload: unknown;
  statuses: { state: string; description?: string; environment_url?: string; log_url?: string }[];
}

export type Fault = { status: number; headers?: Record<string, string>; message?: string } | { hang: true };

export interface FakeGitHubOptions {
  token?: string;
  owner?: string;
  repo?: string;
  limit?: number;
  remaining?: number;
  environments?: FakeEnvironment[];
}

const STATES = new Set(['error', 'failure', 'inactive', 'in_progress', 'queued', 'pending', 'success']);

export class FakeGitHub {
  readonly requests: RecordedRequest[] = [];
  readonly deployments: Deployment[] = [];
  environments: FakeEnvironment[];
  limit: number;
  remaining: number;
  readonly reset = Math.floor(Date.now() / 1000) + 3600;
  /** Consulted before each request (the free GET /rate_limit included); a fault answers instead. */
  fault?: (r: { method: string; path: string; n: number; body?: Record<string, unknown> }, gh: FakeGitHub) => Fault | undefined;
  url = '';
  private server!: Server;
  private nextId = 1000;
  private hanging: ServerResponse[] = [];
  readonly token: string;
  readonly owner: string;
  readonly repo: string;

  constructor(o: FakeGitHubOptions = {}) {
    this.token = o.token ?? 'ghs_faketoken1234567890';
    this.owner = o.owner ?? 'acme';
    this.repo = o.repo ?? 'fleet';
    this.limit = o.limit ?? 1000;
    this.remaining = o.remaining ?? this.limit;
    this.environments = o.environments ?? [];
  }

  async start(): Promise<this> {
    this.server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  async close(): Promise<void> {
    for (const r of this.hanging) r.destroy();
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server.close(() => r()));
  }

  /** The env a runner gives an action for this repository and this API. */
  env(): Record<string, string> {
    return {
      GITHUB_API_URL: this.url,
      GITHUB_SERVER_URL: 'https://github.example',
      GITHUB_REPOSITORY: `${this.owner}/${this.repo}`,
      GITHUB_RUN_ID: '4242',
      GITHUB_RUN_ATTEMPT: '1',
      GITHUB_SHA: 'a1b2c3d4e5f60718293a4b5c6d7e8f9012345678',
    };
  }

  /** Each deployment as "environment: state, state, ..." in creation order. */
  timeline(): string[] {
    // Records are written concurrently: sorted by environment, each with its statuses in order.
    return this.deployments.map((d) => `${d.environment}: ${d.statuses.map((s) => s.state).join(' -> ')}`).sort();
  }

  private rateHeaders(): Record<string, string> {
    return {
      'x-ratelimit-limit': String(this.limit),
      'x-ratelimit-remaining': String(this.remaining),
      'x-ratelimit-reset': String(this.reset),
      'x-ratelimit-used': String(this.limit - this.remaining),
      'x-ratelimit-resource': 'core',
    };
  }

  private send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
    const text = body === undefined ? '' : JSON.stringify(body);
    res.writeHead(status, {
      'content-type': 'application/json; charset=utf-8',
      'x-github-api-version-selected': '2022-11-28',
      'x-github-request-id': `FAKE:${this.requests.length}`,
      ...this.rateHeaders(),
      ...headers,
    });
    res.end(text);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const u = new URL(req.url!, 'http://x');
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks).toString();
    let body: Record<string, unknown> | undefined;
    try {
      body = raw ? (JSON.parse(raw) as Record<string, unknown>) : undefined;
    } catch {
      return this.send(res, 400, { message: 'Problems parsing JSON' });
    }
    const rec: RecordedRequest = { method: req.method!, path: u.pathname, query: u.searchParams, body, status: 0 };
    this.requests.push(rec);
    const answer = (status: number, b: unknown, h?: Record<string, string>) => {
      rec.status = status;
      this.send(res, status, b, h);
    };
    const f = this.fault?.({ method: rec.method, path: rec.path, n: this.requests.length, body }, this);
    if (f && 'hang' in f) {
      rec.status = -1;
      this.hanging.push(res);
      return;
    }
    if (f) return answer(f.status, { message: f.message ?? 'Server Error' }, f.headers);
    if (req.headers.authorization !== `token ${this.token}`)
      return answer(401, { message: 'Bad credentials', documentation_url: 'https://docs.github.com/rest' });
    if (u.pathname === '/rate_limit' && req.method === 'GET') {
      const core = { limit: this.limit, remaining: this.remaining, reset: this.reset, used: this.limit - this.remaining };
      return answer(200, { resources: { core }, rate: core });
    }
    if (this.remaining <= 0)
      return answer(403, {
        message: `API rate limit exceeded for installation ID 1.`,
        documentation_url: 'https://docs.github.com/rest/overview/rate-limits-for-the-rest-api',
      });
    this.remaining--;
    const base = `/repos/${this.owner}/${this.repo}`;
    if (!u.pathname.startsWith(`${base}/`)) return answer(404, { message: 'Not Found' });
    const rest = u.pathname.slice(base.length);
    let m: RegExpExecArray | null;
    if (rest === '/deployments' && req.method === 'POST') {
      if (typeof body?.ref !== 'string' || !body.ref) return answer(422, { message: 'Invalid request.\n\n"ref" wasn\'t supplied.' });
      if (!Array.isArray(body.required_contexts)) return answer(409, { message: 'Conflict: Commit status checks failed for main.' });
      const d: Deployment = {
        id: this.nextId++,
        environment: String(body.environment ?? 'production'),
        ref: body.ref,
        description: String(body.description ?? ''),
        payload: body.payload,
        statuses: [],
      };
      if (d.description.length > 140) return answer(422, { message: 'description is too long (maximum is 140 characters)' });
      this.deployments.push(d);
      return answer(201, {
        id: d.id,
        node_id: `DE_${d.id}`,
        url: `${this.url}${base}/deployments/${d.id}`,
        sha: d.ref,
        ref: d.ref,
        task: body.task ?? 'deploy',
        environment: d.environment,
        description: d.description,
        payload: d.payload,
        created_at: new Date().toISOString(),
      });
    }
    if ((m = /^\/deployments\/(\d+)\/statuses$/.exec(rest)) && req.method === 'POST') {
      const d = this.deployments.find((x) => x.id === Number(m![1]));
      if (!d) return answer(404, { message: 'Not Found' });
      const state = String(body?.state ?? '');
      if (!STATES.has(state)) return answer(422, { message: `Validation Failed: state ${state} is not included in the list` });
      if (typeof body?.description === 'string' && body.description.length > 140)
        return answer(422, { message: 'description is too long (maximum is 140 characters)' });
      d.statuses.push({
        state,
        description: body?.description as string,
        environment_url: body?.environment_url as string,
        log_url: body?.log_url as string,
      });
      // auto_inactive: a success makes earlier successful deployments of the environment inactive.
      if (state === 'success' && body?.auto_inactive !== false)
        for (const o of this.deployments)
          if (o !== d && o.environment === d.environment && o.statuses.at(-1)?.state === 'success') o.statuses.push({ state: 'inactive' });
      return answer(201, {
        id: this.nextId++,
        state,
        description: body?.description ?? '',
        environment: d.environment,
        log_url: body?.log_url ?? '',
      });
    }
    if (rest === '/environments' && req.method === 'GET') {
      const per = Math.min(100, Number(u.searchParams.get('per_page') ?? 30));
      const page = Number(u.searchParams.get('page') ?? 1);
      const pages = Math.max(1, Math.ceil(this.environments.length / per));
      const slice = this.environments.slice((page - 1) * per, page * per);
      const link = (p: number, rel: string) => `<${this.url}${base}/environments?per_page=${per}&page=${p}>; rel="${rel}"`;
      const links = [];
      if (page < pages) links.push(link(page + 1, 'next'), link(pages, 'last'));
      if (page > 1) links.push(link(1, 'first'), link(page - 1, 'prev'));
      return answer(
        200,
        { total_count: this.environments.length, environments: slice.map((e) => this.envBody(e)) },
        links.length ? { link: links.join(', ') } : {},
      );
    }
    if ((m = /^\/environments\/([^/]+)\/deployment_protection_rules$/.exec(rest)) && req.method === 'GET') {
      const e = this.environments.find((x) => x.name === decodeURIComponent(m![1]!));
      if (!e) return answer(404, { message: 'Not Found' });
      const rules = (e.apps ?? []).map((slug, i) => ({
        id: i + 1,
        node_id: `GA_${i}`,
        enabled: true,
        app: { id: i + 1, slug, integration_url: '', node_id: '' },
      }));
      return answer(200, { total_count: rules.length, custom_deployment_protection_rules: rules });
    }
    if ((m = /^\/environments\/([^/]+)$/.exec(rest)) && req.method === 'GET') {
      const e = this.environments.find((x) => x.name === decodeURIComponent(m![1]!));
      if (!e)
        return answer(404, {
          message: 'Not Found',
          documentation_url: 'https://docs.github.com/rest/deployments/environments#get-an-environment',
        });
      return answer(200, this.envBody(e));
    }
    return answer(404, { message: 'Not Found' });
  }

  private envBody(e: FakeEnvironment) {
    const rules: unknown[] = [];
    if (e.waitTimer) rules.push({ id: 1, node_id: 'GA_w', type: 'wait_timer', wait_timer: e.waitTimer });
    if (e.reviewers?.length)
      rules.push({
        id: 2,
        node_id: 'GA_r',
        type: 'required_reviewers',
        prevent_self_review: false,
        reviewers: e.reviewers.map((login, i) => ({ type: 'User', reviewer: { login, id: i + 1, type: 'User' } })),
      });
    rules.push({ id: 3, node_id: 'GA_b', type: 'branch_policy' });
    return {
      id: 1,
      node_id: 'EN_1',
      name: e.name,
      url: `${this.url}/repos/${this.owner}/${this.repo}/environments/${encodeURIComponent(e.name)}`,
      html_url: `https://github.example/${this.owner}/${this.repo}/deployments/activity_log?environments_filter=${encodeURIComponent(e.name)}`,
      created_at: '2026-01-01T00:00:00Z',
      updated_at: '2026-01-01T00:00:00Z',
      can_admins_bypass: true,
      protection_rules: rules,
      deployment_branch_policy: null,
    };
  }
}

export async function startFakeGitHub(o: FakeGitHubOptions = {}): Promise<FakeGitHub> {
  return new FakeGitHub(o).start();
}
