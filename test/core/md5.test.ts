import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { md5 } from '../../src/core/md5.ts';
import { testSeed } from '../support/seed.ts';

function nodeMd5Hex(data: Uint8Array): string {
  return createHash('md5').update(data).digest('hex');
}

function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, '0')).join('');
}

test('md5 matches the RFC 1321 test suite', () => {
  const suite: Record<string, string> = {
    '': 'd41d8cd98f00b204e9800998ecf8427e',
    a: '0cc175b9c0f1b6a831c399e269772661',
    abc: '900150983cd24fb0d6963f7d28e17f72',
    'message digest': 'f96b697d7cb7938d525a2f31aaf161d0',
    abcdefghijklmnopqrstuvwxyz: 'c3fcd3d76192e4007dfb496cca67e13b',
    ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789: 'd174ab98d277d9f5a5611c2c9f419d9f',
    '12345678901234567890123456789012345678901234567890123456789012345678901234567890':
      '57edf4a22be3c955ac49da2e2107b67a',
  };
  for (const [text, digest] of Object.entries(suite)) {
    assert.equal(hex(md5(new TextEncoder().encode(text))), digest, JSON.stringify(text));
  }
});

test('md5 matches node:crypto at every length around the padding boundaries', () => {
  for (let length = 0; length <= 200; length++) {
    const data = Uint8Array.from({ length }, (_, i) => (i * 131 + length) & 0xff);
    assert.equal(hex(md5(data)), nodeMd5Hex(data), `length ${length}`);
  }
});

test('md5 matches node:crypto on random inputs', (t) => {
  const seed = testSeed(t, import.meta.url);
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 2000 }), (data) => {
      const digest = md5(data);
      assert.equal(digest.length, 16);
      assert.equal(hex(digest), nodeMd5Hex(data));
    }),
    { seed, numRuns: 500 },
  );
});

test('md5 does not modify its input', () => {
  const data = Uint8Array.from([1, 2, 3, 4, 5]);
  md5(data);
  assert.deepEqual(data, Uint8Array.from([1, 2, 3, 4, 5]));
});
