/**
 * `shoal admin` against a node with users and HTTPS: --user, --password (SHOAL_PASSWORD
 * through commander), --ca, https:// URLs; the refusals' hints.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { runAdminRing, runAdminStatus } from '../../src/cli/admin.ts';
import { runAdminRemove } from '../../src/cli/adminMembership.ts';
import { ADMIN, READER, testCertificate, serveApi, testAuthenticator } from '../api/authSupport.ts';
import { startTestNode } from '../api/testNode.ts';
import { FAST, testIo } from './fakeAdminNode.ts';

async function securedNode(t: TestContext, tls = false): Promise<{ url: string; caFile: string | undefined }> {
  const certificate = tls ? testCertificate() : undefined;
  const node = await startTestNode();
  t.after(() => node.stop());
  const url = await serveApi(t, node, { auth: await testAuthenticator(), tls: certificate });
  if (certificate === undefined) return { url, caFile: undefined };
  const dir = mkdtempSync(join(tmpdir(), 'shoal-admin-ca-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const caFile = join(dir, 'ca.pem');
  writeFileSync(caFile, certificate.ca);
  return { url, caFile };
}

test('admin status with --user and --password; without them 401 and a hint; a read user is FORBIDDEN', async (t) => {
  const { url } = await securedNode(t);
  const io = testIo();
  assert.equal(await runAdminStatus({ node: url, user: ADMIN.name, password: ADMIN.password }, io), 0, io.stderr);
  assert.match(io.stdout, /"state": "serving"/);

  const anonymous = testIo();
  assert.equal(await runAdminStatus({ node: url }, anonymous), 1);
  assert.match(anonymous.stderr, /\(UNAUTHENTICATED\)\nhint: give --user NAME and the password with SHOAL_PASSWORD/);

  const reader = testIo();
  assert.equal(await runAdminRing({ node: url, user: READER.name, password: READER.password }, reader), 1);
  assert.match(reader.stderr, /\(FORBIDDEN\)\nhint: this needs a user with a higher role/);

  const noPassword = testIo();
  assert.equal(await runAdminStatus({ node: url, user: ADMIN.name }, noPassword), 2);
  assert.match(noPassword.stderr, /--user needs a password: set SHOAL_PASSWORD/);
});

test('admin over HTTPS: --ca FILE trusts the node; without it a hint; a change is sent as JSON with the credentials', async (t) => {
  const { url, caFile } = await securedNode(t, true);
  const credentials = { user: ADMIN.name, password: ADMIN.password };
  const untrusted = testIo();
  assert.equal(await runAdminStatus({ node: url, ...credentials }, untrusted), 1);
  assert.match(untrusted.stderr, /cannot reach https:\/\/127\.0\.0\.1:\d+: .*certificate.*\nhint: give the CA that signed the node's certificate with --ca FILE/);

  const trusted = testIo();
  assert.equal(await runAdminRing({ node: url, ca: caFile, ...credentials }, trusted), 0, trusted.stderr);
  assert.match(trusted.stdout, /^cluster shoal/);

  const remove = testIo();
  assert.equal(await runAdminRemove('ghost', { node: url, ca: caFile, ...credentials, yes: true }, remove, FAST), 1);
  assert.match(remove.stderr, /\(unknown-member\)/, 'the POST passed the guard (JSON, admin) and reached the route');

  const missing = testIo();
  assert.equal(await runAdminStatus({ node: url, ca: join(tmpdir(), 'no-such-ca.pem'), ...credentials }, missing), 2);
  assert.match(missing.stderr, /--ca .*no-such-ca\.pem cannot be read/);
});
