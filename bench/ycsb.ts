/**
 * YCSB-style core workloads (A, B, C, F) against one or more systems, side by side in one
 * run, with the first target's ratios over the others (lib/ycsb.ts, lib/comparison.ts).
 *
 *   npm run bench:ycsb -- [--targets shoal-http,etcd] [--workloads A,B,C,F] [--distribution zipfian]
 *                         [--clients 32 | --rate 500] [--duration-s 10] …   (--help)
 *
 * stdout: one JSON object; also saved under bench/results/ with an HTML report next to it.
 */
import { runComparison } from './lib/comparison.ts';
import { runMain } from './lib/report.ts';

runMain(() => runComparison({
  benchmark: 'ycsb',
  title: 'Shoal benchmarks: YCSB core workloads',
  question: 'YCSB core workloads against the chosen systems, same load shape and seed for each, run one after the other in one process.',
  defaults: { targets: 'shoal-http', workloads: 'A,B,C,F', distribution: 'zipfian', clients: 32, records: 10_000, durationS: 10, warmupS: 2, shoalNodes: 3, shoalArgs: '' },
}, process.argv.slice(2)));
