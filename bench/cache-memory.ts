/**
 * What one cached object really costs in memory, against what the read cache charges for
 * it (storage/objectStore.ts cacheChargeOf): an object store over an in-memory engine,
 * its cache filled by reading `--objects` keys twice each (W-TinyLFU caches a key the
 * second time it is asked for), the heap and the array buffers measured after a full GC
 * before and after. Runs itself under `node --expose-gc`.
 *
 *   npm run bench:cache-memory -- [--objects 50000] [--value-bytes 100]
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { putObject, type StoredObject } from '../src/core/object.ts';
import { MemoryEngine } from '../src/storage/memoryEngine.ts';
import { encodeObject } from '../src/storage/objectCodec.ts';
import { ObjectStore, cacheChargeOf } from '../src/storage/objectStore.ts';
import { ManualClock } from '../src/sim/simClock.ts';
import { parseFlags, usage, type FlagSpec } from './lib/args.ts';
import { commandLine, machineFacts } from './lib/machine.ts';
import { log, runMain, saveResults } from './lib/report.ts';

const flagSpec = {
  numbers: {
    objects: { default: 50_000, min: 1, integer: true, help: 'objects to cache' },
    'value-bytes': { default: 100, min: 1, integer: true, help: 'value size, bytes' },
  },
  strings: {},
} satisfies FlagSpec;

const gc = (globalThis as { gc?: () => void }).gc;

function heapNow(): { heapUsed: number; arrayBuffers: number } {
  (gc as () => void)();
  (gc as () => void)();
  const usage = process.memoryUsage();
  return { heapUsed: usage.heapUsed, arrayBuffers: usage.arrayBuffers };
}

async function main(): Promise<void> {
  const flags = parseFlags(process.argv.slice(2), flagSpec);
  if (flags.help) {
    process.stderr.write(usage('bench/cache-memory.ts', flagSpec) + '\n');
    return;
  }
  if (gc === undefined) {
    const child = spawnSync(process.execPath, ['--expose-gc', '--import', 'tsx', fileURLToPath(import.meta.url), ...process.argv.slice(2)], { stdio: 'inherit' });
    process.exitCode = child.status ?? 1;
    return;
  }
  const objects = flags.numbers.objects as number;
  const valueBytes = flags.numbers['value-bytes'] as number;
  const engine = new MemoryEngine();
  const key = (i: number): Uint8Array => new TextEncoder().encode(`user${String(i).padStart(12, '0')}`);
  let sample: StoredObject | undefined;
  // Written as a client's put through one coordinator and two replicas would leave them: a dot and a vector of three actors.
  const ops = Array.from({ length: objects }, (_, i) => {
    let object: StoredObject | undefined;
    for (const actor of ['node1.1', 'node2.1', 'node3.1']) {
      const outcome = putObject(object, { context: object?.vector ?? [], actor, value: new Uint8Array(valueBytes).fill(97 + (i % 26)), contentType: 'application/octet-stream', deleted: false, nowMs: 1_765_000_000_000 + i }, { siblingsMax: 100, vectorEntriesMax: 10 });
      if (!outcome.ok) throw new Error('put refused');
      object = outcome.object;
    }
    sample ??= object;
    return { kind: 'put' as const, partition: i % 64, key: key(i), value: encodeObject(object as StoredObject) };
  });
  await engine.writeBatch(ops, { durable: true });
  ops.length = 0;
  const store = new ObjectStore(engine, new ManualClock(), { cache: { policy: 'tinylfu', objectsMax: objects * 2, bytesMax: Number.MAX_SAFE_INTEGER } });
  const before = heapNow();
  for (let round = 0; round < 2; round++) for (let i = 0; i < objects; i++) store.get(i % 64, key(i));
  const after = heapNow();
  const stats = store.cacheStats();
  const encodedBytes = encodeObject(sample as StoredObject).length;
  const perObject = {
    heapBytes: (after.heapUsed - before.heapUsed) / stats.objects,
    arrayBufferBytes: (after.arrayBuffers - before.arrayBuffers) / stats.objects,
  };
  const measured = perObject.heapBytes + perObject.arrayBufferBytes;
  const charged = cacheChargeOf(new Uint8Array(encodedBytes));
  const results = {
    benchmark: 'cache-memory',
    question: 'Does the read cache charge each object at least what it costs in memory?',
    command: commandLine(),
    machine: machineFacts(),
    objects: stats.objects,
    encodedBytes,
    perObject,
    measuredBytesPerObject: measured,
    chargedBytesPerObject: charged,
    measuredOverCharged: measured / charged,
  };
  log(`${stats.objects} objects of ${encodedBytes} encoded bytes cached: ${measured.toFixed(0)} bytes each (heap ${perObject.heapBytes.toFixed(0)}, array buffers ${perObject.arrayBufferBytes.toFixed(0)}); charged ${charged}`);
  for (const file of saveResults('cache-memory', results)) log(`results: ${file}`);
  process.stdout.write(JSON.stringify(results, null, 2) + '\n');
}

runMain(main);
