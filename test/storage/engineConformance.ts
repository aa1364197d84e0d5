/**
 * The StorageEngine contract, run against every engine (memoryEngine.test.ts,
 * lmdbEngine.test.ts). A harness opens a fresh, empty engine per test; engines that keep
 * data across a close also say how to reopen the same store.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { ScanEntry, StorageEngine, WriteOp } from '../../src/ports/storage.ts';
import { StorageError } from '../../src/ports/storage.ts';
import { KEY_BYTES_MAX, PARTITION_MAX } from '../../src/storage/keys.ts';
import { testSeed } from '../support/seed.ts';

export interface EngineInstance {
  readonly engine: StorageEngine;
  /** Opens the same store again (after `engine` was closed); absent for volatile engines. */
  readonly reopen?: () => Promise<StorageEngine>;
  /** Closes whatever is still open and removes the store's files. */
  readonly dispose: () => Promise<void>;
}

export interface EngineHarness {
  readonly name: string;
  open(): Promise<EngineInstance>;
  /** fast-check runs per property (each run opens a fresh engine). */
  readonly propertyRuns: number;
  /** Whether data survives close/reopen (then `EngineInstance.reopen` is required). */
  readonly persistent: boolean;
  /** The running test file's import.meta.url, for the seed's replay command. */
  readonly testFileUrl: string;
}

const bytes = (...values: number[]): Uint8Array => new Uint8Array(values);
const text = (s: string): Uint8Array => new TextEncoder().encode(s);
const put = (partition: number, key: Uint8Array, value: Uint8Array): WriteOp => ({ kind: 'put', partition, key, value });
const del = (partition: number, key: Uint8Array): WriteOp => ({ kind: 'delete', partition, key });

function hex(b: Uint8Array): string {
  return Buffer.from(b).toString('hex');
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  return Buffer.compare(a, b);
}

function assertPlainBytes(value: Uint8Array | undefined, expected: Uint8Array, message?: string): void {
  assert.ok(value !== undefined, message ?? `expected ${hex(expected)}, got undefined`);
  assert.equal(Object.getPrototypeOf(value), Uint8Array.prototype, 'engines return plain Uint8Arrays');
  assert.deepEqual(value, expected, message);
}

function scanAll(engine: StorageEngine, partition: number, pageSize = 1000): ScanEntry[] {
  const out: ScanEntry[] = [];
  let afterKey: Uint8Array | undefined;
  for (;;) {
    const page = engine.scanPartition(partition, afterKey === undefined ? { limit: pageSize } : { afterKey, limit: pageSize });
    out.push(...page);
    if (page.length < pageSize) return out;
    afterKey = (page[page.length - 1] as ScanEntry).key;
  }
}

async function withEngine(harness: EngineHarness, body: (instance: EngineInstance) => Promise<void>): Promise<void> {
  const instance = await harness.open();
  try {
    await body(instance);
  } finally {
    await instance.dispose();
  }
}

/** Registers the conformance tests for one engine. */
export function engineConformance(harness: EngineHarness): void {
  const test = (name: string, body: (engine: StorageEngine, instance: EngineInstance) => Promise<void>): void => {
    it(name, () => withEngine(harness, (instance) => body(instance.engine, instance)));
  };

  describe(`StorageEngine conformance: ${harness.name}`, () => {
    test('an empty engine has nothing', async (engine) => {
      assert.equal(engine.get(0, text('a')), undefined);
      assert.equal(engine.count(), 0);
      assert.deepEqual(engine.scanPartition(0, { limit: 10 }), []);
      assert.deepEqual(engine.scanPartition(PARTITION_MAX, { limit: 10 }), []);
    });

    test('put, get, overwrite and delete', async (engine) => {
      await engine.writeBatch([put(3, text('k'), text('v1'))], { durable: false });
      assertPlainBytes(engine.get(3, text('k')), text('v1'));
      await engine.writeBatch([put(3, text('k'), text('v2'))], { durable: true });
      assertPlainBytes(engine.get(3, text('k')), text('v2'));
      assert.equal(engine.count(), 1);
      await engine.writeBatch([del(3, text('k'))], { durable: false });
      assert.equal(engine.get(3, text('k')), undefined);
      assert.equal(engine.count(), 0);
      await engine.writeBatch([del(3, text('never-there'))], { durable: false });
      assert.equal(engine.count(), 0);
    });

    test('a batch applies its operations in order', async (engine) => {
      await engine.writeBatch([put(1, text('j'), text('old'))], { durable: false });
      await engine.writeBatch(
        [put(1, text('k'), text('a')), put(1, text('k'), text('b')), del(1, text('j')), put(1, text('j'), text('c')), put(1, text('x'), text('x')), del(1, text('x'))],
        { durable: true },
      );
      assertPlainBytes(engine.get(1, text('k')), text('b'));
      assertPlainBytes(engine.get(1, text('j')), text('c'));
      assert.equal(engine.get(1, text('x')), undefined);
      assert.equal(engine.count(), 2);
    });

    test('batches issued without waiting apply in call order', async (engine) => {
      const writes = [];
      for (let i = 0; i < 20; i++) writes.push(engine.writeBatch([put(0, text('k'), bytes(i))], { durable: i % 5 === 0 }));
      await Promise.all(writes);
      assertPlainBytes(engine.get(0, text('k')), bytes(19));
    });

    test('an invalid op rejects the whole batch and applies nothing', async (engine) => {
      const tooLong = new Uint8Array(KEY_BYTES_MAX + 1);
      await assert.rejects(
        engine.writeBatch([put(0, text('a'), text('1')), put(0, tooLong, text('2'))], { durable: false }),
        StorageError,
      );
      await assert.rejects(engine.writeBatch([put(0, text('b'), text('1')), put(PARTITION_MAX + 1, text('b'), text('2'))], { durable: false }), StorageError);
      await assert.rejects(engine.writeBatch([put(-1, text('c'), text('1'))], { durable: true }), StorageError);
      await assert.rejects(engine.writeBatch([put(1.5, text('c'), text('1'))], { durable: true }), StorageError);
      assert.equal(engine.get(0, text('a')), undefined);
      assert.equal(engine.get(0, text('b')), undefined);
      assert.equal(engine.count(), 0);
      assert.throws(() => engine.get(0, tooLong), StorageError);
      assert.throws(() => engine.get(PARTITION_MAX + 1, text('a')), StorageError);
      assert.throws(() => engine.scanPartition(-1, { limit: 1 }), StorageError);
    });

    test('an empty batch resolves, durable or not', async (engine) => {
      await engine.writeBatch([], { durable: false });
      await engine.writeBatch([], { durable: true });
      assert.equal(engine.count(), 0);
    });

    test('partitions are isolated, the lowest and highest included', async (engine) => {
      const partitions = [0, 1, 2, 255, 256, PARTITION_MAX - 1, PARTITION_MAX];
      await engine.writeBatch(
        partitions.map((p) => put(p, text('same-key'), text(`value-${p}`))),
        { durable: false },
      );
      await engine.writeBatch([put(1, text('other'), text('x'))], { durable: false });
      for (const p of partitions) assertPlainBytes(engine.get(p, text('same-key')), text(`value-${p}`));
      for (const p of partitions) {
        const scanned = scanAll(engine, p).map((e) => new TextDecoder().decode(e.key));
        assert.deepEqual(scanned, p === 1 ? ['other', 'same-key'] : ['same-key'], `partition ${p}`);
      }
      assert.deepEqual(engine.scanPartition(3, { limit: 10 }), []);
      await engine.writeBatch([del(PARTITION_MAX, text('same-key'))], { durable: false });
      assert.equal(engine.get(PARTITION_MAX, text('same-key')), undefined);
      assertPlainBytes(engine.get(PARTITION_MAX - 1, text('same-key')), text(`value-${PARTITION_MAX - 1}`));
      assert.equal(engine.count(), partitions.length);
    });

    test('binary keys scan in byte-wise order, edge bytes and the empty key included', async (engine) => {
      const keys = [
        bytes(),
        bytes(0x00),
        bytes(0x00, 0x00),
        bytes(0x00, 0x01),
        bytes(0x01),
        bytes(0x7f),
        bytes(0x80),
        bytes(0xfe, 0xff),
        bytes(0xff),
        bytes(0xff, 0x00),
        bytes(0xff, 0xff),
        bytes(0xff, 0xff, 0xff),
        new Uint8Array(KEY_BYTES_MAX).fill(0xff),
      ];
      const shuffled = [...keys].reverse();
      await engine.writeBatch(
        shuffled.map((k, i) => put(7, k, bytes(i))),
        { durable: false },
      );
      // Neighbouring partitions hold keys that would sort inside the range if prefixes leaked.
      await engine.writeBatch([put(6, bytes(0xff, 0xff), text('p6')), put(8, bytes(), text('p8'))], { durable: false });
      const scanned = engine.scanPartition(7, { limit: 100 });
      assert.deepEqual(scanned.map((e) => hex(e.key)), keys.map(hex));
      for (const entry of scanned) {
        assert.equal(Object.getPrototypeOf(entry.key), Uint8Array.prototype);
        assert.equal(Object.getPrototypeOf(entry.value), Uint8Array.prototype);
      }
      assertPlainBytes(engine.get(7, bytes()), bytes(shuffled.indexOf(keys[0] as Uint8Array)));
    });

    test('afterKey pages through a partition, exclusive and also between stored keys', async (engine) => {
      const keys = Array.from({ length: 10 }, (_, i) => bytes(i * 2));
      await engine.writeBatch(keys.map((k) => put(5, k, k)), { durable: false });
      const first = engine.scanPartition(5, { limit: 3 });
      assert.deepEqual(first.map((e) => e.key[0]), [0, 2, 4]);
      const second = engine.scanPartition(5, { afterKey: bytes(4), limit: 3 });
      assert.deepEqual(second.map((e) => e.key[0]), [6, 8, 10]);
      const between = engine.scanPartition(5, { afterKey: bytes(5), limit: 2 });
      assert.deepEqual(between.map((e) => e.key[0]), [6, 8]);
      const prefix = engine.scanPartition(5, { afterKey: bytes(4, 0), limit: 1 });
      assert.deepEqual(prefix.map((e) => e.key[0]), [6]);
      assert.deepEqual(engine.scanPartition(5, { afterKey: bytes(18), limit: 3 }), []);
      assert.deepEqual(engine.scanPartition(5, { afterKey: bytes(0xff), limit: 3 }), []);
      assert.deepEqual(engine.scanPartition(5, { limit: 0 }), []);
      assert.deepEqual(engine.scanPartition(5, { afterKey: bytes(), limit: 1 }).map((e) => e.key[0]), [0]);
      assert.deepEqual(scanAll(engine, 5, 3).map((e) => e.key[0]), keys.map((k) => k[0]));
      for (const entry of first) assert.deepEqual(entry.value, entry.key, 'earlier scan results stay intact');
    });

    test('values are arbitrary bytes: empty, edge bytes, 1 MiB', async (engine) => {
      const large = new Uint8Array(1 << 20).map((_, i) => (i * 7919) & 0xff);
      const values = [bytes(), bytes(0), bytes(0xff, 0x00, 0xff), large];
      await engine.writeBatch(values.map((v, i) => put(9, bytes(i), v)), { durable: true });
      values.forEach((v, i) => assertPlainBytes(engine.get(9, bytes(i)), v));
    });

    test('stored bytes are independent of the arrays passed in and returned', async (engine) => {
      const value = text('original');
      await engine.writeBatch([put(0, text('k'), value)], { durable: false });
      value.fill(0);
      const read = engine.get(0, text('k')) as Uint8Array;
      assert.deepEqual(read, text('original'));
      read.fill(0);
      assert.deepEqual(engine.get(0, text('k')), text('original'));
    });

    test('after close, reads throw and writes reject with StorageError', async (engine) => {
      await engine.writeBatch([put(0, text('k'), text('v'))], { durable: true });
      await engine.close();
      assert.throws(() => engine.get(0, text('k')), StorageError);
      assert.throws(() => engine.scanPartition(0, { limit: 1 }), StorageError);
      await assert.rejects(engine.writeBatch([put(0, text('k'), text('w'))], { durable: false }), StorageError);
    });

    if (harness.persistent) it('persists across close and reopen (durable and non-durable batches)', async () => {
      await withEngine(harness, async (instance) => {
        assert.ok(instance.reopen !== undefined, 'a persistent engine can be reopened');
        await instance.engine.writeBatch([put(1, text('a'), text('1')), put(2, bytes(0xff), bytes(0))], { durable: true });
        await instance.engine.writeBatch([put(1, text('b'), text('2')), del(1, text('a'))], { durable: false });
        await instance.engine.close();
        const reopened = await instance.reopen();
        try {
          assert.equal(reopened.get(1, text('a')), undefined);
          assertPlainBytes(reopened.get(1, text('b')), text('2'));
          assertPlainBytes(reopened.get(2, bytes(0xff)), bytes(0));
          assert.equal(reopened.count(), 2);
        } finally {
          await reopened.close();
        }
      });
    });

    it('matches a model Map over random batches (property)', async (t) => {
      const seed = testSeed(t, harness.testFileUrl);
      const partition = fc.constantFrom(0, 1, 2, PARTITION_MAX);
      const key = fc.oneof(
        fc.uint8Array({ maxLength: 3 }).map((k) => k.map((b) => [0, 1, 0x7f, 0x80, 0xff][b % 5] as number)),
        fc.uint8Array({ minLength: 0, maxLength: 4 }),
      );
      const op: fc.Arbitrary<WriteOp> = fc.oneof(
        fc.record({ kind: fc.constant('put' as const), partition, key, value: fc.uint8Array({ maxLength: 8 }) }),
        fc.record({ kind: fc.constant('delete' as const), partition, key }),
      );
      const batches = fc.array(fc.record({ ops: fc.array(op, { maxLength: 8 }), durable: fc.boolean(), awaited: fc.boolean() }), {
        maxLength: 12,
      });
      await fc.assert(
        fc.asyncProperty(batches, fc.integer({ min: 1, max: 4 }), async (sequence, pageSize) => {
          await withEngine(harness, async ({ engine }) => {
            const model = new Map<string, { partition: number; key: Uint8Array; value: Uint8Array }>();
            const pending: Promise<void>[] = [];
            for (const batch of sequence) {
              const written = engine.writeBatch(batch.ops, { durable: batch.durable });
              for (const o of batch.ops) {
                const id = `${o.partition}/${hex(o.key)}`;
                if (o.kind === 'put') model.set(id, { partition: o.partition, key: o.key, value: o.value });
                else model.delete(id);
              }
              if (batch.awaited) await written;
              else pending.push(written);
            }
            await Promise.all(pending);
            assert.equal(engine.count(), model.size);
            for (const p of [0, 1, 2, PARTITION_MAX]) {
              const expected = [...model.values()].filter((e) => e.partition === p).sort((a, b) => compareBytes(a.key, b.key));
              const scanned = scanAll(engine, p, pageSize);
              assert.deepEqual(
                scanned.map((e) => [hex(e.key), hex(e.value)]),
                expected.map((e) => [hex(e.key), hex(e.value)]),
                `partition ${p}`,
              );
              for (const e of expected) assert.deepEqual(engine.get(p, e.key), e.value);
            }
          });
        }),
        { seed, numRuns: harness.propertyRuns },
      );
    });
  });
}
