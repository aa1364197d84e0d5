/**
 * The Redis front end with users (AUTH, HELLO … AUTH, NOAUTH, WRONGPASS, NOPERM by role)
 * and over TLS, on a live in-process node, driven by raw sockets and ioredis.
 */
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { Redis } from 'ioredis';
import { Authenticator } from '../../src/api/auth/authenticator.ts';
import { hashPassword } from '../../src/api/auth/passwords.ts';
import { respLimitsOf, startRespServer, type RespServer } from '../../src/api/resp/server.ts';
import type { TlsFiles } from '../../src/api/tls.ts';
import { silentLogger, type Logger } from '../../src/ports/logger.ts';
import { ADMIN, READER, recordingLogger, testCertificate, testUsers, WRITER } from './authSupport.ts';
import { encodeCommand, RawClient, RespError, type RespValue } from './respSupport.ts';
import { startTestNode } from './testNode.ts';

const NOAUTH = 'NOAUTH Authentication required.';
const WRONGPASS = 'WRONGPASS invalid username-password pair or user is disabled.';
const DEFAULT_PASSWORD = 'default-secret-1';

let withDefault: Promise<Authenticator> | undefined;

/** READER, WRITER, ADMIN and a user named `default` (for one-argument AUTH). */
function authenticator(): Promise<Authenticator> {
  withDefault ??= (async () => new Authenticator([...(await testUsers()), { name: 'default', role: 'readwrite', password: await hashPassword(DEFAULT_PASSWORD) }]))();
  return withDefault;
}

async function serve(t: TestContext, options: { auth?: Authenticator; tls?: TlsFiles; logger?: Logger } = {}): Promise<RespServer> {
  const node = await startTestNode();
  t.after(() => node.stop());
  const server = await startRespServer({
    node: node.runtime.node,
    listen: { host: '127.0.0.1', port: 0 },
    limits: respLimitsOf(node.config.valueBytesMax, 0, undefined),
    logger: options.logger ?? silentLogger,
    auth: options.auth ?? (await authenticator()),
    tls: options.tls,
  });
  t.after(() => server.close());
  return server;
}

async function raw(t: TestContext, port: number): Promise<RawClient> {
  const client = await RawClient.open(port);
  t.after(() => client.close());
  return client;
}

/** Sends the commands in one write (one pipeline) and returns their replies. */
async function pipeline(client: RawClient, ...commands: string[][]): Promise<RespValue[]> {
  const before = (await client.replies(0)).length;
  client.send(Buffer.concat(commands.map((command) => encodeCommand(command))));
  return (await client.replies(before + commands.length)).slice(before);
}

function errors(values: readonly RespValue[]): (string | RespValue)[] {
  return values.map((value) => (value instanceof RespError ? value.text : Buffer.isBuffer(value) ? value.toString() : value));
}

test('before AUTH only AUTH, HELLO … AUTH and QUIT run: everything else, unknown commands too, is NOAUTH', async (t) => {
  const server = await serve(t);
  const client = await raw(t, server.port);
  const replies = await pipeline(client, ['PING'], ['GET', 'k'], ['SET', 'k', 'v'], ['NOSUCH'], ['CONFIG', 'GET', 'save'], ['HELLO', '2']);
  assert.deepEqual(errors(replies.slice(0, 5)), [NOAUTH, NOAUTH, NOAUTH, NOAUTH, NOAUTH]);
  assert.match(errors(replies).at(-1) as string, /^NOAUTH HELLO must be called with the client already authenticated/);
  client.send(encodeCommand(['QUIT']));
  assert.deepEqual((await client.closed()).at(-1), 'OK');
});

test('a wrong user or password is WRONGPASS and leaves the connection unauthenticated', async (t) => {
  const logger = recordingLogger();
  const server = await serve(t, { logger });
  const client = await raw(t, server.port);
  const replies = await pipeline(client, ['AUTH', WRITER.name, 'not-the-password'], ['GET', 'k'], ['AUTH', 'nobody', WRITER.password], ['AUTH', WRITER.password], ['AUTH', 'a', 'b', 'c']);
  assert.deepEqual(errors(replies), [WRONGPASS, NOAUTH, WRONGPASS, WRONGPASS, 'ERR syntax error']);
  const line = logger.warnings.find((warning) => warning.fields.kind === 'WRONGPASS');
  assert.ok(line !== undefined, 'the failed AUTH is logged');
  assert.equal(line.fields.user, WRITER.name);
  assert.equal(line.fields.from, '127.0.0.1');
  assert.doesNotMatch(logger.everything(), /not-the-password/);
});

test('AUTH user password, then GET and SET; AUTH password is user default; commands pipelined after AUTH wait for it', async (t) => {
  const server = await serve(t);
  const client = await raw(t, server.port);
  const replies = await pipeline(
    client,
    ['AUTH', WRITER.name, 'wrong-one'],
    ['SET', 'fruit', 'pear'],
    ['AUTH', WRITER.name, WRITER.password],
    ['SET', 'fruit', 'apple'],
    ['GET', 'fruit'],
  );
  assert.deepEqual(errors(replies), [WRONGPASS, NOAUTH, 'OK', 'OK', 'apple']);
  const other = await raw(t, server.port);
  assert.deepEqual(errors(await pipeline(other, ['AUTH', DEFAULT_PASSWORD], ['GET', 'fruit'])), ['OK', 'apple']);
  assert.deepEqual(errors(await pipeline(other, ['AUTH', READER.name, 'wrong'], ['GET', 'fruit'])), [WRONGPASS, 'apple'], 'a failed AUTH keeps the user it had');
});

test('HELLO 2 AUTH user password SETNAME name authenticates and names; HELLO 3 is NOPROTO and changes nothing', async (t) => {
  const server = await serve(t);
  const client = await raw(t, server.port);
  const refused = await pipeline(client, ['HELLO', '3', 'AUTH', WRITER.name, WRITER.password], ['GET', 'k'], ['HELLO', '2', 'AUTH', WRITER.name, 'wrong', 'SETNAME', 'bad'], ['GET', 'k']);
  assert.deepEqual(errors(refused), ['NOPROTO unsupported protocol version (Shoal speaks RESP2 only)', NOAUTH, WRONGPASS, NOAUTH]);
  const [hello, name, read] = await pipeline(client, ['HELLO', '2', 'AUTH', WRITER.name, WRITER.password, 'SETNAME', 'cart-service'], ['CLIENT', 'GETNAME'], ['GET', 'k']);
  assert.ok(Array.isArray(hello), `HELLO answers its map: ${JSON.stringify(hello)}`);
  assert.equal(String(hello[1]), 'redis');
  assert.equal(String(name), 'cart-service');
  assert.equal(read, null);
});

test('roles: a read user may GET, MGET, EXISTS, INFO but not SET, DEL, MSET (NOPERM, nothing stored); CONFIG needs admin', async (t) => {
  const server = await serve(t);
  const writer = await raw(t, server.port);
  assert.deepEqual(errors(await pipeline(writer, ['AUTH', WRITER.name, WRITER.password], ['SET', 'k', 'v1'])), ['OK', 'OK']);
  const reader = await raw(t, server.port);
  const replies = await pipeline(
    reader,
    ['AUTH', READER.name, READER.password],
    ['GET', 'k'],
    ['SET', 'k', 'v2'],
    ['DEL', 'k'],
    ['MSET', 'k', 'v3', 'other', 'v4'],
    ['SHOAL.PUT', 'k', '', 'v5'],
    ['EXISTS', 'k', 'other'],
    ['GET', 'k'],
    ['CONFIG', 'GET', 'maxclients'],
  );
  assert.deepEqual(errors(replies.slice(0, 8)), [
    'OK',
    'v1',
    "NOPERM this user has no permissions to run the 'set' command",
    "NOPERM this user has no permissions to run the 'del' command",
    "NOPERM this user has no permissions to run the 'mset' command",
    "NOPERM this user has no permissions to run the 'shoal.put' command",
    1,
    'v1',
  ]);
  assert.equal(errors(replies)[8], "NOPERM this user has no permissions to run the 'config' command");
  const [info, mget] = await pipeline(reader, ['INFO', 'server'], ['MGET', 'k', 'other']);
  assert.ok(Buffer.isBuffer(info), 'INFO is a read');
  assert.deepEqual(mget, [Buffer.from('v1'), null]);
  const admin = await raw(t, server.port);
  const [, config] = await pipeline(admin, ['AUTH', ADMIN.name, ADMIN.password], ['CONFIG', 'GET', 'maxclients']);
  assert.ok(Array.isArray(config) && String(config[0]) === 'maxclients', JSON.stringify(config));
});

test('ioredis with username and password; without them every command is refused', async (t) => {
  const server = await serve(t);
  const redis = new Redis({ host: '127.0.0.1', port: server.port, username: WRITER.name, password: WRITER.password, retryStrategy: () => null, maxRetriesPerRequest: 0, commandTimeout: 10_000 });
  redis.on('error', () => undefined);
  t.after(() => redis.disconnect());
  assert.equal(await redis.set('greeting', 'hello'), 'OK');
  assert.equal(await redis.get('greeting'), 'hello');
  const anonymous = new Redis({ host: '127.0.0.1', port: server.port, retryStrategy: () => null, maxRetriesPerRequest: 0, commandTimeout: 10_000, enableReadyCheck: false });
  anonymous.on('error', () => undefined);
  t.after(() => anonymous.disconnect());
  await assert.rejects(anonymous.get('greeting'), /NOAUTH/);
});

test('RESP over TLS: ioredis trusting the CA, with AUTH; a raw TLS socket; plain TCP to the TLS port gets nothing', async (t) => {
  const certificate = testCertificate();
  const server = await serve(t, { tls: certificate });
  const redis = new Redis({ host: '127.0.0.1', port: server.port, tls: { ca: certificate.ca }, username: ADMIN.name, password: ADMIN.password, retryStrategy: () => null, maxRetriesPerRequest: 0, commandTimeout: 10_000 });
  redis.on('error', () => undefined);
  t.after(() => redis.disconnect());
  assert.equal(await redis.set('secret', 'sealed'), 'OK');
  assert.equal(await redis.get('secret'), 'sealed');
  const overTls = await RawClient.openTls(server.port, Buffer.from(certificate.ca));
  t.after(() => overTls.close());
  assert.deepEqual(errors(await pipeline(overTls, ['GET', 'secret'], ['AUTH', READER.name, READER.password], ['GET', 'secret'])), [NOAUTH, 'OK', 'sealed']);
  const plain = await raw(t, server.port);
  plain.send(encodeCommand(['PING']));
  assert.deepEqual(await plain.closed(), [], 'no RESP reply to a client that does not speak TLS');
});

test('an HTTP request sent to the Redis port (a web page\'s cross-protocol POST) closes the connection before its body runs', async (t) => {
  const logger = recordingLogger();
  const node = await startTestNode();
  t.after(() => node.stop());
  const server = await startRespServer({ node: node.runtime.node, listen: { host: '127.0.0.1', port: 0 }, limits: respLimitsOf(node.config.valueBytesMax, 0, undefined), logger });
  t.after(() => server.close());
  for (const request of ['POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/plain\r\n\r\nSET pwned yes\r\n', 'Host: 127.0.0.1\r\nSET pwned yes\r\n']) {
    const client = await raw(t, server.port);
    client.send(request);
    assert.deepEqual(errors(await client.closed()), ['ERR an HTTP request is not a Redis command; closing the connection']);
  }
  assert.ok(logger.warnings.some((warning) => warning.fields.kind === 'HTTP_REQUEST' && warning.fields.from === '127.0.0.1'));
  const check = await raw(t, server.port);
  assert.deepEqual(errors(await pipeline(check, ['EXISTS', 'pwned'])), [0], 'the body never ran');
});
