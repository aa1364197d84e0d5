import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runAdminRing, runAdminStatus } from '../../src/cli/admin.ts';
import { joinPlan, ok, ringView, startFakeNode, testIo } from './fakeAdminNode.ts';

test('admin ring: a summary for people, the node\'s JSON with --json', async (t) => {
  const ring = ringView({ plan: joinPlan({ transfersDone: 10 }) });
  const node = await startFakeNode(t, { 'GET /admin/ring': () => ok({ ...ring, extra: 'kept in --json' }) });
  const io = testIo();
  assert.equal(await runAdminRing({ node: node.url }, io), 0, io.stderr);
  const lines = io.stdout.split('\n');
  assert.equal(lines[0], 'cluster shoal: N=3, Q=64, ring version 8');
  assert.match(lines[1] ?? '', /member +status +address +partitions/);
  assert.match(io.stdout, /n4 +joining +127\.0\.0\.1:7073 +0\n/);
  assert.match(io.stdout, /change: join n4 at ring version 8, in progress: 10\/24 transfers done\n$/);

  const json = testIo();
  assert.equal(await runAdminRing({ node: node.url, json: true }, json), 0);
  assert.deepEqual(JSON.parse(json.stdout), { ...ring, extra: 'kept in --json' });
  assert.match(json.stdout, /^\{\n {2}"clusterName"/);
});

test('admin ring: an answer that breaks the contract is reported, exit 1', async (t) => {
  const node = await startFakeNode(t, { 'GET /admin/ring': () => ok({ ...ringView(), replicas: 'three' }) });
  const io = testIo();
  assert.equal(await runAdminRing({ node: node.url }, io), 1);
  assert.match(io.stderr, /unexpected JSON: replicas: Expected number, received string/);
});

test('admin ring: a bad --node exits 2, an error answer exits 1 with the error', async (t) => {
  const bad = testIo();
  assert.equal(await runAdminRing({ node: 'nope' }, bad), 2);
  assert.match(bad.stderr, /--node must be a URL like http:\/\/127\.0\.0\.1:8080, got "nope"/);
  const node = await startFakeNode(t, { 'GET /admin/ring': () => ({ status: 503, body: { error: 'stopping' } }) });
  const io = testIo();
  assert.equal(await runAdminRing({ node: node.url }, io), 1);
  assert.equal(io.stderr, 'error: stopping (HTTP 503)\n');
});

test('admin status prints the node\'s JSON indented', async (t) => {
  const node = await startFakeNode(t, { 'GET /admin/status': () => ok({ nodeId: 'n1', state: 'serving' }) });
  const io = testIo();
  assert.equal(await runAdminStatus({ node: node.url }, io), 0);
  assert.equal(io.stdout, '{\n  "nodeId": "n1",\n  "state": "serving"\n}\n');
});
