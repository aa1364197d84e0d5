/**
 * `shoal dev`, the README's main command: it starts a working local cluster and stops every
 * node cleanly on SIGTERM.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { freePort, http, runShoal } from '../support/shoalProcess.ts';
import { send } from '../api/authSupport.ts';

/** The first of `count` consecutive ports that were all free a moment ago. */
async function freePortRun(count: number): Promise<number> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const base = await freePort();
    if (base + count > 65535) continue;
    const rest = await Promise.all(Array.from({ length: count - 1 }, () => freePort()));
    if (rest.every((port) => port < base || port >= base + count)) return base;
  }
  throw new Error('no run of free ports found');
}

test('shoal dev starts a 3-node cluster that replicates, speaks RESP with --resp-port, and SIGTERM stops it cleanly', { timeout: 120_000 }, async (t) => {
  const data = mkdtempSync(join(tmpdir(), 'shoal-dev-'));
  const httpPort = await freePortRun(3);
  const listenPort = await freePortRun(3);
  const respPort = await freePortRun(3);
  const dev = runShoal(['dev', '--data', data, '--http-port', String(httpPort), '--listen-port', String(listenPort), '--resp-port', String(respPort)]);
  t.after(async () => {
    await dev.cleanup();
    rmSync(data, { recursive: true, force: true });
  });
  const deadline = Date.now() + 60_000;
  while (!dev.stdout.includes('node3')) {
    assert.ok(dev.running, `shoal dev exited early:\n${dev.stdout}\n${dev.stderr}`);
    assert.ok(Date.now() < deadline, `shoal dev did not report its nodes:\n${dev.stdout}\n${dev.stderr}`);
    await new Promise((done) => setTimeout(done, 100));
  }
  for (let index = 0; index < 3; index++) {
    assert.match(dev.stdout, new RegExp(`node${index + 1}\\s+http://127\\.0\\.0\\.1:${httpPort + index}\\s+redis 127\\.0\\.0\\.1:${respPort + index}`));
  }

  const written = await http(`http://127.0.0.1:${httpPort}/kv/greeting`, { method: 'PUT', body: 'hello', headers: { 'content-type': 'text/plain' } });
  assert.equal(written.status, 204, written.text);
  const read = await http(`http://127.0.0.1:${httpPort + 2}/kv/greeting`);
  assert.equal(read.status, 200, read.text);
  assert.equal(read.text, 'hello');
  const redis = new Redis({ host: '127.0.0.1', port: respPort + 1, lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await redis.connect();
    assert.equal(await redis.get('greeting'), 'hello', 'node2 answers over RESP what node1 took over HTTP');
  } finally {
    redis.disconnect();
  }

  dev.child.kill('SIGTERM');
  const exit = await dev.waitExit();
  assert.equal(exit.code, 0, dev.stderr);
  for (const id of ['node1', 'node2', 'node3']) {
    assert.match(readFileSync(join(data, `${id}.log`), 'utf8'), /"msg":"stopped"/, `${id} did not stop cleanly`);
  }
});

test('shoal dev --secure: certificates, TLS everywhere, and an admin whose printed password works; nobody else gets in', { timeout: 120_000 }, async (t) => {
  const data = mkdtempSync(join(tmpdir(), 'shoal-dev-secure-'));
  const httpPort = await freePortRun(3);
  const listenPort = await freePortRun(3);
  const dev = runShoal(['dev', '--secure', '--data', data, '--http-port', String(httpPort), '--listen-port', String(listenPort)]);
  t.after(async () => {
    await dev.cleanup();
    rmSync(data, { recursive: true, force: true });
  });
  const deadline = Date.now() + 60_000;
  while (!dev.stdout.includes('admin password:')) {
    assert.ok(dev.running, `shoal dev --secure exited early:\n${dev.stdout}\n${dev.stderr}`);
    assert.ok(Date.now() < deadline, `shoal dev --secure did not report its nodes:\n${dev.stdout}\n${dev.stderr}`);
    await new Promise((done) => setTimeout(done, 100));
  }
  assert.match(dev.stdout, new RegExp(`node1\\s+https://127\\.0\\.0\\.1:${httpPort}`));
  const password = /admin password: (\S+)/.exec(dev.stdout)?.[1] ?? '';
  assert.equal(password, readFileSync(join(data, 'admin-password'), 'utf8').trim());
  assert.equal(statSync(join(data, 'admin-password')).mode & 0o777, 0o600);
  assert.equal(statSync(join(data, 'certs', 'node-node1.key')).mode & 0o777, 0o600);
  const ca = readFileSync(join(data, 'certs', 'ca.crt'));
  const admin = { authorization: `Basic ${Buffer.from(`admin:${password}`).toString('base64')}` };
  const written = await send(`https://127.0.0.1:${httpPort}`, 'PUT', '/kv/greeting', { ca, body: 'hello', headers: { ...admin, 'content-type': 'text/plain' } });
  assert.equal(written.status, 204, written.body.toString());
  const read = await send(`https://127.0.0.1:${httpPort + 2}`, 'GET', '/kv/greeting', { ca, headers: admin });
  assert.equal(read.body.toString(), 'hello', 'node3 reads what node1 took: the nodes replicate over mutual TLS');
  assert.equal((await send(`https://127.0.0.1:${httpPort + 1}`, 'GET', '/kv/greeting', { ca })).status, 401);
  await assert.rejects(http(`http://127.0.0.1:${httpPort}/kv/greeting`), 'no plain HTTP');

  dev.child.kill('SIGTERM');
  const exit = await dev.waitExit();
  assert.equal(exit.code, 0, dev.stderr);
});

test('shoal dev refuses a bad node count, naming the value', async () => {
  const dev = runShoal(['dev', '--nodes', 'many']);
  const exit = await dev.waitExit();
  assert.equal(exit.code, 2);
  assert.match(dev.stderr, /--nodes must be an integer 1-16, got "many"/);
});
