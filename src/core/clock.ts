/**
 * Dotted version vectors (Preguiça et al.; Riak's dvv): the object carries a version
 * vector, and every sibling carries the single dot that created it.
 */
import { compareStrings, encodeUtf8 } from './bytes.ts';

/** An actor: the id of the coordinator that issues dots (a node id plus its start epoch). */
export type ActorId = string;

/**
 * The largest counter a client's context may name. A write increments its coordinator's
 * counter, so a context naming the coordinator near 2^53 would make every later write of
 * the key overflow safe integers; no actor ever writes one key 2^48 times.
 */
export const CONTEXT_COUNTER_MAX = 2 ** 48;
/** The largest counter a stored object may carry: far above any context's, so the writes after one never leave safe integers. */
export const COUNTER_MAX = 2 ** 52;

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

/** Vector entries kept per object before truncation drops the oldest (paper 4.4). */
export const VECTOR_ENTRIES_MAX_DEFAULT = 10;
/** Entries kept whatever their age (Riak's big_vclock is 50): young entries are dropped past it. */
export const VECTOR_ENTRIES_HARD_MAX = 64;
/** Entries advanced within this long are kept past the soft limit (Riak's young_vclock is 20 s). */
export const VECTOR_PRUNE_AGE_MS_DEFAULT = 86_400_000;

/** Actor order: locale-independent, by UTF-16 code units. */
export function compareActors(a: ActorId, b: ActorId): number {
  return compareStrings(a, b);
}

/** Actors' UTF-8 bytes, kept: a node sees few actors, and every context and digest names some. */
const actorBytesCache = new Map<ActorId, Uint8Array>();
const ACTOR_BYTES_CACHED_MAX = 4096;

/** The actor's UTF-8 bytes (cached; do not modify them). */
export function actorBytes(actor: ActorId): Uint8Array {
  let bytes = actorBytesCache.get(actor);
  if (bytes === undefined) {
    if (actorBytesCache.size >= ACTOR_BYTES_CACHED_MAX) actorBytesCache.clear();
    bytes = encodeUtf8(actor);
    actorBytesCache.set(actor, bytes);
  }
  return bytes;
}

/** Dot order: by actor, then counter. */
export function compareDots(a: Dot, b: Dot): number {
  return compareActors(a.actor, b.actor) || a.counter - b.counter;
}

export function dotsEqual(a: Dot, b: Dot): boolean {
  return a.actor === b.actor && a.counter === b.counter;
}

/** The actor's counter in `vector`; 0 when the actor has no entry. */
export function counterOf(vector: VersionVector, actor: ActorId): number {
  for (const entry of vector) if (entry.actor === actor) return entry.counter;
  return 0;
}

/** True when `vector` has seen the event `dot`. */
export function covers(vector: VersionVector, dot: Dot): boolean {
  return counterOf(vector, dot.actor) >= dot.counter;
}

/** True when `a` has seen everything `b` has (reflexive: a vector descends itself). */
export function descends(a: VersionVector, b: VersionVector): boolean {
  return b.every((entry) => counterOf(a, entry.actor) >= entry.counter);
}

/** True when `a` has seen everything `b` has, and more. */
export function dominates(a: VersionVector, b: VersionVector): boolean {
  return descends(a, b) && !descends(b, a);
}

/** True when neither vector has seen everything the other has. */
export function concurrent(a: VersionVector, b: VersionVector): boolean {
  return !descends(a, b) && !descends(b, a);
}

/** Same causal history: the same actors with the same counters (timeMs is ignored). */
export function vectorsEqual(a: VersionVector, b: VersionVector): boolean {
  return descends(a, b) && descends(b, a);
}

/**
 * The least vector that descends both: per actor the larger counter and the larger
 * timeMs (taken separately, so merging is commutative, associative and idempotent).
 * Sorted by actor.
 */
export function mergeVectors(a: VersionVector, b: VersionVector): VersionVector {
  const byActor = new Map<ActorId, VectorEntry>();
  for (const entry of [...a, ...b]) {
    const seen = byActor.get(entry.actor);
    byActor.set(
      entry.actor,
      seen === undefined
        ? { actor: entry.actor, counter: entry.counter, timeMs: entry.timeMs }
        : {
            actor: entry.actor,
            counter: Math.max(seen.counter, entry.counter),
            timeMs: Math.max(seen.timeMs, entry.timeMs),
          },
    );
  }
  return sortVector([...byActor.values()]);
}

/** `vector` with the actor's entry replaced (or added), sorted by actor. */
export function withEntry(vector: VersionVector, entry: VectorEntry): VersionVector {
  return sortVector([...vector.filter((other) => other.actor !== entry.actor), { ...entry }]);
}

export interface TruncationPolicy {
  /** Entries kept at most, unless `keepActors` alone need more, or the entries are young. */
  readonly entriesMax: number;
  /** Actors never dropped: those of the object's siblings' dots, so the vector covers them. */
  readonly keepActors: ReadonlySet<ActorId>;
  /**
   * Entries advanced less than this long before `nowMs` stay past `entriesMax`, up to
   * max(entriesMax, VECTOR_ENTRIES_HARD_MAX); 0: age does not matter.
   */
  readonly youngMs: number;
  readonly nowMs: number;
}

/**
 * Drops the entries with the oldest timeMs (ties: the smaller actor id first) until at
 * most `entriesMax` remain, never an actor of `keepActors`, and a young entry only past
 * the hard limit.
 *
 * Caveat: a truncated vector has forgotten the dropped actors' events, so it covers less.
 * Versions it had already superseded can then look concurrent and come back as extra
 * siblings when a replica that still holds them syncs (a deleted value next to its
 * tombstone, say); no version is ever lost, because covering less only ever keeps more
 * siblings. Hence young entries are kept: by the time an entry is old, anti-entropy has
 * long brought every replica past the versions it superseded (found by the simulator: with
 * count-only pruning, versions an acknowledged write had superseded came back, seed 100060
 * at c109163). This relies on an actor never reusing a counter: the coordinator's own entry
 * is always kept when it writes, and a restarted node writes under a new actor (node id
 * plus start epoch).
 */
export function truncateVector(vector: VersionVector, policy: TruncationPolicy): VersionVector {
  const { entriesMax, keepActors, youngMs, nowMs } = policy;
  if (!Number.isSafeInteger(entriesMax) || entriesMax < 0) {
    throw new RangeError(`entriesMax must be a non-negative integer, got ${String(entriesMax)}`);
  }
  if (vector.length <= entriesMax) return vector;
  const hardMax = Math.max(entriesMax, VECTOR_ENTRIES_HARD_MAX);
  const droppable = vector
    .filter((entry) => !keepActors.has(entry.actor))
    .sort((a, b) => a.timeMs - b.timeMs || compareActors(a.actor, b.actor));
  const dropped = new Set<ActorId>();
  for (const entry of droppable) {
    const remaining = vector.length - dropped.size;
    if (remaining <= entriesMax) break;
    // Oldest first: once one is young, the rest are too.
    if (remaining <= hardMax && youngMs > 0 && nowMs - entry.timeMs < youngMs) break;
    dropped.add(entry.actor);
  }
  return dropped.size === 0 ? vector : vector.filter((entry) => !dropped.has(entry.actor));
}

function sortVector(entries: VectorEntry[]): VersionVector {
  return entries.sort((a, b) => compareActors(a.actor, b.actor));
}
