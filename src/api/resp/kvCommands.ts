/**
 * The key-value commands of the Redis front end, over the node's get / put / delete.
 *
 * Redis has one value per key; Shoal may hold several concurrent versions (siblings).
 * None is ever dropped silently:
 * - GET / MGET answer a deterministic winner among the siblings: the greatest `timeMs`,
 *   ties broken by the greater dot; nil when the winner is a tombstone. Each such read
 *   counts in `conflictedReads` (INFO, metrics). A read writes nothing.
 * - SET supersedes every version the coordinating replica holds when it writes
 *   (`supersedeSeen`); a concurrent version that replica has not seen stays a sibling.
 * - DEL reads each key and, where the read found a live sibling, writes a tombstone with
 *   that read's context and `supersedeSeen`; it counts the keys GET would have answered
 *   with a value. EXISTS counts those keys too (a duplicate key counts again, as in Redis).
 * - SHOAL.GET shows every sibling and the context; SHOAL.PUT / SHOAL.DEL write with a
 *   context (empty = supersede nothing), exactly as the HTTP API's PUT and DELETE do.
 * - SCAN cursor [MATCH prefix*] [COUNT n] pages through the live keys in byte order, as
 *   `GET /kv?prefix=` does. Cursors are numbers, as Redis clients expect ("0" to start, and
 *   once the listing is complete), each standing for a continuation this server remembers
 *   (scanCursors.ts); a listing token of the HTTP API is taken as a cursor too. MATCH takes
 *   a literal prefix followed by one `*` only; COUNT (default 10, at most 1000) bounds
 *   the keys of one reply.
 */
import { compareDots } from '../../core/clock.ts';
import type { Role } from '../auth/roles.ts';
import type { Sibling, StoredObject } from '../../core/object.ts';
import { decodeListToken, LIST_PAGE_KEYS_MAX } from '../../core/listing.ts';
import { KEY_BYTES_MAX_LIMIT } from '../../node/config.ts';
import type { ListInput } from '../../node/shoalNode.ts';
import type { ReplyWriter } from './reply.ts';
import { ScanCursors } from './scanCursors.ts';
import { argAt as arg, CommandError, type CommandContext, type CommandSpec } from './types.ts';

/** What SET and MSET store as the content type (SHOAL.PUT may name another). */
export const RESP_CONTENT_TYPE = 'application/octet-stream';

/**
 * Keys one MGET / DEL / EXISTS asks the node about at once: a command may name 65,535 keys,
 * which must not take all of the node's requestsInFlightMax.
 */
const KEYS_IN_FLIGHT_MAX = 64;

const SUPERSEDE_SEEN = { supersedeSeen: true } as const;
const SUPERSEDE_CONTEXT_ONLY = { supersedeSeen: false } as const;

const SET_OPTIONS_REFUSED = 'Shoal SET takes no options (EX, PX, EXAT, PXAT, NX, XX, KEEPTTL, GET are not supported)';

export function kvCommands({ node, stats }: CommandContext): CommandSpec[] {
  const cursors = new ScanCursors();

  /** The value GET answers for a read (nil: absent, deleted, or a tombstone won). */
  const writeValue = (reply: ReplyWriter, object: StoredObject | undefined): void => {
    const siblings = object?.siblings;
    if (siblings === undefined || siblings.length === 0) {
      reply.nil();
      return;
    }
    if (siblings.length > 1) stats.conflictedReads += 1;
    const winner = readWinner(siblings);
    if (winner.deleted) reply.nil();
    else reply.bulk(winner.value);
  };

  const deleteIfLive = async (key: Uint8Array): Promise<boolean> => {
    const read = await node.get(key);
    const siblings = read.object?.siblings ?? [];
    if (!siblings.some((sibling) => !sibling.deleted)) return false;
    await node.delete(key, read.context, SUPERSEDE_SEEN);
    return !readWinner(siblings).deleted;
  };

  const exists = async (key: Uint8Array): Promise<boolean> => {
    const siblings = (await node.get(key)).object?.siblings ?? [];
    return siblings.length > 0 && !readWinner(siblings).deleted;
  };

  const set = (key: Uint8Array, value: Uint8Array) =>
    node.put(key, { value: copyBytes(value), contentType: RESP_CONTENT_TYPE, supersedeSeen: true });

  return [
    spec('get', 'read', 2, ['readonly', 'fast'], [1, 1, 1], ['@read', '@string', '@fast'], async (args, reply) => {
      writeValue(reply, (await node.get(arg(args, 1))).object);
    }),
    spec('set', 'readwrite', -3, ['write', 'denyoom'], [1, 1, 1], ['@write', '@string', '@slow'], async (args, reply) => {
      if (args.length > 3) throw new CommandError('ERR', SET_OPTIONS_REFUSED);
      await set(arg(args, 1), arg(args, 2));
      reply.ok();
    }),
    spec('mget', 'read', -2, ['readonly', 'fast'], [1, -1, 1], ['@read', '@string', '@fast'], async (args, reply) => {
      const reads = await mapBounded(args.slice(1), (key) => node.get(key));
      reply.arrayHeader(reads.length);
      for (const read of reads) writeValue(reply, read.object);
    }),
    spec('mset', 'readwrite', -3, ['write', 'denyoom'], [1, -1, 2], ['@write', '@string', '@slow'], async (args, reply) => {
      if (args.length % 2 === 0) throw new CommandError('ERR', "wrong number of arguments for 'mset' command");
      // One SET after the other, in order: not atomic (an error leaves the earlier ones written).
      for (let index = 1; index < args.length; index += 2) await set(arg(args, index), arg(args, index + 1));
      reply.ok();
    }),
    spec('del', 'readwrite', -2, ['write'], [1, -1, 1], ['@keyspace', '@write', '@slow'], async (args, reply) => {
      const deleted = await mapBounded(distinctKeys(args), deleteIfLive);
      reply.integer(deleted.filter(Boolean).length);
    }),
    spec('exists', 'read', -2, ['readonly', 'fast'], [1, -1, 1], ['@keyspace', '@read', '@fast'], async (args, reply) => {
      const found = await mapBounded(args.slice(1), exists);
      reply.integer(found.filter(Boolean).length);
    }),
    spec('scan', 'read', -2, ['readonly'], [0, 0, 0], ['@keyspace', '@read', '@slow'], async (args, reply) => {
      const page = await node.list(scanInput(args, cursors));
      reply.arrayHeader(2);
      reply.bulkString(page.next === undefined ? SCAN_DONE : cursors.remember(page.next));
      reply.arrayHeader(page.keys.length);
      for (const key of page.keys) reply.bulk(key);
    }),
    spec('shoal.get', 'read', 2, ['readonly'], [1, 1, 1], ['@read'], async (args, reply) => {
      const read = await node.get(arg(args, 1));
      writeSiblings(reply, read.context, read.object?.siblings ?? []);
    }),
    {
      ...spec('shoal.put', 'readwrite', -4, ['write', 'denyoom'], [1, 1, 1], ['@write'], async (args, reply) => {
        const contentType = args.length > 4 ? arg(args, 4).toString('utf8') : RESP_CONTENT_TYPE;
        const context = contextArg(arg(args, 2));
        const written = await node.put(arg(args, 1), { value: copyBytes(arg(args, 3)), contentType, context });
        reply.bulkString(written.context);
      }),
      argsMax: 5,
    },
    spec('shoal.del', 'readwrite', 3, ['write'], [1, 1, 1], ['@write'], async (args, reply) => {
      const written = await node.delete(arg(args, 1), contextArg(arg(args, 2)), SUPERSEDE_CONTEXT_ONLY);
      reply.bulkString(written.context);
    }),
  ];
}

/**
 * The sibling a Redis read answers with: the greatest `timeMs` (the coordinator's wall
 * clock when it was written), ties broken by the greater dot. Deterministic: every node
 * picks the same one from the same siblings.
 */
export function readWinner(siblings: readonly Sibling[]): Sibling {
  let winner = siblings[0];
  if (winner === undefined) throw new Error('invariant: readWinner of no siblings');
  for (let index = 1; index < siblings.length; index++) {
    const sibling = siblings[index] as Sibling;
    if (sibling.timeMs > winner.timeMs || (sibling.timeMs === winner.timeMs && compareDots(sibling.dot, winner.dot) > 0)) winner = sibling;
  }
  return winner;
}

/** SHOAL.GET's reply: [context, [value | nil, contentType, deleted 0/1] per sibling…]. */
function writeSiblings(reply: ReplyWriter, context: string, siblings: readonly Sibling[]): void {
  reply.arrayHeader(1 + siblings.length);
  reply.bulkString(context);
  for (const sibling of siblings) {
    reply.arrayHeader(3);
    if (sibling.deleted) reply.nil();
    else reply.bulk(sibling.value);
    reply.bulkString(sibling.contentType);
    reply.integer(sibling.deleted ? 1 : 0);
  }
}

function spec(
  name: string,
  role: Role,
  arity: number,
  flags: readonly string[],
  keys: readonly [number, number, number],
  categories: readonly string[],
  run: CommandSpec['run'],
): CommandSpec {
  return { name, arity, flags, role, keys, categories, run };
}

/** `work` over every item, at most KEYS_IN_FLIGHT_MAX at a time; the results in order. */
async function mapBounded<T, R>(items: readonly T[], work: (item: T) => Promise<R>): Promise<R[]> {
  if (items.length <= KEYS_IN_FLIGHT_MAX) return Promise.all(items.map(work));
  const results: R[] = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const index = next++;
      results[index] = await work(items[index] as T);
    }
  };
  await Promise.all(Array.from({ length: KEYS_IN_FLIGHT_MAX }, worker));
  return results;
}

/** The cursor that starts a SCAN, and that a SCAN answers once it is complete (as Redis). */
const SCAN_DONE = '0';
/** Keys a SCAN reply holds without COUNT (Redis's default). */
const SCAN_COUNT_DEFAULT = 10;
const DECIMAL = /^[0-9]{1,7}$/;
const DECIMAL_CURSOR = /^[0-9]{1,20}$/;

/** SCAN's arguments as a listing page; a CommandError names the bad one. */
function scanInput(args: readonly Buffer[], cursors: ScanCursors): ListInput {
  const after = positionOf(arg(args, 1).toString('latin1'), cursors);
  let prefix: Uint8Array = new Uint8Array(0);
  let limit = SCAN_COUNT_DEFAULT;
  for (let index = 2; index < args.length; index += 2) {
    const option = arg(args, index).toString('latin1').toLowerCase();
    const value = args[index + 1];
    if (value === undefined) throw new CommandError('ERR', 'syntax error');
    if (option === 'match') prefix = matchPrefix(value);
    else if (option === 'count') limit = scanCount(value);
    else if (option === 'type') checkScanType(value);
    else throw new CommandError('ERR', 'syntax error');
  }
  return { prefix, after, limit };
}

/** Where a cursor continues: nowhere for "0", a remembered cursor's key, or an HTTP listing token's. */
function positionOf(cursor: string, cursors: ScanCursors): Uint8Array | undefined {
  if (cursor === SCAN_DONE) return undefined;
  if (DECIMAL_CURSOR.test(cursor)) {
    const position = cursors.positionOf(cursor);
    if (position === undefined) throw new CommandError('ERR', 'invalid cursor: unknown, or forgotten (start the SCAN again from 0)');
    return position;
  }
  const decoded = decodeListToken(cursor, KEY_BYTES_MAX_LIMIT);
  if ('reason' in decoded) throw new CommandError('ERR', `invalid cursor: ${decoded.reason}`);
  return decoded.after;
}

/** MATCH's pattern as a prefix: literal bytes and one trailing `*` (glob classes, `?` and escapes are not served). */
function matchPrefix(pattern: Buffer): Uint8Array {
  const body = pattern.subarray(0, pattern.length - 1);
  if (pattern[pattern.length - 1] !== 0x2a || body.some((byte) => byte === 0x2a || byte === 0x3f || byte === 0x5b || byte === 0x5c)) {
    throw new CommandError('ERR', 'Shoal SCAN takes MATCH prefix* only: literal bytes, then one * at the end');
  }
  return new Uint8Array(body);
}

function scanCount(value: Buffer): number {
  const text = value.toString('latin1');
  const count = DECIMAL.test(text) ? Number(text) : Number.NaN;
  if (!(count >= 1)) throw new CommandError('ERR', 'value is not an integer or out of range');
  return Math.min(count, LIST_PAGE_KEYS_MAX);
}

/** Every Shoal value is a string. */
function checkScanType(value: Buffer): void {
  if (value.toString('latin1').toLowerCase() !== 'string') throw new CommandError('ERR', 'Shoal SCAN serves TYPE string only: every value is a string');
}

/** An empty context supersedes nothing. */
function contextArg(bytes: Buffer): string | undefined {
  return bytes.length === 0 ? undefined : bytes.toString('latin1');
}

/** Each key once, in order of first appearance (DEL a a deletes, and counts, a once). */
function distinctKeys(args: readonly Buffer[]): Buffer[] {
  if (args.length === 2) return [arg(args, 1)];
  const seen = new Set<string>();
  const keys: Buffer[] = [];
  for (const key of args.slice(1)) {
    const text = key.toString('latin1');
    if (seen.has(text)) continue;
    seen.add(text);
    keys.push(key);
  }
  return keys;
}

/**
 * A value with memory of its own: arguments are views into the socket's chunks, and the
 * object buffer keeps a written value until it is flushed (it would keep the whole chunk).
 * Keys need no copy: the store copies the keys it keeps.
 */
function copyBytes(bytes: Uint8Array): Uint8Array {
  return new Uint8Array(bytes);
}
