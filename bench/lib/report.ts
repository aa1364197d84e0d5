/** Writing results: JSON to stdout and bench/results/, a text table to stderr. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { UsageError } from './args.ts';
import { repoRoot, stopAllNodes } from './node-process.ts';

/**
 * Writes the results as pretty JSON to bench/results/<name>-<timestamp>.json (git-ignored)
 * and, when given, to `outFile`. Returns the paths written.
 */
export function saveResults(name: string, results: unknown, outFile?: string): string[] {
  const json = JSON.stringify(results, null, 2) + '\n';
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const paths = [join(repoRoot, 'bench', 'results', `${name}-${stamp}.json`)];
  if (outFile !== undefined) paths.push(resolve(outFile));
  for (const path of paths) {
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, json);
  }
  return paths;
}

/** A plain text table with right-aligned columns except the first. */
export function formatTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => (r[c] ?? '').length)));
  const line = (cells: readonly string[]): string =>
    cells.map((cell, c) => (c === 0 ? cell.padEnd(widths[c] ?? 0) : cell.padStart(widths[c] ?? 0))).join('  ');
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

export function mib(bytes: number): number {
  return Math.round((bytes / 1048576) * 10) / 10;
}

/** The middle value (the mean of the middle two for an even count). */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

/** a / b rounded to 2 decimals; null when b is 0. */
export function ratio(a: number, b: number): number | null {
  return b === 0 ? null : Math.round((a / b) * 100) / 100;
}

/** Progress lines go to stderr so stdout stays one JSON object. */
export function log(message: string): void {
  process.stderr.write(`[bench] ${message}\n`);
}

/**
 * Runs a benchmark's main: a bad command line is one line on stderr, any other failure its
 * stack; either way every child process is stopped and the exit code is 1.
 */
export function runMain(main: () => Promise<void>): void {
  main().catch(async (error: unknown) => {
    if (error instanceof UsageError || error instanceof RangeError) log(`${error.message} (see --help)`);
    else log(`failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    await stopAllNodes();
    process.exitCode = 1;
  });
}
