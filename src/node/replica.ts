/**
 * The replica side of a write: merge an object received from a coordinator (or from read
 * repair, hinted handoff, anti-entropy) into the local copy.
 *
 * The merge is `syncObjects(local, incoming)` run inside `store.update`, so it is atomic
 * with any concurrent local write of the key: a version the incoming object's vector
 * already covers is dropped, a version it does not know stays, and the result holds every
 * causally unrelated version. A stale write therefore never erases a newer one, and
 * concurrent writes end up as siblings.
 */
import { syncObjects, type StoredObject } from '../core/object.ts';
import type { ObjectStore } from '../storage/objectStore.ts';

export interface ReplicaWriteOptions {
  /** Persisted and fsynced before the promise resolves (the coordinator's durable replica). */
  readonly durable: boolean;
}

const NOT_DURABLE: ReplicaWriteOptions = { durable: false };

/** Merges `incoming` into the local copy of the key; resolves with the merged object. */
export async function applyReplicaWrite(
  store: ObjectStore,
  partition: number,
  key: Uint8Array,
  incoming: StoredObject,
  options: ReplicaWriteOptions = NOT_DURABLE,
): Promise<StoredObject> {
  const merged = await store.update(partition, key, (local) => syncObjects(local, incoming), options);
  if (merged === undefined) throw new Error('invariant: a replica write left no object');
  return merged;
}
