/**
 * The pure parts of backups: the entries encoding (strict decoding) and the k-way merge of
 * the owners' pages, checked against a plain model on random pages (seed printed).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decodeEntries, encodeEntries, encodedEntryBytes, type KeyedBytes } from '../../src/core/backup/entries.ts';
import { mergeOwnerPages, type OwnerPage } from '../../src/core/backup/mergePages.ts';
import { compareBytes } from '../../src/core/bytes.ts';
import { Prng } from '../../src/sim/prng.ts';
import { testSeed } from '../support/seed.ts';

const LIMITS = { objectsMax: 100, keyBytesMax: 16 };
const text = (s: string) => new TextEncoder().encode(s);
const entry = (key: string, value: string): KeyedBytes => ({ key: text(key), bytes: text(value) });

test('entries round-trip, and their encoded size is what encodedEntryBytes says', () => {
  const entries = [entry('a', ''), entry('bb', 'value'), entry('ccc', 'x'.repeat(300))];
  const encoded = encodeEntries(entries);
  assert.equal(encoded.length, 4 + entries.reduce((sum, e) => sum + encodedEntryBytes(e), 0));
  const decoded = decodeEntries(encoded, LIMITS);
  assert.ok(decoded.ok);
  assert.deepEqual(decoded.entries.map((e) => [Buffer.from(e.key).toString(), Buffer.from(e.bytes).toString()]), [['a', ''], ['bb', 'value'], ['ccc', 'x'.repeat(300)]]);
  assert.deepEqual(decodeEntries(encodeEntries([]), LIMITS), { ok: true, entries: [] });
});

test('entries that do not decode exactly are refused with the reason', () => {
  const good = encodeEntries([entry('key', 'object')]);
  const cases: [Uint8Array, RegExp][] = [
    [good.subarray(0, 3), /too short for the entry count/],
    [good.subarray(0, good.length - 1), /entry 0: the object runs past the end/],
    [good.subarray(0, 9), /entry 0: the key runs past the end/],
    [Uint8Array.from([...good, 0]), /1 bytes after the last of 1 entries/],
    [encodeEntries([entry('', 'x')]), /entry 0: key of 0 bytes \(1-16\)/],
    [encodeEntries([entry('k'.repeat(17), 'x')]), /key of 17 bytes/],
    [encodeEntries(Array.from({ length: 101 }, (_, i) => entry(`k${i}`, 'x'))), /101 entries, more than 100/],
    [Uint8Array.of(0xff, 0xff, 0xff, 0xff), /4294967295 entries/],
  ];
  for (const [bytes, reason] of cases) {
    const decoded = decodeEntries(bytes, LIMITS);
    assert.ok(!decoded.ok && reason.test(decoded.reason), `${reason}: ${JSON.stringify(decoded)}`);
  }
});

/** A random owner's view of a partition: a subset of the keys, its own value for some, in order. */
function randomOwner(random: Prng, keys: readonly string[], owner: number): KeyedBytes[] {
  return keys.filter(() => random.chance(0.7)).map((key) => entry(key, random.chance(0.2) ? `${key}@${owner}` : key));
}

/** Splits an owner's entries into pages of at most `size` objects, each ending where its last key is (or at the end). */
function pagesOf(entries: readonly KeyedBytes[], after: string | undefined, size: number): OwnerPage {
  const rest = entries.filter((e) => after === undefined || Buffer.from(e.key).toString() > after);
  const page = rest.slice(0, size);
  return { entries: page, resumeAfter: page.length < rest.length ? (page[page.length - 1] as KeyedBytes).key : undefined };
}

test('merging the owners page by page gives every key once, in order, with every owner\'s copy joined', (t) => {
  const random = Prng.fromSeed(testSeed(t, import.meta.url));
  for (let round = 0; round < 200; round++) {
    const keys = Array.from({ length: random.int(40) }, (_, i) => `key-${String(i).padStart(3, '0')}`);
    const owners = Array.from({ length: 1 + random.int(3) }, (_, owner) => randomOwner(random, keys, owner));
    const size = 1 + random.int(6);
    const merged: KeyedBytes[] = [];
    let after: string | undefined;
    for (let pages = 0; ; pages++) {
      assert.ok(pages <= keys.length + 1, 'each page moves the cursor on');
      const page = mergeOwnerPages(owners.map((entries) => pagesOf(entries, after, size)), (key, copies) => text(copies.map((c) => Buffer.from(c).toString()).sort().join('|')));
      merged.push(...page.entries);
      if (page.resumeAfter === undefined) break;
      after = Buffer.from(page.resumeAfter).toString();
    }
    const expected = new Map<string, string[]>();
    for (const entries of owners) for (const e of entries) expected.set(Buffer.from(e.key).toString(), [...(expected.get(Buffer.from(e.key).toString()) ?? []), Buffer.from(e.bytes).toString()]);
    const want = [...expected.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([key, copies]) => [key, copies.length === 1 ? copies[0] : copies.sort().join('|')]);
    assert.deepEqual(merged.map((e) => [Buffer.from(e.key).toString(), Buffer.from(e.bytes).toString()]), want);
    for (let i = 1; i < merged.length; i++) assert.equal(compareBytes((merged[i - 1] as KeyedBytes).key, (merged[i] as KeyedBytes).key), -1);
  }
});
