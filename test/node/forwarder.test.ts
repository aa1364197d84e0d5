/**
 * The forwarder's rules about retries: a request that failed at one primary, or may have
 * (a timeout, a lost connection, a lost answer), moves on to the next one; a write's id
 * keeps its copies one version (core/object.ts, and the model test). A slow read is hedged
 * at the adaptive delay, a slow write only at hedgeDelayMaxMs: every write hedge is one
 * more copy to store.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { forwardRequest, type ForwardPlan } from '../../src/node/coordinator/forwarder.ts';
import type { CoordinatorDeps } from '../../src/node/coordinator/deps.ts';
import { Deadline } from '../../src/node/deadline.ts';
import { silentLogger } from '../../src/ports/logger.ts';
import { TransportError } from '../../src/ports/transport.ts';
import { ManualClock } from '../../src/sim/simClock.ts';

const enc = new TextEncoder();

/** Forwards one request to p1 then p2, p1 failing with `failure`; resolves with who was asked. */
async function forwardFailingAtFirst(op: 'put' | 'get', failure: TransportError | 'silent' | 'duplicate', runMs = 100, writeId?: string): Promise<{ asked: string[]; outcome: unknown }> {
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
  for (let ms = 0; ms < runMs; ms += 10) await clock.advance(10);
  // Settled by now, or waiting on a silent primary (its 1000 ms attempt is not run out here).
  return { asked, outcome: await Promise.race([forwarded, Promise.resolve('pending')]) };
}

test('a write whose connection to the primary was lost while it was pending goes to the next primary (its write id keeps it one version)', async () => {
  const lost = new TransportError('UNREACHABLE', 'connection to p1 closed: read ECONNRESET', { mayHaveArrived: true });
  const { asked, outcome } = await forwardFailingAtFirst('put', lost, 100, 'e.1/3');
  assert.deepEqual(asked, ['p1', 'p2']);
  assert.equal(outcome, 'answered');
});

test('a write that timed out at the primary goes to the next primary', async () => {
  const { asked, outcome } = await forwardFailingAtFirst('put', new TransportError('TIMEOUT', 'request to p1 timed out after 1000 ms'), 100, 'e.1/4');
  assert.deepEqual(asked, ['p1', 'p2']);
  assert.equal(outcome, 'answered');
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

test('a read silent past the hedge delay is also sent to the next primary', async () => {
  const { asked, outcome } = await forwardFailingAtFirst('get', 'silent');
  assert.deepEqual(asked, ['p1', 'p2']);
  assert.equal(outcome, 'answered');
});

test('a silent write is hedged only at hedgeDelayMaxMs, not at the adaptive delay', async () => {
  const early = await forwardFailingAtFirst('put', 'silent', 150, 'e.1/5');
  assert.deepEqual(early.asked, ['p1']);
  assert.equal(early.outcome, 'pending');
  const late = await forwardFailingAtFirst('put', 'silent', 250, 'e.1/5');
  assert.deepEqual(late.asked, ['p1', 'p2']);
  assert.equal(late.outcome, 'answered');
});

test('a write refused as a duplicate, its first copy\'s answer lost, goes to the next primary', async () => {
  const { asked, outcome } = await forwardFailingAtFirst('put', 'duplicate', 100, 'e.1/6');
  assert.deepEqual(asked, ['p1', 'p2']);
  assert.equal(outcome, 'answered');
});
