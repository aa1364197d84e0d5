import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { decodeBase64Url, encodeBase64Url } from '../../src/core/base64url.ts';
import { CONTEXT_COUNTER_MAX, type VectorEntry, type VersionVector } from '../../src/core/clock.ts';
import { CONTEXT_CHARS_MAX, contextCoordinator, decodeContext, encodeContext } from '../../src/core/context.ts';
import { crc32Bytes } from '../../src/core/crc32.ts';
import { testSeed } from '../support/seed.ts';

const CLUSTER = 'shoal-test';

/** Sorted, distinct actors (any well-formed text) with positive safe-integer counters. */
const arbitraryVector: fc.Arbitrary<VersionVector> = fc
  .uniqueArray(
    fc.record({
      actor: fc.oneof(
        fc.string({ minLength: 1, maxLength: 20 }),
        fc.string({ minLength: 1, maxLength: 10, unit: 'grapheme' }),
        fc.string({ minLength: 1, maxLength: 10, unit: 'binary' }),
      ),
      counter: fc.oneof(fc.integer({ min: 1, max: 1000 }), fc.integer({ min: 1, max: CONTEXT_COUNTER_MAX })),
    }),
    { selector: (entry) => entry.actor, maxLength: 12 },
  )
  .map((entries) =>
    entries
      .map((entry): VectorEntry => ({ ...entry, timeMs: 0 }))
      .sort((a, b) => (a.actor < b.actor ? -1 : a.actor > b.actor ? 1 : 0)),
  );

const arbitraryCoordinator = fc.option(fc.string({ minLength: 1, maxLength: 30, unit: 'grapheme' }), { nil: undefined });

function contextBytes(text: string): Uint8Array {
  const bytes = decodeBase64Url(text);
  assert.ok(bytes !== undefined);
  return bytes;
}

/** Re-seals a modified body with a valid checksum, to reach the checks behind it. */
function sealed(body: readonly number[]): string {
  const bytes = Uint8Array.from(body);
  const out = new Uint8Array(bytes.length + 4);
  out.set(bytes);
  out.set(crc32Bytes(bytes), bytes.length);
  return encodeBase64Url(out);
}

function reasonOf(text: string, cluster = CLUSTER): string {
  const decoded = decodeContext(text, cluster);
  assert.ok(!decoded.ok, 'expected a rejection');
  return decoded.reason;
}

test('base64url matches node:buffer and rejects non-canonical text', () => {
  for (let length = 0; length < 40; length++) {
    const bytes = Uint8Array.from({ length }, (_, i) => (i * 97 + length * 13) & 0xff);
    const text = encodeBase64Url(bytes);
    assert.equal(text, Buffer.from(bytes).toString('base64url'));
    assert.deepEqual(decodeBase64Url(text), bytes);
  }
  assert.equal(decodeBase64Url('AA=='), undefined, 'padding');
  assert.equal(decodeBase64Url('A'), undefined, 'impossible length');
  assert.equal(decodeBase64Url('AB'), undefined, 'unused bits set');
  assert.equal(decodeBase64Url('a+b/'), undefined, 'standard alphabet');
  assert.equal(decodeBase64Url('ab c'), undefined);
  assert.equal(decodeBase64Url('ééé'), undefined);
  assert.deepEqual(decodeBase64Url(''), new Uint8Array(0));
});

test('the empty vector encodes to a valid context', () => {
  const text = encodeContext([], CLUSTER);
  assert.deepEqual(decodeContext(text, CLUSTER), { ok: true, vector: [] });
  assert.equal(contextBytes(text).length, 11);
});

test('a context names its vector and, optionally, a coordinator; decoded entries get timeMs 0', () => {
  const vector = [
    { actor: 'n1#1', counter: 3, timeMs: 123 },
    { actor: 'n2#7', counter: 300, timeMs: 456 },
  ];
  assert.deepEqual(decodeContext(encodeContext(vector, CLUSTER), CLUSTER), {
    ok: true,
    vector: [
      { actor: 'n1#1', counter: 3, timeMs: 0 },
      { actor: 'n2#7', counter: 300, timeMs: 0 },
    ],
  });
  const withCoordinator = decodeContext(encodeContext(vector, CLUSTER, { coordinator: 'n2' }), CLUSTER);
  assert.ok(withCoordinator.ok);
  assert.equal(withCoordinator.coordinator, 'n2');
});

test('contexts round-trip (random)', (t) => {
  const seed = testSeed(t, import.meta.url);
  fc.assert(
    fc.property(arbitraryVector, arbitraryCoordinator, fc.string({ unit: 'binary' }), (vector, coordinator, cluster) => {
      const text = encodeContext(vector, cluster, { coordinator });
      assert.match(text, /^[A-Za-z0-9_-]+$/);
      const decoded = decodeContext(text, cluster);
      assert.ok(decoded.ok, decoded.ok ? '' : decoded.reason);
      assert.deepEqual(decoded.vector, vector);
      assert.equal(decoded.coordinator, coordinator);
    }),
    { seed, numRuns: 500 },
  );
});

test('every truncation and every single-byte corruption is rejected (random)', (t) => {
  const seed = testSeed(t, import.meta.url);
  fc.assert(
    fc.property(arbitraryVector, arbitraryCoordinator, fc.integer({ min: 1, max: 255 }), (vector, coordinator, flip) => {
      const text = encodeContext(vector, CLUSTER, { coordinator });
      const bytes = contextBytes(text);
      for (let length = 0; length < bytes.length; length++) {
        assert.equal(decodeContext(encodeBase64Url(bytes.subarray(0, length)), CLUSTER).ok, false, `bytes cut to ${length}`);
      }
      for (let length = 0; length < text.length; length++) {
        assert.equal(decodeContext(text.slice(0, length), CLUSTER).ok, false, `text cut to ${length}`);
      }
      for (let index = 0; index < bytes.length; index++) {
        const corrupted = Uint8Array.from(bytes);
        corrupted[index] = (corrupted[index] as number) ^ flip;
        assert.equal(decodeContext(encodeBase64Url(corrupted), CLUSTER).ok, false, `byte ${index} ^ ${flip}`);
      }
      for (let index = 0; index < text.length; index++) {
        const replacement = text[index] === 'A' ? 'B' : 'A';
        const corrupted = text.slice(0, index) + replacement + text.slice(index + 1);
        assert.equal(decodeContext(corrupted, CLUSTER).ok, false, `char ${index}`);
      }
    }),
    { seed, numRuns: 100 },
  );
});

test('garbage never throws (random)', (t) => {
  const seed = testSeed(t, import.meta.url);
  fc.assert(
    fc.property(fc.oneof(fc.string({ unit: 'binary' }), fc.uint8Array().map((bytes) => encodeBase64Url(bytes))), (text) => {
      const decoded = decodeContext(text, CLUSTER);
      if (!decoded.ok) assert.ok(decoded.reason.length > 0);
    }),
    { seed, numRuns: 1000 },
  );
});

test('contexts are rejected with a clear reason', () => {
  const valid = contextBytes(encodeContext([{ actor: 'a', counter: 1, timeMs: 0 }], CLUSTER));
  const body = [...valid.subarray(0, valid.length - 4)];
  // body: version, 4-byte tag, flags, count=1, len=1, 'a', counter=1
  assert.equal(body.length, 10);
  assert.match(reasonOf(encodeContext([], 'other-cluster')), /another cluster/);
  assert.match(reasonOf('x'.repeat(CONTEXT_CHARS_MAX + 1)), /longer than 8192/);
  assert.match(reasonOf('not base64!'), /base64url/);
  assert.match(reasonOf(''), /empty/);
  assert.match(reasonOf(sealed([2, ...body.slice(1)])), /unknown context format version 2/);
  assert.match(reasonOf(encodeBase64Url(Uint8Array.from([1, 2, 3]))), /truncated/);
  const badChecksum = Uint8Array.from(valid);
  badChecksum[badChecksum.length - 1] = (badChecksum[badChecksum.length - 1] as number) ^ 1;
  assert.match(reasonOf(encodeBase64Url(badChecksum)), /checksum/);
  assert.match(reasonOf(sealed([...body.slice(0, 5), 0b10, ...body.slice(6)])), /unknown context flags/);
  assert.match(reasonOf(sealed([...body, 0])), /trailing bytes/);
  assert.match(reasonOf(sealed([...body.slice(0, 9), 0])), /counter must be positive/);
  assert.match(reasonOf(sealed([...body.slice(0, 9), 0x81, 0x00])), /minimally encoded/);
  assert.match(reasonOf(sealed([...body.slice(0, 9), 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f])), /2\^53/);
  assert.match(reasonOf(sealed([...body.slice(0, 7), 0, 0x61, 1])), /actor is empty|actor length/);
  assert.match(reasonOf(sealed([...body.slice(0, 7), 1, 0xff, 1])), /UTF-8/);
  assert.match(reasonOf(sealed([...body.slice(0, 6), 200, 1, 0x61, 1])), /truncated/);
  // Two entries out of order, and a duplicate.
  const twoEntries = (first: number, second: number): string =>
    sealed([...body.slice(0, 6), 2, 1, first, 1, 1, second, 1]);
  assert.ok(decodeContext(twoEntries(0x61, 0x62), CLUSTER).ok);
  assert.match(reasonOf(twoEntries(0x62, 0x61)), /sorted/);
  assert.match(reasonOf(twoEntries(0x61, 0x61)), /distinct/);
});

test('encodeContext rejects invalid vectors', () => {
  assert.throws(() => encodeContext([{ actor: 'b', counter: 1, timeMs: 0 }, { actor: 'a', counter: 1, timeMs: 0 }], CLUSTER), RangeError);
  assert.throws(() => encodeContext([{ actor: 'a', counter: 0, timeMs: 0 }], CLUSTER), RangeError);
  assert.throws(() => encodeContext([{ actor: 'a', counter: 1.5, timeMs: 0 }], CLUSTER), RangeError);
  assert.throws(() => encodeContext([{ actor: '', counter: 1, timeMs: 0 }], CLUSTER), RangeError);
  assert.throws(() => encodeContext([{ actor: '\ud800', counter: 1, timeMs: 0 }], CLUSTER), RangeError);
  assert.throws(() => encodeContext([], CLUSTER, { coordinator: '' }), RangeError);
});

test('a vector too large for a context loses its oldest entries, and the context stays valid', () => {
  const vector = Array.from({ length: 400 }, (_, i) => ({
    actor: `actor-${String(i).padStart(3, '0')}-${'x'.repeat(20)}`,
    counter: i + 1,
    timeMs: 1000 - i,
  }));
  const text = encodeContext(vector, CLUSTER);
  assert.ok(text.length <= CONTEXT_CHARS_MAX);
  const decoded = decodeContext(text, CLUSTER);
  assert.ok(decoded.ok);
  assert.ok(decoded.vector.length > 100 && decoded.vector.length < 400);
  // The newest entries (highest timeMs: the lowest indexes) are the ones kept.
  assert.deepEqual(
    decoded.vector.map((entry) => entry.actor),
    vector.slice(0, decoded.vector.length).map((entry) => entry.actor),
  );
});

test('contextCoordinator reads the coordinator of any cluster, and nothing from an invalid text', () => {
  const vector: VersionVector = [{ actor: 'a.1', counter: 2, timeMs: 0 }];
  assert.equal(contextCoordinator(encodeContext(vector, 'other-cluster', { coordinator: 'n2' })), 'n2');
  assert.equal(contextCoordinator(encodeContext(vector, 'shoal')), undefined);
  const valid = encodeContext(vector, 'shoal', { coordinator: 'n2' });
  assert.equal(contextCoordinator(`${valid.slice(0, -2)}AA`), undefined, 'a bad checksum');
  assert.equal(contextCoordinator('not a context'), undefined);
  assert.equal(contextCoordinator(''), undefined);
});
