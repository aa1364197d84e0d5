/**
 * Dotted version vectors (Preguiça et al.; Riak's dvv): the object carries a version
 * vector, and every sibling carries the single dot that created it.
 */

/** An actor: the id of the coordinator that issues dots (a node id plus its start epoch). */
export type ActorId = string;

/** One event of one actor: the `counter`-th write that `actor` coordinated for a key. */
export interface Dot {
  readonly actor: ActorId;
  readonly counter: number;
}

/** One entry of a version vector; `timeMs` is when the actor last advanced it (for truncation). */
export interface VectorEntry {
  readonly actor: ActorId;
  readonly counter: number;
  readonly timeMs: number;
}

/** A version vector: entries sorted by actor, at most one per actor. */
export type VersionVector = readonly VectorEntry[];
