// KubeletPods (src/collector/kubelet.ts) against real HTTP(S) servers on 127.0.0.1 serving a kubelet /pods list.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  decodePodList,
  defaultKubeletUrl,
  HINT_AUTH,
  HINT_CA_FILE,
  HINT_TIMEOUT,
  HINT_TLS,
  HINT_URL,
  KubeletPods,
  type KubeletPodsOptions,
} from '../../src/collector/kubelet.ts';
import type { Logger } from '../../src/log.ts';

const FIXTURE_TEXT = readFileSync(new URL('./fixtures/kubelet-pods.json', import.meta.url), 'utf8');
const FIXTURE = JSON.parse(FIXTURE_TEXT) as { kind: string; items: { metadata: { uid?: string } }[] };

const AGENT = { name: 'ebpf-otel-agent-5m9tq', namespace: 'monitoring', uid: 'e2c4a6b8-0d1f-4e3a-b5c7-d9e1f3a5b7c9' };
const KUBE_PROXY = { name: 'kube-proxy-7xw2k', namespace: 'kube-system', uid: '3f6b2a1e-5c8d-4e7f-9a0b-1c2d3e4f5a6b' };
const ETCD = { name: 'etcd-kind-control-plane', namespace: 'kube-system', uid: '9c1f5e0b8d2a4f6e83b7d41c2a90e5f7' };
const WEB = { name: 'web-6d4cf56db6-lx2vr', namespace: 'default', uid: '5b8d1f3a-7c9e-4b2d-a4f6-8e0c2a4b6d8f' };
const COREDNS = {
  name: 'coredns-674b8bbfcf-4qz8n',
  namespace: 'kube-system',
  uid: 'a7e3c9d1-2b4f-4a68-9c0e-5d1f2a3b4c5d',
};
const REPORT = {
  name: 'nightly-report-29543040-q7k4m',
  namespace: 'batch-jobs',
  uid: '0c2e4a6c-8e0a-4c2e-b4a6-c8e0a2c4e6a8',
};
const UNKNOWN_UID = 'ffffffff-0000-4000-8000-000000000000';

/** The fixture without the pods of these UIDs. */
function without(...uids: string[]): string {
  return JSON.stringify({ ...FIXTURE, items: FIXTURE.items.filter((item) => !uids.includes(item.metadata.uid ?? '')) });
}

interface Seen {
  path: string | undefined;
  authorization: string | undefined;
}

interface Answer {
  status?: number;
  body?: string;
  headers?: http.OutgoingHttpHeaders;
  /** Hold the answer until release() is called. */
  hold?: boolean;
}

interface FakeKubelet {
  url: string;
  requests: Seen[];
  answer: Answer;
  release: () => void;
}

const cleanups: (() => void | Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function closeServer(server: http.Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}

async function fakeKubelet(tls?: { key: Buffer; cert: Buffer }): Promise<FakeKubelet> {
  let held: (() => void)[] = [];
  const fake: FakeKubelet = {
    url: '',
    requests: [],
    answer: { body: FIXTURE_TEXT },
    release: () => {
      for (const send of held.splice(0)) send();
    },
  };
  const handler = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    fake.requests.push({ path: req.url, authorization: req.headers.authorization });
    const { status = 200, body = '', headers = { 'content-type': 'application/json' }, hold } = fake.answer;
    const send = (): void => {
      res.writeHead(status, headers);
      res.end(body);
    };
    if (hold) held.push(send);
    else send();
  };
  const server = tls ? https.createServer(tls, handler) : http.createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => {
    held = [];
    return closeServer(server);
  });
  fake.url = `${tls ? 'https' : 'http'}://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return fake;
}

function tempDir(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'kubelet-test-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

interface Logged {
  level: string;
  message: string;
  fields: Record<string, unknown> | undefined;
}

function recordingLogger(): { logger: Logger; logged: Logged[] } {
  const logged: Logged[] = [];
  const at =
    (level: string) =>
    (message: string, fields?: Record<string, unknown>): void => {
      logged.push({ level, message, fields });
    };
  return { logger: { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') }, logged };
}

/** A client with no token file and the CA file of the test, stopped after the test. */
function client(options: KubeletPodsOptions): KubeletPods {
  const kubelet = new KubeletPods({ tokenFile: '/nonexistent/kubelet-test/token', ...options });
  cleanups.push(() => kubelet.stop());
  return kubelet;
}

describe('decodePodList', () => {
  it('reads name, namespace and UID of every well-formed item and counts the malformed one', () => {
    const { pods, skipped } = decodePodList(FIXTURE);
    expect(pods).toEqual([AGENT, KUBE_PROXY, ETCD, WEB, COREDNS, REPORT]);
    expect(skipped).toBe(1);
  });

  it('skips items that are not objects or lack string metadata', () => {
    const list = {
      kind: 'PodList',
      items: [
        null,
        'pod',
        [],
        {},
        { metadata: null },
        { metadata: { name: 'a', namespace: 'b' } },
        { metadata: { name: 'a', namespace: 'b', uid: 7 } },
        { metadata: { name: '', namespace: 'b', uid: 'u1' } },
        { metadata: { name: 'a', namespace: 'b', uid: 'u2', extra: true } },
      ],
    };
    expect(decodePodList(list)).toEqual({ pods: [{ name: 'a', namespace: 'b', uid: 'u2' }], skipped: 8 });
  });

  it('gives no pod for a UID that two items with different names share', () => {
    const list = {
      kind: 'PodList',
      items: [
        { metadata: { name: 'a', namespace: 'ns', uid: 'same' } },
        { metadata: { name: 'b', namespace: 'ns', uid: 'same' } },
        { metadata: { name: 'c', namespace: 'ns', uid: 'other' } },
        { metadata: { name: 'c', namespace: 'ns', uid: 'other' } },
      ],
    };
    expect(decodePodList(list)).toEqual({ pods: [{ name: 'c', namespace: 'ns', uid: 'other' }], skipped: 2 });
  });

  it('reads items: null (a node without pods, as the kubelet encodes it) as an empty list', () => {
    expect(decodePodList({ kind: 'PodList', apiVersion: 'v1', metadata: {}, items: null })).toEqual({
      pods: [],
      skipped: 0,
    });
  });

  it.each([
    [null, 'null'],
    [[], 'an array'],
    ['PodList', 'a string'],
    [{ items: [] }, 'an object'],
    [{ kind: 'Status', status: 'Failure', code: 403 }, 'kind "Status"'],
    [{ kind: 'PodList', items: {} }, 'items that are an object'],
  ])('throws on %j', (json, got) => {
    expect(() => decodePodList(json)).toThrow(`expected a Kubernetes PodList, got ${got}`);
  });
});

describe('defaultKubeletUrl', () => {
  it('prefers KUBELET_HOST (status.hostIP) over NODE_NAME (spec.nodeName)', () => {
    expect(defaultKubeletUrl({ KUBELET_HOST: '10.0.0.5', NODE_NAME: 'node-a' })).toBe('https://10.0.0.5:10250');
    expect(defaultKubeletUrl({ NODE_NAME: 'node-a' })).toBe('https://node-a:10250');
    expect(defaultKubeletUrl({ KUBELET_HOST: ' ', NODE_NAME: 'node-a' })).toBe('https://node-a:10250');
  });

  it('brackets an IPv6 host IP', () => {
    expect(defaultKubeletUrl({ KUBELET_HOST: 'fd00:10::5' })).toBe('https://[fd00:10::5]:10250');
  });

  it('is undefined when neither is set', () => {
    expect(defaultKubeletUrl({})).toBeUndefined();
    expect(defaultKubeletUrl({ NODE_NAME: '', KUBELET_HOST: '' })).toBeUndefined();
  });
});

describe('KubeletPods options', () => {
  it('refuses a URL that is not http(s)', () => {
    expect(() => new KubeletPods({ url: 'ftp://10.0.0.5:10250' })).toThrow(/must start with https:\/\//);
    expect(() => new KubeletPods({ url: 'node-a:10250' })).toThrow(/must start with https:\/\//);
    expect(() => new KubeletPods({ url: 'not a url' })).toThrow(/is not a URL: give one like https:\/\//);
    expect(() => new KubeletPods({ url: 'https://10.0.0.5:10250', timeoutMs: 0 })).toThrow(RangeError);
  });

  it('warns that a token is never sent over plain http to another host', () => {
    const { logger, logged } = recordingLogger();
    new KubeletPods({ url: 'http://10.0.0.5:10255', logger });
    expect(logged).toEqual([expect.objectContaining({ level: 'warn', message: expect.stringMatching(/token/) })]);
  });
});

describe('KubeletPods over HTTP', () => {
  it('answers from the snapshot: nothing before the first refresh, the pods after it', async () => {
    const kubelet = await fakeKubelet();
    const pods = client({ url: kubelet.url });
    expect(pods.lookup(AGENT.uid)).toBeUndefined();
    await pods.refresh();
    expect(pods.lookup(AGENT.uid)).toEqual(AGENT);
    expect(pods.lookup(ETCD.uid)).toEqual(ETCD);
    expect(pods.lookup(REPORT.uid)).toEqual(REPORT);
    expect(pods.lookup(UNKNOWN_UID)).toBeUndefined();
    // The lookup before the first refresh started it; refresh() joined it.
    expect(kubelet.requests).toEqual([{ path: '/pods', authorization: undefined }]);
    expect(pods.stats()).toMatchObject({ pods: 6, refreshes: 1, failures: 0, skipped: 1 });
  });

  it('finds a UID spelt the systemd cgroup way (underscores)', async () => {
    const kubelet = await fakeKubelet();
    const pods = client({ url: kubelet.url });
    await pods.refresh();
    expect(pods.lookup(WEB.uid.replaceAll('-', '_'))).toEqual(WEB);
    expect(pods.lookup('')).toBeUndefined();
  });

  it('joins a trailing-slash base URL and /pods', async () => {
    const kubelet = await fakeKubelet();
    const pods = client({ url: `${kubelet.url}/` });
    await pods.refresh();
    expect(kubelet.requests.map((r) => r.path)).toEqual(['/pods']);
  });

  it('sends the bearer token from the token file, read again on every refresh', async () => {
    const kubelet = await fakeKubelet();
    const tokenFile = path.join(tempDir(), 'token');
    writeFileSync(tokenFile, 'eyJhbGciOiJSUzI1NiJ9.first.sig\n');
    const pods = client({ url: kubelet.url, tokenFile });
    await pods.refresh();
    writeFileSync(tokenFile, 'eyJhbGciOiJSUzI1NiJ9.rotated.sig');
    await pods.refresh();
    rmSync(tokenFile);
    await pods.refresh();
    expect(kubelet.requests.map((r) => r.authorization)).toEqual([
      'Bearer eyJhbGciOiJSUzI1NiJ9.first.sig',
      'Bearer eyJhbGciOiJSUzI1NiJ9.rotated.sig',
      undefined,
    ]);
  });

  it('starts exactly one early refresh for unknown UIDs per minRefreshIntervalMs', async () => {
    const kubelet = await fakeKubelet();
    let now = 1_000_000;
    const pods = client({ url: kubelet.url, now: () => now, minRefreshIntervalMs: 5000 });
    kubelet.answer = { body: without(WEB.uid) };
    await pods.refresh();
    kubelet.answer = { body: FIXTURE_TEXT };

    now += 4999;
    expect(pods.lookup(WEB.uid)).toBeUndefined();
    expect(pods.lookup(UNKNOWN_UID)).toBeUndefined();
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(kubelet.requests).toHaveLength(1);

    now += 1;
    expect(pods.lookup(WEB.uid)).toBeUndefined(); // starts the early refresh
    expect(pods.lookup(UNKNOWN_UID)).toBeUndefined(); // one is in flight already
    await vi.waitFor(() => expect(pods.stats().refreshes).toBe(2));
    expect(pods.lookup(WEB.uid)).toEqual(WEB);

    now += 4999;
    expect(pods.lookup(UNKNOWN_UID)).toBeUndefined();
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(kubelet.requests).toHaveLength(2);

    now += 1;
    expect(pods.lookup(UNKNOWN_UID)).toBeUndefined();
    await vi.waitFor(() => expect(pods.stats().refreshes).toBe(3));
    expect(kubelet.requests).toHaveLength(3);
  });

  it('forgets a pod that left the list', async () => {
    const kubelet = await fakeKubelet();
    const pods = client({ url: kubelet.url });
    await pods.refresh();
    expect(pods.lookup(WEB.uid)).toEqual(WEB);
    kubelet.answer = { body: without(WEB.uid) };
    await pods.refresh();
    expect(pods.lookup(WEB.uid)).toBeUndefined();
    expect(pods.lookup(AGENT.uid)).toEqual(AGENT);
    expect(pods.stats().pods).toBe(5);
  });

  it('keeps the previous snapshot on 401 and says what to check', async () => {
    const kubelet = await fakeKubelet();
    const { logger, logged } = recordingLogger();
    let now = 5000;
    const pods = client({ url: kubelet.url, logger, now: () => now });
    await pods.refresh();
    now = 35_000;
    kubelet.answer = { status: 401, body: 'Unauthorized', headers: { 'content-type': 'text/plain' } };
    await pods.refresh();
    expect(pods.lookup(KUBE_PROXY.uid)).toEqual(KUBE_PROXY);
    expect(pods.stats()).toEqual({
      pods: 6,
      refreshes: 2,
      failures: 1,
      lastSuccessMs: 5000,
      skipped: 1,
      lastFailure: {
        message: 'kubelet answered HTTP 401: Unauthorized',
        status: 401,
        code: undefined,
        hint: HINT_AUTH,
        atMs: 35_000,
      },
    });
    expect(logged.filter((l) => l.message.startsWith('cannot read'))).toEqual([
      {
        level: 'warn',
        message: `cannot read the pod list from the kubelet: ${HINT_AUTH}`,
        fields: {
          url: `${kubelet.url}/pods`,
          status: 401,
          error: 'kubelet answered HTTP 401: Unauthorized',
          failures: 1,
        },
      },
    ]);
  });

  it('gives the RBAC hint on 403, with the reason the kubelet gave', async () => {
    const kubelet = await fakeKubelet();
    kubelet.answer = {
      status: 403,
      body: 'Forbidden (user=system:serviceaccount:monitoring:ebpf-otel-agent, verb=get, resource=nodes, subresource=proxy)',
    };
    const pods = client({ url: kubelet.url });
    await pods.refresh();
    expect(pods.stats().lastFailure).toMatchObject({
      status: 403,
      hint: HINT_AUTH,
      message: expect.stringContaining('subresource=proxy'),
    });
  });

  it('records ECONNREFUSED with the --kubelet-url hint when nothing listens', async () => {
    const server = http.createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    await closeServer(server);
    const { logger, logged } = recordingLogger();
    const pods = client({ url: `http://127.0.0.1:${port}`, logger });
    await pods.refresh();
    expect(pods.stats()).toMatchObject({ pods: 0, refreshes: 1, failures: 1 });
    expect(pods.stats().lastSuccessMs).toBeUndefined();
    expect(pods.stats().lastFailure).toMatchObject({ code: 'ECONNREFUSED', hint: HINT_URL });
    expect(logged).toEqual([
      expect.objectContaining({
        level: 'warn',
        message: 'cannot read the pod list from the kubelet: check --kubelet-url',
        fields: expect.objectContaining({ code: 'ECONNREFUSED', failures: 1 }),
      }),
    ]);
  });

  it('fails on malformed JSON and on JSON that is not a PodList, keeping the snapshot', async () => {
    const kubelet = await fakeKubelet();
    const pods = client({ url: kubelet.url });
    await pods.refresh();
    kubelet.answer = { body: FIXTURE_TEXT.slice(0, 1000) };
    await pods.refresh();
    expect(pods.stats().lastFailure).toMatchObject({
      code: 'EBADJSON',
      message: expect.stringMatching(/^kubelet pod list is not JSON/),
    });
    kubelet.answer = { body: '{"kind":"Status","apiVersion":"v1","status":"Failure","code":404}' };
    await pods.refresh();
    expect(pods.stats().lastFailure?.message).toBe('expected a Kubernetes PodList, got kind "Status"');
    expect(pods.stats()).toMatchObject({ pods: 6, refreshes: 3, failures: 2 });
    expect(pods.lookup(COREDNS.uid)).toEqual(COREDNS);
  });

  it('logs the first failure in a row and every 10th after it, and the recovery', async () => {
    const kubelet = await fakeKubelet();
    kubelet.answer = { status: 500, body: 'internal error' };
    const { logger, logged } = recordingLogger();
    const pods = client({ url: kubelet.url, logger });
    for (let i = 0; i < 25; i++) await pods.refresh();
    expect(logged.map((l) => l.fields?.failures)).toEqual([1, 11, 21]);
    kubelet.answer = { body: FIXTURE_TEXT };
    await pods.refresh();
    expect(logged.at(-2)).toMatchObject({ level: 'info', message: 'kubelet pod list readable again' });
    expect(logged.at(-1)).toMatchObject({ level: 'warn', fields: { skipped: 1 } });
    kubelet.answer = { status: 500 };
    await pods.refresh();
    expect(logged.at(-1)).toMatchObject({ level: 'warn', fields: { status: 500, failures: 1 } });
    expect(pods.stats()).toMatchObject({ refreshes: 27, failures: 26 });
  });

  it('keeps one refresh in flight at a time', async () => {
    const kubelet = await fakeKubelet();
    kubelet.answer = { body: FIXTURE_TEXT, hold: true };
    const pods = client({ url: kubelet.url });
    const first = pods.refresh();
    const second = pods.refresh();
    expect(second).toBe(first);
    await vi.waitFor(() => expect(kubelet.requests).toHaveLength(1));
    kubelet.release();
    await first;
    expect(pods.stats()).toMatchObject({ refreshes: 1, pods: 6 });
  });

  it('refuses an answer larger than the limit, announced or streamed', async () => {
    const kubelet = await fakeKubelet();
    const pods = client({ url: kubelet.url, maxResponseBytes: 4096 });
    await pods.refresh();
    expect(pods.stats().lastFailure).toMatchObject({ code: 'ERESPONSETOOLARGE' });
    kubelet.answer = {
      body: FIXTURE_TEXT,
      headers: { 'content-type': 'application/json', 'transfer-encoding': 'chunked' },
    };
    await pods.refresh();
    expect(pods.stats()).toMatchObject({ pods: 0, failures: 2, lastFailure: { code: 'ERESPONSETOOLARGE' } });
  });

  it('gives up after timeoutMs', async () => {
    const kubelet = await fakeKubelet();
    kubelet.answer = { hold: true };
    const pods = client({ url: kubelet.url, timeoutMs: 100 });
    await pods.refresh();
    expect(pods.stats().lastFailure).toMatchObject({ code: 'ETIMEDOUT', hint: HINT_TIMEOUT });
  });

  it('start() refreshes now and on the interval; stop() ends both and abandons the one in flight', async () => {
    const kubelet = await fakeKubelet();
    const pods = client({ url: kubelet.url, refreshIntervalMs: 30 });
    await pods.start();
    expect(pods.lookup(AGENT.uid)).toEqual(AGENT);
    await vi.waitFor(() => expect(pods.stats().refreshes).toBeGreaterThanOrEqual(3));
    const requests = kubelet.requests.length;
    kubelet.answer = { body: FIXTURE_TEXT, hold: true };
    await vi.waitFor(() => expect(kubelet.requests).toHaveLength(requests + 1));
    const refreshes = pods.stats().refreshes;
    pods.stop();
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect(kubelet.requests).toHaveLength(requests + 1);
    expect(pods.stats()).toMatchObject({ refreshes, failures: 0 });
    // Stopped: an unknown UID starts nothing either.
    expect(pods.lookup(UNKNOWN_UID)).toBeUndefined();
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(kubelet.requests).toHaveLength(requests + 1);
  });
});

describe('KubeletPods over HTTPS with a self-signed certificate', () => {
  let dir = '';
  let tls: { key: Buffer; cert: Buffer };
  let caFile = '';

  beforeAll(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'kubelet-tls-'));
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-subj',
        '/CN=127.0.0.1',
        '-addext',
        'subjectAltName=IP:127.0.0.1',
        '-days',
        '1',
        '-keyout',
        'k',
        '-out',
        'c',
      ],
      { cwd: dir, stdio: 'ignore' },
    );
    tls = { key: readFileSync(path.join(dir, 'k')), cert: readFileSync(path.join(dir, 'c')) };
    caFile = path.join(dir, 'c');
  });

  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('works with caFile set to the serving certificate, and sends the token', async () => {
    const kubelet = await fakeKubelet(tls);
    const tokenFile = path.join(dir, 'token');
    writeFileSync(tokenFile, 'tls-token');
    const pods = client({ url: kubelet.url, caFile, tokenFile });
    await pods.refresh();
    expect(pods.stats()).toMatchObject({ pods: 6, failures: 0 });
    expect(pods.lookup(ETCD.uid)).toEqual(ETCD);
    expect(kubelet.requests).toEqual([{ path: '/pods', authorization: 'Bearer tls-token' }]);
  });

  it('fails with the TLS hint without a CA and without insecureSkipVerify', async () => {
    const kubelet = await fakeKubelet(tls);
    const { logger, logged } = recordingLogger();
    const pods = client({ url: kubelet.url, logger });
    await pods.refresh();
    expect(pods.stats()).toMatchObject({ pods: 0, failures: 1 });
    expect(pods.stats().lastFailure).toMatchObject({ code: 'DEPTH_ZERO_SELF_SIGNED_CERT', hint: HINT_TLS });
    expect(logged[0]?.message).toBe(
      'cannot read the pod list from the kubelet: give --kubelet-ca-file or --kubelet-insecure-skip-verify',
    );
    expect(kubelet.requests).toEqual([]);
  });

  it('works with insecureSkipVerify', async () => {
    const kubelet = await fakeKubelet(tls);
    const pods = client({ url: kubelet.url, insecureSkipVerify: true });
    await pods.refresh();
    expect(pods.stats()).toMatchObject({ pods: 6, failures: 0 });
    expect(pods.lookup(WEB.uid)).toEqual(WEB);
  });

  it('fails with a --kubelet-ca-file hint when the given CA file does not exist', async () => {
    const kubelet = await fakeKubelet(tls);
    const pods = client({ url: kubelet.url, caFile: path.join(dir, 'missing.crt') });
    await pods.refresh();
    expect(pods.stats().lastFailure).toMatchObject({ code: 'ECAFILE', hint: HINT_CA_FILE });
    expect(kubelet.requests).toEqual([]);
  });

  it('says the URL is wrong when https meets a plain-HTTP port', async () => {
    const kubelet = await fakeKubelet();
    const pods = client({ url: kubelet.url.replace('http:', 'https:'), caFile });
    await pods.refresh();
    expect(pods.stats().lastFailure).toMatchObject({
      code: 'EPROTO',
      message: expect.stringContaining('wrong version number'),
      hint: HINT_URL,
    });
  });
});
