import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { addPutReply, addPutTarget, initPutQuorum, putVerdict } from '../../../src/core/quorum/putQuorum.ts';
import {
  addGetTarget,
  addGetFailure,
  addGetReply,
  getSettled,
  getVerdict,
  initGetQuorum,
  readRepairTargets,
} from '../../../src/core/quorum/getQuorum.ts';
import { putObject, type StoredObject } from '../../../src/core/object.ts';
import { testSeed } from '../../support/seed.ts';

const limits = { siblingsMax: 100, vectorEntriesMax: 10 };
const bytes = (text: string) => new TextEncoder().encode(text);

function written(current: StoredObject | undefined, actor: string, value: string): StoredObject {
  const outcome = putObject(
    current,
    { context: current?.vector ?? [], actor, value: bytes(value), contentType: 'text/plain', deleted: false, nowMs: 1 },
    limits,
  );
  assert.ok(outcome.ok);
  return outcome.object;
}

test('a put succeeds at W acknowledgements and fails once W is out of reach', () => {
  let quorum = initPutQuorum(['a', 'b', 'c'], 2);
  quorum = addPutReply(quorum, 'a', true);
  assert.equal(putVerdict(quorum), 'pending');
  quorum = addPutReply(quorum, 'a', true);
  assert.equal(putVerdict(quorum), 'pending', 'a repeated ack counts once');
  quorum = addPutReply(quorum, 'z', true);
  assert.equal(putVerdict(quorum), 'pending', 'a node outside the targets does not count');
  quorum = addPutReply(quorum, 'b', true);
  assert.equal(putVerdict(quorum), 'succeeded');

  let failing = initPutQuorum(['a', 'b', 'c'], 2);
  failing = addPutReply(failing, 'a', false);
  assert.equal(putVerdict(failing), 'pending');
  failing = addPutReply(failing, 'b', false);
  assert.equal(putVerdict(failing), 'failed');
});

test('put verdicts agree with counting, for any order of replies', (t) => {
  const seed = testSeed(t, import.meta.url);
  const replies = fc.array(fc.tuple(fc.constantFrom('a', 'b', 'c', 'd', 'e'), fc.boolean()), { maxLength: 12 });
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 5 }), replies, (w, answers) => {
      const targets = ['a', 'b', 'c', 'd', 'e'];
      let quorum = initPutQuorum(targets, w);
      const seen = new Map<string, boolean>();
      for (const [node, ok] of answers) {
        quorum = addPutReply(quorum, node, ok);
        if (!seen.has(node)) seen.set(node, ok);
      }
      const acks = [...seen.values()].filter(Boolean).length;
      const failures = seen.size - acks;
      const expected = acks >= w ? 'succeeded' : targets.length - failures < w ? 'failed' : 'pending';
      assert.equal(putVerdict(quorum), expected);
    }),
    { seed, numRuns: 300 },
  );
});

test('a get merges replies, succeeds at R and names the stale replicas for read repair', () => {
  const first = written(undefined, 'x.1', 'one');
  const second = written(first, 'x.1', 'two');
  let quorum = initGetQuorum(['a', 'b', 'c'], 2);
  quorum = addGetReply(quorum, 'a', second);
  assert.equal(getVerdict(quorum), 'pending');
  quorum = addGetReply(quorum, 'b', first);
  assert.equal(getVerdict(quorum), 'succeeded');
  assert.equal(quorum.merged?.siblings.length, 1);
  assert.equal(new TextDecoder().decode(quorum.merged?.siblings[0]?.value), 'two');
  assert.equal(getSettled(quorum), false);
  quorum = addGetReply(quorum, 'c', undefined);
  assert.equal(getSettled(quorum), true);
  assert.deepEqual(readRepairTargets(quorum).sort(), ['b', 'c']);
});

test('a get fails when too many replicas fail, and a read of nothing needs no repair', () => {
  let quorum = initGetQuorum(['a', 'b', 'c'], 2);
  quorum = addGetReply(quorum, 'a', undefined);
  quorum = addGetFailure(quorum, 'b');
  assert.equal(getVerdict(quorum), 'pending');
  quorum = addGetFailure(quorum, 'c');
  assert.equal(getVerdict(quorum), 'failed');
  assert.equal(quorum.merged, undefined);
  assert.deepEqual(readRepairTargets(quorum), []);
});

test('concurrent versions from different replicas both survive the merge', () => {
  const left = written(undefined, 'x.1', 'left');
  const right = written(undefined, 'y.1', 'right');
  let quorum = initGetQuorum(['a', 'b'], 2);
  quorum = addGetReply(quorum, 'a', left);
  quorum = addGetReply(quorum, 'b', right);
  assert.equal(quorum.merged?.siblings.length, 2);
  assert.deepEqual(readRepairTargets(quorum).sort(), ['a', 'b']);
});

test('a stand-in and the replica it stands in for fill one place of W or R, never two (found by the simulator, seed 7150)', () => {
  let put = initPutQuorum(['a', 'b', 'c'], 3);
  put = addPutTarget(put, 'd', 'b'); // b is silent: d is asked too, holding a hint for b
  put = addPutReply(put, 'a', true);
  put = addPutReply(put, 'd', true);
  put = addPutReply(put, 'b', true); // b answers late: d's hint is of b's own copy
  assert.equal(putVerdict(put), 'pending', 'a, and b twice over: two places of three');
  put = addPutReply(put, 'c', true);
  assert.equal(putVerdict(put), 'succeeded');
  let failing = addPutTarget(initPutQuorum(['a', 'b', 'c'], 3), 'd', 'b');
  failing = addPutReply(addPutReply(failing, 'c', false), 'a', true);
  assert.equal(putVerdict(failing), 'failed', 'c failed: its place cannot be filled, whoever stands in for b');
  const chained = addPutTarget(addPutTarget(initPutQuorum(['a', 'b'], 2), 'c', 'b'), 'd', 'c');
  assert.equal(putVerdict(addPutReply(addPutReply(chained, 'c', true), 'd', true)), 'pending', 'a stand-in for a stand-in fills the same place');

  let get = addGetTarget(initGetQuorum(['a', 'b', 'c'], 2), 'd', 'b');
  get = addGetReply(addGetReply(get, 'b', undefined), 'd', undefined);
  assert.equal(getVerdict(get), 'pending', 'b and its stand-in are one reply of two');
  assert.equal(getVerdict(addGetReply(get, 'a', undefined)), 'succeeded');
});
