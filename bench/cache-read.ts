/**
 * The read cache in process, without the network: an object store over LMDB holding
 * `--records` objects (written as a 3-node put leaves them), read `--reads` times with
 * YCSB's scrambled zipfian keys, with the cache (TinyLFU, LRU) and without, in alternating
 * rounds. Per configuration: CPU per read (process.cpuUsage), garbage-collection time per
 * read (perf_hooks 'gc' entries), the hit ratio and the admissions. This isolates what the
 * cache saves and costs from a node's request handling, which bench:cache measures whole.
 *
 *   npm run bench:cache-read -- [--records 200000] [--reads 1000000] [--cache-share 0.05] [--rounds 2]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PerformanceObserver } from 'node:perf_hooks';
import { putObject, type StoredObject } from '../src/core/object.ts';
import { openLmdbEngine } from '../src/storage/lmdbEngine.ts';
import { encodeObject } from '../src/storage/objectCodec.ts';
import { ObjectStore } from '../src/storage/objectStore.ts';
import { ManualClock } from '../src/sim/simClock.ts';
import { Prng } from '../src/sim/prng.ts';
import { parseFlags, usage, type FlagSpec } from './lib/args.ts';
import { commandLine, machineFacts } from './lib/machine.ts';
import { formatTable, log, median, runMain, saveResults } from './lib/report.ts';
import { ScrambledZipfianGenerator } from './lib/zipfian.ts';

const flagSpec = {
  numbers: {
    records: { default: 200_000, min: 1, integer: true, help: 'objects stored' },
    reads: { default: 1_000_000, min: 1000, integer: true, help: 'reads measured per round and configuration (as many again warm up)' },
    'cache-share': { default: 0.05, min: 0.0001, help: 'objects the cache holds, as a share of the records' },
    rounds: { default: 2, min: 1, integer: true, help: 'rounds (alternating configurations)' },
    seed: { default: 1, min: 0, integer: true, help: 'seed of the key draws' },
  },
  strings: {},
} satisfies FlagSpec;

type Config = 'tinylfu' | 'lru' | 'off';
const CONFIGS: readonly Config[] = ['tinylfu', 'lru', 'off'];
const PARTITIONS = 64;

interface Round {
  config: Config;
  cpuUsPerRead: number;
  gcUsPerRead: number;
  hitRatio: number | null;
  admittedPerMillion: number;
}

async function main(): Promise<void> {
  const flags = parseFlags(process.argv.slice(2), flagSpec);
  if (flags.help) {
    process.stderr.write(usage('bench/cache-read.ts', flagSpec) + '\n');
    return;
  }
  const n = flags.numbers as Record<keyof typeof flagSpec.numbers, number>;
  log(`seed=${n.seed} (replay: ${commandLine()})`);
  const dir = mkdtempSync(join(tmpdir(), 'shoal-cache-read-'));
  try {
    const engine = openLmdbEngine({ path: dir });
    const keys = Array.from({ length: n.records }, (_, i) => new TextEncoder().encode(`user${String(i).padStart(12, '0')}`));
    await load(engine, keys);
    let gcMs = 0;
    new PerformanceObserver((list) => {
      for (const entry of list.getEntries()) gcMs += entry.duration;
    }).observe({ entryTypes: ['gc'] });
    const chooser = new ScrambledZipfianGenerator(n.records, Prng.fromSeed(n.seed));
    const draws = Int32Array.from({ length: 2 * n.reads }, () => chooser.next());
    const rounds: Round[] = [];
    for (let round = 0; round < n.rounds; round++) {
      for (const config of round % 2 === 0 ? CONFIGS : [...CONFIGS].reverse()) {
        const objectsMax = Math.max(1, Math.floor(n.records * n['cache-share']));
        const store = new ObjectStore(engine, new ManualClock(), config === 'off' ? {} : { cache: { policy: config, objectsMax, bytesMax: Number.MAX_SAFE_INTEGER } });
        for (let i = 0; i < n.reads; i++) readAt(store, keys, draws[i] as number);
        const before = store.cacheStats();
        gcMs = 0;
        const cpu = process.cpuUsage();
        for (let i = n.reads; i < 2 * n.reads; i++) readAt(store, keys, draws[i] as number);
        const used = process.cpuUsage(cpu);
        await new Promise((resolve) => setTimeout(resolve, 50)); // the gc entries arrive asynchronously
        const after = store.cacheStats();
        const lookups = after.hits - before.hits + (after.misses - before.misses);
        const result: Round = {
          config,
          cpuUsPerRead: (used.user + used.system) / n.reads,
          gcUsPerRead: (gcMs * 1000) / n.reads,
          hitRatio: config === 'off' ? null : (after.hits - before.hits) / lookups,
          admittedPerMillion: ((after.admitted - before.admitted) * 1e6) / n.reads,
        };
        rounds.push(result);
        log(`${config} round ${round + 1}: ${result.cpuUsPerRead.toFixed(2)} us CPU per read, ${result.gcUsPerRead.toFixed(2)} us of it GC, hit ratio ${result.hitRatio?.toFixed(3) ?? '-'}`);
      }
    }
    await engine.close();
    const summary = CONFIGS.map((config) => {
      const mine = rounds.filter((r) => r.config === config);
      return {
        config,
        cpuUsPerRead: median(mine.map((r) => r.cpuUsPerRead)),
        gcUsPerRead: median(mine.map((r) => r.gcUsPerRead)),
        hitRatio: config === 'off' ? null : median(mine.map((r) => r.hitRatio as number)),
        admittedPerMillion: median(mine.map((r) => r.admittedPerMillion)),
      };
    });
    const off = summary.find((s) => s.config === 'off') as (typeof summary)[number];
    const rows = summary.map((s) => [s.config, s.hitRatio?.toFixed(3) ?? '-', s.cpuUsPerRead.toFixed(2), s.gcUsPerRead.toFixed(2), (s.cpuUsPerRead / off.cpuUsPerRead).toFixed(2), s.admittedPerMillion.toFixed(0)]);
    log('\n' + formatTable(['config', 'hit ratio', 'CPU us/read', 'GC us/read', 'vs off', 'admitted per 1M'], rows));
    const results = { benchmark: 'cache-read', question: 'What does the read cache save and cost per read, in process?', command: commandLine(), machine: machineFacts(), flags: n, summary, rounds };
    for (const file of saveResults('cache-read', results)) log(`results: ${file}`);
    process.stdout.write(JSON.stringify(results, null, 2) + '\n');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function readAt(store: ObjectStore, keys: readonly Uint8Array[], index: number): void {
  store.getEncoded(index % PARTITIONS, keys[index] as Uint8Array);
}

/** Every key written once, as a client's put through one coordinator and two replicas leaves it. */
async function load(engine: ReturnType<typeof openLmdbEngine>, keys: readonly Uint8Array[]): Promise<void> {
  const value = new Uint8Array(100).fill(97);
  for (let start = 0; start < keys.length; start += 10_000) {
    const ops = keys.slice(start, start + 10_000).map((key, offset) => {
      let object: StoredObject | undefined;
      for (const actor of ['node1.1', 'node2.1', 'node3.1']) {
        const outcome = putObject(object, { context: object?.vector ?? [], actor, value, contentType: 'application/octet-stream', deleted: false, nowMs: 1_765_000_000_000 + start + offset }, { siblingsMax: 100, vectorEntriesMax: 10 });
        if (!outcome.ok) throw new Error('put refused');
        object = outcome.object;
      }
      return { kind: 'put' as const, partition: (start + offset) % PARTITIONS, key, value: encodeObject(object as StoredObject) };
    });
    await engine.writeBatch(ops, { durable: false });
  }
}

runMain(main);
