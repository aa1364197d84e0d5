import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { Packr } from 'msgpackr';
import type { VectorEntry } from '../../src/core/clock.ts';
import { compareActors } from '../../src/core/clock.ts';
import type { Sibling, StoredObject } from '../../src/core/object.ts';
import {
  CorruptObjectError,
  InvalidObjectError,
  OBJECT_FORMAT_VERSION,
  decodeObject,
  encodeObject,
} from '../../src/storage/objectCodec.ts';
import { testSeed } from '../support/seed.ts';
import { storedObjectArb } from './objectArbitraries.ts';

const packr = new Packr({ useRecords: false, mapsAsObjects: false });
const text = (s: string): Uint8Array => new TextEncoder().encode(s);

/** The bytes decodeObject sees for a hand-built body. */
function framed(body: unknown, version = OBJECT_FORMAT_VERSION): Uint8Array {
  const packed = packr.pack(body);
  const out = new Uint8Array(packed.length + 1);
  out[0] = version;
  out.set(packed, 1);
  return out;
}

const sibling = (actor: string, counter: number, value = 'v'): unknown[] => [text(value), 'text/plain', false, actor, counter, 1000];
const entry = (actor: string, counter: number): unknown[] => [actor, counter, 1000];

function rejects(bytes: Uint8Array, reason: RegExp): void {
  assert.throws(
    () => decodeObject(bytes),
    (error: unknown) => error instanceof CorruptObjectError && reason.test(error.reason),
  );
}

const sample: StoredObject = {
  vector: [
    { actor: 'a.1', counter: 2, timeMs: 1_733_000_000_123 },
    { actor: 'b.1', counter: 1, timeMs: 1_733_000_000_456 },
  ],
  siblings: [
    { value: text('hello'), contentType: 'text/plain', deleted: false, dot: { actor: 'a.1', counter: 2 }, timeMs: 1_733_000_000_123 },
    { value: new Uint8Array(0), contentType: '', deleted: true, dot: { actor: 'b.1', counter: 1 }, timeMs: 1_733_000_000_456 },
  ],
};

describe('object codec', () => {
  it('round-trips an object with a tombstone and an empty value, into plain Uint8Arrays', () => {
    const bytes = encodeObject(sample);
    assert.equal(bytes[0], OBJECT_FORMAT_VERSION);
    const decoded = decodeObject(bytes);
    assert.deepEqual(decoded, sample);
    for (const s of decoded.siblings) assert.equal(Object.getPrototypeOf(s.value), Uint8Array.prototype);
  });

  it('encodes compactly: arrays, no field names', () => {
    const bytes = encodeObject(sample);
    const asText = Buffer.from(bytes).toString('latin1');
    for (const name of ['vector', 'siblings', 'contentType', 'deleted', 'actor', 'counter', 'timeMs']) {
      assert.ok(!asText.includes(name), `field name ${name} must not appear in the encoding`);
    }
    assert.ok(bytes.length <= 90, `sample encodes in ${bytes.length} bytes`);
  });

  it('decoded values do not share memory with the input bytes', () => {
    const bytes = encodeObject(sample);
    const decoded = decodeObject(bytes);
    bytes.fill(0);
    assert.deepEqual(decoded.siblings[0]?.value, text('hello'));
  });

  it('round-trips every valid object, byte-identically on re-encode (property)', (t) => {
    const seed = testSeed(t, import.meta.url);
    fc.assert(
      fc.property(storedObjectArb, (obj) => {
        const bytes = encodeObject(obj);
        const decoded = decodeObject(bytes);
        assert.deepEqual(decoded, obj);
        assert.deepEqual(encodeObject(decoded), bytes);
      }),
      { seed, numRuns: 300 },
    );
  });

  it('decodes arbitrary or damaged bytes only to valid objects or CorruptObjectError (property)', (t) => {
    const seed = testSeed(t, import.meta.url);
    const damaged = fc
      .tuple(storedObjectArb, fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }))
      .map(([obj, edits]) => {
        const bytes = encodeObject(obj);
        for (const [at, value] of edits) bytes[at % bytes.length] = value;
        return bytes;
      });
    const truncated = storedObjectArb.chain((obj) => {
      const bytes = encodeObject(obj);
      return fc.nat({ max: bytes.length - 1 }).map((n) => bytes.subarray(0, n));
    });
    const random = fc.uint8Array({ maxLength: 64 }).map((b) => (b.length > 0 ? ((b[0] = OBJECT_FORMAT_VERSION), b) : b));
    fc.assert(
      fc.property(fc.oneof(damaged, truncated, random), (bytes) => {
        let decoded: StoredObject;
        try {
          decoded = decodeObject(bytes);
        } catch (error) {
          assert.ok(error instanceof CorruptObjectError, `unexpected ${String(error)}`);
          return;
        }
        assert.deepEqual(decodeObject(encodeObject(decoded)), decoded);
      }),
      { seed, numRuns: 1000 },
    );
  });

  it('rejects framing errors with a reason', () => {
    rejects(new Uint8Array(0), /too short/);
    rejects(new Uint8Array([OBJECT_FORMAT_VERSION]), /too short/);
    rejects(framed([[], []], 0), /format version 0/);
    rejects(framed([[], []], 2), /format version 2/);
    const good = encodeObject(sample);
    rejects(good.subarray(0, good.length - 3), /msgpack/);
    const trailing = new Uint8Array(good.length + 1);
    trailing.set(good);
    rejects(trailing, /msgpack/);
  });

  it('rejects wrong shapes and types with a reason', () => {
    rejects(framed(new Map([['vector', []]])), /object is not an array/);
    rejects(framed({ vector: [], siblings: [] }), /object is not an array/);
    rejects(framed([[], [], [], []]), /object has 4 fields/);
    rejects(framed([[], [], []]), /supersededWrites has 0 entries/);
    rejects(framed([[], [], [['w1', 5], ['w0', 5]]]), /supersededWrites\[1\]: write ids not strictly sorted/);
    rejects(framed([[], [], [['w1']]]), /supersededWrites\[0\] has 1 fields/);
    rejects(framed([[], [], [[7, 5]]]), /supersededWrites\[0\]: writeId is not a string/);
    rejects(framed([{}, []]), /vector is not an array/);
    rejects(framed([[], 'x']), /siblings is not an array/);
    rejects(framed([[['a', 1]], []]), /vector\[0\] has 2 fields/);
    rejects(framed([[[7, 1, 1000]], []]), /vector\[0\]: actor is not a string/);
    rejects(framed([[['', 1, 1000]], []]), /vector\[0\]: actor is empty/);
    rejects(framed([[], [[text('v'), 'text/plain', false, 'a', 1]]]), /siblings\[0\] has 5 fields/);
    rejects(framed([[], [['v', 'text/plain', false, 'a', 1, 1000]]]), /siblings\[0\]: value is not bytes/);
    rejects(framed([[], [[text('v'), 5, false, 'a', 1, 1000]]]), /siblings\[0\]: contentType is not a string/);
    rejects(framed([[], [[text('v'), 'text/plain', 0, 'a', 1, 1000]]]), /siblings\[0\]: deleted is not a boolean/);
    rejects(framed([[], [[text('v'), 'text/plain', false, null, 1, 1000]]]), /siblings\[0\]: actor is not a string/);
  });

  it('rejects bad counters and times', () => {
    rejects(framed([[entry('a', -1)], []]), /vector\[0\]: bad counter -1/);
    rejects(framed([[entry('a', 1.5)], []]), /bad counter 1.5/);
    rejects(framed([[entry('a', 2 ** 53)], []]), /bad counter/);
    rejects(framed([[entry('a', 2 ** 52 + 1)], []]), /bad counter 4503599627370497/); // COUNTER_MAX: room for the writes after it
    rejects(framed([[['a', 1, -5]], []]), /bad timeMs -5/);
    rejects(framed([[['a', 1, Number.NaN]], []]), /bad timeMs NaN/);
    rejects(framed([[['a', 1, '1000']], []]), /bad timeMs/);
    rejects(framed([[], [sibling('a', -3)]]), /siblings\[0\]: bad counter -3/);
  });

  it('rejects unsorted or duplicated vector entries and sibling dots', () => {
    rejects(framed([[entry('b', 1), entry('a', 1)], []]), /vector\[1\]: actors not strictly sorted/);
    rejects(framed([[entry('a', 1), entry('a', 2)], []]), /vector\[1\]: actors not strictly sorted/);
    rejects(framed([[], [sibling('b', 1), sibling('a', 1)]]), /siblings\[1\]: dots not strictly sorted/);
    rejects(framed([[], [sibling('a', 2), sibling('a', 1)]]), /siblings\[1\]: dots not strictly sorted/);
    rejects(framed([[], [sibling('a', 1), sibling('a', 1, 'other')]]), /siblings\[1\]: dots not strictly sorted/);
  });

  it('refuses to encode an invalid object (InvalidObjectError)', () => {
    const bad = (obj: unknown, reason: RegExp): void =>
      assert.throws(
        () => encodeObject(obj as StoredObject),
        (error: unknown) => error instanceof InvalidObjectError && reason.test(error.reason),
      );
    const s0 = sample.siblings[0] as Sibling;
    const s1 = sample.siblings[1] as Sibling;
    const v0 = sample.vector[0] as VectorEntry;
    bad({ vector: sample.vector, siblings: [s1, s0] }, /dots not strictly sorted/);
    bad({ vector: [...sample.vector].reverse(), siblings: [] }, /actors not strictly sorted/);
    bad({ vector: [{ ...v0, counter: -1 }], siblings: [] }, /bad counter/);
    bad({ vector: [], siblings: [{ ...s0, value: 'text' }] }, /value is not bytes/);
    bad({ vector: [], siblings: [{ ...s0, contentType: 'bad\uD800' }] }, /not well-formed Unicode/);
    bad({ vector: [{ ...v0, actor: '\uDC00x' }], siblings: [] }, /not well-formed Unicode/);
    bad({ vector: [], siblings: [{ ...s0, timeMs: Infinity }] }, /bad timeMs/);
    bad({ vector: 'nope', siblings: [] }, /vector is not an array/);
  });

  it('orders actors by UTF-16 code units, as Array.prototype.sort does', () => {
    const actors = ['b', 'a.10', 'a.9', 'Z', '\u00e9', '\u{1F600}', '\uFFFF'];
    assert.deepEqual([...actors].sort(compareActors), [...actors].sort());
  });
});
