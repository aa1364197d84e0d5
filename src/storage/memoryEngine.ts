/**
 * An in-memory StorageEngine for tests and the simulator. Same contract as the LMDB engine
 * (the conformance suite runs against both), plus hooks to make the engine fail or stall
 * so callers' error handling can be tested:
 *
 *   failNextWrites(count, error?)   the next `count` writeBatch calls reject with `error`
 *   failNextReads(count, error?)    the next `count` get/scanPartition calls throw `error`
 *   pauseWrites() / resumeWrites()  batches queue (in order) until resumed
 *
 * writeBatch copies the bytes when called and applies the batch in a later microtask, so a
 * batch is not visible before its promise resolves (as with LMDB's asynchronous commits).
 */
import type { JsonValue, MetaStore, ScanEntry, StorageEngine, WriteOp } from '../ports/storage.ts';
import { StorageError } from '../ports/storage.ts';
import { checkKey, checkLimit, checkPartition, copyBytes, keyString } from './keys.ts';

interface StoredEntry {
  readonly key: Uint8Array;
  readonly value: Uint8Array;
}

/** One partition: entries by key string, plus the key strings in sorted order for scans. */
class PartitionData {
  readonly entries = new Map<string, StoredEntry>();
  readonly sortedKeys: string[] = [];

  put(k: string, entry: StoredEntry): boolean {
    const isNew = !this.entries.has(k);
    if (isNew) this.sortedKeys.splice(upperBound(this.sortedKeys, k), 0, k);
    this.entries.set(k, entry);
    return isNew;
  }

  delete(k: string): boolean {
    if (!this.entries.delete(k)) return false;
    this.sortedKeys.splice(upperBound(this.sortedKeys, k) - 1, 1);
    return true;
  }
}

/** Index of the first element greater than `k`. */
function upperBound(sorted: readonly string[], k: string): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((sorted[mid] as string) <= k) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

interface QueuedBatch {
  readonly ops: readonly WriteOp[];
  readonly failure: Error | undefined;
  readonly durable: boolean;
  readonly resolve: () => void;
  readonly reject: (error: Error) => void;
}

export class MemoryEngine implements StorageEngine {
  readonly name = 'memory';
  /** Batches applied so far, and how many of them were durable (for tests). */
  batchesWritten = 0;
  durableBatchesWritten = 0;
  /** Keys read with get so far (for tests). */
  reads = 0;
  private readonly partitions = new Map<number, PartitionData>();
  private entryCount = 0;
  private closed = false;
  private paused = false;
  private readonly queue: QueuedBatch[] = [];
  private drainScheduled = false;
  private writeFailures: { count: number; error: Error } = { count: 0, error: new StorageError('injected') };
  private readFailures: { count: number; error: Error } = { count: 0, error: new StorageError('injected') };

  failNextWrites(count: number, error: Error = new StorageError('injected write failure')): void {
    this.writeFailures = { count, error };
  }

  failNextReads(count: number, error: Error = new StorageError('injected read failure')): void {
    this.readFailures = { count, error };
  }

  /** Holds every batch (in order) until resumeWrites(): a stalled disk. */
  pauseWrites(): void {
    this.paused = true;
  }

  resumeWrites(): void {
    this.paused = false;
    this.scheduleDrain();
  }

  /** Batches accepted but not yet applied (while paused). */
  get queuedBatches(): number {
    return this.queue.length;
  }

  get(partition: number, key: Uint8Array): Uint8Array | undefined {
    this.reads++;
    this.checkRead();
    checkPartition(partition);
    checkKey(key);
    const entry = this.partitions.get(partition)?.entries.get(keyString(key));
    return entry === undefined ? undefined : copyBytes(entry.value);
  }

  writeBatch(ops: readonly WriteOp[], options: { durable: boolean }): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      if (this.closed) throw new StorageError('memory engine is closed');
      const copied = ops.map(copyOp);
      this.queue.push({ ops: copied, failure: this.takeWriteFailure(), durable: options.durable, resolve, reject });
      this.scheduleDrain();
    });
  }

  scanPartition(partition: number, options: { afterKey?: Uint8Array; limit: number }): ScanEntry[] {
    this.checkRead();
    checkPartition(partition);
    checkLimit(options.limit);
    if (options.afterKey !== undefined) checkKey(options.afterKey);
    const data = this.partitions.get(partition);
    if (data === undefined) return [];
    const start = options.afterKey === undefined ? 0 : upperBound(data.sortedKeys, keyString(options.afterKey));
    return data.sortedKeys.slice(start, start + options.limit).map((k) => {
      const entry = data.entries.get(k) as StoredEntry;
      return { key: copyBytes(entry.key), value: copyBytes(entry.value) };
    });
  }

  count(): number {
    return this.entryCount;
  }

  /** Closes the engine; batches still queued (paused) are rejected. */
  async close(): Promise<void> {
    this.closed = true;
    for (const batch of this.queue.splice(0)) batch.reject(new StorageError('memory engine closed before the batch was written'));
  }

  private checkRead(): void {
    if (this.closed) throw new StorageError('memory engine is closed');
    if (this.readFailures.count > 0) {
      this.readFailures.count--;
      throw this.readFailures.error;
    }
  }

  private takeWriteFailure(): Error | undefined {
    if (this.writeFailures.count <= 0) return undefined;
    this.writeFailures.count--;
    return this.writeFailures.error;
  }

  private scheduleDrain(): void {
    if (this.drainScheduled) return;
    this.drainScheduled = true;
    queueMicrotask(() => {
      this.drainScheduled = false;
      this.drain();
    });
  }

  private drain(): void {
    while (!this.paused && !this.closed && this.queue.length > 0) {
      const batch = this.queue.shift() as QueuedBatch;
      if (batch.failure !== undefined) {
        batch.reject(batch.failure);
        continue;
      }
      this.apply(batch.ops);
      this.batchesWritten++;
      if (batch.durable) this.durableBatchesWritten++;
      batch.resolve();
    }
  }

  private apply(ops: readonly WriteOp[]): void {
    for (const op of ops) {
      const data = this.partition(op.partition);
      const k = keyString(op.key);
      if (op.kind === 'put') {
        if (data.put(k, { key: op.key, value: op.value })) this.entryCount++;
      } else if (data.delete(k)) {
        this.entryCount--;
      }
    }
  }

  private partition(partition: number): PartitionData {
    let data = this.partitions.get(partition);
    if (data === undefined) {
      data = new PartitionData();
      this.partitions.set(partition, data);
    }
    return data;
  }
}

/** Validates one op and copies its bytes (callers may reuse their arrays afterwards). */
function copyOp(op: WriteOp): WriteOp {
  checkPartition(op.partition);
  checkKey(op.key);
  if (op.kind === 'put') {
    if (!(op.value instanceof Uint8Array)) throw new StorageError('value must be a Uint8Array');
    return { kind: 'put', partition: op.partition, key: copyBytes(op.key), value: copyBytes(op.value) };
  }
  if (op.kind !== 'delete') throw new StorageError(`unknown op kind ${String((op as { kind: unknown }).kind)}`);
  return { kind: 'delete', partition: op.partition, key: copyBytes(op.key) };
}

/** A MetaStore in memory (for the simulator and tests). Records are deep-copied through JSON. */
export class MemoryMetaStore implements MetaStore {
  private readonly records = new Map<string, string>();

  get(name: string): JsonValue | undefined {
    const text = this.records.get(name);
    return text === undefined ? undefined : (JSON.parse(text) as JsonValue);
  }

  async put(name: string, value: JsonValue): Promise<void> {
    this.records.set(name, JSON.stringify(value));
  }
}
