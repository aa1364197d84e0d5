/**
 * `npm run bench:backup`: how fast `shoal backup` and `shoal restore` go.
 *
 * 1. Three nodes (N = 3, R = 2, W = 2, Q = 64) hold `--keys` keys of `--value-bytes`-byte
 *    values, written straight into each node's LMDB store before it starts (lib/preload.ts:
 *    the very object a first PUT of each key makes, on each of its 3 replicas; minutes of
 *    HTTP writes saved, nothing about the backup changed), then started.
 * 2. `shoal backup` (the real command, a child process) through one node: timed from spawn
 *    to exit, then the file is read back whole and checked (not timed).
 * 3. The cluster is stopped and a new, empty one started on fresh data directories;
 *    `shoal restore` of the file through one node, timed from spawn to exit (the file's
 *    checking pass included, as a user waits for it).
 * 4. `--verify-keys` keys picked at random are read back over HTTP and compared.
 *
 * Prints one JSON object (stdout, and bench/results/): objects/s and MB/s (MB = 10^6 bytes of
 * keys and encoded objects, before compression) of each, the file size, and the machine.
 * Anti-entropy is off in both clusters: after a direct preload every node would otherwise
 * rebuild its hash trees from the whole store at the same time, competing with the backup.
 */
import { randomInt } from 'node:crypto';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { readBackup } from '../src/cli/backupFile.ts';
import { parseFlags, usage, type FlagSpec } from './lib/args.ts';
import { launchCluster, type ShoalCluster } from './lib/cluster.ts';
import { getOnce } from './lib/http-client.ts';
import { commandLine, cpuShare, machineFacts, sampleCpu, type CpuShare } from './lib/machine.ts';
import { makeTempDir, removeTempDir, repoRoot, shellQuote, spawnManaged } from './lib/node-process.ts';
import { preloadStores, type PreloadResult } from './lib/preload.ts';
import { log, runMain, saveResults } from './lib/report.ts';
import { keyName, valuePool } from './lib/values.ts';
import { Prng } from '../src/sim/prng.ts';

const flagSpec = {
  numbers: {
    keys: { default: 1_000_000, min: 1, integer: true, help: 'keys loaded before the backup' },
    'value-bytes': { default: 100, min: 1, integer: true, help: 'value size, bytes' },
    'partition-count': { default: 64, min: 1, integer: true, help: 'Q (--partition-count of every node)' },
    'verify-keys': { default: 300, min: 0, integer: true, help: 'keys read back over HTTP after the restore' },
    seed: { default: -1, integer: true, help: 'seed of the values and of the keys verified (-1: random, printed)' },
  },
  strings: {
    'node-args': { help: 'extra `shoal start` flags for every node, e.g. "--buffer-objects-max 4000"' },
    out: { help: 'also write the JSON results to this file' },
  },
} satisfies FlagSpec;

type Numbers = Record<keyof typeof flagSpec.numbers, number>;

const N = 3;
const R = 2;
const W = 2;
const CONTENT_TYPE = 'application/octet-stream';
const SHOAL_BIN = join(repoRoot, 'bin', 'shoal.js');

interface Phase {
  seconds: number;
  /** The nodes' CPU (cores), the machine's busy cores (the command's and other work's included) and CPU pressure, over the phase. */
  cpu: CpuShare;
  objects: number;
  objectsPerS: number;
  /** Keys and encoded objects, before compression, MB (10^6 bytes) per second. */
  mbPerS: number;
}

async function main(): Promise<void> {
  const flags = parseFlags(process.argv.slice(2), flagSpec);
  if (flags.help) {
    process.stderr.write(usage('npm run bench:backup --', flagSpec) + '\n');
    return;
  }
  const n = flags.numbers as Numbers;
  const nodeArgs = (flags.strings['node-args'] ?? '').split(/\s+/).filter((a) => a !== '');
  const seed = n.seed >= 0 ? n.seed : randomInt(0, 2 ** 31 - 1);
  const machine = machineFacts();
  log(`command: ${commandLine()}`);
  log(`machine: ${machine.cpuCount} cpu (${machine.cpuModel}), node ${machine.nodeVersion}, load ${machine.loadAvg1m}, cpu pressure ${machine.cpuPressureSome60s ?? 'n/a'}; seed=${seed}`);
  const values = valuePool(n['value-bytes'], seed);
  const valueOf = (i: number): Buffer => values[i % values.length] as Buffer;
  const args = ['--partition-count', String(n['partition-count']), '--anti-entropy-interval-ms', '0', ...nodeArgs];
  const dir = makeTempDir('shoal-bench-backup-');
  const file = join(dir, 'cluster.shoalbak');
  try {
    let preload: PreloadResult | undefined;
    log(`starting 3 nodes after writing ${n.keys} keys into their stores`);
    const source = await launchCluster({
      size: 3, n: N, r: R, w: W, args,
      prepare: async (members) => {
        preload = await preloadStores({ members, keys: n.keys, key: (i) => keyName('k', i), value: valueOf, contentType: CONTENT_TYPE, n: N, partitionCount: n['partition-count'], onProgress: (line) => log(`preload: ${line}`) });
      },
    });
    let backup: Phase;
    try {
      await source.waitPeersUp(N);
      log(`preloaded in ${preload?.elapsedS} s; backing up through ${source.nodes[0]?.id}`);
      backup = await timedCommand(source, 'backup', ['backup', '--node', url(source), '--out', file]);
    } finally {
      await source.stop();
    }
    const verified = await readBackup(file);
    const fileBytes = statSync(file).size;
    backup = rated(backup, verified.totals.objects, verified.totals.rawBytes);
    log(`backup: ${verified.totals.objects} objects (the ${n.keys} keys and 3 probe keys), ${fileBytes} bytes in ${backup.seconds} s`);

    const target = await launchCluster({ size: 3, n: N, r: R, w: W, args });
    try {
      await target.waitPeersUp(N);
      const restore = rated(await timedCommand(target, 'restore', ['restore', '--node', url(target), '--in', file]), verified.totals.objects, verified.totals.rawBytes);
      log(`restore: ${restore.seconds} s`);
      const checked = await verifyKeys(target, n, seed, valueOf);
      const output = {
        benchmark: 'backup',
        command: process.env.npm_lifecycle_event === 'bench:backup' ? `npm run bench:backup${process.argv.length > 2 ? ' -- ' + shellQuote(process.argv.slice(2)) : ''}` : commandLine(),
        machine,
        settings: { keys: n.keys, valueBytes: n['value-bytes'], partitionCount: n['partition-count'], n: N, r: R, w: W, nodeArgs, seed },
        preloadSeconds: preload?.elapsedS,
        file: { bytes: fileBytes, rawBytes: verified.totals.rawBytes, blocks: verified.totals.blocks, objects: verified.totals.objects, compression: round(fileBytes / verified.totals.rawBytes, 3) },
        backup,
        restore,
        verifiedKeys: checked,
      };
      const paths = saveResults('backup', output, flags.strings.out);
      log(`results: ${paths.join(', ')}`);
      process.stdout.write(JSON.stringify(output, null, 2) + '\n');
    } finally {
      await target.stop();
    }
  } finally {
    removeTempDir(dir);
  }
}

function url(cluster: ShoalCluster): string {
  return (cluster.nodes[0] as { httpUrl: string }).httpUrl;
}

/** Runs `shoal <args>` to its end (its progress echoed), failing on a non-zero exit; the seconds it took and the CPU used meanwhile. */
async function timedCommand(cluster: ShoalCluster, label: string, args: readonly string[]): Promise<Phase> {
  const before = sampleCpu(cluster.nodes);
  const started = performance.now();
  const child = await spawnManaged({ label: `shoal ${label}`, command: process.execPath, args: [SHOAL_BIN, ...args], echoStderr: true });
  const exit = await child.waitExit();
  const seconds = (performance.now() - started) / 1000;
  const cpu = cpuShare(before, sampleCpu(cluster.nodes));
  if (exit.code !== 0) throw new Error(`shoal ${label} exited ${exit.code ?? exit.signal}: ${child.output()}`);
  return { seconds: round(seconds, 2), cpu, objects: 0, objectsPerS: 0, mbPerS: 0 };
}

function rated(phase: Phase, objects: number, rawBytes: number): Phase {
  return { ...phase, objects, objectsPerS: Math.round(objects / phase.seconds), mbPerS: round(rawBytes / 1e6 / phase.seconds, 2) };
}

/** Reads random keys back through every node of the restored cluster; throws on a wrong value. */
async function verifyKeys(cluster: ShoalCluster, n: Numbers, seed: number, valueOf: (i: number) => Buffer): Promise<number> {
  const random = Prng.fromSeed(seed).fork('verify');
  for (let round = 0; round < n['verify-keys']; round++) {
    const i = random.int(n.keys);
    const node = cluster.nodes[round % cluster.nodes.length] as { httpUrl: string };
    const { status, body } = await getOnce(`${node.httpUrl}/kv/${keyName('k', i)}`, 10_000);
    if (status !== 200 || body !== valueOf(i).toString('latin1')) throw new Error(`key ${keyName('k', i)} read back ${status} ${JSON.stringify(body.slice(0, 40))} after the restore`);
  }
  return n['verify-keys'];
}

function round(value: number, digits: number): number {
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
}

runMain(main);
