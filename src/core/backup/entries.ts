/**
 * Keys with their encoded objects as one byte string: the body of a backup page, of a
 * restore request, and of a backup file's block (before compression).
 *
 *   u32 count, then per entry: u32 keyLength, key, u32 objectLength, object   (big-endian)
 *
 * Decoding is strict (a count that does not match, a length past the end, bytes left over,
 * an empty or overlong key, more entries than allowed): it answers with the problem rather
 * than with a partial list. Objects stay opaque here; whoever stores one decodes it with
 * the object codec's own checks.
 */

/** A key and the encoding of its object. */
export interface KeyedBytes {
  readonly key: Uint8Array;
  readonly bytes: Uint8Array;
}

export interface EntriesLimits {
  readonly objectsMax: number;
  readonly keyBytesMax: number;
}

export type DecodedEntries = { readonly ok: true; readonly entries: KeyedBytes[] } | { readonly ok: false; readonly reason: string };

const U32_BYTES = 4;

/** The bytes an entry takes in the encoding. */
export function encodedEntryBytes(entry: KeyedBytes): number {
  return 2 * U32_BYTES + entry.key.length + entry.bytes.length;
}

export function encodeEntries(entries: readonly KeyedBytes[]): Uint8Array {
  let length = U32_BYTES;
  for (const entry of entries) length += encodedEntryBytes(entry);
  const out = new Uint8Array(length);
  const view = new DataView(out.buffer);
  view.setUint32(0, entries.length);
  let offset = U32_BYTES;
  for (const { key, bytes } of entries) {
    view.setUint32(offset, key.length);
    out.set(key, offset + U32_BYTES);
    offset += U32_BYTES + key.length;
    view.setUint32(offset, bytes.length);
    out.set(bytes, offset + U32_BYTES);
    offset += U32_BYTES + bytes.length;
  }
  return out;
}

/** The entries (views into `data`, not copies), or what is wrong with them. */
export function decodeEntries(data: Uint8Array, limits: EntriesLimits): DecodedEntries {
  if (data.length < U32_BYTES) return { ok: false, reason: `${data.length} bytes: too short for the entry count` };
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const count = view.getUint32(0);
  if (count > limits.objectsMax) return { ok: false, reason: `${count} entries, more than ${limits.objectsMax}` };
  const entries: KeyedBytes[] = [];
  let offset = U32_BYTES;
  for (let i = 0; i < count; i++) {
    const key = field(data, view, offset);
    if (key === undefined) return { ok: false, reason: `entry ${i}: the key runs past the end` };
    if (key.length === 0 || key.length > limits.keyBytesMax) return { ok: false, reason: `entry ${i}: key of ${key.length} bytes (1-${limits.keyBytesMax})` };
    offset += U32_BYTES + key.length;
    const bytes = field(data, view, offset);
    if (bytes === undefined) return { ok: false, reason: `entry ${i}: the object runs past the end` };
    offset += U32_BYTES + bytes.length;
    entries.push({ key, bytes });
  }
  if (offset !== data.length) return { ok: false, reason: `${data.length - offset} bytes after the last of ${count} entries` };
  return { ok: true, entries };
}

/** The length-prefixed field at `offset`, or undefined when it does not fit. */
function field(data: Uint8Array, view: DataView, offset: number): Uint8Array | undefined {
  if (offset + U32_BYTES > data.length) return undefined;
  const length = view.getUint32(offset);
  const start = offset + U32_BYTES;
  if (length > data.length - start) return undefined;
  return data.subarray(start, start + length);
}
