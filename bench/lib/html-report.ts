/**
 * Self-contained HTML reports: one file, inline SVG charts (svg.ts), no script and no
 * network. A report is a header (machine facts, command lines) and sections; it is
 * written next to the benchmark's JSON (bench/results/<name>-<time>.html).
 */
import { writeFileSync } from 'node:fs';
import type { MachineFacts } from './machine.ts';
import { log, saveResults } from './report.ts';
import { escapeXml, formatNumber } from './svg.ts';

export interface ReportSection {
  title: string;
  /** HTML (charts, tables, paragraphs). */
  html: string;
}

/** What every benchmark's JSON carries, for the report's header. */
export interface RunHeader {
  benchmark: string;
  command: string;
  machine: MachineFacts;
  machineAtEnd?: { loadAvg1m: number; cpuPressureSome60s: number | undefined };
  startedAt?: string;
  elapsedS?: number;
  seed?: number;
  warnings?: readonly string[];
}

export const escapeHtml = escapeXml;

export function paragraph(text: string): string {
  return `<p>${escapeHtml(text)}</p>`;
}

/** A table; cells are text (escaped), numbers are formatted. */
export function htmlTable(header: readonly string[], rows: readonly (readonly (string | number | null | undefined)[])[]): string {
  const cell = (v: string | number | null | undefined): string => (v === null || v === undefined ? '—' : typeof v === 'number' ? formatNumber(v) : escapeHtml(v));
  return '<table><thead><tr>' + header.map((h) => `<th>${escapeHtml(h)}</th>`).join('') + '</tr></thead><tbody>' +
    rows.map((r) => '<tr>' + r.map((v) => `<td>${cell(v)}</td>`).join('') + '</tr>').join('') + '</tbody></table>';
}

function machineTable(runs: readonly RunHeader[]): string {
  const first = runs[0];
  if (first === undefined) return '';
  const m = first.machine;
  const facts = htmlTable(['fact', 'value'], [
    ['cpu', `${m.cpuCount} × ${m.cpuModel}`],
    ['memory', `${Math.round(m.totalMemBytes / 2 ** 30 * 10) / 10} GiB (${Math.round(m.freeMemBytes / 2 ** 30 * 10) / 10} free at start)`],
    ['node', m.nodeVersion],
    ['os', `${m.platform} ${m.kernel} ${m.arch}`],
    ['git', `${m.gitCommit ?? 'unknown'}${m.gitDirty === true ? ' (uncommitted changes)' : ''}`],
  ]);
  const perRun = htmlTable(['benchmark', 'started', 'elapsed s', 'seed', 'load avg 1m (start → end)', 'cpu pressure 60s (start → end)', 'command'], runs.map((r) => [
    r.benchmark, r.startedAt, r.elapsedS, r.seed,
    `${r.machine.loadAvg1m} → ${r.machineAtEnd?.loadAvg1m ?? '?'}`,
    `${r.machine.cpuPressureSome60s ?? 'n/a'} → ${r.machineAtEnd?.cpuPressureSome60s ?? 'n/a'}`,
    r.command,
  ]));
  const warnings = runs.flatMap((r) => (r.warnings ?? []).map((w) => `${r.benchmark}: ${w}`));
  return facts + perRun + (warnings.length === 0 ? '' : '<h3>Warnings</h3><ul>' + warnings.map((w) => `<li>${escapeHtml(w)}</li>`).join('') + '</ul>');
}

const STYLE = `body{font-family:sans-serif;max-width:1100px;margin:1em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:.6em 0;font-size:13px}th,td{border:1px solid #ccc;padding:3px 7px;text-align:right;vertical-align:top}
th{background:#f3f3f3}td:first-child,th:first-child{text-align:left}td:last-child{text-align:left}
h2{border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:2em}svg{display:block;margin:.6em 0}p.note{color:#555;font-size:13px}`;

export function renderReport(title: string, runs: readonly RunHeader[], sections: readonly ReportSection[]): string {
  const toc = sections.map((s, i) => `<li><a href="#s${i}">${escapeHtml(s.title)}</a></li>`).join('');
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title><style>${STYLE}</style></head><body>` +
    `<h1>${escapeHtml(title)}</h1><p class="note">Numbers from one machine, in one run; shared machines are noisy, so compare the ratios measured side by side, not absolute figures across runs.</p>` +
    `<h2>Machine and commands</h2>${machineTable(runs)}` +
    (sections.length > 1 ? `<ul>${toc}</ul>` : '') +
    sections.map((s, i) => `<h2 id="s${i}">${escapeHtml(s.title)}</h2>${s.html}`).join('') +
    '</body></html>\n';
}

/**
 * Saves the JSON (bench/results/<name>-<time>.json and `outFile`), the HTML report next to
 * it, prints the JSON on stdout and both paths on stderr. Returns the HTML path.
 */
export function publishResults(name: string, output: RunHeader, sections: readonly ReportSection[], outFile: string | undefined, title: string): string {
  const paths = saveResults(name, output, outFile);
  const htmlPath = (paths[0] as string).replace(/\.json$/, '.html');
  writeFileSync(htmlPath, renderReport(title, [output], sections));
  log(`results: ${paths.join(', ')}`);
  log(`report: ${htmlPath}`);
  process.stdout.write(JSON.stringify(output, null, 2) + '\n');
  return htmlPath;
}
