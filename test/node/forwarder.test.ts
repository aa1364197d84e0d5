/**
 * The forwarder's rules about retries: a write that may have reached a primary is never
 * tried at another one, nor hedged (that would issue a second dot for the same value: a
 * duplicate sibling that a later write may not supersede); a write that certainly did not,
 * and any read, move on to the next primary; a read is also hedged when the first is slow.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { forwardRequest, type ForwardPlan } from '../../src/node/coordinator/forwarder.ts';
import type { CoordinatorDeps } from '../../src/node/coordinator/deps.ts';
import { Deadline } from '../../src/node/deadline.ts';
import { RequestError } from '../../src/node/errors.ts';
import { silentLogger } from '../../src/ports/logger.ts';
import { TransportError } from '../../src/ports/transport.ts';
import { ManualClock } from '../../src/sim/simClock.ts';

const enc = new TextEncoder();

/** Forwards one request to p1 then p2, p1 failing with `failure`; resolves with who was asked. */
async function forwardFailingAtFirst(op: 'put' | 'get', failure: TransportError | 'silent' | 'duplicate', writeId?: string): Promise<{ asked: string[]; outcome: unknown }> {
  const asked: string[] = [];
  const clock = new ManualClock();
  const deps = {
    config: { forwardTimeoutMs: 1000, hedgeDelayMinMs: 20, hedgeDelayMaxMs: 200 },
    clock,
    peers: {
      request: async (to: string) => {
        asked.push(to);
        if (to === 'p1' && failure === 'silent') return new Promise(() => {});
        if (to === 'p1' && failure === 'duplicate') return { type: 'error', code: 'WRITE_DUPLICATE', message: 'write e.1/6 was already coordinated here' };
        if (to === 'p1') throw failure;
        return { type: 'object', object: undefined };
      },
    },
    detector: { isUp: () => true, expectedReplyMs: () => 5, checkSilence: () => true },
    events: {},
    logger: silentLogger,
  } as unknown as CoordinatorDeps;
  const plan: ForwardPlan = {
    candidates: ['p1', 'p2'],
    message: { type: 'forward', op, key: enc.encode('k'), ...(op === 'put' ? { value: enc.encode('v') } : {}), ...(writeId === undefined ? {} : { writeId }), n: 3, r: 2, w: 2 },
    deadline: new Deadline(clock, 2000),
    coordinateLocally: async () => {
      asked.push('self');
      return { object: undefined, nextCoordinator: 'self' };
    },
  };
  const forwarded = forwardRequest(deps, plan).then(
    () => 'answered',
    (error: unknown) => error,
  );
  for (let ms = 0; ms < 100; ms += 10) await clock.advance(10);
  // Settled by now, or waiting on a silent primary (its 1000 ms attempt is not run out here).
  return { asked, outcome: await Promise.race([forwarded, Promise.resolve('pending')]) };
}

test('a write whose connection to the primary was lost while it was pending answers 503, and is not tried elsewhere', async () => {
  const lost = new TransportError('UNREACHABLE', 'connection to p1 closed: read ECONNRESET', { mayHaveArrived: true });
  const { asked, outcome } = await forwardFailingAtFirst('put', lost);
  assert.deepEqual(asked, ['p1']);
  assert.ok(outcome instanceof RequestError && outcome.code === 'REQUEST_TIMEOUT', String(outcome));
  assert.match(outcome.message, /may still take effect/);
});

test('a write that timed out at the primary is not tried elsewhere either', async () => {
  const { asked, outcome } = await forwardFailingAtFirst('put', new TransportError('TIMEOUT', 'request to p1 timed out after 1000 ms'));
  assert.deepEqual(asked, ['p1']);
  assert.ok(outcome instanceof RequestError && outcome.code === 'REQUEST_TIMEOUT', String(outcome));
});

test('a write that never reached the primary goes to the next one', async () => {
  const { asked, outcome } = await forwardFailingAtFirst('put', new TransportError('UNREACHABLE', 'p1 unreachable (connect ECONNREFUSED); next attempt in 100 ms'));
  assert.deepEqual(asked, ['p1', 'p2']);
  assert.equal(outcome, 'answered');
});

test('a read goes to the next primary whatever happened to the first', async () => {
  const lost = new TransportError('UNREACHABLE', 'connection to p1 closed: read ECONNRESET', { mayHaveArrived: true });
  const { asked, outcome } = await forwardFailingAtFirst('get', lost);
  assert.deepEqual(asked, ['p1', 'p2']);
  assert.equal(outcome, 'answered');
});

test('a write that timed out at the primary is not tried elsewhere, even with a write id', async () => {
  const { asked, outcome } = await forwardFailingAtFirst('put', new TransportError('TIMEOUT', 'request to p1 timed out after 1000 ms'), 'e.1/4');
  assert.deepEqual(asked, ['p1']);
  assert.ok(outcome instanceof RequestError && outcome.code === 'REQUEST_TIMEOUT', String(outcome));
});

test('a read silent past the hedge delay is also sent to the next primary', async () => {
  const { asked, outcome } = await forwardFailingAtFirst('get', 'silent');
  assert.deepEqual(asked, ['p1', 'p2']);
  assert.equal(outcome, 'answered');
});

test('a write is never hedged', async () => {
  const { asked, outcome } = await forwardFailingAtFirst('put', 'silent', 'e.1/5');
  assert.deepEqual(asked, ['p1']);
  assert.equal(outcome, 'pending', 'it waits for the primary it may have reached');
});

test('a write refused as a duplicate was coordinated there: 503, never coordinated again elsewhere', async () => {
  const { asked, outcome } = await forwardFailingAtFirst('put', 'duplicate', 'e.1/6');
  assert.deepEqual(asked, ['p1'], 'neither the next primary nor this node coordinates it (found by the simulator: applied-as-siblings)');
  assert.ok(outcome instanceof RequestError && outcome.code === 'REQUEST_TIMEOUT', String(outcome));
  assert.match(outcome.message, /coordinated by p1, but its answer was lost/);
});
