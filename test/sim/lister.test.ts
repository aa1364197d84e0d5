/**
 * The simulator's listing checker (sim/lister.ts checkListings) on made-up histories: it
 * must flag a stable key missed, a key listed before any put of it, and keys out of order
 * or outside the prefix, and must not flag keys that were written or deleted during the
 * listing, or listings that did not complete.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { History } from '../../src/sim/history.ts';
import { checkListings, type ListingRecord } from '../../src/sim/lister.ts';

const QUORUM = { n: 3, r: 2, w: 2 };

function history(ops: readonly { op: 'put' | 'delete' | 'get'; key: string; startMs: number }[]): History {
  const h = new History();
  for (const { op, key, startMs } of ops) h.begin({ client: 'c1', op, key, node: 'n1', startMs, quorum: QUORUM, options: undefined, contextValueIds: [] });
  return h;
}

function listing(pages: readonly (readonly string[])[], stable: readonly string[], overrides: Partial<ListingRecord> = {}): ListingRecord {
  return {
    index: 0,
    prefix: '',
    limit: 5,
    startMs: 100,
    endMs: 200,
    pages: pages.map((keys, i) => ({ node: 'n1', startMs: 100 + i * 10, endMs: 105 + i * 10, keys })),
    stable: new Set(stable),
    outcome: 'complete',
    failures: [],
    ...overrides,
  };
}

const kinds = (result: ReturnType<typeof checkListings>): string[] => result.violations.map((v) => `${v.kind}:${v.key}`).sort();

test('a complete listing of every stable key, in order, passes and counts the keys it was held to', () => {
  const h = history([{ op: 'put', key: 'a', startMs: 0 }, { op: 'put', key: 'b', startMs: 0 }, { op: 'put', key: 'c', startMs: 0 }]);
  const result = checkListings([listing([['a', 'b'], ['c']], ['a', 'b', 'c'])], h.records);
  assert.deepEqual(result.violations, []);
  assert.deepEqual(result.counts, { complete: 1, abandoned: 0, stableKeysJudged: 3 });
});

test('a stable key missed, a key never put, and keys out of order or outside the prefix are each flagged', () => {
  const h = history([{ op: 'put', key: 'a', startMs: 0 }, { op: 'put', key: 'ab', startMs: 0 }, { op: 'put', key: 'b', startMs: 0 }, { op: 'put', key: 'late', startMs: 150 }]);
  assert.deepEqual(kinds(checkListings([listing([['a']], ['a', 'b'])], h.records)), ['listing-missed:b']);
  assert.deepEqual(kinds(checkListings([listing([['a', 'zz']], ['a'])], h.records)), ['listing-invented:zz']);
  // 'late' was first put at 150 ms, after the page that listed it ended (105 ms).
  assert.deepEqual(kinds(checkListings([listing([['a', 'late']], [])], h.records)), ['listing-invented:late']);
  assert.deepEqual(kinds(checkListings([listing([['b'], ['a']], [])], h.records)), ['listing-order:a']);
  assert.deepEqual(kinds(checkListings([listing([['ab', 'b']], [], { prefix: 'a' })], h.records)), ['listing-order:b']);
});

test('keys written or deleted during the listing, keys outside the prefix, and abandoned listings are not held to completeness', () => {
  const h = history([
    { op: 'put', key: 'a', startMs: 0 },
    { op: 'put', key: 'b', startMs: 0 },
    { op: 'delete', key: 'b', startMs: 120 },
    { op: 'get', key: 'a', startMs: 120 },
  ]);
  assert.deepEqual(kinds(checkListings([listing([[]], ['b'])], h.records)), []);
  assert.deepEqual(kinds(checkListings([listing([[]], ['a'])], h.records)), ['listing-missed:a'], 'a read does not excuse a miss');
  assert.deepEqual(kinds(checkListings([listing([[]], ['a'], { prefix: 'x' })], h.records)), []);
  const abandoned = checkListings([listing([[]], ['a'], { outcome: 'abandoned' })], h.records);
  assert.deepEqual(abandoned.violations, []);
  assert.deepEqual(abandoned.counts, { complete: 0, abandoned: 1, stableKeysJudged: 0 });
});
