/**
 * The data directory belongs to one node at a time (issue 14: a second node started on a
 * directory in use served it too), and one that cannot be created is named in the error
 * (`--data /proc/x` used to spin at start).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { LOCK_FILE } from '../../src/io/dataDirLock.ts';
import { startNodeRuntime } from '../../src/io/runtime.ts';
import { nodeConfigFrom } from '../../src/node/config.ts';
import { silentLogger } from '../../src/ports/logger.ts';

function dataDir(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'shoal-lock-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function start(data: string): ReturnType<typeof startNodeRuntime> {
  return startNodeRuntime({ config: nodeConfigFrom({ engine: 'lmdb', data, http: '127.0.0.1:0', logLevel: 'silent' }), logger: silentLogger });
}

test('a second node on a data directory in use refuses to start; once the first stops, it starts', async (t) => {
  const data = dataDir(t);
  const first = await start(data);
  await assert.rejects(start(data), /the data directory .* is in use by process \d+ .*stop that node first/);
  assert.ok(existsSync(join(data, LOCK_FILE)), 'the refused start left the first node its lock');
  await first.stop();
  assert.equal(existsSync(join(data, LOCK_FILE)), false, 'a clean stop removes the lock');
  const second = await start(data);
  await second.stop();
});

test('a lock left by a process that is gone is taken over', async (t) => {
  const data = dataDir(t);
  // The largest pid Linux hands out is 2^22: this one cannot be running.
  writeFileSync(join(data, LOCK_FILE), `${2 ** 22 + 1}\n`);
  const node = await start(data);
  await node.stop();
});

test('a data directory that cannot be created is named in the error', async () => {
  await assert.rejects(start('/proc/shoal-cannot-be-here'), /cannot create the data directory \/proc\/shoal-cannot-be-here: E[A-Z]+: /);
});
