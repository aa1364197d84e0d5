/**
 * `GET /kv?prefix=&after=&limit=` over HTTP on a 3-node cluster (in-process nodes, one
 * in-memory network): pages with continuation tokens, prefixes, base64 keys, and a 400
 * with a JSON reason for every bad input.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { request, startTestCluster, type TestNode } from './testNode.ts';

async function listAll(node: TestNode, query: string): Promise<{ keys: string[]; pages: number }> {
  const keys: string[] = [];
  let next: string | null = null;
  let pages = 0;
  do {
    const reply = await request(node, 'GET', `/kv?${query}${next === null ? '' : `&after=${next}`}`);
    assert.equal(reply.status, 200, reply.body.toString());
    assert.match(reply.headers.get('content-type') ?? '', /^application\/json/);
    const body = reply.json() as { keys: string[]; next: string | null };
    keys.push(...body.keys);
    next = body.next;
    pages++;
    assert.ok(pages < 1000);
  } while (next !== null);
  return { keys, pages };
}

test('GET /kv lists keys in byte order, page by page, with a prefix, as text or base64', async (t) => {
  const cluster = await startTestCluster(['a', 'b', 'c'], { partitionCount: 16 });
  t.after(() => cluster.stop());
  const [a, b] = [cluster.nodes.get('a') as TestNode, cluster.nodes.get('b') as TestNode];
  const written = ['fruit/apple', 'fruit/pear', 'veg/leek', 'fruit/fig', 'é', 'fruit/kiwi'];
  for (const key of written) assert.equal((await request(a, 'PUT', `/kv/${encodeURIComponent(key)}`, { body: 'x' })).status, 204);
  const sorted = [...written].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y)));
  const all = await listAll(b, 'limit=2');
  assert.deepEqual(all.keys, sorted);
  assert.ok(all.pages >= 3);
  assert.deepEqual((await listAll(b, `prefix=${encodeURIComponent('fruit/')}`)).keys, ['fruit/apple', 'fruit/fig', 'fruit/kiwi', 'fruit/pear']);
  const base64 = await listAll(a, 'prefix=veg&encoding=base64');
  assert.deepEqual(base64.keys, [Buffer.from('veg/leek').toString('base64')]);
  const empty = await request(a, 'GET', '/kv?prefix=zzz');
  assert.deepEqual(empty.json(), { keys: [], next: null });
});

test('GET /kv refuses a malformed token, a bad limit, an over-long prefix and unknown parameters with a 400 and a JSON reason', async (t) => {
  const cluster = await startTestCluster(['a'], { keyBytesMax: 64 });
  t.after(() => cluster.stop());
  const a = cluster.nodes.get('a') as TestNode;
  const refusals: [string, RegExp, string][] = [
    ['after=%%%', /./, ''],
    ['after=not*base64', /continuation token/, 'LIST_TOKEN_INVALID'],
    ['after=AA', /continuation token/, 'LIST_TOKEN_INVALID'],
    [`after=${Buffer.concat([Buffer.from([1]), Buffer.alloc(100, 97)]).toString('base64url')}`, /continuation token.*1-64 bytes/, 'LIST_TOKEN_INVALID'],
    ['limit=-1', /limit must be an integer from 1 to 1000/, 'REQUEST_OPTION_INVALID'],
    ['limit=0', /limit must be an integer from 1 to 1000/, 'REQUEST_OPTION_INVALID'],
    ['limit=1001', /limit must be an integer from 1 to 1000/, 'REQUEST_OPTION_INVALID'],
    ['limit=99999999999', /limit must be an integer from 1 to 1000/, 'REQUEST_OPTION_INVALID'],
    ['limit=ten', /limit must be an integer from 1 to 1000/, 'REQUEST_OPTION_INVALID'],
    [`prefix=${'p'.repeat(65)}`, /prefix is 65 bytes, longer than keyBytesMax \(64\)/, 'REQUEST_OPTION_INVALID'],
    ['encoding=hex', /encoding must be utf8 or base64/, 'REQUEST_OPTION_INVALID'],
    ['cursor=0', /unknown query parameter "cursor"/, ''],
    ['prefix=a&prefix=b', /query parameter prefix must be given once/, 'REQUEST_OPTION_INVALID'],
  ];
  for (const [query, reason, code] of refusals) {
    const reply = await request(a, 'GET', `/kv?${query}`);
    assert.equal(reply.status, 400, `${query}: ${reply.body.toString()}`);
    const body = reply.json();
    assert.equal(typeof body.error, 'string', query);
    assert.match(String(body.error), reason, query);
    if (code !== '') assert.equal(body.code, code, query);
  }
});
