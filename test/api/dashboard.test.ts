/**
 * The dashboard's HTTP side on an in-process node: the page and every file it loads come from
 * the node itself, the JSON carries what the page draws, one snapshot serves every viewer
 * for its half second, and bad input is a 400 JSON error.
 */
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { DashboardFeed } from '../../src/api/dashboard/feed.ts';
import { RequestHistory } from '../../src/api/dashboard/requestHistory.ts';
import type { DashboardSnapshot } from '../../src/api/dashboard/snapshot.ts';
import { silentLogger } from '../../src/ports/logger.ts';
import { request, startTestNode, type TestNode } from './testNode.ts';

const POLL_MS = 50;
const WAIT_MS_MAX = 10_000;

async function node(t: TestContext, overrides: Record<string, unknown> = {}): Promise<TestNode> {
  const started = await startTestNode(overrides);
  t.after(() => started.stop());
  return started;
}

async function snapshot(n: TestNode): Promise<DashboardSnapshot> {
  const reply = await request(n, 'GET', '/admin/dashboard');
  assert.equal(reply.status, 200, reply.body.toString());
  assert.match(reply.headers.get('content-type') ?? '', /^application\/json/);
  assert.equal(reply.headers.get('cache-control'), 'no-store');
  return reply.json() as unknown as DashboardSnapshot;
}

/** Polls until `check` returns a value (bounded). */
async function eventually<T>(what: string, check: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + WAIT_MS_MAX;
  for (;;) {
    const found = await check();
    if (found !== undefined) return found;
    if (Date.now() > deadline) assert.fail(`not within ${WAIT_MS_MAX} ms: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}

test('GET / is the page; it loads only files the node serves, each with its type, and allows nothing else', async (t) => {
  const n = await node(t);
  const page = await request(n, 'GET', '/');
  assert.equal(page.status, 200);
  assert.match(page.headers.get('content-type') ?? '', /^text\/html/);
  const policy = page.headers.get('content-security-policy') ?? '';
  assert.match(policy, /default-src 'none'/);
  assert.match(policy, /connect-src 'self'/);
  const html = page.body.toString();
  const references = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((match) => match[1] as string);
  assert.ok(references.length >= 4, `the page references its files: ${references.join(', ')}`);
  for (const reference of references) {
    if (reference === 'data:,' || reference.startsWith('#')) continue;
    assert.match(reference, /^\/dashboard\/[a-z.]+$/, `${reference} is the node's own file`);
    const file = await request(n, 'GET', reference);
    assert.equal(file.status, 200, reference);
    assert.match(file.headers.get('content-type') ?? '', reference.endsWith('.js') ? /^text\/javascript/ : /^text\/css/);
    assert.ok(file.body.length > 0);
    const again = await request(n, 'GET', reference, { headers: { 'if-none-match': file.headers.get('etag') ?? '' } });
    assert.equal(again.status, 304, `${reference} is revalidated by its ETag`);
  }
  const missing = await request(n, 'GET', '/dashboard/secrets.txt');
  assert.equal(missing.status, 404);
  assert.equal(typeof missing.json().error, 'string');
});

test('GET /admin/dashboard: members, the ring, buffer, hints, repair, admission, transfers and the request history', async (t) => {
  const n = await node(t);
  for (let i = 0; i < 20; i++) assert.equal((await request(n, 'PUT', `/kv/key-${i}`, { body: 'value' })).status, 204);
  assert.equal((await request(n, 'GET', '/kv/key-1')).status, 200);
  const first = await snapshot(n);
  assert.equal(first.nodeId, n.config.id);
  assert.equal(first.state, 'serving');
  assert.deepEqual(
    first.members.map((m) => [m.id, m.seenAs]),
    [[n.config.id, 'self']],
  );
  assert.equal(first.ring.owners.length, first.ring.partitionCount);
  assert.equal(first.ring.targetOwners, null);
  assert.equal(first.change, null);
  assert.ok(first.buffer.bufferedObjectsMax > 0);
  assert.equal(first.hints.hintsMax, n.config.hintsMax);
  assert.equal(typeof first.admission.share, 'number');
  assert.equal(typeof first.antiEntropy.exchanges, 'number');
  assert.equal(first.transfers.self.pending, 0);
  // The PUTs' second is in the history once it is over.
  const puts = await eventually('the PUTs in the request history', async () => {
    const route = (await snapshot(n)).requests.routes.find((r) => r.route === 'PUT /kv/:key');
    const total = route?.perSecond.reduce((a, b) => a + b, 0) ?? 0;
    return total >= 20 ? route : undefined;
  });
  assert.ok(puts.p99Ms.some((v) => v !== null && v > 0), 'the PUTs have latencies');
});

test('one snapshot serves every viewer for its half second; unknown query parameters are a 400 JSON error', async (t) => {
  const n = await node(t);
  const replies = await Promise.all(Array.from({ length: 20 }, () => request(n, 'GET', '/admin/dashboard')));
  const bodies = new Set(replies.map((reply) => reply.body.toString()));
  assert.ok(bodies.size <= 2, `20 viewers at once got ${bodies.size} different snapshots`);
  for (const path of ['/?refresh=1', '/admin/dashboard?since=5', '/dashboard/dashboard.js?v=2']) {
    const reply = await request(n, 'GET', path);
    assert.equal(reply.status, 400, path);
    assert.match(String(reply.json().error), /unknown query parameter/);
  }
  assert.equal((await request(n, 'POST', '/admin/dashboard', { body: '{}', headers: { 'content-type': 'application/json' } })).status, 404);
});

test('the feed computes a snapshot at most once per snapshotMsMin, however often it is asked', async (t) => {
  const n = await node(t);
  let nowMs = 0;
  const feed = new DashboardFeed({ node: n.runtime.node, history: new RequestHistory(), logger: silentLogger, snapshotMsMin: 500, monotonicMs: () => nowMs });
  const first = feed.current();
  for (let i = 0; i < 50; i++) assert.equal(feed.current(), first, 'the same bytes');
  nowMs = 499;
  feed.current();
  assert.equal(feed.builds, 1);
  nowMs = 500;
  assert.notEqual(feed.current(), first);
  assert.equal(feed.builds, 2);
});
