/**
 * The stored object: siblings under one version vector, and syntactic reconciliation.
 *
 * Dot uniqueness is what keeps writes from being lost: no two writes may share a dot.
 * So an actor issues dots only through `putObject` on its own replica's copy of the key
 * (its counters then only grow there, since that copy always keeps the actor's entry),
 * a restarted node writes under a new actor (node id plus start epoch), and whoever
 * later removes objects (tombstone reaping) must not let an actor start a key over at
 * counter 1 while old contexts or copies naming its earlier dots may still exist.
 *
 * Idempotent writes (issue 15): a write that may be applied more than once (a forward that
 * was hedged, failed over or duplicated, each copy coordinated by a different node under
 * its own dot) carries a write id, minted once where it entered the cluster, and kept in
 * its sibling. A replica does not apply a write whose id one of its siblings already
 * carries (putObject). Copies applied by two coordinators stay two dots in storage, so sync
 * keeps the lattice laws of plain dotted version vectors (collapsing them in sync, tried
 * first, is not associative once one copy has been superseded); a client is shown one
 * sibling per write id (oneSiblingPerWrite), and its context, the whole vector, covers both
 * dots, so its next write supersedes both.
 * A client that read only one copy supersedes only that dot; so an object also remembers
 * the write ids of its superseded siblings (supersededWrites): a copy whose id is
 * remembered is dropped wherever it arrives later, and a write applied and superseded here
 * is not applied again. The memory is bounded (SUPERSEDED_WRITE_RETENTION_MS and
 * SUPERSEDED_WRITES_MAX, below), like the vector's (truncateVector): a copy that arrives
 * after its id has been forgotten shows as a sibling again, never as a lost write.
 */
import { compareBytes, compareStrings } from './bytes.ts';
import {
  compareDots,
  counterOf,
  covers,
  descends,
  mergeVectors,
  truncateVector,
  withEntry,
  type ActorId,
  type Dot,
  type VectorEntry,
  type VersionVector,
} from './clock.ts';

export interface Sibling {
  readonly value: Uint8Array;
  readonly contentType: string;
  /** A tombstone: the sibling records a delete. */
  readonly deleted: boolean;
  readonly dot: Dot;
  /** Wall-clock milliseconds at the coordinator when the write was made. */
  readonly timeMs: number;
  /** The write's id when it may be applied more than once (see the file comment). */
  readonly writeId?: string;
}

/** Longest write id, UTF-16 code units: an actor or a client id (under 100 characters), a slash and a counter. */
export const WRITE_ID_LENGTH_MAX = 128;

export interface StoredObject {
  readonly vector: VersionVector;
  /** Sorted by (dot.actor, dot.counter) so equal objects encode identically. */
  readonly siblings: readonly Sibling[];
  /** Write ids of superseded siblings (see the file comment), sorted by id; absent when none. */
  readonly supersededWrites?: readonly SupersededWrite[];
}

/** A superseded write's id, and its sibling's timeMs (the newest copy's): what is kept when there are too many. */
export interface SupersededWrite {
  readonly writeId: string;
  readonly timeMs: number;
}

/**
 * What an object remembers of superseded write ids: those written within
 * SUPERSEDED_WRITE_RETENTION_MS before its newest write (its vector's newest time), and of
 * those at most SUPERSEDED_WRITES_MAX, the newest by write time. A copy of a write needs its
 * id remembered only until every copy has reached the replicas: a hedged or failed-over
 * forward's twin comes within the request's life; a copy held up in a paused or cut-off
 * coordinator comes when it resumes (the simulator's hot keys needed more than 16 ids for a
 * pause of 0.8 s). A key that is not written stops aging its list; one written rarely soon
 * sheds it; only a key overwritten through forwards many times a minute carries the most,
 * about 2 KB.
 */
export const SUPERSEDED_WRITES_MAX = 64;
export const SUPERSEDED_WRITE_RETENTION_MS = 60_000;

/** Siblings per key at most; a write past it is refused, never silently dropped. */
export const SIBLINGS_MAX_DEFAULT = 100;

/** A coordinator's local write of one key. */
export interface ObjectWrite {
  /** The client's context: the vector of what it read (empty when it read nothing). */
  readonly context: VersionVector;
  /** The coordinator issuing the dot. */
  readonly actor: ActorId;
  readonly value: Uint8Array;
  readonly contentType: string;
  /** A delete: the new sibling is a tombstone. */
  readonly deleted: boolean;
  /** The coordinator's wall clock. */
  readonly nowMs: number;
  /** Set when the write may be applied more than once: a second application changes nothing. */
  readonly writeId?: string;
  /**
   * Supersede every current sibling, whatever the context. Loses concurrent writes: use
   * only where the user asked for last-write-wins.
   */
  readonly lastWriteWins?: boolean;
}

export interface ObjectLimits {
  readonly siblingsMax: number;
  readonly vectorEntriesMax: number;
  /** Vector entries younger than this stay past vectorEntriesMax (clock.ts truncateVector); absent: 0. */
  readonly vectorPruneAgeMs?: number;
}

export type PutOutcome =
  /** dot: the write's, undefined when this copy had applied and superseded it already (the object is unchanged). */
  | { readonly ok: true; readonly object: StoredObject; readonly dot: Dot | undefined }
  | { readonly ok: false; readonly reason: 'too-many-siblings'; readonly siblingCount: number };

const EMPTY_OBJECT: StoredObject = { vector: [], siblings: [] };

/**
 * The coordinator's local write (dotted version vectors): drops exactly the siblings
 * whose dot the context covers, and adds the new value under a fresh dot of `actor`.
 * The new counter exceeds every counter of `actor` this replica or the client has seen,
 * so two writes through one coordinator from one stale context stay siblings.
 * Refuses (and the caller writes nothing) when the result would exceed `siblingsMax`.
 */
export function putObject(current: StoredObject | undefined, write: ObjectWrite, limits: ObjectLimits): PutOutcome {
  validateWrite(write, limits);
  const base = current ?? EMPTY_OBJECT;
  const { actor, context, nowMs, writeId } = write;
  if (writeId !== undefined) {
    const applied = base.siblings.find((sibling) => sibling.writeId === writeId);
    if (applied !== undefined) return { ok: true, object: base, dot: applied.dot };
    if (remembersSuperseded(base, writeId)) return { ok: true, object: base, dot: undefined };
  }
  const dot: Dot = { actor, counter: nextCounter(base, context, actor) };
  const kept = write.lastWriteWins === true ? [] : base.siblings.filter((sibling) => !covers(context, sibling.dot));
  const dropped = kept.length === base.siblings.length ? undefined : base.siblings.filter((sibling) => !kept.includes(sibling));
  const created: Sibling =
    writeId === undefined
      ? { value: write.value, contentType: write.contentType, deleted: write.deleted, dot, timeMs: nowMs }
      : { value: write.value, contentType: write.contentType, deleted: write.deleted, dot, timeMs: nowMs, writeId };
  const siblings = sortSiblings([...kept, created]);
  if (siblings.length > limits.siblingsMax) {
    return { ok: false, reason: 'too-many-siblings', siblingCount: siblings.length };
  }
  const advanced = withEntry(mergeVectors(base.vector, learnedAt(context, base.vector, nowMs)), { actor, counter: dot.counter, timeMs: nowMs });
  const supersededWrites = dropped === undefined ? base.supersededWrites : withSuperseded(base.supersededWrites, dropped, advanced);
  const vector = truncateVector(advanced, {
    entriesMax: limits.vectorEntriesMax,
    keepActors: new Set(siblings.map((sibling) => sibling.dot.actor)),
    youngMs: limits.vectorPruneAgeMs ?? 0,
    nowMs,
  });
  return { ok: true, object: supersededWrites === undefined ? { vector, siblings } : { vector, siblings, supersededWrites }, dot };
}

/**
 * A client's context carries no times (core/context.ts decodes timeMs 0): an entry this
 * copy did not have is stamped with the time it learns it, so truncation does not take it
 * for the oldest (the simulator found such entries pruned first, bringing superseded
 * versions back: seed 600298 at 96b3ceb); an entry it had keeps its own time.
 */
function learnedAt(context: VersionVector, known: VersionVector, nowMs: number): VersionVector {
  return context.map((entry) => (entry.timeMs === 0 && counterOf(known, entry.actor) === 0 ? { ...entry, timeMs: nowMs } : entry));
}

function nextCounter(base: StoredObject, context: VersionVector, actor: ActorId): number {
  let highest = Math.max(counterOf(base.vector, actor), counterOf(context, actor));
  for (const sibling of base.siblings) {
    if (sibling.dot.actor === actor) highest = Math.max(highest, sibling.dot.counter);
  }
  return highest + 1;
}

function validateWrite(write: ObjectWrite, limits: ObjectLimits): void {
  if (typeof write.actor !== 'string' || write.actor === '') {
    throw new RangeError(`actor must be a non-empty string, got ${JSON.stringify(write.actor)}`);
  }
  if (!Number.isFinite(write.nowMs)) throw new RangeError(`nowMs must be finite, got ${String(write.nowMs)}`);
  if (write.writeId !== undefined && (typeof write.writeId !== 'string' || write.writeId === '' || write.writeId.length > WRITE_ID_LENGTH_MAX)) {
    throw new RangeError(`writeId must be a string of 1-${WRITE_ID_LENGTH_MAX} characters, got ${JSON.stringify(write.writeId)}`);
  }
  if (!Number.isSafeInteger(limits.siblingsMax) || limits.siblingsMax < 1) {
    throw new RangeError(`siblingsMax must be a positive integer, got ${String(limits.siblingsMax)}`);
  }
  if (!Number.isSafeInteger(limits.vectorEntriesMax) || limits.vectorEntriesMax < 1) {
    throw new RangeError(`vectorEntriesMax must be a positive integer, got ${String(limits.vectorEntriesMax)}`);
  }
  if (limits.vectorPruneAgeMs !== undefined && !(Number.isSafeInteger(limits.vectorPruneAgeMs) && limits.vectorPruneAgeMs >= 0)) {
    throw new RangeError(`vectorPruneAgeMs must be a non-negative integer, got ${String(limits.vectorPruneAgeMs)}`);
  }
}

/**
 * Syntactic reconciliation of two replicas' versions of one key. A sibling of one side
 * stays iff the other side holds the same dot or has not seen it (its vector does not
 * cover the dot); a covered dot that the other side no longer holds was superseded there.
 * The vector is the merge. Commutative, associative and idempotent, so replicas converge
 * whatever order they sync in. Siblings come out sorted by dot.
 */
export function syncObjects(a: StoredObject, b: StoredObject | undefined): StoredObject;
export function syncObjects(a: StoredObject | undefined, b: StoredObject): StoredObject;
export function syncObjects(a: StoredObject | undefined, b: StoredObject | undefined): StoredObject | undefined;
export function syncObjects(a: StoredObject | undefined, b: StoredObject | undefined): StoredObject | undefined {
  if (a === undefined || a === b) return b;
  if (b === undefined) return a;
  // Both sibling lists are sorted by dot: one merge walk pairs the same dots (no map, no dot
  // strings: this runs for every replica write).
  const siblings: Sibling[] = [];
  let superseded: Sibling[] | undefined;
  const ofA = a.siblings;
  const ofB = b.siblings;
  let i = 0;
  let j = 0;
  while (i < ofA.length || j < ofB.length) {
    const left = ofA[i];
    const right = ofB[j];
    const order = left === undefined ? 1 : right === undefined ? -1 : compareDots(left.dot, right.dot);
    if (order === 0) {
      siblings.push(preferredCopy(left as Sibling, right as Sibling));
      i++;
      j++;
    } else if (order < 0) {
      if (!covers(b.vector, (left as Sibling).dot)) siblings.push(left as Sibling);
      else if ((left as Sibling).writeId !== undefined) (superseded ??= []).push(left as Sibling);
      i++;
    } else {
      if (!covers(a.vector, (right as Sibling).dot)) siblings.push(right as Sibling);
      else if ((right as Sibling).writeId !== undefined) (superseded ??= []).push(right as Sibling);
      j++;
    }
  }
  const vector = mergeVectors(a.vector, b.vector);
  if (a.supersededWrites === undefined && b.supersededWrites === undefined && superseded === undefined) return { vector, siblings };
  const supersededWrites = withSuperseded(mergeSuperseded(a.supersededWrites, b.supersededWrites, vector), superseded ?? [], vector);
  return supersededWrites === undefined ? { vector, siblings } : withoutSuperseded({ vector, siblings, supersededWrites });
}

/**
 * The object without the siblings whose write id it remembers as superseded; their times
 * join the entries' (newest copy), as if the copies had been superseded one by one.
 */
function withoutSuperseded(object: StoredObject): StoredObject {
  const copies = object.siblings.filter((sibling) => sibling.writeId !== undefined && remembersSuperseded(object, sibling.writeId));
  if (copies.length === 0) return object;
  const siblings = object.siblings.filter((sibling) => !copies.includes(sibling));
  const supersededWrites = withSuperseded(object.supersededWrites, copies, object.vector);
  return supersededWrites === undefined ? { vector: object.vector, siblings } : { vector: object.vector, siblings, supersededWrites };
}

function remembersSuperseded(object: StoredObject, writeId: string): boolean {
  return object.supersededWrites !== undefined && object.supersededWrites.some((entry) => entry.writeId === writeId);
}

/** `list` with the write ids of `dropped` added (siblings without one add nothing), for an object of `vector`. */
function withSuperseded(list: readonly SupersededWrite[] | undefined, dropped: readonly Sibling[], vector: VersionVector): readonly SupersededWrite[] | undefined {
  const added: SupersededWrite[] = [];
  for (const sibling of dropped) if (sibling.writeId !== undefined) added.push({ writeId: sibling.writeId, timeMs: sibling.timeMs });
  return added.length === 0 ? list : normalizedSuperseded([...(list ?? []), ...added], vector);
}

/** The union of two normalized lists of superseded writes, for an object of `vector`. */
function mergeSuperseded(a: readonly SupersededWrite[] | undefined, b: readonly SupersededWrite[] | undefined, vector: VersionVector): readonly SupersededWrite[] | undefined {
  if (a === undefined || a === b) return b;
  if (b === undefined) return a;
  return normalizedSuperseded([...a, ...b], vector);
}

/**
 * One entry per id (with the newest time), those within the retention of the vector's
 * newest time, then the SUPERSEDED_WRITES_MAX newest (ties by id), sorted by id: a function
 * of the entries and the vector alone, so merging in any order or grouping gives one list.
 * Undefined when none is left.
 */
function normalizedSuperseded(entries: readonly SupersededWrite[], vector: VersionVector): readonly SupersededWrite[] | undefined {
  let newestMs = -Infinity;
  for (const entry of vector) newestMs = Math.max(newestMs, entry.timeMs);
  const horizonMs = newestMs - SUPERSEDED_WRITE_RETENTION_MS;
  const byId = new Map<string, number>();
  for (const entry of entries) byId.set(entry.writeId, Math.max(byId.get(entry.writeId) ?? -Infinity, entry.timeMs));
  const unique: SupersededWrite[] = [];
  for (const [writeId, timeMs] of byId) if (timeMs >= horizonMs) unique.push({ writeId, timeMs });
  if (unique.length === 0) return undefined;
  const kept = unique.length <= SUPERSEDED_WRITES_MAX ? unique : unique.sort((x, y) => y.timeMs - x.timeMs || compareStrings(x.writeId, y.writeId)).slice(0, SUPERSEDED_WRITES_MAX);
  return kept.sort((x, y) => compareStrings(x.writeId, y.writeId));
}

/**
 * The object as a client is shown it: one sibling per write id (a write applied by two
 * coordinators is one version), the one with the least dot; the vector is unchanged, so a
 * context taken from it covers every copy. The same object when no write id repeats.
 */
export function oneSiblingPerWrite(object: StoredObject): StoredObject {
  let withId = 0;
  for (const sibling of object.siblings) if (sibling.writeId !== undefined) withId++;
  if (withId < 2) return object;
  const seen = new Set<string>();
  const siblings = object.siblings.filter((sibling) => {
    if (sibling.writeId === undefined) return true;
    if (seen.has(sibling.writeId)) return false;
    seen.add(sibling.writeId);
    return true;
  });
  return siblings.length === object.siblings.length ? object : { ...object, siblings };
}

/**
 * True when `a` already reflects everything in `b`: syncing `b` into `a` would neither add
 * a sibling, drop one, advance a's vector nor teach it a superseded write. Treats undefined
 * as the empty object.
 */
export function objectDescends(a: StoredObject | undefined, b: StoredObject | undefined): boolean {
  const left = a ?? EMPTY_OBJECT;
  const right = b ?? EMPTY_OBJECT;
  if (!descends(left.vector, right.vector)) return false;
  const merged = syncObjects(left, right);
  return sameDots(merged.siblings, left.siblings) && sameWriteIds(merged.supersededWrites, left.supersededWrites);
}

function sameDots(a: readonly Sibling[], b: readonly Sibling[]): boolean {
  return a.length === b.length && a.every((sibling, i) => compareDots(sibling.dot, (b[i] as Sibling).dot) === 0);
}

function sameWriteIds(a: readonly SupersededWrite[] | undefined, b: readonly SupersededWrite[] | undefined): boolean {
  const left = a ?? [];
  const right = b ?? [];
  return left.length === right.length && left.every((entry, i) => entry.writeId === (right[i] as SupersededWrite).writeId);
}

/** Identical objects: the same vector entries (timeMs included) and the same siblings. */
export function objectsEqual(a: StoredObject | undefined, b: StoredObject | undefined): boolean {
  if (a === undefined || b === undefined || a === b) return a === b;
  return (
    a.vector.length === b.vector.length &&
    a.vector.every((entry, i) => {
      const other = b.vector[i] as VectorEntry;
      return entry.actor === other.actor && entry.counter === other.counter && entry.timeMs === other.timeMs;
    }) &&
    a.siblings.length === b.siblings.length &&
    a.siblings.every((sibling, i) => compareSiblingCopies(sibling, b.siblings[i] as Sibling) === 0) &&
    sameWriteIds(a.supersededWrites, b.supersededWrites) &&
    (a.supersededWrites ?? []).every((entry, i) => entry.timeMs === (b.supersededWrites as readonly SupersededWrite[])[i]?.timeMs)
  );
}

/** The siblings that are values, not tombstones. */
export function liveSiblings(object: StoredObject): Sibling[] {
  return object.siblings.filter((sibling) => !sibling.deleted);
}

/** True when every sibling is a tombstone (vacuously true for an object with none). */
export function isDeletedObject(object: StoredObject): boolean {
  return object.siblings.every((sibling) => sibling.deleted);
}

function sortSiblings(siblings: Sibling[]): Sibling[] {
  return siblings.sort((a, b) => compareDots(a.dot, b.dot));
}

/**
 * Two replicas' copies of one dot are the same write and normally identical. They differ
 * only if an actor reused a counter (see truncateVector); then a fixed order picks one, so
 * sync stays commutative.
 */
function preferredCopy(a: Sibling, b: Sibling): Sibling {
  return compareSiblingCopies(a, b) >= 0 ? a : b;
}

/** A total order on siblings: dot, timeMs, tombstone, content type, value bytes, write id. */
function compareSiblingCopies(a: Sibling, b: Sibling): number {
  return (
    compareDots(a.dot, b.dot) ||
    a.timeMs - b.timeMs ||
    Number(a.deleted) - Number(b.deleted) ||
    compareStrings(a.contentType, b.contentType) ||
    compareBytes(a.value, b.value) ||
    compareStrings(a.writeId ?? '', b.writeId ?? '')
  );
}
