/**
 * The Redis front end's command layer over a fake node: no sockets, no cluster. The live
 * node is driven through ioredis and raw sockets in resp.test.ts.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Sibling, StoredObject } from '../../src/core/object.ts';
import { RespCommands } from '../../src/api/resp/commands.ts';
import { readWinner } from '../../src/api/resp/kvCommands.ts';
import { ReplyWriter } from '../../src/api/resp/reply.ts';
import { respLimitsOf } from '../../src/api/resp/server.ts';
import { RespStats } from '../../src/api/resp/stats.ts';
import { ScanCursors } from '../../src/api/resp/scanCursors.ts';
import type { RespNode, RespNodeStatus, RespSession } from '../../src/api/resp/types.ts';
import { OverloadedError, QuorumUnreachableError, RequestError } from '../../src/node/errors.ts';
import type { ListInput, PutInput, ReadResult, WriteResult } from '../../src/node/shoalNode.ts';
import type { ListingPage } from '../../src/core/listing.ts';
import { silentLogger } from '../../src/ports/logger.ts';
import { decodeReply, RespError, type RespValue } from './respSupport.ts';

interface Write {
  readonly op: 'put' | 'delete';
  readonly key: string;
  readonly value?: string;
  readonly contentType?: string;
  readonly context: string | undefined;
  readonly supersedeSeen: boolean;
}

function sibling(value: string | undefined, timeMs: number, actor: string, counter = 1): Sibling {
  return { value: Buffer.from(value ?? ''), contentType: 'text/plain', deleted: value === undefined, dot: { actor, counter }, timeMs };
}

/** A node holding fixed objects; records writes; fails every request with `failure` when set. */

const FAKE_CACHE = { policy: 'tinylfu', objects: 2, bytes: 640, bytesMax: 4096, objectsMax: 10, hits: 7, misses: 3, evictions: 1, admitted: 3, rejected: 1 } as const;

class FakeNode implements RespNode {
  readonly objects = new Map<string, StoredObject>();
  readonly writes: Write[] = [];
  readonly listed: ListInput[] = [];
  /** The value bytes each put was handed, as handed. */
  readonly valuesHanded: Uint8Array[] = [];
  failure: Error | undefined;
  /** Reads running at once, and the most seen. */
  private readsInFlight = 0;
  readsInFlightMax = 0;

  hold(key: string, ...siblings: Sibling[]): void {
    this.objects.set(key, { vector: [], siblings });
  }

  async get(key: Uint8Array): Promise<ReadResult> {
    if (this.failure !== undefined) throw this.failure;
    this.readsInFlight += 1;
    this.readsInFlightMax = Math.max(this.readsInFlightMax, this.readsInFlight);
    await Promise.resolve();
    this.readsInFlight -= 1;
    const name = Buffer.from(key).toString();
    return { object: this.objects.get(name), context: `ctx:${name}` };
  }

  async put(key: Uint8Array, input: PutInput): Promise<WriteResult> {
    this.valuesHanded.push(input.value);
    const written = { op: 'put', key: Buffer.from(key).toString(), value: Buffer.from(input.value).toString(), contentType: input.contentType, context: input.context, supersedeSeen: input.supersedeSeen === true } as const;
    return this.write(written, sibling(written.value, 1, 'w'));
  }

  async delete(key: Uint8Array, context: string | undefined, options: { readonly supersedeSeen: boolean }): Promise<WriteResult> {
    return this.write({ op: 'delete', key: Buffer.from(key).toString(), context, supersedeSeen: options.supersedeSeen }, sibling(undefined, 1, 'w'));
  }

  /** The keys held in byte order, as a listing page; records what it was asked. */
  async list(input: ListInput): Promise<ListingPage> {
    if (this.failure !== undefined) throw this.failure;
    this.listed.push(input);
    const keys = [...this.objects.keys()]
      .map((key) => Buffer.from(key))
      .filter((key) => key.subarray(0, input.prefix.length).equals(input.prefix) && (input.after === undefined || Buffer.compare(key, input.after) > 0))
      .sort(Buffer.compare);
    const page = keys.slice(0, input.limit);
    return { keys: page, next: keys.length > input.limit ? page[page.length - 1] : undefined };
  }

  status(): RespNodeStatus {
    return { nodeId: 'fake1', clusterName: 'shoal', state: 'serving', actor: 'fake1.1', uptimeMs: 5000, cluster: { members: ['fake1', 'fake2'], memberStatus: 'valid', ringVersion: 3, n: 2, r: 1, w: 1 }, cache: FAKE_CACHE };
  }

  private async write(write: Write, written: Sibling): Promise<WriteResult> {
    if (this.failure !== undefined) throw this.failure;
    this.writes.push(write);
    const object = { vector: [], siblings: [written] };
    this.objects.set(write.key, object);
    return { object, context: `ctx:${write.key}:after` };
  }
}

class FakeSession implements RespSession {
  readonly id = 7;
  readonly remoteAddress = '127.0.0.1';
  name: string | undefined;
  user: RespSession['user'];
  closing = false;
  closeAfterReply(): void {
    this.closing = true;
  }
}

function harness() {
  const node = new FakeNode();
  const stats = new RespStats();
  const commands = new RespCommands({ node, stats, limits: respLimitsOf(1024 * 1024, 0, undefined), tcpPort: () => 6379 }, silentLogger);
  const session = new FakeSession();
  /** Runs one command; its one decoded reply. */
  const run = async (...args: (string | Buffer)[]): Promise<RespValue> => {
    const reply = new ReplyWriter();
    await commands.execute(args.map((arg) => (typeof arg === 'string' ? Buffer.from(arg) : arg)), reply, session);
    const bytes = Buffer.concat(reply.take());
    const decoded = decodeReply(bytes);
    assert.ok(decoded !== undefined && decoded.next === bytes.length, `exactly one reply, got ${JSON.stringify(bytes.toString())}`);
    return decoded.value;
  };
  return { node, stats, session, run };
}

function text(value: RespValue): string {
  assert.ok(Buffer.isBuffer(value), `a bulk string, got ${JSON.stringify(value)}`);
  return value.toString();
}

function errorText(value: RespValue): string {
  assert.ok(value instanceof RespError, `an error reply, got ${JSON.stringify(value)}`);
  return value.text;
}

test('GET answers the sibling with the greatest time, ties broken by the greater dot, and counts the conflict', async () => {
  const { node, stats, run } = harness();
  node.hold('one', sibling('only', 10, 'a'));
  node.hold('timed', sibling('older', 10, 'z'), sibling('newer', 20, 'a'), sibling('oldest', 5, 'b'));
  node.hold('tied', sibling('from-a', 10, 'a', 9), sibling('from-b', 10, 'b', 1));
  node.hold('tied-counter', sibling('first', 10, 'a', 1), sibling('second', 10, 'a', 2));
  node.hold('deleted-wins', sibling('live', 10, 'a'), sibling(undefined, 11, 'b'));
  node.hold('deleted', sibling(undefined, 10, 'a'));
  assert.equal(text(await run('GET', 'one')), 'only');
  assert.equal(stats.conflictedReads, 0, 'one sibling is no conflict');
  assert.equal(text(await run('GET', 'timed')), 'newer');
  assert.equal(text(await run('get', 'tied')), 'from-b');
  assert.equal(text(await run('Get', 'tied-counter')), 'second');
  assert.equal(await run('GET', 'deleted-wins'), null, 'a winning tombstone reads as nil');
  assert.equal(await run('GET', 'deleted'), null);
  assert.equal(await run('GET', 'absent'), null);
  assert.equal(stats.conflictedReads, 4);
  assert.deepEqual(node.writes, [], 'a read writes nothing');
  const reversed = [...(node.objects.get('timed')?.siblings ?? [])].reverse();
  assert.equal(readWinner(reversed).value.toString(), 'newer', 'the winner does not depend on the order');
});

test('SET writes octet-stream bytes superseding what the coordinator saw, with a value of its own', async () => {
  const { node, run } = harness();
  const value = Buffer.from('v1');
  assert.equal(await run('SET', 'k', value), 'OK');
  value.fill(0x78);
  assert.equal(Buffer.from(node.valuesHanded[0] ?? []).toString(), 'v1', 'the value does not share the socket chunk');
  assert.deepEqual(node.writes, [{ op: 'put', key: 'k', value: 'v1', contentType: 'application/octet-stream', context: undefined, supersedeSeen: true }]);
});

test('SET options are refused and write nothing', async () => {
  const { node, run } = harness();
  for (const options of [['EX', '10'], ['NX'], ['XX'], ['KEEPTTL'], ['GET']]) {
    assert.match(errorText(await run('SET', 'k', 'v', ...options)), /^ERR Shoal SET takes no options/);
  }
  assert.deepEqual(node.writes, []);
});

test('DEL tombstones each key the read found live, with that read context, and counts those GET would answer', async () => {
  const { node, run } = harness();
  node.hold('live', sibling('x', 10, 'a'));
  node.hold('conflict-tombstone-wins', sibling('x', 10, 'a'), sibling(undefined, 20, 'b'));
  node.hold('deleted', sibling(undefined, 10, 'a'));
  assert.equal(await run('DEL', 'live', 'live', 'conflict-tombstone-wins', 'deleted', 'absent'), 1);
  assert.deepEqual(
    node.writes.map((write) => [write.op, write.key, write.context, write.supersedeSeen]),
    [
      ['delete', 'live', 'ctx:live', true],
      ['delete', 'conflict-tombstone-wins', 'ctx:conflict-tombstone-wins', true],
    ],
    'no tombstone over absent or deleted keys; a duplicate key once',
  );
  assert.equal(await run('DEL', 'live'), 0, 'deleted now');
});

test('EXISTS counts the keys GET would answer with a value, duplicates again; MGET answers each like GET', async () => {
  const { node, stats, run } = harness();
  node.hold('a', sibling('1', 1, 'a'));
  node.hold('b', sibling('old', 1, 'a'), sibling('new', 2, 'b'));
  node.hold('gone', sibling('x', 1, 'a'), sibling(undefined, 2, 'b'));
  assert.equal(await run('EXISTS', 'a', 'a', 'b', 'gone', 'absent'), 3);
  const values = await run('MGET', 'a', 'b', 'gone', 'absent');
  assert.ok(Array.isArray(values));
  assert.deepEqual(values.map((value) => (value === null ? null : text(value))), ['1', 'new', null, null]);
  assert.equal(stats.conflictedReads, 2, 'MGET counts each conflicted key; EXISTS does not');
});

test('MSET is a sequence of SETs in order; an odd argument count is refused before any write', async () => {
  const { node, run } = harness();
  assert.match(errorText(await run('MSET', 'a', '1', 'b')), /^ERR wrong number of arguments for 'mset' command/);
  assert.equal(node.writes.length, 0);
  assert.equal(await run('MSET', 'a', '1', 'b', '2', 'a', '3'), 'OK');
  assert.deepEqual(node.writes.map((write) => `${write.key}=${write.value}`), ['a=1', 'b=2', 'a=3']);
  assert.ok(node.writes.every((write) => write.supersedeSeen));
});

test('SHOAL.GET shows the context and every sibling; SHOAL.PUT and SHOAL.DEL write with a context', async () => {
  const { node, run } = harness();
  node.hold('k', sibling('x', 1, 'a'), sibling(undefined, 2, 'b'));
  assert.deepEqual(await run('SHOAL.GET', 'k'), [Buffer.from('ctx:k'), [Buffer.from('x'), Buffer.from('text/plain'), 0], [null, Buffer.from('text/plain'), 1]]);
  assert.deepEqual(await run('shoal.get', 'absent'), [Buffer.from('ctx:absent')]);
  assert.equal(text(await run('SHOAL.PUT', 'k', '', 'v')), 'ctx:k:after');
  assert.equal(text(await run('SHOAL.PUT', 'k', 'ctx:k', 'v2', 'text/plain')), 'ctx:k:after');
  assert.equal(text(await run('SHOAL.DEL', 'k', 'ctx:k:after')), 'ctx:k:after');
  assert.deepEqual(node.writes, [
    { op: 'put', key: 'k', value: 'v', contentType: 'application/octet-stream', context: undefined, supersedeSeen: false },
    { op: 'put', key: 'k', value: 'v2', contentType: 'text/plain', context: 'ctx:k', supersedeSeen: false },
    { op: 'delete', key: 'k', context: 'ctx:k:after', supersedeSeen: false },
  ]);
  assert.match(errorText(await run('SHOAL.PUT', 'k', '', 'v', 'a', 'b')), /wrong number of arguments for 'shoal.put'/);
});

test('node errors become ERR, TRYAGAIN or BUSY replies, counted by code', async () => {
  const { node, stats, run } = harness();
  const replicas = { needed: 2, answered: 1, failed: 1, targets: 2 };
  const cases: readonly [Error, RegExp][] = [
    [new RequestError('KEY_TOO_LONG', 'key is longer than keyBytesMax'), /^ERR key is longer/],
    [new RequestError('VALUE_TOO_LARGE', 'value is larger'), /^ERR value is larger/],
    [new RequestError('CONTEXT_INVALID', 'bad context: x'), /^ERR bad context/],
    [new QuorumUnreachableError('write', replicas), /^TRYAGAIN write quorum unreachable/],
    [new RequestError('NODE_NOT_SERVING', 'node is stopping'), /^TRYAGAIN node is stopping \(NODE_NOT_SERVING\)$/],
    [new RequestError('HINTS_FULL', 'hint store full'), /^BUSY hint store full \(HINTS_FULL\)$/],
    [new OverloadedError(10), /^BUSY node is coordinating 10 requests.* \(OVERLOADED\)$/],
    [new RequestError('BUFFER_FULL', 'overloaded: buffer full'), /^BUSY overloaded: buffer full \(BUFFER_FULL\)$/],
    [new RequestError('STORAGE_ERROR', 'storage engine failure: disk gone'), /^ERR storage engine failure: disk gone \(STORAGE_ERROR\)$/],
    [new Error('a bug'), /^ERR internal error \(INTERNAL\)$/],
  ];
  for (const [failure, expected] of cases) {
    node.failure = failure;
    assert.match(errorText(await run('SET', 'k', 'v')), expected);
    assert.match(errorText(await run('GET', 'k')), expected);
  }
  assert.deepEqual(Object.fromEntries(stats.errorReplies), { ERR: 10, TRYAGAIN: 4, BUSY: 6 });
});

test('unknown commands and wrong arity are errors that run nothing', async () => {
  const { node, stats, run } = harness();
  assert.equal(errorText(await run('FLUSHALL', 'ASYNC', 'x')), "ERR unknown command 'FLUSHALL', with args beginning with: 'ASYNC' 'x' ");
  assert.equal(errorText(await run('GET')), "ERR wrong number of arguments for 'get' command");
  assert.equal(errorText(await run('GET', 'a', 'b')), "ERR wrong number of arguments for 'get' command");
  assert.equal(errorText(await run('SET', 'k')), "ERR wrong number of arguments for 'set' command");
  assert.equal(errorText(await run('PING', 'a', 'b')), "ERR wrong number of arguments for 'ping' command");
  assert.match(errorText(await run(Buffer.alloc(100, 0x41))), /^ERR unknown command/);
  assert.deepEqual(node.writes, []);
  assert.equal(stats.unknownCommands, 2);
  assert.equal(stats.commandsProcessed, 6);
});

test('connection commands: PING, ECHO, SELECT, QUIT, AUTH, HELLO, CLIENT', async () => {
  const { session, run } = harness();
  assert.equal(await run('PING'), 'PONG');
  assert.equal(text(await run('PING', 'hi')), 'hi');
  assert.equal(text(await run('ECHO', 'bytes\r\n')), 'bytes\r\n');
  assert.equal(await run('SELECT', '0'), 'OK');
  assert.equal(errorText(await run('SELECT', '1')), 'ERR DB index is out of range');
  assert.equal(errorText(await run('SELECT', 'x')), 'ERR value is not an integer or out of range');
  assert.match(errorText(await run('AUTH', 'secret')), /without any password configured for the default user/);
  assert.match(errorText(await run('HELLO', '3')), /^NOPROTO /);
  const hello = await run('HELLO', '2', 'SETNAME', 'me');
  assert.ok(Array.isArray(hello));
  assert.deepEqual(hello.slice(0, 6), [Buffer.from('server'), Buffer.from('redis'), Buffer.from('version'), Buffer.from('7.0.0'), Buffer.from('proto'), 2]);
  assert.equal(text(await run('CLIENT', 'GETNAME')), 'me');
  assert.equal(await run('CLIENT', 'SETNAME', 'other'), 'OK');
  assert.equal(session.name, 'other');
  assert.match(errorText(await run('CLIENT', 'SETNAME', 'has space')), /cannot contain spaces/);
  assert.equal(await run('CLIENT', 'SETINFO', 'LIB-NAME', 'ioredis'), 'OK');
  assert.equal(await run('client', 'id'), 7);
  assert.match(errorText(await run('CLIENT', 'KILL', 'x')), /^ERR unknown subcommand 'kill'/);
  assert.equal(session.closing, false);
  assert.equal(await run('QUIT'), 'OK');
  assert.equal(session.closing, true);
});

test('CONFIG GET answers what redis-benchmark asks, COMMAND describes the table', async () => {
  const { run } = harness();
  assert.deepEqual(await run('CONFIG', 'GET', 'save'), [Buffer.from('save'), Buffer.from('')]);
  assert.deepEqual(await run('CONFIG', 'GET', 'appendonly'), [Buffer.from('appendonly'), Buffer.from('no')]);
  assert.deepEqual(await run('CONFIG', 'GET', 'nothing-like-it'), []);
  const all = await run('CONFIG', 'GET', '*');
  assert.ok(Array.isArray(all) && all.length >= 4 && all.length % 2 === 0);
  assert.match(errorText(await run('CONFIG', 'SET', 'save', '')), /^ERR CONFIG SET is not supported/);
  const count = await run('COMMAND', 'COUNT');
  assert.equal(typeof count, 'number');
  const table = await run('COMMAND');
  assert.ok(Array.isArray(table) && table.length === count);
  const get = table.find((entry) => Array.isArray(entry) && text(entry[0] as Buffer) === 'get');
  assert.ok(Array.isArray(get));
  assert.equal(get.length, 10);
  assert.deepEqual(get.slice(1, 6), [2, ['readonly', 'fast'], 1, 1, 1]);
  assert.match(errorText(await run('COMMAND', 'DOCS')), /^ERR unknown subcommand 'docs'/, 'as Redis 6: redis-cli falls back to its own help');
  const info = await run('COMMAND', 'INFO', 'shoal.put', 'nope');
  assert.ok(Array.isArray(info));
  assert.equal(info[1], null);
  assert.equal(text((info[0] as RespValue[])[0] as Buffer), 'shoal.put');
});

test('INFO has Redis sections (redis_version, loading) and a Shoal section with the node, members and conflicts', async () => {
  const { node, run } = harness();
  node.hold('k', sibling('a', 1, 'a'), sibling('b', 2, 'b'));
  await run('GET', 'k');
  const info = text(await run('INFO'));
  assert.match(info, /^# Server\r\nredis_version:7\.0\.0\r\n/);
  assert.match(info, /\r\nloading:0\r\n/);
  assert.match(info, /\r\ntcp_port:6379\r\n/);
  assert.match(info, /\r\n# Shoal\r\nshoal_node_id:fake1\r\n/);
  assert.match(info, /\r\nshoal_members:fake1,fake2\r\n/);
  assert.match(info, /\r\nshoal_conflicted_reads:1\r\n/);
  assert.match(info, /\r\nshoal_cache_policy:tinylfu\r\nshoal_cache_objects:2\r\nshoal_cache_bytes:640\r\nshoal_cache_bytes_max:4096\r\nshoal_cache_objects_max:10\r\nshoal_cache_hits:7\r\nshoal_cache_misses:3\r\nshoal_cache_evictions:1\r\nshoal_cache_admitted:3\r\nshoal_cache_rejected:1\r\n/);
  assert.doesNotMatch(info, /Commandstats/, 'per-command counters only when asked');
  const commandstats = text(await run('INFO', 'commandstats'));
  assert.match(commandstats, /^# Commandstats\r\ncmdstat_get:calls=1\r\ncmdstat_info:calls=2\r\n$/);
  assert.equal(text(await run('INFO', 'shoal')).split('\r\n')[0], '# Shoal');
  assert.equal(text(await run('INFO', 'nosuchsection')), '');
});

test('MGET, EXISTS and DEL over many keys answer each in order, with a bounded number asked at once', async () => {
  const { node, run } = harness();
  const keys = Array.from({ length: 500 }, (_, index) => `key-${index}`);
  keys.forEach((key, index) => index % 3 === 0 && node.hold(key, sibling(`v${index}`, 1, 'a')));
  const values = await run('MGET', ...keys);
  assert.ok(Array.isArray(values));
  assert.deepEqual(
    values.map((value) => (value === null ? null : text(value))),
    keys.map((_, index) => (index % 3 === 0 ? `v${index}` : null)),
  );
  assert.equal(await run('EXISTS', ...keys), 167);
  assert.equal(await run('DEL', ...keys), 167);
  assert.equal(node.writes.length, 167);
  assert.equal(await run('EXISTS', ...keys), 0);
  assert.equal(node.readsInFlightMax, 64, 'at most 64 keys asked at once');
});

test('SCAN pages through the keys with MATCH prefix* and COUNT, from cursor 0 back to cursor 0', async () => {
  const { node, run } = harness();
  for (const key of ['user:3', 'user:1', 'item:1', 'user:2', 'user:4']) node.hold(key, sibling('v', 1, 'w'));
  const seen: string[] = [];
  let cursor = '0';
  let replies = 0;
  do {
    const reply = await run('SCAN', cursor, 'MATCH', 'user:*', 'COUNT', '3');
    assert.ok(Array.isArray(reply) && reply.length === 2);
    cursor = text(reply[0] as RespValue);
    const keys = reply[1];
    assert.ok(Array.isArray(keys));
    seen.push(...keys.map((key) => text(key)));
    replies++;
  } while (cursor !== '0' && replies < 10);
  assert.deepEqual(seen, ['user:1', 'user:2', 'user:3', 'user:4']);
  assert.equal(replies, 2);
  assert.deepEqual(node.listed[0], { prefix: new Uint8Array(Buffer.from('user:')), after: undefined, limit: 3 });
  // Without options: every key, COUNT 10; TYPE string is every Shoal value.
  const all = await run('scan', '0', 'type', 'string');
  assert.ok(Array.isArray(all));
  assert.deepEqual((all[1] as RespValue[]).map((key) => text(key)), ['item:1', 'user:1', 'user:2', 'user:3', 'user:4']);
  assert.equal(node.listed[2]?.limit, 10);
});

test('SCAN refuses a bad cursor, a glob it cannot serve, a bad COUNT or option, and lists nothing then', async () => {
  const { node, run } = harness();
  assert.match(errorText(await run('SCAN', 'not-a-cursor!')), /^ERR invalid cursor/);
  assert.match(errorText(await run('SCAN', '12345')), /^ERR invalid cursor: unknown, or forgotten/);
  assert.match(errorText(await run('SCAN', '0', 'MATCH', 'user:*:x*')), /^ERR Shoal SCAN takes MATCH prefix\* only/);
  assert.match(errorText(await run('SCAN', '0', 'MATCH', 'us?r*')), /^ERR Shoal SCAN takes MATCH prefix\* only/);
  assert.match(errorText(await run('SCAN', '0', 'MATCH', 'user')), /^ERR Shoal SCAN takes MATCH prefix\* only/);
  assert.match(errorText(await run('SCAN', '0', 'COUNT', '-1')), /^ERR value is not an integer/);
  assert.match(errorText(await run('SCAN', '0', 'COUNT', '0')), /^ERR value is not an integer/);
  assert.match(errorText(await run('SCAN', '0', 'COUNT')), /^ERR syntax error/);
  assert.match(errorText(await run('SCAN', '0', 'LIMIT', '3')), /^ERR syntax error/);
  assert.match(errorText(await run('SCAN', '0', 'TYPE', 'hash')), /^ERR Shoal SCAN serves TYPE string only/);
  assert.deepEqual(node.listed, []);
});

test('SCAN cursors are numbers from a bounded table: the oldest is forgotten first', () => {
  const cursors = new ScanCursors(2, 100);
  const first = cursors.remember(Buffer.from('a'));
  const second = cursors.remember(Buffer.from('b'));
  assert.deepEqual([first, second], ['100', '101']);
  assert.deepEqual(cursors.positionOf(first), Buffer.from('a'));
  cursors.remember(Buffer.from('c'));
  assert.equal(cursors.positionOf(first), undefined);
  assert.deepEqual(cursors.positionOf(second), Buffer.from('b'));
});
