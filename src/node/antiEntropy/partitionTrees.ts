/**
 * The hash trees of the partitions this node holds (core/antiEntropy/hashTree.ts), kept up
 * to date by the ObjectStore's observer as every write lands.
 *
 * Trust: a tree is only used once it is known to match the store. At a clean stop the
 * trees are saved (after the store stopped taking writes, so they are exact) and marked
 * clean; the next start loads them and marks the record dirty at once, so after a crash
 * nothing is trusted. Untrusted partitions are rebuilt from storage in the background, one
 * partition at a time, a page of objects per step, the steps spaced out by the admission
 * controller; writes between steps are followed by the observer, so the finished tree
 * matches the store. A rebuild that fails (a disk error) stops and is reported; the
 * partition is tried again after a pause that grows with each failure.
 */
import { decodeBase64Url, encodeBase64Url } from '../../core/base64url.ts';
import { HashTree, type TreeShape } from '../../core/antiEntropy/hashTree.ts';
import type { StoredObject } from '../../core/object.ts';
import { isReapedMarker, isTombstone } from '../../core/antiEntropy/reaping.ts';
import { compareBytes } from '../../core/bytes.ts';
import type { Logger } from '../../ports/logger.ts';
import type { JsonValue, MetaStore } from '../../ports/storage.ts';
import type { PartitionReader } from '../../ports/replica.ts';

/** The MetaStore record of the saved trees. */
export const TREES_RECORD = 'hash-trees';

export interface TreeStats {
  readonly trusted: number;
  readonly rebuilds: number;
  readonly rebuildFailures: number;
  readonly lastRebuildError: string | undefined;
}

function reapableCount(object: StoredObject | undefined): number {
  return object !== undefined && (isTombstone(object) || isReapedMarker(object)) ? 1 : 0;
}

export type RebuildStep = 'done' | 'more' | 'failed';

const REBUILD_RETRY_MS_MIN = 1000;
const REBUILD_RETRY_MS_MAX = 300_000;

export class PartitionTrees {
  private readonly trees = new Map<number, HashTree>();
  private readonly failedRebuilds = new Map<number, { failures: number; retryAtMs: number }>();
  /** The rebuild in progress: its tree so far, and the last key visited (undefined before the first page). */
  private building: { partition: number; tree: HashTree; reapable: number; afterKey: Uint8Array | undefined } | undefined;
  /**
   * Tombstones and markers per partition with a trusted tree, when known (counted by a
   * rebuild or a reaping scan, then kept by the observer): reaping skips partitions with none.
   */
  private readonly reapable = new Map<number, number>();
  private rebuilds = 0;
  private rebuildFailures = 0;
  private lastRebuildError: string | undefined;

  constructor(
    readonly shape: TreeShape,
    private readonly meta: MetaStore,
    private readonly logger: Logger,
  ) {}

  /** The ObjectStore observer: keeps every trusted tree current. */
  readonly observe = (partition: number, key: Uint8Array, before: StoredObject | undefined, after: StoredObject | undefined): void => {
    this.trees.get(partition)?.replace(key, before, after);
    const building = this.building;
    if (building?.partition === partition && building.afterKey !== undefined && compareBytes(key, building.afterKey) <= 0) {
      building.tree.replace(key, before, after);
      building.reapable += reapableCount(after) - reapableCount(before);
    }
    const count = this.reapable.get(partition);
    if (count !== undefined) this.reapable.set(partition, count + reapableCount(after) - reapableCount(before));
  };

  /** False only when the partition is known to hold no tombstone or marker. */
  mayHoldReapable(partition: number): boolean {
    return this.reapable.get(partition) !== 0;
  }

  /** A full scan of a trusted partition found `count` tombstones and markers. */
  countedReapable(partition: number, count: number): void {
    if (this.trees.has(partition)) this.reapable.set(partition, count);
  }

  /** Loads the trees a clean stop saved, and marks the record dirty until the next clean stop. */
  async load(): Promise<number> {
    const record = this.meta.get(TREES_RECORD) as
      | { clean?: JsonValue; segments?: JsonValue; branching?: JsonValue; digestVersion?: JsonValue; partitions?: JsonValue; reapable?: JsonValue }
      | undefined;
    // Trees of another shape or digest format (saved by an earlier version) are rebuilt.
    const usable =
      record?.clean === true &&
      record.segments === this.shape.segments &&
      record.branching === this.shape.branching &&
      record.digestVersion === this.shape.digestVersion;
    if (usable && typeof record.partitions === 'object' && record.partitions !== null && !Array.isArray(record.partitions)) {
      for (const [name, text] of Object.entries(record.partitions as Record<string, JsonValue>)) {
        const leaves = typeof text === 'string' ? decodeBase64Url(text) : undefined;
        if (leaves === undefined || leaves.length !== this.shape.segments * 16) continue;
        this.trees.set(Number(name), HashTree.fromLeaves(this.shape, leaves));
        const count = (record.reapable as Record<string, JsonValue> | undefined)?.[name];
        if (typeof count === 'number' && Number.isSafeInteger(count) && count >= 0) this.reapable.set(Number(name), count);
      }
    }
    await this.meta.put(TREES_RECORD, { clean: false });
    return this.trees.size;
  }

  /** Saves every trusted tree as clean; call only once the store takes no more writes. */
  async save(): Promise<void> {
    const partitions: Record<string, string> = {};
    const reapable: Record<string, number> = {};
    for (const [partition, tree] of this.trees) {
      partitions[String(partition)] = encodeBase64Url(tree.leaves());
      const count = this.reapable.get(partition);
      if (count !== undefined) reapable[String(partition)] = count;
    }
    await this.meta.put(TREES_RECORD, { clean: true, segments: this.shape.segments, branching: this.shape.branching, digestVersion: this.shape.digestVersion, partitions, reapable });
  }

  tree(partition: number): HashTree | undefined {
    return this.trees.get(partition);
  }

  isTrusted(partition: number): boolean {
    return this.trees.has(partition);
  }

  /** Stops keeping a partition's tree (this node no longer holds it). */
  forget(partition: number): void {
    if (this.building?.partition === partition) this.building = undefined;
    this.trees.delete(partition);
    this.reapable.delete(partition);
  }

  /** Whether a rebuild of this untrusted partition may be tried at `nowMs` (failed ones back off). */
  rebuildDue(partition: number, nowMs: number): boolean {
    const failed = this.failedRebuilds.get(partition);
    return failed === undefined || nowMs >= failed.retryAtMs;
  }

  /** Rebuilds one partition's tree from the store in one go; true when it is trusted afterwards. */
  rebuild(partition: number, store: PartitionReader, nowMs = 0): boolean {
    let step: RebuildStep;
    do step = this.rebuildPage(partition, store, Number.MAX_SAFE_INTEGER, nowMs);
    while (step === 'more');
    return step === 'done';
  }

  /**
   * One page of a partition's rebuild (`pageObjects` engine entries): a long partition is
   * rebuilt over several calls, so the event loop is never held for the whole of it. Writes
   * between pages reach the tree being built through the observer when their key is at or
   * before the last key visited; the ones after it are seen when their page is visited.
   */
  rebuildPage(partition: number, store: PartitionReader, pageObjects: number, nowMs = 0): RebuildStep {
    if (this.building?.partition !== partition) this.building = { partition, tree: new HashTree(this.shape), reapable: 0, afterKey: undefined };
    const building = this.building;
    try {
      building.afterKey = store.visitPartitionPage(partition, building.afterKey, pageObjects, (key, object) => {
        building.tree.replace(key, undefined, object);
        building.reapable += reapableCount(object);
      });
    } catch (error) {
      this.building = undefined;
      this.rebuildFailed(partition, error, nowMs);
      return 'failed';
    }
    if (building.afterKey !== undefined) return 'more';
    this.building = undefined;
    this.trees.set(partition, building.tree);
    this.reapable.set(partition, building.reapable);
    this.failedRebuilds.delete(partition);
    this.rebuilds++;
    return 'done';
  }

  // A disk error is not retried in a loop: the partition waits, longer after each failure,
  // while the others go on being exchanged.
  private rebuildFailed(partition: number, error: unknown, nowMs: number): void {
    const failures = (this.failedRebuilds.get(partition)?.failures ?? 0) + 1;
    const retryInMs = Math.min(REBUILD_RETRY_MS_MAX, REBUILD_RETRY_MS_MIN * 2 ** (failures - 1));
    this.failedRebuilds.set(partition, { failures, retryAtMs: nowMs + retryInMs });
    this.rebuildFailures++;
    this.lastRebuildError = error instanceof Error ? error.message : String(error);
    this.logger.error({ partition, err: error, failures, retryInMs }, 'hash tree rebuild failed; the partition is left out of anti-entropy until it is retried');
  }

  stats(): TreeStats {
    return { trusted: this.trees.size, rebuilds: this.rebuilds, rebuildFailures: this.rebuildFailures, lastRebuildError: this.lastRebuildError };
  }
}
