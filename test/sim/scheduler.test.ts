import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RealTimeGuard, RealTimeUseError } from '../../src/sim/realTime.ts';
import { Scheduler, SimRunError, Trace } from '../../src/sim/scheduler.ts';
import { SIM_EPOCH_MS, SimClock } from '../../src/sim/simClock.ts';

function scheduler(): Scheduler {
  return new Scheduler(new Trace());
}

describe('Scheduler', () => {
  it('runs events in (time, sequence) order and sets the time to each', async () => {
    const s = scheduler();
    const seen: string[] = [];
    s.schedule(5, 'b', () => seen.push(`b@${s.nowMs}`));
    s.schedule(1, 'a', () => seen.push(`a@${s.nowMs}`));
    s.schedule(5, 'c', () => seen.push(`c@${s.nowMs}`));
    s.schedule(0, 'first', () => s.schedule(0, 'nested', () => seen.push(`nested@${s.nowMs}`)));
    await s.runUntil(10);
    assert.deepEqual(seen, ['nested@0', 'a@1', 'b@5', 'c@5']);
    assert.equal(s.nowMs, 10);
  });

  it('leaves later events queued and skips cancelled ones', async () => {
    const s = scheduler();
    const seen: string[] = [];
    const cancelled = s.schedule(2, 'x', () => seen.push('x'));
    s.schedule(3, 'y', () => seen.push('y'));
    s.schedule(20, 'z', () => seen.push('z'));
    s.cancel(cancelled);
    await s.runUntil(10);
    assert.deepEqual(seen, ['y']);
    assert.equal(s.pendingEvents, 1);
  });

  it('settles every promise chain an event starts before the next event runs', async () => {
    const s = scheduler();
    const seen: string[] = [];
    s.schedule(1, 'chain', () => {
      void (async () => {
        for (let i = 0; i < 50; i++) await Promise.resolve();
        queueMicrotask(() => seen.push('chain done'));
      })();
    });
    s.schedule(1, 'next', () => seen.push('next'));
    await s.runUntil(2);
    assert.deepEqual(seen, ['chain done', 'next']);
  });

  it('ends the run when an event throws', async () => {
    const s = scheduler();
    s.schedule(1, 'boom', () => {
      throw new Error('kaput');
    });
    await assert.rejects(s.runUntil(5), (error: unknown) => error instanceof SimRunError && /boom.*kaput/.test(error.message));
  });

  it('runs while a condition holds, up to a time limit', async () => {
    const s = scheduler();
    let count = 0;
    const tick = (): void => {
      count++;
      s.schedule(1, 'tick', tick);
    };
    s.schedule(1, 'tick', tick);
    assert.equal(await s.runWhile(() => count < 5, 100), true);
    assert.equal(count, 5);
    assert.equal(await s.runWhile(() => true, 20), false);
    assert.equal(s.nowMs, 20);
  });

  it('hashes the same events to the same digest', async () => {
    const run = async (label: string): Promise<string> => {
      const trace = new Trace();
      const s = new Scheduler(trace);
      s.schedule(1, 'a', () => undefined);
      s.schedule(2, label, () => undefined);
      await s.runUntil(3);
      return trace.digest();
    };
    assert.equal(await run('b'), await run('b'));
    assert.notEqual(await run('b'), await run('c'));
  });
});

describe('SimClock', () => {
  it('shows virtual time through its offset and drift', async () => {
    const s = scheduler();
    const fast = new SimClock(s, { offsetMs: 250, driftPpm: 1000 }, 'n1/1');
    await s.runUntil(1000);
    assert.ok(Math.abs(fast.monotonicMs() - 1001) < 1e-9);
    assert.ok(Math.abs(fast.nowMs() - (SIM_EPOCH_MS + 250 + 1001)) < 1e-6);
  });

  it('fires timers after the local delay (sooner on a fast clock) unless cleared', async () => {
    const s = scheduler();
    const fast = new SimClock(s, { offsetMs: 0, driftPpm: 100_000 }, 'n1/1');
    const fired: number[] = [];
    fast.setTimer(110, () => fired.push(s.nowMs));
    const cleared = fast.setTimer(50, () => fired.push(-1));
    fast.clearTimer(cleared);
    await s.runUntil(1000);
    assert.equal(fired.length, 1);
    assert.ok(Math.abs((fired[0] as number) - 100) < 1e-9);
    assert.equal(fast.pendingTimers, 0);
  });

  it('discards every timer of a crashed incarnation, and ignores new ones', async () => {
    const s = scheduler();
    const clock = new SimClock(s, { offsetMs: 0, driftPpm: 0 }, 'n1/1');
    const fired: string[] = [];
    clock.setTimer(10, () => fired.push('before'));
    clock.kill();
    clock.setTimer(10, () => fired.push('after'));
    await s.runUntil(100);
    assert.deepEqual(fired, []);
    assert.equal(clock.isAlive, false);
  });
});

describe('RealTimeGuard', () => {
  it('records every use of real time or randomness while installed, and restores the globals', () => {
    const guard = new RealTimeGuard();
    const realNow = Date.now;
    guard.install();
    try {
      Date.now();
      void new Date();
      Math.random();
      assert.ok(new Date(0) instanceof Date, 'dates from a value stay dates');
    } finally {
      guard.uninstall();
    }
    assert.equal(Date.now, realNow);
    assert.throws(() => guard.check(), (error: unknown) => error instanceof RealTimeUseError && error.uses.length === 3 && /Date\.now/.test(error.message));
  });

  it('passes a run that used only the simulator', () => {
    const guard = new RealTimeGuard();
    guard.install();
    guard.uninstall();
    guard.check();
  });
});
