/**
 * Renders the HTML report again from saved JSON results (after a change to the report
 * code, or to put several runs on one page): a suite JSON contributes every run it holds.
 *
 *   npm run bench:report -- bench/results/suite-….json [more.json …] [--out report.html]
 *
 * Writes next to the first file (same name, .html) unless --out is given; prints the path.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { renderReport, type RunHeader } from './lib/html-report.ts';
import { log, runMain } from './lib/report.ts';
import { headlineSection, sectionsFor } from './lib/report-sections.ts';

/** The benchmark outputs in a results file: itself, or a suite's runs. */
function outputsOf(path: string): { headers: RunHeader[]; outputs: RunHeader[] } {
  const json = JSON.parse(readFileSync(path, 'utf8')) as RunHeader & { runs?: { output: RunHeader | null }[] };
  if (json.benchmark !== 'suite') return { headers: [json], outputs: [json] };
  const outputs = (json.runs ?? []).flatMap((r) => (r.output === null ? [] : [r.output]));
  return { headers: [json, ...outputs], outputs };
}

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({ options: { out: { type: 'string' } }, allowPositionals: true });
  if (positionals.length === 0) throw new RangeError('usage: npm run bench:report -- FILE.json [FILE.json …] [--out FILE.html]');
  const read = positionals.map((p) => outputsOf(resolve(p)));
  const headers = read.flatMap((r) => r.headers);
  const outputs = read.flatMap((r) => r.outputs);
  const htmlPath = values.out ?? resolve(positionals[0] as string).replace(/\.json$/, '') + '.html';
  writeFileSync(htmlPath, renderReport('Shoal benchmarks', headers, [...(outputs.length > 1 ? [headlineSection(outputs)] : []), ...outputs.flatMap(sectionsFor)]));
  log(`report: ${htmlPath}`);
}

runMain(main);
