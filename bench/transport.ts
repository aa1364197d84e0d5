/**
 * The internode TCP transport on loopback: request/reply ping-pong.
 *
 * A client transport in this process talks to an echo server transport in a child process
 * (each side has its own event loop, as two nodes would). Closed loop: `concurrency`
 * callers each send a request (a small map with a --value-bytes Uint8Array, like a replica
 * write) and send the next one as soon as the reply arrives. Measured for concurrency 1 and
 * 32 (--concurrency-list), for each writeBatching setting: "tick" (the default: frames
 * queued during one tick go out as one write), "turn" (as one write at the next loop
 * turn) and "off" (one socket write per frame), in alternating slices so background load
 * on the machine hits all alike. Ratios are against "off".
 *
 * stdout: one JSON object (also saved under bench/results/). stderr: progress and a table.
 *
 *   node --import tsx bench/transport.ts [--duration-s 10] [--rounds 2] [--value-bytes 100] …   (--help)
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { WriteBatching } from '../src/io/tcpConnection.ts';
import { createTcpTransport, type TcpTransport } from '../src/io/tcpTransport.ts';
import { parseFlags, usage, type FlagSpec } from './lib/args.ts';
import { latencyHistogram, recordNs, summarize, type Histogram, type LatencySummaryMs } from './lib/hdr.ts';
import { commandLine, machineFacts } from './lib/machine.ts';
import { formatTable, log, ratio, saveResults } from './lib/report.ts';

const flagSpec = {
  numbers: {
    'duration-s': { default: 10, min: 0.1, help: 'measured time per mode and concurrency (all rounds), seconds' },
    rounds: { default: 2, min: 1, integer: true, help: 'alternating slices per mode' },
    'warmup-s': { default: 1, min: 0, help: 'warm-up before each slice, seconds' },
    'value-bytes': { default: 100, min: 0, integer: true, help: 'bytes of the Uint8Array in each request and reply' },
  },
  strings: {
    'concurrency-list': { default: '1,32', help: 'comma-separated in-flight request counts' },
    out: { help: 'also write the JSON results to this file' },
    serve: { help: '(internal) run the echo server with this writeBatching' },
    'client-port': { help: '(internal) the client transport port, for the server' },
  },
} satisfies FlagSpec;

const CLUSTER = 'bench-transport';
const REQUEST_TIMEOUT_MS = 5000;
/** writeBatching settings compared (the transport's option of the same values). */
type Mode = WriteBatching;
const MODES: readonly Mode[] = ['tick', 'turn', 'off'];

interface SliceTotals {
  histogram: Histogram;
  requests: number;
  errors: number;
  elapsedNs: bigint;
}

async function main(): Promise<void> {
  const flags = parseFlags(process.argv.slice(2), flagSpec);
  if (flags.help) {
    process.stderr.write(usage('bench/transport.ts', flagSpec) + '\n');
    return;
  }
  if (flags.strings.serve !== undefined) return serve(flags.strings.serve as Mode, Number(flags.strings['client-port']));
  const n = flags.numbers as Record<keyof typeof flagSpec.numbers, number>;
  const concurrencies = (flags.strings['concurrency-list'] ?? '1,32').split(',').map(Number);
  const sides = new Map<Mode, { client: TcpTransport; server: ChildProcess }>();
  try {
    for (const mode of MODES) sides.set(mode, await startPair(mode));
    const totals = new Map<string, SliceTotals>();
    const sliceS = n['duration-s'] / n.rounds;
    for (let round = 0; round < n.rounds; round++) {
      // Alternate the order each round, so no mode always runs first or last.
      const order = round % 2 === 0 ? MODES : [...MODES].reverse();
      for (const concurrency of concurrencies) {
        for (const mode of order) {
          const client = (sides.get(mode) as { client: TcpTransport }).client;
          await runSlice(client, concurrency, n['warmup-s'], n['value-bytes'], undefined);
          const key = `${mode}/${concurrency}`;
          if (!totals.has(key)) totals.set(key, { histogram: latencyHistogram(), requests: 0, errors: 0, elapsedNs: 0n });
          await runSlice(client, concurrency, sliceS, n['value-bytes'], totals.get(key));
          log(`round ${round + 1}/${n.rounds} ${key} done`);
        }
      }
    }
    report(totals, concurrencies, n);
  } finally {
    for (const { client, server } of sides.values()) {
      await client.close();
      server.kill('SIGTERM');
    }
  }
}

/** The client transport here, the echo server in a child process, introduced to each other. */
async function startPair(mode: Mode): Promise<{ client: TcpTransport; server: ChildProcess }> {
  const client = createTcpTransport({ localId: 'client', clusterName: CLUSTER, listen: { host: '127.0.0.1', port: 0 }, writeBatching: mode });
  const clientPort = await client.start();
  const script = fileURLToPath(import.meta.url);
  const server = spawn(process.execPath, [...process.execArgv, script, '--serve', mode, '--client-port', String(clientPort)], { stdio: ['ignore', 'pipe', 'inherit'] });
  const serverPort = await new Promise<number>((resolve, reject) => {
    server.once('exit', (code) => reject(new Error(`server child exited with ${code}`)));
    createInterface({ input: server.stdout as NodeJS.ReadableStream }).once('line', (line) => resolve((JSON.parse(line) as { port: number }).port));
  });
  client.setPeers(new Map([['server', { host: '127.0.0.1', port: serverPort }]]));
  return { client, server };
}

async function serve(mode: Mode, clientPort: number): Promise<void> {
  const server = createTcpTransport({ localId: 'server', clusterName: CLUSTER, listen: { host: '127.0.0.1', port: 0 }, writeBatching: mode });
  server.setPeers(new Map([['client', { host: '127.0.0.1', port: clientPort }]]));
  server.serve(async (_from, message) => message);
  const port = await server.start();
  process.stdout.write(JSON.stringify({ port }) + '\n');
  process.on('SIGTERM', () => void server.close().then(() => process.exit(0)));
}

/** Closed loop for `seconds`; records into `totals` unless it is a warm-up. */
async function runSlice(client: TcpTransport, concurrency: number, seconds: number, valueBytes: number, totals: SliceTotals | undefined): Promise<void> {
  const value = new Uint8Array(valueBytes).fill(7);
  const start = process.hrtime.bigint();
  const endNs = start + BigInt(Math.round(seconds * 1e9));
  let sequence = 0;
  const caller = async (): Promise<void> => {
    while (process.hrtime.bigint() < endNs) {
      const sentNs = process.hrtime.bigint();
      try {
        await client.request('server', { op: 'put', key: `k${sequence++ % 10_000}`, value }, REQUEST_TIMEOUT_MS);
        if (totals !== undefined) {
          recordNs(totals.histogram, process.hrtime.bigint() - sentNs);
          totals.requests++;
        }
      } catch {
        if (totals !== undefined) totals.errors++;
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, caller));
  if (totals !== undefined) totals.elapsedNs += process.hrtime.bigint() - start;
}

interface ResultRow {
  mode: Mode;
  concurrency: number;
  requests: number;
  errors: number;
  requestsPerSec: number;
  latencyMs: LatencySummaryMs;
}

function report(totals: Map<string, SliceTotals>, concurrencies: readonly number[], n: Record<string, number>): void {
  const results: ResultRow[] = [];
  for (const [key, t] of totals) {
    const [mode, concurrency] = key.split('/') as [Mode, string];
    const seconds = Number(t.elapsedNs) / 1e9;
    results.push({ mode, concurrency: Number(concurrency), requests: t.requests, errors: t.errors, requestsPerSec: Math.round(t.requests / seconds), latencyMs: summarize(t.histogram) });
  }
  const find = (mode: Mode, c: number): ResultRow | undefined => results.find((r) => r.mode === mode && r.concurrency === c);
  const versusOff = (mode: Mode) =>
    Object.fromEntries(
      concurrencies.map((c) => {
        const b = find(mode, c);
        const u = find('off', c);
        return [`c${c}`, b && u ? { throughput: ratio(b.requestsPerSec, u.requestsPerSec), p50: ratio(b.latencyMs.p50, u.latencyMs.p50), p99: ratio(b.latencyMs.p99, u.latencyMs.p99) } : null];
      }),
    );
  const ratiosOverUnbatched = { tick: versusOff('tick'), turn: versusOff('turn') };
  const output = {
    benchmark: 'transport',
    machine: machineFacts(),
    command: commandLine(),
    config: { durationS: n['duration-s'], rounds: n.rounds, warmupS: n['warmup-s'], valueBytes: n['value-bytes'], concurrencies },
    results: results.sort((x, y) => x.concurrency - y.concurrency || x.mode.localeCompare(y.mode)),
    ratiosOverUnbatched,
  };
  const rows = output.results.map((r) => [`${r.mode} c=${r.concurrency}`, String(r.requestsPerSec), String(r.latencyMs.p50), String(r.latencyMs.p99), String(r.latencyMs.p99_9), String(r.errors)]);
  process.stderr.write(formatTable(['config', 'req/s', 'p50 ms', 'p99 ms', 'p99.9 ms', 'errors'], rows) + '\n');
  const paths = saveResults('transport', output, undefined);
  log(`saved ${paths.join(', ')}`);
  process.stdout.write(JSON.stringify(output, null, 2) + '\n');
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
});
