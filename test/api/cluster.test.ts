import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { request, startTestCluster, type TestNode } from './testNode.ts';

async function trio(t: TestContext, overrides: Record<string, unknown> = {}) {
  const cluster = await startTestCluster(['a', 'b', 'c'], { requestTimeoutMs: 1000, ...overrides });
  t.after(() => cluster.stop());
  const node = (id: string): TestNode => cluster.nodes.get(id) as TestNode;
  return { ...cluster, node };
}

test('a write that cannot reach W replicas is a 503 whose JSON says how many answered', async (t) => {
  // No background traffic (gossip, anti-entropy) that could mark b and c down before the
  // write asks them: the counts below are those of a write that finds them unreachable.
  const { network, node } = await trio(t, { gossipIntervalMs: 3_600_000, antiEntropyIntervalMs: 0 });
  assert.equal((await request(node('a'), 'PUT', '/kv/k', { body: 'v' })).status, 204);
  network.setMode('b', 'unreachable');
  network.setMode('c', 'unreachable');
  const refused = await request(node('a'), 'PUT', '/kv/k', { body: 'v2' });
  assert.equal(refused.status, 503);
  const body = refused.json();
  assert.match(body.error as string, /write quorum unreachable: needed 2, 1 of 3 replicas answered \(2 failed\)/);
  assert.deepEqual(body.replicas, { needed: 2, answered: 1, failed: 2, targets: 3 });
  const read = await request(node('a'), 'GET', '/kv/k');
  assert.equal(read.status, 503);
  // Only a is believed up: the read waits for a probe, then asks b and c all the same (a last resort) and fails with them.
  assert.deepEqual(read.json().replicas, { needed: 2, answered: 1, failed: 2, targets: 3 });
  assert.match(read.json().error as string, /read quorum unreachable: needed 2, 1 of 3 replicas answered \(2 failed\)/);
  const one = await request(node('a'), 'GET', '/kv/k?r=1');
  assert.equal(one.status, 300, 'R = 1 still reads, and the refused write is there: a 503 is not a rollback');
  assert.equal((one.json().siblings as unknown[]).length, 2);
  assert.match((await request(node('a'), 'GET', '/kv/k?n=4')).json().error as string, /n must be an integer 1-3/);
});

test('GET /admin/status lists each peer as this node sees it, the cluster and the hints', async (t) => {
  const { network, node } = await trio(t);
  network.setMode('c', 'unreachable');
  assert.equal((await request(node('a'), 'PUT', '/kv/k', { body: 'v' })).status, 204);
  const status = (await request(node('a'), 'GET', '/admin/status')).json();
  const { members, partitionCount, n, r, w, ringVersion, memberStatus, change } = status.cluster as Record<string, unknown>;
  assert.deepEqual({ members, partitionCount, n, r, w, ringVersion, memberStatus, change }, { members: ['a', 'b', 'c'], partitionCount: 64, n: 3, r: 2, w: 2, ringVersion: 1, memberStatus: 'valid', change: null });
  const peers = status.peers as { id: string; status: string; lastError?: string }[];
  assert.deepEqual(peers.map((p) => [p.id, p.status]), [['b', 'up'], ['c', 'down']]);
  assert.match(peers[1]?.lastError ?? '', /UNREACHABLE/);
  assert.deepEqual(status.hints, { total: 0, byTarget: {}, hintsMax: 100_000, delivered: 0, failures: 0 });
  const metrics = (await request(node('a'), 'GET', '/metrics')).body.toString();
  assert.match(metrics, /shoal_peers\{status="down",node="a"\} 1/);
  assert.match(metrics, /shoal_peer_status\{peer="c",status="down",node="a"\} 1/);
  assert.match(metrics, /shoal_peer_rtt_seconds\{peer="b",node="a"\} \d/, 'the round trip to an answering peer');
  assert.match(metrics, /shoal_peer_suspicion\{peer="b",node="a"\} 0/);
  assert.match(metrics, /shoal_hedged_requests_total\{operation="write",node="a"\} 0/);
  const evidence = (peers[0] as unknown as { evidence: Record<string, unknown> }).evidence;
  assert.ok(typeof evidence.rttMs === 'number' && (evidence.samples as number) > 0, JSON.stringify(evidence));
  assert.equal(evidence.inFlight, 0);
  assert.match(metrics, /shoal_hints\{node="a"\} 0/);
  assert.match(metrics, /shoal_ring_version\{node="a"\} 1/);
  assert.match(metrics, /shoal_members\{status="valid",node="a"\} 3/);
  assert.match(metrics, /shoal_change_transfers\{state="total",node="a"\} 0/);
  assert.match(metrics, /shoal_gossip_exchanges_total\{outcome="same",node="a"\} \d+/);
  assert.match(metrics, /shoal_buffer_objects_max\{node="a"\} 2000/, 'the buffer gauges read the node');
  assert.match(metrics, /shoal_hint_deliveries_total\{result="delivered",node="a"\} 0/);
  const repair = status.repair as { antiEntropy: Record<string, unknown>; admission: Record<string, unknown> };
  assert.equal(repair.antiEntropy.enabled, true);
  assert.equal(repair.admission.enabled, true);
  assert.equal(typeof repair.admission.share, 'number');
  assert.match(metrics, /shoal_anti_entropy_exchanges\{outcome="in-sync",node="a"\} \d+/);
  assert.match(metrics, /shoal_anti_entropy_keys_repaired\{node="a"\} \d+/);
  assert.match(metrics, /shoal_hash_trees_trusted\{node="a"\} \d+/);
  assert.match(metrics, /shoal_admission_background_share\{node="a"\} (0|1)(\.\d+)?/);
  assert.match(metrics, /shoal_admission_foreground_p99_seconds\{node="a"\} \d/);
  const atB = (await request(node('b'), 'GET', '/metrics')).body.toString();
  assert.match(atB, /shoal_internode_requests_total\{type="replica-put",outcome="ok",node="b"\} 1/, 'b took the write from a');
});

test('the membership routes answer JSON and refuse bad bodies with a 400 naming the problem', async (t) => {
  const { node } = await trio(t);
  const ring = (await request(node('a'), 'GET', '/admin/ring')).json();
  assert.equal(ring.ringVersion, 1);
  assert.equal(ring.plan, null);
  assert.deepEqual((ring.members as { id: string; status: string }[]).map((m) => [m.id, m.status]), [['a', 'valid'], ['b', 'valid'], ['c', 'valid']]);
  assert.equal((ring.owners as string[]).length, 64);
  const transfers = (await request(node('a'), 'GET', '/admin/transfers')).json();
  assert.deepEqual(Object.keys(transfers.nodes as object).sort(), ['a', 'b', 'c']);
  const post = (path: string, body: string) => request(node('a'), 'POST', path, { body, headers: { 'content-type': 'application/json' } });
  const bad: [string, string, RegExp][] = [
    ['/admin/join', 'not json', /must be a JSON object/],
    ['/admin/join', '{"dryRun": true}', /invalid seed/],
    ['/admin/join', '{"seed": "nowhere", "dryRun": true}', /seed must be HOST:PORT/],
    ['/admin/join', '{"seed": "127.0.0.1:7001"}', /dryRun/],
    ['/admin/leave', '{"dryRun": "yes"}', /invalid dryRun/],
    ['/admin/leave', '{"dryRun": true, "extra": 1}', /invalid body/],
    ['/admin/remove', '{"dryRun": true}', /invalid id/],
    ['/admin/remove', '{"id": "b", "dryRun": true, "expectRingVersion": -1}', /invalid expectRingVersion/],
  ];
  for (const [path, body, reason] of bad) {
    const reply = await post(path, body);
    assert.equal(reply.status, 400, `${path} ${body}`);
    assert.match(reply.json().error as string, reason, `${path} ${body}`);
  }
  const refused = await post('/admin/leave', '{"dryRun": false}');
  assert.equal(refused.status, 409);
  assert.equal(refused.json().code, 'too-few-members');
  const live = await post('/admin/remove', '{"id": "b", "dryRun": true}');
  assert.equal(live.status, 409);
  assert.equal(live.json().code, 'live-member');
  assert.equal((await request(node('a'), 'GET', '/admin/ring')).json().ringVersion, 1, 'nothing changed');
});
