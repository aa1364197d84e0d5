/**
 * The Redis front end on a live in-process node (memory engine), driven by ioredis and by
 * raw sockets for malformed input.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, createServer, type AddressInfo, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { Redis } from 'ioredis';
import { compareDots, type Dot } from '../../src/core/clock.ts';
import { encodeCommand, RawClient, type RespError } from './respSupport.ts';
import { freePort, runShoal } from '../support/shoalProcess.ts';
import type { NodeStatus } from '../../src/node/shoalNode.ts';
import { request, startTestNode, type TestNode } from './testNode.ts';

async function respNode(t: TestContext, overrides: Record<string, unknown> = {}): Promise<{ node: TestNode; port: number }> {
  const node = await startTestNode({ resp: '127.0.0.1:0', ...overrides });
  t.after(() => node.stop());
  const port = node.runtime.resp?.port;
  assert.ok(port !== undefined && port > 0, 'the RESP server is bound');
  assert.equal(node.runtime.respAddress, `127.0.0.1:${port}`);
  return { node, port };
}

function client(t: TestContext, port: number): Redis {
  const redis = new Redis({ host: '127.0.0.1', port, retryStrategy: () => null, maxRetriesPerRequest: 0, commandTimeout: 10_000 });
  redis.on('error', () => undefined);
  t.after(() => redis.disconnect());
  return redis;
}

async function raw(t: TestContext, port: number): Promise<RawClient> {
  const opened = await RawClient.open(port);
  t.after(() => opened.close());
  return opened;
}

interface LocalSibling {
  readonly value: string;
  readonly deleted: boolean;
  readonly dot: Dot;
  readonly timeMs: number;
}

async function localSiblings(node: TestNode, key: string): Promise<LocalSibling[]> {
  const reply = await request(node, 'GET', `/admin/local/${encodeURIComponent(key)}`);
  assert.equal(reply.status, 200);
  return reply.json().siblings as LocalSibling[];
}

function infoField(info: string, name: string): string | undefined {
  return new RegExp(`\\r\\n${name}:([^\\r]*)\\r\\n`).exec(info)?.[1];
}

test('ioredis: PING, ECHO, SET, GET, MSET, MGET, EXISTS, DEL, INFO; binary values round-trip', async (t) => {
  const { port } = await respNode(t);
  const redis = client(t, port);
  assert.equal(await redis.ping(), 'PONG');
  assert.equal(await redis.echo('hello'), 'hello');
  assert.equal(await redis.set('fruit', 'apple'), 'OK');
  assert.equal(await redis.get('fruit'), 'apple');
  const binary = Buffer.from([0, 13, 10, 255, 42]);
  await redis.set(Buffer.from('bin\x00key'), binary);
  assert.deepEqual(await redis.getBuffer(Buffer.from('bin\x00key')), binary);
  assert.equal(await redis.mset('a', '1', 'b', '2'), 'OK');
  assert.deepEqual(await redis.mget('a', 'b', 'missing'), ['1', '2', null]);
  assert.equal(await redis.exists('a', 'b', 'missing', 'a'), 3);
  assert.equal(await redis.del('a', 'missing', 'a'), 1);
  assert.equal(await redis.get('a'), null);
  assert.equal(await redis.exists('a'), 0);
  assert.equal(await redis.del('a'), 0, 'a deleted key is not counted again');
  const info = await redis.info();
  assert.equal(infoField(info, 'redis_version'), '7.0.0');
  assert.equal(infoField(info, 'shoal_node_id'), 'node1');
  assert.equal(infoField(info, 'shoal_members'), 'node1');
  await assert.rejects(redis.call('SET', 'k', 'v', 'EX', '10'), /ERR Shoal SET takes no options/);
  assert.equal(await redis.get('k'), null, 'the refused SET wrote nothing');
});

test('ioredis: a pipeline of 1,000 commands is answered in order, a SET then GET of a key sees the SET', async (t) => {
  const { port } = await respNode(t);
  const redis = client(t, port);
  const pipeline = redis.pipeline();
  for (let index = 0; index < 500; index++) {
    pipeline.set(`key:${index % 50}`, `value:${index}`);
    pipeline.get(`key:${index % 50}`);
  }
  const results = await pipeline.exec();
  assert.ok(results !== null);
  assert.equal(results.length, 1000);
  for (let index = 0; index < 500; index++) {
    assert.deepEqual(results[2 * index], [null, 'OK']);
    assert.deepEqual(results[2 * index + 1], [null, `value:${index}`], `GET ${index} sees the SET before it`);
  }
  assert.deepEqual(await redis.mget('key:0', 'key:49'), ['value:450', 'value:499']);
});

test('siblings: SHOAL.PUT without context keeps both, GET answers the deterministic winner and counts it, SHOAL.PUT with the context resolves', async (t) => {
  const { node, port } = await respNode(t);
  const redis = client(t, port);
  const first = await redis.call('SHOAL.PUT', 'cart', '', 'apples');
  const second = await redis.call('SHOAL.PUT', 'cart', '', 'pears', 'text/plain');
  assert.equal(typeof first, 'string');
  assert.equal(typeof second, 'string');
  const read = (await redis.callBuffer('SHOAL.GET', 'cart')) as [Buffer, ...[Buffer | null, Buffer, number][]];
  const [context, ...siblings] = read;
  assert.ok(Buffer.isBuffer(context) && context.length > 0);
  assert.deepEqual(
    siblings.map(([value, contentType, deleted]) => [String(value), String(contentType), deleted]).sort(),
    [['apples', 'application/octet-stream', 0], ['pears', 'text/plain', 0]],
  );

  const held = await localSiblings(node, 'cart');
  const expected = held.reduce((best, sibling) => (sibling.timeMs > best.timeMs || (sibling.timeMs === best.timeMs && compareDots(sibling.dot, best.dot) > 0) ? sibling : best));
  const winner = Buffer.from(expected.value, 'base64').toString();
  assert.equal(await redis.get('cart'), winner, 'the greatest time, ties by dot');
  assert.equal(await redis.get('cart'), winner, 'the same answer every time');
  assert.deepEqual(await redis.mget('cart'), [winner]);
  assert.equal(infoField(await redis.info('shoal'), 'shoal_conflicted_reads'), '3');
  const metrics = (await request(node, 'GET', '/metrics')).body.toString();
  assert.match(metrics, /shoal_resp_conflicted_reads_total\{node="node1"\} 3/);
  assert.equal((await localSiblings(node, 'cart')).length, 2, 'GET wrote nothing');

  await redis.call('SHOAL.PUT', 'cart', context.toString(), 'apples,pears');
  const resolved = (await redis.call('SHOAL.GET', 'cart')) as [string, ...[string, string, number][]];
  assert.equal(resolved.length, 2, 'one sibling left');
  assert.deepEqual(resolved[1], ['apples,pears', 'application/octet-stream', 0]);
  assert.equal(await redis.get('cart'), 'apples,pears');

  const deleted = await redis.call('SHOAL.DEL', 'cart', String(resolved[0]));
  assert.equal(typeof deleted, 'string');
  assert.equal(await redis.get('cart'), null);
  assert.deepEqual(((await redis.call('SHOAL.GET', 'cart')) as unknown[]).slice(1), [[null, 'application/octet-stream', 1]], 'the tombstone shows');
});

test('SET over siblings in a cluster of one supersedes them all; DEL over siblings tombstones them', async (t) => {
  const { node, port } = await respNode(t);
  const redis = client(t, port);
  await redis.call('SHOAL.PUT', 'k', '', 'one');
  await redis.call('SHOAL.PUT', 'k', '', 'two');
  assert.equal((await localSiblings(node, 'k')).length, 2);
  assert.equal(await redis.set('k', 'three'), 'OK');
  const held = await localSiblings(node, 'k');
  assert.deepEqual(held.map((sibling) => Buffer.from(sibling.value, 'base64').toString()), ['three']);

  await redis.call('SHOAL.PUT', 'k', '', 'four');
  assert.equal((await localSiblings(node, 'k')).length, 2);
  assert.equal(await redis.del('k'), 1);
  const after = await localSiblings(node, 'k');
  assert.deepEqual(after.map((sibling) => sibling.deleted), [true], 'one tombstone superseding both');
});

test('node errors come back as RESP errors: an empty or too long key, a bad context, a too large value', async (t) => {
  const { port } = await respNode(t, { keyBytesMax: 16, valueBytesMax: 64 });
  const redis = client(t, port);
  await assert.rejects(redis.set('', 'v'), /^ReplyError: ERR key must not be empty/);
  await assert.rejects(redis.get('k'.repeat(17)), /^ReplyError: ERR key is 17 bytes, more than keyBytesMax \(16\)/);
  await assert.rejects(redis.set('k', 'v'.repeat(65)), /^ReplyError: ERR value is 65 bytes, more than valueBytesMax \(64\)/);
  await assert.rejects(redis.call('SHOAL.PUT', 'k', 'not-a-context', 'v'), /^ReplyError: ERR bad context/);
  assert.equal(await redis.exists('k', ''.padEnd(16, 'k')), 0, 'nothing was stored');
});

test('bad input over a raw socket: errors or a protocol error and close; the node keeps serving and nothing changes', async (t) => {
  const { node, port } = await respNode(t);
  const redis = client(t, port);
  await redis.set('canary', 'alive');

  const unknown = await raw(t, port);
  unknown.send('NOSUCH a b\r\n*2\r\n$3\r\nGET\r\n$6\r\ncanary\r\n*1\r\n$3\r\nGET\r\n');
  const replies = await unknown.replies(3);
  assert.equal((replies[0] as RespError).text, "ERR unknown command 'NOSUCH', with args beginning with: 'a' 'b' ");
  assert.deepEqual(replies[1], Buffer.from('alive'));
  assert.equal((replies[2] as RespError).text, "ERR wrong number of arguments for 'get' command");
  assert.equal(unknown.isClosed, false, 'command errors keep the connection');

  const inlineDollar = await raw(t, port);
  inlineDollar.send('$999999999999\r\n');
  assert.match(((await inlineDollar.replies(1))[0] as RespError).text, /^ERR unknown command '\$999999999999'/);

  const protocolCases: readonly [string, Buffer | string, RegExp][] = [
    ['an oversized bulk length', '*2\r\n$3\r\nSET\r\n$999999999999\r\n', /^ERR Protocol error: invalid bulk length$/],
    ['a negative bulk length', '*3\r\n$3\r\nSET\r\n$-3\r\n', /^ERR Protocol error: invalid bulk length$/],
    ['a garbage bulk length', '*3\r\n$3\r\nSET\r\n$1x\r\n', /^ERR Protocol error: invalid bulk length$/],
    ['a garbage array length', '*abc\r\n', /^ERR Protocol error: invalid multibulk length$/],
    ['too many elements', '*99999999\r\n', /^ERR Protocol error: invalid multibulk length$/],
    ['a missing $', '*3\r\n:3\r\n', /^ERR Protocol error: expected '\$', got ':'$/],
    ['an unterminated inline command past the limit', 'SET canary '.padEnd(70_000, 'x'), /^ERR Protocol error: too big inline request$/],
    ['unbalanced quotes', 'SET canary "dead\r\n', /^ERR Protocol error: unbalanced quotes in request$/],
    ['binary garbage', Buffer.from([0x2a, 0x32, 0x0d, 0x0a, 0x24, 0xff, 0x00, 0x0d, 0x0a, 0xde, 0xad]), /^ERR Protocol error: invalid bulk length$/],
  ];
  for (const [name, input, expected] of protocolCases) {
    const socket = await raw(t, port);
    socket.send(input);
    const answered = await socket.closed();
    assert.equal(answered.length, 1, `${name}: one reply, then the server closes`);
    assert.match((answered[0] as RespError).text, expected, name);
  }

  const garbage = await raw(t, port);
  garbage.send(Buffer.from(Array.from({ length: 4096 }, (_, index) => (index * 7919) % 256)));
  garbage.send('\r\nPING\r\n');
  await assert.doesNotReject(Promise.race([garbage.closed(), garbage.replies(1)]), 'binary garbage gets replies or a close, never a hang');

  assert.equal(await redis.get('canary'), 'alive', 'nothing stored changed');
  assert.equal(await redis.ping(), 'PONG', 'other connections are served throughout');
  const metrics = (await request(node, 'GET', '/metrics')).body.toString();
  const protocolErrors = Number(/shoal_resp_protocol_errors_total\{node="node1"\} (\d+)/.exec(metrics)?.[1]);
  assert.ok(protocolErrors >= protocolCases.length, `protocol errors counted: ${protocolErrors}`);
  assert.match(metrics, /shoal_resp_commands_total\{command="unknown",node="node1"\} [1-9]/);
  assert.match(metrics, /shoal_resp_connections\{node="node1"\} [1-9]/);
});

test('QUIT answers OK and closes; later commands in the pipeline are not run', async (t) => {
  const { port } = await respNode(t);
  const socket = await raw(t, port);
  socket.send(Buffer.concat([encodeCommand(['PING']), encodeCommand(['QUIT']), encodeCommand(['SET', 'after-quit', 'x'])]));
  assert.deepEqual(await socket.closed(), ['PONG', 'OK']);
  const redis = client(t, port);
  assert.equal(await redis.get('after-quit'), null);
});

test('a client that half-closes its side still gets the replies to what it sent', async (t) => {
  const { port } = await respNode(t);
  const socket = await raw(t, port);
  socket.socket.end(Buffer.concat([encodeCommand(['SET', 'half', 'closed']), encodeCommand(['GET', 'half'])]));
  assert.deepEqual(await socket.closed(), ['OK', Buffer.from('closed')]);
});

test('stopping the node closes its Redis connections and the port', async (t) => {
  const node = await startTestNode({ resp: '127.0.0.1:0' });
  t.after(() => node.stop());
  const port = node.runtime.resp?.port ?? 0;
  const socket = await raw(t, port);
  socket.send(encodeCommand(['SET', 'before-stop', 'kept']));
  assert.deepEqual(await socket.replies(1), ['OK']);
  await node.stop();
  assert.ok(socket.isClosed || (await socket.closed()).length === 1, 'the connection was closed by the server');
  await assert.rejects(
    new Promise((resolve, reject) => {
      const probe = connect({ host: '127.0.0.1', port }, () => resolve(probe.destroy()));
      probe.once('error', reject);
    }),
    /ECONNREFUSED/,
  );
});

function listening(): Promise<Server> {
  return new Promise((resolve) => {
    const server = createServer();
    server.listen({ host: '127.0.0.1', port: 0 }, () => resolve(server));
  });
}

test('a RESP address already in use fails the start and releases the HTTP port', async (t) => {
  const taken = await listening();
  t.after(() => taken.close());
  const free = await listening();
  const httpPort = (free.address() as AddressInfo).port;
  await new Promise((resolve) => free.close(resolve));
  const respPort = (taken.address() as AddressInfo).port;
  await assert.rejects(startTestNode({ resp: `127.0.0.1:${respPort}`, http: `127.0.0.1:${httpPort}` }), /EADDRINUSE/);
  const again = await startTestNode({ http: `127.0.0.1:${httpPort}` });
  await again.stop();
});

test('shoal start --resp binds exactly that address, logs it, and a SIGTERM keeps what SET wrote', { timeout: 120_000 }, async (t) => {
  const data = mkdtempSync(join(tmpdir(), 'shoal-resp-'));
  t.after(() => rmSync(data, { recursive: true, force: true }));
  const [httpPort, respPort] = [await freePort(), await freePort()];
  // The buffer would not flush for ten minutes: only the shutdown flush, after the RESP server closed, keeps the write.
  const args = ['start', '--http', `127.0.0.1:${httpPort}`, '--resp', `127.0.0.1:${respPort}`, '--data', data, '--durable-writes', 'none', '--flush-interval-ms', '600000'];
  const first = runShoal(args);
  t.after(() => first.cleanup());
  await first.waitServing();
  assert.equal(first.logLines().find((line) => line.msg === 'serving')?.resp, `127.0.0.1:${respPort}`);
  const redis = client(t, respPort);
  assert.equal(await redis.set('durable', 'after SIGTERM'), 'OK');
  redis.disconnect();
  first.child.kill('SIGTERM');
  assert.deepEqual(await first.waitExit(), { code: 0, signal: null });

  const second = runShoal(args);
  t.after(() => second.cleanup());
  await second.waitServing();
  const again = client(t, respPort);
  assert.equal(await again.get('durable'), 'after SIGTERM');
  again.disconnect();
  second.child.kill('SIGTERM');
  assert.deepEqual(await second.waitExit(), { code: 0, signal: null });
});

test('the read cache shows its hits, misses and size in INFO, /metrics and /admin/status', async (t) => {
  const { node, port } = await respNode(t, { flushIntervalMs: 5, cacheObjectsMax: 100, cacheBytesMax: 1_000_000 });
  const redis = client(t, port);
  await redis.set('hot', 'value');
  // Once flushed, the key is only on disk: the first GET misses and is cached, the next ones hit.
  const status = async (): Promise<NodeStatus> => (await request(node, 'GET', '/admin/status')).json() as unknown as NodeStatus;
  for (let tries = 0; (await status()).buffer.bufferedObjects > 0; tries++) {
    assert.ok(tries < 200, 'the buffer flushes');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  for (let i = 0; i < 3; i++) assert.equal(await redis.get('hot'), 'value');
  const info = await redis.info('shoal');
  assert.deepEqual(
    ['policy', 'objects', 'hits', 'misses', 'admitted', 'objects_max', 'bytes_max'].map((field) => infoField(info, `shoal_cache_${field}`)),
    ['tinylfu', '1', '2', '2', '1', '100', '1000000'],
    'misses: the SET looking for a current version, then the first GET (the second request the sketch counts, so the key is admitted); two hits',
  );
  const { cache } = await status();
  assert.deepEqual({ hits: cache.hits, misses: cache.misses, objects: cache.objects }, { hits: 2, misses: 2, objects: 1 });
  assert.ok(cache.bytes > 0 && cache.bytes <= cache.bytesMax);
  const metrics = (await request(node, 'GET', '/metrics')).body.toString();
  assert.match(metrics, /shoal_cache_requests_total\{result="hit",node="node1"\} 2/);
  assert.match(metrics, /shoal_cache_requests_total\{result="miss",node="node1"\} 2/);
  assert.match(metrics, /shoal_cache_objects\{node="node1"\} 1/);
  assert.match(metrics, /shoal_cache_bytes_max\{node="node1"\} 1000000/);
});
