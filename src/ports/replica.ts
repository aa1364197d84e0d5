/**
 * A node's replica object: the one owner of its partition data (the object store with its
 * in-memory buffer, the hint store, the hash trees' feed and the storage engine), as Riak's
 * vnode owns its backend. Coordinators, forwarding, transfers, partition drops,
 * anti-entropy, membership and the API reach the data only through this interface, and
 * it fails only with coded errors (node/errors.ts RequestError: BUFFER_FULL, HINTS_FULL,
 * STORAGE_ERROR, NODE_NOT_SERVING once closed, or the code a change threw).
 *
 * Reads are synchronous (the buffer, then the engine's memory-mapped pages); writes resolve
 * once buffered, or fsynced when durable.
 */
import type { StoredObject } from '../core/object.ts';
import type { CacheStats } from '../core/cache/objectCache.ts';

/** An object with its encoding (the same bytes a replica stores and sends). */
export interface EncodedObject {
  readonly object: StoredObject;
  readonly bytes: Uint8Array;
}

/** Returned by a change to delete the key from storage (not a tombstone). */
export const REMOVE_OBJECT: unique symbol = Symbol('shoal.removeObject');

/** Computes a key's new value from its freshest one; undefined leaves the key as it is. */
export type ObjectChange = (current: StoredObject | undefined) => StoredObject | undefined | typeof REMOVE_OBJECT;

/** What reads the objects of a partition as reads see them now (the buffer over the engine). */
export interface PartitionReader {
  /** This node's own copy of the key (hints not included). */
  readOwn(partition: number, key: Uint8Array): StoredObject | undefined;
  /**
   * Visits the partition's objects whose keys follow `afterKey`, up to the last key of the
   * next `pageObjects` stored ones, buffered objects in that range included; returns that
   * last key, or undefined once the page reached the end. Synchronous. Keys `wanted`
   * refuses are skipped before their objects are decoded.
   */
  visitPartitionPage(
    partition: number,
    afterKey: Uint8Array | undefined,
    pageObjects: number,
    visit: (key: Uint8Array, object: StoredObject) => void,
    wanted?: (key: Uint8Array) => boolean,
  ): Uint8Array | undefined;
  /** Every object of the partition, synchronously (a consistent snapshot). */
  forEachInPartition(partition: number, visit: (key: Uint8Array, object: StoredObject) => void): void;
}

/** The coordinator's own write of a put (paper 4.5): its new version, buffered. */
export interface OwnWrite {
  readonly object: StoredObject;
  /** The version's encoding, the same bytes the buffer flushes to the engine: for the wire. */
  readonly bytes: Uint8Array;
  /**
   * Resolves once the coordinator's copy counts toward W: fsynced when it is the durable
   * one, kept as a hint when it stands in for a primary, and handed to the receivers of a
   * partition this node is handing over. Rejects with a coded error.
   */
  readonly acknowledged: Promise<void>;
}

export interface OwnWriteOptions {
  /** This copy is the write's durable one (fsynced before it counts). */
  readonly durable: boolean;
  /** The coordinator stands in for this primary: its copy is a hint for it. */
  readonly hintFor: string | undefined;
}

export interface MergeOptions {
  /** Persisted and fsynced before the promise resolves. */
  readonly durable: boolean;
  /**
   * A durable write whose acknowledgement the coordinator does not wait for to reach W: its
   * fsync may wait for the group-commit gap and share it with other writes.
   */
  readonly groupCommit?: boolean;
  /** Kept as a hint for this node (a stand-in's copy); absent or self: this node's own copy. */
  readonly hintFor?: string | undefined;
  /**
   * Kept in this node's own store even when its view says it no longer holds the partition
   * (a replica write counted toward W by an older view; a hint handed back to this node).
   */
  readonly keep?: boolean;
}

/** One stored object, encoded, as a partition transfer sends it. */
export interface PartitionEntry {
  readonly key: Uint8Array;
  readonly bytes: Uint8Array;
}

export interface PartitionPage {
  readonly entries: PartitionEntry[];
  /** Where the next page starts; undefined once this page reached the partition's end. */
  readonly resumeAfter: Uint8Array | undefined;
}

/** One hint: the versions of `key` held for `target`. */
export interface Hint {
  readonly target: string;
  readonly partition: number;
  readonly key: Uint8Array;
  readonly object: StoredObject;
  /** Where a scan of the target resumes after this hint. */
  readonly cursor: Uint8Array;
}

export interface HintCounts {
  readonly total: number;
  readonly byTarget: ReadonlyMap<string, number>;
}

/** The in-memory object buffer (paper 6.1) as operators and metrics see it. */
export interface BufferStats {
  /** Objects held in memory (waiting for a flush or in flight). */
  readonly bufferedObjects: number;
  /** The bound bufferedObjects never exceeds. */
  readonly bufferedObjectsMax: number;
  /** Objects waiting for the next flush. */
  readonly dirtyObjects: number;
  /** Objects in the batch being written. */
  readonly flushingObjects: number;
  readonly flushing: boolean;
  /** Writes waiting for buffer room. */
  readonly waitingWrites: number;
  /** Flushes failed in a row (0 when the engine is healthy). */
  readonly engineFailures: number;
  readonly flushes: number;
}

/** Hooks on the buffer's work, for metrics. */
export interface BufferEvents {
  /** A batch of `objects` was written (`durable`: fsynced) in `durationMs`. */
  onFlush?(objects: number, durationMs: number, durable: boolean): void;
  /** A flush failed; it will be retried. */
  onEngineError?(error: Error): void;
  /** A write waited `waitMs` for buffer space (reported when admitted or refused). */
  onWriteWait?(waitMs: number): void;
}

/** About how much data this node holds per partition replica it holds. */
export interface DataEstimate {
  readonly objects: number;
  readonly bytes: number;
}

export interface Replica extends PartitionReader {
  readonly self: string;

  // --- keys ----------------------------------------------------------------------------------
  /** Every version this node holds for the key: its own copy merged with any hints for it. */
  read(partition: number, key: Uint8Array): StoredObject | undefined;
  /** The cache of clean objects: its counters and size. */
  cacheStats(): CacheStats;
  /** What `read` answers with its encoding (decoded once; the buffer holds both). */
  readEncoded(partition: number, key: Uint8Array): EncodedObject | undefined;
  /** The encoding of what `read` answers: the stored bytes themselves when no hint adds to them. */
  readBytes(partition: number, key: Uint8Array): Uint8Array | undefined;
  /** The encoding of the key's own copy (the bytes stored: no decoding), or undefined. */
  readOwnBytes(partition: number, key: Uint8Array): Uint8Array | undefined;
  /**
   * The coordinator's write: `change` runs on the freshest copy (it issues the new version
   * and may throw a coded error, which fails the write with nothing changed). Resolves once
   * the version is buffered (fsynced too with `durableNow`, for a write with no other copy).
   */
  writeOwn(partition: number, key: Uint8Array, change: (current: StoredObject | undefined) => StoredObject, options: OwnWriteOptions & { readonly durableNow: boolean }): Promise<OwnWrite>;
  /**
   * Merges a version from elsewhere (a replica write, read repair, a hint handed back, a
   * stand-in's own copy) into this node's copy, or into its hints for `hintFor`: nothing
   * the incoming object does not cover is lost. Resolves with the merged object. A hint for
   * a node that is no member as this node sees it is refused (UNKNOWN_MEMBER).
   */
  merge(partition: number, key: Uint8Array, object: StoredObject, options: MergeOptions): Promise<StoredObject>;
  /** Merges a batch (a partition transfer, anti-entropy) and resolves once it is fsynced. */
  mergeBatch(partition: number, keys: readonly Uint8Array[], objects: readonly StoredObject[]): Promise<void>;
  /** A local change to the own copy (tombstone reaping), not durable; resolves with the result. */
  change(partition: number, key: Uint8Array, change: ObjectChange): Promise<StoredObject | undefined>;

  // --- partitions ----------------------------------------------------------------------------
  /**
   * The stored objects of the partition after `afterKey`, in key order, encoded, as reads
   * see them now (buffered writes included, so no flush is needed first): about `limit` of
   * them (the buffer may add some, or hide some). Taking them all, the next page starts
   * after `resumeAfter`; there is none once the partition's end was reached.
   */
  scanPartition(partition: number, afterKey: Uint8Array | undefined, limit: number): PartitionPage;
  /** Whether this node holds any object of the partition. */
  holdsAny(partition: number): boolean;
  /** Deletes up to `limit` objects of the partition and resolves, once that is fsynced, with how many. */
  dropPage(partition: number, limit: number): Promise<number>;
  /** Objects stored (approximate for large engines). */
  objectCount(): number;
  /** About the objects and bytes per partition replica, over `partitions` (the ones this node holds). */
  dataEstimate(partitions: readonly number[]): DataEstimate;

  // --- hints -------------------------------------------------------------------------------
  hintTargets(): string[];
  /** Up to `limit` hints for `target` after `cursor`. */
  scanHints(target: string, limit: number, cursor?: Uint8Array): Hint[];
  /** Removes a delivered hint unless it changed meanwhile; true when removed. */
  removeHintIfUnchanged(hint: Pick<Hint, 'target' | 'partition' | 'key'>, delivered: StoredObject): Promise<boolean>;
  hintCounts(): HintCounts;

  // --- lifecycle -----------------------------------------------------------------------------
  bufferStats(): BufferStats;
  /** Refuses new writes, flushes, runs `beforeEngineClose` (saving the hash trees), closes storage. */
  close(beforeEngineClose?: () => Promise<void>): Promise<void>;
}
