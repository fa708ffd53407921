// The HTTP endpoints: GET /metrics (Prometheus text), /healthz (alive), /readyz (attached and polling).
// /metrics serves a body serialized once per collection, so the cost of a scrape does not grow with the number
// of scrapers; the gzip form is made at most once per collection, on the first scrape that asks for it.
import http from 'node:http';
import { performance } from 'node:perf_hooks';
import { gzipSync } from 'node:zlib';

export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

export interface Readiness {
  ready: boolean;
  /** Why not, for the /readyz body. */
  reason: string;
}

export interface MetricsServerOptions {
  host: string;
  port: number;
  readiness: () => Readiness;
  /** Called with the seconds each /metrics response took to serve. */
  onScrape?: (seconds: number) => void;
}

export class MetricsServer {
  readonly #options: MetricsServerOptions;
  readonly #server: http.Server;
  #body: Buffer = Buffer.alloc(0);
  #gzipped: Buffer | undefined;
  #scrapes = 0;

  constructor(options: MetricsServerOptions) {
    this.#options = options;
    this.#server = http.createServer((req, res) => this.#handle(req, res));
    this.#server.keepAliveTimeout = 65_000;
  }

  /** Replaces the /metrics body (called after every collection): the text, or its UTF-8 bytes (kept as given). */
  update(body: string | Buffer): void {
    this.#body = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
    this.#gzipped = undefined;
  }

  get scrapes(): number {
    return this.#scrapes;
  }

  /** Listens, or rejects with a sentence a user can act on. */
  listen(): Promise<{ host: string; port: number }> {
    const { host, port } = this.#options;
    return new Promise((resolve, reject) => {
      const onError = (error: NodeJS.ErrnoException): void => {
        this.#server.off('listening', onListening);
        if (error.code === 'EADDRINUSE') {
          reject(
            new Error(`port ${port} on ${host} is already in use: stop the other process or choose another --port`, {
              cause: error,
            }),
          );
        } else if (error.code === 'EACCES') {
          reject(
            new Error(`not allowed to listen on ${host}:${port}: use a port above 1023 or grant CAP_NET_BIND_SERVICE`, {
              cause: error,
            }),
          );
        } else if (error.code === 'EADDRNOTAVAIL' || error.code === 'ENOTFOUND' || error.code === 'EAI_AGAIN') {
          reject(new Error(`cannot listen on ${host}: no such local address (check --host)`, { cause: error }));
        } else {
          reject(new Error(`cannot listen on ${host}:${port}: ${error.message}`, { cause: error }));
        }
      };
      const onListening = (): void => {
        this.#server.off('error', onError);
        const address = this.#server.address();
        resolve(
          typeof address === 'object' && address !== null
            ? { host: address.address, port: address.port }
            : { host, port },
        );
      };
      this.#server.once('error', onError);
      this.#server.once('listening', onListening);
      this.#server.listen(port, host);
    });
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.#server.close(() => resolve());
      this.#server.closeAllConnections();
    });
  }

  #handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const url = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { Allow: 'GET, HEAD', 'Content-Type': 'text/plain' }).end('method not allowed\n');
      return;
    }
    switch (url) {
      case '/metrics':
        this.#metrics(req, res);
        return;
      case '/healthz':
        res.writeHead(200, { 'Content-Type': 'text/plain' }).end(req.method === 'HEAD' ? undefined : 'ok\n');
        return;
      case '/readyz': {
        const { ready, reason } = this.#options.readiness();
        res.writeHead(ready ? 200 : 503, { 'Content-Type': 'text/plain' });
        res.end(req.method === 'HEAD' ? undefined : `${ready ? 'ready' : `not ready: ${reason}`}\n`);
        return;
      }
      case '/':
        res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
        res.end(
          '<html><body><h1>ebpf-otel-agent</h1><p><a href="/metrics">/metrics</a> · <a href="/healthz">/healthz</a> · <a href="/readyz">/readyz</a></p></body></html>\n',
        );
        return;
      default:
        res.writeHead(404, { 'Content-Type': 'text/plain' }).end('not found\n');
    }
  }

  #metrics(req: http.IncomingMessage, res: http.ServerResponse): void {
    this.#scrapes++;
    const started = performance.now();
    // Until the whole body is handed to the socket: what a scrape costs the agent.
    res.once('finish', () => this.#options.onScrape?.((performance.now() - started) / 1000));
    const gzip = acceptsGzip(req.headers['accept-encoding']);
    let body = this.#body;
    const headers: http.OutgoingHttpHeaders = { 'Content-Type': PROMETHEUS_CONTENT_TYPE, Vary: 'Accept-Encoding' };
    if (gzip) {
      this.#gzipped ??= gzipSync(this.#body, { level: 1 });
      body = this.#gzipped;
      headers['Content-Encoding'] = 'gzip';
    }
    headers['Content-Length'] = body.length;
    res.writeHead(200, headers);
    res.end(req.method === 'HEAD' ? undefined : body);
  }
}

/** Whether an Accept-Encoding header allows gzip: an explicit gzip (or x-gzip) entry decides, else `*`; q=0 refuses. */
export function acceptsGzip(header: string | string[] | undefined): boolean {
  const value = Array.isArray(header) ? header.join(',') : (header ?? '');
  let gzip: number | undefined;
  let star: number | undefined;
  for (const part of value.split(',')) {
    const [coding = '', ...params] = part
      .trim()
      .split(';')
      .map((p) => p.trim());
    const q = params.find((p) => /^q=/i.test(p));
    const weight = q === undefined ? 1 : Number(q.slice(2));
    const name = coding.toLowerCase();
    if (name === 'gzip' || name === 'x-gzip') gzip = Math.max(gzip ?? 0, weight);
    else if (name === '*') star = weight;
  }
  return (gzip ?? star ?? 0) > 0;
}
