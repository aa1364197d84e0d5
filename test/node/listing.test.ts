/**
 * Listing keys across an in-process cluster (TestCluster): pages in byte order with
 * continuations, prefixes, deleted keys left out, a replica down, every replica of a
 * partition down, and a listing under concurrent writes (seeded) that must return every
 * key stable on all its replicas and nothing never written.
 */
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { compareBytes } from '../../src/core/bytes.ts';
import { partitionOfKey } from '../../src/core/hash.ts';
import { RequestError } from '../../src/node/errors.ts';
import { listPartitionKeys } from '../../src/node/listing/partitionKeys.ts';
import { LIST_SCAN_OBJECTS_PER_ANSWER_MAX, LIST_WAIT_MS_MAX, ListingService } from '../../src/node/listing/listingService.ts';
import { parseMessage, type ListKeysMessage } from '../../src/node/protocol.ts';
import { coordinateListPage, type ListingDeps } from '../../src/node/listing/listCoordinator.ts';
import { clusterViewOf } from '../../src/node/cluster.ts';
import { nodeConfigFrom } from '../../src/node/config.ts';
import { Deadline } from '../../src/node/deadline.ts';
import { silentLogger } from '../../src/ports/logger.ts';
import { ManualClock } from '../../src/sim/simClock.ts';
import type { StoredObject } from '../../src/core/object.ts';
import type { PartitionReader } from '../../src/ports/replica.ts';
import type { ShoalNode } from '../../src/node/shoalNode.ts';
import { Prng } from '../../src/sim/prng.ts';
import { testSeed } from '../support/seed.ts';
import { TestCluster } from '../support/testCluster.ts';

const enc = new TextEncoder();
const dec = new TextDecoder();
const text = (value: string) => ({ value: enc.encode(value), contentType: 'text/plain' });

async function cluster(t: TestContext, ids: readonly string[], overrides: Record<string, unknown> = {}): Promise<TestCluster> {
  const started = await TestCluster.start(ids, { partitionCount: 16, ...overrides });
  t.after(() => started.stop());
  return started;
}

/** Every page of a listing, as text keys; `between` runs after each page. */
async function listAll(c: TestCluster, node: ShoalNode, prefix: string, limit: number, between?: () => Promise<void>): Promise<{ keys: string[]; pages: number }> {
  const keys: string[] = [];
  let after: Uint8Array | undefined;
  let pages = 0;
  do {
    const page = await c.run(node.list({ prefix: enc.encode(prefix), after, limit }));
    assert.ok(page.keys.length <= limit, `a page of ${page.keys.length} keys over its limit ${limit}`);
    keys.push(...page.keys.map((key) => dec.decode(key)));
    after = page.next;
    pages++;
    assert.ok(pages < 10_000, 'the listing does not end');
    await between?.();
  } while (after !== undefined);
  return { keys, pages };
}

/** Deletes every version the node reads (a delete without a context would only add a tombstone sibling). */
async function deleteKey(node: ShoalNode, key: string): Promise<void> {
  const read = await node.get(enc.encode(key));
  await node.delete(enc.encode(key), read.context);
}

function assertSortedUnique(keys: readonly string[]): void {
  for (let i = 1; i < keys.length; i++) {
    assert.ok(compareBytes(enc.encode(keys[i - 1] as string), enc.encode(keys[i] as string)) < 0, `keys out of order or repeated: ${keys[i - 1]} then ${keys[i]}`);
  }
}

test('lists every live key once, in byte order, page by page, with and without a prefix', async (t) => {
  const c = await cluster(t, ['a', 'b', 'c']);
  const a = c.node('a');
  const written = Array.from({ length: 300 }, (_, i) => `${i % 3 === 0 ? 'user:' : 'item:'}${String(i).padStart(4, '0')}`);
  for (const key of written) await c.run(a.put(enc.encode(key), text(key)));
  const deleted = written.filter((_, i) => i % 7 === 0);
  for (const key of deleted) await c.run(deleteKey(a, key));
  const live = written.filter((key) => !deleted.includes(key)).sort();

  for (const limit of [1, 7, 100, 1000]) {
    const { keys, pages } = await listAll(c, c.node('b'), '', limit);
    assert.deepEqual(keys, live, `limit ${limit}`);
    assert.ok(pages >= Math.ceil(live.length / limit), `limit ${limit}: ${pages} pages`);
  }
  const users = await listAll(c, c.node('c'), 'user:', 10);
  assert.deepEqual(users.keys, live.filter((key) => key.startsWith('user:')));
  assertSortedUnique(users.keys);
  assert.deepEqual((await listAll(c, a, 'user:0003', 10)).keys, live.filter((key) => key.startsWith('user:0003')));
  assert.deepEqual((await listAll(c, a, 'nothing', 10)).keys, []);
});

test('a prefix that is itself a key is listed; keys of a longer prefix and of a neighbour prefix are not mixed in', async (t) => {
  const c = await cluster(t, ['a', 'b', 'c']);
  const a = c.node('a');
  for (const key of ['ab', 'ab\u0000', 'ab\u0000x', 'aa\u00ff', 'ac', 'abc', 'ab\u007f']) await c.run(a.put(enc.encode(key), text(key)));
  assert.deepEqual((await listAll(c, a, 'ab', 2)).keys, ['ab', 'ab\u0000', 'ab\u0000x', 'abc', 'ab\u007f']);
  assert.deepEqual((await listAll(c, a, 'ab\u0000', 1)).keys, ['ab\u0000', 'ab\u0000x']);
});

test('a page is served with a replica down, and refused with PARTITION_UNREACHABLE when no replica of a partition answers', async (t) => {
  const c = await cluster(t, ['a', 'b', 'c', 'd'], { n: 2, r: 1, w: 1 });
  const a = c.node('a');
  const written = Array.from({ length: 120 }, (_, i) => `k${String(i).padStart(3, '0')}`);
  for (const key of written) await c.run(a.put(enc.encode(key), text(key)));
  c.network.setMode('c', 'unreachable');
  assert.deepEqual((await listAll(c, a, '', 50)).keys, written);

  c.network.setMode('d', 'unreachable');
  // With n = 2, some partition has both its replicas among c and d.
  const failure = await c.run(a.list({ prefix: new Uint8Array(0), after: undefined, limit: 50 })).then(
    () => undefined,
    (error: unknown) => error,
  );
  assert.ok(failure instanceof RequestError, `expected a refusal, got ${String(failure)}`);
  assert.equal(failure.code, 'PARTITION_UNREACHABLE');
  assert.match(failure.message, /partition/);
});

test('bad listing input is refused with a coded error and changes nothing', async (t) => {
  const c = await cluster(t, ['a']);
  const a = c.node('a');
  const refusal = async (input: Parameters<ShoalNode['list']>[0]): Promise<string> => {
    try {
      await c.run(a.list(input));
    } catch (error) {
      assert.ok(error instanceof RequestError);
      return error.code;
    }
    assert.fail('expected a refusal');
  };
  const none = new Uint8Array(0);
  assert.equal(await refusal({ prefix: none, after: undefined, limit: 0 }), 'REQUEST_OPTION_INVALID');
  assert.equal(await refusal({ prefix: none, after: undefined, limit: -3 }), 'REQUEST_OPTION_INVALID');
  assert.equal(await refusal({ prefix: none, after: undefined, limit: 1001 }), 'REQUEST_OPTION_INVALID');
  assert.equal(await refusal({ prefix: none, after: undefined, limit: 1.5 }), 'REQUEST_OPTION_INVALID');
  assert.equal(await refusal({ prefix: new Uint8Array(5000), after: undefined, limit: 10 }), 'REQUEST_OPTION_INVALID');
  assert.equal(await refusal({ prefix: none, after: new Uint8Array(5000), limit: 10 }), 'LIST_TOKEN_INVALID');
});

test('under concurrent writes, a listing returns every key stable on all its replicas and no key never written', async (t) => {
  const seed = testSeed(t, import.meta.url);
  const random = Prng.fromSeed(seed);
  const c = await cluster(t, ['a', 'b', 'c']);
  const nodes = ['a', 'b', 'c'].map((id) => c.node(id));
  const stable = Array.from({ length: 150 }, (_, i) => `s:${String(random.int(1_000_000)).padStart(7, '0')}:${i}`);
  for (const key of stable) await c.run(nodes[0]!.put(enc.encode(key), text(key)));
  const churn = Array.from({ length: 150 }, (_, i) => `s:${String(random.int(1_000_000)).padStart(7, '0')}:c${i}`);
  const everWritten = new Set([...stable, ...churn]);
  // Between pages, other clients write and delete churn keys through every node.
  const between = async (): Promise<void> => {
    const writes = Array.from({ length: 10 }, () => {
      const key = enc.encode(churn[random.int(churn.length)] as string);
      const node = nodes[random.int(nodes.length)] as ShoalNode;
      return random.int(3) === 0 ? deleteKey(node, dec.decode(key)) : node.put(key, text('v'));
    });
    await c.run(Promise.allSettled(writes));
  };
  const { keys } = await listAll(c, nodes[random.int(3)] as ShoalNode, 's:', 1 + random.int(40), between);
  assertSortedUnique(keys);
  const listed = new Set(keys);
  for (const key of stable) assert.ok(listed.has(key), `stable key ${key} (partition ${partitionOfKey(enc.encode(key), 16)}) missing`);
  for (const key of keys) assert.ok(everWritten.has(key), `listed ${key}, which was never written`);
});

/** A partition's objects as a PartitionReader shows them (sorted, no buffer). */
function fakeReader(objects: ReadonlyMap<string, boolean>): PartitionReader {
  const sorted = [...objects.keys()].map((key) => enc.encode(key)).sort(compareBytes);
  const objectOf = (deleted: boolean): StoredObject => ({
    vector: [{ actor: 'x', counter: 1, timeMs: 0 }],
    siblings: [{ value: new Uint8Array(0), contentType: 'text/plain', deleted, dot: { actor: 'x', counter: 1 }, timeMs: 0 }],
  });
  return {
    readOwn: () => undefined,
    forEachInPartition: () => undefined,
    visitPartitionPage(_partition, afterKey, pageObjects, visit, wanted = () => true) {
      const start = afterKey === undefined ? 0 : sorted.findIndex((key) => compareBytes(key, afterKey) > 0);
      const page = start < 0 ? [] : sorted.slice(start, start + pageObjects);
      for (const key of page) if (wanted(key)) visit(key, objectOf(objects.get(dec.decode(key)) === true));
      return page.length < pageObjects ? undefined : page[page.length - 1];
    },
  };
}

test('a partition answer looks at no more than its scan budget, and says how far it got through tombstones', () => {
  const objects = new Map<string, boolean>();
  for (let i = 0; i < 1000; i++) objects.set(`t${String(i).padStart(4, '0')}`, true);
  objects.set('t9999', false);
  objects.set('u0001', false);
  const reader = fakeReader(objects);
  const limits = { keysMax: 5, scanObjectsMax: 300, keyBytesMax: 64 };
  const first = listPartitionKeys(reader, 0, { prefix: enc.encode('t'), after: undefined }, limits);
  assert.deepEqual(first.keys, []);
  assert.equal(dec.decode(first.through as Uint8Array), 't0299');
  let after = first.through;
  let answer = first;
  while (answer.through !== undefined) {
    answer = listPartitionKeys(reader, 0, { prefix: enc.encode('t'), after }, limits);
    after = answer.through;
  }
  assert.deepEqual(answer.keys.map((key) => dec.decode(key)), ['t9999']);
  const other = listPartitionKeys(reader, 0, { prefix: enc.encode('u'), after: undefined }, limits);
  assert.deepEqual(other, { keys: [enc.encode('u0001')], through: undefined });
});

test('listing answers are paced as background work: each waits for the rest the ones before it owe, at most LIST_WAIT_MS_MAX', async () => {
  const clock = new ManualClock();
  const objects = new Map<string, boolean>([['a', false]]);
  let owedMs = 100;
  const service = new ListingService({ reader: fakeReader(objects), clock, partitionCount: 1, keyBytesMax: 64, holds: () => true, pauseAfterMs: () => owedMs });
  const message = { type: 'list-keys', partitions: [0], prefix: new Uint8Array(0), keysMax: 5 } as const;
  assert.deepEqual((await service.serve(message)).counts, [1], 'the first answer waits for nothing');
  let answered = false;
  const second = service.serve(message).then(() => (answered = true));
  await clock.advance(99);
  assert.equal(answered, false, 'the second waits for the rest the first owes');
  await clock.advance(1);
  await second;
  await clock.advance(100);
  owedMs = 60_000;
  await service.serve(message);
  const capped = service.serve(message).then(() => (answered = false));
  await clock.advance(LIST_WAIT_MS_MAX);
  await capped;
  assert.equal(answered, false, 'a huge debt is waited for LIST_WAIT_MS_MAX at most');
});

test('one listing answer looks at a bounded number of objects however many partitions it is asked for, and no partition twice', async () => {
  const objects = new Map<string, boolean>();
  for (let i = 0; i < 5000; i++) objects.set(`d${String(i).padStart(4, '0')}`, true);
  const reader = fakeReader(objects);
  let visited = 0;
  const counting: PartitionReader = {
    ...reader,
    visitPartitionPage: (partition, afterKey, pageObjects, visit, wanted) => {
      visited += pageObjects;
      return reader.visitPartitionPage(partition, afterKey, pageObjects, visit, wanted);
    },
  };
  const service = new ListingService({ reader: counting, clock: new ManualClock(), partitionCount: 4096, keyBytesMax: 64, holds: () => true, pauseAfterMs: () => 0 });
  const partitions = Array.from({ length: 4096 }, (_, p) => p);
  const reply = await service.serve({ type: 'list-keys', partitions, prefix: new Uint8Array(0), keysMax: 1 });
  assert.equal(reply.counts.length, 4096);
  assert.ok(reply.through.every((key) => key.length > 0), 'every partition moved on past the start');
  assert.ok(visited <= LIST_SCAN_OBJECTS_PER_ANSWER_MAX, `looked at ${visited} objects`);
  assert.throws(() => parseMessage({ type: 'list-keys', partitions: [3, 3], prefix: new Uint8Array(0), keysMax: 1 }), /names a partition twice/);
});

test('a replica whose answer does not move past the page start is avoided: a listing cannot go round forever', async () => {
  const config = nodeConfigFrom({ id: 'a', cluster: 'a@127.0.0.1:7001,b@127.0.0.1:7002', n: 2, partitionCount: 4, engine: 'memory' });
  const after = enc.encode('k5');
  const asked: string[] = [];
  const deps = {
    config,
    cluster: clusterViewOf(config),
    detector: { isUp: () => true },
    peers: {
      request: async (node: string, message: ListKeysMessage) => {
        asked.push(node);
        return { type: 'key-lists', keys: [], counts: message.partitions.map(() => 0), through: message.partitions.map(() => after) } as const;
      },
    },
    clock: new ManualClock(),
    logger: silentLogger,
    serveLocal: undefined,
  } as unknown as ListingDeps;
  const failure = await coordinateListPage(deps, { prefix: new Uint8Array(0), after, limit: 10, deadline: new Deadline(new ManualClock(), 1000) }).then(
    () => undefined,
    (error: unknown) => error,
  );
  assert.ok(failure instanceof RequestError && failure.code === 'PARTITION_UNREACHABLE', String(failure));
  assert.deepEqual([...new Set(asked)].sort(), ['a', 'b']);
});
