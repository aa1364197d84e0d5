/** What the HTTP API's parts share: its options, the headers clients rely on, its limits. */
import type { Authenticator } from './auth/authenticator.ts';
import type { NodeConfig } from '../node/config.ts';
import { translateError, type ErrorCode, type ReplicaCounts } from '../node/errors.ts';
import type { ShoalNode } from '../node/shoalNode.ts';
import type { Logger } from '../ports/logger.ts';
import type { NodeMetrics } from './metrics.ts';
import type { TlsFiles } from './tls.ts';

/** The context header, lower-case as Node's parser delivers it. */
export const CONTEXT_HEADER = 'x-shoal-context';
/** Every response names the node that answered (a client maps node ids, as contexts name them, to URLs). */
export const NODE_HEADER = 'x-shoal-node';

/** Longest time to receive one whole request (headers and body), against slow clients. */
export const HTTP_REQUEST_RECEIVE_MS_MAX = 30_000;
/** Longest time to receive a request's headers. */
export const HTTP_HEADERS_RECEIVE_MS_MAX = 10_000;
/** An idle keep-alive connection is closed after this long. */
export const HTTP_KEEP_ALIVE_MS = 5_000;
/** A socket with no activity at all is closed after this long. */
export const HTTP_SOCKET_IDLE_MS_MAX = 60_000;

/** The schema of a route that takes no query parameters (fastify answers 400 to any). */
export const NO_QUERY_SCHEMA = { querystring: { type: 'object', properties: {}, additionalProperties: false } } as const;

export interface HttpApiOptions {
  readonly node: ShoalNode;
  /** `config.http` says where the API is bound: bound to loopback, it answers loopback Host names only (DNS rebinding). */
  readonly config: NodeConfig;
  readonly metrics: NodeMetrics;
  readonly logger: Logger;
  /** The node's users: with it every request must authenticate (auth/httpGuard.ts); without it, none does. */
  readonly auth?: Authenticator;
  /** Serve HTTPS with these instead of HTTP. */
  readonly tls?: TlsFiles;
}

/** An error's answer: its status and JSON body. */
export interface ErrorAnswer {
  readonly status: number;
  readonly body: { readonly error: string; readonly code?: ErrorCode; readonly replicas?: ReplicaCounts };
}

/**
 * A node's error as every HTTP route answers it (errors.ts's table: the status, the reason,
 * the code, and the replica counts of a missed quorum), logged: a missed quorum as a
 * warning, any other 5xx as an error (and a storage failure counted in the metrics).
 */
export function nodeErrorAnswer({ logger, metrics }: HttpApiOptions, request: { readonly method?: string; readonly url?: string }, error: unknown): ErrorAnswer {
  const { httpStatus: status, message, code, replicas } = translateError(error);
  if (replicas !== undefined) {
    logger.warn({ method: request.method, url: request.url, status, replicas, reason: message }, 'request failed its quorum');
  } else if (status >= 500) {
    if (code === 'STORAGE_ERROR') metrics.observeRequestEngineError();
    logger.error({ err: error, method: request.method, url: request.url, status }, 'request failed');
  }
  return { status, body: replicas === undefined ? { error: message, code } : { error: message, code, replicas } };
}
