import assert from 'node:assert/strict';
import { test } from 'node:test';
import { syncObjects } from '../../src/core/object.ts';
import { nodeConfigFrom } from '../../src/node/config.ts';
import { RequestError, TooManySiblingsError } from '../../src/node/errors.ts';
import { readOutcome } from '../../src/node/readOutcome.ts';
import { openNode } from '../../src/node/openNode.ts';
import { advanceStartEpoch, firstEpochOf, START_EPOCH_RECORD, StartEpochError } from '../../src/node/startEpoch.ts';
import { silentLogger } from '../../src/ports/logger.ts';
import { Prng } from '../../src/sim/prng.ts';
import { ManualClock } from '../../src/sim/simClock.ts';
import { MemoryEngine, MemoryMetaStore } from '../../src/storage/memoryEngine.ts';
import { TestNetwork } from '../support/testNetwork.ts';

const text = new TextEncoder();
const key = (k: string): Uint8Array => text.encode(k);

/** A single node (a cluster of one) on a manual clock; `meta` carries the start epoch across opens. */
async function makeNode(overrides: Record<string, unknown> = {}, engine = new MemoryEngine(), meta = new MemoryMetaStore()) {
  const config = nodeConfigFrom({ engine: 'memory', flushIntervalMs: 60_000, ...overrides });
  const clock = new ManualClock();
  const transport = new TestNetwork(clock).transport(config.id);
  const node = await openNode({ config, engine, hintEngine: new MemoryEngine(), meta, clock, random: Prng.fromSeed(1), transport, logger: silentLogger });
  return { node, engine, clock };
}

async function rejectsWithCode(work: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(work, (error: unknown) => error instanceof RequestError && error.code === code);
}

test('the start epoch grows by one at every start and names the actor', async () => {
  const meta = new MemoryMetaStore();
  assert.equal(await advanceStartEpoch(meta), 1);
  assert.equal(await advanceStartEpoch(meta), 2);
  assert.equal(meta.get(START_EPOCH_RECORD), 2);
  const opened = new MemoryMetaStore();
  await opened.put(START_EPOCH_RECORD, 2);
  assert.equal((await makeNode({ id: 'n7' }, new MemoryEngine(), opened)).node.actor, 'n7.3', 'openNode advances the epoch');
  await meta.put(START_EPOCH_RECORD, 'x');
  await assert.rejects(advanceStartEpoch(meta), StartEpochError);
});

test('a fresh data dir of a cluster member starts at a random epoch, a node alone at 1', async () => {
  const random = Prng.fromSeed(7);
  const epochs = new Set<number>();
  for (let i = 0; i < 20; i++) epochs.add(await advanceStartEpoch(new MemoryMetaStore(), () => firstEpochOf(true, random)));
  assert.equal(epochs.size, 20, 'twenty fresh starts, twenty different epochs: a wiped member never reuses its old actor');
  assert.ok([...epochs].every((epoch) => Number.isSafeInteger(epoch) && epoch >= 1));
  assert.equal(await advanceStartEpoch(new MemoryMetaStore(), () => firstEpochOf(false, random)), 1);
  const meta = new MemoryMetaStore();
  await meta.put(START_EPOCH_RECORD, 41);
  assert.equal(await advanceStartEpoch(meta, () => firstEpochOf(true, random)), 42, 'an existing epoch just grows');
});

test('a restart after losing unflushed writes never reissues a dot', async () => {
  const engine = new MemoryEngine();
  const meta = new MemoryMetaStore();
  const before = await makeNode({ durableWrites: 'none' }, engine, meta);
  const lost = await before.node.put(key('k'), { value: text.encode('before crash'), contentType: 'text/plain' });
  assert.equal(engine.count(), 0, 'the write is only in the buffer');
  // Crash: the buffer is gone, the engine keeps what it had (nothing). Restart with the next epoch.
  const after = await makeNode({ durableWrites: 'none' }, engine, meta);
  const fresh = await after.node.put(key('k'), { value: text.encode('after restart'), contentType: 'text/plain' });
  const [lostDot] = lost.object.siblings.map((s) => s.dot);
  const [freshDot] = fresh.object.siblings.map((s) => s.dot);
  assert.notDeepEqual(freshDot, lostDot);
  // Had the pre-crash write reached another replica, syncing keeps both: nothing is lost.
  assert.equal(syncObjects(lost.object, fresh.object).siblings.length, 2);
  await after.node.stop();
});

test('put, get and delete through the node', async () => {
  const { node } = await makeNode();
  const empty = await node.get(key('k'));
  assert.equal(readOutcome(empty.object).kind, 'absent');
  const first = await node.put(key('k'), { value: text.encode('v1'), contentType: 'text/plain', context: empty.context });
  const read = await node.get(key('k'));
  const outcome = readOutcome(read.object);
  assert.equal(outcome.kind, 'value');
  assert.equal(read.context, first.context);
  await node.delete(key('k'), read.context);
  assert.equal(readOutcome((await node.get(key('k'))).object).kind, 'deleted');
  await node.stop();
});

test('request errors are typed and coded', async () => {
  const { node } = await makeNode({ siblingsMax: 1, keyBytesMax: 4, valueBytesMax: 4 });
  const value = { value: text.encode('v'), contentType: 'text/plain' };
  await rejectsWithCode(node.put(new Uint8Array(0), value), 'KEY_EMPTY');
  await rejectsWithCode(node.get(key('12345')), 'KEY_TOO_LONG');
  await rejectsWithCode(node.put(key('k'), { value: text.encode('12345'), contentType: 'text/plain' }), 'VALUE_TOO_LARGE');
  await rejectsWithCode(node.put(key('k'), { ...value, context: 'bad' }), 'CONTEXT_INVALID');
  await rejectsWithCode(node.put(key('k'), { ...value, contentType: 'bad\ntype' }), 'CONTENT_TYPE_INVALID');
  await rejectsWithCode(node.get(key('k'), { r: 2 }), 'REQUEST_OPTION_INVALID');
  await node.put(key('k'), value);
  const refused = node.put(key('k'), value);
  await assert.rejects(refused, (error: unknown) => error instanceof TooManySiblingsError && error.siblingCount === 2);
  assert.equal(readOutcome((await node.get(key('k'))).object).kind, 'value', 'the refused write changed nothing');
  await node.stop();
  await rejectsWithCode(node.get(key('k')), 'NODE_NOT_SERVING');
});

test('durableWrites one waits for the fsync; none acknowledges from the buffer', async () => {
  const durable = await makeNode({ durableWrites: 'one' });
  await durable.node.put(key('k'), { value: text.encode('v'), contentType: 'text/plain' });
  assert.equal(durable.engine.durableBatchesWritten, 1);
  await durable.node.stop();

  const buffered = await makeNode({ durableWrites: 'none' });
  buffered.engine.pauseWrites();
  await buffered.node.put(key('k'), { value: text.encode('v'), contentType: 'text/plain' });
  assert.equal(buffered.engine.batchesWritten, 0, 'acknowledged before any engine write');
  buffered.engine.resumeWrites();
  await buffered.node.stop();
});

test('stop() flushes the buffer and closes the engine', async () => {
  const { node, engine } = await makeNode({ durableWrites: 'none' });
  await node.put(key('a'), { value: text.encode('1'), contentType: 'text/plain' });
  await node.put(key('b'), { value: text.encode('2'), contentType: 'text/plain' });
  assert.equal(engine.count(), 0);
  assert.equal(node.currentState, 'serving');
  await node.stop();
  assert.equal(node.currentState, 'stopped');
  assert.equal(engine.count(), 2, 'both writes reached the engine');
  assert.throws(() => engine.get(0, key('a')), /closed/);
});
