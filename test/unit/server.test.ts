// MetricsServer (src/export/server.ts) on 127.0.0.1, a free port each time.
import http from 'node:http';
import net from 'node:net';
import { gunzipSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { acceptsGzip, MetricsServer, PROMETHEUS_CONTENT_TYPE, type Readiness } from '../../src/export/server.ts';

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

function request(
  port: number,
  options: { path: string; method?: string; headers?: http.OutgoingHttpHeaders },
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        path: options.path,
        method: options.method ?? 'GET',
        headers: options.headers,
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end();
  });
}

const BODY = [
  '# HELP ebpf_syscalls_total System calls made, by process and syscall.',
  '# TYPE ebpf_syscalls_total counter',
  'ebpf_syscalls_total{process_pid="100",process_executable_name="cürl",syscall="read"} 3',
  '',
].join('\n');

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function start(
  readiness: () => Readiness = () => ({ ready: true, reason: '' }),
): Promise<{ server: MetricsServer; port: number }> {
  const server = new MetricsServer({ host: '127.0.0.1', port: 0, readiness });
  cleanups.push(() => server.close());
  const address = await server.listen();
  expect(address.host).toBe('127.0.0.1');
  expect(address.port).toBeGreaterThan(0);
  return { server, port: address.port };
}

describe('MetricsServer /metrics', () => {
  it('serves the last update() as Prometheus text 0.0.4', async () => {
    const { server, port } = await start();
    server.update('first 1\n');
    server.update(BODY);
    const reply = await request(port, { path: '/metrics' });
    expect(reply.status).toBe(200);
    expect(reply.headers['content-type']).toBe('text/plain; version=0.0.4; charset=utf-8');
    expect(PROMETHEUS_CONTENT_TYPE).toBe('text/plain; version=0.0.4; charset=utf-8');
    expect(reply.headers['content-encoding']).toBeUndefined();
    expect(reply.headers['content-length']).toBe(String(Buffer.byteLength(BODY)));
    expect(reply.body.toString('utf8')).toBe(BODY);
    expect(server.scrapes).toBe(1);
  });

  it('serves an empty body before the first update', async () => {
    const { port } = await start();
    const reply = await request(port, { path: '/metrics' });
    expect(reply.status).toBe(200);
    expect(reply.body.length).toBe(0);
  });

  it('ignores a query string', async () => {
    const { server, port } = await start();
    server.update(BODY);
    expect((await request(port, { path: '/metrics?name[]=x' })).body.toString('utf8')).toBe(BODY);
  });

  it('gzips when asked, and the gzip follows update()', async () => {
    const { server, port } = await start();
    server.update(BODY);
    const reply = await request(port, { path: '/metrics', headers: { 'Accept-Encoding': 'gzip, deflate' } });
    expect(reply.status).toBe(200);
    expect(reply.headers['content-encoding']).toBe('gzip');
    expect(reply.headers['content-type']).toBe(PROMETHEUS_CONTENT_TYPE);
    expect(reply.headers['vary']).toBe('Accept-Encoding');
    expect(reply.headers['content-length']).toBe(String(reply.body.length));
    expect([reply.body[0], reply.body[1]]).toEqual([0x1f, 0x8b]);
    expect(gunzipSync(reply.body).toString('utf8')).toBe(BODY);

    const next = `${BODY}ebpf_agent_polls_total 2\n`;
    server.update(next);
    const again = await request(port, { path: '/metrics', headers: { 'Accept-Encoding': 'gzip' } });
    expect(gunzipSync(again.body).toString('utf8')).toBe(next);
    const plain = await request(port, { path: '/metrics', headers: { 'Accept-Encoding': 'identity' } });
    expect(plain.headers['content-encoding']).toBeUndefined();
    expect(plain.body.toString('utf8')).toBe(next);
    expect(server.scrapes).toBe(3);
  });

  it('serves the identity body when gzip is refused with q=0', async () => {
    const { server, port } = await start();
    server.update(BODY);
    for (const acceptEncoding of ['gzip;q=0', 'GZIP; q=0, identity', '*;q=0']) {
      const reply = await request(port, { path: '/metrics', headers: { 'Accept-Encoding': acceptEncoding } });
      expect(reply.status).toBe(200);
      expect(reply.headers['content-encoding']).toBeUndefined();
      expect(reply.headers['content-type']).toBe(PROMETHEUS_CONTENT_TYPE);
      expect(reply.headers['vary']).toBe('Accept-Encoding');
      expect(reply.headers['content-length']).toBe(String(Buffer.byteLength(BODY)));
      expect(reply.body.toString('utf8')).toBe(BODY);
    }
    const gzipped = await request(port, { path: '/metrics', headers: { 'Accept-Encoding': 'GZIP;q=0.5' } });
    expect(gzipped.headers['content-encoding']).toBe('gzip');
    expect(gunzipSync(gzipped.body).toString('utf8')).toBe(BODY);
    expect(server.scrapes).toBe(4);
  });

  it('answers HEAD with the headers and no body', async () => {
    const { server, port } = await start();
    server.update(BODY);
    const reply = await request(port, { path: '/metrics', method: 'HEAD' });
    expect(reply.status).toBe(200);
    expect(reply.headers['content-length']).toBe(String(Buffer.byteLength(BODY)));
    expect(reply.body.length).toBe(0);
  });
});

describe('MetricsServer health and errors', () => {
  it('answers /healthz with 200', async () => {
    const { port } = await start(() => ({ ready: false, reason: 'irrelevant' }));
    const reply = await request(port, { path: '/healthz' });
    expect(reply.status).toBe(200);
    expect(reply.body.toString()).toBe('ok\n');
  });

  it('answers /readyz from the readiness function, with its reason', async () => {
    let readiness: Readiness = { ready: false, reason: 'not attached: xdp' };
    const { port } = await start(() => readiness);
    const notReady = await request(port, { path: '/readyz' });
    expect(notReady.status).toBe(503);
    expect(notReady.body.toString()).toBe('not ready: not attached: xdp\n');

    readiness = { ready: true, reason: '' };
    const ready = await request(port, { path: '/readyz' });
    expect(ready.status).toBe(200);
    expect(ready.body.toString()).toBe('ready\n');
  });

  it('answers an unknown path with 404', async () => {
    const { port } = await start();
    expect((await request(port, { path: '/nope' })).status).toBe(404);
    expect((await request(port, { path: '/metrics/extra' })).status).toBe(404);
  });

  it.each(['POST', 'PUT', 'DELETE'])('answers %s with 405 and Allow', async (method) => {
    const { server, port } = await start();
    server.update(BODY);
    const reply = await request(port, { path: '/metrics', method });
    expect(reply.status).toBe(405);
    expect(reply.headers['allow']).toBe('GET, HEAD');
    expect(server.scrapes).toBe(0);
  });

  it('rejects with an actionable message when the port is taken', async () => {
    const blocker = net.createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise<void>((resolve) => blocker.close(() => resolve())));
    const address = blocker.address();
    if (address === null || typeof address === 'string') throw new Error('no port');

    const server = new MetricsServer({
      host: '127.0.0.1',
      port: address.port,
      readiness: () => ({ ready: true, reason: '' }),
    });
    cleanups.push(() => server.close());
    const error = await server.listen().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(Error);
    const message = (error as Error).message;
    expect(message).toContain(`port ${address.port} on 127.0.0.1 is already in use`);
    expect(message).toContain('--port');
    expect(((error as Error).cause as NodeJS.ErrnoException).code).toBe('EADDRINUSE');
  });
});

describe('acceptsGzip', () => {
  it.each([
    ['gzip', true],
    ['GZIP', true],
    ['Gzip', true],
    [' gzip ', true],
    ['gzip, deflate, br', true],
    ['deflate, gzip', true],
    ['br;q=1.0, gzip;q=0.8, *;q=0.1', true],
    ['gzip;q=1', true],
    ['gzip;q=0.001', true],
    ['gzip; q=0.5', true],
    ['*', true],
    ['*;q=0.5', true],
    ['identity, *', true],
    ['gzip;q=0', false],
    ['gzip; q=0', false],
    ['gzip;q=0.0', false],
    ['gzip;q=0.000', false],
    ['GZIP;q=0, deflate', false],
    ['*;q=0', false],
    ['identity', false],
    ['deflate, br', false],
    ['gzipped', false],
    ['', false],
  ] as [string, boolean][])('%j → %s', (header, expected) => {
    expect(acceptsGzip(header)).toBe(expected);
  });

  it('is false without the header', () => {
    expect(acceptsGzip(undefined)).toBe(false);
  });

  it('joins an array of header values', () => {
    expect(acceptsGzip(['deflate', 'gzip'])).toBe(true);
    expect(acceptsGzip(['deflate', 'br, GZIP;q=0.3'])).toBe(true);
    expect(acceptsGzip(['identity', '*'])).toBe(true);
    expect(acceptsGzip(['gzip;q=0', 'br'])).toBe(false);
    expect(acceptsGzip(['deflate', 'br'])).toBe(false);
    expect(acceptsGzip([])).toBe(false);
  });
});
