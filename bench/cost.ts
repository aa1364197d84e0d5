/**
 * What one request costs a cluster, before and after a change: two 3-node clusters side by
 * side, one of the working tree (head) and one of a git revision (base, `--base`), under
 * the same closed-loop HTTP load in alternating slices, so whatever else the machine does
 * hits both alike. The load is issue 13's: 32 clients, YCSB workload A (50% reads, 50%
 * updates) of 100-byte values over 2,000 keys chosen uniformly, each update carrying the
 * last context the clients saw for its key. Per revision, the medians over the slices of:
 * CPU per request summed over the three node processes (every thread, and the main threads:
 * the JavaScript), from /proc; throughput; p50/p99/p99.9 of reads and of updates. Then the
 * ratios head / base.
 *
 * `--profile-dir DIR` runs the head's nodes under `node --cpu-prof` (one .cpuprofile per
 * node, written when it stops); `--head-node-args` gives the head's nodes other node flags.
 *
 * `--head-secure` runs the head cluster secure and the base plain (issue 14: TLS within 25%
 * of plain TCP), so with `--base HEAD` (and a clean working tree) the ratios are what
 * security costs: mutual TLS 1.3 between the nodes, HTTPS from the load generator to the
 * nodes, and Basic authentication of every request. A node remembers credentials it has
 * verified (per process, for 5 minutes), so its scrypt check runs once, at the harness's
 * first readiness poll, and again only each 5 minutes a run lasts: a measured request
 * pays an HMAC and a lookup.
 * The CPU figures are the nodes' (server side of HTTPS, both sides of internode TLS); the
 * load generator's own TLS work is not in them.
 *
 *   npm run bench:cost -- --base HEAD~1 [--rounds 3] [--duration-s 10] …   (--help)
 *   npm run bench:cost -- --base HEAD --head-secure                          (TLS + auth vs plain)
 */
import { randomInt } from 'node:crypto';
import { parseFlags, usage, UsageError, type FlagSpec } from './lib/args.ts';
import { launchCluster, type ShoalCluster } from './lib/cluster.ts';
import { shoalHttpClusterTarget } from './lib/launch-targets.ts';
import { commandLine, machineFacts } from './lib/machine.ts';
import { repoRoot } from './lib/node-process.ts';
import { formatTable, log, median, ratio, runMain, saveResults } from './lib/report.ts';
import { checkOutRevision, removeWorktree, runsOf } from './lib/revision.ts';
import type { BenchTarget } from './lib/targets.ts';
import { loadRecords, runWorkload, summaryLine, YCSB_WORKLOADS, type YcsbRunResult } from './lib/ycsb.ts';
import { parseDistribution } from './lib/zipfian.ts';

const flagSpec = {
  numbers: {
    rounds: { default: 3, min: 1, integer: true, help: 'slices per revision (alternating order)' },
    'duration-s': { default: 10, min: 1, help: 'measured seconds per slice' },
    'warmup-s': { default: 2, min: 0, help: 'unmeasured seconds before each slice' },
    clients: { default: 32, min: 1, integer: true, help: 'closed-loop clients, one connection each (with --rate-per-s: requests in flight at most)' },
    'rate-per-s': { default: 0, min: 0, help: 'open loop at this many requests a second on both sides (0: closed loop); the same rate gives both the same batching, whatever the load generator costs' },
    records: { default: 2000, min: 1, integer: true, help: 'keys, each written once before the slices' },
    'value-bytes': { default: 100, min: 1, integer: true, help: 'value size, bytes' },
    nodes: { default: 3, min: 1, integer: true, help: 'nodes per cluster (N = min(3, nodes), R = W = min(2, N))' },
    seed: { default: -1, integer: true, help: 'seed of the key and operation choices (-1: random, printed)' },
  },
  strings: {
    base: { default: 'HEAD', help: 'the git revision to compare the working tree with' },
    workload: { default: 'A', help: 'YCSB core workload (A: 50% read, 50% update)' },
    distribution: { default: 'uniform', help: 'key choice: uniform or zipfian' },
    'shoal-args': { default: '', help: 'extra `shoal start` flags for every node of both clusters (space-separated)' },
    'head-shoal-args': { default: '', help: 'extra `shoal start` flags for the head cluster only (space-separated; e.g. a setting the base does not know)' },
    'head-node-args': { default: '', help: 'flags for node itself, the head cluster only (space-separated; e.g. a V8 flag against --base HEAD)' },
    'profile-dir': { help: 'run the head cluster under node --cpu-prof, profiles into this directory' },
    out: { help: 'also write the JSON results to this file' },
  },
  booleans: {
    'head-secure': { help: 'run the head cluster with mutual TLS between nodes, HTTPS and Basic authentication; the base stays plain' },
  },
} satisfies FlagSpec;

type Revision = 'base' | 'head';
const REVISIONS: readonly Revision[] = ['base', 'head'];
type Numbers = Record<keyof typeof flagSpec.numbers, number>;

async function main(): Promise<void> {
  const flags = parseFlags(process.argv.slice(2), flagSpec);
  if (flags.help) {
    process.stderr.write(usage('bench/cost.ts', flagSpec) + '\n');
    return;
  }
  const n = flags.numbers as Numbers;
  const workload = YCSB_WORKLOADS[(flags.strings.workload ?? 'A').toUpperCase()];
  if (workload === undefined) throw new UsageError(`--workload: ${JSON.stringify(flags.strings.workload)} is not one of ${Object.keys(YCSB_WORKLOADS).join(', ')}`);
  const distribution = parseDistribution(flags.strings.distribution ?? 'uniform');
  const shoalArgs = (flags.strings['shoal-args'] ?? '').split(' ').filter((a) => a !== '');
  const headShoalArgs = (flags.strings['head-shoal-args'] ?? '').split(' ').filter((a) => a !== '');
  const profileDir = flags.strings['profile-dir'];
  const headNodeArgs = [...(flags.strings['head-node-args'] ?? '').split(' ').filter((a) => a !== ''), ...(profileDir === undefined ? [] : ['--cpu-prof', '--cpu-prof-dir', profileDir])];
  const headSecure = flags.booleans['head-secure'] === true;
  const labels = revisionLabels(headSecure);
  const seed = n.seed >= 0 ? n.seed : randomInt(0, 2 ** 31 - 1);
  const machine = machineFacts();
  const startedAt = new Date().toISOString();
  const warnings: string[] = [];
  log(`seed=${seed}`);

  const base = checkOutRevision(flags.strings.base ?? 'HEAD', warnings);
  const clusters: ShoalCluster[] = [];
  try {
    const size = n.nodes;
    const replicas = Math.min(3, size);
    const quorum = Math.min(2, replicas);
    const targets = {} as Record<Revision, BenchTarget>;
    for (const revision of REVISIONS) {
      log(`${labels[revision]}: starting ${size} nodes (N=${replicas} R=W=${quorum})`);
      const cluster = await launchCluster({
        size, n: replicas, r: quorum, w: quorum, args: revision === 'head' ? [...shoalArgs, ...headShoalArgs] : shoalArgs,
        ...(revision === 'base' ? { script: base.bin } : {}),
        ...(revision === 'head' && headNodeArgs.length > 0 ? { nodeArgs: headNodeArgs } : {}),
        secure: revision === 'head' && headSecure,
      });
      clusters.push(cluster);
      if (size > 1) await cluster.waitPeersUp(replicas);
      targets[revision] = shoalHttpClusterTarget(cluster, 'last-seen', revision);
      const load = await loadRecords(targets[revision], n.records, n.clients, n['value-bytes'], seed);
      log(`${labels[revision]}: ${n.records} keys written in ${load.elapsedS} s, errors ${JSON.stringify(load.errors)}`);
    }

    const slices: Record<Revision, YcsbRunResult[]> = { base: [], head: [] };
    for (let round = 0; round < n.rounds; round++) {
      for (const revision of round % 2 === 0 ? REVISIONS : [...REVISIONS].reverse()) {
        const run = await runWorkload(targets[revision], {
          workload, distribution, records: n.records, valueBytes: n['value-bytes'], seed: seed + round,
          loop: n['rate-per-s'] > 0 ? { mode: 'open', ratePerS: n['rate-per-s'], concurrency: n.clients } : { mode: 'closed', clients: n.clients }, warmupS: n['warmup-s'], durationS: n['duration-s'],
        });
        for (const node of targets[revision].processes) node.assertRunning('taking the load');
        slices[revision].push(run);
        log(`round ${round + 1} ${labels[revision]}: ${run.throughputPerS} ops/s; ${summaryLine(run)}`);
        if (run.errorCount > 0) warnings.push(`round ${round + 1} ${labels[revision]}: ${run.errorCount} requests failed`);
      }
    }
    const summary = { base: summarize(slices.base), head: summarize(slices.head) };
    const headOverBase = ratios(summary.head, summary.base);
    const output = {
      benchmark: 'cost',
      question: headSecure
        ? `CPU per request summed over a ${size}-node cluster's processes, throughput and latency: the working tree with TLS and authentication against ${base.ref} plain, side by side`
        : `CPU per request summed over a ${size}-node cluster's processes, throughput and latency: the working tree against ${base.ref}, side by side`,
      command: commandLine(),
      machine,
      startedAt,
      revisions: {
        base: { ref: base.ref, commit: base.commit, runs: base.runs, label: labels.base },
        head: { commit: machine.gitCommit, dirty: machine.gitDirty, runs: runsOf(repoRoot), label: labels.head },
      },
      options: { ...n, seed, workload: workload.name, distribution, shoalArgs, contexts: 'last-seen', profileDir, headSecure },
      results: { base: summary.base, head: summary.head, headOverBase },
      slices,
      warnings,
    };
    printTable(summary, headOverBase, labels);
    for (const warning of warnings) log(`WARNING: ${warning}`);
    for (const path of saveResults('cost', output, flags.strings.out)) log(`results: ${path}`);
    process.stdout.write(JSON.stringify(output, null, 2) + '\n');
  } finally {
    await Promise.all(clusters.map((cluster) => cluster.stop()));
    removeWorktree(base.dir);
  }
}

interface RevisionSummary {
  cpuUsPerRequest: number;
  mainThreadCpuUsPerRequest: number;
  requestsPerS: number;
  readMs: { p50: number; p99: number; p99_9: number };
  writeMs: { p50: number; p99: number; p99_9: number };
}

/** Medians over the slices. */
function summarize(runs: readonly YcsbRunResult[]): RevisionSummary {
  const med = (pick: (run: YcsbRunResult) => number | undefined): number => Math.round(median(runs.map((run) => pick(run) ?? 0)) * 100) / 100;
  const latency = (op: 'read' | 'update') => ({
    p50: med((run) => run.operations[op]?.latencyMs.p50),
    p99: med((run) => run.operations[op]?.latencyMs.p99),
    p99_9: med((run) => run.operations[op]?.latencyMs.p99_9),
  });
  return {
    cpuUsPerRequest: med((run) => run.cpuPerOperation?.processUs),
    mainThreadCpuUsPerRequest: med((run) => run.cpuPerOperation?.mainThreadUs),
    requestsPerS: med((run) => run.throughputPerS),
    readMs: latency('read'),
    writeMs: latency('update'),
  };
}

function ratios(head: RevisionSummary, base: RevisionSummary) {
  const latency = (h: RevisionSummary['readMs'], b: RevisionSummary['readMs']) => ({ p50: ratio(h.p50, b.p50), p99: ratio(h.p99, b.p99), p99_9: ratio(h.p99_9, b.p99_9) });
  return {
    cpuUsPerRequest: ratio(head.cpuUsPerRequest, base.cpuUsPerRequest),
    mainThreadCpuUsPerRequest: ratio(head.mainThreadCpuUsPerRequest, base.mainThreadCpuUsPerRequest),
    requestsPerS: ratio(head.requestsPerS, base.requestsPerS),
    readMs: latency(head.readMs, base.readMs),
    writeMs: latency(head.writeMs, base.writeMs),
  };
}

/** How the output names each side: with --head-secure, what differs is security, not only the revision. */
function revisionLabels(headSecure: boolean): Record<Revision | 'ratio', string> {
  return headSecure
    ? { base: 'base (plain)', head: 'head (TLS + auth)', ratio: 'head/base (TLS + auth / plain)' }
    : { base: 'base', head: 'head', ratio: 'head/base' };
}

function printTable(summary: Record<Revision, RevisionSummary>, headOverBase: ReturnType<typeof ratios>, labels: Record<Revision | 'ratio', string>): void {
  const row = (name: string, s: { cpuUsPerRequest: number | null; mainThreadCpuUsPerRequest: number | null; requestsPerS: number | null; readMs: Record<string, number | null>; writeMs: Record<string, number | null> }) => [
    name, String(s.cpuUsPerRequest), String(s.mainThreadCpuUsPerRequest), String(s.requestsPerS),
    `${s.readMs.p50} / ${s.readMs.p99} / ${s.readMs.p99_9}`, `${s.writeMs.p50} / ${s.writeMs.p99} / ${s.writeMs.p99_9}`,
  ];
  process.stderr.write(formatTable(
    ['revision', 'CPU us/request', 'main threads us/request', 'requests/s', 'read p50 / p99 / p99.9 ms', 'write p50 / p99 / p99.9 ms'],
    [row(labels.base, summary.base), row(labels.head, summary.head), row(labels.ratio, headOverBase)],
  ) + '\n');
}

runMain(main);
