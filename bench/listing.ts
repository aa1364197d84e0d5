/**
 * What one page of a key listing (`GET /kv?limit=L`, issue 16) costs, and whether that
 * cost depends on how many keys the cluster holds: two 3-node clusters side by side, one
 * holding `--keys` (1,000,000) keys and one `--small-keys` (10,000), both of 100-byte
 * values written straight into the nodes' LMDB stores before they start (bench/lib/
 * preload.ts: the objects a PUT without context makes). In alternating rounds, each
 * cluster is listed from its first key, one page after the other through the nodes in
 * turn, for `--pages` pages per page size; and, for scale, as many single-key GETs.
 *
 * Per cluster and page size: CPU per page summed over the three node processes (from
 * /proc), the wall time of a page (p50, p99), keys per page; a GET's CPU and wall time;
 * and the ratios large / small (1 means the page costs the same whatever the key count).
 *
 *   npm run bench:listing [-- --keys 1000000 --small-keys 10000 --pages 200 --rounds 3]   (--help)
 */
import { randomInt } from 'node:crypto';
import { parseFlags, usage, type FlagSpec } from './lib/args.ts';
import { launchCluster, type ShoalCluster } from './lib/cluster.ts';
import { commandLine, machineFacts, sampleCpu } from './lib/machine.ts';
import { preloadStores } from './lib/preload.ts';
import { formatTable, log, median, ratio, runMain, saveResults } from './lib/report.ts';

const flagSpec = {
  numbers: {
    keys: { default: 1_000_000, min: 1, integer: true, help: 'keys in the large cluster' },
    'small-keys': { default: 10_000, min: 1, integer: true, help: 'keys in the small cluster' },
    pages: { default: 200, min: 1, integer: true, help: 'pages listed per page size, cluster and round' },
    rounds: { default: 3, min: 1, integer: true, help: 'alternating rounds' },
    'value-bytes': { default: 100, min: 1, integer: true, help: 'value size, bytes' },
    'partition-count': { default: 64, min: 1, integer: true, help: 'partitions on the ring' },
  },
  strings: {
    limits: { default: '100,1000', help: 'page sizes to measure (comma-separated, 1-1000)' },
    out: { help: 'also write the JSON results to this file' },
  },
  booleans: {},
} satisfies FlagSpec;

type Numbers = Record<keyof typeof flagSpec.numbers, number>;
type Size = 'large' | 'small';
const SIZES: readonly Size[] = ['large', 'small'];

interface Sample {
  cpuMsPerCall: number;
  wallMs: number[];
  keysPerCall: number;
}

async function main(): Promise<void> {
  const flags = parseFlags(process.argv.slice(2), flagSpec);
  if (flags.help) {
    process.stderr.write(usage('bench/listing.ts', flagSpec) + '\n');
    return;
  }
  const n = flags.numbers as Numbers;
  const limits = (flags.strings.limits ?? '').split(',').map(Number);
  if (limits.some((limit) => !Number.isInteger(limit) || limit < 1 || limit > 1000)) throw new Error(`--limits: page sizes are integers 1-1000, got ${flags.strings.limits}`);
  const machine = machineFacts();
  const value = Buffer.alloc(n['value-bytes'], 'v');
  const keyCount: Record<Size, number> = { large: n.keys, small: n['small-keys'] };
  const clusters = {} as Record<Size, ShoalCluster>;
  try {
    for (const size of SIZES) {
      log(`${size}: preloading ${keyCount[size]} keys into 3 nodes (N=3), then starting them`);
      clusters[size] = await launchCluster({
        size: 3, n: 3, r: 2, w: 2, args: ['--partition-count', String(n['partition-count'])],
        prepare: async (members) => {
          const preload = await preloadStores({ members, keys: keyCount[size], key: keyName, value: () => value, contentType: 'application/octet-stream', n: 3, partitionCount: n['partition-count'] });
          log(`${size}: ${keyCount[size]} keys written in ${preload.elapsedS} s`);
        },
      });
      await clusters[size].waitPeersUp(3);
    }
    const samples: Record<string, Sample[]> = {};
    const add = (name: string, sample: Sample): void => void (samples[name] ??= []).push(sample);
    for (let round = 0; round < n.rounds; round++) {
      for (const size of round % 2 === 0 ? SIZES : [...SIZES].reverse()) {
        const cluster = clusters[size];
        for (const limit of limits) {
          const sample = await measure(cluster, n.pages, (url, call) => listPage(url, limit, call));
          add(`${size}/page-${limit}`, sample);
          log(`round ${round + 1} ${size} limit ${limit}: ${sample.cpuMsPerCall.toFixed(3)} CPU ms/page, p50 ${median(sample.wallMs).toFixed(2)} ms, ${sample.keysPerCall.toFixed(0)} keys/page`);
        }
        const gets = await measure(cluster, n.pages, (url, call) => getKey(url, keyName(randomInt(0, keyCount[size])), call));
        add(`${size}/get`, gets);
      }
    }
    const results = Object.fromEntries(Object.entries(samples).map(([name, list]) => [name, summarize(list)]));
    const largeOverSmall = Object.fromEntries(
      [...limits.map((limit) => `page-${limit}`), 'get'].map((what) => [what, ratio(results[`large/${what}`]?.cpuMsPerCall ?? 0, results[`small/${what}`]?.cpuMsPerCall ?? 0)]),
    );
    const pageOverGet = Object.fromEntries(
      limits.map((limit) => [`page-${limit}`, ratio(results[`large/page-${limit}`]?.cpuMsPerCall ?? 0, results['large/get']?.cpuMsPerCall ?? 0)]),
    );
    const output = {
      benchmark: 'listing',
      question: `CPU and time per page of GET /kv on a 3-node cluster of ${n.keys} keys against one of ${n['small-keys']}, side by side, and against a GET`,
      command: commandLine(),
      machine,
      options: { ...n, limits },
      results,
      ratios: { largeOverSmallCpu: largeOverSmall, pageOverGetCpuLarge: pageOverGet },
      rounds: samples,
    };
    log(
      '\n' +
        formatTable(
          ['call', 'CPU ms (large)', 'CPU ms (small)', 'p50 ms (large)', 'p99 ms (large)', 'keys/page', 'large/small CPU'],
          [...limits.map((limit) => `page-${limit}`), 'get'].map((what) => {
            const large = results[`large/${what}`];
            const small = results[`small/${what}`];
            return [what, String(large?.cpuMsPerCall), String(small?.cpuMsPerCall), String(large?.wallMsP50), String(large?.wallMsP99), String(large?.keysPerCall), String(largeOverSmall[what])];
          }),
        ),
    );
    for (const path of saveResults('listing', output, flags.strings.out)) log(`results: ${path}`);
    process.stdout.write(JSON.stringify(output, null, 2) + '\n');
  } finally {
    await Promise.all(Object.values(clusters).map((cluster) => cluster.stop()));
  }
}

function keyName(i: number): string {
  return `user${String(i).padStart(8, '0')}`;
}

/** `calls` calls one after the other through the nodes in turn; the nodes' CPU per call and each call's wall time. */
async function measure(cluster: ShoalCluster, calls: number, call: (url: string, index: number) => Promise<number>): Promise<Sample> {
  const urls = cluster.httpUrls;
  const before = sampleCpu(cluster.nodes);
  const wallMs: number[] = [];
  let keys = 0;
  for (let i = 0; i < calls; i++) {
    const started = performance.now();
    keys += await call(urls[i % urls.length] as string, i);
    wallMs.push(performance.now() - started);
  }
  const after = sampleCpu(cluster.nodes);
  return { cpuMsPerCall: ((after.nodesS - before.nodesS) * 1000) / calls, wallMs, keysPerCall: keys / calls };
}

/** The listing's continuation, carried from page to page (restarted at the end). */
const continuation = new Map<number, string | null>();

async function listPage(url: string, limit: number, index: number): Promise<number> {
  if (index === 0) continuation.set(limit, null);
  const after = continuation.get(limit) ?? null;
  const response = await fetch(`${url}/kv?limit=${limit}${after === null ? '' : `&after=${after}`}`, { signal: AbortSignal.timeout(30_000) });
  if (response.status !== 200) throw new Error(`GET /kv: HTTP ${response.status} ${await response.text()}`);
  const page = (await response.json()) as { keys: string[]; next: string | null };
  continuation.set(limit, page.next);
  return page.keys.length;
}

async function getKey(url: string, key: string, _index: number): Promise<number> {
  const response = await fetch(`${url}/kv/${key}`, { signal: AbortSignal.timeout(30_000) });
  await response.arrayBuffer();
  if (response.status !== 200) throw new Error(`GET /kv/${key}: HTTP ${response.status}`);
  return 1;
}

function summarize(samples: readonly Sample[]): { cpuMsPerCall: number; wallMsP50: number; wallMsP99: number; keysPerCall: number } {
  const wall = samples.flatMap((s) => s.wallMs).sort((a, b) => a - b);
  const round3 = (x: number): number => Math.round(x * 1000) / 1000;
  return {
    cpuMsPerCall: round3(median(samples.map((s) => s.cpuMsPerCall))),
    wallMsP50: round3(wall[Math.floor(wall.length * 0.5)] ?? 0),
    wallMsP99: round3(wall[Math.min(wall.length - 1, Math.floor(wall.length * 0.99))] ?? 0),
    keysPerCall: round3(median(samples.map((s) => s.keysPerCall))),
  };
}

runMain(main);
