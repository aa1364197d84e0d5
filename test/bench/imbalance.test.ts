import { test } from 'node:test';
import assert from 'node:assert/strict';
import { firstPrimary, meanOutOfBalance, ringFromView, WindowCounter, windowImbalance } from '../../bench/lib/imbalance.ts';
import { claimRing } from '../../src/core/claim.ts';
import { keyBytes, partitionOfKey } from '../../src/core/hash.ts';
import { primaryNodes } from '../../src/core/preflist.ts';

test('a node is out of balance when its load is more than 15% off the mean (exactly 15% is not)', () => {
  // Mean 100: 115 and 85 are on the edge, 116 and 84 past it.
  const w = windowImbalance([100, 115, 85, 116, 84, 84]);
  assert.equal(w.meanRequests, 97.33);
  const edge = windowImbalance([115, 85, 100, 100]);
  assert.equal(edge.outOfBalanceNodes, 0);
  const past = windowImbalance([116, 84, 100, 100]);
  assert.equal(past.outOfBalanceNodes, 2);
  assert.equal(past.outOfBalanceFraction, 0.5);
});

test('balanced, empty and lopsided windows', () => {
  assert.equal(windowImbalance([10, 10, 10]).outOfBalanceFraction, 0);
  assert.equal(windowImbalance([0, 0, 0]).outOfBalanceFraction, 0);
  assert.equal(windowImbalance([]).outOfBalanceFraction, 0);
  // One hot node: it is far above the mean and the others far below.
  assert.equal(windowImbalance([300, 0, 0]).outOfBalanceFraction, 1);
  assert.equal(windowImbalance([100, 100, 100, 200], 0.15).outOfBalanceNodes, 4);
  assert.equal(windowImbalance([100, 100, 100, 200], 0.5).outOfBalanceNodes, 1);
});

test('meanOutOfBalance averages the windows', () => {
  assert.equal(meanOutOfBalance([windowImbalance([1, 1]), windowImbalance([2, 0])]), 0.5);
  assert.equal(meanOutOfBalance([]), 0);
});

test('WindowCounter puts request i into window floor(i / perWindow) and drops requests past the last window', () => {
  const counter = new WindowCounter(3, 2, 4);
  for (const [i, node] of [[0, 0], [1, 1], [2, 2], [3, 0], [4, 1], [5, 1], [6, 1], [7, 1], [8, 0], [3, 7]] as const) counter.record(i, node);
  assert.deepEqual(counter.imbalances().map((w) => w.requestsPerNode), [[2, 1, 1], [0, 4, 0]]);
  assert.deepEqual(counter.totals(), [2, 5, 1]);
});

test('firstPrimary is the first of the key\'s N primaries on the ring the nodes serve', () => {
  const ring = claimRing(['n1', 'n2', 'n3', 'n4', 'n5', 'n6'], 64, 3);
  const fromView = ringFromView({ partitionCount: 64, replicas: 3, members: ring.members.map((id) => ({ id })), owners: [...ring.owners] });
  for (let i = 0; i < 200; i++) {
    const key = `user${String(i).padStart(8, '0')}`;
    const expected = primaryNodes(ring, partitionOfKey(keyBytes(key), 64), 3)[0];
    assert.equal(firstPrimary(fromView, key, 3), expected);
    assert.equal(firstPrimary(fromView, key, 3), ring.owners[partitionOfKey(keyBytes(key), 64)]);
  }
});
