import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A local product double for the HTTP checks: the seeds' endpoints, and endpoints that fail in
 * each way a check must notice (wrong status, wrong body, slow, hanging, flaky, dropping the
 * connection). It records the requests and the peak number in flight.
 */
export class TestServer {
  readonly requests: { method: string; url: string; headers: IncomingMessage['headers'] }[] = [];
  private inflight = 0;
  peakInflight = 0;
  private readonly flaky = new Map<string, number>();
  private server!: Server;
  url = '';

  async start(): Promise<this> {
    this.server = createServer((req, res) => this.handle(req, res));
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server.close(() => r()));
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    this.requests.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers });
    this.inflight++;
    this.peakInflight = Math.max(this.peakInflight, this.inflight);
    let done = false;
    const finish = () => {
      if (!done) {
        done = true;
        this.inflight--;
      }
    };
    res.on('close', finish);
    const u = new URL(req.url ?? '/', 'http://x');
    const json = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    const text = (status: number, body: string, headers: Record<string, string> = {}) => {
      res.writeHead(status, { 'content-type': 'text/html', ...headers });
      res.end(body);
    };
    const tenant = /^\/tenants\/([^/]+)\/health$/.exec(u.pathname);
    if (tenant) return json(200, { status: 'ok', tenant: tenant[1] });
    switch (u.pathname) {
      case '/':
        return text(200, '<html><title>ISP Ops</title>Welcome, build v1.3.0</html>');
      case '/login':
        return text(302, '', { location: '/sso/authorize' });
      case '/sso/authorize':
        return text(200, 'Sign in with SSO');
      case '/api/health':
        return json(200, { status: 'ok', version: '1.3.0', items: [{ id: 1 }, { id: 2 }], db: { latencyMs: 3 } });
      case '/api/ready':
        return json(200, { ready: true });
      case '/api/down':
        return json(503, { status: 'down', ready: false });
      case '/api/empty':
        return json(200, { status: 'ok', items: [] });
      case '/not-json':
        return text(200, '<html>maintenance</html>');
      case '/echo':
        return json(200, { method: req.method, authorization: req.headers.authorization ?? null, tenant: req.headers['x-tenant'] ?? null });
      case '/slow': {
        const t = setTimeout(() => json(200, { status: 'ok' }), Number(u.searchParams.get('ms') ?? 300));
        res.on('close', () => clearTimeout(t));
        return;
      }
      case '/hang':
        return; // never answers; the client must time out
      case '/reset':
        req.socket.destroy();
        return;
      case '/flaky': {
        // Fails `fail` times per key, then answers 200.
        const key = u.searchParams.get('key') ?? '';
        const seen = this.flaky.get(key) ?? 0;
        this.flaky.set(key, seen + 1);
        return seen < Number(u.searchParams.get('fail') ?? 2) ? json(503, { status: 'starting' }) : json(200, { status: 'ok' });
      }
      case '/busy': {
        const t = setTimeout(() => json(200, { status: 'ok' }), 60);
        res.on('close', () => clearTimeout(t));
        return;
      }
      default:
        return json(404, { error: 'not found' });
    }
  }
}

/** A port nothing listens on (bound, then released). */
export async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as AddressInfo;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}
