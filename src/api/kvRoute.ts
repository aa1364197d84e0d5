/**
 * `/kv/:key` on plain node:http, ahead of fastify: the requests every client sends, without
 * a framework's routing, hooks, schema validation and reply objects on their path. It
 * answers exactly as the fastify routes did (http.ts keeps the admin routes): the same
 * statuses, headers, JSON errors and limits. Anything that is not a GET, HEAD, PUT or
 * DELETE of one `/kv/` path segment goes on to fastify (its 404 and 405 answers).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { keyBytes } from '../core/hash.ts';
import type { Sibling } from '../core/object.ts';
import { RequestError } from '../node/errors.ts';
import { readOutcome } from '../node/readOutcome.ts';
import { CONTENT_TYPE_DEFAULT, type RequestOptions } from '../node/request.ts';
import type { ReadResult, WriteResult } from '../node/shoalNode.ts';
import { CONTEXT_HEADER, NODE_HEADER, nodeErrorAnswer, type HttpApiOptions } from './httpContract.ts';

const KV_PREFIX = '/kv/';
const KV_ROUTE = '/kv/:key';
const JSON_TYPE = 'application/json; charset=utf-8';
/** n, r, w as decimal integers; their range is checked by the node (it knows N). */
const QUORUM_VALUE = /^[0-9]{1,6}$/;
const QUORUM_NAMES = new Set(['n', 'r', 'w']);
/** type/subtype (RFC 9110 tokens), then parameters. */
const MEDIA_TYPE = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+\/[!#$%&'*+.^_`|~0-9A-Za-z-]+\s*(;.*)?$/;
const NO_QUORUM: RequestOptions = {};
const EMPTY_BODY = Buffer.alloc(0);

type KvMethod = 'GET' | 'HEAD' | 'PUT' | 'DELETE';

/** An answer to write: status, headers, body. */
interface Answer {
  status: number;
  contentType: string | undefined;
  context: string | undefined;
  body: Buffer | undefined;
}

/** A client's mistake, answered before the node is asked (no code: not the node's refusal). */
class HttpRefusal extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly code?: string,
  ) {
    super(message);
  }
}

/**
 * Returns the handler for the server's requests: true when it took the request, false to
 * let fastify have it.
 */
export function kvRoute(options: HttpApiOptions): (request: IncomingMessage, response: ServerResponse) => boolean {
  const { config } = options;
  const segmentCharsMax = config.keyBytesMax * 3;
  return (request, response) => {
    const url = request.url ?? '';
    const method = request.method;
    if (!url.startsWith(KV_PREFIX) || (method !== 'GET' && method !== 'HEAD' && method !== 'PUT' && method !== 'DELETE')) return false;
    const queryAt = url.indexOf('?');
    const segment = queryAt === -1 ? url.slice(KV_PREFIX.length) : url.slice(KV_PREFIX.length, queryAt);
    if (segment.includes('/')) return false;
    const startedMs = performance.now();
    serve(options, request, response, method, segment, queryAt === -1 ? undefined : url.slice(queryAt + 1), segmentCharsMax).then(
      (answer) => send(options, request, response, answer, startedMs),
      (error: unknown) => send(options, request, response, errorAnswer(options, request, error), startedMs),
    );
    return true;
  };
}

async function serve(
  { node, config }: HttpApiOptions,
  request: IncomingMessage,
  response: ServerResponse,
  method: KvMethod,
  segment: string,
  query: string | undefined,
  segmentCharsMax: number,
): Promise<Answer> {
  if (segment.length > segmentCharsMax) throw new HttpRefusal(414, `key is longer than keyBytesMax (${config.keyBytesMax} bytes)`, 'KEY_TOO_LONG');
  let key: Uint8Array;
  try {
    key = keyBytes(decodeURIComponent(segment));
  } catch {
    throw new HttpRefusal(400, `bad request URL: '${segment}' is not a valid url component`);
  }
  const quorum = query === undefined ? NO_QUORUM : quorumOf(query);
  switch (method) {
    case 'GET':
    case 'HEAD':
      return readAnswer(await node.get(key, quorum));
    case 'PUT': {
      const contentType = request.headers['content-type'];
      if (contentType !== undefined && !MEDIA_TYPE.test(contentType)) {
        throw new HttpRefusal(415, 'content-type header is not a valid media type (type/subtype)', 'CONTENT_TYPE_INVALID');
      }
      const value = await body(request, response, config.valueBytesMax);
      return writeAnswer(await node.put(key, { value, contentType: contentType ?? CONTENT_TYPE_DEFAULT, context: contextOf(request) }, quorum));
    }
    case 'DELETE':
      return writeAnswer(await node.delete(key, contextOf(request), quorum));
  }
}

function readAnswer(result: ReadResult): Answer {
  const { context } = result;
  const outcome = readOutcome(result.object);
  switch (outcome.kind) {
    case 'value':
      return { status: 200, contentType: outcome.sibling.contentType, context, body: asBuffer(outcome.sibling.value) };
    case 'siblings':
      return json(300, { context, siblings: outcome.siblings.map(siblingJson) }, context);
    case 'deleted':
      return json(404, { error: 'key is deleted', context }, context);
    case 'absent':
      return json(404, { error: 'key not found', context }, context);
  }
}

function writeAnswer(result: WriteResult): Answer {
  return { status: 204, contentType: undefined, context: result.context, body: undefined };
}

export function siblingJson(sibling: Sibling): { value: string; contentType: string; deleted: boolean } {
  return { value: asBuffer(sibling.value).toString('base64'), contentType: sibling.contentType, deleted: sibling.deleted };
}

function json(status: number, value: object, context?: string): Answer {
  return { status, contentType: JSON_TYPE, context, body: Buffer.from(JSON.stringify(value)) };
}

/** `n`, `r`, `w` only, each once, each a decimal integer. */
function quorumOf(query: string): RequestOptions {
  const quorum: { n?: number; r?: number; w?: number } = {};
  for (const [name, value] of new URLSearchParams(query)) {
    if (!QUORUM_NAMES.has(name)) throw new HttpRefusal(400, `unknown query parameter "${name}"`, 'REQUEST_OPTION_INVALID');
    const field = name as 'n' | 'r' | 'w';
    if (quorum[field] !== undefined || !QUORUM_VALUE.test(value)) {
      throw new HttpRefusal(400, `query parameter ${name} must be a positive integer`, 'REQUEST_OPTION_INVALID');
    }
    quorum[field] = Number(value);
  }
  return quorum;
}

function contextOf(request: IncomingMessage): string | undefined {
  const header = request.headers[CONTEXT_HEADER];
  if (header === undefined || typeof header === 'string') return header;
  throw new RequestError('CONTEXT_INVALID', `bad context: send one ${CONTEXT_HEADER} header`);
}

/** The request body, refused (413) past `bytesMax` as soon as its length says so. */
function body(request: IncomingMessage, response: ServerResponse, bytesMax: number): Promise<Buffer> {
  const tooLarge = (): HttpRefusal => new HttpRefusal(413, `value is larger than valueBytesMax (${bytesMax} bytes)`, 'VALUE_TOO_LARGE');
  const declared = request.headers['content-length'];
  if (declared !== undefined && Number(declared) > bytesMax) {
    response.shouldKeepAlive = false; // the rest of the body is not read
    return Promise.reject(tooLarge());
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let length = 0;
    request.on('data', (chunk: Buffer) => {
      length += chunk.length;
      if (length > bytesMax) {
        response.shouldKeepAlive = false;
        request.removeAllListeners('data');
        request.resume();
        reject(tooLarge());
        return;
      }
      chunks.push(chunk);
    });
    request.once('end', () => resolve(chunks.length === 0 ? EMPTY_BODY : chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, length)));
    request.once('error', reject);
  });
}

/** The JSON error for a failure: a refusal of this route's own, or a node error as every route answers it. */
function errorAnswer(options: HttpApiOptions, request: IncomingMessage, error: unknown): Answer {
  if (error instanceof HttpRefusal) return json(error.status, error.code === undefined ? { error: error.message } : { error: error.message, code: error.code });
  const { status, body } = nodeErrorAnswer(options, request, error);
  return json(status, body);
}

function send({ config, metrics }: HttpApiOptions, request: IncomingMessage, response: ServerResponse, answer: Answer, startedMs: number): void {
  if (response.destroyed) return;
  response.statusCode = answer.status;
  response.setHeader(NODE_HEADER, config.id);
  if (answer.context !== undefined) response.setHeader(CONTEXT_HEADER, answer.context);
  if (answer.contentType !== undefined) response.setHeader('content-type', answer.contentType);
  if (answer.body !== undefined) response.setHeader('content-length', answer.body.length);
  response.end(answer.body);
  metrics.observeRequest(KV_ROUTE, request.method ?? '', answer.status, performance.now() - startedMs);
}

function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
