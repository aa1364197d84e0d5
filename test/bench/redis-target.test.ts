/**
 * The YCSB driver and redis-benchmark against a real redis-server (skipped where Debian's
 * redis-server / redis-tools are not installed).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { launchRedisServer, redisTarget, runRedisBenchmark } from '../../bench/lib/redis.ts';
import { findExecutable } from '../../bench/lib/tools.ts';
import { loadRecords, runWorkload, YCSB_WORKLOADS } from '../../bench/lib/ycsb.ts';

const missing = findExecutable('redis-server') === undefined;
// CI installs redis-server (.ci/run) and then requires it: a skip there would hide a failure.
if (missing && process.env.SHOAL_REQUIRE_REDIS_TOOLS === '1') throw new Error('redis-server not found: install it (apt-get install -y redis-server)');
const skip = missing ? 'redis-server not installed (apt-get install -y redis-server)' : false;

test('the ioredis YCSB driver and redis-benchmark run against a redis-server the bench starts and stops', { skip, timeout: 60_000 }, async () => {
  const server = await launchRedisServer();
  try {
    const target = redisTarget(server);
    const load = await loadRecords(target, 200, 4, 50, 7);
    assert.deepEqual(load.errors, {});
    const run = await runWorkload(target, {
      workload: YCSB_WORKLOADS.F as (typeof YCSB_WORKLOADS)[string], distribution: 'zipfian', records: 200, valueBytes: 50, seed: 7,
      loop: { mode: 'closed', clients: 4 }, warmupS: 0.2, durationS: 1,
    });
    assert.equal(run.errorCount, 0);
    assert.ok((run.operations.read?.ok ?? 0) > 0 && (run.operations.rmw?.ok ?? 0) > 0, JSON.stringify(run.operations));
    assert.equal(run.versions.absent, 0);
    assert.equal(run.versions.shares.one, 1);
    if (findExecutable('redis-benchmark') !== undefined) {
      const bench = await runRedisBenchmark({ host: server.host, port: server.port, tests: ['set', 'get'], clients: 4, requests: 500, keyspace: 100, valueBytes: 10 });
      assert.equal(bench.exitCode, 0);
      assert.deepEqual(bench.rows.map((r) => r.test), ['SET', 'GET']);
      assert.ok(bench.rows.every((r) => r.requestsPerS > 0));
    }
  } finally {
    await server.process.stop();
  }
  assert.equal(server.process.running, false);
});
