// The reference for the scrape benchmark: prom-client, the usual way a Node.js service serves Prometheus
// metrics, holding the same label sets and values as the agent and serving them the usual way (the registry
// renders the text on every request). Usage: node promclient-server.ts SERIES.json; prints `port=N`.
// SERIES.json: { "name": …, "help": …, "labelNames": […], "series": [[labelValues…, value], …] }
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { Counter, Registry } from 'prom-client';

interface Series {
  name: string;
  help: string;
  labelNames: string[];
  series: (string | number)[][];
}

const input = JSON.parse(readFileSync(process.argv[2]!, 'utf8')) as Series;
const registry = new Registry();
const counter = new Counter({
  name: input.name,
  help: input.help,
  labelNames: input.labelNames,
  registers: [registry],
});
for (const row of input.series) {
  const labels: Record<string, string> = {};
  input.labelNames.forEach((name, i) => (labels[name] = String(row[i])));
  counter.inc(labels, Number(row[input.labelNames.length]));
}

const server = http.createServer((req, res) => {
  if (req.url !== '/metrics') {
    res.writeHead(404).end();
    return;
  }
  registry.metrics().then(
    (text) => res.writeHead(200, { 'Content-Type': registry.contentType }).end(text),
    (error: unknown) => res.writeHead(500).end(String(error)),
  );
});
server.listen(0, '127.0.0.1', () => {
  const address = server.address();
  console.log(`port=${typeof address === 'object' && address !== null ? address.port : 0}`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
