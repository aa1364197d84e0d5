import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseRedisBenchmarkCsv } from '../../bench/lib/redis.ts';

test('Redis 6.2+ --csv output: header, then one row per test with latencies', () => {
  const text = [
    '"test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms","p95_latency_ms","p99_latency_ms","max_latency_ms"',
    '"SET","86206.90","0.390","0.088","0.375","0.655","0.967","2.583"',
    '"GET","88495.58","0.366","0.080","0.359","0.543","0.735","1.879"',
    '',
  ].join('\n');
  const { rows, otherLines } = parseRedisBenchmarkCsv(text);
  assert.deepEqual(otherLines, []);
  assert.deepEqual(rows, [
    { test: 'SET', requestsPerS: 86206.9, avgLatencyMs: 0.39, minLatencyMs: 0.088, p50LatencyMs: 0.375, p95LatencyMs: 0.655, p99LatencyMs: 0.967, maxLatencyMs: 2.583 },
    { test: 'GET', requestsPerS: 88495.58, avgLatencyMs: 0.366, minLatencyMs: 0.08, p50LatencyMs: 0.359, p95LatencyMs: 0.543, p99LatencyMs: 0.735, maxLatencyMs: 1.879 },
  ]);
});

test('older output without a header: test and rps only', () => {
  const { rows } = parseRedisBenchmarkCsv('"SET","45045.04"\r\n"GET","45662.10"\r\n');
  assert.deepEqual(rows, [{ test: 'SET', requestsPerS: 45045.04 }, { test: 'GET', requestsPerS: 45662.1 }]);
});

test('progress overwritten with carriage returns, warnings and errors are kept apart, not parsed as rows', () => {
  const text = [
    'WARNING: Could not fetch server CONFIG',
    'SET: rps=0.0 (overall: nan) avg_msec=nan (overall: nan)\r"SET","9041.59","5.412","0.200","4.207","11.447","18.191","93.119"',
    'Error from server: ERR unknown command',
    '"GET","not a number"',
  ].join('\n');
  const { rows, otherLines } = parseRedisBenchmarkCsv(text);
  assert.equal(rows.length, 1);
  assert.equal(rows[0]?.test, 'SET');
  assert.equal(rows[0]?.requestsPerS, 9041.59);
  assert.deepEqual(otherLines, ['WARNING: Could not fetch server CONFIG', 'Error from server: ERR unknown command', '"GET","not a number"']);
});
