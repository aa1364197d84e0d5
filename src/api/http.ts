/**
 * The HTTP API of a node (DESIGN.md section 5), on fastify.
 *
 *   PUT    /kv/:key          body = value (any content type, kept); 204 + X-Shoal-Context
 *   GET    /kv/:key          200 value | 300 JSON siblings | 404 JSON; always X-Shoal-Context
 *   DELETE /kv/:key          204 + X-Shoal-Context
 *   GET    /admin/status     200 JSON once serving (503 while stopping): node, cluster, peers, hints
 *   GET    /admin/local/:key 200 JSON of the versions this node holds | 404 JSON
 *   GET    /admin/ring, /admin/transfers; POST /admin/join, /admin/leave, /admin/remove
 *                             membership (membershipRoutes.ts)
 *   GET    /metrics          Prometheus text
 *
 * Keys are the URL-decoded path segment as UTF-8 bytes (`/` inside a key is sent as %2F).
 * Every error is JSON `{ "error": "<reason>" }` (plus `"code"` for the node's request errors:
 * KEY_TOO_LONG, QUORUM_UNREACHABLE, …); a 4xx changes nothing stored. A 503 for
 * a quorum that was not reached (or not in time) adds `"replicas": { needed, answered,
 * failed, targets }`; such a write may still take effect where it landed.
 */
import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { keyBytes } from '../core/hash.ts';
import type { Sibling, StoredObject } from '../core/object.ts';
import type { Logger } from '../ports/logger.ts';
import { StorageError } from '../ports/storage.ts';
import { CorruptObjectError } from '../storage/objectCodec.ts';
import { BufferFullError, StoreClosedError } from '../storage/objectStore.ts';
import type { NodeConfig } from '../node/config.ts';
import { QuorumUnreachableError, RequestError, RequestTimeoutError, type ReplicaCounts, type RequestErrorCode } from '../node/errors.ts';
import { readOutcome } from '../node/readOutcome.ts';
import { CONTENT_TYPE_DEFAULT, type RequestOptions } from '../node/request.ts';
import type { ShoalNode } from '../node/shoalNode.ts';
import { registerMembershipRoutes } from './membershipRoutes.ts';
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

const STATUS_OF_CODE: Readonly<Record<RequestErrorCode, number>> = {
  KEY_EMPTY: 400,
  KEY_TOO_LONG: 414,
  VALUE_TOO_LARGE: 413,
  CONTENT_TYPE_INVALID: 400,
  CONTEXT_INVALID: 400,
  REQUEST_OPTION_INVALID: 400,
  TOO_MANY_SIBLINGS: 409,
  NODE_NOT_SERVING: 503,
  REQUEST_TIMEOUT: 503,
  QUORUM_UNREACHABLE: 503,
  OVERLOADED: 503,
};

/** n, r, w as decimal integers; their range is checked by the node (it knows N). */
const QUORUM_PARAM = { type: 'string', pattern: '^[0-9]{1,6}$' } as const;
const KV_SCHEMA = {
  querystring: {
    type: 'object',
    properties: { n: QUORUM_PARAM, r: QUORUM_PARAM, w: QUORUM_PARAM },
    additionalProperties: false,
  },
} as const;
const NO_QUERY_SCHEMA = { querystring: { type: 'object', properties: {}, additionalProperties: false } } as const;

interface KeyParams {
  key: string;
}
interface QuorumQuery {
  n?: string;
  r?: string;
  w?: string;
}
type KvRequest = FastifyRequest<{ Params: KeyParams; Querystring: QuorumQuery }>;

/** Builds the fastify instance (not listening yet). */
export function buildHttpApi(options: HttpApiOptions): FastifyInstance {
  const { config, logger } = options;
  const app = Fastify({
    logger: false,
    bodyLimit: config.valueBytesMax,
    routerOptions: { maxParamLength: config.keyBytesMax * 3 },
    requestTimeout: HTTP_REQUEST_RECEIVE_MS_MAX,
    keepAliveTimeout: HTTP_KEEP_ALIVE_MS,
    connectionTimeout: HTTP_SOCKET_IDLE_MS_MAX,
    return503OnClosing: true,
    forceCloseConnections: 'idle',
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false, allErrors: false } },
    frameworkErrors: (error, _request, reply) => {
      const status = error.code === 'FST_ERR_MAX_PARAM_LENGTH' ? 414 : 400;
      const message =
        status === 414 ? `key is longer than keyBytesMax (${config.keyBytesMax} bytes)` : `bad request URL: ${error.message}`;
      void (reply as FastifyReply).code(status).send(status === 414 ? { error: message, code: 'KEY_TOO_LONG' } : { error: message });
    },
  });
  app.server.headersTimeout = HTTP_HEADERS_RECEIVE_MS_MAX;
  // Values are opaque bytes whatever their content type: no JSON or text parsing.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, passBody);
  app.setErrorHandler(errorHandler(options));
  app.setNotFoundHandler(notFound);
  app.addHook('onResponse', (request, reply, done) => {
    options.metrics.observeRequest(request.routeOptions.url ?? 'unmatched', request.method, reply.statusCode, reply.elapsedTime);
    done();
  });
  app.addHook('onSend', (_request, reply, payload, done) => {
    void reply.header(NODE_HEADER, config.id);
    done(null, payload);
  });
  registerKvRoutes(app, options);
  registerAdminRoutes(app, options);
  registerMembershipRoutes(app, options.node);
  logger.debug({ bodyLimit: config.valueBytesMax }, 'http api built');
  return app;
}

function passBody(_request: FastifyRequest, body: Buffer, done: (error: Error | null, body?: Buffer) => void): void {
  done(null, body);
}

function registerKvRoutes(app: FastifyInstance, { node }: HttpApiOptions): void {
  app.get('/kv/:key', { schema: KV_SCHEMA }, async (request: KvRequest, reply) => {
    const result = await node.get(keyOf(request), quorumOf(request.query));
    void reply.header(CONTEXT_HEADER, result.context);
    return sendRead(reply, result.object, result.context);
  });

  app.put('/kv/:key', { schema: KV_SCHEMA }, async (request: KvRequest, reply) => {
    const body = request.body as Buffer | undefined;
    const result = await node.put(
      keyOf(request),
      { value: body ?? EMPTY_BODY, contentType: request.headers['content-type'] ?? CONTENT_TYPE_DEFAULT, context: contextOf(request) },
      quorumOf(request.query),
    );
    return reply.code(204).header(CONTEXT_HEADER, result.context).send();
  });

  app.delete('/kv/:key', { schema: KV_SCHEMA }, async (request: KvRequest, reply) => {
    const result = await node.delete(keyOf(request), contextOf(request), quorumOf(request.query));
    return reply.code(204).header(CONTEXT_HEADER, result.context).send();
  });
}

function registerAdminRoutes(app: FastifyInstance, { node, metrics }: HttpApiOptions): void {
  app.get('/admin/status', { schema: NO_QUERY_SCHEMA }, async (_request, reply) => {
    const status = node.status();
    if (status.state !== 'serving') return reply.code(503).send({ error: `node is ${status.state}`, status });
    return reply.send(status);
  });

  app.get('/admin/local/:key', { schema: NO_QUERY_SCHEMA }, async (request: FastifyRequest<{ Params: KeyParams }>, reply) => {
    const key = keyBytes(request.params.key);
    const local = node.localVersions(key);
    if (local === undefined) return reply.code(404).send({ error: 'this node holds no version of the key' });
    return reply.send({ key: request.params.key, partition: local.partition, ...objectJson(local.object) });
  });

  app.get('/metrics', { schema: NO_QUERY_SCHEMA }, async (_request, reply) => {
    const text = await metrics.exposition();
    return reply.type(metrics.contentType).send(text);
  });
}

function sendRead(reply: FastifyReply, object: StoredObject | undefined, context: string): FastifyReply {
  const outcome = readOutcome(object);
  switch (outcome.kind) {
    case 'value':
      return reply.type(outcome.sibling.contentType).send(asBuffer(outcome.sibling.value));
    case 'siblings':
      return reply.code(300).send({ context, siblings: outcome.siblings.map(siblingJson) });
    case 'deleted':
      return reply.code(404).send({ error: 'key is deleted', context });
    case 'absent':
      return reply.code(404).send({ error: 'key not found', context });
  }
}

function siblingJson(sibling: Sibling): { value: string; contentType: string; deleted: boolean } {
  return { value: asBuffer(sibling.value).toString('base64'), contentType: sibling.contentType, deleted: sibling.deleted };
}

/** Everything the node holds: the vector, and each sibling with its dot and time. */
function objectJson(object: StoredObject): object {
  return {
    vector: object.vector.map((entry) => ({ actor: entry.actor, counter: entry.counter, timeMs: entry.timeMs })),
    siblings: object.siblings.map((sibling) => ({
      ...siblingJson(sibling),
      dot: { actor: sibling.dot.actor, counter: sibling.dot.counter },
      timeMs: sibling.timeMs,
    })),
  };
}

function keyOf(request: KvRequest): Uint8Array {
  return keyBytes(request.params.key);
}

function contextOf(request: FastifyRequest): string | undefined {
  const header = request.headers[CONTEXT_HEADER];
  if (header === undefined || typeof header === 'string') return header;
  throw new RequestError('CONTEXT_INVALID', `bad context: send one ${CONTEXT_HEADER} header`);
}

const NO_QUORUM: RequestOptions = {};

function quorumOf(query: QuorumQuery): RequestOptions {
  if (query.n === undefined && query.r === undefined && query.w === undefined) return NO_QUORUM;
  return { n: optionalInt(query.n), r: optionalInt(query.r), w: optionalInt(query.w) };
}

function optionalInt(text: string | undefined): number | undefined {
  return text === undefined ? undefined : Number(text);
}

function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

const EMPTY_BODY = Buffer.alloc(0);

const KV_PATH = /^\/kv\/[^/?]*(\?.*)?$/;
const KV_METHODS = 'GET, HEAD, PUT, DELETE';

/** 405 for a wrong method on a key; otherwise 404, with a hint for keys holding a raw `/`. */
function notFound(request: FastifyRequest, reply: FastifyReply): void {
  if (KV_PATH.test(request.url)) {
    void reply.code(405).header('allow', KV_METHODS).send({ error: `method ${request.method} not allowed on /kv/:key (use ${KV_METHODS})` });
    return;
  }
  const hint = request.url.startsWith('/kv/') ? ' (a key is one path segment: send / as %2F)' : '';
  void reply.code(404).send({ error: `no route ${request.method} ${request.url.split('?')[0] ?? ''}${hint}` });
}

/** Maps every error to a status and a JSON reason; logs the ones that are not the client's. */
function errorHandler({ config, logger, metrics }: HttpApiOptions) {
  return (error: FastifyError | Error, request: FastifyRequest, reply: FastifyReply): void => {
    const { status, message, code } = describeError(error, config);
    const replicas = replicasOf(error);
    if (replicas !== undefined) {
      logger.warn({ method: request.method, url: request.url, status, replicas, reason: message }, 'request failed its quorum');
    } else if (status >= 500) {
      if (error instanceof StorageError || error instanceof CorruptObjectError) metrics.observeRequestEngineError();
      logger.error({ err: error, method: request.method, url: request.url, status }, 'request failed');
    }
    const body = code === undefined ? { error: message } : { error: message, code };
    void reply.code(status).send(replicas === undefined ? body : { ...body, replicas });
  };
}



/** How many replicas a request that missed its quorum reached (for the 503's JSON). */
function replicasOf(error: unknown): ReplicaCounts | undefined {
  if (error instanceof QuorumUnreachableError || error instanceof RequestTimeoutError) return error.replicas;
  return undefined;
}

/** The status, the reason, and the code a client can act on (retry elsewhere or not), when there is one. */
function describeError(error: FastifyError | Error, config: NodeConfig): { status: number; message: string; code?: RequestErrorCode } {
  if (error instanceof RequestError) return { status: STATUS_OF_CODE[error.code], message: error.message, code: error.code };
  if (error instanceof BufferFullError) return { status: 503, message: `overloaded: ${error.message}`, code: 'OVERLOADED' };
  if (error instanceof StoreClosedError) return { status: 503, message: 'node is stopping', code: 'NODE_NOT_SERVING' };
  if (error instanceof StorageError) return { status: 500, message: `storage engine failure: ${error.message}` };
  if (error instanceof CorruptObjectError) return { status: 500, message: `storage engine failure: ${error.message}` };
  const fastifyError = error as FastifyError;
  if (fastifyError.validation !== undefined) return { status: 400, message: validationMessage(fastifyError), code: 'REQUEST_OPTION_INVALID' };
  if (fastifyError.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
    return { status: 413, message: `value is larger than valueBytesMax (${config.valueBytesMax} bytes)`, code: 'VALUE_TOO_LARGE' };
  }
  if (fastifyError.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') {
    return { status: 415, message: 'content-type header is not a valid media type (type/subtype)', code: 'CONTENT_TYPE_INVALID' };
  }
  const status = fastifyError.statusCode;
  if (status !== undefined && status >= 400 && status < 500) return { status, message: fastifyError.message };
  return { status: 500, message: 'internal error' };
}

function validationMessage(error: FastifyError): string {
  const first = error.validation?.[0];
  if (first === undefined) return error.message;
  const params = first.params as Record<string, unknown>;
  if (first.keyword === 'additionalProperties') return `unknown query parameter "${String(params.additionalProperty)}"`;
  const name = first.instancePath.replace(/^\//, '');
  if (error.validationContext === 'querystring' && name !== '') return `query parameter ${name} must be a positive integer`;
  return `${error.validationContext ?? 'request'} ${first.message ?? 'is invalid'}`;
}
