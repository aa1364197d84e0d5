/**
 * Key helpers shared by the engines and the object buffer: argument checks and a
 * string form of (partition, key) whose code-unit order is the bytes' order.
 */
import { StorageError } from '../ports/storage.ts';

/** Partitions are stored as a 2-byte big-endian prefix. */
export const PARTITION_MAX = 0xffff;

/**
 * The longest key an engine accepts: LMDB's default maximum key size (1978 bytes with
 * 4 KiB pages) less the 2-byte partition prefix. Every engine enforces the same limit so
 * the simulator rejects what production would.
 */
export const KEY_BYTES_MAX = 1976;

export function checkPartition(partition: number): void {
  if (!Number.isInteger(partition) || partition < 0 || partition > PARTITION_MAX) {
    throw new StorageError(`partition must be an integer in [0, ${PARTITION_MAX}], got ${partition}`);
  }
}

export function checkKey(key: Uint8Array): void {
  if (!(key instanceof Uint8Array)) throw new StorageError('key must be a Uint8Array');
  if (key.length > KEY_BYTES_MAX) throw new StorageError(`key is ${key.length} bytes, the limit is ${KEY_BYTES_MAX}`);
}

export function checkLimit(limit: number): void {
  if (!Number.isSafeInteger(limit) || limit < 0) throw new StorageError(`limit must be a non-negative integer, got ${limit}`);
}

/** One char per byte (latin1), so string order is byte-wise lexicographic order. */
export function keyString(key: Uint8Array): string {
  return Buffer.from(key.buffer, key.byteOffset, key.byteLength).toString('latin1');
}

/** The key of (partition, key) in a Map: 2 chars of partition, then the key's chars. */
export function partitionKeyString(partition: number, key: Uint8Array): string {
  return String.fromCharCode(partition >> 8, partition & 0xff) + keyString(key);
}

/** A fresh Uint8Array (not a Buffer, not a view) with the same bytes. */
export function copyBytes(bytes: Uint8Array): Uint8Array {
  return new Uint8Array(bytes);
}

/** Uint8Array view of a Buffer without copying, so callers see plain Uint8Arrays. */
export function asUint8Array(bytes: Uint8Array): Uint8Array {
  return Object.getPrototypeOf(bytes) === Uint8Array.prototype
    ? bytes
    : new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
