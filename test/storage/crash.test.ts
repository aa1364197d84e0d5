/**
 * kill -9 a process that writes through an LMDB-backed ObjectStore, then check what the
 * disk holds: every acknowledged durable write is there with its exact value, every value
 * present decodes intact, and only non-durable writes are missing.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { ScanEntry } from '../../src/ports/storage.ts';
import { openLmdbEngine } from '../../src/storage/lmdbEngine.ts';
import { decodeObject } from '../../src/storage/objectCodec.ts';
import { DURABLE_ACKED_LINE, PARTITIONS, PROGRESS_PREFIX, durableKey, objectFor, partitionOf } from './fixtures/crashData.ts';

const here = dirname(fileURLToPath(import.meta.url));
const repoRoot = resolve(here, '..', '..');
const writer = join(here, 'fixtures', 'crashWriter.ts');
const DURABLE_COUNT = 200;
const CHILD_TIMEOUT_MS = 60_000;

/** Runs the writer, kills it with SIGKILL once it reports `killAfterProgress` non-durable writes. */
async function runAndKill(dir: string, killAfterProgress: number): Promise<{ durableAcked: boolean; progress: number }> {
  const child = spawn(process.execPath, ['--import', 'tsx', writer, dir, String(DURABLE_COUNT)], {
    cwd: repoRoot,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<void>((resolveExit) => child.once('exit', () => resolveExit()));
  const state = { durableAcked: false, progress: -1 };
  const timer = setTimeout(() => child.kill('SIGKILL'), CHILD_TIMEOUT_MS);
  try {
    for await (const line of createInterface({ input: child.stdout })) {
      if (line === DURABLE_ACKED_LINE) state.durableAcked = true;
      if (line.startsWith(PROGRESS_PREFIX)) state.progress = Number(line.slice(PROGRESS_PREFIX.length));
      if (state.durableAcked && state.progress >= killAfterProgress) {
        child.kill('SIGKILL');
        break;
      }
    }
  } finally {
    clearTimeout(timer);
  }
  await exited;
  assert.ok(state.durableAcked, `the writer never acknowledged its durable writes; stderr:\n${stderr}`);
  assert.equal(child.signalCode, 'SIGKILL', `the writer exited by itself (${child.exitCode}); stderr:\n${stderr}`);
  return state;
}

async function checkStore(dir: string): Promise<{ present: number; nonDurablePresent: number }> {
  const engine = openLmdbEngine({ path: dir });
  try {
    const found = new Map<string, number>();
    for (const partition of PARTITIONS) {
      let afterKey: Uint8Array | undefined;
      for (;;) {
        const page: ScanEntry[] = engine.scanPartition(partition, afterKey === undefined ? { limit: 500 } : { afterKey, limit: 500 });
        for (const { key, value } of page) {
          const name = new TextDecoder().decode(key);
          assert.match(name, /^(durable|preceding|buffered)-\d+$/, 'only keys the writer wrote');
          assert.equal(partitionOf(name), partition, `${name} stored in the wrong partition`);
          assert.deepEqual(decodeObject(value), objectFor(name), `${name} holds a damaged value`);
          found.set(name, partition);
        }
        if (page.length < 500) break;
        afterKey = (page[page.length - 1] as ScanEntry).key;
      }
    }
    assert.equal(engine.count(), found.size);
    for (let i = 0; i < DURABLE_COUNT; i++) {
      assert.ok(found.has(durableKey(i)), `acknowledged durable write ${durableKey(i)} is missing`);
    }
    return { present: found.size, nonDurablePresent: found.size - DURABLE_COUNT };
  } finally {
    await engine.close();
  }
}

describe('crash safety (kill -9) of the LMDB-backed ObjectStore', () => {
  for (const killAfterProgress of [0, 3000]) {
    it(`keeps every acknowledged durable write (killed after ${killAfterProgress} non-durable writes)`, async (t) => {
      const dir = mkdtempSync(join(tmpdir(), 'shoal-crash-'));
      try {
        const run = await runAndKill(dir, killAfterProgress);
        const result = await checkStore(dir);
        t.diagnostic(`killed at progress ${run.progress}: ${result.present} keys on disk, ${result.nonDurablePresent} of them non-durable`);
      } catch (error) {
        console.error(`crash test failed; its LMDB directory is kept at ${dir}`);
        throw error;
      }
      rmSync(dir, { recursive: true, force: true });
    });
  }
});
