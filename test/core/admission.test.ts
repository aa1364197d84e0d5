import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ADMISSION_DEFAULTS, LatencyWindow, nextShare, pauseAfterMs } from '../../src/core/admission.ts';

test('the latency window answers quantiles over its last seconds only', () => {
  const window = new LatencyWindow(10_000);
  assert.equal(window.quantileMs(0, 0.99), 0, 'empty');
  for (let i = 0; i < 990; i++) window.record(500, 1);
  for (let i = 0; i < 10; i++) window.record(600, 200);
  const p99 = window.quantileMs(1000, 0.99);
  assert.ok(p99 >= 1 && p99 < 1.25, `p99 ${p99}`);
  const p999 = window.quantileMs(1000, 0.999);
  assert.ok(p999 >= 200 && p999 < 240, `p99.9 ${p999}`);
  assert.equal(window.count(1000), 1000);
  // Ten seconds on, those requests have left the window; new ones count alone.
  window.record(10_500, 30);
  assert.equal(window.count(10_600), 1);
  assert.ok(window.quantileMs(10_600, 0.99) >= 30);
  assert.throws(() => new LatencyWindow(10), RangeError);
});

test('the background share halves while the p99 is over the target and creeps back when under', () => {
  const over = ADMISSION_DEFAULTS.p99TargetMs + 1;
  let share = 1;
  share = nextShare(share, over);
  assert.equal(share, 0.5);
  for (let i = 0; i < 20; i++) share = nextShare(share, over);
  assert.equal(share, ADMISSION_DEFAULTS.shareMin, 'never below the floor');
  share = nextShare(share, 1);
  assert.ok(Math.abs(share - (ADMISSION_DEFAULTS.shareMin + ADMISSION_DEFAULTS.increaseStep)) < 1e-9);
  for (let i = 0; i < 20; i++) share = nextShare(share, 1);
  assert.equal(share, 1, 'never above the ceiling');
});

test('the pause after background work keeps it to its share of the time', () => {
  assert.equal(pauseAfterMs(10, 1), 0);
  assert.equal(pauseAfterMs(10, 0.5), 10);
  assert.ok(Math.abs(pauseAfterMs(10, 0.1) - 90) < 1e-9);
  assert.throws(() => pauseAfterMs(10, 0), RangeError);
});
