/**
 * One HTTP exchange with one node over a keep-alive connection (node:http, or node:https
 * for an https:// node, no dependency), with a timeout, telling apart a request that
 * certainly never reached the node (the connection was refused) from one that may have.
 */
import { Agent as HttpAgent, request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';

export interface HttpAnswer {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
}

export class HttpAttemptError extends Error {
  override readonly name = 'HttpAttemptError';
  constructor(
    message: string,
    /** False only when the request certainly never left (a refused or failed connect). */
    readonly mayHaveArrived: boolean,
  ) {
    super(message);
  }
}

/** Answers larger than this are not Shoal's (a value is at most 1 GiB of config, far less by default). */
const ANSWER_BYTES_MAX = 64 * 1024 * 1024;
/** Connections per node kept open at most. */
const SOCKETS_PER_NODE_MAX = 256;
/** Idle keep-alive connections close before the node's own keep-alive timeout (5 s) does. */
const IDLE_SOCKET_MS = 4000;

/** How to reach a node: credentials for its users file, the CA its https:// certificate is checked against. */
export interface NodeAccess {
  readonly auth?: { readonly user: string; readonly password: string };
  readonly ca?: string | Buffer;
}

export class NodeConnection {
  private readonly agent: HttpAgent;
  private readonly request: typeof httpRequest;
  /** `Basic …`, computed once. */
  private readonly authorization: string | undefined;

  constructor(
    readonly url: URL,
    access: NodeAccess = {},
  ) {
    const agentOptions = { keepAlive: true, maxSockets: SOCKETS_PER_NODE_MAX, maxFreeSockets: SOCKETS_PER_NODE_MAX, timeout: IDLE_SOCKET_MS };
    const secure = url.protocol === 'https:';
    this.agent = secure ? new HttpsAgent({ ...agentOptions, ca: access.ca }) : new HttpAgent(agentOptions);
    this.request = secure ? httpsRequest : httpRequest;
    this.authorization = access.auth === undefined ? undefined : `Basic ${Buffer.from(`${access.auth.user}:${access.auth.password}`, 'utf8').toString('base64')}`;
  }

  send(method: string, path: string, headers: Record<string, string | number>, body: Uint8Array | undefined, timeoutMs: number): Promise<HttpAnswer> {
    return new Promise((resolve, reject) => {
      let settled = false;
      let connected = false;
      const fail = (error: HttpAttemptError): void => {
        if (settled) return;
        settled = true;
        req.destroy();
        reject(error);
      };
      const allHeaders = this.authorization === undefined ? headers : { ...headers, authorization: this.authorization };
      const req = this.request(
        { host: this.url.hostname, port: this.url.port, method, path, headers: allHeaders, agent: this.agent },
        (response) => {
          const chunks: Buffer[] = [];
          let bytes = 0;
          response.on('data', (chunk: Buffer) => {
            bytes += chunk.length;
            if (bytes > ANSWER_BYTES_MAX) fail(new HttpAttemptError(`answer larger than ${ANSWER_BYTES_MAX} bytes`, true));
            else chunks.push(chunk);
          });
          response.on('end', () => {
            if (settled) return;
            settled = true;
            clearTimeout(timer);
            resolve({ status: response.statusCode ?? 0, headers: response.headers, body: Buffer.concat(chunks) });
          });
          response.on('error', (error) => fail(new HttpAttemptError(`answer cut off: ${error.message}`, true)));
        },
      );
      const timer = setTimeout(() => fail(new HttpAttemptError(`no answer within ${timeoutMs} ms`, true)), timeoutMs);
      req.on('socket', (socket) => {
        if (!socket.connecting) connected = true;
        else socket.once('connect', () => (connected = true));
      });
      req.on('error', (error: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        const neverSent = !connected || error.code === 'ECONNREFUSED';
        fail(new HttpAttemptError(`${error.code ?? 'error'}: ${error.message}`, !neverSent));
      });
      req.end(body === undefined ? undefined : Buffer.from(body.buffer, body.byteOffset, body.byteLength));
    });
  }

  close(): void {
    this.agent.destroy();
  }
}
