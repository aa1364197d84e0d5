/**
 * Backup and restore through the real CLI code (runBackup, runRestore) against in-process
 * 3-node clusters with their HTTP APIs: a backup holds every version any owner holds
 * (siblings, tombstones, replicas that diverged), restores into a wiped cluster exactly, and
 * a damaged file is refused with nothing written; an interrupted backup resumes.
 */
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { runBackup } from '../../src/cli/backup.ts';
import { BackupFileError, readBackup, type BackupBlock } from '../../src/cli/backupFile.ts';
import { runRestore } from '../../src/cli/restore.ts';
import { keyBytes } from '../../src/core/hash.ts';
import { syncObjects, type StoredObject } from '../../src/core/object.ts';
import { Prng } from '../../src/sim/prng.ts';
import type { SimTransport } from '../../src/sim/simNetwork.ts';
import { parseReply } from '../../src/node/protocol.ts';
import { encodeObject } from '../../src/storage/objectCodec.ts';
import { encodeEntries } from '../../src/core/backup/entries.ts';
import { contextOf, request, startTestCluster, type TestNode } from '../api/testNode.ts';
import { testIo } from '../cli/fakeAdminNode.ts';
import { testSeed } from '../support/seed.ts';
import { TestCluster } from '../support/testCluster.ts';

const IDS = ['a', 'b', 'c'] as const;
const CLUSTER = { partitionCount: 16, antiEntropyIntervalMs: 0, probeIntervalMs: 50, requestTimeoutMs: 1000 };
const PLAIN_KEYS = 120;
const SIBLING_KEYS = 15;
const DELETED_KEYS = 15;

type Cluster = Awaited<ReturnType<typeof startTestCluster>>;

async function cluster(t: TestContext): Promise<Cluster & { node(id: string): TestNode }> {
  const started = await startTestCluster(IDS, CLUSTER);
  t.after(() => started.stop());
  return { ...started, node: (id: string) => started.nodes.get(id) as TestNode };
}

function scratch(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'shoal-backup-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

async function put(node: TestNode, key: string, value: string, query = ''): Promise<void> {
  const reply = await request(node, 'PUT', `/kv/${key}${query}`, { body: value, headers: { 'content-type': 'text/plain' } });
  assert.equal(reply.status, 204, reply.body.toString());
}

/** Plain keys, keys with two siblings (PUTs without context through two nodes), deleted keys, and one key whose owners diverged. */
async function writeWorkload(source: Cluster & { node(id: string): TestNode }): Promise<string[]> {
  const [a, b] = [source.node('a'), source.node('b')];
  const keys: string[] = [];
  for (let i = 0; i < PLAIN_KEYS; i++) keys.push(`plain-${i}`);
  for (const key of keys) await put(a, key, `value of ${key}`);
  for (let i = 0; i < SIBLING_KEYS; i++) {
    keys.push(`siblings-${i}`);
    await put(a, `siblings-${i}`, 'left');
    await put(b, `siblings-${i}`, 'right');
  }
  for (let i = 0; i < DELETED_KEYS; i++) {
    const key = `deleted-${i}`;
    keys.push(key);
    await put(a, key, 'soon gone');
    const read = await request(b, 'GET', `/kv/${key}`);
    assert.equal((await request(b, 'DELETE', `/kv/${key}`, { headers: { 'x-shoal-context': contextOf(read) } })).status, 204);
  }
  keys.push(await divergedKey(source));
  return keys;
}

/** A key a and b hold as "left", c as "right" (written while the others were cut off): only a merge of every owner holds both. */
async function divergedKey(source: Cluster & { node(id: string): TestNode }): Promise<string> {
  source.network.setMode('c', 'unreachable');
  await put(source.node('a'), 'diverged', 'left');
  source.network.setMode('c', 'up');
  source.network.setMode('a', 'unreachable');
  source.network.setMode('b', 'unreachable');
  await put(source.node('c'), 'diverged', 'right', '?w=1');
  source.network.setMode('a', 'up');
  source.network.setMode('b', 'up');
  await everyPeerUp(source);
  return 'diverged';
}

async function everyPeerUp(source: Cluster): Promise<void> {
  for (const node of source.nodes.values()) {
    for (;;) {
      const peers = node.runtime.node.peers();
      if (peers.every((peer) => peer.status === 'up')) break;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }
}

/** Every version the cluster's nodes hold of the key: their own copies joined. */
function joined(source: Cluster, key: string): StoredObject | undefined {
  let object: StoredObject | undefined;
  for (const node of source.nodes.values()) object = syncObjects(object, node.runtime.node.localVersions(keyBytes(key))?.object);
  return object;
}

function objectsStored(target: Cluster): number {
  return [...target.nodes.values()].reduce((sum, node) => sum + node.engine.count(), 0);
}

async function backUp(source: Cluster & { node(id: string): TestNode }, out: string, extra: { resume?: boolean } = {}): Promise<ReturnType<typeof testIo>> {
  const io = testIo();
  const code = await runBackup({ node: source.node('b').url, out, pageObjects: '7', ...extra }, io);
  assert.equal(code, 0, io.stderr);
  return io;
}

async function allBlocks(path: string): Promise<BackupBlock[]> {
  const blocks: BackupBlock[] = [];
  await readBackup(path, (block) => void blocks.push(block));
  return blocks;
}

test('a backup restores into a wiped cluster with every version: siblings, dots, tombstones, owners that diverged', async (t) => {
  const source = await cluster(t);
  const keys = await writeWorkload(source);
  const expected = new Map(keys.map((key) => [key, joined(source, key)]));
  assert.equal(expected.get('diverged')?.siblings.length, 2, 'the owners diverged: a and b hold left, c right');
  const file = join(scratch(t), 'cluster.shoalbak');
  const backupIo = await backUp(source, file);
  assert.match(backupIo.stdout, new RegExp(`^backup done: .*, ${keys.length} objects in 16 partitions`));
  assert.match(backupIo.stderr, /16\/16 partitions, 151 objects/);

  const target = await cluster(t);
  const io = testIo();
  assert.equal(await runRestore({ node: target.node('c').url, in: file }, io), 0, io.stderr);
  assert.match(io.stdout, new RegExp(`^restore done: ${keys.length} objects`));
  assert.ok(!existsSync(`${file}.restore-progress`), 'the progress file is removed once the restore is done');
  for (const key of keys) {
    const want = encodeObject(expected.get(key) as StoredObject);
    for (const node of target.nodes.values()) {
      const held = node.runtime.node.localVersions(keyBytes(key))?.object;
      assert.ok(held !== undefined, `${node.config.id} holds ${key}`);
      assert.deepEqual(encodeObject(held), want, `${node.config.id}'s ${key}: the same vector, siblings and dots`);
    }
  }
  const siblings = await request(target.node('a'), 'GET', '/kv/siblings-3');
  assert.equal(siblings.status, 300);
  assert.deepEqual((siblings.json().siblings as { value: string }[]).map((s) => Buffer.from(s.value, 'base64').toString()).sort(), ['left', 'right']);
  assert.equal((await request(target.node('b'), 'GET', '/kv/deleted-4')).status, 404, 'a deleted key stays deleted');
  assert.equal((await request(target.node('b'), 'GET', '/kv/plain-7')).body.toString(), 'value of plain-7');
  const local = (await request(target.node('a'), 'GET', '/admin/local/diverged')).json();
  assert.deepEqual((local.siblings as { value: string }[]).map((s) => Buffer.from(s.value, 'base64').toString()).sort(), ['left', 'right']);
});

test('restoring an old backup into a live cluster loses nothing written since', async (t) => {
  const source = await cluster(t);
  await put(source.node('a'), 'kept', 'before the backup');
  await put(source.node('a'), 'overwritten', 'before the backup');
  const file = join(scratch(t), 'live.shoalbak');
  await backUp(source, file);
  const read = await request(source.node('a'), 'GET', '/kv/overwritten');
  assert.equal((await request(source.node('a'), 'PUT', '/kv/overwritten', { body: 'after the backup', headers: { 'x-shoal-context': contextOf(read) } })).status, 204);
  await put(source.node('a'), 'new', 'after the backup');
  const io = testIo();
  assert.equal(await runRestore({ node: source.node('a').url, in: file }, io), 0, io.stderr);
  const values = async (key: string): Promise<string[]> => {
    const reply = await request(source.node('b'), 'GET', `/kv/${key}`);
    if (reply.status === 200) return [reply.body.toString()];
    return (reply.json().siblings as { value: string }[]).map((s) => Buffer.from(s.value, 'base64').toString()).sort();
  };
  assert.deepEqual(await values('overwritten'), ['after the backup'], 'the superseded version does not come back');
  assert.deepEqual(await values('new'), ['after the backup']);
  assert.deepEqual(await values('kept'), ['before the backup']);
});

test('a backup older than the cluster\'s markerRetentionMs is refused without --allow-old: a reaped delete could come back', async (t) => {
  const retention = { tombstoneGraceMs: 0, markerRetentionMs: 400 };
  const source = await startTestCluster(IDS, { ...CLUSTER, ...retention });
  t.after(() => source.stop());
  const a = source.nodes.get('a') as TestNode;
  await put(a, 'old', 'value');
  const file = join(scratch(t), 'old.shoalbak');
  const io = testIo();
  assert.equal(await runBackup({ node: a.url, out: file }, io), 0, io.stderr);
  const target = await startTestCluster(IDS, { ...CLUSTER, ...retention });
  t.after(() => target.stop());
  const b = target.nodes.get('b') as TestNode;
  await new Promise((resolve) => setTimeout(resolve, retention.markerRetentionMs));
  const refused = testIo();
  assert.equal(await runRestore({ node: b.url, in: file }, refused), 1, refused.stderr);
  assert.match(refused.stderr, /the backup is \d+ s old, too close to the cluster's markerRetentionMs \(0 s\): .*would come back from it\. Restore it with --allow-old into an empty cluster .*; nothing was restored/);
  assert.equal(objectsStored(target), 0);
  const allowed = testIo();
  assert.equal(await runRestore({ node: b.url, in: file, allowOld: true }, allowed), 0, allowed.stderr);
  assert.equal((await request(b, 'GET', '/kv/old')).body.toString(), 'value');
});

test('a truncated, corrupted or foreign-version file is refused with a message naming the problem, and nothing is written', async (t) => {
  const seed = testSeed(t, import.meta.url);
  const random = Prng.fromSeed(seed);
  const source = await cluster(t);
  for (let i = 0; i < 40; i++) await put(source.node('a'), `key-${i}`, `value-${i}`);
  const dir = scratch(t);
  const file = join(dir, 'good.shoalbak');
  await backUp(source, file);
  const bytes = readFileSync(file);
  const target = await cluster(t);
  const damaged = (name: string, change: (copy: Buffer) => Buffer): string => {
    const path = join(dir, name);
    writeFileSync(path, change(Buffer.from(bytes)));
    return path;
  };
  const cases: [string, RegExp][] = [
    [damaged('truncated', (copy) => copy.subarray(0, copy.length - 1 - random.int(Math.floor(copy.length / 2)))), /truncated/],
    [damaged('no-trailer', (copy) => copy.subarray(0, copy.length - 29)), /truncated or its backup never finished \(no trailer\)/],
    [damaged('flipped', (copy) => flipByte(copy, 40 + random.int(copy.length - 80))), /corrupted|checksum|does not decompress|kind|claims|partition/],
    [damaged('version-2', (copy) => (copy.writeUInt16BE(2, 8), copy)), /backup format version 2: this shoal reads version 1 only/],
    [damaged('not-a-backup', () => Buffer.from('{"hello":"world"}')), /not a Shoal backup file/],
  ];
  for (const [path, problem] of cases) {
    const io = testIo();
    assert.equal(await runRestore({ node: target.node('a').url, in: path }, io), 2, `${path}: ${io.stderr}`);
    assert.match(io.stderr, problem, path);
    assert.match(io.stderr, /nothing was restored/);
    assert.equal(objectsStored(target), 0, `${path}: nothing written`);
  }
  // Every byte of the file is covered by a checksum: whichever one changes, the file is refused.
  for (let round = 0; round < 30; round++) {
    const at = random.int(bytes.length);
    const copy = flipByte(Buffer.from(bytes), at);
    const path = join(dir, 'flipped-again');
    writeFileSync(path, copy);
    await assert.rejects(readBackup(path), BackupFileError, `byte ${at} of ${bytes.length} changed (seed ${seed})`);
  }
});

test('an interrupted backup goes on with --resume from its last complete block, and holds every object once', async (t) => {
  const seed = testSeed(t, import.meta.url);
  const source = await cluster(t);
  for (let i = 0; i < 300; i++) await put(source.node(IDS[i % 3] as string), `key-${i}`, `value-${i}`.repeat(1 + (i % 5)));
  const dir = scratch(t);
  const whole = join(dir, 'whole.shoalbak');
  await backUp(source, whole);
  const expected = (await allBlocks(whole)).flatMap((block) => block.entries.map((e) => Buffer.from(e.key).toString()));

  // Stopped by Ctrl-C some pages in (a terminal redraws the progress at each): the blocks written so far are kept.
  const interrupted = join(dir, 'interrupted.shoalbak');
  const io = testIo({ stderrTty: true, columns: 100 });
  const err = io.err;
  let lines = 0;
  io.err = (text) => {
    err(text);
    if (++lines === 20) io.interrupt();
  };
  assert.equal(await runBackup({ node: source.node('a').url, out: interrupted, pageObjects: '7' }, io), 130, io.stderr);
  assert.match(io.stderr, /interrupted \(Ctrl-C\)\n([1-9]|1[0-5]) complete blocks? kept in .*: continue with `shoal backup --resume/);
  await assert.rejects(readBackup(interrupted), /no trailer/);
  // A crash in the middle of a block leaves part of it: cut the file somewhere past the header.
  copyFileSync(whole, join(dir, 'crashed.shoalbak'));
  const crashed = join(dir, 'crashed.shoalbak');
  const size = readFileSync(crashed).length;
  truncateSync(crashed, 100 + Prng.fromSeed(seed).int(size - 200));

  for (const path of [interrupted, crashed]) {
    const resumed = await backUp(source, path, { resume: true });
    assert.match(resumed.stderr, /resuming .* at partition \d+/);
    const keys = (await allBlocks(path)).flatMap((block) => block.entries.map((e) => Buffer.from(e.key).toString()));
    assert.deepEqual(keys, expected, `${path}: every object once, in order`);
  }
  const refused = testIo();
  assert.equal(await runBackup({ node: source.node('a').url, out: whole }, refused), 1);
  assert.match(refused.stderr, /exists: --resume goes on with it/);
});

test('an interrupted restore goes on with --resume, skipping the blocks acknowledged', async (t) => {
  const source = await cluster(t);
  for (let i = 0; i < 60; i++) await put(source.node('a'), `key-${i}`, `value-${i}`);
  const file = join(scratch(t), 'resume.shoalbak');
  await backUp(source, file);
  const target = await cluster(t);
  const io = testIo();
  const err = io.err;
  io.err = (text) => {
    err(text);
    io.interrupt();
  };
  assert.equal(await runRestore({ node: target.node('a').url, in: file }, io), 130, io.stderr);
  const saved = JSON.parse(readFileSync(`${file}.restore-progress`, 'utf8')) as { blocksDone: number };
  assert.ok(saved.blocksDone > 0 && saved.blocksDone < 16, JSON.stringify(saved));
  const resumed = testIo();
  assert.equal(await runRestore({ node: target.node('a').url, in: file, resume: true }, resumed), 0, resumed.stderr);
  assert.match(resumed.stderr, new RegExp(`resuming: ${saved.blocksDone} blocks? of 16 restored already`));
  for (let i = 0; i < 60; i++) assert.equal((await request(target.node('b'), 'GET', `/kv/key-${i}`)).body.toString(), `value-${i}`);
});

test('the backup and restore routes refuse bad input with 400 and a code', async (t) => {
  const { node } = await cluster(t);
  const refusals: [string, string, RegExp][] = [
    ['GET', '/admin/backup/16', /partition must be an integer 0-15/],
    ['GET', '/admin/backup/x', /partition must be an integer 0-15/],
    ['GET', '/admin/backup/-1', /partition must be an integer 0-15/],
    ['GET', '/admin/backup/1?after=%2B%2B', /after must be the token/],
    ['GET', '/admin/backup/1?after=', /after must be the token/],
    ['GET', '/admin/backup/1?limit=0', /limit must be an integer 1-4096/],
    ['GET', '/admin/backup/1?limit=5000', /limit must be an integer 1-4096/],
    ['GET', '/admin/backup/1?limit=2.5', /limit must be an integer 1-4096/],
  ];
  for (const [method, path, message] of refusals) {
    const reply = await request(node('a'), method, path);
    assert.equal(reply.status, 400, path);
    assert.equal(reply.json().code, 'REQUEST_OPTION_INVALID', path);
    assert.match(reply.json().error as string, message, path);
  }
  assert.equal((await request(node('a'), 'GET', '/admin/backup/1?from=x')).status, 400);
  const octets = { 'content-type': 'application/octet-stream' };
  const badBodies: [Uint8Array, RegExp][] = [
    [new Uint8Array([0, 0, 0, 1]), /the key runs past the end/],
    [new Uint8Array([0, 0, 0, 0, 9]), /1 bytes after the last of 0 entries/],
    [new Uint8Array([0, 0, 0, 1, 0, 0, 0, 1, 107, 0, 0, 0, 2, 1, 2]), /entry 0: .*msgpack|entry 0/],
  ];
  for (const [body, message] of badBodies) {
    const reply = await request(node('a'), 'POST', '/admin/restore', { body, headers: octets });
    assert.equal(reply.status, 400);
    assert.equal(reply.json().code, 'RESTORE_INVALID');
    assert.match(reply.json().error as string, message);
  }
  assert.equal((await request(node('a'), 'POST', '/admin/restore', { body: 'x', headers: { 'content-type': 'text/plain' } })).status, 415);
  const huge = await request(node('a'), 'POST', '/admin/restore', { body: new Uint8Array(16 * 1024 * 1024 + 1), headers: octets });
  assert.equal(huge.status, 413);
  assert.deepEqual(huge.json(), { error: 'a restore body may hold 16777216 bytes at most', code: 'RESTORE_TOO_LARGE' });
});

test('a page with no reachable owner, and a restore with fewer than W, answer 503 QUORUM_UNREACHABLE', async (t) => {
  // N = 1: each partition has one owner; with b and c cut off, a can back up only its own.
  const single = await startTestCluster(IDS, { ...CLUSTER, n: 1, r: 1, w: 1 });
  t.after(() => single.stop());
  const a = single.nodes.get('a') as TestNode;
  single.network.setMode('b', 'unreachable');
  single.network.setMode('c', 'unreachable');
  const statuses: number[] = [];
  for (let partition = 0; partition < CLUSTER.partitionCount; partition++) {
    let reply = await request(a, 'GET', `/admin/backup/${partition}`);
    // The first ask may find the owner believed up (and fail it); the next finds it down.
    if (reply.status === 503) reply = await request(a, 'GET', `/admin/backup/${partition}`);
    statuses.push(reply.status);
    if (reply.status === 503) {
      assert.equal(reply.json().code, 'QUORUM_UNREACHABLE');
      assert.match(reply.json().error as string, new RegExp(`no owner of partition ${partition} is reachable \\([bc] down\\): a backup would miss it`));
    }
  }
  assert.ok(statuses.includes(200) && statuses.includes(503), statuses.join());

  const { node, network } = await cluster(t);
  network.setMode('b', 'unreachable');
  network.setMode('c', 'unreachable');
  const body = new Uint8Array([0, 0, 0, 0]);
  const restore = () => request(node('a'), 'POST', '/admin/restore', { body: encodedEntry('k', 'v'), headers: { 'content-type': 'application/octet-stream' } });
  // The first restore finds b and c believed up, and fails with them; the next knows they are down.
  const first = await restore();
  assert.equal(first.status, 503);
  assert.match(first.json().error as string, /restoring partition \d+ needs 2 acknowledgements, got 1 \(.*unreachable.*\); send it again: merges are idempotent/);
  const refused = await restore();
  assert.equal(refused.status, 503);
  assert.equal(refused.json().code, 'QUORUM_UNREACHABLE');
  assert.match(refused.json().error as string, /restoring partition \d+ needs 2 of its owners \([abc, ]+\), only 1 reachable; nothing of this batch was written/);
  assert.equal((await request(node('a'), 'POST', '/admin/restore', { body, headers: { 'content-type': 'application/octet-stream' } })).json().objects, 0, 'an empty restore body restores nothing');
});

test('a partition scan is taken only from a member, well formed, for a partition the node holds', async (t) => {
  const single = await TestCluster.start(IDS, { partitionCount: CLUSTER.partitionCount, n: 1, r: 1, w: 1 });
  t.after(() => single.stop());
  const owners = single.node('a').membership.ring().owners;
  const scan = (partition: number) => ({ type: 'partition-scan', partition, objectsMax: 10, bytesMax: 1024 });
  const outsider = single.network.transport('outsider');
  t.after(() => outsider.close());
  const asked = async (from: SimTransport, message: unknown) => parseReply(await single.run(from.request('a', message, 1000))) as { type: string; code?: string; message?: string };
  const b = single.member('b').transport;
  assert.equal((await asked(outsider, scan(owners.indexOf('a')))).code, 'NOT_PERMITTED', 'a node that never was a member may not list keys and values');
  assert.equal((await asked(b, scan(owners.indexOf('a')))).type, 'partition-page');
  assert.equal((await asked(b, { ...scan(0), objectsMax: 0 })).code, 'BAD_MESSAGE');
  assert.equal((await asked(b, scan(CLUSTER.partitionCount))).code, 'BAD_MESSAGE', 'a partition past the ring');
  const notHeld = owners.findIndex((owner) => owner !== 'a');
  const refused = await asked(b, scan(notHeld));
  assert.equal(refused.code, 'EXCHANGE_REFUSED');
  assert.match(refused.message ?? '', new RegExp(`a holds no copy of partition ${notHeld}`));
});

/** One entry: the key and the object a first PUT of `value` makes. */
function encodedEntry(key: string, value: string): Uint8Array {
  const object: StoredObject = { vector: [{ actor: 'x.1', counter: 1, timeMs: 1 }], siblings: [{ value: Buffer.from(value), contentType: 'text/plain', deleted: false, dot: { actor: 'x.1', counter: 1 }, timeMs: 1 }] };
  return encodeEntries([{ key: keyBytes(key), bytes: encodeObject(object) }]);
}

function flipByte(copy: Buffer, at: number): Buffer {
  copy[at] = (copy[at] as number) ^ (1 + ((at * 7) % 255));
  return copy;
}
