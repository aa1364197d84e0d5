/**
 * The forwarder's one rule about retries: a write that may have reached a primary is never
 * tried at another one (that would issue a second dot for the same value: a duplicate
 * sibling); a write that certainly did not, and any read, moves on to the next primary.
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
async function forwardFailingAtFirst(op: 'put' | 'get', failure: TransportError): Promise<{ asked: string[]; outcome: unknown }> {
  const asked: string[] = [];
  const deps = {
    config: { forwardTimeoutMs: 1000 },
    peers: {
      request: async (to: string) => {
        asked.push(to);
        if (to === 'p1') throw failure;
        return { type: 'object', object: undefined };
      },
    },
    detector: { isUp: () => true },
    events: {},
    logger: silentLogger,
  } as unknown as CoordinatorDeps;
  const plan: ForwardPlan = {
    candidates: ['p1', 'p2'],
    message: { type: 'forward', op, key: enc.encode('k'), ...(op === 'put' ? { value: enc.encode('v') } : {}), n: 3, r: 2, w: 2 },
    deadline: new Deadline(new ManualClock(), 2000),
    coordinateLocally: async () => {
      asked.push('self');
      return { object: undefined, nextCoordinator: 'self' };
    },
  };
  const outcome = await forwardRequest(deps, plan).then(
    () => 'answered',
    (error: unknown) => error,
  );
  return { asked, outcome };
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
