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
  /** The members a hint may be for (the live members of the cluster view). */
  readonly members: readonly string[];
  readonly store: ObjectStore;
  readonly hints: HintStore;
  /** Where this node's writes of a partition go (cluster.ts: `holds`, `forwardTo`); absent = main store only. */
  readonly routing?: WriteRouting;
}

export interface WriteRouting {
  readonly holds: readonly boolean[];
  readonly forwardTo: readonly (readonly string[])[];
  /** Per partition, every member in preference-list order (cluster.ts); with `quorum.n`, its current replicas. */
  readonly preference?: readonly (readonly string[])[];
  readonly quorum?: { readonly n: number };
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
 *
 * `keep`: the main store keeps a copy even when this node's view says it no longer holds
 * the partition (it still hands one to the new replicas). For a replica write: the
 * coordinator counts our acknowledgement as one of its W copies (its view is older than
 * ours, and a forwarded hint, once delivered, is no copy of ours). For a hint handed back
 * to us: the sender's view may be newer than ours (we were down while a change made us a
 * replica again), and the new owner the hint was meant for is us.
 */
export function writeLocalReplica(
  replica: LocalReplica,
  partition: number,
  key: Uint8Array,
  object: StoredObject,
  options: { readonly durable: boolean; readonly hintFor: string | undefined; readonly keep?: boolean },
): Promise<StoredObject> {
  const { durable, hintFor } = options;
  if (hintFor !== undefined && hintFor !== replica.self) return replica.hints.put(hintFor, partition, key, object, { durable });
  const forwardTo = replica.routing?.forwardTo[partition] ?? NO_NODES;
  if (forwardTo.length > 0) return writeDuringTransfer(replica, partition, key, object, durable, forwardTo, options.keep === true);
  // Kept here although this node holds no replica of the partition any more (a hint or a
  // replica write that arrives after the partition moved on, past the change this node
  // handed it over in): the partition's current replicas get it too.
  const current = options.keep === true && replica.routing?.holds[partition] === false ? currentReplicas(replica, partition) : NO_NODES;
  if (current.length === 0) return applyReplicaWrite(replica.store, partition, key, object, { durable });
  return writeDuringTransfer(replica, partition, key, object, durable, current, true);
}

function currentReplicas(replica: LocalReplica, partition: number): readonly string[] {
  const routing = replica.routing;
  const order = routing?.preference?.[partition];
  if (order === undefined || routing?.quorum === undefined) return NO_NODES;
  return order.slice(0, routing.quorum.n).filter((node) => node !== replica.self);
}

const NO_NODES: readonly string[] = [];

/**
 * A write of a partition this node is handing over: kept (while this node still holds
 * the partition) and also stored as a hint for each receiver, which hinted handoff
 * delivers, so a write that lands after the partition was streamed still reaches the new
 * replica. Resolves once every copy is stored.
 */
async function writeDuringTransfer(
  replica: LocalReplica,
  partition: number,
  key: Uint8Array,
  object: StoredObject,
  durable: boolean,
  forwardTo: readonly string[],
  keep: boolean,
): Promise<StoredObject> {
  const holds = keep || (replica.routing?.holds[partition] ?? true);
  const copies = forwardedCopies(replica, partition, key, object, durable, forwardTo);
  if (holds) copies.unshift(applyReplicaWrite(replica.store, partition, key, object, { durable }));
  const stored = await Promise.all(copies);
  return holds ? (stored[0] as StoredObject) : stored.reduce((merged, copy) => syncObjects(merged, copy));
}

/** Stores `object` as a hint for every node this node's writes of the partition are handed to. */
export function forwardedCopies(
  replica: LocalReplica,
  partition: number,
  key: Uint8Array,
  object: StoredObject,
  durable: boolean,
  forwardTo: readonly string[] = replica.routing?.forwardTo[partition] ?? NO_NODES,
): Promise<StoredObject>[] {
  return forwardTo.map((target) => replica.hints.put(target, partition, key, object, { durable }));
}
