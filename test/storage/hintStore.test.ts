import assert from 'node:assert/strict';
import { test } from 'node:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { putObject, type StoredObject } from '../../src/core/object.ts';
import { StorageError } from '../../src/ports/storage.ts';
import { HintsFullError, HintStore } from '../../src/storage/hintStore.ts';
import { openLmdbEngine } from '../../src/storage/lmdbEngine.ts';
import { MemoryEngine } from '../../src/storage/memoryEngine.ts';

const enc = new TextEncoder();
const limits = { siblingsMax: 10, vectorEntriesMax: 10 };

function version(value: string, actor: string, base?: StoredObject): StoredObject {
  const result = putObject(base, { context: base?.vector ?? [], actor, value: enc.encode(value), contentType: 'text/plain', deleted: false, nowMs: 1 }, limits);
  assert.ok(result.ok);
  return result.object;
}

const values = (object: StoredObject | undefined): string[] => (object?.siblings ?? []).map((s) => new TextDecoder().decode(s.value)).sort();

test('hints for one target and key merge (syncObjects) instead of piling up', async () => {
  const store = new HintStore(new MemoryEngine(), { hintsMax: 10 });
  const k = enc.encode('k');
  await store.put('c', 5, k, version('x', 'a.1'), { durable: false });
  await store.put('c', 5, k, version('y', 'b.1'), { durable: true });
  assert.deepEqual(values(store.get('c', 5, k)), ['x', 'y'], 'concurrent versions both kept');
  assert.deepEqual(store.counts(), { total: 1, byTarget: new Map([['c', 1]]) });
  // A stale hint never erases a newer version.
  const older = version('old', 'z.1');
  const newer = version('new', 'z.1', older);
  await store.put('d', 5, k, newer, { durable: false });
  await store.put('d', 5, k, older, { durable: false });
  assert.deepEqual(values(store.get('d', 5, k)), ['new']);
  assert.deepEqual(values(store.getForAny(['a', 'c', 'd'], 5, k)), ['new', 'x', 'y'], 'a read at a fallback sees every hint for the key');
  assert.equal(store.getForAny(['a'], 5, k), undefined);
});

test('concurrent hint writes for one key never lose a version (atomic read-modify-write)', async () => {
  const engine = new MemoryEngine();
  engine.pauseWrites();
  const store = new HintStore(engine, { hintsMax: 10 });
  const k = enc.encode('k');
  const writes = ['p', 'q', 'r'].map((v, i) => store.put('c', 1, k, version(v, `n${i}.1`), { durable: false }));
  assert.deepEqual(values(store.get('c', 1, k)), ['p', 'q', 'r'], 'reads see the writes in flight');
  engine.resumeWrites();
  await Promise.all(writes);
  assert.deepEqual(values(new HintStore(engine, { hintsMax: 10 }).get('c', 1, k)), ['p', 'q', 'r'], 'the engine holds all three');
});

test('the store is bounded: a hint for a new entry past hintsMax is refused', async () => {
  const store = new HintStore(new MemoryEngine(), { hintsMax: 2 });
  await store.put('c', 0, enc.encode('a'), version('1', 'x.1'), { durable: false });
  await store.put('d', 0, enc.encode('b'), version('2', 'x.1'), { durable: false });
  await assert.rejects(store.put('c', 0, enc.encode('c'), version('3', 'x.1'), { durable: false }), HintsFullError);
  await store.put('c', 0, enc.encode('a'), version('4', 'y.1'), { durable: false });
  assert.equal(store.counts().total, 2, 'a hint for an existing entry still merges');
  await assert.rejects(new HintStore(new MemoryEngine(), { hintsMax: 0 }).put('c', 0, enc.encode('a'), version('1', 'x.1'), { durable: false }), HintsFullError);
});

test('delivery scans one target in pages and removes a hint only if it did not change', async () => {
  const engine = new MemoryEngine();
  const store = new HintStore(engine, { hintsMax: 100 });
  for (let i = 0; i < 5; i++) await store.put('c', i, enc.encode(`key${i}`), version(`v${i}`, 'a.1'), { durable: false });
  await store.put('cc', 0, enc.encode('other'), version('o', 'a.1'), { durable: false });
  await store.put('b', 0, enc.encode('other'), version('o', 'a.1'), { durable: false });
  const first = store.scan('c', 3);
  assert.deepEqual(first.map((h) => h.partition), [0, 1, 2]);
  assert.ok(first.every((h) => h.target === 'c'));
  const rest = store.scan('c', 3, first[2]?.cursor);
  assert.deepEqual(rest.map((h) => new TextDecoder().decode(h.key)), ['key3', 'key4'], 'the scan stops at the end of the target');
  assert.deepEqual(store.targets(), ['b', 'c', 'cc']);

  const hint = first[0];
  assert.ok(hint !== undefined);
  await store.put('c', hint.partition, hint.key, version('late', 'b.1'), { durable: false });
  assert.equal(await store.removeIfUnchanged(hint, hint.object), false, 'a hint merged after delivery stays');
  const changed = store.get('c', hint.partition, hint.key);
  assert.ok(changed !== undefined);
  assert.equal(await store.removeIfUnchanged(hint, changed), true);
  assert.equal(store.get('c', hint.partition, hint.key), undefined);
  assert.deepEqual(store.counts().byTarget.get('c'), 4);
  assert.equal(new HintStore(engine, { hintsMax: 100 }).counts().total, 6, 'counts are rebuilt from the engine at open');
});

test('a failed engine write is reported and the count stays right', async () => {
  const engine = new MemoryEngine();
  const store = new HintStore(engine, { hintsMax: 10 });
  engine.failNextWrites(1);
  await assert.rejects(store.put('c', 0, enc.encode('k'), version('v', 'a.1'), { durable: true }), StorageError);
  assert.equal(store.counts().total, 0);
  assert.equal(store.get('c', 0, enc.encode('k')), undefined);
  await assert.rejects(store.put('c', 0, new Uint8Array(2000), version('v', 'a.1'), { durable: false }), /too long to hint/);
});

test('LMDB keeps hints in their own database, apart from the objects', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'shoal-hints-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const engine = openLmdbEngine({ path: dir });
  const store = new HintStore(engine.hints, { hintsMax: 10 });
  await store.put('c', 7, enc.encode('k'), version('v', 'a.1'), { durable: true });
  assert.equal(engine.count(), 0, 'the objects database holds no hint');
  await store.close();
  await engine.close();
  const reopened = openLmdbEngine({ path: dir });
  t.after(() => reopened.close());
  const again = new HintStore(reopened.hints, { hintsMax: 10 });
  assert.deepEqual(values(again.get('c', 7, enc.encode('k'))), ['v']);
  assert.equal(again.counts().total, 1);
});
