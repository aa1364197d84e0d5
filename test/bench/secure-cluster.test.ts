import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { verifyPassword } from '../../src/api/auth/passwords.ts';
import { loadUsersFile } from '../../src/api/auth/usersFile.ts';
import { createCertificateAuthority, createNodeCertificate } from '../../src/io/certificates.ts';
import { basicAuthorization, getOnce, KvClient } from '../../bench/lib/http-client.ts';
import { BENCH_USER, makeClusterSecurity } from '../../bench/lib/secure-cluster.ts';

function tempRoot(t: { after: (fn: () => void) => void }): string {
  const root = mkdtempSync(join(tmpdir(), 'shoal-secure-cluster-test-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  return root;
}

/** The value after a flag in an argument list. */
function flagValue(args: readonly string[], flag: string): string {
  const value = args[args.indexOf(flag) + 1];
  assert.ok(args.includes(flag) && value !== undefined, `${flag} in ${args.join(' ')}`);
  return value;
}

test('makeClusterSecurity: each member its own certificate and key, one CA and one users file, whose admin the credentials name', async (t) => {
  const security = await makeClusterSecurity(tempRoot(t), ['n1', 'n2'], '127.0.0.1');
  const [n1, n2] = [security.argsFor('n1'), security.argsFor('n2')];
  assert.equal(flagValue(n1, '--tls-ca'), flagValue(n2, '--tls-ca'));
  assert.equal(flagValue(n1, '--users-file'), flagValue(n2, '--users-file'));
  assert.notEqual(flagValue(n1, '--tls-cert'), flagValue(n2, '--tls-cert'));
  assert.equal(statSync(flagValue(n1, '--tls-key')).mode & 0o077, 0, 'the key is the owner\'s alone');

  const users = loadUsersFile(flagValue(n1, '--users-file')).users;
  assert.deepEqual(users.map((u) => [u.name, u.role]), [[BENCH_USER, 'admin']]);
  const credentials = Buffer.from(security.access.authorization.replace(/^Basic /, ''), 'base64').toString('utf8');
  const [name, password] = [credentials.slice(0, credentials.indexOf(':')), credentials.slice(credentials.indexOf(':') + 1)];
  assert.equal(name, BENCH_USER);
  assert.ok(await verifyPassword(password, users[0]?.password ?? ''));
  assert.throws(() => security.argsFor('n3'), /no certificate made for n3/);
});

/** An HTTPS server with a node certificate of a fresh CA, answering each request with its Authorization header. */
async function echoAuthorizationServer(t: { after: (fn: () => Promise<void>) => void }): Promise<{ url: string; caPem: string }> {
  const ca = createCertificateAuthority();
  const own = createNodeCertificate(ca, { nodeId: 'n1', hosts: [] });
  const server: Server = createServer({ cert: own.certPem, key: own.keyPem }, (req, res) => {
    req.resume();
    res.writeHead(req.method === 'PUT' ? 204 : 200, { 'x-shoal-context': 'ctx' }).end(req.method === 'PUT' ? undefined : req.headers.authorization ?? '');
  });
  await new Promise<void>((listening) => server.listen(0, '127.0.0.1', listening));
  t.after(() => new Promise((closed) => server.close(() => closed())));
  return { url: `https://127.0.0.1:${(server.address() as AddressInfo).port}`, caPem: ca.certPem };
}

test('KvClient and getOnce speak HTTPS trusting the given CA and send the credentials', async (t) => {
  const { url, caPem } = await echoAuthorizationServer(t);
  const secure = { caPem, authorization: basicAuthorization('bench', 'secret') };
  const client = new KvClient(url, { maxSockets: 1, secure });
  t.after(() => client.close());
  const read = await client.get('k');
  assert.equal(read.status, 200);
  assert.equal(read.body?.toString('utf8'), secure.authorization);
  assert.equal((await client.put('k', Buffer.from('v'), 'ctx')).status, 204);
  assert.deepEqual(await getOnce(`${url}/admin/status`, 5000, secure), { status: 200, body: secure.authorization });
});

test('KvClient refuses an https URL without the CA and credentials, and an http URL with them', () => {
  assert.throws(() => new KvClient('https://127.0.0.1:1', { maxSockets: 1 }), /needs the secure option/);
  assert.throws(() => new KvClient('http://127.0.0.1:1', { maxSockets: 1, secure: { caPem: '', authorization: '' } }), /needs an https:\/\/ URL/);
});
