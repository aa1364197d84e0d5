/**
 * A node-local storage engine: an ordered map from (partition, key) to bytes.
 *
 * Keys of one partition form one contiguous range, so a partition can be scanned
 * (handoff, anti-entropy) without touching the others. Reads are synchronous (LMDB
 * reads are memory-mapped and the in-memory engine is a map); writes are batched.
 */
export interface StorageEngine {
  readonly name: string;
  /** The stored bytes, or undefined when absent. Throws StorageError on engine failure. */
  get(partition: number, key: Uint8Array): Uint8Array | undefined;
  /**
   * Applies every operation atomically, in order. With `durable`, the promise resolves
   * only once the batch is persisted and fsynced; otherwise once the engine accepted it.
   * Once it resolves, `get` and `scanPartition` see the batch. The engine may read the
   * byte arrays until the promise settles, so callers must not mutate them before then.
   */
  writeBatch(ops: readonly WriteOp[], options: { durable: boolean }): Promise<void>;
  /**
   * The entries of one partition in key order, starting after `afterKey` when given,
   * at most `limit` of them.
   */
  scanPartition(partition: number, options: { afterKey?: Uint8Array; limit: number }): ScanEntry[];
  /** Number of entries stored (may be approximate for large engines). */
  count(): number;
  close(): Promise<void>;
}

export type WriteOp =
  | { readonly kind: 'put'; readonly partition: number; readonly key: Uint8Array; readonly value: Uint8Array }
  | { readonly kind: 'delete'; readonly partition: number; readonly key: Uint8Array };

export interface ScanEntry {
  readonly key: Uint8Array;
  readonly value: Uint8Array;
}

/** A JSON-able value, as kept in the MetaStore. */
export type JsonValue = null | boolean | number | string | readonly JsonValue[] | { readonly [name: string]: JsonValue };

/**
 * A tiny durable store for the node's own metadata (start epoch, membership), kept apart
 * from the object data so it never appears in a partition scan.
 */
export interface MetaStore {
  /** The record stored under `name`, or undefined. Throws StorageError on engine failure. */
  get(name: string): JsonValue | undefined;
  /** Stores the record and resolves once it is persisted and fsynced. */
  put(name: string, value: JsonValue): Promise<void>;
}

/** An engine failure (disk full, corruption, I/O error); the node answers 5xx and carries on. */
export class StorageError extends Error {
  readonly code = 'STORAGE_ERROR';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StorageError';
  }
}
