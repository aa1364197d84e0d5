/**
 * The HTML sections of each benchmark's report, from its JSON output. The suite renders
 * the sections of every benchmark it ran into one page (sectionsFor).
 */
import { htmlTable, paragraph, type ReportSection, type RunHeader } from './html-report.ts';
import type {
  BufferOutputView, ComparisonOutput, CoordinationOutput, ImbalanceOutput, RedisBenchmarkSummary, VersionsOutput,
} from './outputs.ts';
import { barChart, formatNumber, lineChart, percentileChart, type BarGroup, type PercentileSeries } from './svg.ts';
import type { SkipRecord } from './targets.ts';
import type { YcsbRunResult } from './ycsb.ts';

/** The title suffix naming the ratios printed under the bar groups. */
function ratioLegend(pairs: readonly string[]): string {
  const distinct = [...new Set(pairs)];
  return distinct.length === 0 ? '' : `; under each: ${distinct.join(', ')}`;
}

function skipsHtml(skipped: Readonly<Record<string, SkipRecord>>): string {
  const entries = Object.entries(skipped);
  if (entries.length === 0) return '';
  return '<p><b>Skipped:</b></p><ul>' + entries.map(([name, s]) =>
    `<li>${paragraph(`${name}: ${s.reason}${s.install !== undefined ? ` — install with: ${s.install}` : ''}`)}</li>`).join('') + '</ul>';
}

/** One row per (workload, target): throughput, per-operation latency, CPU. */
export function ycsbRunTable(runs: readonly YcsbRunResult[]): string {
  const rows = runs.flatMap((run) => Object.entries(run.operations).map(([op, s]) => [
    run.workload, run.target, op, run.throughputPerS, s.throughputPerS, s.latencyMs.mean, s.latencyMs.p50, s.latencyMs.p99, s.latencyMs.p99_9, s.latencyMs.max,
    s.errors, run.cpu.nodesCores, run.cpu.clientCores, run.cpu.otherCores, run.cpu.cpuPressureSome,
  ]));
  return htmlTable(['workload', 'target', 'op', 'total ops/s', 'op/s', 'mean ms', 'p50', 'p99', 'p99.9', 'max', 'errors', 'target cores', 'client cores', 'other cores', 'cpu pressure'], rows);
}

/** One percentile chart per workload: a curve per (target, operation). */
export function ycsbPercentileCharts(runs: readonly YcsbRunResult[], titlePrefix: string): string {
  const workloads = [...new Set(runs.map((r) => `${r.workload}|${r.distribution}`))];
  return workloads.map((w) => {
    const [workload, distribution] = w.split('|');
    const series: PercentileSeries[] = runs
      .filter((r) => r.workload === workload && r.distribution === distribution)
      .flatMap((r) => Object.entries(r.operations).map(([op, s]) => ({ name: `${r.target} ${op}`, points: s.latencyCurveMs })));
    return percentileChart(`${titlePrefix}workload ${workload} (${distribution}): latency by percentile`, series);
  }).join('');
}

export function comparisonSections(output: ComparisonOutput): ReportSection[] {
  const sbs = output.sideBySide;
  const title = `${output.benchmark}: ${output.options.targets.join(' vs ')}`;
  const intro = paragraph(output.question) +
    paragraph(`Load shape: ${output.options.loop.mode === 'closed' ? `closed loop, ${output.options.loop.clients} clients (one connection each, no pipelining), latency from send` : `open loop at ${output.options.loop.ratePerS}/s, latency from the scheduled time`}; ` +
      `${output.options.records} records of ${output.options.valueBytes} B, ${output.options.distribution} keys, ${output.options.warmupS} s warm-up + ${output.options.durationS} s per workload and target, seed ${output.options.seed}.`) +
    htmlTable(['target', 'what'], Object.entries(output.targets).map(([name, t]) => [name, t.description])) +
    skipsHtml(output.skipped);
  if (sbs === null) return [{ title, html: intro + paragraph('No target could run.') }];
  const names = Object.keys(output.targets);
  const groups: BarGroup[] = output.options.workloads.map((w) => {
    const ratios = sbs.ratios.filter((r) => r.workload === w);
    return {
      label: `workload ${w}`,
      values: Object.fromEntries(sbs.runs.filter((r) => r.workload === w).map((r) => [r.target, r.throughputPerS])),
      note: ratios.map((r) => (r.throughput === null ? '—' : `${r.throughput}×`)).join(', ') || undefined,
    };
  });
  const ratioRows = sbs.ratios.map((r) => [r.workload, r.pair, r.throughput,
    Object.entries(r.p50).map(([op, v]) => `${op} ${v ?? '—'}`).join(', '),
    Object.entries(r.p99).map(([op, v]) => `${op} ${v ?? '—'}`).join(', '),
    Object.entries(r.p99_9).map(([op, v]) => `${op} ${v ?? '—'}`).join(', ')]);
  const goal = output.goal === undefined ? '' :
    `<p><b>Goal (measured, not asserted):</b> ${paragraph(output.goal.statement)} measured: ${paragraph(JSON.stringify(output.goal.measured))} ` +
    `${output.goal.met === null ? 'not measurable in this run' : output.goal.met ? 'met' : 'NOT met'}.</p>`;
  const sections: ReportSection[] = [{
    title,
    html: intro + goal +
      barChart(`${output.benchmark}: throughput per workload (ops/s)${ratioLegend(sbs.ratios.map((r) => r.pair))}`, names, groups, 'operations / s') +
      (ratioRows.length > 0 ? '<h3>Ratios (first target over the other)</h3>' + htmlTable(['workload', 'pair', 'throughput', 'p50', 'p99', 'p99.9'], ratioRows) : '') +
      '<h3>Per workload and operation</h3>' + ycsbRunTable(sbs.runs) +
      '<h3>Load phase</h3>' + htmlTable(['target', 'records', 'seconds', 'writes/s', 'p99 ms', 'errors'],
        Object.entries(sbs.loads).map(([name, l]) => [name, l.records, l.elapsedS, l.ratePerS, l.latencyMs.p99, JSON.stringify(l.errors)])) +
      ycsbPercentileCharts(sbs.runs, ''),
  }];
  const redisBenchmark = output.extra?.redisBenchmark as RedisBenchmarkSummary | SkipRecord | undefined;
  if (redisBenchmark !== undefined) sections.push(redisBenchmarkSection(redisBenchmark));
  return sections;
}

function redisBenchmarkSection(summary: RedisBenchmarkSummary | SkipRecord): ReportSection {
  const title = 'redis-benchmark';
  if ('skipped' in summary) return { title, html: skipsHtml({ 'redis-benchmark': summary }) };
  const names = Object.keys(summary.byTarget);
  const tests = [...new Set(Object.values(summary.byTarget).flatMap((r) => r.rows.map((row) => row.test)))];
  const groups: BarGroup[] = tests.map((test) => ({
    label: test,
    values: Object.fromEntries(names.map((name) => [name, summary.byTarget[name]?.rows.find((r) => r.test === test)?.requestsPerS])),
    note: Object.values(summary.ratios).map((byTest) => `${byTest[test] ?? '—'}×`).join(', ') || undefined,
  }));
  const rows = names.flatMap((name) => (summary.byTarget[name]?.rows ?? []).map((r) => [name, r.test, r.requestsPerS, r.avgLatencyMs, r.p50LatencyMs, r.p95LatencyMs, r.p99LatencyMs, r.maxLatencyMs]));
  const problems = names.flatMap((name) => {
    const r = summary.byTarget[name];
    return r === undefined || (r.exitCode === 0 && r.otherOutput.length === 0) ? [] : [`${name}: exit ${r.exitCode}; ${r.otherOutput.join(' | ')}`];
  });
  return {
    title,
    html: paragraph(`Command (per target, host and port filled in): ${summary.command}`) +
      barChart(`redis-benchmark: requests/s${ratioLegend(Object.keys(summary.ratios))}`, names, groups, 'requests / s') +
      htmlTable(['target', 'test', 'requests/s', 'avg ms', 'p50', 'p95', 'p99', 'max'], rows) +
      problems.map((p) => paragraph(p)).join(''),
  };
}

export function bufferSections(output: BufferOutputView): ReportSection[] {
  const title = 'Paper 6.1: buffered vs durable writes (bench:buffer)';
  if (output.results === null || output.ratiosDurableOverBuffered === null) return [{ title, html: paragraph('The latency phase was skipped.') }];
  const configs = { durable: output.results.durable, buffered: output.results.buffered };
  const percentiles = ['p50', 'p90', 'p99', 'p99_9'] as const;
  const groups: BarGroup[] = percentiles.map((p) => ({
    label: p.replace('_', '.'),
    values: { durable: configs.durable.load.latencyMs[p], buffered: configs.buffered.load.latencyMs[p] },
    note: p === 'p50' || p === 'p99' || p === 'p99_9' ? `${output.ratiosDurableOverBuffered?.[p] ?? '—'}×` : undefined,
  }));
  return [{
    title,
    html: paragraph(`One node per configuration, open loop at ${output.options.ratePerS} writes/s, latency from the scheduled time, alternating slices; ` +
      `the paper reports about ${output.paperClaim.p99_9Ratio}× at p99.9 with a ${output.options.bufferObjects}-object buffer.`) +
      `<p><b>p99.9 durable / buffered: ${output.ratiosDurableOverBuffered.p99_9 ?? '—'}×</b> (p99 ${output.ratiosDurableOverBuffered.p99 ?? '—'}×, p50 ${output.ratiosDurableOverBuffered.p50 ?? '—'}×)</p>` +
      barChart(`write latency by percentile, ms${ratioLegend(['durable/buffered'])}`, ['durable', 'buffered'], groups, 'ms') +
      htmlTable(['config', 'what', 'writes/s', 'mean', 'p50', 'p99', 'p99.9', 'max', 'errors', 'saturated'], Object.entries(configs).map(([name, c]) => [
        name, c.description, c.load.throughputPerS, c.load.latencyMs.mean, c.load.latencyMs.p50, c.load.latencyMs.p99, c.load.latencyMs.p99_9, c.load.latencyMs.max, c.load.errorCount, String(c.load.saturated),
      ])),
  }];
}

export function imbalanceSections(output: ImbalanceOutput): ReportSection[] {
  const o = output.options;
  const series = output.byDistribution.map((d) => ({ name: `${d.distribution} (mean ${formatNumber(d.meanOutOfBalanceFraction)})`, points: d.windows.map((w, i) => ({ x: i + 1, y: w.outOfBalanceFraction })) }));
  const nodes = Object.keys(output.byDistribution[0]?.totalPerNode ?? {});
  const perNode: BarGroup[] = nodes.map((node) => ({ label: node, values: Object.fromEntries(output.byDistribution.map((d) => [d.distribution, d.totalPerNode[node] ?? 0])) }));
  return [{
    title: 'Paper 6.2: request-load imbalance (bench:imbalance)',
    html: paragraph(output.question) +
      paragraph(`${o.nodes} nodes; each request sent to the first primary of its key; workload ${o.workload} at ${o.ratePerS} requests/s (open loop) over ${o.records} keys; ` +
        `${o.windows} windows of ${o.windowS} s; a node is out of balance when its requests in a window are more than ${Math.round(o.thresholdFraction * 100)}% off the window's mean.`) +
      lineChart('fraction of nodes out of balance, per window', series, 'window', 'fraction of nodes', 1, (v) => v.toFixed(2)) +
      barChart('requests per node over the whole run', output.byDistribution.map((d) => d.distribution), perNode, 'requests') +
      paragraph(`Partitions owned (each node is the first primary of the partitions it owns, so uniform keys load it in proportion): ${Object.entries(output.partitionsPerNode).map(([node, p]) => `${node} ${p}`).join(', ')}.`) +
      htmlTable(['keys', 'mean fraction out of balance', 'windows', 'busiest node share of requests', 'ops/s', 'errors'], output.byDistribution.map((d) => [
        d.distribution, d.meanOutOfBalanceFraction, d.windows.length, d.maxNodeShare, d.run.throughputPerS, d.run.errorCount,
      ])),
  }];
}

export function versionsSections(output: VersionsOutput): ReportSection[] {
  const buckets = ['one', 'two', 'three', 'fourOrMore'] as const;
  const labels = { one: '1', two: '2', three: '3', fourOrMore: '4+' };
  const groups: BarGroup[] = buckets.map((b) => ({ label: `${labels[b]} version${b === 'one' ? '' : 's'}`, values: Object.fromEntries(output.variants.map((v) => [v.name, Math.round(v.readerReads.shares[b] * 1e4) / 100])) }));
  return [{
    title: 'Paper 6.3: divergent versions (bench:versions)',
    html: paragraph(output.question) +
      paragraph('The adversarial variant is adversarial by design: many writers, few keys, blind writes mixed in; the paper\'s 99.94% one-version figure comes from a real workload where a key is mostly written by one client. The realistic variant models that.') +
      barChart('share of reads that see k versions (%)', output.variants.map((v) => v.name), groups, '% of reads') +
      htmlTable(['variant', 'what', 'writers', 'readers', 'keys', 'reads', '1', '2', '3', '4+', 'max', 'blind writes', 'writes with context', 'failed writes', 'ops/s'], output.variants.map((v) => [
        v.name, v.description, v.writers, v.readers, v.keys, v.readerReads.reads - v.readerReads.absent,
        pct(v.readerReads.shares.one), pct(v.readerReads.shares.two), pct(v.readerReads.shares.three), pct(v.readerReads.shares.fourOrMore), v.readerReads.max,
        v.writes.blind, v.writes.withContext, JSON.stringify(v.writes.failed), v.throughputPerS,
      ])),
  }];
}

function pct(share: number): string {
  return `${(share * 100).toFixed(share > 0.999 || share < 0.001 ? 3 : 1)}%`;
}

export function coordinationSections(output: CoordinationOutput): ReportSection[] {
  const o = output.options;
  return [{
    title: 'Paper 6.4: client-driven vs server-driven coordination (bench:coordination)',
    html: paragraph(output.question) +
      paragraph(`${o.nodes} nodes, workload ${o.workload} (${o.distribution} keys over ${o.records} records) at ${o.ratePerS} operations/s, open loop (latency from the scheduled time), ${o.durationS} s per mode.`) +
      htmlTable(['mode', 'driven by'], Object.entries(output.implementations)) +
      '<h3>Table 2 layout (ms)</h3>' +
      htmlTable(['mode', '99.9th percentile read latency', '99.9th percentile write latency', 'average read latency', 'average write latency', 'note'], output.table2.map((r) => [
        r.mode, r.readP99_9Ms, r.writeP99_9Ms, r.readMeanMs, r.writeMeanMs, r.skipped === undefined ? '' : `skipped: ${r.skipped.reason}`,
      ])) +
      (output.ratiosClientOverServer === null ? paragraph('Ratios client-driven / server-driven: not measured (a mode was skipped).') :
        htmlTable(['client-driven / server-driven', 'read p99.9', 'write p99.9', 'read mean', 'write mean'], [['ratio', output.ratiosClientOverServer.readP99_9, output.ratiosClientOverServer.writeP99_9, output.ratiosClientOverServer.readMean, output.ratiosClientOverServer.writeMean]])) +
      paragraph(`Requests forwarded by the nodes (a node outside the key's top N hands it on: the extra hop), per mode: ${JSON.stringify(output.forwards)}`) +
      ycsbPercentileCharts(output.runs, '') + ycsbRunTable(output.runs),
  }];
}

/** The sections of any benchmark's JSON, by its `benchmark` field (unknown ones get a note). */
export function sectionsFor(output: RunHeader): ReportSection[] {
  switch (output.benchmark) {
    case 'ycsb':
    case 'vs-redis':
    case 'vs-etcd':
      return comparisonSections(output as ComparisonOutput);
    case 'buffer':
      return bufferSections(output as BufferOutputView);
    case 'imbalance':
      return imbalanceSections(output as ImbalanceOutput);
    case 'versions':
      return versionsSections(output as VersionsOutput);
    case 'coordination':
      return coordinationSections(output as CoordinationOutput);
    default:
      return [{ title: output.benchmark, html: paragraph('No report section for this benchmark; see its JSON.') }];
  }
}

/** One line per measured figure of the paper experiments and comparisons: what a README's Performance table needs. */
export interface Headline {
  experiment: string;
  figure: string;
  value: string;
  command: string;
}

export function headlines(outputs: readonly RunHeader[]): Headline[] {
  const out: Headline[] = [];
  const add = (o: RunHeader, experiment: string, figure: string, value: string): void => {
    out.push({ experiment, figure, value, command: o.command });
  };
  for (const o of outputs) {
    if (o.benchmark === 'buffer') {
      const b = o as BufferOutputView;
      add(o, '6.1 buffered vs durable writes', 'p99.9 durable / buffered (p99, p50)', b.ratiosDurableOverBuffered === null ? '—'
        : `${b.ratiosDurableOverBuffered.p99_9 ?? '—'}× (${b.ratiosDurableOverBuffered.p99 ?? '—'}×, ${b.ratiosDurableOverBuffered.p50 ?? '—'}×)`);
    } else if (o.benchmark === 'vs-redis' || o.benchmark === 'vs-etcd' || o.benchmark === 'ycsb') {
      const c = o as ComparisonOutput;
      for (const r of c.sideBySide?.ratios ?? []) add(o, `${o.benchmark}`, `YCSB ${r.workload} throughput ${r.pair}`, r.throughput === null ? '—' : `${r.throughput}×`);
      const rb = c.extra?.redisBenchmark as RedisBenchmarkSummary | SkipRecord | undefined;
      if (rb !== undefined && !('skipped' in rb)) {
        for (const [pair, byTest] of Object.entries(rb.ratios)) for (const [test, v] of Object.entries(byTest)) add(o, o.benchmark, `redis-benchmark ${test} ${pair}`, v === null ? '—' : `${v}×`);
      }
      for (const [name, skip] of Object.entries(c.skipped)) add(o, o.benchmark, `${name}`, `skipped: ${skip.reason}`);
      if (c.goal !== undefined) add(o, o.benchmark, 'goal: ' + c.goal.statement, c.goal.met === null ? 'not measured' : c.goal.met ? 'met' : 'not met');
    } else if (o.benchmark === 'imbalance') {
      const i = o as ImbalanceOutput;
      for (const d of i.byDistribution) add(o, '6.2 load imbalance', `mean fraction of nodes > 15% off the mean, ${d.distribution} keys (${i.options.nodes} nodes, ${i.options.windows} × ${i.options.windowS} s)`, formatNumber(d.meanOutOfBalanceFraction));
    } else if (o.benchmark === 'versions') {
      const v = o as VersionsOutput;
      for (const variant of v.variants) {
        const s = variant.readerReads.shares;
        add(o, '6.3 divergent versions', `reads seeing 1 / 2 / 3 / 4+ versions, ${variant.name}`, `${pct(s.one)} / ${pct(s.two)} / ${pct(s.three)} / ${pct(s.fourOrMore)}`);
      }
    } else if (o.benchmark === 'coordination') {
      const c = o as CoordinationOutput;
      for (const row of c.table2) {
        add(o, '6.4 coordination', `${row.mode}: read p99.9 / write p99.9 / read mean / write mean (ms)`, row.skipped !== undefined ? `skipped: ${row.skipped.reason}`
          : [row.readP99_9Ms, row.writeP99_9Ms, row.readMeanMs, row.writeMeanMs].map((x) => (x === null ? '—' : formatNumber(x))).join(' / '));
      }
    }
  }
  return out;
}

export function headlineSection(outputs: readonly RunHeader[]): ReportSection {
  return {
    title: 'Headline figures',
    html: htmlTable(['experiment', 'figure', 'measured', 'command'], headlines(outputs).map((h) => [h.experiment, h.figure, h.value, h.command])),
  };
}
