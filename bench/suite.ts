/**
 * The benchmark suite: a short run of every comparison and paper experiment, one after
 * the other (each as its own process, as `npm run bench:<name>` would run it, so every
 * child process it starts is cleaned up by it), then one JSON with every result and one
 * self-contained HTML report with all their sections and a table of headline figures.
 *
 *   npm run bench:suite -- [--only buffer,vs-redis] [--skip vs-etcd] [--full]   (--help)
 *
 * The short flags below keep the whole suite near 10 minutes on a 2-core machine; --full
 * runs each benchmark with its own (longer) defaults instead.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseFlags, usage, type FlagSpec } from './lib/args.ts';
import { escapeHtml, renderReport, type RunHeader } from './lib/html-report.ts';
import { commandLine, machineFacts } from './lib/machine.ts';
import { makeTempDir, repoRoot, shellQuote, spawnManaged } from './lib/node-process.ts';
import { log, runMain, saveResults } from './lib/report.ts';
import { headlines, headlineSection, sectionsFor } from './lib/report-sections.ts';

interface SuiteEntry {
  name: string;
  script: string;
  /** Flags of the short run. */
  short: string[];
}

const ENTRIES: readonly SuiteEntry[] = [
  { name: 'buffer', script: 'buffer.ts', short: ['--duration-s', '20', '--warmup-s', '3', '--rounds', '2', '--skip-memory'] },
  { name: 'vs-redis', script: 'vs-redis.ts', short: ['--duration-s', '8', '--warmup-s', '1', '--records', '5000', '--redis-benchmark-requests', '20000'] },
  { name: 'vs-etcd', script: 'vs-etcd.ts', short: ['--duration-s', '8', '--warmup-s', '1', '--records', '5000'] },
  { name: 'imbalance', script: 'imbalance.ts', short: ['--windows', '8', '--window-s', '5', '--warmup-s', '2', '--records', '5000'] },
  { name: 'versions', script: 'versions.ts', short: ['--duration-s', '15', '--warmup-s', '1'] },
  { name: 'coordination', script: 'coordination.ts', short: ['--duration-s', '15', '--warmup-s', '2', '--records', '5000'] },
];

const flagSpec = {
  numbers: {
    seed: { default: -1, integer: true, help: 'passed to every benchmark (-1: each picks and prints its own)' },
  },
  booleans: {
    full: { help: 'run each benchmark with its own defaults instead of the short flags' },
  },
  strings: {
    only: { help: `benchmarks to run, among ${ENTRIES.map((e) => e.name).join(',')}` },
    skip: { help: 'benchmarks to leave out' },
    out: { help: 'also write the suite JSON to this file' },
  },
} satisfies FlagSpec;

interface SuiteRun {
  name: string;
  /** The equivalent npm command. */
  command: string;
  exitCode: number | null;
  elapsedS: number;
  /** The benchmark's own JSON (null when it failed). */
  output: RunHeader | null;
  /** Its last output lines when it failed. */
  failure?: string;
}

async function runEntry(entry: SuiteEntry, args: readonly string[], dir: string): Promise<SuiteRun> {
  const jsonFile = join(dir, `${entry.name}.json`);
  const started = performance.now();
  const command = `npm run bench:${entry.name} -- ${shellQuote(args)}`.trim();
  log(`suite: ${command}`);
  const child = await spawnManaged({
    label: `bench:${entry.name}`,
    command: process.execPath,
    args: ['--import', 'tsx', join(repoRoot, 'bench', entry.script), ...args, '--out', jsonFile],
    echoStderr: true,
    stopTimeoutMs: 60_000,
  });
  const { code } = await child.waitExit();
  const elapsedS = Math.round((performance.now() - started) / 100) / 10;
  if (code !== 0 || !existsSync(jsonFile)) {
    log(`suite: ${entry.name} FAILED (exit ${code})`);
    return { name: entry.name, command, exitCode: code, elapsedS, output: null, failure: child.output().split('\n').slice(-20).join('\n') };
  }
  return { name: entry.name, command, exitCode: code, elapsedS, output: JSON.parse(readFileSync(jsonFile, 'utf8')) as RunHeader };
}

async function main(): Promise<void> {
  const flags = parseFlags(process.argv.slice(2), flagSpec);
  if (flags.help) {
    process.stderr.write(usage('npm run bench:suite --', flagSpec) + '\n');
    return;
  }
  const names = (text: string | undefined): string[] | undefined => text?.split(',').map((s) => s.trim()).filter((s) => s !== '');
  const only = names(flags.strings.only);
  const skip = names(flags.strings.skip) ?? [];
  for (const name of [...(only ?? []), ...skip]) if (!ENTRIES.some((e) => e.name === name)) throw new RangeError(`unknown benchmark ${JSON.stringify(name)}`);
  const chosen = ENTRIES.filter((e) => (only === undefined || only.includes(e.name)) && !skip.includes(e.name));
  const seedArgs = flags.numbers.seed !== undefined && flags.numbers.seed >= 0 ? ['--seed', String(flags.numbers.seed)] : [];
  const started = Date.now();
  const machine = machineFacts();
  const command = commandLine();
  log(`command: ${command}`);
  log(`machine: ${machine.cpuCount} cpu (${machine.cpuModel}), load ${machine.loadAvg1m}, cpu pressure ${machine.cpuPressureSome60s ?? 'n/a'}`);
  const dir = makeTempDir('shoal-bench-suite-');
  const runs: SuiteRun[] = [];
  for (const entry of chosen) runs.push(await runEntry(entry, [...(flags.booleans.full ? [] : entry.short), ...seedArgs], dir));
  const outputs = runs.flatMap((r) => (r.output === null ? [] : [r.output]));
  const end = machineFacts();
  const suite = {
    benchmark: 'suite',
    command,
    machine,
    machineAtEnd: { loadAvg1m: end.loadAvg1m, cpuPressureSome60s: end.cpuPressureSome60s },
    startedAt: new Date(started).toISOString(),
    elapsedS: Math.round((Date.now() - started) / 100) / 10,
    headlines: headlines(outputs),
    runs,
    warnings: runs.filter((r) => r.output === null).map((r) => `${r.name} failed (exit ${r.exitCode})`),
  };
  const paths = saveResults('suite', suite, flags.strings.out);
  const htmlPath = (paths[0] as string).replace(/\.json$/, '.html');
  const failures = runs.filter((r) => r.output === null).map((r) => ({ title: `${r.name}: FAILED`, html: `<pre>${escapeHtml(r.failure ?? '')}</pre>` }));
  writeFileSync(htmlPath, renderReport('Shoal benchmark suite', [suite, ...outputs], [headlineSection(outputs), ...outputs.flatMap(sectionsFor), ...failures]));
  for (const h of suite.headlines) log(`${h.experiment}: ${h.figure}: ${h.value}`);
  log(`suite: ${runs.length} benchmarks in ${suite.elapsedS} s; results: ${paths.join(', ')}`);
  log(`report: ${htmlPath}`);
  process.stdout.write(JSON.stringify(suite, null, 2) + '\n');
  if (runs.some((r) => r.output === null)) process.exitCode = 1;
}

runMain(main);
