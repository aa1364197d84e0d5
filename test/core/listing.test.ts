/**
 * The pure parts of listing (core/listing.ts): merging partitions' answers into pages,
 * the start of a prefix's range, continuation tokens and the coverage plan. The property
 * test lists a random keyspace spread over partitions, each answering only a few keys a
 * page, and must get every key once, in order, whatever the limit.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { compareBytes } from '../../src/core/bytes.ts';
import {
  coveragePlan,
  decodeListToken,
  encodeListToken,
  hasPrefix,
  keyBefore,
  mergePartitionKeys,
  type PartitionKeys,
} from '../../src/core/listing.ts';
import { testSeed } from '../support/seed.ts';

const bytes = (...values: number[]) => Uint8Array.from(values);

/** A partition's answer as a replica gives it: up to `keysMax` keys after `after` carrying `prefix`. */
function answer(stored: readonly Uint8Array[], prefix: Uint8Array, after: Uint8Array | undefined, keysMax: number): PartitionKeys {
  const inRange = stored.filter((key) => hasPrefix(key, prefix) && (after === undefined || compareBytes(key, after) > 0));
  if (inRange.length <= keysMax) return { keys: inRange, through: undefined };
  const keys = inRange.slice(0, keysMax);
  return { keys, through: keys[keysMax - 1] };
}

test('pages merged from partitions that answer a few keys each list every key once, in order', (t) => {
  const seed = testSeed(t, import.meta.url);
  const key = fc.uint8Array({ minLength: 1, maxLength: 4, max: 3 });
  fc.assert(
    fc.property(
      fc.array(fc.uniqueArray(key, { selector: (k) => Buffer.from(k).toString('hex'), maxLength: 30 }), { minLength: 1, maxLength: 6 }),
      fc.uint8Array({ maxLength: 2, max: 3 }),
      fc.integer({ min: 1, max: 12 }),
      fc.integer({ min: 1, max: 5 }),
      (partitions, prefix, limit, keysMax) => {
        // A key lives in one partition only.
        const seen = new Set<string>();
        const stored = partitions.map((keys) =>
          keys.filter((k) => !seen.has(Buffer.from(k).toString('hex')) && seen.add(Buffer.from(k).toString('hex'))).sort(compareBytes),
        );
        const expected = stored.flat().filter((k) => hasPrefix(k, prefix)).sort(compareBytes);
        const listed: Uint8Array[] = [];
        let after: Uint8Array | undefined;
        for (let pages = 0; ; pages++) {
          assert.ok(pages <= expected.length + 1, 'a page made no progress');
          const page = mergePartitionKeys(stored.map((keys) => answer(keys, prefix, after, keysMax)), limit);
          assert.ok(page.keys.length <= limit);
          listed.push(...page.keys);
          if (page.next === undefined) break;
          after = page.next;
        }
        assert.deepEqual(listed.map((k) => Buffer.from(k).toString('hex')), expected.map((k) => Buffer.from(k).toString('hex')));
      },
    ),
    { seed, numRuns: 500 },
  );
});

test('a page is exact only up to the partition that looked least far', () => {
  const page = mergePartitionKeys(
    [
      { keys: [bytes(1), bytes(5)], through: bytes(5) },
      { keys: [bytes(2), bytes(7), bytes(9)], through: undefined },
    ],
    10,
  );
  // Key 6 could still be in the first partition: the page stops at 5 and goes on after it.
  assert.deepEqual(page.keys, [bytes(1), bytes(2), bytes(5)]);
  assert.deepEqual(page.next, bytes(5));
  const last = mergePartitionKeys([{ keys: [bytes(7)], through: undefined }, { keys: [], through: undefined }], 10);
  assert.deepEqual(last, { keys: [bytes(7)], next: undefined });
});

test('keyBefore is the last key of bounded length before the prefix', () => {
  assert.equal(keyBefore(bytes(), 4), undefined);
  assert.deepEqual(keyBefore(bytes(7, 0), 4), bytes(7));
  assert.deepEqual(keyBefore(bytes(7, 3), 4), bytes(7, 2, 0xff, 0xff));
  const before = keyBefore(bytes(7, 3), 4) as Uint8Array;
  // Every key of at most 4 bytes sorts either at or before `before`, or at or after the prefix.
  for (const k of [bytes(7, 2), bytes(7, 2, 0xff, 0xff), bytes(7, 3), bytes(7, 3, 0)]) {
    assert.ok(compareBytes(k, before) <= 0 || compareBytes(k, bytes(7, 3)) >= 0);
  }
});

test('continuation tokens round-trip and malformed ones are refused with a reason', () => {
  const key = bytes(0, 255, 10, 65);
  const token = encodeListToken(key);
  assert.deepEqual(decodeListToken(token, 16), { after: key });
  assert.match(String((decodeListToken('!!', 16) as { reason: string }).reason), /base64url/);
  assert.match(String((decodeListToken(encodeListToken(new Uint8Array(20)), 16) as { reason: string }).reason), /1-16 bytes/);
  assert.match(String((decodeListToken('AA', 16) as { reason: string }).reason), /format/);
  assert.ok('reason' in decodeListToken(encodeListToken(new Uint8Array(0)), 16));
});

test('the coverage plan takes this node where it can, spreads the rest, and names partitions with no replica up', () => {
  const replicas = [['a', 'b'], ['b', 'c'], ['c', 'd'], ['d', 'a'], ['c', 'b']];
  const up = new Set(['b', 'c']);
  const plan = coveragePlan([0, 1, 2, 3, 4], (p) => replicas[p] as string[], (node) => up.has(node), 'a');
  assert.deepEqual(plan.byNode.get('a'), [0, 3]);
  assert.deepEqual([...(plan.byNode.get('b') ?? []), ...(plan.byNode.get('c') ?? [])].sort(), [1, 2, 4]);
  assert.ok(Math.abs((plan.byNode.get('b') ?? []).length - (plan.byNode.get('c') ?? []).length) <= 1);
  assert.deepEqual(plan.unreachable, []);
  const avoiding = coveragePlan([0, 1, 2], (p) => replicas[p] as string[], (node) => up.has(node), undefined, new Set(['c']));
  assert.deepEqual(avoiding.unreachable, [2]);
  assert.deepEqual(avoiding.byNode.get('b'), [0, 1]);
});
