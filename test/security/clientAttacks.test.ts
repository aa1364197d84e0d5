/**
 * Attacks on the client ports of a secure node (issue 14), started as an operator would:
 * the TLS files and a users file in its config. HTTP and RESP without credentials, with
 * wrong ones and with a role too low; a cross-origin admin POST; plain connections to the
 * TLS ports; client-coordinated mode without its certificate. Each is refused with nothing
 * stored or deleted and a log line naming the source; the legitimate requests beside them
 * still work.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { hashPassword } from '../../src/api/auth/passwords.ts';
import { saveUsersFile } from '../../src/api/auth/usersFile.ts';
import { ShoalClient } from '../../src/client/shoalClient.ts';
import { createCertificateAuthority, createClientCertificate, createNodeCertificate } from '../../src/io/certificates.ts';
import { startNodeRuntime, type NodeRuntime } from '../../src/io/runtime.ts';
import { nodeConfigFrom } from '../../src/node/config.ts';
import { freePort } from '../support/shoalProcess.ts';
import { ADMIN, basic, READER, recordingLogger, send, WRITER, type Answer } from '../api/authSupport.ts';

const T = { timeout: 60_000 };
const enc = new TextEncoder();
const ca = createCertificateAuthority();
const dir = mkdtempSync(join(tmpdir(), 'shoal-client-attacks-'));
const logger = recordingLogger();
let runtime: NodeRuntime;
let url: string;
let respPort: number;
let respTlsPort: number;

before(async () => {
  const own = createNodeCertificate(ca, { nodeId: 'a', hosts: [] });
  const files = { tlsCa: join(dir, 'ca.crt'), tlsCert: join(dir, 'a.crt'), tlsKey: join(dir, 'a.key'), usersFile: join(dir, 'users.json') };
  writeFileSync(files.tlsCa, ca.certPem);
  writeFileSync(files.tlsCert, own.certPem);
  writeFileSync(files.tlsKey, own.keyPem, { mode: 0o600 });
  const users = await Promise.all([READER, WRITER, ADMIN].map(async (user) => ({ name: user.name, role: user.role, password: await hashPassword(user.password) })));
  saveUsersFile(files.usersFile, { version: 1, users });
  respPort = await freePort();
  respTlsPort = await freePort();
  const listen = await freePort();
  const config = nodeConfigFrom({
    id: 'a', engine: 'memory', http: '127.0.0.1:0', listen: `127.0.0.1:${listen}`, resp: `127.0.0.1:${respPort}`, respTls: `127.0.0.1:${respTlsPort}`, logLevel: 'silent', ...files,
  });
  runtime = await startNodeRuntime({ config, logger });
  url = runtime.httpUrl;
  await runtime.node.put(enc.encode('kept'), { value: enc.encode('original'), contentType: 'text/plain' });
});

after(async () => {
  await runtime.stop();
  rmSync(dir, { recursive: true, force: true });
});

const caPem = ca.certPem;

function stored(key: string): string | undefined {
  const local = runtime.node.localVersions(enc.encode(key));
  const live = local?.object.siblings.filter((sibling) => !sibling.deleted) ?? [];
  return live.length === 0 ? undefined : Buffer.from(live[0]?.value ?? new Uint8Array()).toString('utf8');
}

function assertRefused(answer: Answer, status: number, code: string): void {
  assert.equal(answer.status, status, answer.body.toString());
  assert.equal(answer.json().code, code);
}

/** A warning naming the source address was logged for `code`. */
function assertLogged(pattern: RegExp): void {
  assert.ok(
    logger.warnings.some((w) => pattern.test(w.message) && /127\.0\.0\.1/.test(JSON.stringify(w.fields))),
    `no warning matching ${pattern} with the source address; got ${JSON.stringify(logger.warnings.map((w) => w.message))}`,
  );
}

describe('client port attacks (HTTPS, RESP, client-coordinated mode)', () => {
  it('HTTP: no credentials, wrong ones, a role too low: 401/403, nothing stored or deleted, logged', T, async () => {
    assertRefused(await send(url, 'PUT', '/kv/evil', { ca: caPem, body: 'x' }), 401, 'UNAUTHENTICATED');
    assertRefused(await send(url, 'PUT', '/kv/evil', { ca: caPem, body: 'x', headers: basic({ name: WRITER.name, password: 'guess' }) }), 401, 'UNAUTHENTICATED');
    assertRefused(await send(url, 'GET', '/kv/kept', { ca: caPem }), 401, 'UNAUTHENTICATED');
    assertRefused(await send(url, 'PUT', '/kv/evil', { ca: caPem, body: 'x', headers: basic(READER) }), 403, 'FORBIDDEN');
    assertRefused(await send(url, 'DELETE', '/kv/kept', { ca: caPem, headers: basic(READER) }), 403, 'FORBIDDEN');
    assertRefused(await send(url, 'POST', '/admin/remove', { ca: caPem, body: '{"id":"a"}', headers: { ...basic(WRITER), 'content-type': 'application/json' } }), 403, 'FORBIDDEN');
    assertRefused(await send(url, 'GET', '/admin/status', { ca: caPem, headers: basic(READER) }), 403, 'FORBIDDEN');
    assert.equal(stored('evil'), undefined);
    assert.equal(stored('kept'), 'original');
    assertLogged(/refused http request/);
    const read = await send(url, 'GET', '/kv/kept', { ca: caPem, headers: basic(READER) });
    assert.equal(read.status, 200, 'a reader reads');
    assert.equal(read.body.toString(), 'original');
  });

  it('HTTP: a cross-origin admin POST with valid credentials is refused (a web page driving the node)', T, async () => {
    const headers = { ...basic(ADMIN), 'content-type': 'application/json', origin: 'https://evil.example' };
    assertRefused(await send(url, 'POST', '/admin/remove', { ca: caPem, body: '{"id":"a"}', headers }), 403, 'CROSS_ORIGIN');
    assertRefused(await send(url, 'PUT', '/kv/evil', { ca: caPem, body: 'x', headers: { ...basic(ADMIN), origin: 'https://evil.example' } }), 403, 'CROSS_ORIGIN');
    assertRefused(await send(url, 'POST', '/admin/leave', { ca: caPem, body: '{}', headers: { ...basic(ADMIN), 'content-type': 'text/plain' } }), 415, 'UNSUPPORTED_MEDIA_TYPE');
    assert.equal(runtime.node.status().cluster.members.length, 1);
    assert.equal(stored('evil'), undefined);
    assertLogged(/refused http request/);
  });

  it('HTTP: plain HTTP to the HTTPS port, and a client that does not trust the CA, get nothing', T, async () => {
    await assert.rejects(send(url.replace('https:', 'http:'), 'GET', '/kv/kept'));
    await assert.rejects(send(url, 'GET', '/kv/kept', { headers: basic(READER) }), /certificate/);
  });

  it('RESP: NOAUTH, WRONGPASS and NOPERM, nothing stored, logged; AUTH then the role decides', T, async (t) => {
    const options = { host: '127.0.0.1', lazyConnect: true, enableReadyCheck: false, maxRetriesPerRequest: 0, retryStrategy: () => null, commandTimeout: 10_000 } as const;
    const anonymous = new Redis({ ...options, port: respPort });
    anonymous.on('error', () => undefined);
    t.after(() => anonymous.disconnect());
    await anonymous.connect();
    await assert.rejects(anonymous.set('evil', 'x'), /NOAUTH/);
    await assert.rejects(anonymous.get('kept'), /NOAUTH/);
    await assert.rejects(anonymous.call('AUTH', WRITER.name, 'guess'), /WRONGPASS/);
    assert.equal(await anonymous.call('AUTH', READER.name, READER.password), 'OK');
    assert.equal(await anonymous.get('kept'), 'original');
    await assert.rejects(anonymous.set('evil', 'x'), /NOPERM/);
    await assert.rejects(anonymous.del('kept'), /NOPERM/);
    assert.equal(stored('evil'), undefined);
    assert.equal(stored('kept'), 'original');
    for (const pattern of [/not authenticated/, /AUTH: wrong user name or password/, /role too low/]) assertLogged(pattern);
  });

  it('RESP over TLS: a writer writes; plain TCP to the TLS port gets nothing', T, async (t) => {
    const writer = new Redis({ host: '127.0.0.1', port: respTlsPort, tls: { ca: caPem }, username: WRITER.name, password: WRITER.password, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, commandTimeout: 10_000 });
    writer.on('error', () => undefined);
    t.after(() => writer.disconnect());
    await writer.connect();
    assert.equal(await writer.set('by-writer', 'sealed'), 'OK');
    assert.equal(stored('by-writer'), 'sealed');
    const plain = new Redis({ host: '127.0.0.1', port: respTlsPort, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: 2000, commandTimeout: 2000 });
    plain.on('error', () => undefined);
    t.after(() => plain.disconnect());
    await assert.rejects(plain.connect().then(() => plain.get('kept')));
  });

  it('client-coordinated mode: with its client certificate it reads and writes; without one the node refuses it', T, async (t) => {
    const own = createClientCertificate(ca, { user: 'app' });
    const client = new ShoalClient({ nodes: [url], mode: 'client', ca: caPem, auth: { user: WRITER.name, password: WRITER.password }, certificate: { cert: own.certPem, key: own.keyPem }, timeoutMs: 5000 });
    t.after(() => client.close());
    await client.put('from-direct', 'yes');
    assert.equal(stored('from-direct'), 'yes');
    const read = await client.get('kept');
    assert.ok(read.kind === 'value');
    assert.equal(Buffer.from(read.value).toString('utf8'), 'original');
    const bare = new ShoalClient({ nodes: [url], mode: 'client', ca: caPem, auth: { user: WRITER.name, password: WRITER.password }, timeoutMs: 1500 });
    t.after(() => bare.close());
    await assert.rejects(bare.put('without-certificate', 'no'));
    assert.equal(stored('without-certificate'), undefined);
    assertLogged(/internode TLS handshake refused/);
  });
});
