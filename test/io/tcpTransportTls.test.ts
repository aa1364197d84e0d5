/**
 * The transport's mutual TLS (issue 14): only holders of a certificate from the cluster CA
 * get a connection, a hello must name the node its certificate names, and a client's
 * certificate is served as a client's, never linked to a peer. Each refusal is logged with
 * the source address.
 */
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { connect as connectTls } from 'node:tls';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { createFrameCodec, encodeHello, PROTOCOL_VERSION } from '../../src/io/frameCodec.ts';
import { createCertificateAuthority, createClientCertificate, createNodeCertificate, type CertificateAndKey } from '../../src/io/certificates.ts';
import { createTcpTransport, TransportOptionError, type TransportTls } from '../../src/io/tcpTransport.ts';
import type { NodeId, PeerRole } from '../../src/ports/transport.ts';
import { CLUSTER, eventually, Harness, transportError } from './transportHarness.ts';

const T = { timeout: 20_000 };
const REQUEST_TIMEOUT_MS = 5_000;

const ca = createCertificateAuthority();
const otherCa = createCertificateAuthority({ commonName: 'another cluster' });

function nodeTls(id: string, authority: CertificateAndKey = ca): TransportTls {
  const own = createNodeCertificate(authority, { nodeId: id, hosts: [] });
  return { ca: authority.certPem, cert: own.certPem, key: own.keyPem };
}

function clientTls(user: string): TransportTls {
  const own = createClientCertificate(ca, { user });
  return { ca: ca.certPem, cert: own.certPem, key: own.keyPem };
}

let harness: Harness;
beforeEach(() => {
  harness = new Harness();
});
afterEach(async () => {
  await harness.closeAll();
});

/** A handler that records who asked, with which role, and answers 'ok'. */
function recordingHandler(seen: { from: NodeId; role: PeerRole; message: unknown }[]) {
  return async (from: NodeId, message: unknown, role: PeerRole): Promise<unknown> => {
    seen.push({ from, role, message });
    return 'ok';
  };
}

describe('tcpTransport: mutual TLS', () => {
  it('carries requests between nodes whose certificates the cluster CA signed, as from nodes', T, async () => {
    const a = await harness.start('a', { tls: nodeTls('a') });
    const b = await harness.start('b', { tls: nodeTls('b') });
    harness.introduce([a, b]);
    const seen: { from: NodeId; role: PeerRole; message: unknown }[] = [];
    b.transport.serve(recordingHandler(seen));
    assert.equal(await a.transport.request('b', 'over tls', REQUEST_TIMEOUT_MS), 'ok');
    assert.deepEqual(seen, [{ from: 'a', role: 'node', message: 'over tls' }]);
  });

  it('refuses, and logs with its address, a node whose certificate another CA signed', T, async () => {
    const a = await harness.start('a', { tls: nodeTls('a') });
    const stranger = await harness.start('b', { tls: nodeTls('b', otherCa) });
    harness.introduce([a, stranger]);
    a.transport.serve(recordingHandler([]));
    const error = await transportError(stranger.transport.request('a', 'let me in', REQUEST_TIMEOUT_MS));
    assert.equal(error.code, 'UNREACHABLE');
    await eventually(() => a.logger.warnings().some((l) => /TLS handshake refused/.test(l.message) && /^127\.0\.0\.1:\d+$/.test(String(l.fields.remote))), 'the refusal logged with the source');
  });

  it('refuses plain TCP, and a TLS client without a certificate, before reading a frame', T, async () => {
    const a = await harness.start('a', { tls: nodeTls('a') });
    const seen: { from: NodeId; role: PeerRole; message: unknown }[] = [];
    a.transport.serve(recordingHandler(seen));
    const plain = harness.track(connect(a.address.port, '127.0.0.1'));
    const codec = createFrameCodec();
    plain.write(encodeHello(codec, { protocolVersion: PROTOCOL_VERSION, clusterName: CLUSTER, senderId: 'b', receiverId: 'a', incarnation: 1, dialSeq: 1, role: 'node' as const }));
    await new Promise<void>((resolve) => plain.once('close', () => resolve()));
    const anonymous = connectTls({ host: '127.0.0.1', port: a.address.port, ca: ca.certPem, checkServerIdentity: () => undefined });
    anonymous.on('error', () => undefined);
    await new Promise<void>((resolve) => anonymous.once('close', () => resolve()));
    assert.equal(seen.length, 0);
    assert.ok(a.logger.warnings().filter((l) => /TLS handshake refused/.test(l.message)).length >= 1);
  });

  it("refuses a hello claiming another node's id, logged with the source (issue 14: b's link was taken over)", T, async () => {
    const a = await harness.start('a', { tls: nodeTls('a') });
    const b = await harness.start('b', { tls: nodeTls('b') });
    harness.introduce([a, b]);
    const seen: { from: NodeId; role: PeerRole; message: unknown }[] = [];
    a.transport.serve(recordingHandler(seen));
    assert.equal(await b.transport.request('a', 'real b', REQUEST_TIMEOUT_MS), 'ok');
    // Node c holds a valid certificate, its own, and says hello as b with b's dial state.
    const c = nodeTls('c');
    const impostor = connectTls({ host: '127.0.0.1', port: a.address.port, ca: c.ca, cert: c.cert, key: c.key, checkServerIdentity: () => undefined });
    impostor.on('error', () => undefined);
    await new Promise<void>((resolve) => impostor.once('secureConnect', () => resolve()));
    impostor.write(encodeHello(createFrameCodec(), { protocolVersion: PROTOCOL_VERSION, clusterName: CLUSTER, senderId: 'b', receiverId: 'a', incarnation: 1, dialSeq: 2 ** 40, role: 'node' as const }));
    impostor.resume();
    await new Promise<void>((resolve) => impostor.once('close', () => resolve()));
    assert.ok(a.logger.warnings().some((l) => l.message === 'internode handshake refused' && /certificate names node "c", its hello "b"/.test(String(l.fields.reason)) && typeof l.fields.remote === 'string'));
    assert.equal(await b.transport.request('a', 'real b again', REQUEST_TIMEOUT_MS), 'ok', "b's link still works");
    assert.deepEqual(seen.map((s) => s.message), ['real b', 'real b again']);
  });

  it("serves a client's certificate as a client: role 'client', never linked, even when it claims a node's id", T, async () => {
    const a = await harness.start('a', { tls: nodeTls('a') });
    const b = await harness.start('b', { tls: nodeTls('b') });
    harness.introduce([a, b]);
    const seen: { from: NodeId; role: PeerRole; message: unknown }[] = [];
    a.transport.serve(recordingHandler(seen));
    assert.equal(await b.transport.request('a', 'from b', REQUEST_TIMEOUT_MS), 'ok');
    const client = createTcpTransport({ localId: 'b', role: 'client', clusterName: CLUSTER, listen: { host: '127.0.0.1', port: 0 }, tls: clientTls('alice') });
    try {
      client.setPeers(new Map([['a', a.address]]));
      assert.equal(await client.request('a', 'from the client', REQUEST_TIMEOUT_MS), 'ok');
    } finally {
      await client.close();
    }
    assert.deepEqual(seen.map((s) => [s.message, s.role]), [['from b', 'node'], ['from the client', 'client']]);
    assert.equal(a.transport.stats().peers.b?.state, 'connected', "b's own link is untouched");
    assert.equal(await b.transport.request('a', 'b again', REQUEST_TIMEOUT_MS), 'ok');
  });

  it('refuses to dial a peer that answers with a client certificate', T, async () => {
    const a = await harness.start('a', { tls: nodeTls('a') });
    // A listener presenting a client certificate where node b should be.
    const fake = createTcpTransport({ localId: 'b', role: 'client', clusterName: CLUSTER, listen: { host: '127.0.0.1', port: 0 }, tls: clientTls('b') });
    try {
      const port = await fake.start();
      a.transport.setPeers(new Map([['b', { host: '127.0.0.1', port }]]));
      const seen: { from: NodeId; role: PeerRole; message: unknown }[] = [];
      fake.serve(recordingHandler(seen));
      const error = await transportError(a.transport.request('b', 'hello?', REQUEST_TIMEOUT_MS));
      assert.equal(error.code, 'UNREACHABLE');
      assert.match(error.message, /unsuitable certificate purpose/, 'a client certificate is not one a server may present');
      assert.equal(seen.length, 0);
    } finally {
      await fake.close();
    }
  });

  it("refuses to start with a certificate that names another node, or a client's for a node", T, () => {
    const build = (tls: TransportTls, role?: PeerRole) => createTcpTransport({ localId: 'a', clusterName: CLUSTER, listen: { host: '127.0.0.1', port: 0 }, tls, ...(role === undefined ? {} : { role }) });
    assert.throws(() => build(nodeTls('z')), (error: unknown) => error instanceof TransportOptionError && /names node "z", this node is "a"/.test(error.message));
    assert.throws(() => build(clientTls('a')), (error: unknown) => error instanceof TransportOptionError && /shoal node certificate/.test(error.message));
    assert.throws(() => build({ ...nodeTls('a'), cert: 'not a certificate' }), TransportOptionError);
  });
});
