/** What the HTTP API's parts share: its options, the headers clients rely on, its limits. */
import type { NodeConfig } from '../node/config.ts';
import type { ShoalNode } from '../node/shoalNode.ts';
import type { Logger } from '../ports/logger.ts';
import type { NodeMetrics } from './metrics.ts';

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

export interface HttpApiOptions {
  readonly node: ShoalNode;
  readonly config: NodeConfig;
  readonly metrics: NodeMetrics;
  readonly logger: Logger;
}
