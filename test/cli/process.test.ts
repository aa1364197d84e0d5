import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { createCertificateAuthority, createNodeCertificate } from '../../src/io/certificates.ts';
import { freePort, http, runShoal, type ShoalProcess } from '../support/shoalProcess.ts';

function tempDir(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'shoal-process-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function start(t: TestContext, args: readonly string[], env?: Record<string, string>): ShoalProcess {
  const shoal = runShoal(['start', ...args], env);
  t.after(() => shoal.cleanup());
  return shoal;
}

test('shoal start binds exactly the given address; SIGTERM flushes the buffer and exits 0', { timeout: 120_000 }, async (t) => {
  const data = tempDir(t);
  const port = await freePort();
  // A buffer that would not flush on its own for ten minutes: only the shutdown flush saves the writes.
  const args = ['--http', `127.0.0.1:${port}`, '--data', data, '--durable-writes', 'none', '--flush-interval-ms', '600000'];
  const first = start(t, args);
  const url = await first.waitServing();
  assert.equal(url, `http://127.0.0.1:${port}`);
  for (const k of ['a', 'b', 'c']) {
    assert.equal((await http(`${url}/kv/${k}`, { method: 'PUT', body: `value-${k}` })).status, 204);
  }
  const status = JSON.parse((await http(`${url}/admin/status`)).text) as { buffer: { bufferedObjects: number }; startEpoch: number };
  assert.equal(status.buffer.bufferedObjects, 3, 'the writes are still in the buffer');
  assert.equal(status.startEpoch, 1);
  first.child.kill('SIGTERM');
  assert.deepEqual(await first.waitExit(), { code: 0, signal: null });
  assert.ok(first.logLines().some((line) => line.msg === 'stopped'));

  const second = start(t, args);
  const again = await second.waitServing();
  for (const k of ['a', 'b', 'c']) {
    const reply = await http(`${again}/kv/${k}`);
    assert.equal(reply.status, 200);
    assert.equal(reply.text, `value-${k}`);
  }
  const restarted = JSON.parse((await http(`${again}/admin/status`)).text) as { startEpoch: number; actor: string };
  assert.equal(restarted.startEpoch, 2, 'each start advances the epoch');
  assert.equal(restarted.actor, 'node1.2');
  second.child.kill('SIGINT');
  assert.deepEqual(await second.waitExit(), { code: 0, signal: null });
});

test('kill -9 after an acknowledged durable write: the value is there after restart', { timeout: 120_000 }, async (t) => {
  const data = tempDir(t);
  // Default durableWrites (one); a flush interval long enough that only the durable path persists.
  const args = ['--http', '127.0.0.1:0', '--data', data, '--flush-interval-ms', '600000'];
  const first = start(t, args);
  const url = await first.waitServing();
  const put = await http(`${url}/kv/precious`, { method: 'PUT', body: 'do not lose me', headers: { 'content-type': 'text/plain' } });
  assert.equal(put.status, 204);
  first.child.kill('SIGKILL');
  assert.equal((await first.waitExit()).signal, 'SIGKILL');

  const second = start(t, args);
  const again = await second.waitServing();
  const got = await http(`${again}/kv/precious`);
  assert.equal(got.status, 200);
  assert.equal(got.text, 'do not lose me');
  assert.equal(got.headers.get('content-type'), 'text/plain');
  assert.equal(got.headers.get('x-shoal-context'), put.headers.get('x-shoal-context'));
  second.child.kill('SIGTERM');
  assert.equal((await second.waitExit()).code, 0);
});

test('a bad config value exits 2 naming the field and its source', { timeout: 60_000 }, async (t) => {
  const fromFlag = start(t, ['--buffer-objects-max', 'abc']);
  assert.equal((await fromFlag.waitExit()).code, 2);
  assert.match(fromFlag.stderr, /invalid config: bufferObjectsMax \(from --buffer-objects-max\) must be an integer >= 0, got "abc"/);

  const fromEnv = start(t, [], { SHOAL_HTTP: '127.0.0.1' });
  assert.equal((await fromEnv.waitExit()).code, 2);
  assert.match(fromEnv.stderr, /invalid config: http \(from SHOAL_HTTP\) must be HOST:PORT/);

  const unknownFlag = start(t, ['--bogus', '1']);
  assert.equal((await unknownFlag.waitExit()).code, 2);
  assert.match(unknownFlag.stderr, /unknown option '--bogus'/);

  const resp = start(t, ['--resp', '127.0.0.1']);
  assert.equal((await resp.waitExit()).code, 2);
  assert.match(resp.stderr, /invalid config: resp \(from --resp\) must be HOST:PORT/);

  const exposed = start(t, ['--listen', '10.1.2.3:7070']);
  assert.equal((await exposed.waitExit()).code, 2);
  assert.match(exposed.stderr, /invalid config: insecure \(from default\) is required to serve 10\.1\.2\.3:7070 beyond loopback without TLS/);
});

test('TLS and users files that cannot be used exit 2 naming the file or the mismatch', { timeout: 60_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'shoal-start-tls-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const ca = createCertificateAuthority();
  const other = createNodeCertificate(ca, { nodeId: 'b', hosts: [] });
  writeFileSync(join(dir, 'ca.crt'), ca.certPem);
  writeFileSync(join(dir, 'b.crt'), other.certPem);
  writeFileSync(join(dir, 'b.key'), other.keyPem);
  writeFileSync(join(dir, 'users.json'), '{"version":1,"users":[{"name":"x","role":"boss","password":"nope"}]}');
  const tls = (cert: string) => ['--tls-ca', join(dir, 'ca.crt'), '--tls-cert', join(dir, cert), '--tls-key', join(dir, 'b.key')];
  const listen = ['--listen', `127.0.0.1:${await freePort()}`, '--engine', 'memory'];

  const missing = start(t, [...listen, ...tls('absent.crt')]);
  assert.equal((await missing.waitExit()).code, 2);
  assert.match(missing.stderr, /invalid config: tlsCert ".*absent\.crt" cannot be read \(ENOENT\)/);

  const anotherNodes = start(t, [...listen, '--id', 'a', ...tls('b.crt')]);
  assert.equal((await anotherNodes.waitExit()).code, 2);
  assert.match(anotherNodes.stderr, /tls\.cert names node "b", this node is "a"/);

  const badUsers = start(t, [...listen, '--users-file', join(dir, 'users.json')]);
  assert.equal((await badUsers.waitExit()).code, 2);
  assert.match(badUsers.stderr, /invalid config: usersFile: .*role/);
});

test('unknown commands exit 2; --help lists start and admin', { timeout: 60_000 }, async (t) => {
  const unknown = runShoal(['frobnicate']);
  t.after(() => unknown.cleanup());
  assert.equal((await unknown.waitExit()).code, 2);
  assert.match(unknown.stderr, /unknown command 'frobnicate'/);

  const help = runShoal(['--help']);
  t.after(() => help.cleanup());
  assert.equal((await help.waitExit()).code, 0);
  assert.match(help.stdout, /start/);
  assert.match(help.stdout, /admin/);
});

test('shoal admin status prints the JSON status; an unreachable node exits 1', { timeout: 120_000 }, async (t) => {
  const node = start(t, ['--http', '127.0.0.1:0', '--engine', 'memory', '--id', 'adm']);
  const url = await node.waitServing();
  const admin = runShoal(['admin', 'status', '--node', url]);
  t.after(() => admin.cleanup());
  assert.equal((await admin.waitExit()).code, 0, admin.stderr);
  const status = JSON.parse(admin.stdout) as { nodeId: string; state: string };
  assert.equal(status.nodeId, 'adm');
  assert.equal(status.state, 'serving');
  node.child.kill('SIGTERM');
  assert.equal((await node.waitExit()).code, 0);

  const unreachable = runShoal(['admin', 'status', '--node', url]);
  t.after(() => unreachable.cleanup());
  assert.equal((await unreachable.waitExit()).code, 1);
  assert.match(unreachable.stderr, /cannot reach/);
});

test('a port already in use makes shoal start exit 1 with a logged reason', { timeout: 60_000 }, async (t) => {
  const blocker = createServer();
  await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise<void>((resolve) => blocker.close(() => resolve())));
  const address = blocker.address();
  assert.ok(typeof address === 'object' && address !== null);
  const shoal = start(t, ['--http', `127.0.0.1:${address.port}`, '--engine', 'memory']);
  assert.equal((await shoal.waitExit()).code, 1);
  assert.match(shoal.stdout, /node failed to start/);
  assert.match(shoal.stdout, /EADDRINUSE/);
});
