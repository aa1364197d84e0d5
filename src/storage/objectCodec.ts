/**
 * The byte format of a StoredObject, on disk and (later) between nodes.
 *
 *   byte 0      format version (OBJECT_FORMAT_VERSION)
 *   bytes 1..   msgpack of [vector, siblings (, supersededWrites)], arrays only (no maps, no msgpackr records):
 *               vector   = [[actor: str, counter: uint, timeMs: number], ...]   sorted by actor
 *               siblings = [[value: bin, contentType: str, deleted: bool,
 *                            dotActor: str, dotCounter: uint, timeMs: number
 *                            (, writeId: str, only when the write carries one)], ...]
 *                          sorted by (dotActor, dotCounter)
 *               supersededWrites = [[writeId: str, timeMs: number], ...]   sorted by writeId,
 *                          only when not empty, at most SUPERSEDED_WRITES_MAX
 * The write id and the superseded writes came later as optional trailing fields, so
 * objects written before them decode unchanged under the same format version.
 * Orders are core/clock.ts's compareActors / compareDots (UTF-16 code units), the ones the
 * core sorts with, so every object the core builds encodes.
 *
 * Decoding is strict: anything that does not match exactly throws CorruptObjectError with a
 * reason. Encoding checks the same rules (InvalidObjectError), so a malformed object never
 * reaches the disk or the wire.
 */
import { Packr } from 'msgpackr';
import { compareActors, compareDots, COUNTER_MAX } from '../core/clock.ts';
import type { VectorEntry, VersionVector } from '../core/clock.ts';
import { compareStrings, isWellFormedText } from '../core/bytes.ts';
import { SUPERSEDED_WRITES_MAX, WRITE_ID_LENGTH_MAX, type Sibling, type StoredObject, type SupersededWrite } from '../core/object.ts';

export const OBJECT_FORMAT_VERSION = 1;

/** Bytes that do not decode to a valid StoredObject. */
export class CorruptObjectError extends Error {
  readonly code = 'CORRUPT_OBJECT';
  constructor(readonly reason: string, options?: { cause?: unknown }) {
    super(`corrupt stored object: ${reason}`, options);
    this.name = 'CorruptObjectError';
  }
}

/** An object handed to encodeObject that breaks the StoredObject invariants. */
export class InvalidObjectError extends Error {
  readonly code = 'INVALID_OBJECT';
  constructor(readonly reason: string) {
    super(`invalid stored object: ${reason}`);
    this.name = 'InvalidObjectError';
  }
}

const packr = new Packr({ useRecords: false, mapsAsObjects: false, moreTypes: false, int64AsType: 'number' });

export function encodeObject(obj: StoredObject): Uint8Array {
  const problem = objectProblem(obj);
  if (problem !== undefined) throw new InvalidObjectError(problem);
  const vector = obj.vector.map((e) => [e.actor, e.counter, e.timeMs]);
  const siblings = obj.siblings.map((s) =>
    s.writeId === undefined ? [s.value, s.contentType, s.deleted, s.dot.actor, s.dot.counter, s.timeMs] : [s.value, s.contentType, s.deleted, s.dot.actor, s.dot.counter, s.timeMs, s.writeId],
  );
  const superseded = obj.supersededWrites;
  const packed = packr.pack(superseded === undefined || superseded.length === 0 ? [vector, siblings] : [vector, siblings, superseded.map((e) => [e.writeId, e.timeMs])]);
  const bytes = new Uint8Array(packed.length + 1);
  bytes[0] = OBJECT_FORMAT_VERSION;
  bytes.set(packed, 1);
  return bytes;
}

export function decodeObject(bytes: Uint8Array): StoredObject {
  if (!(bytes instanceof Uint8Array)) throw new CorruptObjectError('not a byte array');
  if (bytes.length < 2) throw new CorruptObjectError(`too short (${bytes.length} bytes)`);
  if (bytes[0] !== OBJECT_FORMAT_VERSION) throw new CorruptObjectError(`unknown format version ${bytes[0]}`);
  let raw: unknown;
  try {
    raw = packr.unpack(bytes.subarray(1));
  } catch (error) {
    throw new CorruptObjectError(`msgpack: ${error instanceof Error ? error.message.slice(0, 80) : String(error)}`, {
      cause: error,
    });
  }
  const top = Array.isArray(raw) && raw.length === 3 ? raw : tuple(raw, 2, 'object');
  const obj: StoredObject =
    top.length === 2
      ? { vector: decodeVector(top[0]), siblings: decodeSiblings(top[1]) }
      : { vector: decodeVector(top[0]), siblings: decodeSiblings(top[1]), supersededWrites: decodeSuperseded(top[2]) };
  const problem = objectProblem(obj);
  if (problem !== undefined) throw new CorruptObjectError(problem);
  return obj;
}

/** The first broken invariant of `obj`, or undefined when it is well formed. */
export function objectProblem(obj: StoredObject): string | undefined {
  if (typeof obj !== 'object' || obj === null) return 'not an object';
  if (!Array.isArray(obj.vector)) return 'vector is not an array';
  if (!Array.isArray(obj.siblings)) return 'siblings is not an array';
  return vectorProblem(obj.vector) ?? siblingsProblem(obj.siblings) ?? supersededProblem(obj.supersededWrites);
}

function supersededProblem(list: readonly SupersededWrite[] | undefined): string | undefined {
  if (list === undefined) return undefined;
  if (!Array.isArray(list)) return 'supersededWrites is not an array';
  if (list.length === 0 || list.length > SUPERSEDED_WRITES_MAX) return `supersededWrites has ${list.length} entries, expected 1-${SUPERSEDED_WRITES_MAX}`;
  for (let i = 0; i < list.length; i++) {
    const entry = list[i] as SupersededWrite;
    const p = typeof entry !== 'object' || entry === null ? 'not an object' : entry.writeId === undefined ? 'writeId is missing' : (writeIdProblem(entry.writeId) ?? timeProblem(entry.timeMs));
    if (p !== undefined) return `supersededWrites[${i}]: ${p}`;
    if (i > 0 && compareStrings((list[i - 1] as SupersededWrite).writeId, entry.writeId) >= 0) return `supersededWrites[${i}]: write ids not strictly sorted`;
  }
  return undefined;
}

function vectorProblem(vector: VersionVector): string | undefined {
  for (let i = 0; i < vector.length; i++) {
    const e = vector[i] as VectorEntry;
    const p = actorProblem(e.actor) ?? counterProblem(e.counter) ?? timeProblem(e.timeMs);
    if (p !== undefined) return `vector[${i}]: ${p}`;
    if (i > 0 && compareActors((vector[i - 1] as VectorEntry).actor, e.actor) >= 0) {
      return `vector[${i}]: actors not strictly sorted`;
    }
  }
  return undefined;
}

function siblingsProblem(siblings: readonly Sibling[]): string | undefined {
  for (let i = 0; i < siblings.length; i++) {
    const s = siblings[i] as Sibling;
    const p = siblingProblem(s);
    if (p !== undefined) return `siblings[${i}]: ${p}`;
    if (i > 0 && compareDots((siblings[i - 1] as Sibling).dot, s.dot) >= 0) {
      return `siblings[${i}]: dots not strictly sorted`;
    }
  }
  return undefined;
}

function siblingProblem(s: Sibling): string | undefined {
  if (typeof s !== 'object' || s === null) return 'not an object';
  if (!(s.value instanceof Uint8Array)) return 'value is not bytes';
  const contentType = stringProblem(s.contentType, 'contentType');
  if (contentType !== undefined) return contentType;
  if (typeof s.deleted !== 'boolean') return 'deleted is not a boolean';
  if (typeof s.dot !== 'object' || s.dot === null) return 'dot is not an object';
  return actorProblem(s.dot.actor) ?? counterProblem(s.dot.counter) ?? timeProblem(s.timeMs) ?? writeIdProblem(s.writeId);
}

function writeIdProblem(writeId: unknown): string | undefined {
  if (writeId === undefined) return undefined;
  const problem = stringProblem(writeId, 'writeId');
  if (problem !== undefined) return problem;
  const length = (writeId as string).length;
  return length === 0 || length > WRITE_ID_LENGTH_MAX ? `writeId length ${length} is not 1-${WRITE_ID_LENGTH_MAX}` : undefined;
}

function stringProblem(value: unknown, what: string): string | undefined {
  if (typeof value !== 'string') return `${what} is not a string`;
  return isWellFormedText(value) ? undefined : `${what} is not well-formed Unicode`;
}

function actorProblem(actor: unknown): string | undefined {
  return stringProblem(actor, 'actor') ?? ((actor as string).length === 0 ? 'actor is empty' : undefined);
}

function counterProblem(counter: unknown): string | undefined {
  return Number.isSafeInteger(counter) && (counter as number) >= 0 && (counter as number) <= COUNTER_MAX ? undefined : `bad counter ${String(counter)}`;
}

function timeProblem(timeMs: unknown): string | undefined {
  return typeof timeMs === 'number' && Number.isFinite(timeMs) && timeMs >= 0 ? undefined : `bad timeMs ${String(timeMs)}`;
}

function tuple(raw: unknown, length: number, what: string): unknown[] {
  if (!Array.isArray(raw)) throw new CorruptObjectError(`${what} is not an array`);
  if (raw.length !== length) throw new CorruptObjectError(`${what} has ${raw.length} fields, expected ${length}`);
  return raw;
}

function list(raw: unknown, what: string): unknown[] {
  if (!Array.isArray(raw)) throw new CorruptObjectError(`${what} is not an array`);
  return raw;
}

function decodeVector(raw: unknown): VectorEntry[] {
  return list(raw, 'vector').map((item, i) => {
    const [actor, counter, timeMs] = tuple(item, 3, `vector[${i}]`);
    return { actor, counter, timeMs } as VectorEntry;
  });
}

function decodeSuperseded(raw: unknown): SupersededWrite[] {
  return list(raw, 'supersededWrites').map((item, i) => {
    const [writeId, timeMs] = tuple(item, 2, `supersededWrites[${i}]`);
    return { writeId, timeMs } as SupersededWrite;
  });
}

function decodeSiblings(raw: unknown): Sibling[] {
  return list(raw, 'siblings').map((item, i) => {
    const fields = Array.isArray(item) && item.length === 7 ? item : tuple(item, 6, `siblings[${i}]`);
    const [value, contentType, deleted, actor, counter, timeMs, writeId] = fields;
    if (!(value instanceof Uint8Array)) throw new CorruptObjectError(`siblings[${i}]: value is not bytes`);
    // A fresh, exact-size copy: never a view that pins the input (or msgpackr's buffers).
    const copy = new Uint8Array(value);
    if (fields.length === 6) return { value: copy, contentType, deleted, dot: { actor, counter }, timeMs } as Sibling;
    if (typeof writeId !== 'string') throw new CorruptObjectError(`siblings[${i}]: writeId is not a string`);
    return { value: copy, contentType, deleted, dot: { actor, counter }, timeMs, writeId } as Sibling;
  });
}
