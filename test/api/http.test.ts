import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { decodeContext, encodeContext } from '../../src/core/context.ts';
import { HTTP_HEADERS_RECEIVE_MS_MAX, HTTP_KEEP_ALIVE_MS, HTTP_REQUEST_RECEIVE_MS_MAX, HTTP_SOCKET_IDLE_MS_MAX } from '../../src/api/http.ts';
import { CONTEXT, contextOf, request, startTestNode, type Reply, type TestNode } from './testNode.ts';

async function node(t: TestContext, overrides: Record<string, unknown> = {}): Promise<TestNode> {
  const started = await startTestNode(overrides);
  t.after(() => started.stop());
  return started;
}

interface SiblingJson {
  value: string;
  contentType: string;
  deleted: boolean;
}

function siblingsOf(reply: Reply): SiblingJson[] {
  assert.equal(reply.status, 300, reply.body.toString());
  const body = reply.json();
  assert.equal(body.context, contextOf(reply), 'the 300 context is in the body and the header');
  return body.siblings as SiblingJson[];
}

function decoded(sibling: SiblingJson): string {
  return Buffer.from(sibling.value, 'base64').toString('utf8');
}

/** The /admin/local JSON of a key, or undefined when the node holds nothing. */
async function local(n: TestNode, path: string): Promise<Record<string, unknown> | undefined> {
  const reply = await request(n, 'GET', `/admin/local/${path}`);
  if (reply.status === 404) {
    assert.equal(typeof reply.json().error, 'string');
    return undefined;
  }
  assert.equal(reply.status, 200);
  return reply.json();
}

test('PUT, GET and DELETE round trip with the content type and context', async (t) => {
  const n = await node(t);
  const bytes = Uint8Array.from([0, 1, 2, 255, 254]);
  const put = await request(n, 'PUT', '/kv/photo%2F1', { body: bytes, headers: { 'content-type': 'image/png' } });
  assert.equal(put.status, 204);
  assert.equal(put.body.length, 0);
  const got = await request(n, 'GET', '/kv/photo%2F1');
  assert.equal(got.status, 200);
  assert.equal(got.headers.get('content-type'), 'image/png');
  assert.deepEqual(new Uint8Array(got.body), bytes);
  assert.equal(contextOf(got), contextOf(put));

  const json = await request(n, 'PUT', '/kv/doc', { body: '{"not":"parsed"', headers: { 'content-type': 'application/json' } });
  assert.equal(json.status, 204, 'values are opaque: malformed JSON is stored as bytes');
  const doc = await request(n, 'GET', '/kv/doc');
  assert.equal(doc.body.toString(), '{"not":"parsed"');
  assert.equal(doc.headers.get('content-type'), 'application/json');

  const deleted = await request(n, 'DELETE', '/kv/photo%2F1', { headers: { [CONTEXT]: contextOf(got) } });
  assert.equal(deleted.status, 204);
  const gone = await request(n, 'GET', '/kv/photo%2F1');
  assert.equal(gone.status, 404);
  assert.equal(contextOf(gone), contextOf(deleted), '404 carries the context of the tombstone');
  assert.equal(typeof gone.json().error, 'string');

  const absent = await request(n, 'GET', '/kv/never-written');
  assert.equal(absent.status, 404);
  assert.ok(contextOf(absent).length > 0, 'an absent key has a context too');
  assert.equal(absent.json().error, 'key not found');
});

test('an empty body is an empty value with the default content type', async (t) => {
  const n = await node(t);
  assert.equal((await request(n, 'PUT', '/kv/empty')).status, 204);
  const got = await request(n, 'GET', '/kv/empty');
  assert.equal(got.status, 200);
  assert.equal(got.body.length, 0);
  assert.equal(got.headers.get('content-type'), 'application/octet-stream');
});

test('two writes without context become siblings; a write with the merged context resolves them', async (t) => {
  const n = await node(t);
  const [a, b] = await Promise.all([
    request(n, 'PUT', '/kv/cart', { body: 'apples', headers: { 'content-type': 'text/plain' } }),
    request(n, 'PUT', '/kv/cart', { body: 'pears', headers: { 'content-type': 'text/plain' } }),
  ]);
  assert.equal(a.status, 204);
  assert.equal(b.status, 204);
  const conflict = await request(n, 'GET', '/kv/cart');
  const siblings = siblingsOf(conflict);
  assert.equal(siblings.length, 2);
  assert.deepEqual(siblings.map(decoded).sort(), ['apples', 'pears']);
  assert.ok(siblings.every((s) => !s.deleted && s.contentType === 'text/plain'));

  const resolved = await request(n, 'PUT', '/kv/cart', { body: 'apples+pears', headers: { [CONTEXT]: contextOf(conflict) } });
  assert.equal(resolved.status, 204);
  const after = await request(n, 'GET', '/kv/cart');
  assert.equal(after.status, 200);
  assert.equal(after.body.toString(), 'apples+pears');
  const held = await local(n, 'cart');
  assert.equal((held?.siblings as unknown[]).length, 1);
});

test('a tombstone and a concurrent write come back as a 300 that lists the tombstone', async (t) => {
  const n = await node(t);
  const first = await request(n, 'PUT', '/kv/k', { body: 'v1' });
  await request(n, 'DELETE', '/kv/k', { headers: { [CONTEXT]: contextOf(first) } });
  await request(n, 'PUT', '/kv/k', { body: 'v2', headers: { [CONTEXT]: contextOf(first) } });
  const siblings = siblingsOf(await request(n, 'GET', '/kv/k'));
  assert.equal(siblings.length, 2);
  assert.deepEqual(siblings.map((s) => s.deleted).sort(), [false, true]);
  assert.equal(decoded(siblings.find((s) => !s.deleted) as SiblingJson), 'v2');
});

test('GET /admin/local shows vector, dots, times and deleted flags', async (t) => {
  const n = await node(t);
  assert.equal(await local(n, 'x'), undefined);
  await request(n, 'PUT', '/kv/x', { body: 'hello', headers: { 'content-type': 'text/plain' } });
  const held = await local(n, 'x');
  assert.ok(held !== undefined);
  assert.equal(held.key, 'x');
  assert.equal(typeof held.partition, 'number');
  const actor = n.runtime.node.actor;
  assert.deepEqual((held.vector as { actor: string; counter: number }[]).map((e) => [e.actor, e.counter]), [[actor, 1]]);
  const [sibling] = held.siblings as { value: string; contentType: string; deleted: boolean; dot: unknown; timeMs: number }[];
  assert.deepEqual(
    { ...sibling, timeMs: 0 },
    { value: Buffer.from('hello').toString('base64'), contentType: 'text/plain', deleted: false, dot: { actor, counter: 1 }, timeMs: 0 },
  );
  assert.ok(sibling !== undefined && sibling.timeMs > 0);
});

test('GET /admin/status answers 200 with the node, config and buffer', async (t) => {
  const n = await node(t, { id: 'alpha', clusterName: 'blue' });
  const reply = await request(n, 'GET', '/admin/status');
  assert.equal(reply.status, 200);
  const status = reply.json();
  assert.equal(status.nodeId, 'alpha');
  assert.equal(status.clusterName, 'blue');
  assert.equal(status.state, 'serving');
  assert.equal(status.actor, 'alpha.1');
  assert.equal(typeof status.uptimeMs, 'number');
  assert.equal((status.config as Record<string, unknown>).bufferObjectsMax, 1000);
  assert.equal((status.buffer as Record<string, unknown>).waitingWrites, 0);
});

/** A bad request: the status, a JSON error, and the key unchanged. */
async function expectRefused(
  n: TestNode,
  method: string,
  path: string,
  status: number,
  options: { body?: string | Uint8Array; headers?: Record<string, string> } = {},
  localPath = 'seeded',
): Promise<string> {
  const before = await local(n, localPath);
  const reply = await request(n, method, path, options);
  assert.equal(reply.status, status, `${method} ${path}: ${reply.body.toString()}`);
  assert.match(reply.headers.get('content-type') ?? '', /^application\/json/);
  const error = reply.json().error;
  assert.equal(typeof error, 'string');
  assert.deepEqual(await local(n, localPath), before, `${method} ${path} changed nothing`);
  return error as string;
}

test('bad input gets a 4xx JSON error and stores nothing', async (t) => {
  const n = await node(t, { keyBytesMax: 16, valueBytesMax: 64 });
  const seeded = await request(n, 'PUT', '/kv/seeded', { body: 'original' });
  const context = contextOf(seeded);
  const put = (headers: Record<string, string>, query = ''): Promise<string> =>
    expectRefused(n, 'PUT', `/kv/seeded${query}`, 400, { body: 'changed', headers });

  assert.match(await expectRefused(n, 'PUT', '/kv/', 400, { body: 'x' }), /key must not be empty/);
  assert.match(await expectRefused(n, 'PUT', `/kv/${'k'.repeat(17)}`, 414, { body: 'x' }, 'k'.repeat(16)), /keyBytesMax/);
  assert.match(await expectRefused(n, 'PUT', `/kv/${'k'.repeat(500)}`, 414, { body: 'x' }), /keyBytesMax/);
  assert.match(await expectRefused(n, 'GET', `/admin/local/${'k'.repeat(17)}`, 414), /keyBytesMax/);
  // 6 two-byte characters = 12 bytes fit; 9 = 18 bytes do not.
  assert.equal((await request(n, 'PUT', `/kv/${encodeURIComponent('é'.repeat(6))}`, { body: 'x' })).status, 204);
  await expectRefused(n, 'PUT', `/kv/${encodeURIComponent('é'.repeat(9))}`, 414, { body: 'x' });
  assert.match(await expectRefused(n, 'PUT', '/kv/seeded', 413, { body: 'v'.repeat(65) }), /valueBytesMax/);
  assert.match(await expectRefused(n, 'PUT', '/kv/%E0%A4%A', 400, { body: 'x' }), /bad request URL/);

  assert.match(await put({ [CONTEXT]: 'not a context!' }), /bad context/);
  assert.match(await put({ [CONTEXT]: context.slice(0, -3) }), /bad context/, 'truncated');
  assert.match(await put({ [CONTEXT]: `${context}AAAA` }), /bad context/, 'trailing bytes');
  assert.match(await put({ [CONTEXT]: '' }), /bad context/, 'empty');
  assert.match(await put({ [CONTEXT]: encodeContext([], 'another-cluster') }), /another cluster/);
  const wrongVersion = Buffer.from(context, 'base64url');
  wrongVersion[0] = 9;
  assert.match(await put({ [CONTEXT]: wrongVersion.toString('base64url') }), /bad context/);
  assert.match(await expectRefused(n, 'DELETE', '/kv/seeded', 400, { headers: { [CONTEXT]: 'garbage' } }), /bad context/);
  // The node's own actor near 2^53: every later write of the key would overflow its counter (issue 14).
  const seededContext = decodeContext(context, n.config.clusterName);
  assert.ok(seededContext.ok);
  const nearLimit = seededContext.vector.map((entry) => ({ ...entry, counter: 2 ** 53 - 2 }));
  assert.match(await put({ [CONTEXT]: encodeContext(nearLimit, n.config.clusterName) }), /context counter 9007199254740990 exceeds 2\^48/);
  assert.equal((await request(n, 'PUT', '/kv/seeded', { body: 'later', headers: { [CONTEXT]: context } })).status, 204, 'later writes of the key still work');

  assert.match(await put({}, '?n=2'), /n must be an integer 1-1/);
  assert.match(await put({}, '?w=0'), /w must be an integer 1-1/);
  assert.match(await put({}, '?r=abc'), /query parameter r must be a positive integer/);
  assert.match(await put({}, '?w=1.5'), /query parameter w/);
  assert.match(await put({}, '?w=1&w=1'), /query parameter w/);
  assert.match(await put({}, '?x=1'), /unknown query parameter "x"/);
  assert.match(await expectRefused(n, 'GET', '/kv/seeded?consistency=all', 400), /unknown query parameter/);
  assert.match(await expectRefused(n, 'GET', '/admin/status?verbose=1', 400), /unknown query parameter/);
  assert.match(await put({ 'content-type': `text/${'x'.repeat(300)}` }), /content type/);
  assert.match(await expectRefused(n, 'PUT', '/kv/seeded', 415, { body: 'x', headers: { 'content-type': 'nonsense' } }), /media type/);

  assert.match(await expectRefused(n, 'PUT', '/kv/a/b', 404, { body: 'x' }), /%2F/);
  assert.match(await expectRefused(n, 'POST', '/kv/seeded', 405, { body: 'x' }), /method POST not allowed/);
  assert.equal((await request(n, 'PUT', '/kv/seeded?n=1&r=1&w=1', { body: 'ok' })).status, 204, 'in-range options are fine');
});

test('writes past siblingsMax are refused with 409 and nothing is dropped', async (t) => {
  const n = await node(t, { siblingsMax: 2 });
  await request(n, 'PUT', '/kv/busy', { body: 'a' });
  await request(n, 'PUT', '/kv/busy', { body: 'b' });
  const error = await expectRefused(n, 'PUT', '/kv/busy', 409, { body: 'c' }, 'busy');
  assert.match(error, /siblings/);
  const siblings = siblingsOf(await request(n, 'GET', '/kv/busy'));
  assert.deepEqual(siblings.map(decoded).sort(), ['a', 'b']);
  const resolved = await request(n, 'PUT', '/kv/busy', {
    body: 'c',
    headers: { [CONTEXT]: contextOf(await request(n, 'GET', '/kv/busy')) },
  });
  assert.equal(resolved.status, 204, 'a write with the context goes through');
});

test('a storage engine failure answers 5xx and the next request works', async (t) => {
  const n = await node(t);
  await request(n, 'PUT', '/kv/k', { body: 'v1' });
  n.engine.failNextWrites(1);
  const failed = await request(n, 'PUT', '/kv/k2', { body: 'v' });
  assert.equal(failed.status, 500);
  assert.match(failed.json().error as string, /storage engine failure/);
  assert.equal((await request(n, 'PUT', '/kv/k3', { body: 'v3' })).status, 204);

  n.engine.failNextReads(1);
  const readFailed = await request(n, 'GET', '/kv/never');
  assert.equal(readFailed.status, 500);
  assert.match(readFailed.json().error as string, /storage engine failure/);
  assert.equal(readFailed.json().code, 'STORAGE_ERROR');
  const metrics = (await request(n, 'GET', '/metrics')).body.toString();
  assert.match(metrics, /shoal_engine_errors_total\{source="request",node="node1"\} 2/);
  assert.match(metrics, /shoal_engine_errors_total\{source="flush",node="node1"\} 1/);
  const again = await request(n, 'GET', '/kv/k3');
  assert.equal(again.status, 200);
  assert.equal(again.body.toString(), 'v3');
  assert.equal((await request(n, 'GET', '/kv/k')).body.toString(), 'v1');
});

test('a full buffer answers 503 and the node recovers when the engine catches up', async (t) => {
  const n = await node(t, { bufferObjectsMax: 1, writeWaitMsMax: 0, durableWrites: 'none' });
  n.engine.pauseWrites();
  assert.equal((await request(n, 'PUT', '/kv/a', { body: '1' })).status, 204);
  assert.equal((await request(n, 'PUT', '/kv/b', { body: '2' })).status, 204);
  const full = await request(n, 'PUT', '/kv/c', { body: '3' });
  assert.equal(full.status, 503);
  assert.match(full.json().error as string, /buffer/);
  assert.equal(full.json().code, 'BUFFER_FULL', 'the code a peer and a RESP client see for it too');
  assert.equal((await request(n, 'GET', '/kv/c')).status, 404, 'the refused write left nothing');
  n.engine.resumeWrites();
  let status = 503;
  for (let attempt = 0; attempt < 50 && status === 503; attempt++) {
    if (attempt > 0) await new Promise((resolve) => setTimeout(resolve, 20));
    status = (await request(n, 'PUT', '/kv/c', { body: '3' })).status;
  }
  assert.equal(status, 204);
  assert.equal((await request(n, 'GET', '/kv/a')).body.toString(), '1');
});

test('a write stuck in storage times out with 503 after requestTimeoutMs', async (t) => {
  const n = await node(t, { requestTimeoutMs: 50 });
  n.engine.pauseWrites();
  const stuck = await request(n, 'PUT', '/kv/slow', { body: 'v' });
  assert.equal(stuck.status, 503);
  assert.match(stuck.json().error as string, /did not finish within 50 ms/);
  n.engine.resumeWrites();
  assert.equal((await request(n, 'GET', '/kv/slow')).body.toString(), 'v', 'a timed-out write may still land');
});

test('GET /metrics exposes the node metrics in Prometheus text', async (t) => {
  const n = await node(t);
  await request(n, 'PUT', '/kv/m', { body: 'v' });
  await request(n, 'GET', '/kv/m');
  const reply = await request(n, 'GET', '/metrics');
  assert.equal(reply.status, 200);
  assert.match(reply.headers.get('content-type') ?? '', /^text\/plain/);
  const text = reply.body.toString();
  for (const name of [
    'shoal_http_requests_total',
    'shoal_http_request_duration_seconds_bucket',
    'shoal_buffer_objects',
    'shoal_buffer_writes_waiting',
    'shoal_flush_batch_objects_bucket',
    'shoal_flush_duration_seconds_bucket',
    'shoal_engine_errors_total',
  ]) {
    assert.match(text, new RegExp(`^${name}`, 'm'), name);
  }
  assert.match(text, /shoal_http_requests_total\{route="\/kv\/:key",method="PUT",status="204",node="node1"\} 1/);
});

test('the server keeps its limits on slow and idle clients (fastify does not set them on a server it did not make)', async (t) => {
  const n = await node(t);
  const server = n.runtime.http.server;
  assert.equal(server.keepAliveTimeout, HTTP_KEEP_ALIVE_MS);
  assert.equal(server.requestTimeout, HTTP_REQUEST_RECEIVE_MS_MAX);
  assert.equal(server.headersTimeout, HTTP_HEADERS_RECEIVE_MS_MAX);
  assert.equal(server.timeout, HTTP_SOCKET_IDLE_MS_MAX);
});

test('HEAD /kv/:key answers the headers of GET, with no body', async (t) => {
  const n = await node(t);
  await request(n, 'PUT', '/kv/h', { body: 'value', headers: { 'content-type': 'text/plain' } });
  const head = await request(n, 'HEAD', '/kv/h');
  assert.equal(head.status, 200);
  assert.equal(head.headers.get('content-type'), 'text/plain');
  assert.equal(head.headers.get('content-length'), '5');
  assert.equal(head.body.length, 0);
  assert.equal(typeof head.headers.get('x-shoal-context'), 'string');
  assert.equal((await request(n, 'HEAD', '/kv/absent')).status, 404);
});
