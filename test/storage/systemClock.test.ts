import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { systemClock } from '../../src/io/systemClock.ts';

describe('systemClock', () => {
  it('reads the wall clock and a monotonic clock', () => {
    const before = Date.now();
    const now = systemClock.nowMs();
    assert.ok(now >= before && now <= Date.now());
    const a = systemClock.monotonicMs();
    assert.ok(systemClock.monotonicMs() >= a);
  });

  it('runs a timer once and never runs a cleared one', async () => {
    const fired: string[] = [];
    // systemClock's timers are unref'd: a ref'd guard keeps the event loop alive meanwhile,
    // or the runner would see an empty loop and cancel the test.
    const keepAlive = setInterval(() => {}, 1000);
    const cleared = systemClock.setTimer(1, () => fired.push('cleared'));
    systemClock.clearTimer(cleared);
    await new Promise<void>((resolve) => systemClock.setTimer(5, () => (fired.push('kept'), resolve())));
    clearInterval(keepAlive);
    assert.deepEqual(fired, ['kept']);
  });

  it('does not keep the process alive for a pending timer (unref)', () => {
    const handle = systemClock.setTimer(60_000, () => assert.fail('must be cleared'));
    assert.equal((handle as unknown as { timeout: NodeJS.Timeout }).timeout.hasRef(), false);
    systemClock.clearTimer(handle);
  });
});
