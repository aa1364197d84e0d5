/**
 * `shoal backup` and `shoal restore` as users run them: the real command against real node
 * processes (LMDB, TCP). A 3-node cluster with siblings and deletes is backed up, killed and
 * replaced by a new one on fresh data directories, and restored: every key reads back with
 * the same versions, no deleted key returns. A damaged copy of the file is refused (exit 2)
 * with nothing written, and a `kill -9` of the backup command is resumed.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { ProcessCluster } from '../support/processCluster.ts';
import { http, runShoal } from '../support/shoalProcess.ts';

const IDS = ['a', 'b', 'c'];
const COMMON_ARGS = ['--partition-count', '16', '--n', '3', '--r', '2', '--w', '2', '--probe-interval-ms', '250', '--request-timeout-ms', '2000', '--anti-entropy-interval-ms', '0'];
const KEYS = 200;

interface Local {
  readonly vector: unknown;
  readonly siblings: readonly { value: string; deleted: boolean; dot: unknown }[];
}

async function shoal(args: readonly string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const command = runShoal(args);
  const exit = await command.waitExit();
  return { code: exit.code, stdout: command.stdout, stderr: command.stderr };
}

async function put(url: string, key: string, value: string, context?: string): Promise<void> {
  const headers: Record<string, string> = { 'content-type': 'text/plain', ...(context === undefined ? {} : { 'x-shoal-context': context }) };
  assert.equal((await http(`${url}/kv/${key}`, { method: 'PUT', body: value, headers })).status, 204);
}

/** Every node's own versions of the key (vectors, siblings with their dots), as /admin/local shows them. */
async function localVersions(cluster: ProcessCluster, key: string): Promise<(Local | null)[]> {
  return Promise.all(
    IDS.map(async (id) => {
      const reply = await http(`${cluster.node(id).url}/admin/local/${key}`);
      if (reply.status === 404) return null;
      const { vector, siblings } = JSON.parse(reply.text) as Local;
      return { vector, siblings };
    }),
  );
}

test('shoal backup, then shoal restore into a new cluster: the same versions of every key, no deleted key back; damaged files refused; a killed backup resumed', { timeout: 300_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'shoal-backup-cli-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const source = new ProcessCluster(t, COMMON_ARGS, 'backup-source');
  await source.found(IDS);
  const [a, b] = source.urls(['a', 'b']) as [string, string];
  const keys: string[] = [];
  for (let i = 0; i < KEYS; i++) {
    const key = `key-${i}`;
    keys.push(key);
    await put(a, key, `first ${i}`);
    if (i % 10 === 1) await put(b, key, `concurrent ${i}`); // no context: a sibling
    if (i % 10 === 2) {
      const read = await http(`${b}/kv/${key}`);
      assert.equal((await http(`${b}/kv/${key}`, { method: 'DELETE', headers: { 'x-shoal-context': read.headers.get('x-shoal-context') ?? '' } })).status, 204);
    }
  }
  const expected = new Map<string, (Local | null)[]>();
  for (const key of keys) expected.set(key, await localVersions(source, key));

  const file = join(dir, 'cluster.shoalbak');
  const backup = await shoal(['backup', '--node', b, '--out', file]);
  assert.equal(backup.code, 0, backup.stderr);
  assert.match(backup.stdout, new RegExp(`^backup done: .*, ${KEYS} objects in 16 partitions`));
  assert.match(backup.stderr, /16\/16 partitions, 200 objects, [\d.]+ KiB, [\d,]+ obj\/s/);

  // A backup killed (kill -9) in the middle, resumed: the same objects as the whole one.
  const killedFile = join(dir, 'killed.shoalbak');
  const killed = runShoal(['backup', '--node', a, '--out', killedFile, '--page-objects', '1']);
  while (!existsSync(killedFile) || statSync(killedFile).size < 1000) {
    assert.ok(killed.running, `the backup ran: ${killed.stderr}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  killed.child.kill('SIGKILL');
  await killed.waitExit();
  const resumed = await shoal(['backup', '--node', a, '--out', killedFile, '--resume']);
  assert.equal(resumed.code, 0, resumed.stderr);
  assert.match(resumed.stderr, /resuming .* at partition ([1-9]|1[0-5]) \(\d+ objects kept\)/);
  assert.match(resumed.stdout, new RegExp(`backup done: .*, ${KEYS} objects`));

  for (const id of IDS) await source.stop(id, 'SIGTERM');
  const target = new ProcessCluster(t, COMMON_ARGS, 'backup-target');
  await target.found(IDS);
  const c = target.node('c').url;

  const damaged = join(dir, 'damaged.shoalbak');
  const bytes = readFileSync(file);
  const middle = Math.floor(bytes.length / 2);
  bytes.writeUInt8(bytes.readUInt8(middle) ^ 0x40, middle);
  writeFileSync(damaged, bytes);
  const refused = await shoal(['restore', '--node', c, '--in', damaged]);
  assert.equal(refused.code, 2, refused.stderr);
  assert.match(refused.stderr, /fails its checksum: the file is corrupted; nothing was restored/);
  assert.equal((await http(`${c}/kv/key-0`)).status, 404, 'nothing was written');

  const restore = await shoal(['restore', '--node', c, '--in', killedFile]);
  assert.equal(restore.code, 0, restore.stderr);
  assert.match(restore.stdout, new RegExp(`^restore done: ${KEYS} objects`));
  for (const key of keys) assert.deepEqual(await localVersions(target, key), expected.get(key), `${key}: every node holds the same versions as before`);
  assert.equal((await http(`${c}/kv/key-12`)).status, 404, 'a deleted key stays deleted');
  assert.equal((await http(`${c}/kv/key-11`)).status, 300, 'siblings stay siblings');
  assert.equal((await http(`${c}/kv/key-13`)).text, 'first 13');
});
