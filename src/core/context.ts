/**
 * The opaque client context (paper 4.4 "context"): the version vector a client read,
 * carried back on its next write. Compact, versioned binary in base64url:
 *
 *   version (1 byte, = 1)
 *   cluster tag (4 bytes: MD5(UTF-8 cluster name), first 4 bytes)
 *   flags (1 byte; bit 0: a coordinator node id follows; other bits must be 0)
 *   [coordinator: length varint, UTF-8 bytes]   when flag bit 0 is set
 *   entry count varint
 *   per entry, sorted by actor: actor length varint, UTF-8 bytes, counter varint
 *   checksum (4 bytes: CRC-32 of everything before, big-endian)
 *
 * Varints are unsigned LEB128, minimal, at most 2^53 - 1. The coordinator field is for the
 * "preferred coordinator" of a later issue (DESIGN section 7). Decoded entries get timeMs 0.
 * Decoding validates everything and reports a reason; it never throws.
 */
import { decodeBase64Url, encodeBase64Url } from './base64url.ts';
import { bytesEqual, concatBytes, decodeUtf8, encodeUtf8, isWellFormedText } from './bytes.ts';
import { actorBytes, compareActors, CONTEXT_COUNTER_MAX, type VectorEntry, type VersionVector } from './clock.ts';
import { crc32Bytes } from './crc32.ts';
import { md5 } from './md5.ts';

export const CONTEXT_FORMAT_VERSION = 1;
/** Longest context text accepted (and produced). */
export const CONTEXT_CHARS_MAX = 8192;

const CLUSTER_TAG_BYTES = 4;
const CHECKSUM_BYTES = 4;
const FLAG_COORDINATOR = 0b1;
const KNOWN_FLAGS = FLAG_COORDINATOR;
const VARINT_BYTES_MAX = 8;
/** version + tag + flags + entry count + checksum. */
const CONTEXT_BYTES_MIN = 1 + CLUSTER_TAG_BYTES + 1 + 1 + CHECKSUM_BYTES;

export interface ContextOptions {
  /** The node a client should send its next write to (a later issue fills this in). */
  readonly coordinator?: string;
}

export type DecodedContext =
  | { readonly ok: true; readonly vector: VersionVector; readonly coordinator?: string }
  | { readonly ok: false; readonly reason: string };

/**
 * The context text for `vector`. Throws RangeError on an invalid vector (unsorted, empty
 * or malformed actor ids, counters not positive safe integers). If the text would exceed
 * CONTEXT_CHARS_MAX, the entries with the oldest timeMs are left out until it fits: a
 * context that covers less can only make a write keep more siblings, never lose one.
 */
export function encodeContext(vector: VersionVector, clusterName: string, options: ContextOptions = {}): string {
  validateVectorForEncoding(vector);
  const header = encodeHeader(clusterName, options.coordinator);
  const entries = vector.map((entry) => encodeEntry(entry));
  const kept = entriesThatFit(vector, entries, header.length);
  const body = concatBytes([header, encodeVarint(kept.length), ...kept]);
  return encodeBase64Url(concatBytes([body, checksumOf(body)]));
}

/** The vector (and coordinator, when present) of a context text, or why it is invalid. */
export function decodeContext(text: string, clusterName: string): DecodedContext {
  try {
    return decodeValidated(text, clusterName);
  } catch (error) {
    if (error instanceof ContextFormatError) return { ok: false, reason: error.message };
    throw error;
  }
}

/**
 * The coordinator a context names (undefined: none, or the text is not a valid context),
 * checked in every way but its cluster tag: for a client that does not know the cluster's
 * name and only routes by it (the node checks the whole context).
 */
export function contextCoordinator(text: string): string | undefined {
  try {
    const decoded = decodeValidated(text, undefined);
    return decoded.ok ? decoded.coordinator : undefined;
  } catch (error) {
    if (error instanceof ContextFormatError) return undefined;
    throw error;
  }
}

class ContextFormatError extends Error {
  override readonly name = 'ContextFormatError';
}

function fail(reason: string): never {
  throw new ContextFormatError(reason);
}

/** `clusterName` undefined: the cluster tag is not checked (contextCoordinator). */
function decodeValidated(text: string, clusterName: string | undefined): DecodedContext {
  if (typeof text !== 'string') fail('context must be a string');
  if (text.length > CONTEXT_CHARS_MAX) fail(`context is longer than ${CONTEXT_CHARS_MAX} characters`);
  const bytes = decodeBase64Url(text);
  if (bytes === undefined) fail('context is not valid unpadded base64url');
  if (bytes.length === 0) fail('context is empty');
  if (bytes[0] !== CONTEXT_FORMAT_VERSION) fail(`unknown context format version ${String(bytes[0])}`);
  if (bytes.length < CONTEXT_BYTES_MIN) fail('context is truncated');
  const body = bytes.subarray(0, bytes.length - CHECKSUM_BYTES);
  if (!bytesEqual(checksumOf(body), bytes.subarray(body.length))) fail('context checksum mismatch (corrupted or truncated)');
  const reader = new ByteReader(body, 1);
  const tag = reader.take(CLUSTER_TAG_BYTES);
  if (clusterName !== undefined && !bytesEqual(tag, clusterTag(clusterName))) fail('context belongs to another cluster');
  const flags = reader.take(1)[0] as number;
  if ((flags & ~KNOWN_FLAGS) !== 0) fail(`unknown context flags 0x${flags.toString(16)}`);
  const coordinator = (flags & FLAG_COORDINATOR) !== 0 ? reader.text('coordinator') : undefined;
  const vector = readEntries(reader);
  if (!reader.atEnd()) fail('context has trailing bytes');
  return coordinator === undefined ? { ok: true, vector } : { ok: true, vector, coordinator };
}

function readEntries(reader: ByteReader): VersionVector {
  const count = reader.varint('entry count');
  // Every entry takes at least 3 bytes; checking first bounds the loop by the input size.
  if (count * 3 > reader.remaining()) fail('context is truncated (entry count exceeds its length)');
  const vector: VectorEntry[] = [];
  for (let i = 0; i < count; i++) {
    const actor = reader.text('actor');
    const previous = vector[vector.length - 1];
    if (previous !== undefined && compareActors(previous.actor, actor) >= 0) {
      fail('context actors are not sorted and distinct');
    }
    const counter = reader.varint('counter');
    if (counter < 1) fail('context counter must be positive');
    if (counter > CONTEXT_COUNTER_MAX) fail(`context counter ${counter} exceeds 2^48`);
    vector.push({ actor, counter, timeMs: 0 });
  }
  return vector;
}

class ByteReader {
  constructor(
    private readonly bytes: Uint8Array,
    private offset: number,
  ) {}

  remaining(): number {
    return this.bytes.length - this.offset;
  }

  atEnd(): boolean {
    return this.offset === this.bytes.length;
  }

  take(length: number): Uint8Array {
    if (length > this.remaining()) fail('context is malformed (a field runs past its end)');
    const taken = this.bytes.subarray(this.offset, this.offset + length);
    this.offset += length;
    return taken;
  }

  /** A minimal unsigned LEB128 varint, at most 2^53 - 1. */
  varint(field: string): number {
    let value = 0;
    for (let index = 0; index < VARINT_BYTES_MAX; index++) {
      const byte = this.take(1)[0] as number;
      value += (byte & 0x7f) * 2 ** (7 * index);
      if ((byte & 0x80) === 0) {
        if (byte === 0 && index > 0) fail(`context ${field} is not minimally encoded`);
        if (value > Number.MAX_SAFE_INTEGER) fail(`context ${field} exceeds 2^53 - 1`);
        return value;
      }
    }
    fail(`context ${field} exceeds 2^53 - 1`);
  }

  /** A non-empty UTF-8 string prefixed by its byte length. */
  text(field: string): string {
    const length = this.varint(`${field} length`);
    if (length === 0) fail(`context ${field} is empty`);
    const text = decodeUtf8(this.take(length));
    if (text === undefined) fail(`context ${field} is not valid UTF-8`);
    return text;
  }
}

function encodeHeader(clusterName: string, coordinator: string | undefined): Uint8Array {
  const prefix = [Uint8Array.of(CONTEXT_FORMAT_VERSION), clusterTag(clusterName)];
  if (coordinator === undefined) return concatBytes([...prefix, Uint8Array.of(0)]);
  validateId(coordinator, 'coordinator');
  return concatBytes([...prefix, Uint8Array.of(FLAG_COORDINATOR), encodeText(coordinator)]);
}

function encodeEntry(entry: VectorEntry): Uint8Array {
  const actor = actorBytes(entry.actor);
  const out = new Uint8Array(varintBytes(actor.length) + actor.length + varintBytes(entry.counter));
  let offset = writeVarint(out, 0, actor.length);
  out.set(actor, offset);
  offset += actor.length;
  writeVarint(out, offset, entry.counter);
  return out;
}

function varintBytes(value: number): number {
  let bytes = 1;
  for (let rest = value; rest >= 0x80; rest = Math.floor(rest / 0x80)) bytes++;
  return bytes;
}

/** Writes `value` as a minimal unsigned LEB128 varint at `offset`; returns the offset after it. */
function writeVarint(out: Uint8Array, offset: number, value: number): number {
  let at = offset;
  let rest = value;
  while (rest >= 0x80) {
    out[at++] = (rest % 0x80) | 0x80;
    rest = Math.floor(rest / 0x80);
  }
  out[at++] = rest;
  return at;
}

/**
 * The encoded entries, in actor order, without the oldest ones (by timeMs, then actor)
 * when all of them would make the text longer than CONTEXT_CHARS_MAX.
 */
function entriesThatFit(vector: VersionVector, entries: readonly Uint8Array[], headerBytes: number): Uint8Array[] {
  const bytesMax = Math.floor((CONTEXT_CHARS_MAX * 6) / 8);
  const sizeOf = (count: number, entryBytes: number): number =>
    headerBytes + encodeVarint(count).length + entryBytes + CHECKSUM_BYTES;
  let entryBytes = entries.reduce((sum, entry) => sum + entry.length, 0);
  let count = entries.length;
  if (sizeOf(0, 0) > bytesMax) throw new RangeError('context header alone exceeds CONTEXT_CHARS_MAX');
  const dropOrder = vector
    .map((entry, index) => ({ entry, index }))
    .sort((a, b) => a.entry.timeMs - b.entry.timeMs || compareActors(a.entry.actor, b.entry.actor));
  const dropped = new Set<number>();
  for (const { index } of dropOrder) {
    if (sizeOf(count, entryBytes) <= bytesMax) break;
    dropped.add(index);
    entryBytes -= (entries[index] as Uint8Array).length;
    count--;
  }
  return entries.filter((_, index) => !dropped.has(index));
}

function validateVectorForEncoding(vector: VersionVector): void {
  vector.forEach((entry, index) => {
    validateId(entry.actor, 'actor');
    if (!Number.isSafeInteger(entry.counter) || entry.counter < 1) {
      throw new RangeError(`counter of ${JSON.stringify(entry.actor)} must be a positive safe integer`);
    }
    const previous = vector[index - 1];
    if (previous !== undefined && compareActors(previous.actor, entry.actor) >= 0) {
      throw new RangeError('vector entries must be sorted by actor and distinct');
    }
  });
}

function validateId(id: string, field: string): void {
  if (typeof id !== 'string' || id === '' || !isWellFormedText(id)) {
    throw new RangeError(`${field} must be a non-empty, well-formed string, got ${JSON.stringify(id)}`);
  }
}

function encodeText(text: string): Uint8Array {
  const bytes = encodeUtf8(text);
  return concatBytes([encodeVarint(bytes.length), bytes]);
}

function encodeVarint(value: number): Uint8Array {
  const out = new Uint8Array(varintBytes(value));
  writeVarint(out, 0, value);
  return out;
}

/** The last cluster's tag, kept: a process serves one cluster, and an MD5 per context adds up. */
let taggedName: string | undefined;
let lastTag: Uint8Array = new Uint8Array(CLUSTER_TAG_BYTES);

function clusterTag(clusterName: string): Uint8Array {
  if (clusterName !== taggedName) {
    lastTag = md5(encodeUtf8(clusterName)).subarray(0, CLUSTER_TAG_BYTES);
    taggedName = clusterName;
  }
  return lastTag;
}

function checksumOf(body: Uint8Array): Uint8Array {
  return crc32Bytes(body);
}
