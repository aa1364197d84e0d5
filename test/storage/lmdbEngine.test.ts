import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { StoredObject } from '../../src/core/object.ts';
import { systemClock } from '../../src/io/systemClock.ts';
import type { StorageEngine } from '../../src/ports/storage.ts';
import { StorageError } from '../../src/ports/storage.ts';
import { openLmdbEngine } from '../../src/storage/lmdbEngine.ts';
import { ObjectStore } from '../../src/storage/objectStore.ts';
import { engineConformance } from './engineConformance.ts';

const root = mkdtempSync(join(tmpdir(), 'shoal-lmdb-test-'));
after(() => rmSync(root, { recursive: true, force: true }));
let dirs = 0;
const freshDir = (): string => join(root, `db-${dirs++}`);

engineConformance({
  name: 'lmdb',
  testFileUrl: import.meta.url,
  persistent: true,
  propertyRuns: 40,
  async open() {
    const path = freshDir();
    const open: StorageEngine[] = [openLmdbEngine({ path })];
    return {
      engine: open[0] as StorageEngine,
      reopen: async () => {
        const engine = openLmdbEngine({ path });
        open.push(engine);
        return engine;
      },
      dispose: async () => {
        for (const engine of open) await engine.close();
        rmSync(path, { recursive: true, force: true });
      },
    };
  },
});

describe('LMDB engine specifics', () => {
  it('keeps node metadata in its own database, durable across reopen, out of scans', async () => {
    const path = freshDir();
    const engine = openLmdbEngine({ path, mapSizeBytes: 16 << 20 });
    await engine.meta.put('node', { epoch: 7, id: 'n1' });
    await engine.meta.put('flags', [true, null, 1.5]);
    assert.equal(engine.count(), 0);
    assert.deepEqual(engine.scanPartition(0, { limit: 10 }), []);
    await engine.close();
    const again = openLmdbEngine({ path });
    try {
      assert.deepEqual(again.meta.get('node'), { epoch: 7, id: 'n1' });
      assert.deepEqual(again.meta.get('flags'), [true, null, 1.5]);
      assert.equal(again.meta.get('missing'), undefined);
    } finally {
      await again.close();
    }
    assert.throws(() => again.meta.get('node'), StorageError);
  });

  it('fails to open with a StorageError when the path is not a directory', () => {
    const path = join(root, 'a-file');
    writeFileSync(path, 'not a database');
    assert.throws(() => openLmdbEngine({ path: join(path, 'sub') }), StorageError);
  });
});

describe('ObjectStore over LMDB', () => {
  it('close() flushes buffered writes so a reopened store reads them', async () => {
    const path = freshDir();
    const object = (n: number): StoredObject => ({
      vector: [{ actor: 'n1.1', counter: n, timeMs: 1000 }],
      siblings: [{ value: new Uint8Array([n]), contentType: '', deleted: false, dot: { actor: 'n1.1', counter: n }, timeMs: 1000 }],
    });
    const store = new ObjectStore(openLmdbEngine({ path }), systemClock, { flushIntervalMs: 60_000 });
    for (let n = 1; n <= 50; n++) await store.update(n % 3, new Uint8Array([n]), () => object(n), { durable: false });
    assert.deepEqual(await store.update(0, new Uint8Array([99]), () => object(99), { durable: true }), object(99));
    await store.close();
    const reopened = new ObjectStore(openLmdbEngine({ path }), systemClock);
    try {
      for (let n = 1; n <= 50; n++) assert.deepEqual(reopened.get(n % 3, new Uint8Array([n])), object(n));
      assert.deepEqual(reopened.get(0, new Uint8Array([99])), object(99));
    } finally {
      await reopened.close();
    }
  });
});
