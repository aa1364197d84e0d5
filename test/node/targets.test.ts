import assert from 'node:assert/strict';
import { test } from 'node:test';
import { claimRing } from '../../src/core/claim.ts';
import { addPutReply, addPutTarget, initPutQuorum, putVerdict } from '../../src/core/quorum/putQuorum.ts';
import { addGetFailure, addGetReply, addGetTarget, getVerdict, initGetQuorum } from '../../src/core/quorum/getQuorum.ts';
import fc from 'fast-check';
import { preferenceList, primaryNodes } from '../../src/core/preflist.ts';
import { planTargets, replacementFor } from '../../src/node/coordinator/targets.ts';
import { testSeed } from '../support/seed.ts';

const members = ['a', 'b', 'c', 'd', 'e'];
const ring = claimRing(members, 16, 3);
const order = (): string[] => primaryNodes(ring, 0, 5); // the whole preference list, in ring order

test('with every node up the targets are the primaries, the spares the rest', () => {
  const [p1, p2, p3, f1, f2] = order() as [string, string, string, string, string];
  const plan = planTargets(order(), new Set(members), 3, p1);
  assert.deepEqual(plan.primaries, [p1, p2, p3]);
  assert.deepEqual(plan.targets, [p1, p2, p3].map((node) => ({ node, hintFor: undefined })));
  assert.deepEqual(plan.spares, [f1, f2]);
});

test('fallbacks stand in for down primaries, in order, each told whose hint it holds', () => {
  const [p1, p2, p3, f1, f2] = order() as [string, string, string, string, string];
  const up = new Set([p1, f1, f2]);
  const plan = planTargets(order(), up, 3, p1);
  assert.deepEqual(plan.targets, [
    { node: p1, hintFor: undefined },
    { node: f1, hintFor: p2 },
    { node: f2, hintFor: p3 },
  ]);
  assert.deepEqual(plan.spares, []);
});

test('a coordinator that is no primary takes the last target place and its hint', () => {
  const [p1, p2, p3, f1, f2] = order() as [string, string, string, string, string];
  // Only f2 and f1 are up besides the down primaries: f2 coordinates (its forwards failed).
  const plan = planTargets(order(), new Set([f1, f2]), 3, f2);
  assert.deepEqual(plan.targets, [
    { node: f1, hintFor: p1 },
    { node: f2, hintFor: p2 },
  ]);
  assert.equal(plan.targets.length, 2, 'only two nodes are up');
  void p3;
  // All primaries believed up (forwarding failed for another reason): f1 displaces p3.
  const displaced = planTargets(order(), new Set(members), 3, f1);
  assert.deepEqual(displaced.targets, [
    { node: p1, hintFor: undefined },
    { node: p2, hintFor: undefined },
    { node: f1, hintFor: p3 },
  ]);
  assert.deepEqual(displaced.spares, [p3, f2]);
});

test('a failed target is replaced by the next spare, holding the hint for the same primary', () => {
  const [p1, p2, p3, f1, f2] = order() as [string, string, string, string, string];
  const primaries = [p1, p2, p3];
  assert.deepEqual(replacementFor({ node: p2, hintFor: undefined }, [f1, f2], primaries), { target: { node: f1, hintFor: p2 }, spares: [f2] });
  assert.deepEqual(replacementFor({ node: f1, hintFor: p3 }, [f2], primaries), { target: { node: f2, hintFor: p3 }, spares: [] });
  assert.equal(replacementFor({ node: f1, hintFor: p3 }, [], primaries), undefined);
  assert.deepEqual(replacementFor({ node: f1, hintFor: p3 }, [p3], primaries)?.target, { node: p3, hintFor: undefined }, 'a primary never holds a hint');
});

test('the quorum reducers accept stand-in targets (sloppy quorum)', () => {
  let put = initPutQuorum(['a', 'b', 'c'], 2);
  put = addPutReply(put, 'a', true);
  put = addPutReply(put, 'b', false);
  put = addPutReply(put, 'c', false);
  assert.equal(putVerdict(put), 'failed');
  put = addPutTarget(put, 'd');
  assert.equal(putVerdict(put), 'pending', 'a stand-in makes W reachable again');
  assert.equal(addPutTarget(put, 'd'), put, 'adding a target twice changes nothing');
  assert.equal(putVerdict(addPutReply(put, 'd', true)), 'succeeded');

  let get = initGetQuorum(['a', 'b'], 2);
  get = addGetReply(get, 'a', undefined);
  get = addGetFailure(get, 'b');
  assert.equal(getVerdict(get), 'failed');
  get = addGetTarget(get, 'c');
  assert.equal(getVerdict(get), 'pending');
  assert.equal(getVerdict(addGetReply(get, 'c', undefined)), 'succeeded');
});

test('targets and spares follow the core preference list for any set of up nodes', (t) => {
  const seed = testSeed(t, import.meta.url);
  const property = fc.property(fc.subarray(members), fc.integer({ min: 0, max: 15 }), fc.constantFrom(...members), fc.integer({ min: 1, max: 5 }), (upList, partition, self, n) => {
    const up = new Set([...upList, self]);
    const plan = planTargets(primaryNodes(ring, partition, 5), up, n, self);
    const expected = preferenceList(ring, partition, up, n).map((entry) => entry.node);
    const planned = [...plan.targets.map((target) => target.node), ...plan.spares];
    assert.deepEqual(new Set(planned), new Set(expected), 'the same nodes');
    assert.ok(plan.targets.some((target) => target.node === self), 'the coordinator is a target');
    assert.equal(plan.targets.length, Math.min(n, up.size));
    for (const target of plan.targets) {
      const primary = plan.primaries.includes(target.node);
      assert.equal(target.hintFor === undefined, primary, 'exactly the fallbacks hold hints');
      if (target.hintFor !== undefined) assert.ok(!up.has(target.hintFor) || target.node === self, 'a hint is for a down primary');
    }
  });
  fc.assert(property, { seed, numRuns: 300 });
});
