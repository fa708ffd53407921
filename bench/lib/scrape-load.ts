// Scrape load in a process of its own: C concurrent scrapers fetch URL back to back for S seconds (and until each
// has finished at least one scrape), bodies read and discarded. Prints one JSON line: latencies in ms of every
// scrape, failures, body bytes. Usage: node scrape-load.ts URL C S [gzip]
import http from 'node:http';
import { performance } from 'node:perf_hooks';

const [url, concurrency, seconds, gzip] = process.argv.slice(2);
const target = new URL(url!);
const C = Number(concurrency);
const keepAlive = new http.Agent({ keepAlive: true, maxSockets: C });
const times: number[] = [];
let failures = 0;
let bytes = 0;

function scrape(): Promise<void> {
  return new Promise((resolve) => {
    const started = performance.now();
    const fail = (): void => {
      failures++;
      resolve();
    };
    const req = http.get(
      {
        host: target.hostname,
        port: target.port,
        path: target.pathname,
        agent: keepAlive,
        headers: gzip === 'gzip' ? { 'Accept-Encoding': 'gzip' } : {},
      },
      (res) => {
        let size = 0;
        res.on('data', (c: Buffer) => (size += c.length));
        res.on('end', () => {
          if (res.statusCode !== 200 || size === 0) return fail();
          times.push(performance.now() - started);
          bytes = size;
          resolve();
        });
        res.on('error', fail);
      },
    );
    req.on('error', fail);
    req.setTimeout(120_000, () => req.destroy());
  });
}

const deadline = performance.now() + Number(seconds) * 1000;
await Promise.all(
  Array.from({ length: C }, async () => {
    do await scrape();
    while (performance.now() < deadline);
  }),
);
keepAlive.destroy();
console.log(JSON.stringify({ times, failures, bytes }));
