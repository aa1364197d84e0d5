/**
 * A 3-node Shoal cluster (HTTP, N = 3, R = W = 2, its durable default: one replica per
 * write fsyncs) against a 3-member etcd cluster (its v3 JSON gateway; every write fsynced
 * by a quorum), the same YCSB workloads, clients and seed, side by side in one run.
 *
 *   npm run bench:vs-etcd -- [--workloads A,B,C,F] [--clients 32] [--duration-s 10] …   (--help)
 */
import { runComparison } from './lib/comparison.ts';
import { runMain } from './lib/report.ts';

runMain(() => runComparison({
  benchmark: 'vs-etcd',
  title: 'Shoal vs etcd: 3 nodes each',
  question: 'A 3-node Shoal cluster against a 3-member etcd cluster on the same machine, under the same YCSB workloads, closed loop: throughput and latency ratios (Shoal over etcd).',
  defaults: { targets: 'shoal-http,etcd', workloads: 'A,B,C,F', distribution: 'zipfian', clients: 32, records: 10_000, durationS: 10, warmupS: 2, shoalNodes: 3, shoalArgs: '' },
}, process.argv.slice(2)));
