import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { DIGEST_VERSION, HashTree, objectDigest, segmentOf, validateShape, type TreeShape } from '../../../src/core/antiEntropy/hashTree.ts';
import { putObject, type StoredObject } from '../../../src/core/object.ts';
import { testSeed } from '../../support/seed.ts';

const enc = new TextEncoder();
const shape: TreeShape = { segments: 64, branching: 4, digestVersion: DIGEST_VERSION };
const limits = { siblingsMax: 100, vectorEntriesMax: 10 };

function write(current: StoredObject | undefined, actor: string, value: string): StoredObject {
  const outcome = putObject(current, { context: current?.vector ?? [], actor, value: enc.encode(value), contentType: 'text/plain', deleted: false, nowMs: 1 }, limits);
  assert.ok(outcome.ok);
  return outcome.object;
}

/** A tree built from scratch over a map of objects. */
function treeOf(objects: ReadonlyMap<string, StoredObject>): HashTree {
  const tree = new HashTree(shape);
  for (const [key, object] of objects) tree.replace(enc.encode(key), undefined, object);
  return tree;
}

/** Walks two trees from the root down and returns the differing segments. */
function differingSegments(mine: HashTree, theirs: HashTree): number[] {
  if (mine.sameRoot(theirs.root())) return [];
  let parents = [0];
  for (let depth = 1; depth <= mine.depth; depth++) parents = mine.differingChildren(depth, parents, theirs.children(depth, parents));
  return parents;
}

const opArbitrary = fc.record({ key: fc.integer({ min: 0, max: 30 }), actor: fc.constantFrom('a.1', 'b.1', 'c.1'), remove: fc.boolean() });

test('a tree kept up to date write by write equals the tree rebuilt from the final objects', (t) => {
  const seed = testSeed(t, import.meta.url);
  fc.assert(
    fc.property(fc.array(opArbitrary, { maxLength: 80 }), (ops) => {
      const objects = new Map<string, StoredObject>();
      const tree = new HashTree(shape);
      ops.forEach((op, i) => {
        const key = `k${op.key}`;
        const before = objects.get(key);
        const after = op.remove ? undefined : write(before, op.actor, `v${i}`);
        tree.replace(enc.encode(key), before, after);
        if (after === undefined) objects.delete(key);
        else objects.set(key, after);
      });
      assert.deepEqual(tree.root(), treeOf(objects).root());
      assert.deepEqual(HashTree.fromLeaves(shape, tree.leaves()).root(), tree.root(), 'a persisted tree comes back whole');
      assert.deepEqual(differingSegments(tree, treeOf(objects)), []);
    }),
    { seed, numRuns: 200 },
  );
});

test('walking two replicas’ trees finds exactly the segments of the keys whose versions differ', (t) => {
  const seed = testSeed(t, import.meta.url);
  fc.assert(
    fc.property(fc.uniqueArray(fc.integer({ min: 0, max: 200 }), { maxLength: 60 }), fc.uniqueArray(fc.integer({ min: 0, max: 200 }), { maxLength: 10 }), (keys, changed) => {
      const ours = new Map(keys.map((k) => [`k${k}`, write(undefined, 'a.1', `v${k}`)]));
      const theirs = new Map(ours);
      for (const k of changed) theirs.set(`k${k}`, write(theirs.get(`k${k}`), 'b.1', 'newer'));
      const expected = [...new Set(changed.map((k) => segmentOf(enc.encode(`k${k}`), shape)))].sort((a, b) => a - b);
      assert.deepEqual(differingSegments(treeOf(ours), treeOf(theirs)), expected);
    }),
    { seed, numRuns: 200 },
  );
});

test('digests depend on the key and the versions, not on times or the order siblings arrived in', () => {
  const key = enc.encode('k');
  const one = write(undefined, 'a.1', 'x');
  const later = { ...one, vector: one.vector.map((e) => ({ ...e, timeMs: e.timeMs + 99 })) };
  assert.deepEqual(objectDigest(key, one), objectDigest(key, later));
  assert.notDeepEqual(objectDigest(key, one), objectDigest(enc.encode('k2'), one));
  assert.notDeepEqual(objectDigest(key, one), objectDigest(key, write(one, 'a.1', 'y')));
});

test('digests are canonical: the same versions in any order hash alike, and the encoding is unambiguous', () => {
  const key = enc.encode('k');
  const siblings = write(write(write(undefined, 'a.1', 'x'), 'b.10', 'y'), 'b.1', 'z');
  const merged = { vector: siblings.vector, siblings: [...siblings.siblings, ...write(undefined, 'c.1', 'w').siblings] };
  const shuffled = { vector: [...merged.vector].reverse(), siblings: [...merged.siblings].reverse() };
  assert.deepEqual(objectDigest(key, shuffled), objectDigest(key, merged), 'order of entries and siblings does not matter');
  // The same (actor, counter) pairs split differently between the vector and the dots, or an
  // actor's bytes running into the next field, must not collide.
  const vectorOnly = { vector: [{ actor: 'a', counter: 1, timeMs: 0 }], siblings: [] };
  const dotOnly = { vector: [], siblings: [{ ...(write(undefined, 'a', 'x').siblings[0] as StoredObject['siblings'][number]) }] };
  assert.notDeepEqual(objectDigest(key, vectorOnly), objectDigest(key, dotOnly));
  assert.notDeepEqual(objectDigest(enc.encode('ka'), vectorOnly), objectDigest(key, { vector: [{ actor: 'aa', counter: 1, timeMs: 0 }], siblings: [] }));
});

test('tree shapes are checked, and so are segment and node indices', () => {
  const bads = [{ segments: 100, branching: 4 }, { segments: 1, branching: 4 }, { segments: 64, branching: 1 }, { segments: 1 << 20, branching: 2 }];
  for (const bad of [...bads.map((b) => ({ ...b, digestVersion: DIGEST_VERSION })), { segments: 64, branching: 4, digestVersion: 1 }]) {
    assert.throws(() => validateShape(bad), RangeError, JSON.stringify(bad));
  }
  validateShape({ segments: 1024, branching: 32, digestVersion: DIGEST_VERSION });
  const tree = new HashTree(shape);
  assert.equal(tree.depth, 3);
  assert.throws(() => tree.toggle(64, new Uint8Array(16)), RangeError);
  assert.throws(() => tree.children(0, [0]), RangeError);
  assert.throws(() => tree.children(2, [4]), RangeError);
  assert.throws(() => tree.differingChildren(1, [0], new Uint8Array(3)), RangeError);
});
