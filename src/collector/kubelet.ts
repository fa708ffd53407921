// Pod names for pod UIDs, from this node's kubelet only: GET https://<node>:10250/pods, the pods bound to this
// node, with the service account's bearer token. Never a cluster-wide API watch: the agent runs on every node,
// and N watches of every pod in the cluster would load the API server and cost memory for pods elsewhere.
//
// The kubelet's list is also the right source for static pods: their cgroups carry the kubelet's own UID (a
// hash of the manifest), which only the kubelet reports; the API server's mirror pod has a different UID.
//
// Labels are absent, never wrong: lookup() answers from the last complete list only, a failed refresh keeps the
// previous list, and an item that does not have a name, a namespace and a UID is skipped.
import { promises as fs } from 'node:fs';
import http from 'node:http';
import type https from 'node:https';
import net from 'node:net';
import { silentLogger, type Logger } from '../log.ts';

export const DEFAULT_TOKEN_FILE = '/var/run/secrets/kubernetes.io/serviceaccount/token';
export const DEFAULT_CA_FILE = '/var/run/secrets/kubernetes.io/serviceaccount/ca.crt';
export const KUBELET_PORT = 10250;
export const DEFAULT_REFRESH_INTERVAL_MS = 30_000;
export const DEFAULT_MIN_REFRESH_INTERVAL_MS = 5_000;
export const DEFAULT_TIMEOUT_MS = 5_000;
/** A larger answer is refused: the memory a refresh takes stays bounded. */
export const MAX_RESPONSE_BYTES = 64 * 1024 * 1024;
/** After the first failure in a row, every this many failures are logged. */
const LOG_EVERY_FAILURES = 10;

export const HINT_AUTH = 'check the service account token and RBAC: the agent needs get on nodes/proxy (or nodes/pods)';
export const HINT_URL = 'check --kubelet-url';
export const HINT_TLS = 'give --kubelet-ca-file or --kubelet-insecure-skip-verify';
export const HINT_CA_FILE = 'check --kubelet-ca-file';
export const HINT_TIMEOUT = 'check --kubelet-url and that the agent can reach the kubelet port on its node';

export interface PodMeta {
  name: string;
  namespace: string;
  /** As the kubelet reports it: a UUID, or for a static pod the hash of its manifest. */
  uid: string;
}

export interface DecodedPodList {
  pods: PodMeta[];
  /** Items without a string name, namespace and UID, or whose UID another item with other names also has. */
  skipped: number;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function nonEmptyString(value: unknown): value is string {
  return typeof value === 'string' && value !== '';
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (isObject(value)) return typeof value.kind === 'string' ? `kind ${JSON.stringify(value.kind)}` : 'an object';
  return `a ${typeof value}`;
}

/**
 * A Kubernetes PodList (the kubelet's /pods) → name, namespace and UID of each pod, with the count of items
 * skipped as malformed. Throws when the top level is not a PodList. `items: null` is an empty list: that is how
 * the kubelet encodes a node without pods.
 */
export function decodePodList(json: unknown): DecodedPodList {
  if (!isObject(json) || json.kind !== 'PodList') {
    throw new Error(`expected a Kubernetes PodList, got ${describe(json)}`);
  }
  const items = json.items ?? [];
  if (!Array.isArray(items)) throw new Error(`expected a Kubernetes PodList, got items that are ${describe(items)}`);
  const byUid = new Map<string, PodMeta | null>();
  let skipped = 0;
  for (const item of items as unknown[]) {
    const metadata: unknown = isObject(item) ? item.metadata : undefined;
    if (
      !isObject(metadata) ||
      !nonEmptyString(metadata.name) ||
      !nonEmptyString(metadata.namespace) ||
      !nonEmptyString(metadata.uid)
    ) {
      skipped++;
      continue;
    }
    const pod: PodMeta = { name: metadata.name, namespace: metadata.namespace, uid: metadata.uid };
    const seen = byUid.get(pod.uid);
    if (seen === undefined) {
      byUid.set(pod.uid, pod);
    } else if (seen === null || seen.name !== pod.name || seen.namespace !== pod.namespace) {
      // Two pods with one UID: which one a process belongs to is unknown, so neither gets a label.
      if (seen !== null) skipped++;
      byUid.set(pod.uid, null);
      skipped++;
    }
  }
  const pods: PodMeta[] = [];
  for (const pod of byUid.values()) if (pod !== null) pods.push(pod);
  return { pods, skipped };
}

/**
 * The kubelet of this node, as a DaemonSet pod finds it through the downward API: `KUBELET_HOST`
 * (`status.hostIP`, routable without DNS) or else `NODE_NAME` (`spec.nodeName`, which must resolve), on port
 * 10250. Undefined when neither is set.
 */
export function defaultKubeletUrl(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const host = env.KUBELET_HOST?.trim() || env.NODE_NAME?.trim();
  if (!host) return undefined;
  return `https://${net.isIPv6(host) ? `[${host}]` : host}:${KUBELET_PORT}`;
}

/** A pod UID as a cgroup path may spell it: the systemd cgroup driver writes `_` for `-`. */
export function normalizePodUid(uid: string): string {
  return uid.replaceAll('_', '-');
}

export interface KubeletPodsOptions {
  /** Base URL of the kubelet, like `https://10.0.0.5:10250`; the pod list is `${url}/pods`. */
  url: string;
  /** Bearer token, read on every refresh (tokens rotate). No file, no Authorization header. */
  tokenFile?: string;
  /** CA bundle for the kubelet's serving certificate; by default the service account's, when present. */
  caFile?: string;
  /**
   * Accept any serving certificate (kubelets often serve a self-signed one). The token is still sent, so only
   * for networks where nobody can stand in for the kubelet.
   */
  insecureSkipVerify?: boolean;
  refreshIntervalMs?: number;
  /** An unknown UID starts a refresh at most this often. */
  minRefreshIntervalMs?: number;
  /** For the whole request: connect, headers and body. */
  timeoutMs?: number;
  /** Larger answers are refused; MAX_RESPONSE_BYTES by default. */
  maxResponseBytes?: number;
  now?: () => number;
  logger?: Logger;
}

/** Why the last refresh failed. */
export interface RefreshFailure {
  message: string;
  /** HTTP status, when the kubelet answered. */
  status?: number;
  /** Node or OpenSSL error code (ECONNREFUSED, DEPTH_ZERO_SELF_SIGNED_CERT, ETIMEDOUT, …). */
  code?: string;
  /** What the user can do about it. */
  hint?: string;
  atMs: number;
}

export interface KubeletPodsStats {
  /** Pods in the current snapshot. */
  pods: number;
  /** Refreshes completed, failed ones included. */
  refreshes: number;
  failures: number;
  lastSuccessMs?: number;
  /** Malformed items skipped in the last list. */
  skipped: number;
  lastFailure?: RefreshFailure;
}

class HttpStatusError extends Error {
  readonly status: number;
  constructor(status: number, body: string) {
    const detail = body.trim().replace(/\s+/g, ' ').slice(0, 200);
    super(`kubelet answered HTTP ${status}${detail ? `: ${detail}` : ''}`);
    this.name = 'HttpStatusError';
    this.status = status;
  }
}

function codedError(message: string, code: string, cause?: unknown): Error & { code: string } {
  return Object.assign(new Error(message, { cause }), { code });
}

/** The error code of a Node error, looking through AggregateError (happy eyeballs) and causes. */
function errorCode(error: unknown): string | undefined {
  for (let e = error, depth = 0; isObject(e) && depth < 4; depth++) {
    if (typeof e.code === 'string' && e.code !== 'ABORT_ERR') return e.code;
    e = Array.isArray(e.errors) && e.errors.length > 0 ? (e.errors[0] as unknown) : e.cause;
  }
  return undefined;
}

const URL_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH']);

function isTlsCode(code: string): boolean {
  return (
    code.startsWith('ERR_TLS_') ||
    code.startsWith('CERT_') ||
    code.startsWith('UNABLE_TO_') ||
    code === 'DEPTH_ZERO_SELF_SIGNED_CERT' ||
    code === 'SELF_SIGNED_CERT_IN_CHAIN' ||
    code === 'HOSTNAME_MISMATCH' ||
    code === 'INVALID_CA' ||
    code === 'INVALID_PURPOSE'
  );
}

function hintFor(status: number | undefined, code: string | undefined, message: string): string | undefined {
  if (status === 401 || status === 403) return HINT_AUTH;
  if (code === undefined) return undefined;
  if (URL_CODES.has(code)) return HINT_URL;
  // TLS spoken to a plain-HTTP port: the scheme of the URL is wrong.
  if (code === 'ERR_SSL_WRONG_VERSION_NUMBER' || (code === 'EPROTO' && /wrong version number/i.test(message))) {
    return HINT_URL;
  }
  if (isTlsCode(code)) return HINT_TLS;
  if (code.startsWith('ERR_OSSL_') || code === 'ECAFILE') return HINT_CA_FILE;
  if (code === 'ETIMEDOUT') return HINT_TIMEOUT;
  return undefined;
}

function isLoopback(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, '');
  return host === 'localhost' || host === '::1' || (net.isIPv4(host) && host.startsWith('127.'));
}

/** The file's contents, or undefined when it does not exist. */
async function readOptional(file: string): Promise<Buffer | undefined> {
  try {
    return await fs.readFile(file);
  } catch (error) {
    if (errorCode(error) === 'ENOENT') return undefined;
    throw error;
  }
}

interface GetOptions {
  /** node:https, loaded only for an https URL: TLS costs a few MiB of memory an agent without a kubelet never needs. */
  https: typeof https | undefined;
  headers: Record<string, string>;
  ca: Buffer | undefined;
  rejectUnauthorized: boolean;
  timeoutMs: number;
  maxBytes: number;
  signal: AbortSignal;
}

/** GET with a deadline for the whole exchange and a bound on the body; non-2xx answers reject. */
function get(url: URL, options: GetOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const tooLarge = (): Error =>
      codedError(`kubelet pod list is larger than ${options.maxBytes} bytes: refused`, 'ERESPONSETOOLARGE');
    let settled = false;
    const finish = (error: unknown, body?: Buffer): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (body === undefined) {
        req.destroy();
        reject(error);
      } else {
        resolve(body);
      }
    };
    const requestOptions: https.RequestOptions = {
      method: 'GET',
      headers: options.headers,
      agent: false,
      signal: options.signal,
      ...(url.protocol === 'https:' ? { ca: options.ca, rejectUnauthorized: options.rejectUnauthorized } : {}),
    };
    const transport = url.protocol === 'https:' && options.https !== undefined ? options.https : http;
    const req = transport.request(url, requestOptions, (res) => {
      const status = res.statusCode ?? 0;
      const ok = status >= 200 && status < 300;
      const length = Number(res.headers['content-length']);
      if (ok && length > options.maxBytes) {
        finish(tooLarge());
        return;
      }
      const chunks: Buffer[] = [];
      let bytes = 0;
      res.on('data', (chunk: Buffer) => {
        if (!ok) {
          // Keep the start of an error body for the message; drain the rest.
          if (bytes < 512) chunks.push(chunk);
          bytes += chunk.length;
          return;
        }
        bytes += chunk.length;
        if (bytes > options.maxBytes) finish(tooLarge());
        else chunks.push(chunk);
      });
      res.on('end', () => {
        const body = Buffer.concat(chunks);
        if (ok) finish(undefined, body);
        else finish(new HttpStatusError(status, body.subarray(0, 512).toString('utf8')));
      });
      res.on('error', (error) => finish(error));
      res.on('close', () => {
        if (!res.complete) finish(codedError('kubelet closed the connection before the whole answer', 'ECONNRESET'));
      });
    });
    const timer = setTimeout(
      () => finish(codedError(`kubelet did not answer within ${options.timeoutMs} ms`, 'ETIMEDOUT')),
      options.timeoutMs,
    );
    req.on('error', (error) => finish(error));
    req.end();
  });
}

function positive(name: string, value: number | undefined, fallback: number): number {
  const v = value ?? fallback;
  if (!Number.isFinite(v) || v <= 0) throw new RangeError(`${name} must be a positive number of milliseconds`);
  return v;
}

/**
 * The pods of this node by UID, refreshed from the kubelet on an interval and early when a UID is unknown.
 * Only one refresh is in flight at a time; each replaces the snapshot whole.
 */
export class KubeletPods {
  readonly #url: URL;
  readonly #podsUrl: URL;
  readonly #tokenFile: string;
  readonly #caFile: string | undefined;
  readonly #insecureSkipVerify: boolean;
  readonly #sendToken: boolean;
  readonly #refreshIntervalMs: number;
  readonly #minRefreshIntervalMs: number;
  readonly #timeoutMs: number;
  readonly #maxBytes: number;
  readonly #now: () => number;
  readonly #logger: Logger;
  #pods = new Map<string, PodMeta>();
  #inflight: Promise<void> | undefined;
  #abort: AbortController | undefined;
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;
  #lastAttemptMs: number | undefined;
  #lastSuccessMs: number | undefined;
  #lastFailure: RefreshFailure | undefined;
  #refreshes = 0;
  #failures = 0;
  #failuresInRow = 0;
  #skipped = 0;

  constructor(options: KubeletPodsOptions) {
    let url: URL;
    try {
      url = new URL(options.url);
    } catch (error) {
      throw new Error(`kubelet URL ${JSON.stringify(options.url)} is not a URL: give one like https://10.0.0.5:10250`, {
        cause: error,
      });
    }
    if (url.protocol !== 'https:' && url.protocol !== 'http:') {
      throw new Error(`kubelet URL ${JSON.stringify(options.url)} must start with https:// (or http://)`);
    }
    this.#url = url;
    this.#podsUrl = new URL(`${url.origin}${url.pathname.replace(/\/+$/, '')}/pods`);
    this.#tokenFile = options.tokenFile ?? DEFAULT_TOKEN_FILE;
    this.#caFile = options.caFile;
    this.#insecureSkipVerify = options.insecureSkipVerify ?? false;
    this.#refreshIntervalMs = positive('refreshIntervalMs', options.refreshIntervalMs, DEFAULT_REFRESH_INTERVAL_MS);
    this.#minRefreshIntervalMs = positive(
      'minRefreshIntervalMs',
      options.minRefreshIntervalMs,
      DEFAULT_MIN_REFRESH_INTERVAL_MS,
    );
    this.#timeoutMs = positive('timeoutMs', options.timeoutMs, DEFAULT_TIMEOUT_MS);
    this.#maxBytes = options.maxResponseBytes ?? MAX_RESPONSE_BYTES;
    this.#now = options.now ?? Date.now;
    this.#logger = options.logger ?? silentLogger;
    // A bearer token in clear text over the network could be read by anyone on the path.
    this.#sendToken = url.protocol === 'https:' || isLoopback(url.hostname);
    if (!this.#sendToken) {
      this.#logger.warn('kubelet URL is plain http to another host: the service account token will not be sent', {
        url: url.origin,
      });
    }
  }

  /** The pod of this UID in the current snapshot. An unknown UID may start a refresh in the background. */
  lookup(uid: string): PodMeta | undefined {
    const key = normalizePodUid(uid);
    const pod = this.#pods.get(key);
    if (pod !== undefined || key === '') return pod;
    try {
      if (
        !this.#stopped &&
        this.#inflight === undefined &&
        (this.#lastAttemptMs === undefined || this.#now() - this.#lastAttemptMs >= this.#minRefreshIntervalMs)
      ) {
        void this.refresh();
      }
    } catch {
      // An injected clock that throws costs the early refresh, not the caller.
    }
    return undefined;
  }

  /**
   * Fetches the pod list and replaces the snapshot. Never rejects: a failure keeps the previous snapshot and is
   * counted, logged and kept in stats().lastFailure. While a refresh is in flight, returns that one.
   */
  refresh(): Promise<void> {
    if (this.#inflight !== undefined) return this.#inflight;
    const attempt = this.#refreshOnce().finally(() => {
      if (this.#inflight === attempt) this.#inflight = undefined;
    });
    this.#inflight = attempt;
    return attempt;
  }

  /** First refresh now, then one every refreshIntervalMs (the timer does not keep the process alive). */
  start(): Promise<void> {
    this.#stopped = false;
    if (this.#timer === undefined) {
      this.#timer = setInterval(() => void this.refresh(), this.#refreshIntervalMs);
      this.#timer.unref();
    }
    return this.refresh();
  }

  /** Stops the timer and early refreshes, and abandons a refresh in flight (not counted as a failure). */
  stop(): void {
    this.#stopped = true;
    clearInterval(this.#timer);
    this.#timer = undefined;
    this.#abort?.abort();
    this.#abort = undefined;
    this.#inflight = undefined;
  }

  stats(): KubeletPodsStats {
    return {
      pods: this.#pods.size,
      refreshes: this.#refreshes,
      failures: this.#failures,
      lastSuccessMs: this.#lastSuccessMs,
      skipped: this.#skipped,
      lastFailure: this.#lastFailure,
    };
  }

  async #refreshOnce(): Promise<void> {
    const controller = new AbortController();
    this.#abort = controller;
    try {
      this.#lastAttemptMs = this.#now();
      const body = await this.#fetch(controller.signal);
      let json: unknown;
      try {
        json = JSON.parse(body.toString('utf8'));
      } catch (error) {
        throw codedError(`kubelet pod list is not JSON (${(error as Error).message})`, 'EBADJSON', error);
      }
      const { pods, skipped } = decodePodList(json);
      if (controller.signal.aborted) return;
      this.#succeed(pods, skipped);
    } catch (error) {
      if (controller.signal.aborted) return;
      this.#fail(error);
    } finally {
      if (this.#abort === controller) this.#abort = undefined;
    }
  }

  async #fetch(signal: AbortSignal): Promise<Buffer> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (this.#sendToken) {
      const token = (await readOptional(this.#tokenFile))?.toString('utf8').trim();
      if (token) headers.authorization = `Bearer ${token}`;
    }
    let ca: Buffer | undefined;
    if (this.#url.protocol === 'https:' && !this.#insecureSkipVerify) {
      ca = await readOptional(this.#caFile ?? DEFAULT_CA_FILE);
      if (ca === undefined && this.#caFile !== undefined) {
        throw codedError(`kubelet CA file ${this.#caFile} does not exist`, 'ECAFILE');
      }
    }
    return get(this.#podsUrl, {
      https: this.#podsUrl.protocol === 'https:' ? (await import('node:https')).default : undefined,
      headers,
      ca,
      rejectUnauthorized: !this.#insecureSkipVerify,
      timeoutMs: this.#timeoutMs,
      maxBytes: this.#maxBytes,
      signal,
    });
  }

  #succeed(pods: PodMeta[], skipped: number): void {
    const first = this.#lastSuccessMs === undefined;
    this.#pods = new Map(pods.map((pod) => [pod.uid, Object.freeze(pod)]));
    this.#refreshes++;
    this.#lastSuccessMs = this.#now();
    if (this.#failuresInRow > 0) {
      this.#logger.info('kubelet pod list readable again', {
        url: this.#url.origin,
        pods: pods.length,
        failures: this.#failuresInRow,
      });
    } else if (first) {
      this.#logger.info('kubelet pod list read', { url: this.#url.origin, pods: pods.length });
    }
    this.#failuresInRow = 0;
    if (skipped > 0 && skipped !== this.#skipped) {
      this.#logger.warn('kubelet pod list has malformed items: skipped', { url: this.#url.origin, skipped });
    }
    this.#skipped = skipped;
  }

  #fail(error: unknown): void {
    const status = error instanceof HttpStatusError ? error.status : undefined;
    const code = errorCode(error);
    const message = error instanceof Error ? error.message : String(error);
    const hint = hintFor(status, code, message);
    this.#lastFailure = { message, status, code, hint, atMs: this.#now() };
    this.#refreshes++;
    this.#failures++;
    this.#failuresInRow++;
    if ((this.#failuresInRow - 1) % LOG_EVERY_FAILURES === 0) {
      this.#logger.warn(`cannot read the pod list from the kubelet${hint ? `: ${hint}` : ''}`, {
        url: this.#podsUrl.href,
        ...(status === undefined ? {} : { status }),
        ...(code === undefined ? {} : { code }),
        error: message,
        failures: this.#failuresInRow,
      });
    }
  }
}
