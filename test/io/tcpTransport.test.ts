import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { Packr } from 'msgpackr';
import { createFrameCodec, decodeBody, encodeHello, FrameDecoder, frameHeader, FrameKind, PROTOCOL_VERSION } from '../../src/io/frameCodec.ts';
import { ANY_RECEIVER, createTcpTransport, HELLO_FRAME_BYTES_MAX, ONE_OFF_CONNECTIONS_MAX, TransportOptionError, UNLINKED_CONNECTIONS_MAX } from '../../src/io/tcpTransport.ts';
import { systemClock } from '../../src/io/systemClock.ts';
import { ManualClock } from '../../src/sim/simClock.ts';
import { testSeed } from '../support/seed.ts';
import { CLUSTER, echo, eventually, Harness, never, sleep, transportError, type Node } from './transportHarness.ts';

/** Every test ends within this, pass or fail: nothing may hang. */
const T = { timeout: 20_000 };
const REQUEST_TIMEOUT_MS = 5_000;

let harness: Harness;
beforeEach(() => {
  harness = new Harness();
});
afterEach(async () => {
  await harness.closeAll();
});

/** xorshift32: the test's own seeded bytes. */
function seededBytes(seed: number, length: number): Uint8Array {
  let x = seed >>> 0 || 1;
  const bytes = new Uint8Array(length);
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    bytes[i] = x & 0xff;
  }
  return bytes;
}

function onlyConnection(node: Node, peerId: string) {
  const peer = node.transport.stats().peers[peerId];
  assert.ok(peer !== undefined, `${node.id} knows ${peerId}`);
  return peer;
}

/** Both sides use the same single socket: one dialled it, the other accepted it. */
function assertOnePairedConnection(a: Node, b: Node): void {
  const ab = onlyConnection(a, b.id).connection;
  const ba = onlyConnection(b, a.id).connection;
  assert.ok(ab !== null && ba !== null, 'both sides have a connection');
  assert.equal(ab.state, 'open');
  assert.equal(ba.state, 'open');
  assert.notEqual(ab.role, ba.role, 'one side dialled, the other accepted');
  assert.equal(ab.localPort, ba.remotePort);
  assert.equal(ab.remotePort, ba.localPort);
}

describe('tcpTransport: request and reply', () => {
  it('round-trips messages with binary payloads byte for byte, both ways over one connection', T, async (t) => {
    const [a, b] = (await harness.cluster(['a', 'b'])) as [Node, Node];
    a.transport.serve(echo);
    b.transport.serve(async (from, message) => ({ from, got: message }));
    const seed = testSeed(t, import.meta.url);
    for (const length of [0, 1, 255, 65_536, 1_048_576 + 17]) {
      const bytes = seededBytes(seed + length, length);
      const reply = (await b.transport.request('a', { kind: 'put', value: bytes, nested: [bytes, { v: bytes }] }, REQUEST_TIMEOUT_MS)) as {
        kind: string;
        value: Uint8Array;
        nested: [Uint8Array, { v: Uint8Array }];
      };
      assert.equal(reply.kind, 'put');
      assert.ok(reply.value instanceof Uint8Array);
      assert.ok(Buffer.from(reply.value).equals(Buffer.from(bytes)), `value of ${length} bytes intact`);
      assert.ok(Buffer.from(reply.nested[1].v).equals(Buffer.from(bytes)));
    }
    const back = (await a.transport.request('b', 'hello', REQUEST_TIMEOUT_MS)) as { from: string; got: string };
    assert.deepEqual(back, { from: 'a', got: 'hello' });
    assertOnePairedConnection(a, b);
    await eventually(() => a.transport.stats().sockets === 1 && b.transport.stats().sockets === 1, 'one socket per side');
  });

  it('answers many concurrent requests over one connection, each with its own reply', T, async () => {
    const [a, b] = (await harness.cluster(['a', 'b'])) as [Node, Node];
    let order = 0;
    // Replies come back out of order: later requests finish first.
    b.transport.serve(async (_from, message) => {
      const n = message as number;
      await sleep((200 - n) % 7);
      return { n, order: order++ };
    });
    const replies = await Promise.all(Array.from({ length: 200 }, (_, n) => a.transport.request('b', n, REQUEST_TIMEOUT_MS)));
    replies.forEach((reply, n) => assert.equal((reply as { n: number }).n, n));
    assert.equal(a.transport.stats().sockets, 1);
    assert.equal(onlyConnection(a, 'b').inflightRequests, 0);
  });

  it('turns a handler rejection or throw into REMOTE_ERROR with the message, never a stack', T, async () => {
    const [a, b] = (await harness.cluster(['a', 'b'])) as [Node, Node];
    b.transport.serve(async (_from, message) => {
      if (message === 'reject') throw new Error('disk on fire');
      if (message === 'string') return Promise.reject('plain string reason');
      if (message === 'unencodable') return Symbol('x');
      return 'ok';
    });
    const rejected = await transportError(a.transport.request('b', 'reject', REQUEST_TIMEOUT_MS));
    assert.equal(rejected.code, 'REMOTE_ERROR');
    assert.equal(rejected.message, 'disk on fire');
    assert.doesNotMatch(rejected.message, /\bat\b.*\.ts/);
    assert.equal((await transportError(a.transport.request('b', 'string', REQUEST_TIMEOUT_MS))).message, 'plain string reason');
    const unencodable = await transportError(a.transport.request('b', 'unencodable', REQUEST_TIMEOUT_MS));
    assert.equal(unencodable.code, 'REMOTE_ERROR');
    assert.match(unencodable.message, /not encodable/);
    assert.equal(await a.transport.request('b', 'fine', REQUEST_TIMEOUT_MS), 'ok', 'the connection survives');
  });

  it('replaces a reply larger than frameBytesMax by an error-reply', T, async () => {
    const [a, b] = (await harness.cluster(['a', 'b'], { frameBytesMax: 64 * 1024 }));
    b!.transport.serve(async () => new Uint8Array(100 * 1024));
    const error = await transportError(a!.transport.request('b', 'big please', REQUEST_TIMEOUT_MS));
    assert.equal(error.code, 'REMOTE_ERROR');
    assert.match(error.message, /exceeds frameBytesMax/);
  });

  it('answers the same with every writeBatching setting', T, async () => {
    for (const writeBatching of ['tick', 'turn', 'off'] as const) {
      const [a, b] = (await harness.cluster([`a-${writeBatching}`, `b-${writeBatching}`], { writeBatching })) as [Node, Node];
      b.transport.serve(echo);
      const replies = await Promise.all(Array.from({ length: 50 }, (_, i) => a.transport.request(b.id, { i, bytes: new Uint8Array([i]) }, REQUEST_TIMEOUT_MS)));
      replies.forEach((reply, i) => assert.equal((reply as { i: number }).i, i));
    }
  });

  it('answers REMOTE_ERROR when the peer has no handler yet', T, async () => {
    const [a] = (await harness.cluster(['a', 'b'])) as [Node, Node];
    const error = await transportError(a.transport.request('b', 'anyone?', REQUEST_TIMEOUT_MS));
    assert.equal(error.code, 'REMOTE_ERROR');
  });

  it('rejects at once what cannot be sent: unknown peer, unencodable or oversized message, bad timeout', T, async () => {
    const [a, b] = (await harness.cluster(['a', 'b'], { frameBytesMax: 1024 })) as [Node, Node];
    b.transport.serve(echo);
    assert.equal((await transportError(a.transport.request('zed', 1, REQUEST_TIMEOUT_MS))).code, 'UNREACHABLE');
    assert.equal((await transportError(a.transport.request('a', 1, REQUEST_TIMEOUT_MS))).code, 'UNREACHABLE', 'self is no peer');
    assert.equal((await transportError(a.transport.request('b', Symbol('s'), REQUEST_TIMEOUT_MS))).code, 'BAD_MESSAGE');
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    assert.equal((await transportError(a.transport.request('b', cyclic, REQUEST_TIMEOUT_MS))).code, 'BAD_MESSAGE');
    assert.equal((await transportError(a.transport.request('b', new Uint8Array(2000), REQUEST_TIMEOUT_MS))).code, 'BAD_MESSAGE');
    await assert.rejects(a.transport.request('b', 1, 0), RangeError);
    await assert.rejects(a.transport.request('b', 1, Number.NaN), RangeError);
    assert.equal(a.transport.stats().sockets, 0, 'nothing was dialled for them');
  });

  it('validates its options when built', T, () => {
    const base = { localId: 'a', clusterName: CLUSTER, listen: { host: '127.0.0.1', port: 0 } };
    assert.throws(() => createTcpTransport({ ...base, frameBytesMax: 0 }), TransportOptionError);
    assert.throws(() => createTcpTransport({ ...base, outboundQueueFramesMax: 1.5 }), TransportOptionError);
    assert.throws(() => createTcpTransport({ ...base, reconnectDelayMsMin: 500, reconnectDelayMsMax: 100 }), TransportOptionError);
    assert.throws(() => createTcpTransport({ ...base, clusterName: '' }), TransportOptionError);
    assert.throws(() => createTcpTransport({ ...base, listen: { host: '127.0.0.1', port: 70_000 } }), TransportOptionError);
    assert.throws(() => createTcpTransport({ ...base, peers: new Map([['b', { host: '127.0.0.1', port: 0 }]]) }), TransportOptionError);
  });
});

describe('tcpTransport: one connection per pair', () => {
  it('keeps exactly one connection when both sides dial at once, and answers every request', T, async () => {
    // Both id orders, several rounds: the race resolves the same way on both sides each time.
    for (const [x, y] of [['a', 'b'], ['d', 'c'], ['e', 'f'], ['h', 'g']] as const) {
      const [p, q] = (await harness.cluster([x, y])) as [Node, Node];
      p.transport.serve(async (from, m) => `${from}->${String(m)}`);
      q.transport.serve(async (from, m) => `${from}->${String(m)}`);
      const requests = [];
      for (let i = 0; i < 20; i++) {
        requests.push(p.transport.request(y, i, REQUEST_TIMEOUT_MS), q.transport.request(x, i, REQUEST_TIMEOUT_MS));
      }
      const replies = await Promise.all(requests);
      assert.equal(p.transport.stats().dials + q.transport.stats().dials, 2, 'both sides dialled: the race did happen');
      replies.forEach((reply, i) => assert.equal(reply, i % 2 === 0 ? `${x}->${i >> 1}` : `${y}->${i >> 1}`));
      await eventually(() => p.transport.stats().sockets === 1 && q.transport.stats().sockets === 1, `one socket each for ${x}/${y}`);
      assertOnePairedConnection(p, q);
      const survivor = onlyConnection(x < y ? p : q, x < y ? y : x).connection;
      assert.equal(survivor?.role, 'dialled', 'the smaller id dialled the surviving connection');
      assert.equal(await p.transport.request(y, 'again', REQUEST_TIMEOUT_MS), `${x}->again`);
    }
  });

  it('settles three nodes dialling each other at once on three connections', T, async () => {
    const nodes = await harness.cluster(['n1', 'n2', 'n3']);
    for (const n of nodes) n.transport.serve(echo);
    const requests = nodes.flatMap((from) => nodes.filter((to) => to !== from).map((to) => from.transport.request(to.id, `${from.id}:${to.id}`, REQUEST_TIMEOUT_MS)));
    assert.deepEqual((await Promise.all(requests)).sort(), ['n1:n2', 'n1:n3', 'n2:n1', 'n2:n3', 'n3:n1', 'n3:n2']);
    await eventually(() => nodes.every((n) => n.transport.stats().sockets === 2), 'two sockets per node');
    const [n1, n2, n3] = nodes as [Node, Node, Node];
    assertOnePairedConnection(n1, n2);
    assertOnePairedConnection(n1, n3);
    assertOnePairedConnection(n2, n3);
  });
});

/** A hand-made peer dialling `node`: sends its hello, records the kinds of frames it gets back. */
async function fakeDial(node: Node, senderId: string, incarnation: number, dialSeq: number, receiverId = node.id) {
  const codec = createFrameCodec();
  const socket = harness.track(connect(node.address.port, '127.0.0.1'));
  const kinds: number[] = [];
  const decoder = new FrameDecoder(1 << 20);
  socket.on('data', (chunk: Buffer) => {
    decoder.push(chunk);
    for (let body = decoder.next(); body !== undefined; body = decoder.next()) kinds.push(decodeBody(codec, body).kind);
  });
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
  socket.write(encodeHello(codec, { protocolVersion: PROTOCOL_VERSION, clusterName: CLUSTER, senderId, receiverId, incarnation, dialSeq, role: 'node' }));
  await eventually(() => kinds.length > 0, 'an answer to the hello');
  return { socket, kinds, closed };
}

describe('tcpTransport: stale and replaced connections', () => {
  it('refuses a stale dial, and replaces an open connection when the peer redials or restarts', T, async () => {
    const a = await harness.start('a');
    a.transport.setPeers(new Map([['f', { host: '127.0.0.1', port: 1 }]]));
    const usedPort = () => onlyConnection(a, 'f').connection?.remotePort;
    const first = await fakeDial(a, 'f', 1, 5);
    assert.deepEqual(first.kinds, [FrameKind.hello]);
    assert.equal(usedPort(), first.socket.localPort);
    // Dialled before the peer settled on `first` (same process, dial number not above): a leftover.
    const stale = await fakeDial(a, 'f', 1, 5);
    assert.deepEqual(stale.kinds, [FrameKind.goodbye]);
    await stale.closed;
    assert.equal(usedPort(), first.socket.localPort, 'the open connection stays');
    // Dialled after settling: the peer gave `first` up (a half-open connection, say).
    const redial = await fakeDial(a, 'f', 1, 6);
    assert.deepEqual(redial.kinds, [FrameKind.hello]);
    await first.closed;
    assert.equal(usedPort(), redial.socket.localPort);
    // A restarted peer (new incarnation) may start counting dials from 1 again.
    const reborn = await fakeDial(a, 'f', 2, 1);
    assert.deepEqual(reborn.kinds, [FrameKind.hello]);
    await redial.closed;
    assert.equal(usedPort(), reborn.socket.localPort);
    assert.equal(onlyConnection(a, 'f').state, 'connected');
  });
});

describe('tcpTransport: nodes not among the peers', () => {
  it('serves a node it does not know, then adopts that connection when setPeers adds the node', T, async () => {
    const [a, b] = (await harness.cluster(['a', 'b'])) as [Node, Node];
    const stranger = await harness.start('stranger');
    stranger.transport.setPeers(new Map([['a', a.address]]));
    const seen: string[] = [];
    a.transport.serve(async (from, message) => {
      seen.push(from);
      return message;
    });
    assert.equal(await stranger.transport.request('a', 'let me in', REQUEST_TIMEOUT_MS), 'let me in');
    assert.deepEqual(seen, ['stranger'], 'the handler sees who asked');
    assert.equal(a.transport.stats().peers.stranger, undefined, 'served, not linked');
    assert.equal(a.transport.stats().unlinked, 1);
    assert.equal(await b.transport.request('a', 'member', REQUEST_TIMEOUT_MS), 'member');
    // The node joins a's peers: a reaches it over the connection the node dialled.
    stranger.transport.serve(async (from, message) => `${from}:${String(message)}`);
    a.transport.setPeers(new Map([['b', b.address], ['stranger', stranger.address]]));
    assert.equal(onlyConnection(a, 'stranger').state, 'connected');
    assert.equal(await a.transport.request('stranger', 'welcome', REQUEST_TIMEOUT_MS), 'a:welcome');
    assert.equal(a.transport.stats().dials, 0, 'a dialled nobody');
    assert.equal(stranger.transport.stats().dials, 1);
    assert.equal(a.transport.stats().unlinked, 0);
    assertOnePairedConnection(a, stranger);
    assert.equal(onlyConnection(a, 'stranger').connection?.role, 'accepted');
    assert.equal(await stranger.transport.request('a', 'again', REQUEST_TIMEOUT_MS), 'again');
    await eventually(() => a.transport.stats().sockets === 2, 'a: one socket to b, one to stranger');
  });

  it('dials as usual a node added to its peers whose connection has closed', T, async () => {
    const a = await harness.start('a');
    const stranger = await harness.start('stranger');
    stranger.transport.setPeers(new Map([['a', a.address]]));
    a.transport.serve(echo);
    stranger.transport.serve(echo);
    assert.equal(await stranger.transport.request('a', 1, REQUEST_TIMEOUT_MS), 1);
    stranger.transport.setPeers(new Map()); // drops its connection to a
    await eventually(() => a.transport.stats().unlinked === 0, 'a saw the connection close');
    a.transport.setPeers(new Map([['stranger', stranger.address]]));
    assert.equal(onlyConnection(a, 'stranger').state, 'idle');
    assert.equal(await a.transport.request('stranger', 2, REQUEST_TIMEOUT_MS), 2, 'served by a node that does not know a');
    assert.equal(a.transport.stats().dials, 1);
  });

  it('keeps the latest connection of a node it does not know, and refuses a stale one', T, async () => {
    const a = await harness.start('a');
    a.transport.serve(echo);
    const first = await fakeDial(a, 'f', 1, 5);
    assert.deepEqual(first.kinds, [FrameKind.hello]);
    const stale = await fakeDial(a, 'f', 1, 5);
    assert.deepEqual(stale.kinds, [FrameKind.goodbye]);
    const redial = await fakeDial(a, 'f', 1, 6);
    assert.deepEqual(redial.kinds, [FrameKind.hello]);
    await first.closed;
    assert.equal(a.transport.stats().unlinked, 1);
  });

  it('refuses connections from unknown nodes past UNLINKED_CONNECTIONS_MAX', T, async () => {
    const a = await harness.start('a');
    for (let i = 0; i < UNLINKED_CONNECTIONS_MAX; i++) {
      const dial = await fakeDial(a, `n${i}`, 1, 1, i % 2 === 0 ? a.id : ANY_RECEIVER);
      assert.deepEqual(dial.kinds, [FrameKind.hello]);
    }
    assert.equal(a.transport.stats().unlinked, UNLINKED_CONNECTIONS_MAX);
    const refused = await fakeDial(a, 'one-too-many', 1, 1);
    assert.deepEqual(refused.kinds, [FrameKind.goodbye]);
    assert.ok(a.logger.warnings().some((l) => /UNLINKED_CONNECTIONS_MAX/.test(String(l.fields.reason))));
    // A known peer still gets in.
    const b = await harness.start('b');
    harness.introduce([a, b]);
    a.transport.serve(echo);
    assert.equal(await b.transport.request('a', 'member', REQUEST_TIMEOUT_MS), 'member');
  });
});

describe('tcpTransport: requestAt', () => {
  it('returns the answering node\'s id and reply over a one-off connection, then closes it', T, async () => {
    const a = await harness.start('a');
    const b = await harness.start('b');
    b.transport.serve(async (from, message) => ({ from, got: message }));
    const answer = await a.transport.requestAt(b.address, { join: 'a', bytes: new Uint8Array([1, 2, 3]) }, REQUEST_TIMEOUT_MS);
    assert.equal(answer.from, 'b');
    const reply = answer.reply as { from: string; got: { join: string; bytes: Uint8Array } };
    assert.equal(reply.from, 'a', 'the handler sees the sender');
    assert.equal(reply.got.join, 'a');
    assert.deepEqual([...reply.got.bytes], [1, 2, 3]);
    const stats = a.transport.stats();
    assert.deepEqual(stats.peers, {}, 'no peer link');
    assert.equal(stats.dials, 0, 'not counted as a peer dial');
    assert.equal(stats.oneOffs, 0);
    await eventually(() => a.transport.stats().sockets === 0 && b.transport.stats().sockets === 0, 'the one-off connection closed on both sides');
    assert.equal(b.transport.stats().unlinked, 0);
    assert.deepEqual(a.logger.warnings(), []);
    assert.deepEqual(b.logger.warnings(), []);
  });

  it('leaves the peer links alone: the acceptor never uses a one-off connection for its own requests', T, async () => {
    const [a, b] = (await harness.cluster(['a', 'b'])) as [Node, Node];
    a.transport.serve(echo);
    let release: () => void = () => undefined;
    const held = new Promise<void>((resolve) => (release = resolve));
    b.transport.serve(async (_from, message) => {
      if (message === 'hold') await held;
      return message;
    });
    const pending = a.transport.requestAt(b.address, 'hold', REQUEST_TIMEOUT_MS);
    await eventually(() => b.transport.stats().unlinked === 1, 'b accepted the one-off connection');
    assert.equal(onlyConnection(b, 'a').state, 'idle');
    assert.equal(await b.transport.request('a', 'own link', REQUEST_TIMEOUT_MS), 'own link');
    assert.equal(b.transport.stats().dials, 1, 'b dialled its own connection to a');
    release();
    assert.deepEqual(await pending, { from: 'b', reply: 'hold' });
    assert.equal(onlyConnection(a, 'b').connection?.role, 'accepted', 'a\'s link is the connection b dialled');
  });

  it('rejects UNREACHABLE naming both clusters when the node is of another cluster', T, async () => {
    const a = await harness.start('a');
    const b = await harness.start('b', { clusterName: 'other-cluster' });
    b.transport.serve(echo);
    const error = await transportError(a.transport.requestAt(b.address, 'hi', REQUEST_TIMEOUT_MS));
    assert.equal(error.code, 'UNREACHABLE');
    assert.match(error.message, /peer is in cluster "test-cluster", this node in "other-cluster"/);
    assert.equal(a.transport.stats().oneOffs, 0);
    assert.ok(b.logger.warnings().some((l) => /handshake refused/.test(l.message)), 'the refusing side warns');
  });

  it('rejects UNREACHABLE when nothing listens at the address', T, async () => {
    const gone = await harness.start('gone');
    await gone.transport.close();
    const a = await harness.start('a');
    const error = await transportError(a.transport.requestAt(gone.address, 'hi', REQUEST_TIMEOUT_MS));
    assert.equal(error.code, 'UNREACHABLE');
    assert.match(error.message, new RegExp(`127\\.0\\.0\\.1:${gone.address.port} unreachable`));
    assert.equal(a.transport.stats().oneOffs, 0);
  });

  it('times out through the Clock port when the listener never answers, and leaves no timer behind', T, async () => {
    const clock = new ManualClock();
    const silent = await harness.rawServer(() => undefined);
    const a = await harness.start('a', { clock });
    const pending = transportError(a.transport.requestAt(silent, 'hello?', 1000));
    await clock.advance(1000);
    const error = await pending;
    assert.equal(error.code, 'TIMEOUT');
    assert.match(error.message, /timed out after 1000 ms/);
    assert.equal(clock.pendingTimers, 0);
    assert.equal(a.transport.stats().oneOffs, 0);
  });

  it('passes on a handler failure as REMOTE_ERROR', T, async () => {
    const a = await harness.start('a');
    const b = await harness.start('b');
    b.transport.serve(async () => {
      throw new Error('not joining today');
    });
    const error = await transportError(a.transport.requestAt(b.address, 'join', REQUEST_TIMEOUT_MS));
    assert.equal(error.code, 'REMOTE_ERROR');
    assert.equal(error.message, 'not joining today');
  });

  it('rejects at once what cannot be sent: bad address, unencodable or oversized message, bad timeout, closed', T, async () => {
    const a = await harness.start('a', { frameBytesMax: 1024 });
    const b = await harness.start('b');
    assert.equal((await transportError(a.transport.requestAt({ host: '127.0.0.1', port: 0 }, 1, REQUEST_TIMEOUT_MS))).code, 'UNREACHABLE');
    assert.equal((await transportError(a.transport.requestAt(b.address, Symbol('s'), REQUEST_TIMEOUT_MS))).code, 'BAD_MESSAGE');
    assert.equal((await transportError(a.transport.requestAt(b.address, new Uint8Array(2000), REQUEST_TIMEOUT_MS))).code, 'BAD_MESSAGE');
    await assert.rejects(a.transport.requestAt(b.address, 1, 0), RangeError);
    assert.equal(a.transport.stats().sockets, 0, 'nothing was dialled for them');
    await a.transport.close();
    assert.equal((await transportError(a.transport.requestAt(b.address, 1, REQUEST_TIMEOUT_MS))).code, 'CLOSED');
  });

  it('fails fast with OVERLOADED past ONE_OFF_CONNECTIONS_MAX, and close() rejects the rest with CLOSED', T, async () => {
    const silent = await harness.rawServer(() => undefined);
    const a = await harness.start('a');
    const hanging = Array.from({ length: ONE_OFF_CONNECTIONS_MAX }, (_, i) => transportError(a.transport.requestAt(silent, i, REQUEST_TIMEOUT_MS)));
    const error = await transportError(a.transport.requestAt(silent, 'one too many', REQUEST_TIMEOUT_MS));
    assert.equal(error.code, 'OVERLOADED');
    assert.match(error.message, /ONE_OFF_CONNECTIONS_MAX/);
    assert.equal(a.transport.stats().oneOffs, ONE_OFF_CONNECTIONS_MAX);
    await a.transport.close();
    for (const failed of await Promise.all(hanging)) assert.equal(failed.code, 'CLOSED');
    assert.equal(a.transport.stats().sockets, 0);
  });

  it('serves many one-off requests at once and keeps within the bound', T, async () => {
    const [a, b] = (await harness.cluster(['a', 'b'])) as [Node, Node];
    b.transport.serve(echo);
    const replies = await Promise.all(Array.from({ length: ONE_OFF_CONNECTIONS_MAX }, (_, i) => a.transport.requestAt(b.address, i, REQUEST_TIMEOUT_MS)));
    replies.forEach((answer, i) => assert.deepEqual(answer, { from: 'b', reply: i }));
    await eventually(() => b.transport.stats().sockets === 0, 'every one-off connection closed');
  });
});

describe('tcpTransport: handshake', () => {
  it('refuses a peer of another cluster, and the request says why', T, async () => {
    const a = await harness.start('a');
    const b = await harness.start('b', { clusterName: 'other-cluster' });
    harness.introduce([a, b]);
    b.transport.serve(echo);
    const error = await transportError(a.transport.request('b', 'hi', REQUEST_TIMEOUT_MS));
    assert.equal(error.code, 'UNREACHABLE');
    assert.match(error.message, /cluster/);
    assert.ok(b.logger.warnings().some((l) => /handshake refused/.test(l.message)), 'the refusing side warns');
    assert.ok(a.logger.warnings().some((l) => /refused/.test(l.message)), 'the refused side warns');
  });

  it('refuses when the node at the address is not the expected one', T, async () => {
    const a = await harness.start('a');
    const c = await harness.start('c');
    c.transport.serve(echo);
    // a believes "b" lives at c's address; c knows a.
    a.transport.setPeers(new Map([['b', c.address]]));
    c.transport.setPeers(new Map([['a', a.address]]));
    const error = await transportError(a.transport.request('b', 'hi', REQUEST_TIMEOUT_MS));
    assert.equal(error.code, 'UNREACHABLE');
    assert.match(error.message, /expected node "b"/);
    assert.equal(onlyConnection(a, 'b').state, 'backoff');
  });

  it('refuses a connection from itself (or from a node with the same id)', T, async () => {
    const a = await harness.start('a');
    a.transport.serve(echo);
    a.transport.setPeers(new Map([['x', a.address]]));
    const viaLink = await transportError(a.transport.request('x', 'hi', REQUEST_TIMEOUT_MS));
    assert.equal(viaLink.code, 'UNREACHABLE');
    assert.match(viaLink.message, /own id "a"/);
    const viaAddress = await transportError(a.transport.requestAt(a.address, 'hi', REQUEST_TIMEOUT_MS));
    assert.equal(viaAddress.code, 'UNREACHABLE');
    assert.match(viaAddress.message, /own id "a"/);
  });

  it('closes an inbound connection that never says hello, on the handshake timeout', T, async () => {
    const a = await harness.start('a', { handshakeTimeoutMs: 50 });
    const socket = harness.track(connect(a.address.port, '127.0.0.1'));
    await new Promise<void>((resolve) => socket.once('close', () => resolve()));
    assert.ok(a.logger.warnings().some((l) => l.fields.reason === 'handshake timed out'));
  });

  it('fails a dial whose peer accepts TCP but never answers the hello', T, async () => {
    const silent = await harness.rawServer(() => undefined);
    const a = await harness.start('a', { handshakeTimeoutMs: 50 });
    a.transport.setPeers(new Map([['mute', silent]]));
    const error = await transportError(a.transport.request('mute', 'hello?', REQUEST_TIMEOUT_MS));
    assert.equal(error.code, 'UNREACHABLE');
    assert.match(error.message, /handshake timed out/);
  });
});

describe('tcpTransport: timeouts and failures', () => {
  it('times a request out through the Clock port and leaves no timer behind', T, async () => {
    const clock = new ManualClock();
    const [a, b] = (await harness.cluster(['a', 'b'], { clock })) as [Node, Node];
    let calls = 0;
    let release: (value: unknown) => void = () => undefined;
    b.transport.serve(async (_from, message) => {
      calls++;
      return message === 'slow' ? new Promise((resolve) => (release = resolve)) : message;
    });
    assert.equal(await a.transport.request('b', 'warm-up', 1000), 'warm-up');
    assert.equal(clock.pendingTimers, 0, 'no timer outlives a settled request or an open handshake');
    const slow = transportError(a.transport.request('b', 'slow', 1000));
    await eventually(() => calls === 2, 'the handler runs');
    assert.equal(clock.pendingTimers, 1);
    await clock.advance(1000);
    const error = await slow;
    assert.equal(error.code, 'TIMEOUT');
    assert.equal(clock.pendingTimers, 0, 'the timed-out request left no timer');
    assert.equal(onlyConnection(a, 'b').inflightRequests, 0);
    // The late reply finds no request: dropped quietly, the connection stays.
    release('too late');
    await eventually(() => a.logger.lines.some((l) => /unknown or expired/.test(l.message)), 'late reply dropped');
    assert.equal(await a.transport.request('b', 'after', 1000), 'after');
    assert.equal(clock.pendingTimers, 0);
  });

  it('rejects a pending request promptly when the peer goes away mid-request', T, async () => {
    const [a, b] = (await harness.cluster(['a', 'b'])) as [Node, Node];
    let started = false;
    b.transport.serve(async () => {
      started = true;
      return never();
    });
    const pending = transportError(a.transport.request('b', 'work', REQUEST_TIMEOUT_MS));
    await eventually(() => started, 'the handler started');
    await b.transport.close();
    const error = await pending;
    assert.ok(error.code === 'UNREACHABLE' || error.code === 'CLOSED', `got ${error.code}`);
    assert.equal(error.mayHaveArrived, true, 'b had the request: it may have acted on it');
    // And the caller's failure detector hears about it at once from then on.
    const next = await transportError(a.transport.request('b', 'again', REQUEST_TIMEOUT_MS));
    assert.equal(next.code, 'UNREACHABLE');
    assert.equal(next.mayHaveArrived, false, 'never sent: b is gone');
  });

  it('a request pending when its peer is removed from the membership may have arrived', T, async () => {
    const [a, b] = (await harness.cluster(['a', 'b'])) as [Node, Node];
    let started = false;
    b.transport.serve(async () => {
      started = true;
      return never();
    });
    const pending = transportError(a.transport.request('b', 'work', REQUEST_TIMEOUT_MS));
    await eventually(() => started, 'the handler started');
    a.transport.setPeers(new Map());
    const error = await pending;
    assert.equal(error.code, 'UNREACHABLE');
    assert.equal(error.mayHaveArrived, true);
  });

  it('fails requests at once during the reconnect backoff', T, async () => {
    const gone = await harness.rawServer((socket) => socket.destroy());
    const a = await harness.start('a', { reconnectDelayMsMin: 60_000, reconnectDelayMsMax: 60_000 });
    a.transport.setPeers(new Map([['b', gone]]));
    const first = await transportError(a.transport.request('b', 1, REQUEST_TIMEOUT_MS));
    assert.equal(first.code, 'UNREACHABLE');
    assert.equal(first.mayHaveArrived, false, 'it waited for a connection that never opened');
    const second = await transportError(a.transport.request('b', 2, REQUEST_TIMEOUT_MS));
    assert.equal(second.code, 'UNREACHABLE');
    assert.equal(second.mayHaveArrived, false);
    assert.match(second.message, /next attempt in \d+ ms/);
    assert.equal(onlyConnection(a, 'b').state, 'backoff');
    assert.equal(onlyConnection(a, 'b').failures, 1, 'no redial during the backoff');
  });

  it('lets a probe dial through the backoff, so a peer that is back is found at once (issue 15: 2 s of 503s after a heal)', T, async () => {
    const [a, b] = (await harness.cluster(['a', 'b'], { reconnectDelayMsMin: 60_000, reconnectDelayMsMax: 60_000 })) as [Node, Node];
    b.transport.serve(async () => 'first life');
    assert.equal(await a.transport.request('b', 'x', REQUEST_TIMEOUT_MS), 'first life');
    await b.transport.close();
    harness.nodes.delete('b');
    await eventually(() => onlyConnection(a, 'b').state === 'backoff', 'a notices b is gone');
    const reborn = await harness.start('b', {}, b.address.port);
    reborn.transport.serve(async () => 'second life');
    const ordinary = await transportError(a.transport.request('b', 'x', REQUEST_TIMEOUT_MS));
    assert.match(ordinary.message, /next attempt in \d+ ms/, 'an ordinary request still waits out the backoff');
    assert.equal(await a.transport.request('b', 'ping', REQUEST_TIMEOUT_MS, { probe: true }), 'second life');
    assert.equal(onlyConnection(a, 'b').state, 'connected');
    assert.equal(await a.transport.request('b', 'x', REQUEST_TIMEOUT_MS), 'second life', 'and everything else follows over its connection');
  });

  it('lets a probe redial a connection that has been silent with requests waiting (a partition leaves TCP established; issue 15)', T, async () => {
    const [a, b] = (await harness.cluster(['a', 'b'], { silentConnectionMsMax: 100 })) as [Node, Node];
    b.transport.serve(async (_from, message) => (message === 'ping' ? 'pong' : new Promise(() => {})));
    assert.equal(await a.transport.request('b', 'ping', REQUEST_TIMEOUT_MS), 'pong');
    const hanging = transportError(a.transport.request('b', 'never answered', REQUEST_TIMEOUT_MS));
    assert.equal(await a.transport.request('b', 'ping', REQUEST_TIMEOUT_MS, { probe: true }), 'pong', 'an answer: not silent, nothing redialled');
    await sleep(150);
    assert.equal(await a.transport.request('b', 'ping', REQUEST_TIMEOUT_MS, { probe: true }), 'pong');
    const failed = await hanging;
    assert.equal(failed.code, 'UNREACHABLE');
    assert.match(failed.message, /silent for \d+ ms with requests waiting; redialling/);
    assert.equal(onlyConnection(a, 'b').state, 'connected', 'the probe dialled a fresh connection');
  });

  it('reconnects after the peer restarts on the same port', T, async () => {
    const [a, b] = (await harness.cluster(['a', 'b'])) as [Node, Node];
    b.transport.serve(async () => 'first life');
    assert.equal(await a.transport.request('b', 'x', REQUEST_TIMEOUT_MS), 'first life');
    await b.transport.close();
    harness.nodes.delete('b');
    const reborn = await harness.start('b', {}, b.address.port);
    reborn.transport.setPeers(new Map([['a', a.address]]));
    reborn.transport.serve(async () => 'second life');
    let reply: unknown;
    const failures: string[] = [];
    for (let attempt = 0; attempt < 200 && reply === undefined; attempt++) {
      try {
        reply = await a.transport.request('b', 'x', REQUEST_TIMEOUT_MS);
      } catch (error) {
        failures.push((error as { code: string }).code);
        await sleep(10);
      }
    }
    assert.equal(reply, 'second life');
    assert.ok(failures.every((code) => code === 'UNREACHABLE'), `only UNREACHABLE while reconnecting, got ${failures.join(',')}`);
    assert.equal(onlyConnection(a, 'b').failures, 0, 'the backoff resets once connected');
    // The restarted node can also reach back over the same connection.
    a.transport.serve(echo);
    assert.equal(await reborn.transport.request('a', 'back', REQUEST_TIMEOUT_MS), 'back');
    assertOnePairedConnection(a, reborn);
  });

  it('close() rejects in-flight and waiting requests with CLOSED, and later ones too', T, async () => {
    const silent = await harness.rawServer(() => undefined);
    const [a, b] = (await harness.cluster(['a', 'b'])) as [Node, Node];
    a.transport.setPeers(new Map([['b', b.address], ['mute', silent]]));
    let started = false;
    b.transport.serve(async () => {
      started = true;
      return never();
    });
    const inFlight = transportError(a.transport.request('b', 'work', REQUEST_TIMEOUT_MS));
    const waiting = transportError(a.transport.request('mute', 'hello?', REQUEST_TIMEOUT_MS));
    await eventually(() => started, 'the handler started');
    await a.transport.close();
    assert.equal((await inFlight).code, 'CLOSED');
    assert.equal((await waiting).code, 'CLOSED');
    assert.equal((await transportError(a.transport.request('b', 'late', REQUEST_TIMEOUT_MS))).code, 'CLOSED');
    assert.equal(a.transport.stats().sockets, 0);
    await a.transport.close(); // idempotent
  });
});

describe('tcpTransport: limits', () => {
  it('fails fast with OVERLOADED past the outbound queue while connecting', T, async () => {
    const silent = await harness.rawServer(() => undefined);
    const a = await harness.start('a', { outboundQueueFramesMax: 4 });
    a.transport.setPeers(new Map([['mute', silent]]));
    const queued = Array.from({ length: 4 }, (_, i) => a.transport.request('mute', i, REQUEST_TIMEOUT_MS).catch((e: unknown) => e));
    const error = await transportError(a.transport.request('mute', 'one too many', REQUEST_TIMEOUT_MS));
    assert.equal(error.code, 'OVERLOADED');
    assert.match(error.message, /outboundQueueFramesMax/);
    assert.equal(onlyConnection(a, 'mute').waitingRequests, 4);
    await a.transport.close();
    await Promise.all(queued);
  });

  it('fails fast with OVERLOADED past inflightRequestsMax', T, async () => {
    const [a, b] = (await harness.cluster(['a', 'b'], { inflightRequestsMax: 3 })) as [Node, Node];
    b.transport.serve(() => never());
    const hanging = Array.from({ length: 3 }, (_, i) => a.transport.request('b', i, REQUEST_TIMEOUT_MS).catch((e: unknown) => e));
    const error = await transportError(a.transport.request('b', 'fourth', REQUEST_TIMEOUT_MS));
    assert.equal(error.code, 'OVERLOADED');
    assert.match(error.message, /inflightRequestsMax/);
    await a.transport.close();
    await Promise.all(hanging);
  });

  it('queues behind a socket that does not drain and fails fast past the queue', T, async () => {
    const codec = createFrameCodec();
    // A peer that completes the handshake and then stops reading.
    const stalled = await harness.rawServer((socket) => {
      const decoder = new FrameDecoder(1024);
      socket.on('data', (chunk: Buffer) => {
        decoder.push(chunk);
        const body = decoder.next();
        if (body === undefined) return;
        const frame = decodeBody(codec, body);
        assert.equal(frame.kind, 0);
        socket.write(encodeHello(codec, { protocolVersion: PROTOCOL_VERSION, clusterName: CLUSTER, senderId: 'sink', receiverId: 'a', incarnation: 1, dialSeq: 1, role: 'node' as const }));
        socket.pause();
        socket.removeAllListeners('data');
      });
    });
    const a = await harness.start('a', { outboundQueueFramesMax: 8 });
    a.transport.setPeers(new Map([['sink', stalled]]));
    const chunk = new Uint8Array(1024 * 1024);
    const sent: Promise<unknown>[] = [];
    let overloaded: unknown;
    for (let i = 0; i < 500 && overloaded === undefined; i++) {
      try {
        sent.push(a.transport.request('sink', chunk, REQUEST_TIMEOUT_MS).catch((e: unknown) => e));
        // Let each turn's batch reach the socket, so the kernel buffers fill up.
        await new Promise((resolve) => setImmediate(resolve));
        const peer = onlyConnection(a, 'sink');
        if (peer.connection !== null && peer.connection.queuedFrames >= 8) overloaded = await transportError(a.transport.request('sink', chunk, REQUEST_TIMEOUT_MS));
      } catch (error) {
        overloaded = error;
      }
    }
    assert.ok(overloaded !== undefined, 'the queue filled up');
    assert.equal((overloaded as { code: string }).code, 'OVERLOADED');
    await a.transport.close();
    await Promise.all(sent);
  });

  it('answers OVERLOADED when a peer sends more concurrent requests than inflightRequestsMax', T, async () => {
    const a = await harness.start('a', { inflightRequestsMax: 100 });
    const b = await harness.start('b', { inflightRequestsMax: 2 });
    harness.introduce([a, b]);
    b.transport.serve(() => never());
    const results = await Promise.all(Array.from({ length: 3 }, (_, i) => a.transport.request('b', i, 300).catch((e: unknown) => e)));
    const codes = results.map((r) => (r as { code: string }).code).sort();
    assert.deepEqual(codes, ['OVERLOADED', 'TIMEOUT', 'TIMEOUT']);
  });
});

describe('tcpTransport: a peer that does not read', () => {
  it('drops replies past the queue instead of holding them in memory', T, async () => {
    const a = await harness.start('a', { outboundQueueFramesMax: 2, inflightRequestsMax: 2 });
    a.transport.setPeers(new Map([['f', { host: '127.0.0.1', port: 1 }]]));
    a.transport.serve(async () => new Uint8Array(1024 * 1024));
    const peer = await fakeDial(a, 'f', 1, 1);
    peer.socket.pause(); // stop reading: a's replies back up in the kernel, then in a's queue
    const codec = createFrameCodec();
    const packed = codec.packr.pack('give me a megabyte');
    for (let id = 1; id <= 200; id++) peer.socket.write(Buffer.concat([frameHeader(FrameKind.request, id, packed.length), packed]));
    await eventually(() => a.logger.warnings().some((l) => /reply dropped/.test(l.message)), 'a reply dropped');
    const queued = onlyConnection(a, 'f').connection?.queuedFrames ?? 0;
    assert.ok(queued <= 4, `queue bounded by outboundQueueFramesMax + inflightRequestsMax, got ${queued}`);
  });
});

describe('tcpTransport: bad input', () => {
  it('closes a raw connection that sends garbage and keeps serving the others', T, async (t) => {
    const seed = testSeed(t, import.meta.url);
    const [a, b] = (await harness.cluster(['a', 'b'])) as [Node, Node];
    a.transport.serve(echo);
    assert.equal(await b.transport.request('a', 'before', REQUEST_TIMEOUT_MS), 'before');
    for (let round = 0; round < 20; round++) {
      const socket = harness.track(connect(a.address.port, '127.0.0.1'));
      const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
      // A small length prefix, so the garbage body is read and rejected, not merely waited for.
      const body = seededBytes(seed + round, 64);
      const frame = Buffer.concat([Buffer.from([0, 0, 0, 64]), body]);
      socket.write(round % 2 === 0 ? frame : seededBytes(seed * 31 + round, 4096));
      await closed;
    }
    assert.equal(await b.transport.request('a', 'after', REQUEST_TIMEOUT_MS), 'after');
    assert.ok(a.logger.warnings().length >= 20, 'each bad connection was logged');
  });

  it('closes a connection that announces an oversized frame, at once', T, async () => {
    const [a, b] = (await harness.cluster(['a', 'b'], { frameBytesMax: 1024 })) as [Node, Node];
    a.transport.serve(echo);
    for (const prefix of [[0xff, 0xff, 0xff, 0xff], [0, 0, 0x04, 0x01], [0, 0, 0, 0]]) {
      const socket = harness.track(connect(a.address.port, '127.0.0.1'));
      const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
      socket.write(Buffer.from(prefix));
      await closed;
    }
    assert.ok(a.logger.warnings().some((l) => /frameBytesMax/.test(String(l.fields.reason))));
    assert.equal(await b.transport.request('a', 'still here', REQUEST_TIMEOUT_MS), 'still here');
  });

  it('closes a peer connection that carries an oversized frame; its requests fail and the peer reconnects', T, async () => {
    const small = await harness.start('small', { frameBytesMax: 64 * 1024 });
    const big = await harness.start('big', { frameBytesMax: 4 * 1024 * 1024 });
    harness.introduce([small, big]);
    small.transport.serve(echo);
    assert.equal(await big.transport.request('small', 'hi', REQUEST_TIMEOUT_MS), 'hi');
    const error = await transportError(big.transport.request('small', new Uint8Array(1024 * 1024), REQUEST_TIMEOUT_MS));
    assert.equal(error.code, 'UNREACHABLE');
    assert.match(error.message, /frameBytesMax/);
    assert.ok(small.logger.warnings().some((l) => /bad input/.test(l.message)));
    let reply: unknown;
    for (let attempt = 0; attempt < 200 && reply === undefined; attempt++) {
      reply = await big.transport.request('small', 'back?', REQUEST_TIMEOUT_MS).catch(() => sleep(10).then(() => undefined));
    }
    assert.equal(reply, 'back?');
  });

  it('closes a connection that sends a well-formed frame of an unknown shape after the handshake', T, async () => {
    const codec = createFrameCodec();
    const a = await harness.start('a');
    a.transport.serve(echo);
    a.transport.setPeers(new Map([['rogue', { host: '127.0.0.1', port: 1 }]]));
    const socket = harness.track(connect(a.address.port, '127.0.0.1'));
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    socket.write(encodeHello(codec, { protocolVersion: PROTOCOL_VERSION, clusterName: CLUSTER, senderId: 'rogue', receiverId: 'a', incarnation: 7, dialSeq: 1, role: 'node' as const }));
    const decoder = new FrameDecoder(1 << 20);
    const kinds: number[] = [];
    socket.on('data', (chunk: Buffer) => {
      decoder.push(chunk);
      for (let body = decoder.next(); body !== undefined; body = decoder.next()) kinds.push(decodeBody(codec, body).kind);
    });
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    const body = new Packr({ useRecords: false }).pack([9, 1, 'what is this']);
    const prefix = Buffer.alloc(4);
    prefix.writeUInt32BE(body.length);
    socket.write(Buffer.concat([prefix, body]));
    await closed;
    assert.deepEqual(kinds, [0, 4], 'a hello back, then a goodbye saying why');
    assert.ok(a.logger.warnings().some((l) => /unknown frame kind/.test(String(l.fields.reason))));
  });

  it('closes the oldest unidentified connection when a new one would exceed inboundHandshakesMax', T, async () => {
    const a = await harness.start('a', { inboundHandshakesMax: 2 });
    const first = harness.track(connect(a.address.port, '127.0.0.1'));
    await new Promise<void>((resolve) => first.once('connect', () => resolve()));
    await sleep(20); // accepted before the others
    const firstClosed = new Promise<void>((resolve) => first.once('close', () => resolve()));
    for (let i = 0; i < 2; i++) harness.track(connect(a.address.port, '127.0.0.1'));
    await firstClosed;
    assert.ok(a.logger.warnings().some((l) => /inboundHandshakesMax/.test(l.message)));
  });

  it('lets a peer in while silent connections keep every handshake slot taken (issue 14: 80 of them locked peers out)', T, async () => {
    const a = await harness.start('a', { inboundHandshakesMax: 8 });
    const b = await harness.start('b');
    harness.introduce([a, b]);
    a.transport.serve(echo);
    const silent = Array.from({ length: 80 }, () => harness.track(connect(a.address.port, '127.0.0.1')));
    await Promise.all(silent.map((socket) => new Promise<void>((resolve) => (socket.readyState === 'open' ? resolve() : socket.once('connect', () => resolve()).once('close', () => resolve())))));
    assert.equal(await b.transport.request('a', 'still served', REQUEST_TIMEOUT_MS), 'still served');
  });

  it('refuses a frame longer than HELLO_FRAME_BYTES_MAX before the hello', T, async () => {
    const a = await harness.start('a');
    const socket = harness.track(connect(a.address.port, '127.0.0.1'));
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    const prefix = Buffer.alloc(4);
    prefix.writeUInt32BE(HELLO_FRAME_BYTES_MAX + 1);
    socket.write(prefix);
    await closed;
    assert.ok(a.logger.warnings().some((l) => /bad input/.test(l.message) && /frameBytesMax/.test(String(l.fields.reason))));
  });

  it('closes a connection whose frame does not arrive whole within frameReceiveMsMax', T, async () => {
    const a = await harness.start('a', { frameReceiveMsMax: 200 });
    a.transport.setPeers(new Map([['rogue', { host: '127.0.0.1', port: 1 }]]));
    const socket = await rawPeer(a, 'rogue');
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    socket.write(Buffer.concat([lengthPrefix(100_000), Buffer.alloc(10)]));
    await closed;
    assert.ok(a.logger.warnings().some((l) => /not received whole in time/.test(l.message)));
  });

  it('keeps the bytes of unfinished frames over all connections under unframedBytesMax (issue 14: 150 MB held for good)', T, async () => {
    const MiB = 1024 * 1024;
    const a = await harness.start('a', { frameBytesMax: MiB, unframedBytesMax: MiB });
    a.transport.setPeers(new Map([['r1', { host: '127.0.0.1', port: 1 }], ['r2', { host: '127.0.0.1', port: 2 }]]));
    const r1 = await rawPeer(a, 'r1');
    const r2 = await rawPeer(a, 'r2');
    const r1Closed = new Promise<void>((resolve) => r1.once('close', () => resolve()));
    r1.write(Buffer.concat([lengthPrefix(MiB), Buffer.alloc(700 * 1024)]));
    await sleep(50);
    r2.write(Buffer.concat([lengthPrefix(MiB), Buffer.alloc(400 * 1024)]));
    await r1Closed; // r1 holds most
    assert.ok(a.logger.warnings().some((l) => /unframedBytesMax/.test(l.message) && l.fields.peer === 'r1'));
    assert.ok(!r2.destroyed, 'the other connection stays');
  });
});

/** A raw socket that has said hello to `node` as `senderId` (a fake peer, for malformed traffic). */
async function rawPeer(node: Node, senderId: string) {
  const codec = createFrameCodec();
  const socket = harness.track(connect(node.address.port, '127.0.0.1'));
  await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
  socket.write(encodeHello(codec, { protocolVersion: PROTOCOL_VERSION, clusterName: CLUSTER, senderId, receiverId: node.id, incarnation: 7, dialSeq: 1, role: 'node' as const }));
  await eventually(() => node.transport.stats().unlinked > 0 || Object.values(node.transport.stats().peers).some((p) => p.state === 'connected'), 'the hello accepted');
  return socket;
}

function lengthPrefix(bodyBytes: number): Buffer {
  const prefix = Buffer.alloc(4);
  prefix.writeUInt32BE(bodyBytes);
  return prefix;
}

describe('tcpTransport: lifecycle', () => {
  it('reports the bound address after start() and works with the system clock by default', T, async () => {
    const transport = createTcpTransport({ localId: 'solo', clusterName: CLUSTER, listen: { host: '127.0.0.1', port: 0 }, clock: systemClock });
    try {
      assert.equal(transport.address, undefined);
      const port = await transport.start();
      assert.ok(port > 0);
      assert.deepEqual(transport.address, { host: '127.0.0.1', port });
    } finally {
      await transport.close();
    }
  });

  it('drops a peer removed from the membership', T, async () => {
    const [a, b] = (await harness.cluster(['a', 'b'])) as [Node, Node];
    b.transport.serve(() => never());
    const pending = transportError(a.transport.request('b', 'x', REQUEST_TIMEOUT_MS));
    await eventually(() => onlyConnection(a, 'b').state === 'connected', 'connected');
    a.transport.setPeers(new Map());
    assert.equal((await pending).code, 'UNREACHABLE');
    assert.equal((await transportError(a.transport.request('b', 'y', REQUEST_TIMEOUT_MS))).code, 'UNREACHABLE');
  });

  it('leaves no socket open after raw connections send garbage and hang up', T, async (t) => {
    const seed = testSeed(t, import.meta.url);
    const [a, b] = (await harness.cluster(['a', 'b'])) as [Node, Node];
    a.transport.serve(echo);
    for (let i = 0; i < 5; i++) {
      const socket = harness.track(connect(a.address.port, '127.0.0.1'));
      socket.write(seededBytes(seed + i, 512));
      socket.end();
    }
    assert.equal(await b.transport.request('a', 'ok', REQUEST_TIMEOUT_MS), 'ok');
    await eventually(() => a.transport.stats().sockets === 1, 'only the peer connection remains');
  });
});
