/**
 * The node-local object store: the in-memory object buffer of the Dynamo paper's section
 * 6.1 in front of a StorageEngine.
 *
 * - `update` is the only write path. Its `change` runs synchronously on the freshest value
 *   (buffer, else engine) at the moment the write is admitted, so read-modify-write is
 *   atomic per key, also for writes that waited for buffer space.
 * - A non-durable write is acknowledged once it is in the buffer. A background writer
 *   flushes dirty entries in batches every `flushIntervalMs`, and at once when the buffer
 *   holds `bufferObjectsMax` dirty objects. One batch is in flight at a time; its entries
 *   stay readable, and a key updated meanwhile stays dirty with the newer value.
 * - A durable write triggers an immediate flush and resolves once a durable (fsynced) batch
 *   holding that version (or a newer one) of the key is done.
 * - `bufferObjectsMax: 0` turns the buffer off: every write is a durable write that goes
 *   straight to the engine (the pending writes are still readable while in flight).
 * - Memory is bounded: at most `bufferObjectsMax` objects wait for a flush besides the
 *   batch in flight (`flushBatchObjectsMax`), so `stats().bufferedObjects` never exceeds
 *   `stats().bufferedObjectsMax`. A write of a new key that finds no room waits in a bounded
 *   FIFO for at most `writeWaitMsMax`, then fails with BufferFullError (the API's 503).
 *   Writes to keys already buffered never wait.
 * - Engine errors: the batch's entries stay buffered and are retried after a backoff
 *   (doubling from `retryDelayMsMin` to `retryDelayMsMax`, through the Clock); durable
 *   writes in that batch reject with the StorageError. Such a rejected write may still be
 *   persisted by a later retry (as a 503 in the paper is not a rollback).
 */
import type { StoredObject } from '../core/object.ts';
import type { Clock, TimerHandle } from '../ports/clock.ts';
import { REMOVE_OBJECT, type BufferEvents, type EncodedObject, type BufferStats, type ObjectChange, type PartitionEntry, type PartitionPage } from '../ports/replica.ts';
import type { StorageEngine, WriteOp } from '../ports/storage.ts';
import { StorageError } from '../ports/storage.ts';
import { checkKey, checkPartition, copyBytes, partitionKeyString } from './keys.ts';
import { compareBytes } from '../core/bytes.ts';
import { decodeObject, encodeObject } from './objectCodec.ts';
import { ObjectCache, type CacheLimits, type CacheStats } from '../core/cache/objectCache.ts';

/**
 * What a cached object is charged: its encoding, its decoded copy and the JavaScript objects
 * around them. `npm run bench:cache-memory` measured 1,505 bytes for an object of 208
 * encoded bytes (1,197 of heap, 308 of array buffers); this charges it 1,516.
 */
export function cacheChargeOf(bytes: Uint8Array): number {
  return 2 * bytes.length + CACHE_ENTRY_OVERHEAD_BYTES;
}
const CACHE_ENTRY_OVERHEAD_BYTES = 1100;

/**
 * The cache keeps its own copy of each object, built here and nowhere else. V8 pretenures an
 * allocation site many of whose objects outlive a scavenge: holding the decoder's own
 * objects made every later decode allocate straight into the old generation (a GET's
 * garbage-collection time went up 10x with 10,000 objects cached, and the cache cost more
 * CPU than it saved). Objects from this function are meant to live long.
 */
function copyForCache(encoded: EncodedObject): EncodedObject {
  const { vector, siblings, supersededWrites } = encoded.object;
  const copied: StoredObject = {
    vector: vector.map((e) => ({ actor: e.actor, counter: e.counter, timeMs: e.timeMs })),
    siblings: siblings.map((s) =>
      s.writeId === undefined
        ? { value: s.value, contentType: s.contentType, deleted: s.deleted, dot: { actor: s.dot.actor, counter: s.dot.counter }, timeMs: s.timeMs }
        : { value: s.value, contentType: s.contentType, deleted: s.deleted, dot: { actor: s.dot.actor, counter: s.dot.counter }, timeMs: s.timeMs, writeId: s.writeId },
    ),
  };
  const object = supersededWrites === undefined ? copied : { ...copied, supersededWrites: supersededWrites.map((e) => ({ writeId: e.writeId, timeMs: e.timeMs })) };
  return { object, bytes: encoded.bytes };
}
const CACHE_OFF: CacheLimits = { objectsMax: 0, bytesMax: 0, policy: 'lru' };

const everyKey = (): boolean => true;


export interface ObjectStoreOptions {
  /** Dirty objects kept in memory; 0 turns the buffer off. Default 1000. */
  readonly bufferObjectsMax?: number;
  /** How long a non-durable write may sit in the buffer before a flush starts. Default 100. */
  readonly flushIntervalMs?: number;
  /** How long a write of a new key waits for room before BufferFullError. Default 1000. */
  readonly writeWaitMsMax?: number;
  /** Objects per engine batch. Default bufferObjectsMax (1000 when the buffer is off). */
  readonly flushBatchObjectsMax?: number;
  /**
   * Group commit: a flush that durable writes ask for starts at least this long after the
   * previous flush started, so the durable writes arriving meanwhile share its fsync. At a
   * low write rate a durable write still flushes at once. Default 0 (no gap).
   */
  readonly groupCommitMs?: number;
  /** Writes that may wait for room at once; more fail with BufferFullError. Default 10000. */
  readonly waitingWritesMax?: number;
  /** First retry delay after an engine error, doubled per failure. Default 50. */
  readonly retryDelayMsMin?: number;
  /** Longest retry delay. Default 5000. */
  readonly retryDelayMsMax?: number;
  readonly events?: BufferEvents;
  /**
   * The cache of clean objects read from the engine (core/cache/objectCache.ts): reads and
   * read-modify-writes of cached keys skip the engine and the decoding. Default off.
   */
  readonly cache?: CacheLimits;
  /**
   * Told synchronously of every change a write makes to a key (before: the value it
   * replaced; after: undefined once removed), in the order of the writes: what keeps the
   * anti-entropy hash trees up to date. It must not throw.
   */
  readonly observer?: ObjectObserver;
}

/**
 * When a write counts as done: once buffered; once fsynced, the flush free to wait for the
 * group-commit gap (an acknowledgement nobody waits for to reach W); once fsynced, flushed now.
 */
type Sync = 'buffered' | 'grouped' | 'now';

export type ObjectObserver = (partition: number, key: Uint8Array, before: StoredObject | undefined, after: StoredObject | undefined) => void;


/** No room in the buffer within writeWaitMsMax (or too many writes waiting): answer 503. */
export class BufferFullError extends Error {
  readonly code = 'BUFFER_FULL';
  constructor(message: string) {
    super(message);
    this.name = 'BufferFullError';
  }
}

/** The store is closing or closed. */
export class StoreClosedError extends Error {
  readonly code = 'STORE_CLOSED';
  constructor() {
    super('object store is closed');
    this.name = 'StoreClosedError';
  }
}

interface Deferred<T> {
  readonly promise: Promise<T>;
  resolve(value: T | PromiseLike<T>): void;
  reject(error: unknown): void;
}

function deferred<T>(): Deferred<T> {
  let resolve!: (value: T | PromiseLike<T>) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** One buffered key. It is in `entries` from its first write until a flush persists it. */
interface Entry {
  readonly id: string;
  readonly partition: number;
  readonly key: Uint8Array;
  /** The newest value; undefined = the key is to be removed. */
  object: StoredObject | undefined;
  bytes: Uint8Array | undefined;
  version: number;
  persistedVersion: number;
  inFlight: boolean;
  /** Durable writes waiting for a durable batch holding the current (or a newer) version. */
  durableWaiters: Deferred<void>[];
}

interface WaitingWrite {
  readonly id: string;
  readonly partition: number;
  readonly key: Uint8Array;
  readonly change: ObjectChange;
  readonly sync: Sync;
  readonly result: Deferred<StoredObject | undefined>;
  readonly sinceMs: number;
  timer: TimerHandle | undefined;
}

interface Batch {
  readonly entries: Entry[];
  readonly versions: number[];
  readonly waiters: Deferred<void>[];
  readonly durable: boolean;
  readonly startMs: number;
}

function needsFlush(entry: Entry): boolean {
  return entry.version > entry.persistedVersion || entry.durableWaiters.length > 0;
}

function optionInt(name: string, value: number | undefined, fallback: number, min: number): number {
  const v = value ?? fallback;
  if (!Number.isSafeInteger(v) || v < min) throw new RangeError(`${name} must be an integer >= ${min}, got ${v}`);
  return v;
}

export class ObjectStore {
  private readonly bufferOff: boolean;
  /** New keys are admitted while fewer than this many objects wait outside the batch in flight. */
  private readonly admitLimit: number;
  private readonly flushIntervalMs: number;
  private readonly groupCommitMs: number;
  private readonly writeWaitMsMax: number;
  private readonly flushBatchObjectsMax: number;
  private readonly waitingWritesMax: number;
  private readonly retryDelayMsMin: number;
  private readonly retryDelayMsMax: number;
  private readonly events: BufferEvents;
  private readonly observer: ObjectObserver | undefined;
  /** The newest value of the keys it holds, always (every write passes through apply). */
  private readonly cache: ObjectCache<EncodedObject>;

  private readonly entries = new Map<string, Entry>();
  /** Entries waiting for a flush, oldest first (never the ones in flight). */
  private readonly dirty = new Set<Entry>();
  /** The dirty entries with durable waiters: they go first into the next batch. */
  private readonly durableDirty = new Set<Entry>();
  private readonly waiting: WaitingWrite[] = [];
  private batch: Batch | undefined;
  private flushTimer: TimerHandle | undefined;
  /** When the armed flush timer fires (monotonic ms). */
  private flushDueMs = 0;
  private lastFlushStartMs = -Infinity;
  private retryTimer: TimerHandle | undefined;
  private flushSoonQueued = false;
  /** A durable write that may not wait for the group-commit gap is dirty. */
  private durableNowAsked = false;
  private engineFailures = 0;
  private flushes = 0;
  private closing = false;
  private closePromise: Promise<void> | undefined;

  constructor(
    private readonly engine: StorageEngine,
    private readonly clock: Clock,
    options: ObjectStoreOptions = {},
  ) {
    const bufferObjectsMax = optionInt('bufferObjectsMax', options.bufferObjectsMax, 1000, 0);
    this.bufferOff = bufferObjectsMax === 0;
    this.flushBatchObjectsMax = optionInt('flushBatchObjectsMax', options.flushBatchObjectsMax, bufferObjectsMax || 1000, 1);
    this.admitLimit = this.bufferOff ? this.flushBatchObjectsMax : bufferObjectsMax;
    this.flushIntervalMs = optionInt('flushIntervalMs', options.flushIntervalMs, 100, 0);
    this.groupCommitMs = optionInt('groupCommitMs', options.groupCommitMs, 0, 0);
    this.writeWaitMsMax = optionInt('writeWaitMsMax', options.writeWaitMsMax, 1000, 0);
    this.waitingWritesMax = optionInt('waitingWritesMax', options.waitingWritesMax, 10_000, 0);
    this.retryDelayMsMin = optionInt('retryDelayMsMin', options.retryDelayMsMin, 50, 1);
    this.retryDelayMsMax = optionInt('retryDelayMsMax', options.retryDelayMsMax, 5000, this.retryDelayMsMin);
    this.events = options.events ?? {};
    this.observer = options.observer;
    this.cache = new ObjectCache(options.cache ?? CACHE_OFF, copyForCache);
  }

  /** The newest value: the buffer first (entries in flight included), then the cache, then the engine. */
  get(partition: number, key: Uint8Array): StoredObject | undefined {
    const id = partitionKeyString(partition, key);
    const entry = this.entries.get(id);
    if (entry !== undefined) return entry.object;
    return this.readThrough(id, partition, key)?.object;
  }

  /** The newest value with its encoding (decoded only when it comes from the engine), or undefined. */
  getEncoded(partition: number, key: Uint8Array): EncodedObject | undefined {
    const id = partitionKeyString(partition, key);
    const entry = this.entries.get(id);
    if (entry !== undefined) return entry.object === undefined ? undefined : { object: entry.object, bytes: entry.bytes as Uint8Array };
    return this.readThrough(id, partition, key);
  }

  /** The newest value's encoding, as stored (nothing decoded), or undefined. */
  getBytes(partition: number, key: Uint8Array): Uint8Array | undefined {
    const id = partitionKeyString(partition, key);
    const entry = this.entries.get(id);
    if (entry !== undefined) return entry.bytes;
    // A miss here is not offered to the cache: that would take a decode the caller does not need.
    return this.cache.get(id)?.bytes ?? this.engine.get(partition, key);
  }

  /** The cache's counters and size. */
  cacheStats(): CacheStats {
    return this.cache.stats();
  }

  /** The encoding the buffer holds for `object` when it is the key's newest value (so it is encoded once). */
  bufferedBytesOf(partition: number, key: Uint8Array, object: StoredObject): Uint8Array | undefined {
    const entry = this.entries.get(partitionKeyString(partition, key));
    return entry !== undefined && entry.object === object ? entry.bytes : undefined;
  }

  /**
   * Up to about `limit` objects of the partition after `afterKey`, encoded, in key order, as
   * reads see them now: the engine's next `limit` entries with the buffer laid over their
   * key range (buffered writes included, removals left out). `resumeAfter` is that range's
   * last key; undefined once the engine's page reached the end of the partition (buffered
   * keys past its last key are then in too).
   */
  scanEncoded(partition: number, afterKey: Uint8Array | undefined, limit: number): PartitionPage {
    checkPartition(partition);
    const page = this.engine.scanPartition(partition, afterKey === undefined ? { limit } : { afterKey, limit });
    const lastKey = page.length < limit ? undefined : (page[page.length - 1] as { key: Uint8Array }).key;
    const byId = new Map<string, PartitionEntry | undefined>();
    for (const { key, value } of page) byId.set(partitionKeyString(partition, key), { key, bytes: value });
    for (const entry of this.entries.values()) {
      if (entry.partition !== partition) continue;
      if (afterKey !== undefined && compareBytes(entry.key, afterKey) <= 0) continue;
      if (lastKey !== undefined && compareBytes(entry.key, lastKey) > 0) continue;
      byId.set(entry.id, entry.bytes === undefined ? undefined : { key: entry.key, bytes: entry.bytes });
    }
    const entries = [...byId.values()].filter((e): e is PartitionEntry => e !== undefined).sort((a, b) => compareBytes(a.key, b.key));
    return { entries, resumeAfter: lastKey };
  }

  /**
   * Applies `change` to the freshest value of the key and buffers the result. Resolves with
   * the value written (the current value when `change` returns undefined; undefined after
   * REMOVE_OBJECT), for a durable write once it is fsynced. Rejects, changing nothing, when
   * `change` throws or returns an invalid object; rejects with BufferFullError when no room
   * is found in time, StorageError when a durable write fails, StoreClosedError after close.
   * A durable write with `groupCommit` lets its flush wait for `groupCommitMs`.
   */
  update(
    partition: number,
    key: Uint8Array,
    change: ObjectChange,
    options: { readonly durable: boolean; readonly groupCommit?: boolean },
  ): Promise<StoredObject | undefined> {
    if (this.closing) return Promise.reject(new StoreClosedError());
    try {
      checkPartition(partition);
      checkKey(key);
    } catch (error) {
      return Promise.reject(error);
    }
    const id = partitionKeyString(partition, key);
    const sync: Sync = !(options.durable || this.bufferOff) ? 'buffered' : options.groupCommit === true ? 'grouped' : 'now';
    if (this.entries.has(id) || (this.waiting.length === 0 && this.hasRoom())) {
      return this.apply(id, partition, key, change, sync);
    }
    return this.wait(id, partition, key, change, sync);
  }

  /**
   * Visits every object of one partition as reads see it now (the buffer over the engine),
   * synchronously: no write can interleave, so the visit is a consistent snapshot. Scans
   * the engine in pages of `pageObjects`.
   */
  forEachInPartition(
    partition: number,
    visit: (key: Uint8Array, object: StoredObject) => void,
    options: { readonly pageObjects?: number; readonly wanted?: (key: Uint8Array) => boolean } = {},
  ): void {
    let afterKey: Uint8Array | undefined;
    do afterKey = this.visitPartitionPage(partition, afterKey, options.pageObjects ?? 1000, visit, options.wanted);
    while (afterKey !== undefined);
  }

  /**
   * Visits, as reads see them now, the partition's objects whose keys (in engine order)
   * follow `afterKey` up to the last key of the next `pageObjects` engine entries: buffered
   * objects in that range included. Returns that last key, or undefined once the page
   * reached the end of the partition (the buffered objects past the engine's last key were
   * then visited too). Synchronous; calling it page after page visits every object once,
   * and a caller that wants a consistent view across pages must itself follow writes to
   * keys at or before the returned key (partitionTrees.ts does). Keys `wanted` refuses are
   * skipped before their objects are decoded.
   */
  visitPartitionPage(
    partition: number,
    afterKey: Uint8Array | undefined,
    pageObjects: number,
    visit: (key: Uint8Array, object: StoredObject) => void,
    wanted: (key: Uint8Array) => boolean = everyKey,
  ): Uint8Array | undefined {
    checkPartition(partition);
    const page = this.engine.scanPartition(partition, afterKey === undefined ? { limit: pageObjects } : { afterKey, limit: pageObjects });
    const lastKey = page.length < pageObjects ? undefined : (page[page.length - 1] as { key: Uint8Array }).key;
    const buffered = new Map<string, Entry>();
    for (const entry of this.entries.values()) {
      if (entry.partition !== partition) continue;
      if (afterKey !== undefined && compareBytes(entry.key, afterKey) <= 0) continue;
      if (lastKey !== undefined && compareBytes(entry.key, lastKey) > 0) continue;
      buffered.set(entry.id, entry);
    }
    for (const { key, value } of page) {
      const entry = buffered.get(partitionKeyString(partition, key));
      if (entry === undefined) {
        if (wanted(key)) visit(key, decodeObject(value));
      } else {
        buffered.delete(entry.id);
        if (entry.object !== undefined && wanted(entry.key)) visit(entry.key, entry.object);
      }
    }
    for (const entry of buffered.values()) if (entry.object !== undefined && wanted(entry.key)) visit(entry.key, entry.object);
    return lastKey;
  }

  /** Resolves once everything buffered now is persisted and fsynced. */
  flush(): Promise<void> {
    const done = [...this.entries.values()].map((entry) => this.addDurableWaiter(entry, 'now'));
    if (this.retryTimer !== undefined) this.retryNow();
    return Promise.all(done).then(() => undefined);
  }

  /**
   * Refuses new writes, flushes everything, closes the engine. Retry it after an engine error.
   * `beforeEngineClose` runs once no write can change the store any more (the hash trees
   * are saved there: they are then exact).
   */
  close(beforeEngineClose?: () => Promise<void>): Promise<void> {
    if (this.closePromise !== undefined) return this.closePromise;
    this.closing = true;
    for (const w of this.waiting.splice(0)) this.refuseWaiting(w, new StoreClosedError());
    this.closePromise = this.flush().then(
      async () => {
        this.cancelTimers();
        this.cache.clear();
        await beforeEngineClose?.();
        return this.engine.close();
      },
      (error: unknown) => {
        this.closePromise = undefined;
        throw error;
      },
    );
    return this.closePromise;
  }

  stats(): BufferStats {
    return {
      bufferedObjects: this.entries.size,
      bufferedObjectsMax: this.admitLimit + this.flushBatchObjectsMax,
      dirtyObjects: this.dirty.size,
      flushingObjects: this.batch?.entries.length ?? 0,
      flushing: this.batch !== undefined,
      waitingWrites: this.waiting.length,
      engineFailures: this.engineFailures,
      flushes: this.flushes,
    };
  }

  // --- writes ---------------------------------------------------------------------------

  private hasRoom(): boolean {
    return this.entries.size - (this.batch?.entries.length ?? 0) < this.admitLimit;
  }

  /** Runs `change` now and buffers the result. The caller checked there is room (or an entry). */
  private apply(
    id: string,
    partition: number,
    key: Uint8Array,
    change: ObjectChange,
    sync: Sync,
  ): Promise<StoredObject | undefined> {
    let entry = this.entries.get(id);
    let next: StoredObject | undefined | typeof REMOVE_OBJECT;
    let bytes: Uint8Array | undefined;
    let current: StoredObject | undefined;
    try {
      current = entry !== undefined ? entry.object : this.readThrough(id, partition, key)?.object;
      next = change(current);
      if (next === undefined) return this.unchanged(entry, current, sync);
      bytes = next === REMOVE_OBJECT ? undefined : encodeObject(next);
    } catch (error) {
      return Promise.reject(error);
    }
    const object = next === REMOVE_OBJECT ? undefined : next;
    if (entry === undefined) {
      entry = { id, partition, key: copyBytes(key), object, bytes, version: 0, persistedVersion: 0, inFlight: false, durableWaiters: [] };
      this.entries.set(id, entry);
    }
    entry.object = object;
    entry.bytes = bytes;
    entry.version++;
    if (object === undefined) this.cache.delete(id);
    else this.cache.update(id, { object, bytes: bytes as Uint8Array }, cacheChargeOf(bytes as Uint8Array));
    this.observer?.(partition, entry.key, current, object);
    if (!entry.inFlight) this.dirty.add(entry);
    if (sync !== 'buffered') return this.addDurableWaiter(entry, sync).then(() => object);
    if (this.dirty.size >= this.admitLimit) this.flushSoon();
    else this.armFlushTimer();
    return Promise.resolve(object);
  }

  /** `change` wrote nothing: a durable caller still waits until the current value is fsynced. */
  private unchanged(
    entry: Entry | undefined,
    current: StoredObject | undefined,
    sync: Sync,
  ): Promise<StoredObject | undefined> {
    if (sync === 'buffered') return Promise.resolve(current);
    if (entry !== undefined) return this.addDurableWaiter(entry, sync).then(() => current);
    if (current === undefined) return Promise.resolve(current);
    // The value left the buffer in a batch that may not be fsynced yet: an empty durable
    // batch after it waits for that fsync.
    return this.writeEngine([], true).then(() => current);
  }

  private addDurableWaiter(entry: Entry, sync: Sync): Promise<void> {
    const waiter = deferred<void>();
    if (sync === 'now') this.durableNowAsked = true;
    entry.durableWaiters.push(waiter);
    if (!entry.inFlight) {
      this.dirty.add(entry);
      this.durableDirty.add(entry);
    }
    this.flushSoon();
    return waiter.promise;
  }

  /** Queues a write of a new key until there is room, for at most writeWaitMsMax. */
  private wait(
    id: string,
    partition: number,
    key: Uint8Array,
    change: ObjectChange,
    sync: Sync,
  ): Promise<StoredObject | undefined> {
    if (this.waiting.length >= this.waitingWritesMax || this.writeWaitMsMax === 0) {
      this.flushSoon();
      return Promise.reject(new BufferFullError(`object buffer full (${this.entries.size} objects buffered)`));
    }
    const w: WaitingWrite = {
      id,
      partition,
      key: copyBytes(key),
      change,
      sync,
      result: deferred(),
      sinceMs: this.clock.monotonicMs(),
      timer: undefined,
    };
    w.timer = this.clock.setTimer(this.writeWaitMsMax, () => this.waitTimedOut(w));
    this.waiting.push(w);
    this.flushSoon();
    return w.result.promise;
  }

  private waitTimedOut(w: WaitingWrite): void {
    w.timer = undefined;
    const index = this.waiting.indexOf(w);
    if (index < 0) return;
    this.waiting.splice(index, 1);
    this.refuseWaiting(w, new BufferFullError(`no room in the object buffer within ${this.writeWaitMsMax} ms`));
    this.admitWaiting(); // the next in line may be a key that is buffered by now
  }

  private refuseWaiting(w: WaitingWrite, error: Error): void {
    if (w.timer !== undefined) this.clock.clearTimer(w.timer);
    this.emit(() => this.events.onWriteWait?.(this.clock.monotonicMs() - w.sinceMs));
    w.result.reject(error);
  }

  /** Admits waiting writes in FIFO order while there is room (or their key is buffered). */
  private admitWaiting(): void {
    while (this.waiting.length > 0) {
      const w = this.waiting[0] as WaitingWrite;
      if (!this.entries.has(w.id) && !this.hasRoom()) return;
      this.waiting.shift();
      if (w.timer !== undefined) this.clock.clearTimer(w.timer);
      this.emit(() => this.events.onWriteWait?.(this.clock.monotonicMs() - w.sinceMs));
      w.result.resolve(this.apply(w.id, w.partition, w.key, w.change, w.sync));
    }
  }

  // --- the background writer ----------------------------------------------------------------

  /** Starts a flush in a microtask, so the writes of one event-loop turn share a batch. */
  private flushSoon(): void {
    if (this.flushSoonQueued) return;
    this.flushSoonQueued = true;
    queueMicrotask(() => {
      this.flushSoonQueued = false;
      this.startUrgentFlush();
    });
  }

  /** Arms the flush timer to fire within `delayMs` (an earlier one stays). */
  private armFlushTimer(delayMs = this.flushIntervalMs): void {
    if (this.batch !== undefined || this.retryTimer !== undefined) return;
    if (this.dirty.size === 0) return;
    const dueMs = this.clock.monotonicMs() + delayMs;
    if (this.flushTimer !== undefined) {
      if (this.flushDueMs <= dueMs) return;
      this.clock.clearTimer(this.flushTimer);
    }
    this.flushDueMs = dueMs;
    this.flushTimer = this.clock.setTimer(delayMs, () => {
      this.flushTimer = undefined;
      this.startFlush();
    });
  }

  private isUrgent(): boolean {
    return this.durableDirty.size > 0 || this.isPressed();
  }

  /** Writes wait for room, or the buffer is full: flush now, whatever the group commit gap. */
  private isPressed(): boolean {
    return this.waiting.length > 0 || this.dirty.size >= this.admitLimit;
  }

  /** Flushes now, or, when only group-commit writes ask and the last flush began within groupCommitMs, once that gap is over. */
  private startUrgentFlush(): void {
    const gapLeftMs = this.lastFlushStartMs + this.groupCommitMs - this.clock.monotonicMs();
    if (gapLeftMs > 0 && !this.durableNowAsked && !this.isPressed()) this.armFlushTimer(gapLeftMs);
    else this.startFlush();
  }

  /** Writes one batch unless one is in flight or a retry is pending (the backoff). */
  private startFlush(): void {
    if (this.batch !== undefined || this.retryTimer !== undefined || this.dirty.size === 0) return;
    if (this.flushTimer !== undefined) {
      this.clock.clearTimer(this.flushTimer);
      this.flushTimer = undefined;
    }
    const batch = this.takeBatch();
    this.batch = batch;
    this.lastFlushStartMs = batch.startMs;
    const ops: WriteOp[] = batch.entries.map((e) =>
      e.bytes === undefined
        ? { kind: 'delete', partition: e.partition, key: e.key }
        : { kind: 'put', partition: e.partition, key: e.key, value: e.bytes },
    );
    this.writeEngine(ops, batch.durable).then(
      () => this.flushDone(batch),
      (error: StorageError) => this.flushFailed(batch, error),
    );
    this.admitWaiting(); // the batch's entries no longer count against the room
  }

  private takeBatch(): Batch {
    const entries: Entry[] = [];
    for (const source of [this.durableDirty, this.dirty]) {
      for (const entry of source) {
        if (entries.length >= this.flushBatchObjectsMax) break;
        this.durableDirty.delete(entry);
        this.dirty.delete(entry);
        entries.push(entry);
      }
    }
    const waiters: Deferred<void>[] = [];
    const versions = entries.map((entry) => {
      entry.inFlight = true;
      waiters.push(...entry.durableWaiters.splice(0));
      return entry.version;
    });
    const durable = waiters.length > 0;
    if (this.durableDirty.size === 0) this.durableNowAsked = false;
    return { entries, versions, waiters, durable, startMs: this.clock.monotonicMs() };
  }

  private flushDone(batch: Batch): void {
    this.batch = undefined;
    this.engineFailures = 0;
    this.flushes++;
    batch.entries.forEach((entry, i) => {
      entry.inFlight = false;
      entry.persistedVersion = batch.versions[i] as number;
      if (!needsFlush(entry)) this.entries.delete(entry.id);
      else this.requeue(entry);
    });
    for (const waiter of batch.waiters) waiter.resolve();
    const durationMs = this.clock.monotonicMs() - batch.startMs;
    this.emit(() => this.events.onFlush?.(batch.entries.length, durationMs, batch.durable));
    this.admitWaiting();
    this.afterFlush();
  }

  private flushFailed(batch: Batch, error: StorageError): void {
    this.batch = undefined;
    this.engineFailures++;
    for (const entry of batch.entries) {
      entry.inFlight = false;
      this.requeue(entry);
    }
    for (const waiter of batch.waiters) waiter.reject(error);
    this.emit(() => this.events.onEngineError?.(error));
    const delayMs = Math.min(this.retryDelayMsMax, this.retryDelayMsMin * 2 ** Math.min(this.engineFailures - 1, 30));
    this.retryTimer = this.clock.setTimer(delayMs, () => this.retryNow());
  }

  private requeue(entry: Entry): void {
    this.dirty.add(entry);
    if (entry.durableWaiters.length > 0) this.durableDirty.add(entry);
  }

  private retryNow(): void {
    if (this.retryTimer !== undefined) this.clock.clearTimer(this.retryTimer);
    this.retryTimer = undefined;
    this.startFlush();
    this.armFlushTimer();
  }

  private afterFlush(): void {
    if (this.isUrgent()) this.startUrgentFlush();
    else this.armFlushTimer();
  }

  private cancelTimers(): void {
    for (const timer of [this.flushTimer, this.retryTimer]) if (timer !== undefined) this.clock.clearTimer(timer);
    this.flushTimer = undefined;
    this.retryTimer = undefined;
  }

  // --- engine access ------------------------------------------------------------------------

  /** A key the buffer does not hold: from the cache, else from the engine (then offered to the cache). */
  private readThrough(id: string, partition: number, key: Uint8Array): EncodedObject | undefined {
    const cached = this.cache.get(id);
    if (cached !== undefined) return cached;
    const bytes = this.engine.get(partition, key);
    if (bytes === undefined) return undefined;
    const encoded = { object: decodeObject(bytes), bytes };
    this.cache.offer(id, encoded, cacheChargeOf(bytes));
    return encoded;
  }

  /** engine.writeBatch, with every failure (thrown or rejected) as a StorageError. */
  private writeEngine(ops: WriteOp[], durable: boolean): Promise<void> {
    let written: Promise<void>;
    try {
      written = this.engine.writeBatch(ops, { durable });
    } catch (error) {
      written = Promise.reject(error);
    }
    return written.catch((error: unknown) => {
      throw error instanceof StorageError ? error : new StorageError('storage engine write failed', { cause: error });
    });
  }

  /** Runs a metrics hook; a throwing hook never disturbs the writer. */
  private emit(hook: () => void): void {
    try {
      hook();
    } catch {
      // metrics must not break storage
    }
  }
}
