/**
 * Tombstone reaping rules (core/antiEntropy/reaping.ts): when each step is due, and why a
 * reaped marker is safe — it supersedes every version the tombstone superseded, and a new
 * write after it gets a dot past it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isReapedMarker, isTombstone, reaped, reapStepDue } from '../../../src/core/antiEntropy/reaping.ts';
import { putObject, syncObjects, type StoredObject } from '../../../src/core/object.ts';

const enc = new TextEncoder();
const limits = { siblingsMax: 100, vectorEntriesMax: 10 };
const settings = { tombstoneGraceMs: 1000, markerRetentionMs: 10_000 };

function write(current: StoredObject | undefined, actor: string, nowMs: number, deleted = false, value = 'v'): StoredObject {
  const outcome = putObject(current, { context: current?.vector ?? [], actor, value: enc.encode(value), contentType: 'text/plain', deleted, nowMs }, limits);
  assert.ok(outcome.ok);
  return outcome.object;
}

test('a tombstone is due for its marker after the grace period, a marker for removal after the retention', () => {
  const value = write(undefined, 'a', 100);
  const tombstone = write(value, 'b', 200, true);
  assert.equal(isTombstone(tombstone), true);
  assert.equal(reapStepDue(value, 1_000_000, settings), undefined, 'a value is never reaped');
  assert.equal(reapStepDue(tombstone, 1199, settings), undefined);
  assert.equal(reapStepDue(tombstone, 1200, settings), 'to-marker');
  const marker = reaped(tombstone, 'to-marker');
  assert.ok(marker !== undefined && isReapedMarker(marker) && !isTombstone(marker));
  assert.deepEqual(marker.vector, tombstone.vector);
  assert.equal(reapStepDue(marker, 10_199, settings), undefined);
  assert.equal(reapStepDue(marker, 10_200, settings), 'remove');
  assert.equal(reaped(marker, 'remove'), undefined);
});

test('a tombstone with a live sibling beside it (a concurrent write) is not a tombstone', () => {
  const value = write(undefined, 'a', 100);
  const concurrent = syncObjects(write(value, 'b', 200, true), write(value, 'c', 300, false, 'other'));
  assert.equal(concurrent.siblings.length, 2);
  assert.equal(isTombstone(concurrent), false);
  assert.equal(reapStepDue(concurrent, 1_000_000, settings), undefined);
});

test('an old copy merged into a marker vanishes; a write after the marker supersedes it with a fresh dot', () => {
  const value = write(undefined, 'a', 100);
  const marker = reaped(write(value, 'a', 200, true), 'to-marker') as StoredObject;
  assert.deepEqual(syncObjects(marker, value), marker, 'the deleted value does not come back');
  assert.deepEqual(syncObjects(value, marker), marker);
  const reborn = write(marker, 'a', 300, false, 'new');
  assert.equal(reborn.siblings.length, 1);
  assert.ok((reborn.siblings[0]?.dot.counter ?? 0) > 2, 'the new dot is past every dot the marker covers');
  assert.deepEqual(syncObjects(marker, reborn), reborn, 'and the marker does not hide it');
});
