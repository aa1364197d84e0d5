/**
 * Tombstone reaping, the pure rules. A delete leaves a tombstone: a sibling marked deleted,
 * under the key's version vector. It cannot simply be removed: a replica that missed the
 * delete, a hint, a transfer or a late message could then bring the deleted value back,
 * and a coordinator could reissue dots the tombstone's vector had already used.
 *
 * So removal goes in two steps, each taken only once every one of the key's N replicas is
 * known to hold the same version (node/antiEntropy/tombstoneReaper.ts asks them):
 *
 *   1. a tombstone older than the grace period becomes a *reaped marker*: the vector alone,
 *      no sibling. Syntactic reconciliation already treats it as the newest version (its
 *      vector covers every dot the tombstone covered), so any older copy that surfaces
 *      later — the deleted value included — merges into it and vanishes, and a new write
 *      through any coordinator gets a dot past the vector. Reads see no value.
 *   2. a marker older than the retention period is removed entirely. From then on, a copy
 *      of a version older than the delete that surfaces (a hint held longer than the
 *      retention, say) would come back: the retention bounds that window, like Cassandra's
 *      gc_grace_seconds.
 */
import type { StoredObject } from '../object.ts';

export interface ReapSettings {
  /** A tombstone's age (its newest sibling's time) before it may become a marker. */
  readonly tombstoneGraceMs: number;
  /** A marker's age (its newest vector entry's time) before it may be removed. */
  readonly markerRetentionMs: number;
}

export type ReapStep = 'to-marker' | 'remove';

/** True for a reaped marker: a vector with no sibling. */
export function isReapedMarker(object: StoredObject): boolean {
  return object.siblings.length === 0;
}

/** True for a tombstone: siblings, every one a delete. */
export function isTombstone(object: StoredObject): boolean {
  return object.siblings.length > 0 && object.siblings.every((sibling) => sibling.deleted);
}

/** The reaping step due for this object at `nowMs`, if any. */
export function reapStepDue(object: StoredObject, nowMs: number, settings: ReapSettings): ReapStep | undefined {
  if (isReapedMarker(object)) {
    const newestMs = object.vector.reduce((newest, entry) => Math.max(newest, entry.timeMs), -Infinity);
    return nowMs - newestMs >= settings.markerRetentionMs ? 'remove' : undefined;
  }
  if (!isTombstone(object)) return undefined;
  const newestMs = object.siblings.reduce((newest, sibling) => Math.max(newest, sibling.timeMs), -Infinity);
  return nowMs - newestMs >= settings.tombstoneGraceMs ? 'to-marker' : undefined;
}

/** The object after `step`: the marker of a tombstone, or undefined (removed). */
export function reaped(object: StoredObject, step: ReapStep): StoredObject | undefined {
  if (step === 'remove') return undefined;
  // The marker keeps the superseded write ids: a late copy of one must not come back.
  return object.supersededWrites === undefined ? { vector: object.vector, siblings: [] } : { vector: object.vector, siblings: [], supersededWrites: object.supersededWrites };
}
