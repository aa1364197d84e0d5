/**
 * This node's own replica of a key as the protocol sees it: the main store plus, for a
 * fallback, the hint store. Used for the coordinator's own share of a request and for the
 * replica side of peers' requests, so both behave the same.
 */
import { syncObjects, type StoredObject } from '../core/object.ts';
import type { HintStore } from '../storage/hintStore.ts';
import type { ObjectStore } from '../storage/objectStore.ts';
import { applyReplicaWrite } from './replica.ts';

export interface LocalReplica {
  readonly self: string;
  readonly members: readonly string[];
  readonly store: ObjectStore;
  readonly hints: HintStore;
}

/** Every version this node holds for the key: its own copy, merged with any hints for it. */
export function readLocalReplica(replica: LocalReplica, partition: number, key: Uint8Array): StoredObject | undefined {
  const own = replica.store.get(partition, key);
  const hinted = replica.hints.getForAny(replica.members, partition, key);
  return syncObjects(own, hinted);
}

/**
 * Merges `object` into this node's copy: into the hint store when it stands in for
 * `hintFor` (another node), into the main store otherwise. Resolves once stored (fsynced
 * when `durable`); rejects with HintsFullError, BufferFullError, StorageError…
 */
export function writeLocalReplica(
  replica: LocalReplica,
  partition: number,
  key: Uint8Array,
  object: StoredObject,
  options: { readonly durable: boolean; readonly hintFor: string | undefined },
): Promise<StoredObject> {
  const { durable, hintFor } = options;
  if (hintFor !== undefined && hintFor !== replica.self) return replica.hints.put(hintFor, partition, key, object, { durable });
  return applyReplicaWrite(replica.store, partition, key, object, { durable });
}
