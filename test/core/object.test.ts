import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { VersionVector } from '../../src/core/clock.ts';
import {
  SIBLINGS_MAX_DEFAULT,
  SUPERSEDED_WRITES_MAX,
  SUPERSEDED_WRITE_RETENTION_MS,
  isDeletedObject,
  liveSiblings,
  objectDescends,
  objectsEqual,
  oneSiblingPerWrite,
  putObject,
  syncObjects,
  type ObjectWrite,
  type StoredObject,
} from '../../src/core/object.ts';

const LIMITS = { siblingsMax: SIBLINGS_MAX_DEFAULT, vectorEntriesMax: 10 };
const text = new TextEncoder();

function write(actor: string, value: string, context: VersionVector, extra: Partial<ObjectWrite> = {}): ObjectWrite {
  return { context, actor, value: text.encode(value), contentType: 'text/plain', deleted: false, nowMs: 1000, ...extra };
}

function put(current: StoredObject | undefined, w: ObjectWrite, limits = LIMITS): StoredObject {
  const outcome = putObject(current, w, limits);
  assert.ok(outcome.ok, 'put refused');
  return outcome.object;
}

function values(object: StoredObject | undefined): string[] {
  return (object?.siblings ?? []).map((sibling) => new TextDecoder().decode(sibling.value));
}

test('a first put creates one sibling under the first dot of its actor', () => {
  const outcome = putObject(undefined, write('x', 'v1', [], { nowMs: 42 }), LIMITS);
  assert.ok(outcome.ok);
  assert.deepEqual(outcome.dot, { actor: 'x', counter: 1 });
  assert.deepEqual(outcome.object.vector, [{ actor: 'x', counter: 1, timeMs: 42 }]);
  assert.deepEqual(outcome.object.siblings, [
    { value: text.encode('v1'), contentType: 'text/plain', deleted: false, dot: { actor: 'x', counter: 1 }, timeMs: 42 },
  ]);
});

test('a put with the read context supersedes what was read; without a context it adds a sibling', () => {
  const first = put(undefined, write('x', 'v1', []));
  const replaced = put(first, write('x', 'v2', first.vector));
  assert.deepEqual(values(replaced), ['v2']);
  const added = put(first, write('y', 'v3', []));
  assert.deepEqual(values(added), ['v1', 'v3']);
});

test('two concurrent writes through the same coordinator from one stale context stay siblings', () => {
  const base = put(undefined, write('x', 'v0', []));
  const context = base.vector;
  const afterFirst = put(base, write('x', 'alice', context));
  const afterSecond = put(afterFirst, write('x', 'bob', context));
  assert.deepEqual(values(afterSecond), ['alice', 'bob']);
  assert.deepEqual(
    afterSecond.siblings.map((sibling) => sibling.dot),
    [
      { actor: 'x', counter: 2 },
      { actor: 'x', counter: 3 },
    ],
  );
  // A client that read both can then resolve them.
  assert.deepEqual(values(put(afterSecond, write('x', 'merged', afterSecond.vector))), ['merged']);
});

test('the new dot exceeds every counter of the actor the client or the replica has seen', () => {
  // The client read from a replica that has seen more of x than this one.
  const here = put(undefined, write('x', 'v1', []));
  const outcome = putObject(here, write('x', 'v2', [{ actor: 'x', counter: 7, timeMs: 0 }]), LIMITS);
  assert.ok(outcome.ok);
  assert.deepEqual(outcome.dot, { actor: 'x', counter: 8 });
  assert.deepEqual(values(outcome.object), ['v2']);
});

test('a delete writes a tombstone; an object of tombstones only is deleted', () => {
  const first = put(undefined, write('x', 'v1', []));
  const deleted = put(first, write('x', '', first.vector, { deleted: true }));
  assert.ok(isDeletedObject(deleted));
  assert.deepEqual(liveSiblings(deleted), []);
  const revived = put(deleted, write('y', 'v2', []));
  assert.ok(!isDeletedObject(revived));
  assert.deepEqual(values({ vector: [], siblings: liveSiblings(revived) }), ['v2']);
});

test('last-write-wins supersedes every current sibling, whatever the context', () => {
  const a = put(undefined, write('x', 'v1', []));
  const ab = put(a, write('y', 'v2', []));
  const lww = put(ab, write('z', 'v3', [], { lastWriteWins: true }));
  assert.deepEqual(values(lww), ['v3']);
  // It loses concurrent writes it has not seen: another replica's sibling still comes back.
  const elsewhere = put(undefined, write('w', 'concurrent', []));
  assert.deepEqual(values(syncObjects(lww, elsewhere)), ['v3', 'concurrent'].sort());
});

test('a put past siblingsMax is refused and reports the count', () => {
  const limits = { siblingsMax: 2, vectorEntriesMax: 10 };
  const two = put(put(undefined, write('x', 'v1', []), limits), write('y', 'v2', []), limits);
  const outcome = putObject(two, write('z', 'v3', []), limits);
  assert.deepEqual(outcome, { ok: false, reason: 'too-many-siblings', siblingCount: 3 });
  // A write that supersedes what it read still goes through.
  assert.ok(putObject(two, write('z', 'v3', two.vector), limits).ok);
});

test('putObject rejects bad arguments', () => {
  assert.throws(() => putObject(undefined, write('', 'v', []), LIMITS), RangeError);
  assert.throws(() => putObject(undefined, write('x', 'v', [], { nowMs: Number.NaN }), LIMITS), RangeError);
  assert.throws(() => putObject(undefined, write('x', 'v', []), { siblingsMax: 0, vectorEntriesMax: 10 }), RangeError);
});

test('sync keeps concurrent siblings and drops superseded ones', () => {
  const base = put(undefined, write('x', 'v1', []));
  const left = put(base, write('x', 'left', base.vector));
  const right = put(base, write('y', 'right', []));
  const merged = syncObjects(left, right);
  // right still holds v1, but left's vector covers (x,1) and left no longer holds it.
  assert.deepEqual(values(merged), ['left', 'right']);
  assert.ok(objectsEqual(merged, syncObjects(right, left)));
  assert.ok(objectDescends(merged, left) && objectDescends(merged, right));
  assert.ok(!objectDescends(left, right) && !objectDescends(right, left));
  assert.equal(syncObjects(undefined, undefined), undefined);
  assert.equal(syncObjects(left, undefined), left);
  assert.ok(objectDescends(left, undefined) && !objectDescends(undefined, left));
});

test('after truncation, versions may look concurrent (an extra sibling), but none is lost', () => {
  const limits = { siblingsMax: 100, vectorEntriesMax: 2 };
  // Replica 1 has v1 from actor a.
  const replica1 = put(undefined, write('a', 'v1', [], { nowMs: 1 }), limits);
  // Replica 2 sees v1, then two writes that each read the latest version.
  const v2 = put(replica1, write('b', 'v2', replica1.vector, { nowMs: 2 }), limits);
  const v3 = put(v2, write('c', 'v3', v2.vector, { nowMs: 3 }), limits);
  // Three actors, at most two entries: a (oldest, no sibling) was dropped.
  assert.deepEqual(
    v3.vector.map((entry) => entry.actor),
    ['b', 'c'],
  );
  assert.deepEqual(values(v3), ['v3']);
  // Replica 1 never heard of v2/v3. Syncing brings v1 back as a sibling: it looks
  // concurrent, because the truncated vector no longer says v1 was superseded.
  const merged = syncObjects(replica1, v3);
  assert.deepEqual(values(merged), ['v1', 'v3']);
  // Without truncation v1 would have been recognised as superseded.
  const wide = { siblingsMax: 100, vectorEntriesMax: 10 };
  const w2 = put(replica1, write('b', 'v2', replica1.vector, { nowMs: 2 }), wide);
  const w3 = put(w2, write('c', 'v3', w2.vector, { nowMs: 3 }), wide);
  assert.deepEqual(values(syncObjects(replica1, w3)), ['v3']);
});

test('young vector entries are kept past the limit, so a superseded version (a deleted value) does not come back', () => {
  const limits = { siblingsMax: 100, vectorEntriesMax: 2, vectorPruneAgeMs: 1000 };
  // A stale replica still holds v1 of actor a; the other deletes it, then two writers advance it.
  const stale = put(undefined, write('a', 'v1', [], { nowMs: 1 }), limits);
  const deleted = put(stale, write('b', '', stale.vector, { nowMs: 2, deleted: true }), limits);
  const later = put(deleted, write('c', 'v3', deleted.vector, { nowMs: 3 }), limits);
  assert.deepEqual(later.vector.map((entry) => entry.actor), ['a', 'b', 'c'], 'a is young: kept past 2 entries');
  assert.deepEqual(values(syncObjects(stale, later)), ['v3'], 'v1 stays superseded');
  // Once a's entry is old, pruning may forget it (the caveat above), and v1 looks concurrent again.
  const muchLater = put(later, write('d', 'v4', later.vector, { nowMs: 2000 }), limits);
  assert.deepEqual(muchLater.vector.map((entry) => entry.actor), ['c', 'd']);
  assert.deepEqual(values(syncObjects(stale, muchLater)), ['v1', 'v4']);
});

test('context entries (which carry no time) count as learned when the write lands, not as the oldest', () => {
  const limits = { siblingsMax: 100, vectorEntriesMax: 1, vectorPruneAgeMs: 1000 };
  const stale = put(undefined, write('a', 'v1', [], { nowMs: 1 }), limits);
  const context = stale.vector.map((entry) => ({ ...entry, timeMs: 0 })); // as core/context.ts decodes it
  const elsewhere = put(undefined, write('x', 'v2', context, { nowMs: 10_000 }), limits);
  assert.deepEqual(elsewhere.vector.map((entry) => [entry.actor, entry.timeMs]), [['a', 10_000], ['x', 10_000]], 'a is young here: kept');
  assert.deepEqual(values(syncObjects(stale, elsewhere)), ['v2'], 'v1 stays superseded');
});

test('the vector always covers the object’s own siblings, even past the entry limit', () => {
  const limits = { siblingsMax: 100, vectorEntriesMax: 1 };
  let object: StoredObject | undefined;
  for (const actor of ['a', 'b', 'c', 'd']) object = put(object, write(actor, actor, [], { nowMs: 10 }), limits);
  assert.ok(object !== undefined);
  assert.equal(object.siblings.length, 4);
  assert.deepEqual(
    object.vector.map((entry) => entry.actor),
    ['a', 'b', 'c', 'd'],
  );
});

test('two copies of one dot that differ are reconciled the same way in either order', () => {
  const a = put(undefined, write('x', 'one', []));
  const b = put(undefined, write('x', 'two', []));
  assert.ok(objectsEqual(syncObjects(a, b), syncObjects(b, a)));
  assert.equal(syncObjects(a, b).siblings.length, 1);
});

test('a write id is applied once per replica, and a client is shown one sibling per write id', () => {
  const first = put(undefined, write('a', 'v', [], { writeId: 'e.1/7' }));
  const again = putObject(first, write('a', 'v', [], { writeId: 'e.1/7', nowMs: 2000 }), LIMITS);
  assert.ok(again.ok);
  assert.equal(again.object, first, 'the same write id again changes nothing');
  assert.deepEqual(again.dot, first.siblings[0]?.dot);
  // Another coordinator applied the same write under its own dot: two copies in storage.
  const elsewhere = put(undefined, write('b', 'v', [], { writeId: 'e.1/7' }));
  const merged = syncObjects(first, elsewhere);
  assert.equal(merged.siblings.length, 2, 'sync keeps both dots (plain dotted version vectors)');
  const shown = oneSiblingPerWrite(merged);
  assert.deepEqual(values(shown), ['v'], 'shown once');
  assert.deepEqual(shown.siblings[0]?.dot, { actor: 'a', counter: 1 }, 'the copy with the least dot');
  assert.deepEqual(shown.vector, merged.vector);
  const next = put(merged, write('c', 'w', shown.vector));
  assert.deepEqual(values(next), ['w'], 'a write from what was shown supersedes both copies');
  const plain = put(undefined, write('a', 'x', []));
  assert.equal(oneSiblingPerWrite(plain), plain);
  assert.throws(() => putObject(undefined, write('a', 'v', [], { writeId: '' }), LIMITS), /writeId must be a string of 1-128 characters/);
});

test('a superseded write id is remembered: a copy of the write arriving later is dropped, and not applied again', () => {
  const first = put(undefined, write('a', 'v1', [], { writeId: 'e/1', nowMs: 1000 }));
  const twin = put(undefined, write('b', 'v1', [], { writeId: 'e/1', nowMs: 1001 }));
  const newer = put(first, write('a', 'v2', first.vector, { writeId: 'e/2', nowMs: 1002 }));
  assert.deepEqual(newer.supersededWrites, [{ writeId: 'e/1', timeMs: 1000 }]);
  assert.deepEqual(values(syncObjects(newer, twin)), ['v2'], 'the twin is dropped by its id');
  assert.deepEqual(values(syncObjects(twin, newer)), ['v2']);
  const again = putObject(newer, write('c', 'v1', [], { writeId: 'e/1' }), LIMITS);
  assert.ok(again.ok && again.dot === undefined && again.object === newer, 'applied and superseded here: nothing to do');
});

test('superseded write ids are kept within the retention of the newest write, and at most SUPERSEDED_WRITES_MAX of them', () => {
  let object: StoredObject | undefined;
  for (let i = 0; i < SUPERSEDED_WRITES_MAX + 10; i++) object = put(object, write('a', `v${i}`, object?.vector ?? [], { writeId: `e/${i}`, nowMs: 1000 + i }));
  const ids = (object?.supersededWrites ?? []).map((entry) => entry.writeId);
  assert.equal(ids.length, SUPERSEDED_WRITES_MAX);
  assert.ok(!ids.includes('e/0') && ids.includes(`e/${SUPERSEDED_WRITES_MAX + 8}`), 'the newest are kept');
  const late = put(object, write('a', 'late', (object as StoredObject).vector, { writeId: 'e/late', nowMs: 1000 + SUPERSEDED_WRITE_RETENTION_MS + 100 }));
  // Its own predecessor was written more than the retention before it: nothing is left to remember.
  assert.equal(late.supersededWrites, undefined, 'older than the retention: forgotten');
});
