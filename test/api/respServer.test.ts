/**
 * The Redis front end's server and connections over a fake node: the connection bound,
 * pipelines past the in-flight bound, commands run one at a time per connection, large
 * replies under backpressure, and a close that lets in-flight commands finish.
 */
import { ObjectCache } from '../../src/core/cache/objectCache.ts';
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { respLimitsOf, startRespServer, type RespServer } from '../../src/api/resp/server.ts';
import type { RespNode, RespNodeStatus } from '../../src/api/resp/types.ts';
import type { ListInput, PutInput, ReadResult, WriteResult } from '../../src/node/shoalNode.ts';
import type { ListingPage } from '../../src/core/listing.ts';
import { silentLogger, type Logger } from '../../src/ports/logger.ts';
import { encodeCommand, RawClient, type RespError } from './respSupport.ts';

/** A node whose reads answer the key as the value, each when `release` lets it (or at once). */
class GatedNode implements RespNode {
  inFlight = 0;
  inFlightMax = 0;
  gets = 0;
  value: Buffer | undefined;
  private gate: Promise<void> | undefined;
  private openGate: (() => void) | undefined;
  private started: (() => void) | undefined;

  /** Holds every read until release(); resolves once a read is waiting. */
  hold(): Promise<void> {
    this.gate = new Promise((resolve) => (this.openGate = resolve));
    return new Promise((resolve) => (this.started = resolve));
  }

  release(): void {
    this.openGate?.();
    this.gate = undefined;
  }

  async get(key: Uint8Array): Promise<ReadResult> {
    this.gets += 1;
    this.inFlight += 1;
    this.inFlightMax = Math.max(this.inFlightMax, this.inFlight);
    this.started?.();
    await (this.gate ?? new Promise((resolve) => setImmediate(resolve)));
    this.inFlight -= 1;
    const value = this.value ?? Buffer.from(key);
    return { object: { vector: [], siblings: [{ value, contentType: 'x', deleted: false, dot: { actor: 'a', counter: 1 }, timeMs: 1 }] }, context: 'c' };
  }

  put(_key: Uint8Array, _input: PutInput): Promise<WriteResult> {
    return Promise.reject(new Error('not used'));
  }

  delete(): Promise<WriteResult> {
    return Promise.reject(new Error('not used'));
  }

  list(_input: ListInput): Promise<ListingPage> {
    return Promise.reject(new Error('not used'));
  }

  status(): RespNodeStatus {
    return { nodeId: 'n', clusterName: 'c', state: 'serving', actor: 'n.1', uptimeMs: 0, cluster: { members: ['n'], memberStatus: 'valid', ringVersion: 1, n: 1, r: 1, w: 1 }, cache: new ObjectCache({ policy: 'lru', objectsMax: 0, bytesMax: 0 }).stats() };
  }
}

async function serve(t: TestContext, node: RespNode, limits: Partial<ReturnType<typeof respLimitsOf>> = {}, logger: Logger = silentLogger): Promise<RespServer> {
  const server = await startRespServer({ node, listen: { host: '127.0.0.1', port: 0 }, limits: { ...respLimitsOf(4 * 1024 * 1024, 0, undefined), ...limits }, logger });
  t.after(() => server.close());
  return server;
}

async function raw(t: TestContext, port: number): Promise<RawClient> {
  const opened = await RawClient.open(port);
  t.after(() => opened.close());
  return opened;
}

test('past connectionsMax a new connection is told so, closed and logged; room frees when one closes', async (t) => {
  const warnings: string[] = [];
  const logger: Logger = { ...silentLogger, warn: (fields, message) => warnings.push(`${message} ${JSON.stringify(fields)}`) };
  const server = await serve(t, new GatedNode(), { connectionsMax: 2 }, logger);
  const first = await raw(t, server.port);
  const second = await raw(t, server.port);
  first.send('PING\r\n');
  second.send('PING\r\n');
  assert.deepEqual(await first.replies(1), ['PONG']);
  assert.deepEqual(await second.replies(1), ['PONG']);
  const refused = await raw(t, server.port);
  const answered = await refused.closed();
  assert.equal((answered[0] as RespError).text, 'ERR max number of clients reached');
  assert.equal(server.stats.connectionsRejected, 1);
  assert.equal(warnings.length, 1);
  assert.match(warnings[0] as string, /^refused redis connections: connectionsMax are open .*"connectionsMax":2,"refused":1,"from":"127\.0\.0\.1"/);
  first.close();
  await first.closed();
  while (server.stats.connectionsOpen > 1) await new Promise((resolve) => setImmediate(resolve));
  const third = await raw(t, server.port);
  third.send('PING\r\n');
  assert.deepEqual(await third.replies(1), ['PONG']);
});

test('a connection idle for idleMsMax is closed; Redis connections get at most half the open-file limit', async (t) => {
  const server = await serve(t, new GatedNode(), { idleMsMax: 150 });
  const client = await raw(t, server.port);
  client.send('PING\r\n');
  assert.deepEqual(await client.replies(1), ['PONG']);
  const giveUp = new Promise<false>((resolve) => setTimeout(() => resolve(false), 10_000).unref());
  assert.equal(await Promise.race([client.closed().then(() => true), giveUp]), true, 'the server closed it (about 150 ms later)');
  assert.equal(server.stats.connectionsIdleClosed, 1);
  assert.equal(respLimitsOf(1024, 0, 1024).connectionsMax, 512);
  assert.equal(respLimitsOf(1024, 0, 1_000_000).connectionsMax, 10_000);
  assert.equal(respLimitsOf(1024, 0, undefined).connectionsMax, 10_000);
});

test('a pipeline far past pipelineCommandsMax is answered whole and in order, one command at a time', async (t) => {
  const node = new GatedNode();
  const server = await serve(t, node, { pipelineCommandsMax: 4, pipelineBytesMax: 256 });
  const socket = await raw(t, server.port);
  const count = 3000;
  socket.send(Buffer.concat(Array.from({ length: count }, (_, index) => encodeCommand(['GET', `key-${index}`]))));
  const replies = await socket.replies(count, 30_000);
  assert.equal(replies.length, count);
  replies.forEach((reply, index) => assert.deepEqual(reply, Buffer.from(`key-${index}`)));
  assert.equal(node.inFlightMax, 1, 'the commands of one connection run one after the other');
});

test('large replies to a pipeline arrive whole while the socket pushes back', async (t) => {
  const node = new GatedNode();
  node.value = Buffer.alloc(1024 * 1024, 0x5a);
  const server = await serve(t, node);
  const socket = await raw(t, server.port);
  socket.send(Buffer.concat(Array.from({ length: 40 }, () => encodeCommand(['GET', 'big']))));
  const replies = await socket.replies(40, 30_000);
  for (const reply of replies) assert.ok(Buffer.isBuffer(reply) && reply.equals(node.value));
});

test('close() stops accepting, lets the command in flight finish and answer, then closes', async (t) => {
  const node = new GatedNode();
  const server = await serve(t, node);
  const socket = await raw(t, server.port);
  const waiting = node.hold();
  socket.send(encodeCommand(['GET', 'slow']));
  await waiting;
  const closing = server.close();
  const refused = await RawClient.open(server.port).then(
    (late) => late.closed().then(() => 'answered'),
    () => 'refused',
  );
  assert.equal(refused, 'refused', 'no new connection once closing');
  node.release();
  await closing;
  assert.deepEqual(await socket.closed(), [Buffer.from('slow')], 'the in-flight GET was answered before the close');
});
