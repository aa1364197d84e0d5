import { test } from 'node:test';
import assert from 'node:assert/strict';
import { latencyHistogram, percentileCurve } from '../../bench/lib/hdr.ts';
import { renderReport } from '../../bench/lib/html-report.ts';
import { machineFacts } from '../../bench/lib/machine.ts';
import { barChart, lineChart, percentileChart } from '../../bench/lib/svg.ts';

test('percentileCurve: rising percentiles up to the max, no percentile beyond the data\'s resolution', () => {
  const h = latencyHistogram();
  for (let i = 1; i <= 1000; i++) h.recordValue(i * 1000); // 1..1000 ms
  const curve = percentileCurve(h);
  assert.equal(curve[curve.length - 1]?.p, 100);
  assert.equal(curve[curve.length - 1]?.ms, 1000);
  assert.ok(curve.every((point, i) => i === 0 || (point.p > (curve[i - 1]?.p ?? 0) && point.ms >= (curve[i - 1]?.ms ?? 0))));
  // 1,000 samples: 99.9 is the last percentile with a request beyond it.
  assert.ok(curve.some((p) => p.p === 99.9) && !curve.some((p) => p.p === 99.95));
  assert.deepEqual(percentileCurve(latencyHistogram()), []);
});

test('charts are self-contained SVG without NaN, escaping their labels', () => {
  const svgs = [
    percentileChart('a <b>', [{ name: 'x&y', points: [{ p: 0, ms: 0.2 }, { p: 50, ms: 1 }, { p: 99, ms: 20 }, { p: 100, ms: 40 }] }]),
    barChart('bars', ['s1', 's2'], [{ label: 'A', values: { s1: 10, s2: 0 }, note: '0.5×' }, { label: 'B', values: { s1: 3 } }], 'ops/s'),
    lineChart('lines', [{ name: 'u', points: [{ x: 1, y: 0 }, { x: 2, y: 0.5 }] }], 'window', 'fraction', 1),
    percentileChart('empty', []),
  ];
  for (const svg of svgs) {
    assert.match(svg, /^<svg [^>]*xmlns="http:\/\/www.w3.org\/2000\/svg"/);
    assert.doesNotMatch(svg, /NaN|undefined|Infinity/);
  }
  assert.match(svgs[0] as string, /a &lt;b&gt;/);
  assert.match(svgs[0] as string, /x&amp;y/);
});

test('a report is one HTML page with no external resource', () => {
  const html = renderReport('t', [{ benchmark: 'x', command: 'cmd <1>', machine: machineFacts(), warnings: ['w'] }], [{ title: 's', html: '<p>ok</p>' }]);
  assert.match(html, /^<!doctype html>/);
  assert.doesNotMatch(html, /<script|<link|https?:\/\/(?!www\.w3\.org)/);
  assert.match(html, /cmd &lt;1&gt;/);
});
