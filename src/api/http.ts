/**
 * The HTTP API of a node (DESIGN.md section 5), on fastify.
 *
 *   PUT    /kv/:key          body = value (any content type, kept); 204 + X-Shoal-Context
 *   GET    /kv/:key          200 value | 300 JSON siblings | 404 JSON; always X-Shoal-Context
 *   DELETE /kv/:key          204 + X-Shoal-Context
 *   GET    /kv?prefix=&after=&limit=  a page of keys in byte order (listRoute.ts)
 *   GET    /admin/status     200 JSON once serving (503 while stopping): node, cluster, peers, hints
 *   GET    /admin/local/:key 200 JSON of the versions this node holds | 404 JSON
 *   GET    /admin/ring, /admin/transfers; POST /admin/join, /admin/leave, /admin/remove
 *                             membership (membershipRoutes.ts)
 *   GET    /admin/backup/:partition, POST /admin/restore   backups (backupRoutes.ts)
 *   GET    /metrics          Prometheus text
 *
 * Before any route, every request passes auth/httpGuard.ts: loopback Host names only on a
 * loopback-bound node (403 BAD_HOST), no cross-origin changes (403 CROSS_ORIGIN), with
 * users `Authorization: Basic` and a role high enough (401 UNAUTHENTICATED, 403
 * FORBIDDEN, 503 AUTH_BUSY), admin POST bodies as JSON (415 UNSUPPORTED_MEDIA_TYPE). With
 * `tls` the API is served over HTTPS.
 *
 * Keys are the URL-decoded path segment as UTF-8 bytes (`/` inside a key is sent as %2F).
 * Every error is JSON `{ "error": "<reason>" }` (plus `"code"` for the node's request errors:
 * KEY_TOO_LONG, QUORUM_UNREACHABLE, …); a 4xx changes nothing stored. A 503 for
 * a quorum that was not reached (or not in time) adds `"replicas": { needed, answered,
 * failed, targets }`; such a write may still take effect where it landed.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { keyBytes } from '../core/hash.ts';
import type { StoredObject } from '../core/object.ts';
import { isLoopbackHost, type NodeConfig } from '../node/config.ts';
import { RequestError } from '../node/errors.ts';
import {
  CONTEXT_HEADER,
  HTTP_HEADERS_RECEIVE_MS_MAX,
  HTTP_KEEP_ALIVE_MS,
  HTTP_REQUEST_RECEIVE_MS_MAX,
  HTTP_SOCKET_IDLE_MS_MAX,
  NODE_HEADER,
  NO_QUERY_SCHEMA,
  nodeErrorAnswer,
  type ErrorAnswer,
  type HttpApiOptions,
} from './httpContract.ts';
import { httpGuard, requestHasBody, WWW_AUTHENTICATE, type GuardVerdict, type HttpRefusal } from './auth/httpGuard.ts';
import { kvRoute, siblingJson } from './kvRoute.ts';
import { TLS_HANDSHAKE_MS_MAX, type TlsFiles } from './tls.ts';
import { registerMembershipRoutes } from './membershipRoutes.ts';
import { registerListRoute } from './listRoute.ts';
import { registerBackupRoutes } from './backupRoutes.ts';
import { registerDashboardRoutes } from './dashboard/routes.ts';

export { CONTEXT_HEADER, HTTP_HEADERS_RECEIVE_MS_MAX, HTTP_KEEP_ALIVE_MS, HTTP_REQUEST_RECEIVE_MS_MAX, HTTP_SOCKET_IDLE_MS_MAX, NODE_HEADER, TLS_HANDSHAKE_MS_MAX, type HttpApiOptions, type TlsFiles };

type Listener = (request: IncomingMessage, response: ServerResponse) => void;

interface KeyParams {
  key: string;
}

/** Builds the fastify instance (not listening yet). */
export function buildHttpApi(options: HttpApiOptions): FastifyInstance {
  const { config, logger } = options;
  const kv = kvRoute(options);
  const app = Fastify({
    // The key-value route runs on the server itself (kvRoute.ts); fastify gets the rest;
    // the guard comes before both.
    serverFactory: (handler) => createApiServer(options, guarded(options, (request, response) => {
      if (!kv(request, response)) handler(request, response);
    })),
    logger: false,
    bodyLimit: config.valueBytesMax,
    routerOptions: { maxParamLength: config.keyBytesMax * 3 },
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
  registerAdminRoutes(app, options);
  registerMembershipRoutes(app, options.node);
  registerListRoute(app, options.node, config.keyBytesMax);
  registerBackupRoutes(app, options);
  // GET / (the live dashboard page), /dashboard/:file, /admin/dashboard (its JSON)
  registerDashboardRoutes(app, options);
  logger.debug({ bodyLimit: config.valueBytesMax }, 'http api built');
  return app;
}

/** HTTP, or HTTPS with `tls`, with the same limits. */
function createApiServer({ tls }: HttpApiOptions, listener: Listener): Server {
  const server = tls === undefined ? createServer(listener) : createHttpsServer({ key: tls.key, cert: tls.cert, ca: tls.ca, handshakeTimeout: TLS_HANDSHAKE_MS_MAX }, listener);
  // Fastify leaves the limits of a server it did not make to its maker.
  server.keepAliveTimeout = HTTP_KEEP_ALIVE_MS;
  server.requestTimeout = HTTP_REQUEST_RECEIVE_MS_MAX;
  server.headersTimeout = HTTP_HEADERS_RECEIVE_MS_MAX;
  server.setTimeout(HTTP_SOCKET_IDLE_MS_MAX);
  // An HTTPS server is an HTTP server to fastify: it only listens, closes and hands over requests.
  return server as Server;
}

/** `serve` behind the guard: a request it refuses is answered here and reaches no route. */
function guarded(options: HttpApiOptions, serve: Listener): Listener {
  const guard = httpGuard({ auth: options.auth, loopbackOnly: isLoopbackHost(options.config.http.host), logger: options.logger });
  return (request, response) => {
    const verdict = guard(request);
    if (verdict === undefined) {
      serve(request, response);
    } else if (verdict instanceof Promise) {
      const startedMs = performance.now();
      verdict.then(
        (settled: GuardVerdict) => (settled === undefined ? serve(request, response) : refuse(options, request, response, settled, startedMs)),
        (error: unknown) => {
          options.logger.error({ err: error, method: request.method, url: request.url }, 'authentication failed');
          refuse(options, request, response, { status: 500, code: 'INTERNAL', error: 'authentication failed on the node' }, startedMs);
        },
      );
    } else {
      refuse(options, request, response, verdict, performance.now());
    }
  };
}

function refuse(
  { config, metrics }: HttpApiOptions,
  request: IncomingMessage,
  response: ServerResponse,
  refusal: Pick<HttpRefusal, 'status' | 'error'> & { readonly code: string },
  startedMs: number,
): void {
  if (response.destroyed) return;
  const body = Buffer.from(JSON.stringify({ error: refusal.error, code: refusal.code }));
  response.statusCode = refusal.status;
  response.setHeader(NODE_HEADER, config.id);
  response.setHeader('content-type', 'application/json; charset=utf-8');
  response.setHeader('content-length', body.length);
  if (refusal.status === 401) response.setHeader('www-authenticate', WWW_AUTHENTICATE);
  // The body is not read: the connection cannot carry another request after it.
  if (requestHasBody(request)) response.shouldKeepAlive = false;
  response.end(body);
  metrics.observeRequest('refused', request.method ?? '', refusal.status, performance.now() - startedMs);
}

function passBody(_request: FastifyRequest, body: Buffer, done: (error: Error | null, body?: Buffer) => void): void {
  done(null, body);
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

/** Fastify's own errors (request parsing) as HTTP knows them; every other one as nodeErrorAnswer says. */
function errorHandler(options: HttpApiOptions) {
  return (error: FastifyError | Error, request: FastifyRequest, reply: FastifyReply): void => {
    const { status, body } = fastifyErrorAnswer(error, options.config) ?? nodeErrorAnswer(options, request, error);
    void reply.code(status).send(body);
  };
}

function fastifyErrorAnswer(error: FastifyError | Error, config: NodeConfig): ErrorAnswer | undefined {
  if (error instanceof RequestError) return undefined;
  const fastifyError = error as FastifyError;
  if (fastifyError.validation !== undefined) return { status: 400, body: { error: validationMessage(fastifyError), code: 'REQUEST_OPTION_INVALID' } };
  if (fastifyError.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
    return { status: 413, body: { error: `value is larger than valueBytesMax (${config.valueBytesMax} bytes)`, code: 'VALUE_TOO_LARGE' } };
  }
  if (fastifyError.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') {
    return { status: 415, body: { error: 'content-type header is not a valid media type (type/subtype)', code: 'CONTENT_TYPE_INVALID' } };
  }
  const status = fastifyError.statusCode;
  if (status !== undefined && status >= 400 && status < 500) return { status, body: { error: fastifyError.message } };
  return undefined;
}

function validationMessage(error: FastifyError): string {
  const first = error.validation?.[0];
  if (first === undefined) return error.message;
  const params = first.params as Record<string, unknown>;
  if (first.keyword === 'additionalProperties') return `unknown query parameter "${String(params.additionalProperty)}"`;
  const name = first.instancePath.replace(/^\//, '');
  // Every query parameter a route declares is text: a type error is a parameter given twice.
  if (error.validationContext === 'querystring' && name !== '') return `query parameter ${name} must be given once, as text`;
  return `${error.validationContext ?? 'request'} ${first.message ?? 'is invalid'}`;
}
