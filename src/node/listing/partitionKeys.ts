/**
 * A replica's answer to one partition of a listing page (core/listing.ts): its live keys
 * after the page's start that carry the prefix, in byte order, and how far it looked.
 *
 * The partition is read in key order, a page of the engine at a time with the buffer laid
 * over it (PartitionReader.visitPartitionPage), so what a listing sees is what reads see.
 * Deleted keys (every sibling a tombstone) are skipped but count toward the scan budget,
 * so a page over a graveyard of tombstones still ends, with `through` saying how far it got.
 */
import { compareBytes } from '../../core/bytes.ts';
import { hasPrefix, keyBefore, type PartitionKeys } from '../../core/listing.ts';
import { isDeletedObject, type StoredObject } from '../../core/object.ts';
import type { PartitionReader } from '../../ports/replica.ts';

/** Where a page of a listing starts: keys carrying `prefix`, after `after` when given. */
export interface KeyRange {
  readonly prefix: Uint8Array;
  readonly after: Uint8Array | undefined;
}

export interface PartitionScanLimits {
  /** Live keys to answer at most. */
  readonly keysMax: number;
  /** Stored objects (live or deleted) to look at at most. */
  readonly scanObjectsMax: number;
  /** The longest key the node stores (where a scan starts for a prefix: core/listing.ts keyBefore). */
  readonly keyBytesMax: number;
}

/** Engine entries read per step at most: small enough that a step stays well under a millisecond. */
const SCAN_STEP_OBJECTS_MAX = 256;

export function listPartitionKeys(reader: PartitionReader, partition: number, range: KeyRange, limits: PartitionScanLimits): PartitionKeys {
  const { prefix } = range;
  const keys: Uint8Array[] = [];
  let afterKey = startAfter(range, limits.keyBytesMax);
  let scanned = 0;
  // The first step reads as many entries as keys are wanted; each further one (deleted keys
  // were met) twice as many, so a page over tombstones takes few steps.
  let stepObjects = Math.min(limits.keysMax, SCAN_STEP_OBJECTS_MAX);
  let pastRange = false;
  // Engine keys come in order: the first one past the prefix's range ends the partition's part.
  const wanted = (key: Uint8Array): boolean => {
    if (hasPrefix(key, prefix)) return true;
    if (compareBytes(key, prefix) > 0) pastRange = true;
    return false;
  };
  for (;;) {
    stepObjects = Math.max(1, Math.min(stepObjects, limits.scanObjectsMax - scanned));
    const live: Uint8Array[] = [];
    const visit = (key: Uint8Array, object: StoredObject): void => {
      if (!isDeletedObject(object)) live.push(key);
    };
    const lastKey = reader.visitPartitionPage(partition, afterKey, stepObjects, visit, wanted);
    scanned += stepObjects;
    // Buffered objects come after the engine's: order the step before taking from it.
    live.sort(compareBytes);
    for (const key of live) {
      keys.push(key);
      if (keys.length === limits.keysMax) return { keys, through: key };
    }
    if (lastKey === undefined || pastRange) return { keys, through: undefined };
    if (scanned >= limits.scanObjectsMax) return { keys, through: lastKey };
    afterKey = lastKey;
    stepObjects = Math.min(2 * stepObjects, SCAN_STEP_OBJECTS_MAX);
  }
}

/** The scan's exclusive start: the later of the page's start and the prefix's first possible key. */
function startAfter(range: KeyRange, keyBytesMax: number): Uint8Array | undefined {
  const beforePrefix = keyBefore(range.prefix, keyBytesMax);
  if (range.after === undefined) return beforePrefix;
  if (beforePrefix === undefined) return range.after;
  return compareBytes(range.after, beforePrefix) > 0 ? range.after : beforePrefix;
}
