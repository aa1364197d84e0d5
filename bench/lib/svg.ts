/**
 * Inline SVG charts for the HTML reports (no script, no network): HDR latency percentile
 * curves, grouped bars and line series. Every function returns an `<svg>` string.
 */
import type { PercentilePoint } from './hdr.ts';

const PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#17becf', '#7f7f7f', '#bcbd22'];
const WIDTH = 720;
const HEIGHT = 330;
const MARGIN = { left: 64, right: 190, top: 34, bottom: 46 };
const PLOT_W = WIDTH - MARGIN.left - MARGIN.right;
const PLOT_H = HEIGHT - MARGIN.top - MARGIN.bottom;

export function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

export function color(i: number): string {
  return PALETTE[i % PALETTE.length] as string;
}

/** Numbers for axis labels and bar values: 3 significant digits, thousands grouped. */
export function formatNumber(x: number): string {
  if (!Number.isFinite(x)) return String(x);
  const abs = Math.abs(x);
  if (abs >= 1000) return Math.round(x).toLocaleString('en-US');
  if (abs >= 100) return x.toFixed(0);
  if (abs >= 10) return x.toFixed(1);
  if (abs >= 1) return x.toFixed(2);
  if (abs === 0) return '0';
  return x.toPrecision(2);
}

function frame(title: string, body: string, xLabel: string, yLabel: string, legend: readonly string[]): string {
  const legendItems = legend.map((name, i) =>
    `<g transform="translate(${MARGIN.left + PLOT_W + 14},${MARGIN.top + 8 + i * 18})"><rect width="12" height="12" fill="${color(i)}"/>` +
    `<text x="18" y="10" font-size="12">${escapeXml(name)}</text></g>`).join('');
  return `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${WIDTH} ${HEIGHT}" width="${WIDTH}" height="${HEIGHT}" font-family="sans-serif" role="img" aria-label="${escapeXml(title)}">` +
    `<text x="${MARGIN.left}" y="20" font-size="14" font-weight="bold">${escapeXml(title)}</text>` +
    `<rect x="${MARGIN.left}" y="${MARGIN.top}" width="${PLOT_W}" height="${PLOT_H}" fill="none" stroke="#999"/>` +
    body +
    `<text x="${MARGIN.left + PLOT_W / 2}" y="${HEIGHT - 8}" font-size="12" text-anchor="middle">${escapeXml(xLabel)}</text>` +
    `<text transform="translate(14,${MARGIN.top + PLOT_H / 2}) rotate(-90)" font-size="12" text-anchor="middle">${escapeXml(yLabel)}</text>` +
    legendItems + '</svg>';
}

function yGrid(ticks: readonly { value: number; label: string }[], y: (v: number) => number): string {
  return ticks.map((t) => {
    const py = y(t.value).toFixed(1);
    return `<line x1="${MARGIN.left}" x2="${MARGIN.left + PLOT_W}" y1="${py}" y2="${py}" stroke="#e5e5e5"/>` +
      `<text x="${MARGIN.left - 6}" y="${py}" font-size="11" text-anchor="end" dominant-baseline="middle">${escapeXml(t.label)}</text>`;
  }).join('');
}

/** Decade ticks (1, 10, 100 …) between two positive values, for a log axis. */
function logTicks(min: number, max: number): { value: number; label: string }[] {
  const ticks = [];
  for (let e = Math.floor(Math.log10(min)); e <= Math.ceil(Math.log10(max)); e++) ticks.push({ value: 10 ** e, label: formatNumber(10 ** e) });
  return ticks;
}

export interface PercentileSeries {
  name: string;
  points: readonly PercentilePoint[];
}

/** "Nines" of a percentile: 0 → 0, 90 → 1, 99 → 2, 99.9 → 3 … (HDR's 1/(1 - p) axis, in decades). */
function nines(p: number): number {
  return Math.log10(1 / (1 - p / 100));
}

/**
 * Latency against percentile, as HDR histograms plot it: the x axis spreads the tail
 * (0%, 90%, 99%, 99.9% … equally spaced), the y axis is logarithmic; each curve ends at
 * its max, drawn half a decade past its last finite percentile.
 */
export function percentileChart(title: string, series: readonly PercentileSeries[]): string {
  const drawn = series.filter((s) => s.points.length > 0);
  if (drawn.length === 0) return emptyChart(title);
  const finite = drawn.flatMap((s) => s.points.filter((p) => p.p < 100).map((p) => nines(p.p)));
  const xMax = Math.max(1, ...finite) + 0.5;
  const values = drawn.flatMap((s) => s.points.map((p) => Math.max(p.ms, 0.001)));
  const yMin = 10 ** Math.floor(Math.log10(Math.min(...values)));
  const yMax = 10 ** Math.ceil(Math.log10(Math.max(...values) * 1.0001));
  const x = (p: number): number => MARGIN.left + (Math.min(p >= 100 ? xMax : nines(p), xMax) / xMax) * PLOT_W;
  const y = (ms: number): number => MARGIN.top + PLOT_H - ((Math.log10(Math.max(ms, yMin)) - Math.log10(yMin)) / (Math.log10(yMax) - Math.log10(yMin))) * PLOT_H;
  const xTicks = Array.from({ length: Math.floor(xMax - 0.5) + 1 }, (_, d) => {
    const p = 100 * (1 - 10 ** -d);
    const px = x(p).toFixed(1);
    const label = d === 0 ? '0%' : `${formatPercentile(p)}%`;
    return `<line x1="${px}" x2="${px}" y1="${MARGIN.top}" y2="${MARGIN.top + PLOT_H}" stroke="#e5e5e5"/>` +
      `<text x="${px}" y="${MARGIN.top + PLOT_H + 16}" font-size="11" text-anchor="middle">${label}</text>`;
  }).join('') + `<text x="${x(100).toFixed(1)}" y="${MARGIN.top + PLOT_H + 16}" font-size="11" text-anchor="middle">max</text>`;
  const lines = drawn.map((s, i) => {
    const path = s.points.map((p) => `${x(p.p).toFixed(1)},${y(p.ms).toFixed(1)}`).join(' ');
    const last = s.points[s.points.length - 1] as PercentilePoint;
    return `<polyline points="${path}" fill="none" stroke="${color(i)}" stroke-width="2"/>` +
      `<circle cx="${x(last.p).toFixed(1)}" cy="${y(last.ms).toFixed(1)}" r="3" fill="${color(i)}"><title>${escapeXml(`${s.name}: max ${last.ms} ms`)}</title></circle>`;
  }).join('');
  return frame(title, yGrid(logTicks(yMin, yMax), y) + xTicks + lines, 'percentile', 'latency, ms (log)', drawn.map((s) => s.name));
}

function formatPercentile(p: number): string {
  return String(Math.round(p * 10000) / 10000);
}

export interface BarGroup {
  label: string;
  /** One value per series name (missing: no bar). */
  values: Readonly<Record<string, number | undefined>>;
  /** A line under the group's label, e.g. a ratio. */
  note?: string;
}

/** Grouped vertical bars on a linear axis from 0, each bar labelled with its value. */
export function barChart(title: string, seriesNames: readonly string[], groups: readonly BarGroup[], yLabel: string): string {
  const values = groups.flatMap((g) => seriesNames.map((s) => g.values[s] ?? 0));
  if (groups.length === 0 || values.every((v) => v === 0)) return emptyChart(title);
  const yMax = niceCeiling(Math.max(...values));
  const y = (v: number): number => MARGIN.top + PLOT_H - (v / yMax) * PLOT_H;
  const groupW = PLOT_W / groups.length;
  const barW = Math.min(48, (groupW * 0.8) / seriesNames.length);
  const ticks = Array.from({ length: 5 }, (_, i) => ({ value: (yMax * i) / 4, label: formatNumber((yMax * i) / 4) }));
  const bars = groups.map((g, gi) => {
    const x0 = MARGIN.left + gi * groupW + (groupW - barW * seriesNames.length) / 2;
    const cells = seriesNames.map((s, si) => {
      const v = g.values[s];
      if (v === undefined) return '';
      const bx = x0 + si * barW;
      return `<rect x="${bx.toFixed(1)}" y="${y(v).toFixed(1)}" width="${(barW - 2).toFixed(1)}" height="${(MARGIN.top + PLOT_H - y(v)).toFixed(1)}" fill="${color(si)}"><title>${escapeXml(`${g.label} ${s}: ${formatNumber(v)}`)}</title></rect>` +
        `<text x="${(bx + barW / 2 - 1).toFixed(1)}" y="${(y(v) - 3).toFixed(1)}" font-size="10" text-anchor="middle">${formatNumber(v)}</text>`;
    }).join('');
    const cx = MARGIN.left + gi * groupW + groupW / 2;
    const note = g.note === undefined ? '' : `<text x="${cx.toFixed(1)}" y="${MARGIN.top + PLOT_H + 30}" font-size="11" text-anchor="middle" fill="#444">${escapeXml(g.note)}</text>`;
    return cells + `<text x="${cx.toFixed(1)}" y="${MARGIN.top + PLOT_H + 16}" font-size="12" text-anchor="middle">${escapeXml(g.label)}</text>` + note;
  }).join('');
  return frame(title, yGrid(ticks, y) + bars, '', yLabel, seriesNames);
}

export interface LineSeries {
  name: string;
  points: readonly { x: number; y: number }[];
}

/** Lines with markers over a linear x axis (e.g. window number), y from 0 to `yMax` (or the data's max). */
export function lineChart(title: string, series: readonly LineSeries[], xLabel: string, yLabel: string, yMax?: number, yFormat: (v: number) => string = formatNumber): string {
  const all = series.flatMap((s) => s.points);
  if (all.length === 0) return emptyChart(title);
  const xMin = Math.min(...all.map((p) => p.x));
  const xMax = Math.max(xMin + 1, ...all.map((p) => p.x));
  const top = yMax ?? niceCeiling(Math.max(...all.map((p) => p.y)));
  const x = (v: number): number => MARGIN.left + ((v - xMin) / (xMax - xMin)) * PLOT_W;
  const y = (v: number): number => MARGIN.top + PLOT_H - (Math.min(v, top) / top) * PLOT_H;
  const yTicks = Array.from({ length: 5 }, (_, i) => ({ value: (top * i) / 4, label: yFormat((top * i) / 4) }));
  const step = Math.max(1, Math.ceil((xMax - xMin) / 10));
  const xTicks: string[] = [];
  for (let v = xMin; v <= xMax; v += step) {
    xTicks.push(`<text x="${x(v).toFixed(1)}" y="${MARGIN.top + PLOT_H + 16}" font-size="11" text-anchor="middle">${Number.isInteger(v) ? String(v) : formatNumber(v)}</text>`);
  }
  const lines = series.map((s, i) => {
    const path = s.points.map((p) => `${x(p.x).toFixed(1)},${y(p.y).toFixed(1)}`).join(' ');
    const marks = s.points.map((p) => `<circle cx="${x(p.x).toFixed(1)}" cy="${y(p.y).toFixed(1)}" r="2.5" fill="${color(i)}"><title>${escapeXml(`${s.name} @${p.x}: ${yFormat(p.y)}`)}</title></circle>`).join('');
    return `<polyline points="${path}" fill="none" stroke="${color(i)}" stroke-width="1.5"/>${marks}`;
  }).join('');
  return frame(title, yGrid(yTicks, y) + xTicks.join('') + lines, xLabel, yLabel, series.map((s) => s.name));
}

function niceCeiling(v: number): number {
  if (!(v > 0)) return 1;
  const magnitude = 10 ** Math.floor(Math.log10(v));
  // Each a multiple of 4 round steps, for the 4 grid intervals.
  for (const m of [1, 1.2, 1.6, 2, 2.4, 3.2, 4, 6, 8, 10]) if (m * magnitude >= v * 1.08) return m * magnitude;
  return 10 * magnitude;
}

function emptyChart(title: string): string {
  return `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${WIDTH} 60" width="${WIDTH}" height="60" font-family="sans-serif">` +
    `<text x="10" y="20" font-size="14" font-weight="bold">${escapeXml(title)}</text><text x="10" y="44" font-size="12" fill="#777">no data</text></svg>`;
}
