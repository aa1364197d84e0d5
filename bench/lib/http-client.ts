/**
 * A minimal keep-alive HTTP client for Shoal's key-value API (node:http, no extra
 * dependency), and for other HTTP APIs through request(). The agent holds at most `maxSockets` connections; callers bound their own
 * in-flight requests to the same number so no request waits inside the agent unseen.
 */
import { Agent, request, type IncomingHttpHeaders } from 'node:http';

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
}

export class KvClient {
  private readonly agent: Agent;
  private readonly url: URL;
  private readonly timeoutMs: number;

  constructor(baseUrl: string, options: KvClientOptions) {
    this.url = new URL(baseUrl);
    this.agent = new Agent({
      keepAlive: true,
      maxSockets: options.maxSockets,
      maxFreeSockets: options.maxSockets,
      timeout: options.idleTimeoutMs ?? 4000,
    });
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
      const req = request(
        { agent: this.agent, hostname: this.url.hostname, port: this.url.port, method, path, headers },
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

function errorCode(error: unknown): string {
  if (error instanceof Error) return (error as NodeJS.ErrnoException).code ?? error.message;
  return String(error);
}
