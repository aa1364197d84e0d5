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
import type { MetaStore } from '../ports/storage.ts';

export const START_EPOCH_RECORD = 'startEpoch';

export class StartEpochError extends Error {
  readonly code = 'START_EPOCH_INVALID';
  constructor(message: string) {
    super(message);
    this.name = 'StartEpochError';
  }
}

/** Reads the last epoch, stores the next one (fsynced) and returns it: 1 on a fresh data dir. */
export async function advanceStartEpoch(meta: MetaStore): Promise<number> {
  const last = meta.get(START_EPOCH_RECORD) ?? 0;
  if (typeof last !== 'number' || !Number.isSafeInteger(last) || last < 0) {
    throw new StartEpochError(`stored start epoch is not a non-negative integer: ${JSON.stringify(last)}`);
  }
  const next = last + 1;
  await meta.put(START_EPOCH_RECORD, next);
  return next;
}

/** The actor id under which this incarnation of the node issues dots. */
export function actorIdOf(nodeId: string, startEpoch: number): ActorId {
  return `${nodeId}.${startEpoch}`;
}
