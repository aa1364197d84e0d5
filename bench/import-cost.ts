/**
 * What importing Shoal costs a program: for `shoal/client` and `shoal`, the modules a fresh
 * Node process loads (Shoal's own files, packages by name, Node built-ins) and the time the
 * import takes, for the compiled package (plain Node importing dist/, as a user's program
 * does) side by side with the sources run through tsx (as Shoal ran before it had a build
 * step). Fresh processes alternate between the two, so machine noise hits both alike.
 *
 *   npm run bench:import -- [--runs 15]   (--help)
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseFlags, usage, type FlagSpec } from './lib/args.ts';
import { commandLine, machineFacts } from './lib/machine.ts';
import { repoRoot } from './lib/node-process.ts';
import { formatTable, log, median, ratio, runMain, saveResults } from './lib/report.ts';

const flagSpec = {
  numbers: {
    runs: { default: 15, min: 1, integer: true, help: 'fresh processes per entry point and mode, timed' },
  },
  strings: {
    out: { help: 'also write the JSON results to this file' },
  },
} satisfies FlagSpec;

type Mode = 'compiled' | 'tsx';
const MODES: readonly Mode[] = ['tsx', 'compiled'];

interface EntryPoint {
  readonly name: string;
  readonly files: Record<Mode, string>;
}

const ENTRY_POINTS: readonly EntryPoint[] = [
  { name: 'shoal/client', files: { compiled: 'dist/client/index.js', tsx: 'src/client/index.ts' } },
  { name: 'shoal', files: { compiled: 'dist/index.js', tsx: 'src/index.ts' } },
];

/** Packages the client must never pull in: the node's HTTP server, storage engine and logger. */
const SERVER_ONLY_PACKAGES = ['fastify', 'lmdb', 'pino'];

async function main(): Promise<void> {
  const flags = parseFlags(process.argv.slice(2), flagSpec);
  if (flags.help) {
    process.stderr.write(usage('bench/import-cost.ts', flagSpec) + '\n');
    return;
  }
  const runs = flags.numbers.runs as number;
  const work = mkdtempSync(join(tmpdir(), 'shoal-import-'));
  try {
    const hooks = writeTraceHooks(work);
    const results = ENTRY_POINTS.map((entry) => measureEntry(entry, runs, hooks));
    const output = {
      benchmark: 'import-cost',
      question: 'Modules loaded and time taken by importing shoal/client and shoal: compiled dist/ on plain Node vs the sources through tsx',
      command: commandLine(),
      machine: machineFacts(),
      startedAt: new Date().toISOString(),
      options: { runs },
      results,
    };
    printTable(results);
    for (const path of saveResults('import-cost', output, flags.strings.out)) log(`results: ${path}`);
    process.stdout.write(JSON.stringify(output, null, 2) + '\n');
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

function measureEntry(entry: EntryPoint, runs: number, hooks: TraceHooks) {
  const modules = Object.fromEntries(MODES.map((mode) => [mode, traceModules(entry.files[mode], mode, hooks)])) as Record<Mode, ModuleCount>;
  const importMs: Record<Mode, number[]> = { compiled: [], tsx: [] };
  const processMs: Record<Mode, number[]> = { compiled: [], tsx: [] };
  for (let run = 0; run < runs; run++) {
    for (const mode of run % 2 === 0 ? MODES : [...MODES].reverse()) {
      const timed = timeImport(entry.files[mode], mode);
      importMs[mode].push(timed.importMs);
      processMs[mode].push(timed.processMs);
    }
  }
  const summary = (mode: Mode) => ({ modules: modules[mode], importMsMedian: round1(median(importMs[mode])), processMsMedian: round1(median(processMs[mode])) });
  const compiled = summary('compiled');
  const tsx = summary('tsx');
  log(`${entry.name}: import ${tsx.importMsMedian} ms through tsx, ${compiled.importMsMedian} ms compiled`);
  return {
    entry: entry.name,
    tsx,
    compiled,
    compiledOverTsx: { importMs: ratio(compiled.importMsMedian, tsx.importMsMedian), processMs: ratio(compiled.processMsMedian, tsx.processMsMedian) },
  };
}

interface ModuleCount {
  total: number;
  shoal: number;
  builtins: number;
  packages: Record<string, number>;
  serverOnlyPackages: string[];
}

interface TraceHooks {
  readonly register: string;
  readonly traceFile: string;
}

/** A module-load hook that appends every URL Node loads to a file. */
function writeTraceHooks(work: string): TraceHooks {
  const traceFile = join(work, 'trace.txt');
  const hooks = join(work, 'hooks.mjs');
  writeFileSync(hooks, `import { appendFileSync } from 'node:fs';\nexport async function load(url, context, next) { appendFileSync(${JSON.stringify(traceFile)}, url + '\\n'); return next(url, context); }\n`);
  const register = join(work, 'register.mjs');
  writeFileSync(register, `import { register } from 'node:module';\nregister(${JSON.stringify(pathToFileURL(hooks).href)});\n`);
  return { register, traceFile };
}

function traceModules(file: string, mode: Mode, hooks: TraceHooks): ModuleCount {
  writeFileSync(hooks.traceFile, '');
  const loaders = mode === 'tsx' ? ['--import', 'tsx'] : [];
  // The load hook sees ES modules; CommonJS packages (fastify, pino, …) load their files through require, so the child adds require's cache.
  const script = `await import(${JSON.stringify(pathToFileURL(join(repoRoot, file)).href)});
    const { createRequire } = await import('node:module');
    const { appendFileSync } = await import('node:fs');
    appendFileSync(${JSON.stringify(hooks.traceFile)}, Object.keys(createRequire(import.meta.url).cache).map((path) => 'file://' + path + '\\n').join(''));`;
  execFileSync(process.execPath, [...loaders, '--import', hooks.register, '--input-type=module', '-e', script], { cwd: repoRoot });
  const urls = [...new Set(readFileSync(hooks.traceFile, 'utf8').split('\n').filter((url) => url !== ''))];
  const packages: Record<string, number> = {};
  let shoal = 0;
  let builtins = 0;
  for (const url of urls) {
    const packageName = /\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url)?.[1];
    if (packageName !== undefined) packages[packageName] = (packages[packageName] ?? 0) + 1;
    else if (url.startsWith('node:')) builtins++;
    else shoal++;
  }
  return { total: urls.length, shoal, builtins, packages, serverOnlyPackages: SERVER_ONLY_PACKAGES.filter((name) => packages[name] !== undefined) };
}

/** One fresh process: the import's own time (measured inside), and spawn to exit. */
function timeImport(file: string, mode: Mode): { importMs: number; processMs: number } {
  const loaders = mode === 'tsx' ? ['--import', 'tsx'] : [];
  const script = `const t0 = performance.now(); await import(${JSON.stringify(pathToFileURL(join(repoRoot, file)).href)}); process.stdout.write(String(performance.now() - t0));`;
  const startedAt = performance.now();
  const out = execFileSync(process.execPath, [...loaders, '--input-type=module', '-e', script], { cwd: repoRoot, encoding: 'utf8' });
  return { importMs: Number(out), processMs: performance.now() - startedAt };
}

const round1 = (x: number) => Math.round(x * 10) / 10;

function printTable(results: ReturnType<typeof measureEntry>[]): void {
  const rows = results.flatMap((r) =>
    MODES.map((mode) => {
      const { total, shoal, packages, serverOnlyPackages } = r[mode].modules;
      return [r.entry, mode, String(total), String(shoal), String(Object.keys(packages).length), serverOnlyPackages.join(' ') || '-', String(r[mode].importMsMedian), String(r[mode].processMsMedian)];
    }),
  );
  process.stderr.write(formatTable(['entry', 'mode', 'modules', 'shoal files', 'packages', 'fastify/lmdb/pino', 'import ms', 'process ms'], rows) + '\n');
}

runMain(main);
