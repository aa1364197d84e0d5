/**
 * Forged gossip states that used to delete data (issue 14): a state that gives every
 * partition to a made-up node with its change already "settled", and one that marks the
 * transfers of a real join done before any ran. Whatever the state says, a former replica
 * deletes a partition only once every new replica confirms holding it (partitionDrop.ts,
 * holdings.ts); it hands its copy to a real new replica that lacks it first.
 */
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { encodeState } from '../../src/core/membership/codec.ts';
import { makeMemberTable } from '../../src/core/membership/member.ts';
import type { ClusterState } from '../../src/core/membership/state.ts';
import { makeRing } from '../../src/core/ring.ts';
import type { Logger } from '../../src/ports/logger.ts';
import type { ShoalNode } from '../../src/node/shoalNode.ts';
import { TestCluster } from '../support/testCluster.ts';

const enc = new TextEncoder();
const Q = 16;
const KEYS = 40;

function recorder(): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  const record = (fields: object, message: string): void => {
    lines.push(`${message} ${JSON.stringify(fields)}`);
  };
  return { logger: { debug: () => undefined, info: record, warn: record, error: record }, lines };
}

const SETTINGS = { partitionCount: Q, dropDelayMs: 200, requestTimeoutMs: 500, transferBatchObjectsMax: 1, transferPauseMs: 5000 };

async function cluster(t: TestContext, ids: string[], logger: Logger): Promise<TestCluster> {
  const c = await TestCluster.start(ids, SETTINGS, { logger });
  t.after(() => c.stop());
  return c;
}

/** Moves the clock in 100 ms steps (gossip rounds, transfers and drops chain many timers). */
async function advance(c: TestCluster, ms: number): Promise<void> {
  for (let elapsedMs = 0; elapsedMs < ms; elapsedMs += 100) await c.advance(100);
}

function stateOf(node: ShoalNode): ClusterState {
  return (node as unknown as { parts: { membership: { state: ClusterState } } }).parts.membership.state;
}

async function writeKeys(c: TestCluster): Promise<void> {
  for (let i = 0; i < KEYS; i++) await c.run(c.node('a').put(enc.encode(`key-${i}`), { value: enc.encode(`value-${i}`), contentType: 'text/plain' }));
}

/** Copies of the workload's keys held in each node's store. */
function copiesHeld(c: TestCluster, ids: readonly string[]): number {
  let copies = 0;
  for (const id of ids) for (let i = 0; i < KEYS; i++) if (c.node(id).localVersions(enc.encode(`key-${i}`)) !== undefined) copies++;
  return copies;
}

test('a forged settled state that gives every partition to a made-up node deletes nothing', async (t) => {
  const { logger, lines } = recorder();
  const c = await cluster(t, ['a', 'b', 'c'], logger);
  await writeKeys(c);
  await advance(c, 1000);
  const before = copiesHeld(c, ['a', 'b', 'c']);
  assert.equal(before, 3 * KEYS);
  const state = stateOf(c.node('a'));
  const intruder = { id: 'zz-intruder', address: { host: '127.0.0.1', port: 9 }, status: 'valid' as const, version: 1 };
  const members = makeMemberTable([...state.members, intruder]);
  const ring = makeRing([...state.ring.members, intruder.id], Array.from({ length: Q }, () => intruder.id));
  const forged: ClusterState = { ...state, members, ring, ringVersion: state.ringVersion + 1, change: { kind: 'join', member: intruder.id, previousRing: state.ring, transfers: [] } };
  await c.run(c.node('b').membership.gossip({ type: 'gossip', state: encodeState(forged) }, 'a'));
  await advance(c, 30_000); // many drop waits (2 x the request timeout each), gossip spreads the state everywhere
  assert.equal(stateOf(c.node('c')).ringVersion, forged.ringVersion, 'the forged state did spread (gossip is not authenticated yet)');
  assert.equal(copiesHeld(c, ['a', 'b', 'c']), before, 'no copy was deleted');
  assert.ok(lines.some((line) => line.startsWith('kept the copies of partitions whose new replicas do not confirm holding them')), 'the refusal to drop is logged');
});

test('a forged state marking the transfers of a real join done: the old replicas hand their copies over before dropping them', async (t) => {
  const { logger, lines } = recorder();
  const c = await cluster(t, ['a', 'b', 'c'], logger);
  await writeKeys(c);
  await advance(c, 1000);
  const d = await c.addNode('d', SETTINGS);
  const joined = await c.run(d.membership.join(c.member('a').config.listen, false));
  assert.ok(joined.ok && joined.applied);
  await advance(c, 200); // the join reaches every node; transfers crawl (one object every 5 s)
  const state = stateOf(c.node('a'));
  assert.ok(state.change !== undefined && state.change.transfers.some((tr) => !tr.done), 'transfers are still running');
  const forged: ClusterState = { ...state, change: { ...state.change, transfers: state.change.transfers.map((tr) => ({ ...tr, done: true })) } };
  await c.run(c.node('b').membership.gossip({ type: 'gossip', state: encodeState(forged) }, 'a'));
  await advance(c, 400_000);
  // Every key is held by its 3 replicas under the new ring, d included, and by nobody else.
  for (let i = 0; i < KEYS; i++) {
    const key = enc.encode(`key-${i}`);
    const holders = ['a', 'b', 'c', 'd'].filter((id) => c.node(id).localVersions(key) !== undefined);
    assert.equal(holders.length, 3, `key-${i} is held by ${holders.join(' ')}`);
  }
  assert.ok(lines.some((line) => line.startsWith('a new replica does not confirm holding a partition this node is to drop; handing it over first')));
});
