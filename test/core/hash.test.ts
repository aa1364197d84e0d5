import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import {
  PARTITION_COUNT_DEFAULT,
  keyBytes,
  partitionOfKey,
  ringPosition,
  validatePartitionCount,
} from '../../src/core/hash.ts';
import { testSeed } from '../support/seed.ts';

const POWERS_OF_TWO = Array.from({ length: 17 }, (_, exponent) => 2 ** exponent);

test('validatePartitionCount accepts exactly the powers of two in [1, 65536]', () => {
  for (const q of POWERS_OF_TWO) assert.doesNotThrow(() => validatePartitionCount(q));
  for (const q of [0, -1, 3, 6, 100, 2 ** 17, 2 ** 20, 1.5, Number.NaN, Infinity, 64.0000001]) {
    assert.throws(() => validatePartitionCount(q), RangeError, String(q));
  }
  assert.equal(PARTITION_COUNT_DEFAULT, 64);
});

test('ringPosition is the MD5 as a 128-bit big-endian integer', () => {
  const key = keyBytes('hello');
  assert.equal(ringPosition(key), BigInt('0x5d41402abc4b2a76b9719d911017c592'));
});

test('keyBytes encodes text keys as UTF-8', () => {
  assert.deepEqual(keyBytes('é€'), Uint8Array.from([0xc3, 0xa9, 0xe2, 0x82, 0xac]));
});

test('a key falls in the partition whose equal range of the ring holds its position', (t) => {
  const seed = testSeed(t, import.meta.url);
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 64 }), fc.constantFrom(...POWERS_OF_TWO), (key, q) => {
      const position = BigInt('0x' + createHash('md5').update(key).digest('hex'));
      assert.equal(ringPosition(key), position);
      const rangeSize = 2n ** 128n / BigInt(q);
      assert.equal(BigInt(partitionOfKey(key, q)), position / rangeSize);
    }),
    { seed, numRuns: 1000 },
  );
});

test('partitionOfKey rejects a partition count that is not a power of two', () => {
  assert.throws(() => partitionOfKey(keyBytes('k'), 12), RangeError);
});
