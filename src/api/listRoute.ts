/**
 * `GET /kv?prefix=P&after=TOKEN&limit=L`: a page of the cluster's live keys in byte order
 * (ShoalNode.list, core/listing.ts), as JSON `{ "keys": [...], "next": TOKEN | null }`.
 *
 * Keys are UTF-8 text; with `encoding=base64` each key is its bytes in base64 (keys written
 * through the Redis front end need not be UTF-8). A page may hold fewer than `limit` keys,
 * even none, and still have a `next`: the listing is complete only when `next` is null.
 * Bad input (an unknown parameter, a malformed token, a limit outside 1-1000, a prefix
 * longer than a key may be) is a 400 with a JSON reason.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { encodeUtf8 } from '../core/bytes.ts';
import { encodeListToken, LIST_PAGE_KEYS_DEFAULT, LIST_PAGE_KEYS_MAX } from '../core/listing.ts';
import { listTokenAfter } from '../node/listing/listInput.ts';
import { RequestError } from '../node/errors.ts';
import type { ShoalNode } from '../node/shoalNode.ts';

const LIST_QUERY_SCHEMA = {
  querystring: {
    type: 'object',
    properties: { prefix: { type: 'string' }, after: { type: 'string' }, limit: { type: 'string' }, encoding: { type: 'string' } },
    additionalProperties: false,
  },
} as const;

interface ListQuery {
  prefix?: string;
  after?: string;
  limit?: string;
  encoding?: string;
}

const DECIMAL = /^[0-9]{1,7}$/;

export function registerListRoute(app: FastifyInstance, node: ShoalNode, keyBytesMax: number): void {
  app.get('/kv', { schema: LIST_QUERY_SCHEMA }, async (request: FastifyRequest<{ Querystring: ListQuery }>, reply: FastifyReply) => {
    const query = request.query;
    const base64 = keyEncodingOf(query.encoding);
    const page = await node.list({ prefix: encodeUtf8(query.prefix ?? ''), after: listTokenAfter(query.after, keyBytesMax), limit: limitOf(query.limit) });
    const keys = page.keys.map((key) => (base64 ? Buffer.from(key).toString('base64') : Buffer.from(key).toString('utf8')));
    return reply.send({ keys, next: page.next === undefined ? null : encodeListToken(page.next) });
  });
}

function limitOf(text: string | undefined): number {
  if (text === undefined) return LIST_PAGE_KEYS_DEFAULT;
  const limit = DECIMAL.test(text) ? Number(text) : Number.NaN;
  if (!(limit >= 1 && limit <= LIST_PAGE_KEYS_MAX)) {
    throw new RequestError('REQUEST_OPTION_INVALID', `limit must be an integer from 1 to ${LIST_PAGE_KEYS_MAX}, got ${JSON.stringify(text.slice(0, 20))}`);
  }
  return limit;
}

function keyEncodingOf(encoding: string | undefined): boolean {
  if (encoding === undefined || encoding === 'utf8') return false;
  if (encoding === 'base64') return true;
  throw new RequestError('REQUEST_OPTION_INVALID', `encoding must be utf8 or base64, got ${JSON.stringify(encoding.slice(0, 20))}`);
}
