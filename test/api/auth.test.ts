/**
 * Client authentication and the browser protections of the HTTP API: the users file, the
 * password hashes, the Authenticator's cache and bounds, and the guard in front of every
 * route (api/auth/httpGuard.ts) over HTTP and HTTPS.
 */
import assert from 'node:assert/strict';
import { Agent, request as httpRequest } from 'node:http';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { Authenticator, AuthenticatorBusyError, SCRYPT_IN_FLIGHT_MAX } from '../../src/api/auth/authenticator.ts';
import { requiredRole } from '../../src/api/auth/httpGuard.ts';
import { formatHash, hashPassword, parsePasswordHash, verifyPassword } from '../../src/api/auth/passwords.ts';
import { REFUSAL_LOG_INTERVAL_MS } from '../../src/io/refusalLog.ts';
import { roleAllows, ROLES } from '../../src/api/auth/roles.ts';
import { loadUsersFile, UsersFileError, type UserEntry } from '../../src/api/auth/usersFile.ts';
import { createClient } from '../../src/client/index.ts';
import { ADMIN, basic, READER, recordingLogger, testCertificate, send, serveApi, testAuthenticator, testUsers, WRITER, type Answer } from './authSupport.ts';
import { startTestNode, type TestNode } from './testNode.ts';

async function node(t: TestContext): Promise<TestNode> {
  const started = await startTestNode();
  t.after(() => started.stop());
  return started;
}

function tempDir(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'shoal-auth-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A verify that answers from a table, counting its calls (no scrypt). */
function countingVerify(passwords: Readonly<Record<string, string>>) {
  const calls: string[] = [];
  const verify = async (password: string, encoded: string): Promise<boolean> => {
    calls.push(password);
    return passwords[encoded] === password;
  };
  return { calls, verify };
}

const FAKE_USERS: UserEntry[] = [
  { name: 'alice', role: 'readwrite', password: 'hash-of-alice' },
  { name: 'bob', role: 'read', password: 'hash-of-bob' },
];
const FAKE_PASSWORDS = { 'hash-of-alice': 'alice-pw', 'hash-of-bob': 'bob-pw' };

function assertRefused(answer: Answer, status: number, code: string): void {
  assert.equal(answer.status, status, answer.body.toString());
  assert.equal(answer.json().code, code);
  assert.equal(typeof answer.json().error, 'string');
}

// --- roles, hashes, the users file -------------------------------------------------------

test('roles: read < readwrite < admin', () => {
  const allowed = ROLES.flatMap((role) => ROLES.filter((needed) => roleAllows(role, needed)).map((needed) => `${role}>=${needed}`));
  assert.deepEqual(allowed, ['read>=read', 'readwrite>=read', 'readwrite>=readwrite', 'admin>=read', 'admin>=readwrite', 'admin>=admin']);
});

test('hashPassword: scrypt N=2^15 r=8 p=1, a 16-byte salt, a 32-byte key; verifies that password and no other', async () => {
  const [first, second] = await Promise.all([hashPassword('correct horse'), hashPassword('correct horse')]);
  assert.match(first, /^scrypt\$32768\$8\$1\$[A-Za-z0-9+/]+=*\$[A-Za-z0-9+/]+=*$/);
  const parsed = parsePasswordHash(first);
  assert.ok(parsed.ok);
  assert.equal(parsed.hash.salt.length, 16);
  assert.equal(parsed.hash.key.length, 32);
  assert.notEqual(first, second, 'a random salt per hash');
  assert.equal(await verifyPassword('correct horse', first), true);
  assert.equal(await verifyPassword('correct horse!', first), false);
  assert.equal(await verifyPassword('correct horse', 'scrypt$oops'), false, 'a malformed hash matches nothing');
});

test('a stored hash may not ask for unbounded work or memory', () => {
  const salt = Buffer.alloc(16, 1);
  const key = Buffer.alloc(32, 2);
  const reasons = [
    formatHash({ n: 2 ** 24, r: 8, p: 1, salt, key }),
    formatHash({ n: 3000, r: 8, p: 1, salt, key }),
    formatHash({ n: 2 ** 20, r: 32, p: 1, salt, key }),
    formatHash({ n: 2 ** 15, r: 16, p: 16, salt, key }),
    formatHash({ n: 2 ** 15, r: 8, p: 1, salt: Buffer.alloc(2), key }),
    'bcrypt$2b$10$abc',
  ].map((encoded) => {
    const parsed = parsePasswordHash(encoded);
    assert.ok(!parsed.ok, encoded);
    return parsed.reason;
  });
  assert.match(reasons[0] ?? '', /N must be a power of two/);
  assert.match(reasons[1] ?? '', /N must be a power of two/);
  assert.match(reasons[2] ?? '', /MiB/);
  assert.match(reasons[3] ?? '', /N \* r \* p/);
  assert.match(reasons[4] ?? '', /salt must be/);
  assert.match(reasons[5] ?? '', /scrypt\$<N>/);
});

test('loadUsersFile: a valid file loads; an invalid one is refused naming the file and the entry', async (t) => {
  const dir = tempDir(t);
  const [valid] = await testUsers();
  assert.ok(valid !== undefined);
  const file = (name: string, contents: unknown): string => {
    const path = join(dir, name);
    writeFileSync(path, typeof contents === 'string' ? contents : JSON.stringify(contents));
    return path;
  };
  const good = file('good.json', { version: 1, users: [valid] });
  assert.deepEqual(loadUsersFile(good).users, [valid]);

  const cases: [string, unknown, RegExp][] = [
    ['not-json.json', '{"version": 1,', /not-json\.json is not JSON/],
    ['array.json', [], /array\.json: must hold a JSON object/],
    ['version.json', { version: 2, users: [] }, /version\.json: version must be 1/],
    ['role.json', { version: 1, users: [valid, { ...valid, name: 'bob', role: 'root' }] }, /role\.json: users\[1\] \("bob"\): role must be one of read, readwrite, admin/],
    ['hash.json', { version: 1, users: [{ ...valid, password: 'hunter2' }] }, /hash\.json: users\[0\] \("reader"\): password is not a valid hash: must be scrypt\$/],
    ['twice.json', { version: 1, users: [valid, valid] }, /twice\.json: users\[1\] \("reader"\): name is listed twice/],
    ['colon.json', { version: 1, users: [{ ...valid, name: 'a:b' }] }, /colon\.json: users\[0\] \("a:b"\): name must be 1-64 letters/],
    ['missing.json', { version: 1, users: [{ name: 'carol', role: 'read' }] }, /missing\.json: users\[0\] \("carol"\): password is missing/],
    ['extra.json', { version: 1, users: [], admins: [] }, /extra\.json: unknown field\(s\) admins/],
  ];
  for (const [name, contents, message] of cases) {
    const path = file(name, contents);
    assert.throws(() => loadUsersFile(path), (error: unknown) => error instanceof UsersFileError && message.test(error.message), name);
  }
  assert.throws(() => loadUsersFile(join(dir, 'absent.json')), /users file .*absent\.json cannot be read: ENOENT/);
});

// --- the Authenticator ---------------------------------------------------------------------

test('Authenticator: credentials verified once are remembered (no second scrypt) until their time is up; wrong ones never are', async () => {
  let nowMs = 1_000;
  const { calls, verify } = countingVerify(FAKE_PASSWORDS);
  const auth = new Authenticator(FAKE_USERS, { verify, nowMs: () => nowMs, credentialTtlMs: 60_000 });
  assert.equal(auth.verifiedRole('alice', 'alice-pw'), undefined, 'nothing remembered yet');
  assert.equal(await auth.authenticate('alice', 'alice-pw'), 'readwrite');
  assert.equal(await auth.authenticate('alice', 'alice-pw'), 'readwrite');
  assert.equal(auth.verifiedRole('alice', 'alice-pw'), 'readwrite');
  assert.equal(calls.length, 1, 'the second check is a cache hit');
  assert.equal(await auth.authenticate('alice', 'wrong'), undefined);
  assert.equal(await auth.authenticate('alice', 'wrong'), undefined);
  assert.equal(calls.length, 3, 'a wrong password is checked every time');
  assert.equal(await auth.authenticate('bob', 'alice-pw'), undefined, "another user's password");
  nowMs += 60_000;
  assert.equal(auth.verifiedRole('alice', 'alice-pw'), undefined, 'expired');
  assert.equal(await auth.authenticate('alice', 'alice-pw'), 'readwrite');
  assert.equal(calls.length, 5);
});

test('Authenticator: an unknown user costs a verification too (its time does not tell), and is refused', async () => {
  const { calls, verify } = countingVerify(FAKE_PASSWORDS);
  const auth = new Authenticator(FAKE_USERS, { verify });
  assert.equal(await auth.authenticate('mallory', 'alice-pw'), undefined);
  assert.equal(calls.length, 1);
  assert.equal(await auth.authenticate('alice', 'x'.repeat(2000)), undefined, 'an over-long password');
  assert.equal(calls.length, 1, 'is refused without hashing');
});

test('Authenticator: at most SCRYPT_IN_FLIGHT_MAX verifications at once, more are busy; checks of the same credentials share one', async () => {
  const pending: (() => void)[] = [];
  let calls = 0;
  const verify = (password: string, encoded: string): Promise<boolean> => {
    calls += 1;
    return new Promise((resolve) => pending.push(() => resolve((FAKE_PASSWORDS as Record<string, string>)[encoded] === password)));
  };
  const auth = new Authenticator(FAKE_USERS, { verify });
  const first = auth.authenticate('alice', 'alice-pw');
  const same = auth.authenticate('alice', 'alice-pw');
  const others = Array.from({ length: SCRYPT_IN_FLIGHT_MAX - 1 }, (_, index) => auth.authenticate('bob', `guess-${index}`));
  await assert.rejects(auth.authenticate('bob', 'one-too-many'), AuthenticatorBusyError);
  assert.equal(calls, SCRYPT_IN_FLIGHT_MAX);
  for (const release of pending.splice(0)) release();
  assert.equal(await first, 'readwrite');
  assert.equal(await same, 'readwrite');
  assert.deepEqual(await Promise.all(others), others.map(() => undefined));
  const again = auth.authenticate('bob', 'bob-pw');
  for (const release of pending.splice(0)) release();
  assert.equal(await again, 'read', 'room again once they finish');
});

test('Authenticator: remembers at most credentialsMax credentials, dropping the oldest', async () => {
  const users: UserEntry[] = Array.from({ length: 5 }, (_, index) => ({ name: `u${index}`, role: 'read', password: `hash-${index}` }));
  const { calls, verify } = countingVerify(Object.fromEntries(users.map((user, index) => [user.password, `pw-${index}`])));
  const auth = new Authenticator(users, { verify, credentialsMax: 3 });
  for (let index = 0; index < 5; index++) await auth.authenticate(`u${index}`, `pw-${index}`);
  assert.deepEqual(users.map((user, index) => auth.verifiedRole(user.name, `pw-${index}`) ?? '-'), ['-', '-', 'read', 'read', 'read']);
  assert.equal(calls.length, 5);
});

test('requiredRole: keys read/readwrite, the cluster map and metrics read, every other admin route admin, however spelled', () => {
  const cases: [string, string, string][] = [
    ['GET', '/kv/cart', 'read'],
    ['HEAD', '/kv/cart', 'read'],
    ['PUT', '/kv/cart', 'readwrite'],
    ['DELETE', '/kv/cart', 'readwrite'],
    ['POST', '/kv/cart', 'readwrite'],
    ['GET', '/kv/..', 'read'],
    ['GET', '/kv', 'read'],
    ['GET', '/admin/cluster', 'read'],
    ['GET', '/admin/dashboard', 'read'],
    ['GET', '/dashboard/dashboard.js', 'read'],
    ['POST', '/admin/dashboard', 'admin'],
    ['GET', '/metrics', 'read'],
    ['GET', '/', 'read'],
    ['GET', '/admin/status', 'admin'],
    ['GET', '/admin/ring', 'admin'],
    ['GET', '/admin/local/cart', 'admin'],
    ['POST', '/admin/remove', 'admin'],
    ['POST', '/admin/cluster', 'admin'],
    ['GET', '/%61dmin/status', 'admin'],
    ['GET', '/ADMIN/status', 'admin'],
    ['GET', '//admin/status', 'admin'],
    ['GET', '/kv/../admin/status', 'admin'],
    ['GET', '/kv/a/../../admin/status', 'admin'],
    ['GET', '/%E0%A4%A', 'admin'],
    ['POST', '/metrics', 'admin'],
  ];
  for (const [method, path, role] of cases) assert.equal(requiredRole(method, path), role, `${method} ${path}`);
});

// --- the HTTP API with users ---------------------------------------------------------------

test('HTTP with users: no credentials, a wrong password or an unknown user get 401 and store nothing', async (t) => {
  const n = await node(t);
  const url = await serveApi(t, n, { auth: await testAuthenticator() });
  const attempts: Record<string, string>[] = [
    {},
    basic({ name: WRITER.name, password: 'wrong' }),
    basic({ name: 'nobody', password: WRITER.password }),
    { authorization: 'Bearer abc' },
    { authorization: 'Basic !!!' },
  ];
  for (const headers of attempts) {
    const put = await send(url, 'PUT', '/kv/secret', { headers, body: 'x' });
    assertRefused(put, 401, 'UNAUTHENTICATED');
    assert.equal(put.headers['www-authenticate'], 'Basic realm="shoal", charset="UTF-8"');
    assertRefused(await send(url, 'GET', '/kv/secret', { headers }), 401, 'UNAUTHENTICATED');
    assertRefused(await send(url, 'GET', '/admin/status', { headers }), 401, 'UNAUTHENTICATED');
  }
  assert.equal((await send(n.url, 'GET', '/kv/secret')).status, 404, 'nothing was stored');
});

test('HTTP with users: a keep-alive connection that authenticated is judged again by each request\'s own header', async (t) => {
  const n = await node(t);
  const url = new URL(await serveApi(t, n, { auth: await testAuthenticator() }));
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  t.after(() => agent.destroy());
  const ask = (method: string, headers: Record<string, string>, body?: string) =>
    new Promise<{ status: number; socket: unknown }>((resolve, reject) => {
      const outgoing = httpRequest({ host: url.hostname, port: url.port, method, path: '/kv/shared', agent, headers }, (response) => {
        response.resume();
        response.on('end', () => resolve({ status: response.statusCode ?? 0, socket: outgoing.socket }));
      });
      outgoing.on('error', reject);
      outgoing.end(body);
    });
  // Each refused request follows one that authenticated on the same connection (a refusal may close it).
  for (const [headers, status, what] of [
    [basic({ name: WRITER.name, password: 'wrong' }), 401, 'a wrong password'],
    [basic(READER), 403, 'a lesser user'],
    [{}, 401, 'no header'],
  ] as const) {
    const before = await ask('PUT', basic(WRITER), 'by writer');
    assert.equal(before.status, 204);
    const after = await ask('PUT', headers, 'by someone else');
    assert.equal(after.status, status, `the same connection with ${what}`);
    assert.ok(before.socket === after.socket, `${what}: both requests went over one connection`);
  }
});

test('HTTP with users: read can GET but not PUT or DELETE; readwrite can; nothing stored by a refusal', async (t) => {
  const n = await node(t);
  const url = await serveApi(t, n, { auth: await testAuthenticator() });
  assertRefused(await send(url, 'PUT', '/kv/fruit', { headers: basic(READER), body: 'apple' }), 403, 'FORBIDDEN');
  assert.equal((await send(url, 'GET', '/kv/fruit', { headers: basic(READER) })).status, 404, 'a read user reads: nothing stored');
  const put = await send(url, 'PUT', '/kv/fruit', { headers: basic(WRITER), body: 'apple' });
  assert.equal(put.status, 204, put.body.toString());
  const read = await send(url, 'GET', '/kv/fruit', { headers: basic(READER) });
  assert.equal(read.status, 200);
  assert.equal(read.body.toString(), 'apple');
  const context = String(read.headers['x-shoal-context']);
  assertRefused(await send(url, 'DELETE', '/kv/fruit', { headers: { ...basic(READER), 'x-shoal-context': context } }), 403, 'FORBIDDEN');
  assert.equal((await send(url, 'GET', '/kv/fruit', { headers: basic(ADMIN) })).body.toString(), 'apple', 'still there; admin reads too');
  assert.equal((await send(url, 'DELETE', '/kv/fruit', { headers: { ...basic(WRITER), 'x-shoal-context': context } })).status, 204);
});

test('HTTP with users: /admin/status and POST /admin/remove need admin; /admin/cluster, /metrics and the dashboard need read', async (t) => {
  const n = await node(t);
  const url = await serveApi(t, n, { auth: await testAuthenticator() });
  const json = { 'content-type': 'application/json' };
  const removeBody = JSON.stringify({ id: 'nobody', dryRun: true });
  for (const user of [READER, WRITER]) {
    assertRefused(await send(url, 'GET', '/admin/status', { headers: basic(user) }), 403, 'FORBIDDEN');
    assertRefused(await send(url, 'POST', '/admin/remove', { headers: { ...basic(user), ...json }, body: removeBody }), 403, 'FORBIDDEN');
    assertRefused(await send(url, 'GET', '/admin/ring', { headers: basic(user) }), 403, 'FORBIDDEN');
    assertRefused(await send(url, 'GET', '/%61dmin/status', { headers: basic(user) }), 403, 'FORBIDDEN');
    assertRefused(await send(url, 'GET', '/kv/../admin/status', { headers: basic(user) }), 403, 'FORBIDDEN');
    assert.equal((await send(url, 'GET', '/admin/cluster', { headers: basic(user) })).status, 200);
    assert.equal((await send(url, 'GET', '/metrics', { headers: basic(user) })).status, 200);
    assert.equal((await send(url, 'GET', '/', { headers: basic(user) })).status, 200);
    assert.equal((await send(url, 'GET', '/admin/dashboard', { headers: basic(user) })).status, 200);
  }
  assertRefused(await send(url, 'GET', '/', {}), 401, 'UNAUTHENTICATED');
  assertRefused(await send(url, 'GET', '/admin/dashboard', {}), 401, 'UNAUTHENTICATED');
  assert.equal((await send(url, 'GET', '/admin/status', { headers: basic(ADMIN) })).status, 200);
  const remove = await send(url, 'POST', '/admin/remove', { headers: { ...basic(ADMIN), ...json }, body: removeBody });
  assert.equal(remove.status, 409, 'past the guard, the route itself answers');
  assert.equal(remove.json().code, 'unknown-member');
});

test('HTTP with users: refusals are logged with the source address and user, never the password, at most once per interval', async (t) => {
  const n = await node(t);
  const logger = recordingLogger();
  const url = await serveApi(t, n, { auth: await testAuthenticator(), logger });
  for (let attempt = 0; attempt < 3; attempt++) {
    assertRefused(await send(url, 'GET', '/kv/a', { headers: basic({ name: WRITER.name, password: `guess-number-${attempt}` }) }), 401, 'UNAUTHENTICATED');
  }
  const lines = logger.warnings.filter((warning) => warning.fields.code === 'UNAUTHENTICATED');
  assert.equal(lines.length, 1, `one line per ${REFUSAL_LOG_INTERVAL_MS} ms: ${JSON.stringify(logger.warnings)}`);
  assert.equal(lines[0]?.fields.user, WRITER.name);
  assert.equal(lines[0]?.fields.from, '127.0.0.1');
  assert.doesNotMatch(logger.everything(), /guess-number/);
});

test('HTTP with users: too many password checks at once is 503 AUTH_BUSY, and nothing is stored', async (t) => {
  const n = await node(t);
  let release: () => void = () => undefined;
  let started: () => void = () => undefined;
  const gate = new Promise<void>((resolve) => (release = resolve));
  const checking = new Promise<void>((resolve) => (started = resolve));
  const verify = async (): Promise<boolean> => {
    started();
    await gate;
    return false;
  };
  const auth = new Authenticator(await testUsers(), { verificationsInFlightMax: 1, verify });
  const url = await serveApi(t, n, { auth });
  const first = send(url, 'PUT', '/kv/k', { headers: basic({ name: 'writer', password: 'one' }), body: 'x' });
  await checking;
  assertRefused(await send(url, 'PUT', '/kv/k', { headers: basic({ name: 'writer', password: 'two' }), body: 'x' }), 503, 'AUTH_BUSY');
  release();
  assertRefused(await first, 401, 'UNAUTHENTICATED');
  assert.equal((await send(n.url, 'GET', '/kv/k')).status, 404);
});

// --- browser protections (with or without users) ---------------------------------------------

test('a cross-origin PUT, DELETE or admin POST is refused (403 CROSS_ORIGIN) and stores nothing; same-origin and GETs pass', async (t) => {
  const n = await node(t);
  const port = new URL(n.url).port;
  const evil = { origin: 'https://evil.example' };
  assertRefused(await send(n.url, 'PUT', '/kv/x', { headers: evil, body: 'pwned' }), 403, 'CROSS_ORIGIN');
  assertRefused(await send(n.url, 'PUT', '/kv/x', { headers: { 'sec-fetch-site': 'cross-site' }, body: 'pwned' }), 403, 'CROSS_ORIGIN');
  assertRefused(await send(n.url, 'PUT', '/kv/x', { headers: { origin: 'null' }, body: 'pwned' }), 403, 'CROSS_ORIGIN');
  assertRefused(await send(n.url, 'DELETE', '/kv/x', { headers: evil }), 403, 'CROSS_ORIGIN');
  assertRefused(await send(n.url, 'POST', '/admin/leave', { headers: { ...evil, 'content-type': 'application/json' }, body: '{"dryRun":false}' }), 403, 'CROSS_ORIGIN');
  assertRefused(await send(n.url, 'PUT', '/kv/x', { headers: { origin: `http://127.0.0.1:${Number(port) + 1}` }, body: 'pwned' }), 403, 'CROSS_ORIGIN');
  assert.equal((await send(n.url, 'GET', '/kv/x', { headers: evil })).status, 404, 'a read passes (CORS keeps the answer from the page); nothing stored');
  assert.equal((await send(n.url, 'PUT', '/kv/x', { headers: { origin: `http://127.0.0.1:${port}`, 'sec-fetch-site': 'same-origin' }, body: 'mine' })).status, 204);
  assert.equal((await send(n.url, 'GET', '/kv/x')).body.toString(), 'mine');
  const url = await serveApi(t, n, { auth: await testAuthenticator() });
  assertRefused(await send(url, 'PUT', '/kv/x', { headers: { ...basic(WRITER), ...evil }, body: 'pwned' }), 403, 'CROSS_ORIGIN');
  assert.equal((await send(n.url, 'GET', '/kv/x')).body.toString(), 'mine', 'valid credentials do not make a cross-origin write pass');
});

test('a node bound to loopback refuses a Host that is not a loopback name (403 BAD_HOST): DNS rebinding', async (t) => {
  const n = await node(t);
  const port = new URL(n.url).port;
  for (const host of ['evil.example', `evil.example:${port}`, `192.168.1.5:${port}`, `localhost.evil.example:${port}`]) {
    assertRefused(await send(n.url, 'GET', '/kv/x', { headers: { host } }), 403, 'BAD_HOST');
    assertRefused(await send(n.url, 'PUT', '/kv/x', { headers: { host }, body: 'pwned' }), 403, 'BAD_HOST');
    assertRefused(await send(n.url, 'GET', '/admin/status', { headers: { host } }), 403, 'BAD_HOST');
  }
  for (const host of [`localhost:${port}`, 'LOCALHOST', `127.0.0.1:${port}`, '127.1.2.3', `[::1]:${port}`]) {
    assert.equal((await send(n.url, 'GET', '/kv/x', { headers: { host } })).status, 404, host);
  }
});

test('an admin POST must send its body as application/json (415 otherwise); a key PUT takes any type', async (t) => {
  const n = await node(t);
  for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x']) {
    assertRefused(await send(n.url, 'POST', '/admin/leave', { headers: { 'content-type': type }, body: '{"dryRun":true}' }), 415, 'UNSUPPORTED_MEDIA_TYPE');
    assertRefused(await send(n.url, 'POST', '/%61dmin/remove', { headers: { 'content-type': type }, body: '{"id":"x","dryRun":true}' }), 415, 'UNSUPPORTED_MEDIA_TYPE');
  }
  assertRefused(await send(n.url, 'POST', '/admin/leave', { body: '{"dryRun":true}' }), 415, 'UNSUPPORTED_MEDIA_TYPE');
  const json = await send(n.url, 'POST', '/admin/remove', { headers: { 'content-type': 'application/json; charset=utf-8' }, body: '{"id":"nobody","dryRun":true}' });
  assert.equal(json.json().code, 'unknown-member', 'JSON reaches the route');
  assert.equal((await send(n.url, 'POST', '/admin/leave')).status, 400, 'no body at all: the route says what it needs');
  assert.equal((await send(n.url, 'PUT', '/kv/note', { headers: { 'content-type': 'text/plain' }, body: 'hi' })).status, 204);
});

// --- HTTPS ---------------------------------------------------------------------------------

test('HTTPS: the API answers over TLS to a client that trusts the CA, with users; the client library too', async (t) => {
  const certificate = testCertificate();
  const n = await node(t);
  const url = await serveApi(t, n, { auth: await testAuthenticator(), tls: certificate });
  assert.match(url, /^https:/);
  await assert.rejects(send(url, 'GET', '/kv/x', { headers: basic(READER) }), /certificate/, 'a client that does not trust the CA');
  await assert.rejects(send(url.replace('https:', 'http:'), 'GET', '/kv/x'), 'plain HTTP to the TLS port');
  assertRefused(await send(url, 'GET', '/kv/x', { ca: certificate.ca }), 401, 'UNAUTHENTICATED');
  assert.equal((await send(url, 'PUT', '/kv/x', { ca: certificate.ca, headers: basic(WRITER), body: 'over tls' })).status, 204);

  const localhostUrl = url.replace('127.0.0.1', 'localhost');
  const client = createClient({ nodes: [localhostUrl], auth: { user: READER.name, password: READER.password }, ca: certificate.ca });
  t.after(() => client.close());
  const read = await client.get('x');
  assert.equal(read.kind, 'value');
  assert.equal(read.kind === 'value' ? Buffer.from(read.value).toString() : '', 'over tls');
  await assert.rejects(client.put('x', 'nope', { context: read.context }), { code: 'FORBIDDEN', status: 403 });
  const stranger = createClient({ nodes: [localhostUrl], ca: certificate.ca, auth: { user: READER.name, password: 'wrong' } });
  t.after(() => stranger.close());
  await assert.rejects(stranger.get('x'), { code: 'UNAUTHENTICATED', status: 401 });
});

test('the client: https:// nodes and auth are accepted options; a user with ":" is not; client mode sends the credentials for /admin/cluster', async (t) => {
  assert.throws(() => createClient({ nodes: ['ftp://127.0.0.1:1'] }), /https:\/\/HOST:PORT/);
  assert.throws(() => createClient({ nodes: ['https://127.0.0.1:1'], auth: { user: 'a:b', password: 'x' } }), /auth\.user: must not contain ":"/);
  assert.throws(() => createClient({ nodes: ['https://127.0.0.1:1'], ca: 42 as unknown as string }), /ca: must be PEM text or a Buffer of it/);
  const seen: (string | undefined)[] = [];
  const server = createServer((request, response) => {
    seen.push(`${request.url} ${request.headers.authorization}`);
    response.writeHead(401, { 'content-type': 'application/json' }).end('{"error":"no","code":"UNAUTHENTICATED"}');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const client = createClient({ nodes: [`http://127.0.0.1:${(server.address() as AddressInfo).port}`], mode: 'client', auth: { user: 'alice', password: 'pw' }, timeoutMs: 2000 });
  t.after(() => client.close());
  await assert.rejects(client.get('k'), /HTTP 401/);
  assert.equal(seen[0], `/admin/cluster Basic ${Buffer.from('alice:pw').toString('base64')}`);
});
