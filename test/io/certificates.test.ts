/**
 * The certificates of src/io/certificates.ts as their users see them: OpenSSL (through
 * node:crypto and node:tls) parses and verifies them, a mutual TLS handshake on loopback
 * succeeds between certificates of one CA and fails across CAs or without a certificate,
 * HTTPS clients verify a node's names, and certificateIdentity names the holder.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpsServer, get as httpsGet } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { checkServerIdentity, connect, createServer, type PeerCertificate, type TLSSocket } from 'node:tls';
import {
  CertificateError, certificateIdentity, createCertificateAuthority, createClientCertificate, createNodeCertificate, nodeCertificateHosts,
  type CertificateAndKey, type CertificateErrorCode,
} from '../../src/io/certificates.ts';

const DAY_MS = 86_400_000;
const HOUR_MS = 3_600_000;
/** Generous for a loaded machine: how far a certificate's times may be from the test's clock. */
const CLOCK_SLACK_MS = 5 * 60_000;

// One CA and its certificates for the tests that only read them (keys take a moment to make).
const ca = createCertificateAuthority();
const caCert = new X509Certificate(ca.certPem);
const node1 = createNodeCertificate(ca, { nodeId: 'node1', hosts: ['db1.example.com', '10.0.0.5', 'fe80::1'] });
const node2 = createNodeCertificate(ca, { nodeId: 'node2', hosts: ['db2.example.com'] });
const admin = createClientCertificate(ca, { user: 'admin' });
const otherCa = createCertificateAuthority({ commonName: 'another cluster' });
const foreignNode = createNodeCertificate(otherCa, { nodeId: 'node2', hosts: [] });

function assertValidity(certificate: X509Certificate, days: number): void {
  const now = Date.now();
  assert.ok(Math.abs(Date.parse(certificate.validFrom) - (now - HOUR_MS)) < CLOCK_SLACK_MS, `notBefore ${certificate.validFrom}: an hour ago`);
  assert.ok(Math.abs(Date.parse(certificate.validTo) - (now + days * DAY_MS)) < CLOCK_SLACK_MS, `notAfter ${certificate.validTo}: ${days} days on`);
}

function assertPositiveSerial(certificate: X509Certificate): void {
  const serial = BigInt(`0x${certificate.serialNumber}`);
  assert.ok(serial > 0n && serial < 2n ** 127n, `serial ${certificate.serialNumber}: positive, from 16 octets`);
}

/** `message`: a pattern, or text the message must contain. */
function assertFails(run: () => unknown, code: CertificateErrorCode, message: RegExp | string): void {
  assert.throws(run, (error: unknown) => {
    assert.ok(error instanceof CertificateError, `a CertificateError, got ${String(error)}`);
    assert.equal(error.code, code);
    if (typeof message === 'string') assert.ok(error.message.includes(message), `"${error.message}" names ${message}`);
    else assert.match(error.message, message);
    return true;
  });
}

test('the CA: self-signed, a CA that may sign end-entity certificates only, valid ten years from an hour ago', () => {
  assert.equal(caCert.subject, 'O=shoal\nOU=ca\nCN=shoal cluster CA');
  assert.equal(caCert.issuer, caCert.subject);
  assert.equal(caCert.ca, true);
  assert.ok(caCert.verify(caCert.publicKey));
  assert.ok(caCert.checkIssued(caCert));
  assert.ok(caCert.checkPrivateKey(createPrivateKey(ca.keyPem)));
  assert.equal(caCert.publicKey.asymmetricKeyDetails?.namedCurve, 'prime256v1');
  assertValidity(caCert, 3650);
  assertPositiveSerial(caCert);
  assert.equal(new X509Certificate(otherCa.certPem).subject, 'O=shoal\nOU=ca\nCN=another cluster');
});

test('a node certificate: signed by the CA, for TLS servers and clients, naming its hosts and the local ones', () => {
  const certificate = new X509Certificate(node1.certPem);
  assert.equal(certificate.subject, 'O=shoal\nOU=node\nCN=node1');
  assert.equal(certificate.issuer, caCert.subject);
  assert.equal(certificate.ca, false);
  assert.ok(certificate.verify(caCert.publicKey));
  assert.ok(certificate.checkIssued(caCert));
  assert.ok(!certificate.verify(new X509Certificate(otherCa.certPem).publicKey));
  assert.ok(certificate.checkPrivateKey(createPrivateKey(node1.keyPem)));
  assert.deepEqual(certificate.keyUsage, ['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2'], 'extKeyUsage serverAuth, clientAuth');
  for (const host of ['db1.example.com', 'localhost']) assert.equal(certificate.checkHost(host), host);
  for (const ip of ['10.0.0.5', 'fe80::1', '127.0.0.1', '::1']) assert.equal(certificate.checkIP(ip), ip);
  assert.equal(certificate.checkHost('db2.example.com'), undefined);
  assertValidity(certificate, 5 * 365);
  assertPositiveSerial(certificate);
  assert.notEqual(certificate.serialNumber, new X509Certificate(node2.certPem).serialNumber);
});

test('a client certificate: signed by the CA, for TLS clients only', () => {
  const certificate = new X509Certificate(admin.certPem);
  assert.equal(certificate.subject, 'O=shoal\nOU=client\nCN=admin');
  assert.ok(certificate.verify(caCert.publicKey));
  assert.ok(certificate.checkIssued(caCert));
  assert.equal(certificate.ca, false);
  assert.deepEqual(certificate.keyUsage, ['1.3.6.1.5.5.7.3.2']);
  assert.equal(certificate.subjectAltName, undefined);
  assertValidity(certificate, 5 * 365);
});

test('validity: the days asked for, GeneralizedTime past 2049, and never past the CA', () => {
  const longCa = createCertificateAuthority({ validDays: 36_500 });
  const longCaCert = new X509Certificate(longCa.certPem);
  assertValidity(longCaCert, 36_500);
  assert.ok(new Date(longCaCert.validTo).getUTCFullYear() > 2050);
  const week = new X509Certificate(createNodeCertificate(longCa, { nodeId: 'n1', hosts: [], validDays: 7 }).certPem);
  assertValidity(week, 7);
  assert.ok(week.verify(longCaCert.publicKey));

  const shortCa = createCertificateAuthority({ validDays: 2 });
  const client = new X509Certificate(createClientCertificate(shortCa, { user: 'u1', validDays: 365 }).certPem);
  assert.equal(client.validTo, new X509Certificate(shortCa.certPem).validTo, 'cut to the CA’s end');
});

test('nodeCertificateHosts: the hosts, then the local names, each once', () => {
  assert.deepEqual(nodeCertificateHosts([]), ['localhost', '127.0.0.1', '::1']);
  assert.deepEqual(nodeCertificateHosts(['DB1.Example.com', '0:0:0:0:0:0:0:1', '10.0.0.5', '10.0.0.5', 'LOCALHOST']), [
    'db1.example.com', '0:0:0:0:0:0:0:1', '10.0.0.5', 'localhost', '127.0.0.1',
  ]);
});

test('mutual TLS between two nodes of one CA: both ends verify, and each learns the other’s node id', async (t) => {
  const result = await handshake(t, { server: node1, serverCa: ca, client: node2, clientCa: ca });
  assert.equal(result.clientError, undefined);
  assert.equal(result.serverError, undefined);
  assert.equal(result.received, 'hello');
  assert.deepEqual(result.clientSeenByServer, { role: 'node', name: 'node2' });
  assert.deepEqual(result.serverSeenByClient, { role: 'node', name: 'node1' });
});

test('mutual TLS with a client certificate: the server learns the user', async (t) => {
  const result = await handshake(t, { server: node1, serverCa: ca, client: admin, clientCa: ca });
  assert.equal(result.received, 'hello');
  assert.deepEqual(result.clientSeenByServer, { role: 'client', name: 'admin' });
});

test('mutual TLS fails for a client certificate from another CA, even naming a member', async (t) => {
  const result = await handshake(t, { server: node1, serverCa: ca, client: foreignNode, clientCa: ca });
  assert.equal(result.received, '');
  assert.equal(result.clientSeenByServer, undefined);
  assert.ok(result.serverError !== undefined, 'the server refuses the handshake');
  assert.ok(result.clientError !== undefined || result.closedEarly, 'the client is turned away');
});

test('mutual TLS fails for a server certificate from another CA', async (t) => {
  const result = await handshake(t, { server: foreignNode, serverCa: otherCa, client: node1, clientCa: ca });
  assert.equal(result.received, '');
  assert.match(String(result.clientError), /self[- ]signed|unable to get local issuer|certificate/i);
});

test('mutual TLS fails for a client that presents no certificate', async (t) => {
  const result = await handshake(t, { server: node1, serverCa: ca, client: undefined, clientCa: ca });
  assert.equal(result.received, '');
  assert.match(String(result.serverError), /certificate/i);
});

test('HTTPS clients verify a node’s names with the default checkServerIdentity', async (t) => {
  const server = createHttpsServer({ key: node1.keyPem, cert: node1.certPem }, (_request, response) => response.end('ok'));
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  t.after(() => server.close());
  const port = (server.address() as AddressInfo).port;
  assert.equal(await httpsText({ host: '127.0.0.1', port, ca: ca.certPem }), 'ok', 'by IP address');
  assert.equal(await httpsText({ host: '127.0.0.1', port, ca: ca.certPem, servername: 'localhost' }), 'ok', 'by name');
  await assert.rejects(httpsText({ host: '127.0.0.1', port, ca: ca.certPem, servername: 'elsewhere.example' }), /ERR_TLS_CERT_ALTNAME_INVALID|does not match/);
  await assert.rejects(httpsText({ host: '127.0.0.1', port, ca: otherCa.certPem }), /unable to verify the first certificate|unable to get local issuer/);

  const peer = new X509Certificate(node1.certPem).toLegacyObject();
  for (const host of ['localhost', '127.0.0.1', '::1', 'db1.example.com', '10.0.0.5']) assert.equal(checkServerIdentity(host, peer), undefined, host);
  assert.ok(checkServerIdentity('db2.example.com', peer) instanceof Error);
});

test('certificateIdentity names nodes and clients, and nothing else', () => {
  assert.deepEqual(certificateIdentity(new X509Certificate(node1.certPem)), { role: 'node', name: 'node1' });
  assert.deepEqual(certificateIdentity(new X509Certificate(admin.certPem)), { role: 'client', name: 'admin' });
  assert.equal(certificateIdentity(caCert), undefined, 'the CA');
  assert.deepEqual(certificateIdentity({ subject: { O: 'shoal', OU: 'node', CN: 'n-1_x' } }), { role: 'node', name: 'n-1_x' });
  const foreign: readonly unknown[] = [
    undefined,
    'O=shoal\nOU=node\nCN=n1',
    {},
    { O: 'shoal', OU: 'ca', CN: 'n1' },
    { O: 'other', OU: 'node', CN: 'n1' },
    { OU: 'node', CN: 'n1' },
    { O: 'shoal', OU: 'node' },
    { O: 'shoal', OU: 'node', CN: 'bad name' },
    { O: 'shoal', OU: 'node', CN: '' },
    { O: 'shoal', OU: 'node', CN: 'x'.repeat(65) },
    { O: 'shoal', OU: 'Node', CN: 'n1' },
    { O: 'shoal', OU: 'node', CN: 'n1', L: 'here' },
    { O: 'shoal', OU: ['node', 'client'], CN: 'n1' },
    { O: 'shoal', OU: 'node', CN: ['n1', 'n2'] },
  ];
  for (const subject of foreign) assert.equal(certificateIdentity({ subject }), undefined, JSON.stringify(subject));
});

test('bad inputs throw a CertificateError naming the value', () => {
  for (const nodeId of ['bad id', '../etc', '', 'x'.repeat(65), 'n.1']) {
    assertFails(() => createNodeCertificate(ca, { nodeId, hosts: [] }), 'NAME_INVALID', `node id ${JSON.stringify(nodeId)}`);
  }
  assertFails(() => createClientCertificate(ca, { user: 'a b' }), 'NAME_INVALID', /user name "a b"/);
  for (const host of ['bad_host', 'a..b', '-a.example', '256.1.1.1', 'fe80::1%eth0', '', 'host name']) {
    assertFails(() => createNodeCertificate(ca, { nodeId: 'n1', hosts: ['ok.example', host] }), 'HOST_INVALID', `host ${JSON.stringify(host)} is not a DNS name or an IP address`);
  }
  assertFails(() => createNodeCertificate(ca, { nodeId: 'n1', hosts: ['[::1]'] }), 'HOST_INVALID', /"\[::1\]".*without brackets/);
  assertFails(() => createNodeCertificate(ca, { nodeId: 'n1', hosts: Array.from({ length: 101 }, (_, i) => `h${i}.example`) }), 'HOSTS_TOO_MANY', /at most 100 hosts, got 101/);
  for (const validDays of [0, -1, 1.5, 36_501, Number.NaN]) {
    assertFails(() => createClientCertificate(ca, { user: 'u', validDays }), 'VALID_DAYS_INVALID', `1-36500, got ${String(validDays)}`);
  }
  assertFails(() => createCertificateAuthority({ validDays: 0 }), 'VALID_DAYS_INVALID', /got 0/);
  assertFails(() => createCertificateAuthority({ commonName: '' }), 'COMMON_NAME_INVALID', /common name ""/);
  assertFails(() => createCertificateAuthority({ commonName: 'a\nb' }), 'COMMON_NAME_INVALID', /common name "a\\nb"/);
});

test('a CA that cannot sign is refused before anything is signed', () => {
  assertFails(() => createNodeCertificate({ certPem: ca.certPem, keyPem: otherCa.keyPem }, { nodeId: 'n1', hosts: [] }), 'CA_KEY_MISMATCH', /CA key does not belong to the CA certificate \(O=shoal, OU=ca, CN=shoal cluster CA\)/);
  assertFails(() => createNodeCertificate(node1, { nodeId: 'n1', hosts: [] }), 'CA_CERTIFICATE_INVALID', /O=shoal, OU=node, CN=node1 is not a CA certificate/);
  assertFails(() => createClientCertificate({ certPem: 'not a certificate', keyPem: ca.keyPem }, { user: 'u' }), 'CA_CERTIFICATE_INVALID', /not a PEM X\.509 certificate/);
  assertFails(() => createClientCertificate({ certPem: ca.certPem, keyPem: 'not a key' }, { user: 'u' }), 'CA_KEY_INVALID', /not a PEM private key/);
});

test('openssl verify accepts the certificates', (t) => {
  if (spawnSync('sh', ['-c', 'command -v openssl']).status !== 0) {
    t.skip('openssl is not installed (apt-get install openssl): not checked against the openssl command');
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'shoal-certificates-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const write = (name: string, pem: string) => {
    writeFileSync(join(dir, name), pem);
    return join(dir, name);
  };
  const caFile = write('ca.crt', ca.certPem);
  const nodeFile = write('node1.crt', node1.certPem);
  const clientFile = write('admin.crt', admin.certPem);
  const verify = (...args: string[]) => execFileSync('openssl', ['verify', '-x509_strict', '-CAfile', caFile, ...args], { encoding: 'utf8' });
  assert.match(verify('-purpose', 'sslserver', nodeFile), /node1\.crt: OK/);
  assert.match(verify('-purpose', 'sslclient', nodeFile, clientFile), /node1\.crt: OK\n.*admin\.crt: OK/);
  const foreign = spawnSync('openssl', ['verify', '-CAfile', caFile, write('foreign.crt', foreignNode.certPem)], { encoding: 'utf8' });
  assert.notEqual(foreign.status, 0, 'a certificate of another CA');
});

// ---- helpers ----

interface HandshakeResult {
  /** What the server sent once the handshake was done ('' when it was not). */
  readonly received: string;
  readonly clientError: Error | undefined;
  readonly serverError: Error | undefined;
  /** The connection closed before the server said hello. */
  readonly closedEarly: boolean;
  readonly clientSeenByServer: ReturnType<typeof certificateIdentity>;
  readonly serverSeenByClient: ReturnType<typeof certificateIdentity>;
}

/** One mutual TLS connection on loopback, as the transport will make them. */
async function handshake(
  t: TestContext,
  ends: { server: CertificateAndKey; serverCa: CertificateAndKey; client: CertificateAndKey | undefined; clientCa: CertificateAndKey },
): Promise<HandshakeResult> {
  let serverError: Error | undefined;
  let clientSeenByServer: ReturnType<typeof certificateIdentity>;
  let serverDone: () => void = () => undefined;
  const serverFinished = new Promise<void>((done) => (serverDone = done));
  const server = createServer({ key: ends.server.keyPem, cert: ends.server.certPem, ca: ends.serverCa.certPem, requestCert: true, rejectUnauthorized: true }, (socket) => {
    clientSeenByServer = certificateIdentity(socket.getPeerCertificate());
    socket.end('hello');
    serverDone();
  });
  server.on('tlsClientError', (error) => {
    serverError = error;
    serverDone();
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  t.after(() => server.close());
  const port = (server.address() as AddressInfo).port;

  const identity = ends.client === undefined ? {} : { key: ends.client.keyPem, cert: ends.client.certPem };
  const client: TLSSocket = connect({ host: '127.0.0.1', port, ca: ends.clientCa.certPem, ...identity, checkServerIdentity: () => undefined });
  let received = '';
  let clientError: Error | undefined;
  let serverSeenByClient: ReturnType<typeof certificateIdentity>;
  client.setEncoding('utf8').on('data', (chunk: string) => (received += chunk));
  client.on('secureConnect', () => (serverSeenByClient = certificateIdentity(client.getPeerCertificate() as PeerCertificate)));
  client.on('error', (error) => (clientError = error));
  await new Promise<void>((done) => client.on('close', () => done()));
  await Promise.race([serverFinished, new Promise((done) => setTimeout(done, 5000))]);
  return { received, clientError, serverError, closedEarly: received === '', clientSeenByServer, serverSeenByClient };
}

function httpsText(options: { host: string; port: number; ca: string; servername?: string }): Promise<string> {
  return new Promise((resolve, reject) => {
    const request = httpsGet({ ...options, path: '/', agent: false }, (response) => {
      let body = '';
      response.setEncoding('utf8').on('data', (chunk: string) => (body += chunk)).on('end', () => resolve(body));
    });
    request.on('error', reject);
  });
}
