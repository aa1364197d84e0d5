import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatByteRate, formatBytes, formatCount, formatElapsed, formatObjectRate, formatSpan, plural } from '../../src/cli/units.ts';

test('formatBytes: binary units, one decimal below 100, none above, never 1024 of a unit', () => {
  assert.equal(formatBytes(0), '0 B');
  assert.equal(formatBytes(1023), '1023 B');
  assert.equal(formatBytes(1024), '1.0 KiB');
  assert.equal(formatBytes(1536), '1.5 KiB');
  assert.equal(formatBytes(5 * 1024 * 1024 + 200 * 1024), '5.2 MiB');
  assert.equal(formatBytes(120 * 1024 * 1024), '120 MiB');
  assert.equal(formatBytes(1024 * 1024 - 1), '1.0 MiB');
  assert.equal(formatBytes(99.97 * 1024), '100 KiB');
  assert.equal(formatBytes(3 * 1024 ** 4), '3.0 TiB');
  assert.equal(formatBytes(-1), '? B');
  assert.equal(formatBytes(Number.NaN), '? B');
});

test('formatCount groups thousands and rounds', () => {
  assert.equal(formatCount(0), '0');
  assert.equal(formatCount(999), '999');
  assert.equal(formatCount(1000), '1,000');
  assert.equal(formatCount(1_234_567.6), '1,234,568');
  assert.equal(formatCount(-12_345), '-12,345');
  assert.equal(formatCount(Number.POSITIVE_INFINITY), '?');
});

test('rates, elapsed times and plurals', () => {
  assert.equal(formatObjectRate(1204.4), '1,204 obj/s');
  assert.equal(formatByteRate(2 * 1024 * 1024), '2.0 MiB/s');
  assert.equal(formatElapsed(0), '0:00');
  assert.equal(formatElapsed(42_999), '0:42');
  assert.equal(formatElapsed(12 * 60_000 + 3000), '12:03');
  assert.equal(formatElapsed(3_723_000), '1:02:03');
  assert.equal(formatElapsed(-5), '0:00');
  assert.equal(plural(1, 'partition'), '1 partition');
  assert.equal(plural(0, 'partition'), '0 partitions');
  assert.equal(plural(2500, 'object'), '2,500 objects');
});

test('formatSpan: seconds, then hours, then days', () => {
  assert.equal(formatSpan(400), '0 s');
  assert.equal(formatSpan(119_000), '119 s');
  assert.equal(formatSpan(3.5 * 3_600_000), '3.5 h');
  assert.equal(formatSpan(10 * 86_400_000), '10.0 days');
});
