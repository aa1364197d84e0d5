import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BAR_COLUMNS_MAX, bar, progressLine, progressText, type ProgressSnapshot } from '../../src/cli/progressBar.ts';

const snapshot: ProgressSnapshot = {
  transfersDone: 12,
  transfersTotal: 24,
  objectsSent: 3412,
  bytesSent: 5 * 1024 * 1024 + 200 * 1024,
  objectsPerS: 1204,
  bytesPerS: 1.8 * 1024 * 1024,
};

test('bar: filled in proportion, with a head while not full', () => {
  assert.equal(bar(0, 24, 10), '[          ]');
  assert.equal(bar(12, 24, 10), '[====>     ]');
  assert.equal(bar(24, 24, 10), '[==========]');
  assert.equal(bar(30, 24, 10), '[==========]', 'clamped');
  assert.equal(bar(0, 0, 4), '[====]', 'nothing to do is done');
});

test('progressText: partitions, objects, bytes, rates, elapsed', () => {
  assert.equal(progressText(snapshot, 42_000), '12/24 partitions, 3,412 objects, 5.2 MiB, 1,204 obj/s, 1.8 MiB/s, 0:42');
  const estimated = { ...snapshot, objectsEstimate: 12_345, nodesFailing: 1 };
  assert.equal(
    progressText(estimated, 62_000),
    '12/24 partitions, 3,412 objects of ~12,345, 5.2 MiB, 1,204 obj/s, 1.8 MiB/s, 1:02, 1 node not reporting',
  );
});

test('progressText: the time left, when the snapshot knows it (a backup, a restore)', () => {
  assert.equal(progressText({ ...snapshot, etaMs: 95_500 }, 42_000), '12/24 partitions, 3,412 objects, 5.2 MiB, 1,204 obj/s, 1.8 MiB/s, 0:42, ETA 1:35');
  assert.match(progressLine({ ...snapshot, etaMs: 5_000 }, { startedMs: 0, nowMs: 1000, widthColumns: 120 }), /^\[=+>? *\] 12\/24 partitions, .*, 0:01, ETA 0:05$/);
});

test('progressText: less detail on request', () => {
  const estimated = { ...snapshot, objectsEstimate: 12_345 };
  assert.equal(progressText(estimated, 42_000, 'no-estimate'), '12/24 partitions, 3,412 objects, 5.2 MiB, 1,204 obj/s, 1.8 MiB/s, 0:42');
  assert.equal(progressText(estimated, 42_000, 'brief'), '12/24 partitions, 3,412 objects, 5.2 MiB, 1.8 MiB/s, 0:42');
});

test('progressLine: elapsed from the frame; a bar a fifth of the terminal wide; never as wide as the terminal', () => {
  const estimated = { ...snapshot, objectsEstimate: 12_345 };
  assert.equal(progressLine(estimated, { startedMs: 1000, nowMs: 43_000 }), progressText(estimated, 42_000), 'no width: no bar');
  const wide = progressLine(estimated, { startedMs: 1000, nowMs: 43_000, widthColumns: 200 });
  assert.equal(wide, `${bar(12, 24, BAR_COLUMNS_MAX)} ${progressText(estimated, 42_000)}`);
  const hundred = progressLine(estimated, { startedMs: 0, nowMs: 42_000, widthColumns: 100 });
  assert.equal(hundred, `[=========>          ] ${progressText(estimated, 42_000, 'no-estimate')}`);
  const eighty = progressLine(estimated, { startedMs: 0, nowMs: 42_000, widthColumns: 80 });
  assert.equal(eighty, `[=======>        ] ${progressText(estimated, 42_000, 'brief')}`);
  assert.ok(eighty.length < 80);
  const narrow = progressLine(estimated, { startedMs: 0, nowMs: 42_000, widthColumns: 40 });
  assert.equal(narrow.length, 39);
  assert.ok(narrow.startsWith('12/24 partitions') && narrow.endsWith('…'));
  for (let done = 0; done <= 24; done += 1) {
    const line = progressLine({ ...estimated, transfersDone: done, objectsSent: done * 1000 }, { startedMs: 0, nowMs: 0, widthColumns: 100 });
    assert.equal(line.indexOf(']'), 21, 'the bar keeps its width as the numbers grow');
  }
});
