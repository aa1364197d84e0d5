import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { StorageError } from '../../src/ports/storage.ts';
import { MemoryEngine, MemoryMetaStore } from '../../src/storage/memoryEngine.ts';
import { engineConformance } from './engineConformance.ts';

engineConformance({
  name: 'memory',
  testFileUrl: import.meta.url,
  persistent: false,
  propertyRuns: 200,
  async open() {
    const engine = new MemoryEngine();
    return { engine, dispose: () => engine.close() };
  },
});

const text = (s: string): Uint8Array => new TextEncoder().encode(s);

describe('MemoryEngine fault injection', () => {
  it('failNextWrites rejects exactly the next batches and applies nothing of them', async () => {
    const engine = new MemoryEngine();
    const boom = new StorageError('disk on fire');
    engine.failNextWrites(2, boom);
    await assert.rejects(engine.writeBatch([{ kind: 'put', partition: 0, key: text('a'), value: text('1') }], { durable: true }), boom);
    await assert.rejects(engine.writeBatch([{ kind: 'put', partition: 0, key: text('b'), value: text('1') }], { durable: false }), boom);
    await engine.writeBatch([{ kind: 'put', partition: 0, key: text('c'), value: text('1') }], { durable: false });
    assert.equal(engine.get(0, text('a')), undefined);
    assert.equal(engine.get(0, text('b')), undefined);
    assert.deepEqual(engine.get(0, text('c')), text('1'));
    assert.equal(engine.batchesWritten, 1);
  });

  it('failNextReads makes get and scan throw, then recovers', async () => {
    const engine = new MemoryEngine();
    engine.failNextReads(2);
    assert.throws(() => engine.get(0, text('a')), StorageError);
    assert.throws(() => engine.scanPartition(0, { limit: 1 }), StorageError);
    assert.equal(engine.get(0, text('a')), undefined);
  });

  it('pauseWrites holds batches in order until resumeWrites; a batch is invisible until it resolves', async () => {
    const engine = new MemoryEngine();
    engine.pauseWrites();
    let resolved = 0;
    const first = engine.writeBatch([{ kind: 'put', partition: 0, key: text('k'), value: text('1') }], { durable: false }).then(() => resolved++);
    const second = engine.writeBatch([{ kind: 'put', partition: 0, key: text('k'), value: text('2') }], { durable: true }).then(() => resolved++);
    await new Promise((r) => setImmediate(r));
    assert.equal(resolved, 0);
    assert.equal(engine.queuedBatches, 2);
    assert.equal(engine.get(0, text('k')), undefined);
    engine.resumeWrites();
    await Promise.all([first, second]);
    assert.deepEqual(engine.get(0, text('k')), text('2'));
    assert.equal(engine.durableBatchesWritten, 1);
  });

  it('close rejects batches still held by pauseWrites', async () => {
    const engine = new MemoryEngine();
    engine.pauseWrites();
    const held = engine.writeBatch([{ kind: 'put', partition: 0, key: text('k'), value: text('1') }], { durable: false });
    await engine.close();
    await assert.rejects(held, StorageError);
  });
});

describe('MemoryMetaStore', () => {
  it('stores JSON records by value', async () => {
    const meta = new MemoryMetaStore();
    const record = { epoch: 3, members: ['a', 'b'] };
    await meta.put('node', record);
    record.members.push('c');
    assert.deepEqual(meta.get('node'), { epoch: 3, members: ['a', 'b'] });
    assert.equal(meta.get('missing'), undefined);
  });
});
