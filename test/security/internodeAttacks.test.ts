/**
 * Attacks on the internode port of a 3-node cluster running mutual TLS (issue 14), each
 * refused with nothing stored, nothing deleted, and a log line naming the source:
 *
 * - a hello from a node whose certificate another CA signed (an unknown id), plain TCP,
 *   and a hello with another node's id under a valid certificate of its own;
 * - a join asked without a valid certificate;
 * - forged gossip from a node that is not a member (a valid certificate of the cluster CA,
 *   never joined): one state removes a member, one gives every partition to the stranger;
 * - each internode message that writes (replica-put, transfer-batch, hint-delivery, ae-push,
 *   forward) and the anti-entropy tree walk, from that non-member;
 * - a client certificate (client-coordinated mode) trying gossip, replica writes, transfers
 *   and anti-entropy; the reads and forwards a client may send still work.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { connect as connectTls } from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { encodeState } from '../../src/core/membership/codec.ts';
import { makeMemberTable } from '../../src/core/membership/member.ts';
import type { ClusterState } from '../../src/core/membership/state.ts';
import { makeRing } from '../../src/core/ring.ts';
import { partitionOfKey } from '../../src/core/hash.ts';
import { createCertificateAuthority, createClientCertificate, createNodeCertificate, type CertificateAndKey } from '../../src/io/certificates.ts';
import { createFrameCodec, encodeHello, PROTOCOL_VERSION } from '../../src/io/frameCodec.ts';
import { startNodeRuntime, type NodeRuntime } from '../../src/io/runtime.ts';
import { createTcpTransport, type TcpTransport, type TransportTls } from '../../src/io/tcpTransport.ts';
import { nodeConfigFrom } from '../../src/node/config.ts';
import { parseReply } from '../../src/node/protocol.ts';
import type { PeerRole } from '../../src/ports/transport.ts';
import { encodeObject } from '../../src/storage/objectCodec.ts';
import { freePort } from '../support/shoalProcess.ts';
import { eventually, RecordingLogger, transportError } from '../io/transportHarness.ts';

const T = { timeout: 60_000 };
const CLUSTER = 'shoal';
const Q = 16;
const REQUEST_TIMEOUT_MS = 3000;
const enc = new TextEncoder();
const IDS = ['a', 'b', 'c'] as const;

const ca = createCertificateAuthority();
const foreignCa = createCertificateAuthority({ commonName: 'somebody else' });
const dir = mkdtempSync(join(tmpdir(), 'shoal-attacks-'));
const runtimes = new Map<string, NodeRuntime>();
const loggers = new Map<string, RecordingLogger>();
const addresses = new Map<string, { host: string; port: number }>();
const attackers: TcpTransport[] = [];

function files(id: string, own: CertificateAndKey): { tlsCa: string; tlsCert: string; tlsKey: string } {
  const paths = { tlsCa: join(dir, 'ca.crt'), tlsCert: join(dir, `${id}.crt`), tlsKey: join(dir, `${id}.key`) };
  writeFileSync(paths.tlsCa, ca.certPem);
  writeFileSync(paths.tlsCert, own.certPem);
  writeFileSync(paths.tlsKey, own.keyPem, { mode: 0o600 });
  return paths;
}

function tlsOf(own: CertificateAndKey, authority = ca): TransportTls {
  return { ca: authority.certPem, cert: own.certPem, key: own.keyPem };
}

/** A transport of the attacker's, introduced to every node. */
function attacker(id: string, tls: TransportTls, role: PeerRole = 'node'): TcpTransport {
  const transport = createTcpTransport({ localId: id, role, clusterName: CLUSTER, listen: { host: '127.0.0.1', port: 0 }, tls, reconnectDelayMsMin: 10, reconnectDelayMsMax: 50 });
  transport.setPeers(addresses);
  attackers.push(transport);
  return transport;
}

const KEYS = 12;

before(async () => {
  for (const id of IDS) addresses.set(id, { host: '127.0.0.1', port: await freePort() });
  const cluster = IDS.map((id) => `${id}@127.0.0.1:${addresses.get(id)?.port}`).join(',');
  for (const id of IDS) {
    const logger = new RecordingLogger();
    const config = nodeConfigFrom({ id, cluster, listen: `127.0.0.1:${addresses.get(id)?.port}`, http: '127.0.0.1:0', engine: 'memory', partitionCount: Q, logLevel: 'silent', antiEntropyIntervalMs: 0, ...files(id, createNodeCertificate(ca, { nodeId: id, hosts: [] })) });
    runtimes.set(id, await startNodeRuntime({ config, logger }));
    loggers.set(id, logger);
  }
  for (let i = 0; i < KEYS; i++) await node('a').put(enc.encode(`key-${i}`), { value: enc.encode(`value-${i}`), contentType: 'text/plain' });
});

after(async () => {
  await Promise.all(attackers.map((transport) => transport.close()));
  await Promise.all([...runtimes.values()].map((runtime) => runtime.stop()));
  rmSync(dir, { recursive: true, force: true });
});

function node(id: string) {
  const runtime = runtimes.get(id);
  assert.ok(runtime !== undefined);
  return runtime.node;
}

function logOf(id: string): RecordingLogger {
  const logger = loggers.get(id);
  assert.ok(logger !== undefined);
  return logger;
}

/** Every copy of the workload's keys, and no copy of any key the attacks name. */
function assertDataIntact(): void {
  for (const id of IDS) {
    const held = Array.from({ length: KEYS }, (_, i) => node(id).localVersions(enc.encode(`key-${i}`))).filter((local) => local !== undefined).length;
    assert.equal(held, KEYS, `${id} still holds all ${KEYS} keys (N = 3 on 3 nodes)`);
    for (const key of ['forged', 'forged-batch', 'forged-hint', 'forged-ae', 'forged-forward']) assert.equal(node(id).localVersions(enc.encode(key)), undefined, `${id} stored nothing under ${key}`);
  }
}

function assertMembershipIntact(): void {
  for (const id of IDS) {
    const status = node(id).status();
    assert.deepEqual([...status.cluster.members].sort(), [...IDS], `${id}'s members`);
    assert.equal(status.cluster.ringVersion, 1, `${id}'s ring is the founding one`);
  }
}

/** A valid object (a real version of key-0) to forge writes with. */
function someObjectBytes(): Uint8Array {
  const local = node('a').localVersions(enc.encode('key-0'));
  assert.ok(local !== undefined);
  return encodeObject(local.object);
}

function isRefusal(raw: unknown, code: string): boolean {
  const reply = parseReply(raw);
  return reply.type === 'error' && reply.code === code;
}

describe('internode attacks (mutual TLS)', () => {
  it('refuses a node whose certificate another CA signed (an unknown id), and its join, logged with its address', T, async () => {
    const mallory = attacker('mallory', tlsOf(createNodeCertificate(foreignCa, { nodeId: 'mallory', hosts: [] }), foreignCa));
    assert.equal((await transportError(mallory.request('a', { type: 'ping' }, REQUEST_TIMEOUT_MS))).code, 'UNREACHABLE');
    const join = { type: 'join', clusterName: CLUSTER, id: 'mallory', host: '127.0.0.1', port: 9, dryRun: false };
    assert.equal((await transportError(mallory.requestAt(addresses.get('b') as { host: string; port: number }, join, REQUEST_TIMEOUT_MS))).code, 'UNREACHABLE');
    for (const id of ['a', 'b']) {
      await eventually(() => logOf(id).warnings().some((l) => /TLS handshake refused/.test(l.message) && /127\.0\.0\.1:\d+$/.test(String(l.fields.remote))), `${id} logs the refusal with the source`);
    }
    assertMembershipIntact();
  });

  it('refuses plain TCP on the internode port', T, async () => {
    const socket = connect(addresses.get('c')?.port as number, '127.0.0.1');
    socket.on('error', () => undefined);
    socket.write(encodeHello(createFrameCodec(), { protocolVersion: PROTOCOL_VERSION, clusterName: CLUSTER, senderId: 'b', receiverId: 'c', incarnation: 1, dialSeq: 1, role: 'node' as const }));
    socket.resume();
    await new Promise<void>((resolve) => socket.once('close', () => resolve()));
    await eventually(() => logOf('c').warnings().some((l) => /TLS handshake refused/.test(l.message)), 'c logs the refusal');
  });

  it("refuses a hello claiming another node's id under a valid certificate of its own", T, async () => {
    // The transport refuses to be built with a certificate naming another node: forge at the socket.
    const own = createNodeCertificate(ca, { nodeId: 'x', hosts: [] });
    const socket = connectTls({ host: '127.0.0.1', port: addresses.get('a')?.port as number, ca: ca.certPem, cert: own.certPem, key: own.keyPem, checkServerIdentity: () => undefined });
    socket.on('error', () => undefined);
    await new Promise<void>((resolve) => socket.once('secureConnect', () => resolve()));
    socket.write(encodeHello(createFrameCodec(), { protocolVersion: PROTOCOL_VERSION, clusterName: CLUSTER, senderId: 'b', receiverId: 'a', incarnation: 1, dialSeq: 2 ** 40, role: 'node' as const }));
    socket.resume();
    await new Promise<void>((resolve) => socket.once('close', () => resolve()));
    assert.ok(logOf('a').warnings().some((l) => l.message === 'internode handshake refused' && /certificate names node "x", its hello "b"/.test(String(l.fields.reason)) && typeof l.fields.remote === 'string'));
    // b's own link still carries writes.
    await node('b').put(enc.encode('key-0'), { value: enc.encode('value-0 again'), contentType: 'text/plain' }, { w: 3 });
  });

  it('does not merge forged gossip from a node that is not a member: no member removed, nothing given away', T, async () => {
    const stranger = attacker('x', tlsOf(createNodeCertificate(ca, { nodeId: 'x', hosts: [] })));
    const state = (node('a') as unknown as { parts: { membership: { state: ClusterState } } }).parts.membership.state;
    const intruder = { id: 'x', address: { host: '127.0.0.1', port: 9 }, status: 'valid' as const, version: 1 };
    const everything: ClusterState = {
      ...state,
      members: makeMemberTable([...state.members, intruder]),
      ring: makeRing([...state.ring.members, 'x'], Array.from({ length: Q }, () => 'x')),
      ringVersion: state.ringVersion + 1,
      change: { kind: 'join', member: 'x', previousRing: state.ring, transfers: [] },
    };
    const removal: ClusterState = {
      ...state,
      members: makeMemberTable(state.members.map((m) => (m.id === 'c' ? { ...m, status: 'removed' as const, version: m.version + 1 } : m))),
      ring: makeRing(['a', 'b'], state.ring.owners.map((owner, p) => (owner === 'c' ? (p % 2 === 0 ? 'a' : 'b') : owner))),
      ringVersion: state.ringVersion + 1,
      change: { kind: 'remove', member: 'c', previousRing: state.ring, transfers: [] },
    };
    for (const forged of [everything, removal]) {
      for (const id of IDS) {
        const reply = await stranger.request(id, { type: 'gossip', state: encodeState(forged) }, REQUEST_TIMEOUT_MS);
        assert.equal(parseReply(reply).type, 'state', `${id} answers with its own state`);
      }
    }
    await new Promise((resolve) => setTimeout(resolve, 1500)); // gossip rounds and drop timers would act by now
    assertMembershipIntact();
    assertDataIntact();
    for (const id of IDS) assert.ok(logOf(id).lines.some((l) => /gossip from a node that is not a member/.test(l.message) && l.fields.peer === 'x'), `${id} logs the stranger's gossip`);
  });

  it('refuses every write, and the anti-entropy tree walk, from a node that is not a member', T, async () => {
    const stranger = attacker('x2', tlsOf(createNodeCertificate(ca, { nodeId: 'x2', hosts: [] })));
    const object = someObjectBytes();
    const at = (key: string) => ({ key: enc.encode(key), partition: partitionOfKey(enc.encode(key), Q) });
    const forged = [
      { type: 'replica-put', ...at('forged'), object, durable: false },
      { type: 'transfer-batch', partition: at('forged-batch').partition, keys: [at('forged-batch').key], objects: [object] },
      { type: 'hint-delivery', ...at('forged-hint'), object },
      { type: 'ae-push', partition: at('forged-ae').partition, keys: [at('forged-ae').key], objects: [object] },
      { type: 'forward', op: 'put', key: at('forged-forward').key, value: enc.encode('v'), contentType: 'text/plain', n: 3, r: 2, w: 2, timeoutMs: 1000 },
      { type: 'ae-keys', partition: 0, segments: [0] },
    ];
    for (const message of forged) {
      const reply = await stranger.request('b', message, REQUEST_TIMEOUT_MS);
      assert.ok(isRefusal(reply, 'NOT_PERMITTED'), `${message.type} refused: ${JSON.stringify(reply)}`);
      assert.ok(logOf('b').warnings().some((l) => l.message === 'refused an internode request' && l.fields.peer === 'x2' && l.fields.type === message.type), `${message.type} logged with the sender`);
    }
    assertDataIntact();
  });

  it('lets a client certificate read and forward, and nothing else', T, async () => {
    const client = attacker('client-1', tlsOf(createClientCertificate(ca, { user: 'alice' })), 'client');
    const key = enc.encode('key-1');
    const partition = partitionOfKey(key, Q);
    const read = await client.request('a', { type: 'replica-get', partition, key }, REQUEST_TIMEOUT_MS);
    assert.equal(parseReply(read).type, 'object', 'a client may read a replica');
    const written = await client.request('a', { type: 'forward', op: 'put', key: enc.encode('by-client'), value: enc.encode('v'), contentType: 'text/plain', n: 3, r: 2, w: 2, timeoutMs: 2000 }, REQUEST_TIMEOUT_MS);
    assert.equal(parseReply(written).type, 'object', 'a client may have a node coordinate its write');
    const object = someObjectBytes();
    const state = (node('a') as unknown as { parts: { membership: { state: ClusterState } } }).parts.membership.state;
    for (const message of [
      { type: 'gossip', state: encodeState(state) },
      { type: 'replica-put', partition: partitionOfKey(enc.encode('forged'), Q), key: enc.encode('forged'), object, durable: false },
      { type: 'transfer-batch', partition: partitionOfKey(enc.encode('forged-batch'), Q), keys: [enc.encode('forged-batch')], objects: [object] },
      { type: 'ae-root', partition: 0, segments: 1024, branching: 32, digestVersion: 1 },
      { type: 'join', clusterName: CLUSTER, id: 'alice', host: '127.0.0.1', port: 9, dryRun: false },
    ]) {
      const reply = await client.request('a', message, REQUEST_TIMEOUT_MS);
      assert.ok(isRefusal(reply, 'NOT_PERMITTED'), `${message.type} from a client refused: ${JSON.stringify(reply)}`);
      assert.ok(logOf('a').warnings().some((l) => l.message === 'refused an internode request' && l.fields.role === 'client' && l.fields.type === message.type), `${message.type} logged`);
    }
    assertMembershipIntact();
    assertDataIntact();
  });
});
