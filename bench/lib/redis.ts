/**
 * Redis for side-by-side comparisons: a `redis-server` started on a free loopback port
 * with persistence off (`--save '' --appendonly no`), killed on exit like every other
 * child (node-process.ts); `redis-benchmark` runs and their `--csv` output.
 */
import { execFileSync } from 'node:child_process';
import { createConnection } from 'node:net';
import { freePort } from './free-port.ts';
import { spawnManaged, type ManagedProcess } from './node-process.ts';
import { respTarget, type BenchTarget } from './targets.ts';
import { requireExecutable } from './tools.ts';

export interface RedisServer {
  process: ManagedProcess;
  host: string;
  port: number;
  version: string;
}

export async function launchRedisServer(host = '127.0.0.1'): Promise<RedisServer> {
  const bin = requireExecutable('redis-server', 'redis-server');
  const port = await freePort(host);
  const server = await spawnManaged({
    label: 'redis-server',
    command: bin,
    args: ['--port', String(port), '--bind', host, '--save', '', '--appendonly', 'no', '--protected-mode', 'no', '--loglevel', 'warning'],
    stopTimeoutMs: 5000,
  });
  try {
    await waitForPong(host, port, server, 10_000);
  } catch (error) {
    await server.stop();
    throw error;
  }
  return { process: server, host, port, version: versionOf(bin) };
}

/** Redis as a YCSB target (ioredis, one connection per client). */
export function redisTarget(server: RedisServer): BenchTarget {
  return respTarget({
    name: 'redis',
    description: `redis-server ${server.version}, persistence off (--save '' --appendonly no)`,
    host: server.host,
    port: server.port,
    processes: [server.process],
    facts: { version: server.version, command: server.process.command, address: `${server.host}:${server.port}` },
    stop: () => server.process.stop(),
  });
}

/** Sends PING until the server answers +PONG (an ioredis client would log reconnection noise meanwhile). */
export async function waitForPong(host: string, port: number, server: ManagedProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError = 'no answer';
  while (Date.now() < deadline) {
    server.assertRunning(`waiting for PONG on ${host}:${port}`);
    try {
      if ((await pingOnce(host, port)).startsWith('+PONG')) return;
      lastError = 'unexpected answer to PING';
    } catch (error) {
      lastError = error instanceof Error ? error.message : String(error);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${server.label}: no PONG from ${host}:${port} after ${timeoutMs} ms (${lastError})\n${server.output()}`);
}

function pingOnce(host: string, port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = createConnection({ host, port });
    socket.setTimeout(1000, () => socket.destroy(new Error('timeout')));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.once('data', (data) => {
      socket.end();
      resolve(data.toString('latin1'));
    });
    socket.once('error', reject);
  });
}

function versionOf(bin: string): string {
  try {
    const text = execFileSync(bin, ['--version'], { encoding: 'utf8' });
    return /v=(\S+)/.exec(text)?.[1] ?? text.trim();
  } catch {
    return 'unknown';
  }
}

export interface RedisBenchmarkOptions {
  host: string;
  port: number;
  /** -t, e.g. ['set', 'get']. */
  tests: readonly string[];
  /** -c: parallel connections. */
  clients: number;
  /** -n: requests per test. */
  requests: number;
  /** -r: random keys from this key space (0: one fixed key, redis-benchmark's default). */
  keyspace: number;
  /** -d: value size, bytes. */
  valueBytes: number;
  timeoutMs?: number;
}

/** One line of redis-benchmark's --csv output. Latencies only in Redis 6.2+ output. */
export interface RedisBenchmarkRow {
  test: string;
  requestsPerS: number;
  avgLatencyMs?: number;
  minLatencyMs?: number;
  p50LatencyMs?: number;
  p95LatencyMs?: number;
  p99LatencyMs?: number;
  maxLatencyMs?: number;
}

export interface RedisBenchmarkResult {
  command: string[];
  exitCode: number | null;
  rows: RedisBenchmarkRow[];
  /** Non-CSV output lines (warnings, errors), at most 20. */
  otherOutput: string[];
}

export async function runRedisBenchmark(options: RedisBenchmarkOptions): Promise<RedisBenchmarkResult> {
  const bin = requireExecutable('redis-benchmark', 'redis-tools');
  const args = [
    '-h', options.host, '-p', String(options.port),
    '-t', options.tests.join(','), '-c', String(options.clients), '-n', String(options.requests),
    '-d', String(options.valueBytes), '-q', '--csv',
    ...(options.keyspace > 0 ? ['-r', String(options.keyspace)] : []),
  ];
  const child = await spawnManaged({ label: 'redis-benchmark', command: bin, args, tailLines: 200, stopTimeoutMs: 2000 });
  const timer = setTimeout(() => void child.stop(), options.timeoutMs ?? 300_000);
  const { code } = await child.waitExit();
  clearTimeout(timer);
  const { rows, otherLines } = parseRedisBenchmarkCsv(child.output());
  return { command: [bin, ...args], exitCode: code, rows, otherOutput: otherLines.slice(0, 20) };
}

const CSV_FIELDS: Readonly<Record<string, keyof RedisBenchmarkRow>> = {
  rps: 'requestsPerS',
  avg_latency_ms: 'avgLatencyMs',
  min_latency_ms: 'minLatencyMs',
  p50_latency_ms: 'p50LatencyMs',
  p95_latency_ms: 'p95LatencyMs',
  p99_latency_ms: 'p99LatencyMs',
  max_latency_ms: 'maxLatencyMs',
};

/**
 * Parses `redis-benchmark --csv` output: Redis 6.2+ prints a header
 * (`"test","rps","avg_latency_ms",…`) and rows (`"SET","86206.90","0.390",…`); older
 * versions print rows of two fields (`"SET","86206.90"`) without a header. Lines that are
 * not quoted CSV (warnings, errors) are returned apart.
 */
export function parseRedisBenchmarkCsv(text: string): { rows: RedisBenchmarkRow[]; otherLines: string[] } {
  let header = ['test', 'rps'];
  const rows: RedisBenchmarkRow[] = [];
  const otherLines: string[] = [];
  for (const rawLine of text.split(/\r?\n/)) {
    // -q prints progress with carriage returns before the final line; keep what follows the last one.
    const line = rawLine.slice(rawLine.lastIndexOf('\r') + 1).trim();
    if (line === '') continue;
    const cells = csvCells(line);
    if (cells === undefined) {
      otherLines.push(line);
      continue;
    }
    if (cells[0] === 'test') {
      header = cells;
      continue;
    }
    const row: RedisBenchmarkRow = { test: cells[0] ?? '', requestsPerS: NaN };
    header.forEach((name, i) => {
      const field = CSV_FIELDS[name];
      const value = Number(cells[i]);
      if (field !== undefined && field !== 'test' && Number.isFinite(value)) row[field] = value;
    });
    if (Number.isFinite(row.requestsPerS)) rows.push(row);
    else otherLines.push(line);
  }
  return { rows, otherLines };
}

/** The cells of a line of double-quoted CSV fields, or undefined when the line is not one. */
function csvCells(line: string): string[] | undefined {
  if (!/^"[^"]*"(,"[^"]*")*$/.test(line)) return undefined;
  return line.split(',').map((cell) => cell.slice(1, -1));
}
