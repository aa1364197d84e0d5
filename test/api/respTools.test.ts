/**
 * Debian's redis-cli and redis-benchmark (package redis-tools) against a live node. Without
 * the binaries the tests are skipped with the reason, unless SHOAL_REQUIRE_REDIS_TOOLS=1
 * (CI sets it once it installed them), which makes a missing binary a failure.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { test, type TestContext } from 'node:test';
import { startTestNode } from './testNode.ts';

const TOOL_TIMEOUT_MS = 60_000;

interface ToolRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

function runTool(binary: string, args: readonly string[]): Promise<ToolRun> {
  return new Promise((resolve, reject) => {
    execFile(binary, args, { timeout: TOOL_TIMEOUT_MS }, (error, stdout, stderr) => {
      if (error !== null && (error as NodeJS.ErrnoException).code === 'ENOENT') reject(error);
      else resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : 1, stdout, stderr });
    });
  });
}

/** Whether `binary` runs; when it does not, skips the test (or fails it when CI requires the tools). */
async function available(t: TestContext, binary: string): Promise<boolean> {
  const found = await runTool(binary, ['--version']).then(
    () => true,
    () => false,
  );
  if (found) return true;
  if (process.env.SHOAL_REQUIRE_REDIS_TOOLS === '1') assert.fail(`${binary} not found: install redis-tools (apt-get install -y redis-tools)`);
  t.skip(`${binary} not found (install redis-tools to run this test)`);
  return false;
}

async function respPort(t: TestContext): Promise<string> {
  const node = await startTestNode({ resp: '127.0.0.1:0' });
  t.after(() => node.stop());
  return String(node.runtime.resp?.port);
}

test('redis-cli: SET, GET, PING, DEL, and errors', async (t) => {
  if (!(await available(t, 'redis-cli'))) return;
  const port = await respPort(t);
  const cli = async (...args: string[]): Promise<string> => {
    const run = await runTool('redis-cli', ['-p', port, ...args]);
    assert.equal(run.code, 0, run.stderr);
    return run.stdout.trim();
  };
  assert.equal(await cli('SET', 'a', 'b'), 'OK');
  assert.equal(await cli('GET', 'a'), 'b');
  assert.equal(await cli('PING'), 'PONG');
  assert.equal(await cli('EXISTS', 'a'), '1');
  assert.equal(await cli('DEL', 'a'), '1');
  assert.equal(await cli('GET', 'a'), '');
  assert.match(await cli('NOSUCH'), /ERR unknown command 'NOSUCH'/);
  assert.match(await cli('INFO', 'server'), /redis_version:7\.0\.0/);
  assert.match(await cli('SHOAL.GET', 'a'), /application\/octet-stream/, 'the tombstone is shown');
});

test('redis-cli --scan --pattern lists the keys of a prefix through SCAN cursors', async (t) => {
  if (!(await available(t, 'redis-cli'))) return;
  const port = await respPort(t);
  // 25 keys: SCAN's default COUNT of 10 takes three cursors.
  const users = Array.from({ length: 25 }, (_, i) => `user:${String(i).padStart(2, '0')}`);
  const mset = await runTool('redis-cli', ['-p', port, 'MSET', ...[...users, 'item:1'].flatMap((key) => [key, 'v'])]);
  assert.equal(mset.code, 0, mset.stderr);
  const run = await runTool('redis-cli', ['-p', port, '--scan', '--pattern', 'user:*']);
  assert.equal(run.code, 0, run.stderr);
  assert.deepEqual(run.stdout.trim().split('\n'), users);
});

test('redis-benchmark -t set,get runs to the end and prints throughput', async (t) => {
  if (!(await available(t, 'redis-benchmark'))) return;
  const port = await respPort(t);
  const run = await runTool('redis-benchmark', ['-p', port, '-t', 'set,get', '-n', '2000', '-c', '10', '-q']);
  assert.equal(run.code, 0, run.stderr);
  const lines = run.stdout.split(/[\r\n]+/).filter((line) => /requests per second/.test(line));
  assert.ok(lines.some((line) => line.startsWith('SET: ')), run.stdout);
  assert.ok(lines.some((line) => line.startsWith('GET: ')), run.stdout);
  assert.doesNotMatch(run.stderr, /error/i, run.stderr);
});
