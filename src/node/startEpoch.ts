/**
 * The start epoch: a counter kept in the node's metadata store and incremented (durably)
 * at every start, before the node serves anything.
 *
 * Why. Each write a node coordinates gets a dot (actor, counter), where the counter is one
 * past the actor's entry in the key's version vector *as this node stores it*. A node that
 * crashes loses its unflushed buffer, so after a restart its stored vector for a key may be
 * older than dots it already handed out (to clients, and in a cluster to other replicas).
 * Reusing the actor id would then issue the same dot again for a different value, and every
 * replica would take the two writes for one event: one of them silently lost. With the
 * actor id `${nodeId}.${startEpoch}`, each incarnation of the node is a fresh actor whose
 * counters start from zero, so a dot is never issued twice. The price is one more vector
 * entry per restart for the keys it writes, which vector pruning (vectorEntriesMax) bounds.
 */
import type { ActorId } from '../core/clock.ts';
import type { Random } from '../ports/random.ts';
import type { MetaStore } from '../ports/storage.ts';

export const START_EPOCH_RECORD = 'startEpoch';

export class StartEpochError extends Error {
  readonly code = 'START_EPOCH_INVALID';
  constructor(message: string) {
    super(message);
    this.name = 'StartEpochError';
  }
}

/**
 * Reads the last epoch, stores the next one (fsynced) and returns it; on a fresh data dir,
 * `firstEpoch` (1 by default).
 *
 * A fresh data dir is not always a first start: a node whose disk was lost or wiped comes
 * back empty while the other replicas still hold the dots of its earlier incarnations, and
 * epoch 1 again would reissue them (found by test/cluster/antiEntropy.test.ts: an
 * acknowledged write replaced by a later one under the same dot). So a member of a
 * cluster starts a fresh data dir at a random epoch (firstEpochOf), as Riak gives a vnode
 * with no saved state a random vnode id; a node alone keeps 1, since no other node can
 * hold its dots (clients' contexts can, and a coordinator issues counters past them).
 */
export async function advanceStartEpoch(meta: MetaStore, firstEpoch: () => number = () => 1): Promise<number> {
  const last = meta.get(START_EPOCH_RECORD);
  if (last !== undefined && (typeof last !== 'number' || !Number.isSafeInteger(last) || last < 0)) {
    throw new StartEpochError(`stored start epoch is not a non-negative integer: ${JSON.stringify(last)}`);
  }
  const next = last === undefined ? firstEpoch() : last + 1;
  await meta.put(START_EPOCH_RECORD, next);
  return next;
}

/** Epochs a fresh data dir of a cluster member may start at (1 .. 2^31 - 1). */
const FIRST_EPOCH_RANGE = 2 ** 31 - 1;

/** The first epoch of a fresh data dir: random for a member of a cluster, 1 for a node alone. */
export function firstEpochOf(inCluster: boolean, random: Random): number {
  return inCluster ? 1 + random.int(FIRST_EPOCH_RANGE) : 1;
}

/** The actor id under which this incarnation of the node issues dots. */
export function actorIdOf(nodeId: string, startEpoch: number): ActorId {
  return `${nodeId}.${startEpoch}`;
}
