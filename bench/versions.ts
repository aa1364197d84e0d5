/**
 * Paper section 6.3: divergent versions. How often does a read see more than one version?
 *
 * A 3-node Shoal cluster (N = 3, R = W = 2) over HTTP, round robin over the nodes. For
 * --duration-s, closed-loop writers and readers share a set of keys (each key written
 * once first); every read's version count is recorded (200 = 1, 300 = its siblings).
 * Two variants, on separate keys of the same cluster:
 *
 *   adversarial  --writers writers over --keys shared keys, uniformly; each write is blind
 *                (no context: it supersedes nothing) with probability --blind-fraction,
 *                otherwise a read-modify-write (read, then write with the read's context).
 *                Adversarial by design: many writers racing on few keys, blind writes mixed in.
 *   realistic    each key belongs to one writer (key i to writer i mod writers), which
 *                read-modify-writes its own keys; a --foreign-fraction of its writes go to
 *                another writer's key. Close to the paper's shopping carts: a key is mostly
 *                written by one client, always with the context it read.
 *
 * --readers clients read keys uniformly; their reads are the reported shares (1, 2, 3, 4+
 * versions); the reads of read-modify-writes are reported apart (allReads).
 *
 *   npm run bench:versions -- [--writers 8] [--readers 2] [--keys 100] [--duration-s 20] …   (--help)
 */
import { randomInt } from 'node:crypto';
import type { Random } from '../src/ports/random.ts';
import { Prng } from '../src/sim/prng.ts';
import { parseFlags, usage, type FlagSpec } from './lib/args.ts';
import { launchShoalCluster, shoalHttpClusterTarget } from './lib/launch-targets.ts';
import { publishResults } from './lib/html-report.ts';
import { runClosedLoop, runFixedCount, type ClosedLoopOutcome } from './lib/load.ts';
import { commandLine, machineFacts } from './lib/machine.ts';
import type { VersionsOutput, VersionsVariant } from './lib/outputs.ts';
import { log, runMain } from './lib/report.ts';
import { versionsSections } from './lib/report-sections.ts';
import type { BenchTarget, KvTarget } from './lib/targets.ts';
import { keyName, valuePool } from './lib/values.ts';
import { VersionCounter } from './lib/version-counts.ts';
import { ConnectionPool } from './lib/ycsb.ts';

const flagSpec = {
  numbers: {
    writers: { default: 8, min: 1, integer: true, help: 'concurrent writers' },
    readers: { default: 2, min: 1, integer: true, help: 'concurrent readers (their reads are the reported shares)' },
    keys: { default: 100, min: 1, integer: true, help: 'keys shared by the clients, per variant' },
    'duration-s': { default: 20, min: 1, help: 'measured seconds per variant' },
    'warmup-s': { default: 2, min: 0, help: 'unmeasured lead-in per variant, seconds' },
    'blind-fraction': { default: 0.5, min: 0, help: 'adversarial: share of writes without a context' },
    'foreign-fraction': { default: 0.01, min: 0, help: 'realistic: share of a writer\'s writes to another writer\'s key' },
    'value-bytes': { default: 100, min: 1, integer: true, help: 'value size, bytes' },
    nodes: { default: 3, min: 1, integer: true, help: 'cluster members' },
    seed: { default: -1, integer: true, help: 'seed of every key choice (-1: random, printed)' },
  },
  strings: {
    variants: { default: 'adversarial,realistic', help: 'variants to run, in order' },
    out: { help: 'also write the JSON results to this file' },
  },
} satisfies FlagSpec;

type Numbers = Record<keyof typeof flagSpec.numbers, number>;

interface Variant {
  name: 'adversarial' | 'realistic';
  description: string;
  keyPrefix: string;
  /** The key writer `writer` writes next, and whether the write is blind. */
  nextWrite(writer: number, rng: Random): { key: number; blind: boolean };
}

function variants(n: Numbers): Variant[] {
  const keys = n.keys;
  const writers = n.writers;
  const ownKeys = (writer: number): number => Math.floor((keys - 1 - writer) / writers) + 1;
  return [
    {
      name: 'adversarial',
      description: `${writers} writers race on ${keys} shared keys, ${Math.round(n['blind-fraction'] * 100)}% of the writes blind, the rest read-modify-writes`,
      keyPrefix: 'adv',
      nextWrite: (_writer, rng) => ({ key: rng.int(keys), blind: rng.next() < n['blind-fraction'] }),
    },
    {
      name: 'realistic',
      description: `each key has one writer (read-modify-write with the read's context); ${n['foreign-fraction'] * 100}% of the writes go to another writer's key`,
      keyPrefix: 'real',
      nextWrite: (writer, rng) => {
        if (writers > 1 && rng.next() < n['foreign-fraction']) return { key: rng.int(keys), blind: false };
        // Keys writer, writer + writers, writer + 2·writers, …
        return { key: writer < keys ? writer + writers * rng.int(ownKeys(writer)) : rng.int(keys), blind: false };
      },
    },
  ];
}

async function runVariant(target: BenchTarget, variant: Variant, n: Numbers, seed: number, values: Buffer[]): Promise<VersionsVariant> {
  const key = (i: number): string => keyName(variant.keyPrefix, i);
  const clients = n.writers + n.readers;
  const pool = await ConnectionPool.open(target, clients);
  try {
    log(`${variant.name}: writing each of ${n.keys} keys once`);
    await runFixedCount({ count: n.keys, concurrency: Math.min(16, clients), op: (i) => pool.use((c) => c.update(key(i), values[i % values.length] as Buffer)) });
    const rngs = Array.from({ length: clients }, (_, client) => Prng.fromSeed(seed).fork(`${variant.name} client ${client}`));
    const readerReads = new VersionCounter();
    const allReads = new VersionCounter();
    const writes = { blind: 0, withContext: 0, failed: {} as Record<string, number> };
    const write = async (c: KvTarget, writer: number, seq: number, measured: boolean): Promise<ClosedLoopOutcome> => {
      const next = variant.nextWrite(writer, rngs[writer] as Prng);
      const value = values[seq % values.length] as Buffer;
      let context: string | undefined;
      if (!next.blind) {
        const read = await c.read(key(next.key));
        if (!read.ok) return { kind: 'write-rmw', ok: false, label: `read ${read.label}` };
        if (measured) allReads.record(read.versions);
        context = read.context;
      }
      const w = await c.update(key(next.key), value, context);
      if (measured && w.ok) {
        if (next.blind) writes.blind++;
        else writes.withContext++;
      }
      if (measured && !w.ok) writes.failed[w.label] = (writes.failed[w.label] ?? 0) + 1;
      return { kind: next.blind ? 'write-blind' : 'write-rmw', ok: w.ok, label: w.label };
    };
    const read = async (c: KvTarget, reader: number, measured: boolean): Promise<ClosedLoopOutcome> => {
      const r = await c.read(key((rngs[reader] as Prng).int(n.keys)));
      if (measured && r.ok) {
        readerReads.record(r.versions);
        allReads.record(r.versions);
      }
      return { kind: 'read', ok: r.ok, label: r.label };
    };
    log(`${variant.name}: ${variant.description}; ${n.readers} readers; ${n['warmup-s']} s warm-up + ${n['duration-s']} s`);
    const result = await runClosedLoop({
      clients,
      warmupS: n['warmup-s'],
      durationS: n['duration-s'],
      onProgress: (line) => log(`${variant.name}: ${line}`),
      op: (client, seq, measured) => {
        const c = pool.all[client] as KvTarget;
        return client < n.writers ? write(c, client, seq, measured) : read(c, client, measured);
      },
    });
    const summary = readerReads.summary();
    log(`${variant.name}: reads seeing 1 / 2 / 3 / 4+ versions: ${JSON.stringify(summary.shares)} (max ${summary.max}); writes ${JSON.stringify(writes)}`);
    return {
      name: variant.name,
      description: variant.description,
      writers: n.writers,
      readers: n.readers,
      keys: n.keys,
      durationS: n['duration-s'],
      readerReads: summary,
      allReads: allReads.summary(),
      writes,
      throughputPerS: result.throughputPerS,
      kinds: Object.fromEntries(Object.entries(result.kinds).map(([kind, k]) => [kind, { ok: k.ok, errors: k.errorCount, labels: k.labels, latencyMs: k.latencyMs }])),
    };
  } finally {
    await pool.close();
  }
}

async function main(): Promise<void> {
  const flags = parseFlags(process.argv.slice(2), flagSpec);
  if (flags.help) {
    process.stderr.write(usage('npm run bench:versions --', flagSpec) + '\n');
    return;
  }
  const n = flags.numbers as Numbers;
  const wanted = (flags.strings.variants ?? '').split(',').map((v) => v.trim());
  const chosen = variants(n).filter((v) => wanted.includes(v.name));
  if (chosen.length === 0) throw new RangeError('--variants: expected adversarial and/or realistic');
  const seed = n.seed >= 0 ? n.seed : randomInt(0, 2 ** 31 - 1);
  const started = Date.now();
  const machine = machineFacts();
  const command = commandLine();
  log(`command: ${command}`);
  log(`machine: ${machine.cpuCount} cpu, load ${machine.loadAvg1m}, cpu pressure ${machine.cpuPressureSome60s ?? 'n/a'}; seed=${seed}`);
  const cluster = await launchShoalCluster(n.nodes, []);
  const results: VersionsVariant[] = [];
  try {
    const target = shoalHttpClusterTarget(cluster, 'explicit');
    const values = valuePool(n['value-bytes'], seed);
    for (const variant of chosen) {
      results.push(await runVariant(target, variant, n, seed, values));
      cluster.assertRunning(`running the ${variant.name} variant`);
    }
  } finally {
    await cluster.stop();
  }
  const end = machineFacts();
  const warnings = results.flatMap((v) => Object.keys(v.writes.failed).length > 0 ? [`${v.name}: failed writes ${JSON.stringify(v.writes.failed)} (409: the key reached siblingsMax)`] : []);
  const output: VersionsOutput = {
    benchmark: 'versions',
    question: 'Paper 6.3: under concurrent writers to a shared set of keys, what share of reads sees 1, 2, 3, 4+ versions? (The paper: 99.94% see exactly one, under its real workload.)',
    command,
    machine,
    machineAtEnd: { loadAvg1m: end.loadAvg1m, cpuPressureSome60s: end.cpuPressureSome60s },
    startedAt: new Date(started).toISOString(),
    elapsedS: Math.round((Date.now() - started) / 100) / 10,
    seed,
    variants: results,
    warnings,
  };
  for (const w of warnings) log(`WARNING: ${w}`);
  publishResults('versions', output, versionsSections(output), flags.strings.out, 'Shoal: divergent versions (paper 6.3)');
}

runMain(main);
