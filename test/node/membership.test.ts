/**
 * Membership changes on an in-process cluster (memory transport, manual clock): joins,
 * leaves and removes planned, applied, streamed and settled while the data stays readable.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { partitionOfKey } from '../../src/core/hash.ts';
import { replicasOf } from '../../src/core/membership/transfers.ts';
import { servingRing } from '../../src/core/membership/state.ts';
import type { ChangeOutcome } from '../../src/node/membership/membershipService.ts';
import type { ShoalNode } from '../../src/node/shoalNode.ts';
import { TestCluster } from '../support/testCluster.ts';

const enc = new TextEncoder();
const dec = new TextDecoder();
const Q = 16;
/** Former replicas drop their copies no sooner than twice the request timeout (2 s by default) after settling (partitionDrop.ts). */
const DROP_WAIT_MS = 5000;

async function cluster(t: TestContext, ids: string[], overrides: Record<string, unknown> = {}): Promise<TestCluster> {
  const c = await TestCluster.start(ids, { partitionCount: Q, dropDelayMs: 500, ...overrides });
  t.after(() => c.stop());
  return c;
}

function text(value: string): { value: Uint8Array; contentType: string } {
  return { value: enc.encode(value), contentType: 'text/plain' };
}

async function writeKeys(c: TestCluster, via: string, count: number, prefix = 'key'): Promise<Map<string, string>> {
  const written = new Map<string, string>();
  for (let i = 0; i < count; i++) {
    const key = `${prefix}-${i}`;
    await c.run(c.node(via).put(enc.encode(key), text(`value-${i}`)));
    written.set(key, `value-${i}`);
  }
  return written;
}

async function readValue(c: TestCluster, via: string, key: string): Promise<string | undefined> {
  const read = await c.run(c.node(via).get(enc.encode(key)));
  const live = read.object?.siblings.filter((s) => !s.deleted) ?? [];
  assert.ok(live.length <= 1, `${key} has ${live.length} siblings`);
  return live[0] === undefined ? undefined : dec.decode(live[0].value);
}

/** Runs the clock until every node listed has the same settled state (or fails). */
async function settle(c: TestCluster, ids: readonly string[]): Promise<void> {
  for (let elapsedMs = 0; elapsedMs < 120_000; elapsedMs += 100) {
    const states = ids.map((id) => c.node(id).membership.ring());
    const same = states.every((s) => JSON.stringify(s) === JSON.stringify(states[0]));
    if (same && states[0]?.plan === null) return;
    await c.advance(100);
  }
  const summary = ids.map((id) => {
    const ring = c.node(id).membership.ring();
    return `${id}: v${ring.ringVersion} ${ring.plan === null ? 'settled' : `${ring.plan.transfersDone}/${ring.plan.transfersTotal}`}`;
  });
  assert.fail(`the cluster did not settle: ${summary.join(', ')}`);
}

function applied(outcome: ChangeOutcome): Extract<ChangeOutcome, { ok: true }> {
  assert.ok(outcome.ok, outcome.ok ? '' : `${outcome.code}: ${outcome.reason}`);
  return outcome;
}

function refusal(outcome: ChangeOutcome): string {
  return outcome.ok ? 'accepted' : outcome.code;
}

function seedOf(c: TestCluster, id: string): { host: string; port: number } {
  return c.member(id).config.listen;
}

/** Every key's replicas (by the serving ring) hold it in their main store, and no one else does. */
function assertPlacement(c: TestCluster, ids: readonly string[], keys: Iterable<string>): void {
  for (const key of keys) {
    const bytes = enc.encode(key);
    const partition = partitionOfKey(bytes, Q);
    const holders = ids.filter((id) => c.node(id).localVersions(bytes) !== undefined).sort();
    const ring = servingRing(viewState(c.node(ids[0] as string)));
    const expected = replicasOf(ring, partition, 3).sort();
    assert.deepEqual(holders, expected, `replicas of ${key} (partition ${partition})`);
  }
}

function viewState(node: ShoalNode): Parameters<typeof servingRing>[0] {
  return (node as unknown as { parts: { membership: { state: Parameters<typeof servingRing>[0] } } }).parts.membership.state;
}

test('a node joins: the plan is shown first, applied on confirmation, streamed, and every key stays readable', async (t) => {
  const c = await cluster(t, ['a', 'b', 'c']);
  const written = await writeKeys(c, 'a', 120);
  await c.advance(1000);
  const d = await c.addNode('d', { partitionCount: Q, dropDelayMs: 500 });
  const dry = applied(await c.run(d.membership.join(seedOf(c, 'a'), true)));
  assert.equal(dry.applied, false);
  assert.equal(dry.plan.kind, 'join');
  assert.ok(dry.plan.transfersTotal > 0 && dry.plan.transfers.every((tr) => tr.to === 'd'));
  assert.ok(dry.plan.estimate.objects > 0, 'the plan says how much data moves');
  assert.equal(c.node('a').membership.ring().ringVersion, 1, 'a dry run changes nothing');
  const wet = applied(await c.run(d.membership.join(seedOf(c, 'a'), false, dry.plan.ringVersion)));
  assert.equal(wet.applied, true);
  await settle(c, ['a', 'b', 'c', 'd']);
  const ring = c.node('b').membership.ring();
  assert.deepEqual(ring.members.map((m) => [m.id, m.status]), [['a', 'valid'], ['b', 'valid'], ['c', 'valid'], ['d', 'valid']]);
  for (const member of ring.members) assert.ok(member.partitions <= Math.ceil(Q / 4), `${member.id} owns ${member.partitions}`);
  await c.advance(DROP_WAIT_MS); // former replicas drop their copies
  assertPlacement(c, ['a', 'b', 'c', 'd'], written.keys());
  for (const [key, value] of written) assert.equal(await readValue(c, 'd', key), value, key);
});

test('writes during a transfer are not lost: they reach the new replica too', async (t) => {
  // A slow transfer (one object per batch, paused) so writes land while it streams.
  const c = await cluster(t, ['a', 'b', 'c'], { transferBatchObjectsMax: 1, transferPauseMs: 50 });
  const before = await writeKeys(c, 'b', 60, 'old');
  const d = await c.addNode('d', { partitionCount: Q, dropDelayMs: 500 });
  applied(await c.run(d.membership.join(seedOf(c, 'a'), false)));
  await c.advance(300);
  assert.notEqual(c.node('a').membership.ring().plan, null, 'the transfer is still running');
  const during = await writeKeys(c, 'c', 60, 'new');
  await settle(c, ['a', 'b', 'c', 'd']);
  await c.advance(DROP_WAIT_MS); // hints delivered, copies dropped
  // Placement first: reads would repair what the transfer missed.
  assertPlacement(c, ['a', 'b', 'c', 'd'], [...before.keys(), ...during.keys()]);
  for (const [key, value] of [...before, ...during]) assert.equal(await readValue(c, 'a', key), value, key);
});

test('a member leaves: it hands its partitions off and ends removed, owning nothing', async (t) => {
  const c = await cluster(t, ['a', 'b', 'c', 'd']);
  const written = await writeKeys(c, 'a', 100);
  const plan = applied(await c.run(c.node('b').membership.leave(false)));
  assert.ok(plan.plan.transfers.some((tr) => tr.from === 'b'));
  await settle(c, ['a', 'b', 'c', 'd']);
  const ring = c.node('a').membership.ring();
  assert.equal(ring.members.find((m) => m.id === 'b')?.status, 'removed');
  assert.ok(!ring.owners.includes('b'));
  await c.advance(DROP_WAIT_MS);
  assertPlacement(c, ['a', 'c', 'd'], written.keys());
  for (const [key, value] of written) assert.equal(await readValue(c, 'c', key), value, key);
  assert.equal(c.member('b').engine.count(), 0, 'the leaver dropped every copy');
});

test('a dead member is removed: its replicas are rebuilt from the survivors', async (t) => {
  const c = await cluster(t, ['a', 'b', 'c', 'd'], { probeIntervalMs: 100 });
  const written = await writeKeys(c, 'a', 100);
  await c.advance(1000);
  assert.equal(refusal(await c.run(c.node('a').membership.remove('d', false, true))), 'live-member', 'd is up: refused without force');
  c.network.setMode('d', 'unreachable');
  await c.advance(3000); // gossip and probes find d down
  const plan = applied(await c.run(c.node('a').membership.remove('d', false, false)));
  assert.ok(plan.plan.transfers.every((tr) => tr.from !== 'd'), 'the dead member sends nothing');
  await settle(c, ['a', 'b', 'c']);
  assert.equal(c.node('b').membership.ring().members.find((m) => m.id === 'd')?.status, 'removed');
  await c.advance(2000);
  assertPlacement(c, ['a', 'b', 'c'], written.keys());
  for (const [key, value] of written) assert.equal(await readValue(c, 'b', key), value, key);
});

test('bad changes are refused with a reason and change nothing', async (t) => {
  // Slow transfers, so the join below is still running when the next change is asked for.
  const c = await cluster(t, ['a', 'b', 'c'], { transferPauseMs: 1000, transferBatchObjectsMax: 1 });
  const a = c.node('a').membership;
  assert.equal(refusal(await c.run(a.leave(true))), 'too-few-members');
  assert.equal(refusal(await c.run(a.remove('zz', true, true))), 'unknown-member');
  assert.equal(refusal(await c.run(a.remove('a', true, true))), 'not-valid');
  const other = await c.addNode('x', { partitionCount: Q, clusterName: 'elsewhere' });
  const mismatch = await c.run(other.membership.join(seedOf(c, 'a'), true));
  assert.ok(!mismatch.ok);
  assert.equal(mismatch.code, 'cluster-mismatch', mismatch.reason);
  assert.equal(refusal(await c.run(c.node('b').membership.join(seedOf(c, 'a'), true))), 'already-member');
  const d = await c.addNode('d', { partitionCount: Q });
  await writeKeys(c, 'a', 20);
  applied(await c.run(d.membership.join(seedOf(c, 'a'), false)));
  const e = await c.addNode('e', { partitionCount: Q });
  assert.equal(refusal(await c.run(e.membership.join(seedOf(c, 'a'), true))), 'transfers-pending');
  assert.equal(refusal(await c.run(a.leave(false, 999))), 'transfers-pending');
  const ring = c.node('a').membership.ring();
  assert.deepEqual(ring.members.map((m) => m.id), ['a', 'b', 'c', 'd'], 'only the accepted join changed the table');
});

test('a join that is stale by the time it is confirmed is refused as plan-changed', async (t) => {
  const c = await cluster(t, ['a', 'b', 'c']);
  const d = await c.addNode('d', { partitionCount: Q });
  const dry = applied(await c.run(d.membership.join(seedOf(c, 'a'), true)));
  assert.equal(refusal(await c.run(d.membership.join(seedOf(c, 'a'), false, dry.plan.ringVersion + 1))), 'plan-changed');
});
