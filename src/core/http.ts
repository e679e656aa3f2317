/** The HTTP port of the checks (and of the Prometheus client): one request, one response. */
export interface HttpRequest {
  url: string;
  method: string;
  headers: Record<string, string>;
  body?: string;
  /** `manual`: a 3xx is the answer (like `curl` without `-L`). */
  redirect: 'follow' | 'manual';
  signal?: AbortSignal;
}

export interface HttpResponse {
  status: number;
  headers: Record<string, string>;
  /** The body as text, cut at `MAX_BODY` bytes. */
  body: string;
}

export interface Http {
  request(req: HttpRequest): Promise<HttpResponse>;
}

/** A body larger than this is cut: checks look at health endpoints, not downloads. */
export const MAX_BODY = 1024 * 1024;

/** Why a request failed, in one line ("connect ECONNREFUSED 127.0.0.1:9", "getaddrinfo ENOTFOUND x"). */
export function networkErrorMessage(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const cause = (err as Error & { cause?: unknown }).cause;
  if (cause instanceof Error) {
    // AggregateError (happy eyeballs) carries one error per address.
    const inner = (cause as Error & { errors?: unknown[] }).errors;
    if (Array.isArray(inner) && inner[0] instanceof Error) return inner[0].message;
    return cause.message;
  }
  return err.message;
}

/** The Http port over Node's global fetch (undici). */
export const fetchHttp: Http = {
  async request(req) {
    let res: Response;
    try {
      res = await fetch(req.url, { method: req.method, headers: req.headers, body: req.body, redirect: req.redirect, signal: req.signal });
    } catch (err) {
      if (req.signal?.aborted) throw req.signal.reason instanceof Error ? req.signal.reason : new Error('aborted');
      throw new Error(networkErrorMessage(err));
    }
    const headers: Record<string, string> = {};
    res.headers.forEach((v, k) => {
      headers[k] = v;
    });
    const chunks: Uint8Array[] = [];
    let size = 0;
    if (res.body) {
      const reader = res.body.getReader();
      try {
        for (;;) {
          const { done, value } = await reader.read();
          if (done) break;
          chunks.push(value);
          size += value.byteLength;
          if (size >= MAX_BODY) {
            await reader.cancel();
            break;
          }
        }
      } catch (err) {
        if (req.signal?.aborted) throw req.signal.reason instanceof Error ? req.signal.reason : new Error('aborted');
        throw new Error(`reading the response failed: ${networkErrorMessage(err)}`);
      }
    }
    const body = Buffer.concat(chunks).subarray(0, MAX_BODY).toString('utf8');
    return { status: res.status, headers, body };
  },
};
