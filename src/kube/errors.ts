/**
 * Errors from the Kubernetes API as one clear line: the API server's own Status message when it
 * sent one (`namespaces is forbidden: User "..." cannot list resource "namespaces" ...`), or what
 * went wrong reaching it. Never the request headers (client-node's ApiException message carries
 * the response headers; the bearer token is never echoed, but nothing here relies on that).
 */
import { ApiException } from '@kubernetes/client-node';

export class KubeApiError extends Error {
  override readonly name = 'KubeApiError';
  /** HTTP status, when the server answered. */
  readonly code?: number;
  /** The Status reason (`Forbidden`, `NotFound`, `Conflict`...), when the server sent one. */
  readonly reason?: string;
  /** Why the failure was transient (`429`, `503`, `reset`...), when it was: set by request.ts, which still sees the cause. */
  transient?: string;
  constructor(message: string, code?: number, reason?: string) {
    super(message);
    this.code = code;
    this.reason = reason;
  }
}

interface StatusBody {
  kind?: string;
  message?: string;
  reason?: string;
  code?: number;
}

function parseStatus(body: unknown): StatusBody | undefined {
  if (typeof body === 'string') {
    try {
      return parseStatus(JSON.parse(body));
    } catch {
      return undefined;
    }
  }
  if (body && typeof body === 'object' && 'kind' in body && (body as StatusBody).kind === 'Status') return body as StatusBody;
  return undefined;
}

/** The innermost cause of a failed fetch: `connect ECONNREFUSED 127.0.0.1:1`, `getaddrinfo ENOTFOUND x`. */
function networkCause(e: unknown): string | undefined {
  let cur: unknown = e;
  let found: string | undefined;
  for (let i = 0; i < 8 && cur && typeof cur === 'object'; i++) {
    const err = cur as { message?: string; code?: string; cause?: unknown; errors?: unknown[] };
    if (err.code && typeof err.code === 'string' && /^E[A-Z]+/.test(err.code)) found = err.message || err.code;
    if (Array.isArray(err.errors) && err.errors.length > 0) cur = err.errors[0];
    else cur = err.cause;
  }
  if (found) return found;
  if (e instanceof TypeError && /fetch failed/i.test(e.message)) return e.message;
  return undefined;
}

export function isForbidden(e: unknown): boolean {
  return (e instanceof KubeApiError && e.code === 403) || (e instanceof ApiException && e.code === 403);
}

export function isNotFound(e: unknown): boolean {
  return (e instanceof KubeApiError && e.code === 404) || (e instanceof ApiException && e.code === 404);
}

/**
 * Maps anything a client-node call threw to a KubeApiError with a message a user can act on.
 * `secrets` (the kubeconfig token, password) are masked out of whatever text is kept.
 */
export function toKubeError(e: unknown, server: string, secrets: readonly string[] = []): Error {
  const mask = (s: string) => secrets.filter((x) => x.length >= 4).reduce((acc, x) => acc.split(x).join('***'), s);
  if (e instanceof KubeApiError) return e;
  if (e instanceof ApiException) {
    const code = e.code as number;
    const st = parseStatus(e.body);
    if (code === 401) {
      return new KubeApiError(
        `the Kubernetes API at ${server} rejected the credentials (401 Unauthorized): check the kubeconfig user (token expired or wrong cluster?)`,
        401,
        'Unauthorized',
      );
    }
    const text = st?.message ?? (typeof e.body === 'string' && e.body.trim() ? e.body.trim().slice(0, 300) : `HTTP ${code}`);
    return new KubeApiError(mask(text), code, st?.reason);
  }
  if (e instanceof Error && e.name === 'AbortError') return e;
  if (e instanceof Error && e.name === 'TimeoutError')
    return new KubeApiError(`the Kubernetes API at ${server} did not answer in time (${e.message})`);
  const cause = networkCause(e);
  if (cause) return new KubeApiError(`cannot reach the Kubernetes API at ${server}: ${mask(cause)}`);
  return e instanceof Error ? new KubeApiError(mask(e.message)) : new KubeApiError(mask(String(e)));
}
