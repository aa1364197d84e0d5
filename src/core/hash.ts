/**
 * Keys to ring positions to partitions (paper 4.2, 6.2 strategy 3): the MD5 ring of
 * 2^128 positions is cut into Q equal ranges, Q a power of two, so a key's partition is
 * the top log2(Q) bits of MD5(key).
 */
import { encodeUtf8 } from './bytes.ts';
import { md5 } from './md5.ts';

export const PARTITION_COUNT_DEFAULT = 64;
export const PARTITION_COUNT_MAX = 65536;

/** Throws RangeError unless `partitionCount` is a power of two in [1, 65536]. */
export function validatePartitionCount(partitionCount: number): void {
  const isPowerOfTwo =
    Number.isInteger(partitionCount) && partitionCount >= 1 && (partitionCount & (partitionCount - 1)) === 0;
  if (!isPowerOfTwo || partitionCount > PARTITION_COUNT_MAX) {
    throw new RangeError(
      `partition count must be a power of two in [1, ${PARTITION_COUNT_MAX}], got ${String(partitionCount)}`,
    );
  }
}

/** The key's bytes for a text key (UTF-8); the one place text keys become bytes. */
export function keyBytes(text: string): Uint8Array {
  return encodeUtf8(text);
}

/** The key's position on the ring: MD5(key) as a 128-bit big-endian integer. */
export function ringPosition(key: Uint8Array): bigint {
  let position = 0n;
  for (const byte of md5(key)) position = (position << 8n) | BigInt(byte);
  return position;
}

/** The partition holding `key`: the top log2(partitionCount) bits of MD5(key). */
export function partitionOfKey(key: Uint8Array, partitionCount: number): number {
  validatePartitionCount(partitionCount);
  const digest = md5(key);
  // Q <= 2^16, so the top 32 bits decide the partition.
  const top32 =
    (digest[0] as number) * 2 ** 24 +
    (digest[1] as number) * 2 ** 16 +
    (digest[2] as number) * 2 ** 8 +
    (digest[3] as number);
  return Math.floor(top32 / (2 ** 32 / partitionCount));
}
