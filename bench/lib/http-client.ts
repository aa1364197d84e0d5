/**
 * A minimal keep-alive HTTP client for Shoal's key-value API (node:http, no extra
 * dependency), and for other HTTP APIs through request(). The agent holds at most `maxSockets` connections; callers bound their own
 * in-flight requests to the same number so no request waits inside the agent unseen.
 *
 * A node started secure (TLS and a users file) is reached through node:https with the
 * cluster CA and Basic credentials (SecureAccess): global fetch cannot take a custom CA.
 * Whether a client is secure is settled when it is made: per request, a plain one pays one
 * comparison more than before, and nothing else.
 */
import { Agent, request, type IncomingHttpHeaders } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';

/** How a client reaches a node started secure: HTTPS trusting the cluster CA alone, Basic credentials on every request. */
export interface SecureAccess {
  /** The cluster CA's certificate, PEM. */
  readonly caPem: string;
  /** The `Authorization` header value: `Basic base64(user:password)`. */
  readonly authorization: string;
}

export function basicAuthorization(user: string, password: string): string {
  return `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
}

export interface KvResult {
  /** HTTP status, or 0 when the request failed before a response (see `error`). */
  status: number;
  /** `X-Shoal-Context` of the response, when present. */
  context: string | undefined;
  /** Network error code or message when status is 0. */
  error: string | undefined;
  /** Response body, only when `readBody` was asked for. */
  body: Buffer | undefined;
}

export interface KvClientOptions {
  maxSockets: number;
  /** Per-request timeout; a request past it fails with error 'TIMEOUT'. */
  timeoutMs?: number;
  /**
   * Idle keep-alive connections are closed after this long. Keep it below the server's
   * keep-alive timeout (Node's default is 5 s), or a request can be written on a
   * connection the server is closing and fail with ECONNRESET. Default 4000.
   */
  idleTimeoutMs?: number;
  /** The node is secure (its URL is https://): how to reach it. */
  secure?: SecureAccess | undefined;
}

export class KvClient {
  private readonly agent: Agent;
  private readonly send: typeof request;
  private readonly url: URL;
  private readonly timeoutMs: number;
  /** Sent with every request when the node is secure; undefined for a plain node. */
  private readonly authorization: string | undefined;

  constructor(baseUrl: string, options: KvClientOptions) {
    this.url = new URL(baseUrl);
    const secure = options.secure;
    if ((this.url.protocol === 'https:') !== (secure !== undefined)) {
      throw new Error(`KvClient: ${baseUrl} needs ${secure === undefined ? 'the secure option (CA and credentials)' : 'an https:// URL'}`);
    }
    const agentOptions = {
      keepAlive: true,
      maxSockets: options.maxSockets,
      maxFreeSockets: options.maxSockets,
      timeout: options.idleTimeoutMs ?? 4000,
    };
    this.agent = secure === undefined ? new Agent(agentOptions) : new HttpsAgent({ ...agentOptions, ca: secure.caPem });
    this.send = secure === undefined ? request : httpsRequest;
    this.authorization = secure?.authorization;
    this.timeoutMs = options.timeoutMs ?? 10_000;
  }

  put(key: string, value: Buffer, context?: string, query = ''): Promise<KvResult> {
    const headers: Record<string, string | number> = {
      'content-type': 'application/octet-stream',
      'content-length': value.length,
    };
    if (context !== undefined) headers['x-shoal-context'] = context;
    return this.request('PUT', `/kv/${encodeURIComponent(key)}${query}`, headers, value, false);
  }

  get(key: string, query = ''): Promise<KvResult> {
    return this.request('GET', `/kv/${encodeURIComponent(key)}${query}`, {}, undefined, true);
  }

  close(): void {
    this.agent.destroy();
  }

  /** Any request on the keep-alive connections (e.g. etcd's JSON gateway: POST with a JSON body, `readBody` true). */
  request(
    method: string,
    path: string,
    headers: Record<string, string | number>,
    body: Buffer | undefined,
    readBody: boolean,
  ): Promise<KvResult> {
    return new Promise((resolve) => {
      let settled = false;
      const finish = (status: number, resHeaders: IncomingHttpHeaders | undefined, error: string | undefined, data?: Buffer): void => {
        if (settled) return;
        settled = true;
        const ctx = resHeaders?.['x-shoal-context'];
        resolve({ status, context: Array.isArray(ctx) ? ctx[0] : ctx, error, body: data });
      };
      const sent = this.authorization === undefined ? headers : { ...headers, authorization: this.authorization };
      const req = this.send(
        { agent: this.agent, hostname: this.url.hostname, port: this.url.port, method, path, headers: sent },
        (res) => {
          const chunks: Buffer[] = [];
          if (readBody) res.on('data', (c: Buffer) => chunks.push(c));
          else res.resume();
          res.once('end', () => finish(res.statusCode ?? 0, res.headers, undefined, readBody ? Buffer.concat(chunks) : undefined));
          res.once('error', (e) => finish(0, undefined, errorCode(e)));
        },
      );
      req.setTimeout(this.timeoutMs, () => {
        req.destroy(Object.assign(new Error('request timeout'), { code: 'TIMEOUT' }));
      });
      req.once('error', (e) => finish(0, undefined, errorCode(e)));
      req.end(body);
    });
  }
}

/**
 * One GET without keep-alive (readiness polls, status, metrics): fetch for a plain node;
 * node:https with the CA and the credentials for a secure one.
 */
export async function getOnce(url: string, timeoutMs: number, secure?: SecureAccess): Promise<{ status: number; body: string }> {
  if (secure === undefined) {
    const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    return { status: res.status, body: await res.text() };
  }
  return new Promise((resolve, reject) => {
    const options = { agent: false as const, ca: secure.caPem, headers: { authorization: secure.authorization }, signal: AbortSignal.timeout(timeoutMs) };
    const req = httpsRequest(url, options, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.once('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      res.once('error', reject);
    });
    req.once('error', reject);
    req.end();
  });
}

function errorCode(error: unknown): string {
  if (error instanceof Error) return (error as NodeJS.ErrnoException).code ?? error.message;
  return String(error);
}
