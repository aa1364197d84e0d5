/**
 * The node's replica object (ports/replica.ts): the one owner of its partition data. It
 * holds the object store (with the buffer), the hint store and the engine, decides where a
 * write of a partition goes while the partition moves (the main store, hints for its new
 * replicas), encodes each version once (the bytes the buffer flushes are the bytes sent),
 * and turns every storage failure into a coded RequestError.
 *
 * Where writes go, from the cluster view (cluster.ts `holds`, `forwardTo`):
 * - a stand-in's copy (`hintFor` another node) goes to the hint store;
 * - a partition this node is handing over: its own copy, and a hint for each receiver,
 *   which hinted handoff delivers, so a write that lands after the partition was streamed
 *   still reaches the new replica;
 * - a write kept (`keep`) although this node no longer holds the partition: its own copy,
 *   and hints for the partition's current replicas.
 */
import { syncObjects, type StoredObject } from '../../core/object.ts';
import type { BufferStats, DataEstimate, EncodedObject, Hint, HintCounts, MergeOptions, ObjectChange, OwnWrite, OwnWriteOptions, PartitionPage, Replica } from '../../ports/replica.ts';
import { REMOVE_OBJECT } from '../../ports/replica.ts';
import type { CacheStats } from '../../core/cache/objectCache.ts';
import { StorageError, type StorageEngine } from '../../ports/storage.ts';
import { HintsFullError, type HintStore } from '../../storage/hintStore.ts';
import { CorruptObjectError, encodeObject } from '../../storage/objectCodec.ts';
import { BufferFullError, StoreClosedError, type ObjectStore } from '../../storage/objectStore.ts';
import { RequestError } from '../errors.ts';

/** Where this node's writes of each partition go: cluster.ts's ClusterView has these. */
export interface WriteRouting {
  /** The live members of the cluster view: who a hint may be for. */
  readonly members: readonly string[];
  readonly holds: readonly boolean[];
  readonly forwardTo: readonly (readonly string[])[];
  /** Per partition, every member in preference-list order; with `quorum.n`, its current replicas. */
  readonly preference: readonly (readonly string[])[];
  readonly quorum: { readonly n: number };
}

export interface NodeReplicaParts {
  readonly self: string;
  readonly store: ObjectStore;
  readonly hints: HintStore;
  readonly engine: StorageEngine;
  /** The current cluster view (membership changes replace it: read per write). */
  readonly routing: () => WriteRouting;
}

/** Objects sampled for a size estimate. */
const ESTIMATE_SAMPLE_OBJECTS = 200;
/** Engine entries read per page while looking for a partition's objects. */
const PAGE_OBJECTS = 1000;
const NO_NODES: readonly string[] = [];
const NO_ACKNOWLEDGEMENT: Promise<void> = Promise.resolve();
const noop = (): void => undefined;

export class NodeReplica implements Replica {
  readonly self: string;
  private readonly store: ObjectStore;
  private readonly hints: HintStore;

  constructor(private readonly parts: NodeReplicaParts) {
    this.self = parts.self;
    this.store = parts.store;
    this.hints = parts.hints;
  }

  // --- keys ----------------------------------------------------------------------------------

  readOwn(partition: number, key: Uint8Array): StoredObject | undefined {
    try {
      return this.store.get(partition, key);
    } catch (error) {
      throw coded(error);
    }
  }

  read(partition: number, key: Uint8Array): StoredObject | undefined {
    const own = this.readOwn(partition, key);
    return syncObjects(own, this.hints.getForAny(this.parts.routing().members, partition, key));
  }

  cacheStats(): CacheStats {
    return this.store.cacheStats();
  }

  readEncoded(partition: number, key: Uint8Array): EncodedObject | undefined {
    const hinted = this.hints.getForAny(this.parts.routing().members, partition, key);
    if (hinted === undefined) {
      try {
        return this.store.getEncoded(partition, key);
      } catch (error) {
        throw coded(error);
      }
    }
    return this.withHint(partition, key, hinted);
  }

  readBytes(partition: number, key: Uint8Array): Uint8Array | undefined {
    const hinted = this.hints.getForAny(this.parts.routing().members, partition, key);
    if (hinted === undefined) return this.readOwnBytes(partition, key);
    return this.withHint(partition, key, hinted).bytes;
  }

  /** The own copy merged with a hint held for the key, encoded. */
  private withHint(partition: number, key: Uint8Array, hinted: StoredObject): EncodedObject {
    const object = syncObjects(this.readOwn(partition, key), hinted);
    return { object, bytes: encodeObject(object) };
  }

  readOwnBytes(partition: number, key: Uint8Array): Uint8Array | undefined {
    try {
      return this.store.getBytes(partition, key);
    } catch (error) {
      throw coded(error);
    }
  }

  async writeOwn(
    partition: number,
    key: Uint8Array,
    change: (current: StoredObject | undefined) => StoredObject,
    options: OwnWriteOptions & { readonly durableNow: boolean },
  ): Promise<OwnWrite> {
    let object: StoredObject | undefined;
    try {
      object = await this.store.update(partition, key, change, { durable: options.durableNow });
    } catch (error) {
      throw coded(error);
    }
    if (object === undefined) throw new RequestError('INTERNAL', 'invariant: a put left no object');
    const bytes = this.store.bufferedBytesOf(partition, key, object) ?? encodeObject(object);
    return { object, bytes, acknowledged: this.acknowledgeOwn(partition, key, object, options) };
  }

  merge(partition: number, key: Uint8Array, object: StoredObject, options: MergeOptions): Promise<StoredObject> {
    const { durable, hintFor } = options;
    const routing = this.parts.routing();
    if (hintFor !== undefined && hintFor !== this.self) {
      if (!routing.members.includes(hintFor)) {
        // This node's view and the sender's differ (a member just removed, or one that joined and this node has not heard of yet).
        return Promise.reject(new RequestError('UNKNOWN_MEMBER', `hintFor names ${JSON.stringify(hintFor)}, not a member of the cluster as this node sees it`));
      }
      return codedAsync(this.hints.put(hintFor, partition, key, object, { durable }));
    }
    const forwardTo = routing.forwardTo[partition] ?? NO_NODES;
    if (forwardTo.length > 0) return this.writeDuringTransfer(partition, key, object, durable, forwardTo, options.keep === true);
    // Kept here although this node holds no replica of the partition any more (a hint or a
    // replica write that arrives after the partition moved on, past the change this node
    // handed it over in): the partition's current replicas get it too.
    const current = options.keep === true && routing.holds[partition] === false ? this.currentReplicas(routing, partition) : NO_NODES;
    if (current.length === 0) return this.mergeOwn(partition, key, object, durable, options.groupCommit === true);
    return this.writeDuringTransfer(partition, key, object, durable, current, true);
  }

  async mergeBatch(partition: number, keys: readonly Uint8Array[], objects: readonly StoredObject[]): Promise<void> {
    await Promise.all(objects.map((object, i) => this.mergeOwn(partition, keys[i] as Uint8Array, object, false)));
    await this.flush();
  }

  change(partition: number, key: Uint8Array, change: ObjectChange): Promise<StoredObject | undefined> {
    return codedAsync(this.store.update(partition, key, change, { durable: false }));
  }

  // --- partitions ----------------------------------------------------------------------------

  visitPartitionPage(
    partition: number,
    afterKey: Uint8Array | undefined,
    pageObjects: number,
    visit: (key: Uint8Array, object: StoredObject) => void,
    wanted?: (key: Uint8Array) => boolean,
  ): Uint8Array | undefined {
    try {
      return this.store.visitPartitionPage(partition, afterKey, pageObjects, visit, wanted);
    } catch (error) {
      throw coded(error);
    }
  }

  forEachInPartition(partition: number, visit: (key: Uint8Array, object: StoredObject) => void): void {
    try {
      this.store.forEachInPartition(partition, visit);
    } catch (error) {
      throw coded(error);
    }
  }

  scanPartition(partition: number, afterKey: Uint8Array | undefined, limit: number): PartitionPage {
    try {
      return this.store.scanEncoded(partition, afterKey, limit);
    } catch (error) {
      throw coded(error);
    }
  }

  holdsAny(partition: number): boolean {
    return this.keysOf(partition, 1).length > 0;
  }

  async dropPage(partition: number, limit: number): Promise<number> {
    const keys = this.keysOf(partition, limit);
    await Promise.all(keys.map((key) => this.change(partition, key, () => REMOVE_OBJECT)));
    await this.flush();
    return keys.length;
  }

  objectCount(): number {
    try {
      return this.parts.engine.count();
    } catch (error) {
      throw coded(error);
    }
  }

  dataEstimate(partitions: readonly number[]): DataEstimate {
    const objects = partitions.length === 0 ? 0 : this.objectCount() / partitions.length;
    const first = partitions[0];
    const sample = first === undefined ? [] : this.scanPartition(first, undefined, ESTIMATE_SAMPLE_OBJECTS).entries;
    const sampleBytes = sample.reduce((sum, e) => sum + e.key.length + e.bytes.length, 0);
    return { objects, bytes: sample.length === 0 ? 0 : (objects * sampleBytes) / sample.length };
  }

  // --- hints -------------------------------------------------------------------------------

  hintTargets(): string[] {
    return this.hints.targets();
  }

  scanHints(target: string, limit: number, cursor?: Uint8Array): Hint[] {
    try {
      return this.hints.scan(target, limit, cursor);
    } catch (error) {
      throw coded(error);
    }
  }

  removeHintIfUnchanged(hint: Pick<Hint, 'target' | 'partition' | 'key'>, delivered: StoredObject): Promise<boolean> {
    return codedAsync(this.hints.removeIfUnchanged(hint, delivered));
  }

  hintCounts(): HintCounts {
    return this.hints.counts();
  }

  // --- lifecycle -----------------------------------------------------------------------------

  bufferStats(): BufferStats {
    return this.store.stats();
  }

  async close(beforeEngineClose?: () => Promise<void>): Promise<void> {
    await this.hints.close();
    await this.store.close(beforeEngineClose);
  }

  // --- inside ------------------------------------------------------------------------------

  /** Resolves once everything buffered now is fsynced: what a batch merge or a drop waits for. */
  private flush(): Promise<void> {
    return codedAsync(this.store.flush());
  }

  /**
   * The coordinator's own acknowledgement: the fsync of its copy when it is the durable one
   * (unless the write itself was), the hint when it stands in for a primary, otherwise the
   * copies for the receivers of a partition being handed over.
   */
  private acknowledgeOwn(partition: number, key: Uint8Array, object: StoredObject, options: OwnWriteOptions & { readonly durableNow: boolean }): Promise<void> {
    const { durable, hintFor } = options;
    const steps: Promise<unknown>[] = [];
    if (durable && !options.durableNow) steps.push(codedAsync(this.store.update(partition, key, () => undefined, { durable: true })));
    if (hintFor !== undefined && hintFor !== this.self) steps.push(codedAsync(this.hints.put(hintFor, partition, key, object, { durable })));
    else steps.push(...this.forwardedCopies(partition, key, object, durable, this.parts.routing().forwardTo[partition] ?? NO_NODES));
    if (steps.length === 0) return NO_ACKNOWLEDGEMENT;
    return Promise.all(steps).then(noop);
  }

  /**
   * Merges `incoming` into the own copy inside store.update, atomically with any concurrent
   * write of the key: a version the incoming vector covers is dropped, one it does not know
   * stays, so a stale write never erases a newer one and concurrent writes become siblings.
   */
  private async mergeOwn(partition: number, key: Uint8Array, incoming: StoredObject, durable: boolean, groupCommit = false): Promise<StoredObject> {
    let merged: StoredObject | undefined;
    try {
      merged = await this.store.update(partition, key, (local) => syncObjects(local, incoming), { durable, groupCommit });
    } catch (error) {
      throw coded(error);
    }
    if (merged === undefined) throw new RequestError('INTERNAL', 'invariant: a replica write left no object');
    return merged;
  }

  /** Kept here while this node still holds the partition, and stored as a hint for each receiver. */
  private async writeDuringTransfer(
    partition: number,
    key: Uint8Array,
    object: StoredObject,
    durable: boolean,
    receivers: readonly string[],
    keep: boolean,
  ): Promise<StoredObject> {
    const holds = keep || (this.parts.routing().holds[partition] ?? true);
    const copies = this.forwardedCopies(partition, key, object, durable, receivers);
    if (holds) copies.unshift(this.mergeOwn(partition, key, object, durable));
    const stored = await Promise.all(copies);
    return holds ? (stored[0] as StoredObject) : stored.reduce((merged, copy) => syncObjects(merged, copy));
  }

  private forwardedCopies(partition: number, key: Uint8Array, object: StoredObject, durable: boolean, receivers: readonly string[]): Promise<StoredObject>[] {
    return receivers.map((target) => codedAsync(this.hints.put(target, partition, key, object, { durable })));
  }

  private currentReplicas(routing: WriteRouting, partition: number): readonly string[] {
    const order = routing.preference[partition];
    if (order === undefined) return NO_NODES;
    return order.slice(0, routing.quorum.n).filter((node) => node !== this.self);
  }

  /** Up to `limit` keys the partition holds now, in key order. */
  private keysOf(partition: number, limit: number): Uint8Array[] {
    const keys: Uint8Array[] = [];
    let afterKey: Uint8Array | undefined;
    // `wanted` sees every key the partition holds; answering false, nothing is decoded.
    const collect = (key: Uint8Array): boolean => {
      if (keys.length < limit) keys.push(key);
      return false;
    };
    do afterKey = this.visitPartitionPage(partition, afterKey, Math.max(limit, PAGE_OBJECTS), noop, collect);
    while (afterKey !== undefined && keys.length < limit);
    return keys;
  }
}

/** A storage failure as the coded error every protocol translates (errors.ts). */
function coded(error: unknown): unknown {
  if (error instanceof RequestError) return error;
  if (error instanceof BufferFullError) return new RequestError('BUFFER_FULL', `overloaded: ${error.message}`);
  if (error instanceof StoreClosedError) return new RequestError('NODE_NOT_SERVING', 'node is stopping');
  if (error instanceof HintsFullError) return new RequestError('HINTS_FULL', error.message);
  if (error instanceof StorageError || error instanceof CorruptObjectError) {
    return new RequestError('STORAGE_ERROR', `storage engine failure: ${error.message}`, { cause: error });
  }
  return error;
}

function codedAsync<T>(promise: Promise<T>): Promise<T> {
  return promise.catch((error: unknown) => {
    throw coded(error);
  });
}
