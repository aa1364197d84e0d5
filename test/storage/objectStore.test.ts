import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { StoredObject } from '../../src/core/object.ts';
import type { ScanEntry, StorageEngine, WriteOp } from '../../src/ports/storage.ts';
import { StorageError } from '../../src/ports/storage.ts';
import { MemoryEngine } from '../../src/storage/memoryEngine.ts';
import { CorruptObjectError, InvalidObjectError, decodeObject, encodeObject } from '../../src/storage/objectCodec.ts';
import type { ObjectStoreOptions } from '../../src/storage/objectStore.ts';
import { REMOVE_OBJECT } from '../../src/ports/replica.ts';
import { BufferFullError, ObjectStore, StoreClosedError } from '../../src/storage/objectStore.ts';
import { drainMicrotasks } from '../../src/sim/scheduler.ts';
import { ManualClock } from '../../src/sim/simClock.ts';
import { testSeed } from '../support/seed.ts';

const text = (s: string): Uint8Array => new TextEncoder().encode(s);
const key = (s: string): Uint8Array => text(s);

/** A one-sibling object whose value is the decimal `n` (and whose dot counter is n + 1). */
function counterObject(n: number): StoredObject {
  return {
    vector: [{ actor: 'n1.1', counter: n + 1, timeMs: 1000 + n }],
    siblings: [{ value: text(String(n)), contentType: 'text/plain', deleted: false, dot: { actor: 'n1.1', counter: n + 1 }, timeMs: 1000 + n }],
  };
}

function counterOf(obj: StoredObject | undefined): number | undefined {
  if (obj === undefined) return undefined;
  return Number(new TextDecoder().decode(obj.siblings[0]?.value));
}

const set = (n: number) => (): StoredObject => counterObject(n);
const increment = (current: StoredObject | undefined): StoredObject => counterObject((counterOf(current) ?? 0) + 1);

/** A MemoryEngine wrapper that records every batch and does not really close. */
class ProbeEngine implements StorageEngine {
  readonly name = 'probe';
  readonly batches: { objects: number; durable: boolean }[] = [];
  closed = false;
  constructor(readonly inner = new MemoryEngine()) {}
  get(partition: number, k: Uint8Array): Uint8Array | undefined {
    return this.inner.get(partition, k);
  }
  writeBatch(ops: readonly WriteOp[], options: { durable: boolean }): Promise<void> {
    this.batches.push({ objects: ops.length, durable: options.durable });
    return this.inner.writeBatch(ops, options);
  }
  scanPartition(partition: number, options: { afterKey?: Uint8Array; limit: number }): ScanEntry[] {
    return this.inner.scanPartition(partition, options);
  }
  count(): number {
    return this.inner.count();
  }
  async close(): Promise<void> {
    this.closed = true;
  }
  /** The counter stored in the engine itself (not the buffer). */
  stored(k: string, partition = 0): number | undefined {
    const bytes = this.inner.get(partition, key(k));
    return bytes === undefined ? undefined : counterOf(decodeObject(bytes));
  }
}

function setup(options: ObjectStoreOptions = {}) {
  const engine = new ProbeEngine();
  const clock = new ManualClock();
  const events = { flushes: [] as { objects: number; durable: boolean }[], errors: [] as Error[], waits: [] as number[] };
  const store = new ObjectStore(engine, clock, {
    flushIntervalMs: 100,
    ...options,
    events: {
      onFlush: (objects, _durationMs, durable) => events.flushes.push({ objects, durable }),
      onEngineError: (error) => events.errors.push(error),
      onWriteWait: (waitMs) => events.waits.push(waitMs),
    },
  });
  return { engine, clock, store, events };
}

/** Whether a promise has settled by now (after letting microtasks run). */
async function settled(promise: Promise<unknown>): Promise<boolean> {
  let done = false;
  promise.then(
    () => (done = true),
    () => (done = true),
  );
  await drainMicrotasks();
  return done;
}

describe('ObjectStore: buffer basics', () => {
  it('acknowledges a non-durable write from the buffer, and reads see it before any flush', async () => {
    const { engine, store } = setup();
    const written = await store.update(0, key('k'), set(1), { durable: false });
    assert.equal(counterOf(written), 1);
    assert.equal(counterOf(store.get(0, key('k'))), 1);
    assert.equal(engine.stored('k'), undefined);
    assert.equal(engine.batches.length, 0);
    assert.deepEqual(
      { buffered: store.stats().bufferedObjects, dirty: store.stats().dirtyObjects, flushing: store.stats().flushing },
      { buffered: 1, dirty: 1, flushing: false },
    );
  });

  it('flushes after flushIntervalMs, in one non-durable batch, then reads come from the engine', async () => {
    const { engine, clock, store, events } = setup({ flushIntervalMs: 100 });
    await store.update(0, key('a'), set(1), { durable: false });
    await store.update(1, key('b'), set(2), { durable: false });
    await clock.advance(99);
    assert.equal(engine.batches.length, 0);
    await clock.advance(1);
    assert.deepEqual(engine.batches, [{ objects: 2, durable: false }]);
    assert.deepEqual(events.flushes, [{ objects: 2, durable: false }]);
    assert.equal(engine.stored('a'), 1);
    assert.equal(engine.stored('b', 1), 2);
    assert.equal(store.stats().bufferedObjects, 0);
    assert.equal(counterOf(store.get(1, key('b'))), 2);
    assert.equal(store.get(0, key('b')), undefined);
  });

  it('flushes at once when the buffer reaches bufferObjectsMax', async () => {
    const { engine, store } = setup({ bufferObjectsMax: 3, flushIntervalMs: 60_000 });
    await store.update(0, key('a'), set(1), { durable: false });
    await store.update(0, key('b'), set(1), { durable: false });
    await drainMicrotasks();
    assert.equal(engine.batches.length, 0);
    await store.update(0, key('c'), set(1), { durable: false });
    await drainMicrotasks();
    assert.deepEqual(engine.batches, [{ objects: 3, durable: false }]);
    assert.equal(store.stats().bufferedObjects, 0);
  });

  it('reads fall through to the engine and decode; corrupt bytes raise CorruptObjectError', async () => {
    const { engine, store } = setup();
    await engine.inner.writeBatch(
      [
        { kind: 'put', partition: 2, key: key('good'), value: encodeObject(counterObject(7)) },
        { kind: 'put', partition: 2, key: key('bad'), value: text('garbage') },
      ],
      { durable: false },
    );
    assert.equal(counterOf(store.get(2, key('good'))), 7);
    assert.throws(() => store.get(2, key('bad')), CorruptObjectError);
    await assert.rejects(store.update(2, key('bad'), increment, { durable: false }), CorruptObjectError);
  });

  it('keeps an entry readable while its flush is in flight; a newer write stays dirty', async () => {
    const { engine, clock, store } = setup();
    await store.update(0, key('k'), set(1), { durable: false });
    engine.inner.pauseWrites();
    await clock.advance(100);
    assert.equal(store.stats().flushing, true);
    assert.equal(counterOf(store.get(0, key('k'))), 1);
    await store.update(0, key('k'), set(2), { durable: false });
    assert.equal(counterOf(store.get(0, key('k'))), 2);
    engine.inner.resumeWrites();
    await drainMicrotasks();
    assert.equal(engine.stored('k'), 1);
    assert.equal(counterOf(store.get(0, key('k'))), 2, 'the newer buffered value wins over the engine');
    assert.equal(store.stats().dirtyObjects, 1);
    await clock.advance(100);
    assert.equal(engine.stored('k'), 2);
    assert.equal(store.stats().bufferedObjects, 0);
  });
});

describe('ObjectStore: update semantics', () => {
  it('a change that returns undefined writes nothing and resolves with the current value', async () => {
    const { engine, clock, store } = setup();
    await store.update(0, key('k'), set(5), { durable: false });
    await clock.advance(100);
    const batches = engine.batches.length;
    const result = await store.update(0, key('k'), () => undefined, { durable: false });
    assert.equal(counterOf(result), 5);
    assert.equal(store.stats().bufferedObjects, 0);
    await clock.advance(1000);
    assert.equal(engine.batches.length, batches);
  });

  it('a change that throws rejects the update and changes nothing', async () => {
    const { store } = setup();
    await store.update(0, key('k'), set(1), { durable: false });
    const boom = new Error('resolver failed');
    await assert.rejects(
      store.update(0, key('k'), () => {
        throw boom;
      }, { durable: true }),
      boom,
    );
    await assert.rejects(store.update(0, key('new'), () => ({ vector: [], siblings: 'x' }) as unknown as StoredObject, { durable: false }), InvalidObjectError);
    assert.equal(counterOf(store.get(0, key('k'))), 1);
    assert.equal(store.get(0, key('new')), undefined);
    assert.equal(store.stats().bufferedObjects, 1);
  });

  it('REMOVE_OBJECT deletes the key: hidden at once, gone from the engine after the flush', async () => {
    const { engine, clock, store } = setup();
    await store.update(0, key('k'), set(1), { durable: true });
    assert.equal(engine.stored('k'), 1);
    const result = await store.update(0, key('k'), () => REMOVE_OBJECT, { durable: false });
    assert.equal(result, undefined);
    assert.equal(store.get(0, key('k')), undefined, 'a pending removal hides the engine value');
    await clock.advance(100);
    assert.equal(engine.inner.get(0, key('k')), undefined);
    assert.equal(engine.count(), 0);
  });

  it('rejects bad partitions and keys without buffering anything', async () => {
    const { store } = setup();
    await assert.rejects(store.update(70_000, key('k'), set(1), { durable: false }), StorageError);
    await assert.rejects(store.update(0, new Uint8Array(5000), set(1), { durable: false }), StorageError);
    assert.equal(store.stats().bufferedObjects, 0);
  });

  it('rejects options that make no sense', () => {
    const engine = new MemoryEngine();
    const clock = new ManualClock();
    assert.throws(() => new ObjectStore(engine, clock, { bufferObjectsMax: -1 }), RangeError);
    assert.throws(() => new ObjectStore(engine, clock, { flushIntervalMs: 1.5 }), RangeError);
    assert.throws(() => new ObjectStore(engine, clock, { flushBatchObjectsMax: 0 }), RangeError);
    assert.throws(() => new ObjectStore(engine, clock, { retryDelayMsMin: 100, retryDelayMsMax: 10 }), RangeError);
  });
});

describe('ObjectStore: durable writes', () => {
  it('a durable write flushes at once and resolves only after a durable batch holding it', async () => {
    const { engine, store, events } = setup({ flushIntervalMs: 60_000 });
    await store.update(0, key('other'), set(1), { durable: false });
    engine.inner.pauseWrites();
    const durable = store.update(0, key('k'), set(9), { durable: true });
    assert.equal(await settled(durable), false);
    assert.equal(engine.batches.length, 1, 'the flush started without waiting for the interval');
    assert.deepEqual(engine.batches[0], { objects: 2, durable: true }, 'pending non-durable writes ride along');
    assert.equal(counterOf(store.get(0, key('k'))), 9);
    engine.inner.resumeWrites();
    assert.equal(counterOf(await durable), 9);
    assert.equal(engine.stored('k'), 9);
    assert.deepEqual(events.flushes, [{ objects: 2, durable: true }]);
  });

  it('a durable write of a key whose older version is in a non-durable flight waits for a durable batch', async () => {
    const { engine, clock, store } = setup();
    await store.update(0, key('k'), set(1), { durable: false });
    engine.inner.pauseWrites();
    await clock.advance(100); // non-durable flight of version 1
    const durable = store.update(0, key('k'), set(2), { durable: true });
    engine.inner.resumeWrites();
    assert.equal(counterOf(await durable), 2);
    assert.deepEqual(engine.batches, [
      { objects: 1, durable: false },
      { objects: 1, durable: true },
    ]);
    assert.equal(engine.stored('k'), 2);
  });

  it('a durable no-op still waits until the current value is durable', async () => {
    const { engine, clock, store } = setup();
    await store.update(0, key('k'), set(3), { durable: false });
    const noop = store.update(0, key('k'), () => undefined, { durable: true });
    assert.equal(counterOf(await noop), 3);
    assert.deepEqual(engine.batches, [{ objects: 1, durable: true }]);
    // Once the value has left the buffer (non-durably), an empty durable batch syncs it.
    await store.update(0, key('j'), set(4), { durable: false });
    await clock.advance(100);
    assert.equal(counterOf(await store.update(0, key('j'), () => undefined, { durable: true })), 4);
    assert.deepEqual(engine.batches.slice(1), [
      { objects: 1, durable: false },
      { objects: 0, durable: true },
    ]);
  });

  it('flush() makes everything buffered durable', async () => {
    const { engine, store } = setup({ flushIntervalMs: 60_000, flushBatchObjectsMax: 3 });
    for (let i = 0; i < 10; i++) await store.update(0, key(`k${i}`), set(i), { durable: false });
    await store.flush();
    for (let i = 0; i < 10; i++) assert.equal(engine.stored(`k${i}`), i);
    assert.ok(engine.batches.every((b) => b.durable && b.objects <= 3));
    assert.equal(store.stats().bufferedObjects, 0);
    await store.flush(); // nothing buffered: resolves at once
  });
});

describe('ObjectStore: group commit (groupCommitMs)', () => {
  const grouped = { durable: true, groupCommit: true } as const;

  it('a group-commit write flushes at once when no flush began within the gap, then later ones share one fsync after it', async () => {
    const { engine, clock, store } = setup({ flushIntervalMs: 60_000, groupCommitMs: 50 });
    const first = store.update(0, key('a'), set(1), grouped);
    assert.equal(counterOf(await first), 1);
    assert.deepEqual(engine.batches, [{ objects: 1, durable: true }], 'nothing began within the gap: flushed at once');
    await clock.advance(10);
    const second = store.update(0, key('b'), set(2), grouped);
    await clock.advance(10);
    const third = store.update(0, key('c'), set(3), grouped);
    assert.equal(await settled(second), false);
    assert.equal(engine.batches.length, 1, 'the second and third wait for the gap');
    await clock.advance(29);
    assert.equal(await settled(third), false);
    await clock.advance(1);
    assert.deepEqual([counterOf(await second), counterOf(await third)], [2, 3]);
    assert.deepEqual(engine.batches, [
      { objects: 1, durable: true },
      { objects: 2, durable: true },
    ], 'one fsync 50 ms after the first began');
  });

  it('a durable write without groupCommit, or a full buffer, does not wait for the gap', async () => {
    const { engine, clock, store } = setup({ flushIntervalMs: 60_000, groupCommitMs: 50, bufferObjectsMax: 3 });
    await store.update(0, key('a'), set(1), grouped);
    const waiting = store.update(0, key('b'), set(2), grouped);
    assert.equal(await settled(waiting), false);
    const now = store.update(0, key('c'), set(3), { durable: true });
    assert.deepEqual([counterOf(await now), counterOf(await waiting)], [3, 2], 'the write that may not wait takes the waiting one along');
    assert.equal(engine.batches.length, 2);
    await clock.advance(1);
    for (const k of ['d', 'e', 'f']) await store.update(0, key(k), set(4), { durable: false });
    await drainMicrotasks();
    assert.equal(engine.batches.length, 3, 'a full buffer flushes within the gap');
  });

  it('groupCommitMs 0 (the default) flushes every durable write at once', async () => {
    const { engine, store } = setup({ flushIntervalMs: 60_000 });
    for (const k of ['a', 'b', 'c']) await store.update(0, key(k), set(1), grouped);
    assert.equal(engine.batches.length, 3);
  });
});

describe('ObjectStore: a full buffer and a stalled engine', () => {
  it('new keys wait, then fail with BufferFullError after writeWaitMsMax; buffered keys never wait', async () => {
    const { engine, clock, store, events } = setup({ bufferObjectsMax: 2, writeWaitMsMax: 500 });
    engine.inner.pauseWrites();
    await store.update(0, key('a'), set(1), { durable: false });
    await store.update(0, key('b'), set(1), { durable: false });
    await drainMicrotasks(); // full: the flush of a, b is in flight (and stalled)
    assert.equal(store.stats().flushingObjects, 2);
    await store.update(0, key('c'), set(1), { durable: false });
    await store.update(0, key('d'), set(1), { durable: false });
    const waiting = store.update(0, key('e'), set(1), { durable: false });
    assert.equal(await settled(waiting), false);
    assert.equal(store.stats().waitingWrites, 1);
    assert.equal(counterOf(await store.update(0, key('a'), increment, { durable: false })), 2, 'a buffered key needs no room');
    assert.equal(store.get(0, key('e')), undefined);
    await clock.advance(499);
    assert.equal(await settled(waiting), false);
    await clock.advance(1);
    await assert.rejects(waiting, BufferFullError);
    assert.deepEqual(events.waits, [500]);
    assert.equal(store.get(0, key('e')), undefined);
    assert.ok(store.stats().bufferedObjects <= store.stats().bufferedObjectsMax);
    engine.inner.resumeWrites();
    await store.flush();
    assert.equal(engine.stored('a'), 2);
    assert.equal(engine.stored('d'), 1);
  });

  it('a waiting write is admitted when room frees up, and runs its change on the freshest value', async () => {
    const { engine, store, events } = setup({ bufferObjectsMax: 1, writeWaitMsMax: 1000 });
    await store.update(0, key('x'), set(10), { durable: true }); // x is in the engine only
    engine.inner.pauseWrites();
    await store.update(0, key('a'), set(1), { durable: false }); // full: a goes in flight
    await drainMicrotasks();
    await store.update(0, key('b'), set(1), { durable: false }); // room besides the flight
    const waiters = Array.from({ length: 5 }, () => store.update(0, key('x'), increment, { durable: false }));
    assert.equal(store.stats().waitingWrites, 5);
    engine.inner.resumeWrites();
    const results = (await Promise.all(waiters)).map(counterOf);
    assert.deepEqual(results, [11, 12, 13, 14, 15], 'FIFO, and none of the increments is lost');
    assert.equal(events.waits.length, 5);
    await store.flush();
    assert.equal(engine.stored('x'), 15);
  });

  it('refuses at once when too many writes are waiting', async () => {
    const { engine, store } = setup({ bufferObjectsMax: 1, waitingWritesMax: 1 });
    engine.inner.pauseWrites();
    await store.update(0, key('a'), set(1), { durable: false });
    await drainMicrotasks();
    await store.update(0, key('b'), set(1), { durable: false });
    const first = store.update(0, key('c'), set(1), { durable: false });
    await assert.rejects(store.update(0, key('d'), set(1), { durable: false }), BufferFullError);
    engine.inner.resumeWrites();
    assert.equal(counterOf(await first), 1);
  });

  it('holds at most bufferObjectsMax + one batch in memory, however many keys are written', async () => {
    const { store } = setup({ bufferObjectsMax: 50, flushIntervalMs: 60_000 });
    let peak = 0;
    for (let i = 0; i < 5000; i++) {
      await store.update(i % 7, key(`key-${i}`), set(i), { durable: false });
      peak = Math.max(peak, store.stats().bufferedObjects);
    }
    assert.ok(peak <= store.stats().bufferedObjectsMax, `peak ${peak}`);
    assert.equal(store.stats().bufferedObjectsMax, 100);
    await store.flush();
  });
});

describe('ObjectStore: engine failures', () => {
  it('keeps failed entries buffered and readable, rejects durable writers, backs off, then recovers', async () => {
    const { engine, clock, store, events } = setup({ retryDelayMsMin: 50, retryDelayMsMax: 1000 });
    const failure = new StorageError('disk full');
    engine.inner.failNextWrites(3, failure);
    await store.update(0, key('a'), set(1), { durable: false });
    await assert.rejects(store.update(0, key('k'), set(1), { durable: true }), failure);
    assert.equal(events.errors.length, 1);
    assert.equal(counterOf(store.get(0, key('k'))), 1, 'reads keep working');
    assert.equal(store.stats().engineFailures, 1);
    // A durable write during the backoff does not hammer the engine: it waits for the retry.
    const during = assert.rejects(store.update(0, key('b'), set(1), { durable: true }), failure);
    await clock.advance(49);
    assert.equal(engine.batches.length, 1);
    await clock.advance(1); // retry 1 fails, next delay 100
    assert.equal(engine.batches.length, 2);
    await during;
    await clock.advance(99);
    assert.equal(engine.batches.length, 2);
    await clock.advance(1); // retry 2 fails, next delay 200
    assert.equal(engine.batches.length, 3);
    await clock.advance(200); // retry 3 succeeds
    assert.equal(engine.batches.length, 4);
    assert.equal(store.stats().engineFailures, 0);
    assert.equal(store.stats().bufferedObjects, 0);
    for (const k of ['a', 'k', 'b']) assert.equal(engine.stored(k), 1, `${k} persisted by the retry`);
    assert.equal(events.errors.length, 3);
  });

  it('flush() retries at once instead of waiting for the backoff', async () => {
    const { engine, store } = setup({ retryDelayMsMin: 10_000, retryDelayMsMax: 10_000 });
    engine.inner.failNextWrites(1);
    await assert.rejects(store.update(0, key('k'), set(1), { durable: true }), StorageError);
    await store.flush();
    assert.equal(engine.stored('k'), 1);
  });

  it('an engine that throws instead of rejecting is handled the same way', async () => {
    const { engine, clock, store, events } = setup();
    const original = engine.writeBatch.bind(engine);
    let throwOnce = true;
    engine.writeBatch = (ops, options) => {
      if (throwOnce) {
        throwOnce = false;
        throw new Error('sync failure');
      }
      return original(ops, options);
    };
    await assert.rejects(store.update(0, key('k'), set(1), { durable: true }), StorageError);
    assert.equal(events.errors.length, 1);
    await clock.advance(1000);
    assert.equal(engine.stored('k'), 1);
  });

  it('a throwing metrics hook does not disturb the writer', async () => {
    const engine = new MemoryEngine();
    const store = new ObjectStore(engine, new ManualClock(), {
      events: {
        onFlush: () => {
          throw new Error('metrics bug');
        },
      },
    });
    assert.equal(counterOf(await store.update(0, key('k'), set(1), { durable: true })), 1);
    assert.ok(engine.get(0, key('k')) !== undefined);
  });
});

describe('ObjectStore: close', () => {
  it('flushes everything, closes the engine, refuses later writes', async () => {
    const { engine, store } = setup({ flushIntervalMs: 60_000 });
    for (let i = 0; i < 20; i++) await store.update(0, key(`k${i}`), set(i), { durable: false });
    await store.close();
    assert.equal(engine.closed, true);
    for (let i = 0; i < 20; i++) assert.equal(engine.stored(`k${i}`), i);
    await assert.rejects(store.update(0, key('late'), set(1), { durable: false }), StoreClosedError);
    await store.close(); // idempotent
  });

  it('rejects writes still waiting for room', async () => {
    const { engine, store } = setup({ bufferObjectsMax: 1 });
    engine.inner.pauseWrites();
    await store.update(0, key('a'), set(1), { durable: false });
    await drainMicrotasks();
    await store.update(0, key('b'), set(1), { durable: false });
    const waiting = store.update(0, key('c'), set(1), { durable: false });
    const closing = store.close();
    await assert.rejects(waiting, StoreClosedError);
    engine.inner.resumeWrites();
    await closing;
    assert.equal(engine.stored('b'), 1);
    assert.equal(engine.stored('c'), undefined);
  });

  it('rejects when the final flush fails, and can be retried', async () => {
    const { engine, store } = setup();
    await store.update(0, key('k'), set(1), { durable: false });
    engine.inner.failNextWrites(1);
    await assert.rejects(store.close(), StorageError);
    assert.equal(engine.closed, false);
    await store.close();
    assert.equal(engine.stored('k'), 1);
    assert.equal(engine.closed, true);
  });
});

describe('ObjectStore: buffer off (bufferObjectsMax = 0)', () => {
  it('every write is a durable engine write, readable while in flight', async () => {
    const { engine, store } = setup({ bufferObjectsMax: 0 });
    engine.inner.pauseWrites();
    const write = store.update(0, key('k'), set(1), { durable: false });
    assert.equal(await settled(write), false);
    assert.equal(counterOf(store.get(0, key('k'))), 1);
    engine.inner.resumeWrites();
    assert.equal(counterOf(await write), 1);
    assert.deepEqual(engine.batches, [{ objects: 1, durable: true }]);
    assert.equal(store.stats().bufferedObjects, 0);
    assert.equal(engine.stored('k'), 1);
  });

  it('concurrent writes share batches and none is lost', async () => {
    const { engine, store } = setup({ bufferObjectsMax: 0, flushBatchObjectsMax: 4 });
    const writes = Array.from({ length: 10 }, (_, i) => store.update(0, key(i % 2 === 0 ? 'even' : `k${i}`), increment, { durable: false }));
    await Promise.all(writes);
    assert.equal(engine.stored('even'), 5);
    assert.ok(engine.batches.every((b) => b.durable && b.objects <= 4));
    assert.ok(store.stats().bufferedObjects === 0);
  });
});

describe('ObjectStore: increments under contention (property)', () => {
  it('never loses an acknowledged increment and stays within its memory bound', async (t) => {
    const seed = testSeed(t, import.meta.url);
    type Step =
      | { kind: 'inc'; key: number; durable: boolean }
      | { kind: 'advance'; ms: number }
      | { kind: 'pause' }
      | { kind: 'resume' }
      | { kind: 'fail'; count: number };
    const step: fc.Arbitrary<Step> = fc.oneof(
      { weight: 8, arbitrary: fc.record({ kind: fc.constant('inc' as const), key: fc.nat({ max: 12 }), durable: fc.boolean() }) },
      { weight: 2, arbitrary: fc.record({ kind: fc.constant('advance' as const), ms: fc.integer({ min: 1, max: 400 }) }) },
      { weight: 1, arbitrary: fc.constant({ kind: 'pause' as const }) },
      { weight: 1, arbitrary: fc.constant({ kind: 'resume' as const }) },
      { weight: 1, arbitrary: fc.record({ kind: fc.constant('fail' as const), count: fc.integer({ min: 1, max: 2 }) }) },
    );
    const config = fc.record({
      bufferObjectsMax: fc.integer({ min: 0, max: 4 }),
      flushBatchObjectsMax: fc.integer({ min: 1, max: 4 }),
      writeWaitMsMax: fc.integer({ min: 0, max: 300 }),
    });
    await fc.assert(
      fc.asyncProperty(config, fc.array(step, { maxLength: 60 }), async (options, steps) => {
        const { engine, clock, store } = setup({ ...options, flushIntervalMs: 50, retryDelayMsMin: 20, retryDelayMsMax: 100 });
        const acknowledged = new Map<number, number>();
        /** Increments applied so far: `change` runs exactly once per admitted write. */
        const admitted = new Map<number, number>();
        const countedIncrement = (k: number) => (current: StoredObject | undefined): StoredObject => {
          const n = admitted.get(k) ?? 0;
          assert.equal(counterOf(current) ?? 0, n, 'change sees the freshest value');
          admitted.set(k, n + 1);
          return counterObject(n + 1);
        };
        const inFlight: Promise<void>[] = [];
        const checkBound = (): void => {
          const s = store.stats();
          assert.ok(s.bufferedObjects <= s.bufferedObjectsMax, `${s.bufferedObjects} > ${s.bufferedObjectsMax}`);
        };
        for (const s of steps) {
          if (s.kind === 'inc') {
            const counted = store.update(0, key(`k${s.key}`), countedIncrement(s.key), { durable: s.durable }).then(
              () => void acknowledged.set(s.key, (acknowledged.get(s.key) ?? 0) + 1),
              (error: unknown) => {
                // Refused before admission (nothing written) or a failed durable write (kept
                // in the buffer, persisted by a retry): count the latter as applied.
                if (error instanceof StorageError) acknowledged.set(s.key, (acknowledged.get(s.key) ?? 0) + 1);
                else assert.ok(error instanceof BufferFullError, String(error));
              },
            );
            inFlight.push(counted);
          } else if (s.kind === 'advance') await clock.advance(s.ms);
          else if (s.kind === 'pause') engine.inner.pauseWrites();
          else if (s.kind === 'resume') engine.inner.resumeWrites();
          else engine.inner.failNextWrites(s.count);
          checkBound();
          for (const [k, n] of admitted) assert.equal(counterOf(store.get(0, key(`k${k}`))), n, 'reads see every admitted write');
        }
        engine.inner.resumeWrites();
        await clock.runAll();
        await Promise.all(inFlight);
        await store.close();
        for (const [k, n] of acknowledged) assert.equal(engine.stored(`k${k}`), n, `key k${k}`);
        assert.deepEqual(acknowledged, admitted);
        assert.equal(engine.inner.count(), acknowledged.size);
      }),
      { seed, numRuns: 150 },
    );
  });
});

describe('ObjectStore.forEachInPartition and the observer', () => {
  it('visits what reads see (buffer over engine, removals hidden) and tells the observer of every change in order', async () => {
    const changes: string[] = [];
    const engine = new ProbeEngine();
    const clock = new ManualClock();
    const store = new ObjectStore(engine, clock, {
      flushIntervalMs: 100,
      observer: (partition, k, before, after) => changes.push(`${partition}:${new TextDecoder().decode(k)}:${counterOf(before) ?? '-'}>${counterOf(after) ?? '-'}`),
    });
    for (const name of ['a', 'b', 'c', 'd']) await store.update(0, key(name), set(1), { durable: false });
    await store.update(1, key('other'), set(1), { durable: false });
    await store.flush();
    await store.update(0, key('b'), increment, { durable: false }); // buffered over the engine's b
    await store.update(0, key('c'), () => REMOVE_OBJECT, { durable: false }); // removed, still buffered
    await store.update(0, key('e'), set(7), { durable: false }); // only in the buffer
    await store.update(0, key('a'), () => undefined, { durable: false }); // no change: no notice
    const seen: string[] = [];
    store.forEachInPartition(0, (k, object) => seen.push(`${new TextDecoder().decode(k)}=${counterOf(object)}`), { pageObjects: 2 });
    assert.deepEqual(seen.sort(), ['a=1', 'b=2', 'd=1', 'e=7']);
    const picked: string[] = [];
    const wanted = (k: Uint8Array) => ['b', 'c', 'e'].includes(new TextDecoder().decode(k));
    store.forEachInPartition(0, (k, object) => picked.push(`${new TextDecoder().decode(k)}=${counterOf(object)}`), { pageObjects: 2, wanted });
    assert.deepEqual(picked.sort(), ['b=2', 'e=7'], 'only the wanted keys, still as reads see them');
    assert.deepEqual(changes, ['0:a:->1', '0:b:->1', '0:c:->1', '0:d:->1', '1:other:->1', '0:b:1>2', '0:c:1>-', '0:e:->7']);
    await store.close();
  });
});
