/**
 * Two revisions of Shoal side by side in one run, for "measure before and after a
 * performance change": a node of the working tree (head) and a node of a git revision
 * (base, checked out into a temporary worktree), each serving the Redis protocol; the same
 * redis-benchmark test against each in alternating slices (base then head, then head then
 * base, …), so whatever else the machine does hits both alike. Per revision and test:
 * requests/s, and CPU per request of the node's main thread (its JavaScript) and of the
 * whole process (LMDB's writer thread included), as medians over the rounds; then the
 * ratios head / base. Then the time each revision's node takes from spawn to
 * `GET /admin/status` = 200, over alternating fresh starts (`--startups`).
 *
 * A revision with a build step (`npm run build`, compiled into dist/) is built in its
 * worktree first; one without runs its TypeScript through tsx, as Shoal did before it had
 * one, so this also compares compiled Shoal with the tsx run.
 *
 * The base revision runs with this checkout's node_modules (a warning says so when the
 * lock files differ) and must have the Redis front end (`--resp`).
 *
 *   npm run bench:revisions -- --base HEAD~1 [--tests set,get,ping_mbulk] [--rounds 3] …   (--help)
 */
import { join } from 'node:path';
import { parseFlags, usage, UsageError, type FlagSpec } from './lib/args.ts';
import { freePort } from './lib/free-port.ts';
import { commandLine, machineFacts } from './lib/machine.ts';
import { launchNode, repoRoot, type ShoalNodeProcess } from './lib/node-process.ts';
import { checkOutRevision, removeWorktree, runsOf } from './lib/revision.ts';
import { runRedisBenchmark } from './lib/redis.ts';
import { formatTable, log, median, ratio, runMain, saveResults } from './lib/report.ts';

const flagSpec = {
  numbers: {
    rounds: { default: 3, min: 1, integer: true, help: 'slices per revision and test (alternating order)' },
    requests: { default: 100_000, min: 1, integer: true, help: 'redis-benchmark -n per slice' },
    startups: { default: 5, min: 0, integer: true, help: 'fresh starts per revision timed to /admin/status = 200 (alternating)' },
    clients: { default: 50, min: 1, integer: true, help: 'redis-benchmark -c' },
    keyspace: { default: 10_000, min: 1, integer: true, help: 'redis-benchmark -r: keys spread over this many (written once before measuring)' },
    'value-bytes': { default: 100, min: 1, integer: true, help: 'redis-benchmark -d' },
  },
  strings: {
    base: { default: 'HEAD', help: 'the git revision to compare the working tree with' },
    tests: { default: 'set,get', help: 'redis-benchmark tests (-t), each measured on its own' },
    'shoal-args': { default: '--durable-writes none', help: 'extra `shoal start` flags for both nodes (space-separated)' },
    out: { help: 'also write the JSON results to this file' },
  },
} satisfies FlagSpec;

type Revision = 'base' | 'head';
type Numbers = Record<keyof typeof flagSpec.numbers, number>;

interface Slice {
  requestsPerS: number;
  mainThreadCpuUsPerRequest: number;
  processCpuUsPerRequest: number;
}

async function main(): Promise<void> {
  const flags = parseFlags(process.argv.slice(2), flagSpec);
  if (flags.help) {
    process.stderr.write(usage('bench/revisions.ts', flagSpec) + '\n');
    return;
  }
  const n = flags.numbers as Numbers;
  const base = flags.strings.base ?? 'HEAD';
  const tests = (flags.strings.tests ?? '').split(',').map((t) => t.trim()).filter((t) => t !== '');
  if (tests.length === 0) throw new UsageError('--tests: name at least one redis-benchmark test');
  const shoalArgs = (flags.strings['shoal-args'] ?? '').split(' ').filter((a) => a !== '');
  const machine = machineFacts();
  const startedAt = new Date().toISOString();
  const warnings: string[] = [];

  const checkout = checkOutRevision(base, warnings);
  const launched: RespNode[] = [];
  try {
    const nodes: Record<Revision, RespNode> = {
      base: await launchRespNode('base', join(checkout.dir, 'bin', 'shoal.js'), shoalArgs, launched),
      head: await launchRespNode('head', undefined, shoalArgs, launched),
    };
    for (const revision of ['base', 'head'] as const) {
      log(`${revision}: writing the ${n.keyspace} keys once (not measured)`);
      await benchmark(nodes[revision], 'set', { ...n, requests: n.keyspace * 2 });
    }
    const slices: Record<string, Record<Revision, Slice[]>> = {};
    for (const test of tests) {
      slices[test] = { base: [], head: [] };
      for (let round = 0; round < n.rounds; round++) {
        const order: readonly Revision[] = round % 2 === 0 ? ['base', 'head'] : ['head', 'base'];
        for (const revision of order) {
          const slice = await measure(nodes[revision], test, n);
          (slices[test] as Record<Revision, Slice[]>)[revision].push(slice);
          log(`${test} round ${round + 1} ${revision}: ${slice.requestsPerS.toFixed(0)}/s, main thread ${slice.mainThreadCpuUsPerRequest.toFixed(1)} us, process ${slice.processCpuUsPerRequest.toFixed(1)} us per request`);
        }
      }
    }
    const results = Object.fromEntries(Object.entries(slices).map(([test, byRevision]) => [test, summarize(byRevision)]));
    await Promise.all(launched.splice(0).map(({ node }) => node.stop()));
    const startup = n.startups > 0 ? await measureStartups(checkout.dir, shoalArgs, n.startups) : undefined;
    const output = {
      benchmark: 'revisions',
      question: `The working tree against ${base}: requests/s and CPU per request through redis-benchmark, side by side`,
      command: commandLine(),
      machine,
      startedAt,
      revisions: {
        base: { ref: base, commit: checkout.commit, runs: checkout.runs },
        head: { commit: machine.gitCommit, dirty: machine.gitDirty, runs: runsOf(repoRoot) },
      },
      options: { ...n, tests, shoalArgs },
      results,
      startup,
      warnings,
    };
    printTable(results);
    if (startup !== undefined) log(`start-up to /admin/status = 200, median: base ${startup.base.medianMs} ms, head ${startup.head.medianMs} ms (head/base ${startup.headOverBase})`);
    for (const warning of warnings) log(`WARNING: ${warning}`);
    for (const path of saveResults('revisions', output, flags.strings.out)) log(`results: ${path}`);
    process.stdout.write(JSON.stringify(output, null, 2) + '\n');
  } finally {
    await Promise.all(launched.map(({ node }) => node.stop()));
    removeWorktree(checkout.dir);
  }
}

/** Fresh starts of each revision's node, alternating, each timed from spawn to `/admin/status` = 200. */
async function measureStartups(baseDir: string, shoalArgs: readonly string[], count: number) {
  const times: Record<Revision, number[]> = { base: [], head: [] };
  for (let round = 0; round < count; round++) {
    const order: readonly Revision[] = round % 2 === 0 ? ['base', 'head'] : ['head', 'base'];
    for (const revision of order) {
      const startedAt = performance.now();
      const { node } = await launchNode({
        id: revision, args: shoalArgs, readyPollMs: 5,
        ...(revision === 'base' ? { script: join(baseDir, 'bin', 'shoal.js') } : {}),
      });
      const ms = performance.now() - startedAt;
      await node.stop();
      times[revision].push(Math.round(ms));
      log(`start-up ${round + 1} ${revision}: ${ms.toFixed(0)} ms`);
    }
  }
  const base = { medianMs: median(times.base), ms: times.base };
  const head = { medianMs: median(times.head), ms: times.head };
  return { base, head, headOverBase: ratio(head.medianMs, base.medianMs) };
}

/** A node serving the Redis protocol on `respPort`. */
interface RespNode {
  readonly node: ShoalNodeProcess;
  readonly respPort: number;
}

/** Launches a node with `--resp`; it is added to `launched` so that it is stopped whatever happens next. */
async function launchRespNode(id: Revision, script: string | undefined, shoalArgs: readonly string[], launched: RespNode[]): Promise<RespNode> {
  const respPort = await freePort();
  const { node } = await launchNode({ id, ...(script === undefined ? {} : { script }), args: ['--resp', `127.0.0.1:${respPort}`, ...shoalArgs] });
  const started = { node, respPort };
  launched.push(started);
  return started;
}

function benchmark({ respPort }: RespNode, test: string, n: Numbers) {
  return runRedisBenchmark({
    host: '127.0.0.1', port: respPort, tests: [test],
    clients: n.clients, requests: n.requests, keyspace: n.keyspace, valueBytes: n['value-bytes'],
  });
}

async function measure(target: RespNode, test: string, n: Numbers): Promise<Slice> {
  const { node } = target;
  const main0 = node.mainThreadCpuSeconds();
  const all0 = node.cpuSeconds();
  const result = await benchmark(target, test, n);
  const main1 = node.mainThreadCpuSeconds();
  const all1 = node.cpuSeconds();
  const row = result.rows[0];
  if (result.exitCode !== 0 || row === undefined) throw new Error(`redis-benchmark -t ${test} against ${node.id} failed (exit ${result.exitCode}): ${result.otherOutput.join(' | ')}`);
  const requests = n.requests;
  return {
    requestsPerS: row.requestsPerS,
    mainThreadCpuUsPerRequest: ((main1 - main0) * 1e6) / requests,
    processCpuUsPerRequest: ((all1 - all0) * 1e6) / requests,
  };
}

function summarize(byRevision: Record<Revision, Slice[]>) {
  const medians = (slices: Slice[]) => ({
    requestsPerS: Math.round(median(slices.map((s) => s.requestsPerS))),
    mainThreadCpuUsPerRequest: Math.round(median(slices.map((s) => s.mainThreadCpuUsPerRequest)) * 10) / 10,
    processCpuUsPerRequest: Math.round(median(slices.map((s) => s.processCpuUsPerRequest)) * 10) / 10,
    slices,
  });
  const base = medians(byRevision.base);
  const head = medians(byRevision.head);
  return {
    base,
    head,
    headOverBase: {
      requestsPerS: ratio(head.requestsPerS, base.requestsPerS),
      mainThreadCpuUsPerRequest: ratio(head.mainThreadCpuUsPerRequest, base.mainThreadCpuUsPerRequest),
      processCpuUsPerRequest: ratio(head.processCpuUsPerRequest, base.processCpuUsPerRequest),
    },
  };
}

function printTable(results: Record<string, ReturnType<typeof summarize>>): void {
  const rows = Object.entries(results).flatMap(([test, r]) => [
    [`${test} base`, String(r.base.requestsPerS), String(r.base.mainThreadCpuUsPerRequest), String(r.base.processCpuUsPerRequest)],
    [`${test} head`, String(r.head.requestsPerS), String(r.head.mainThreadCpuUsPerRequest), String(r.head.processCpuUsPerRequest)],
    [`${test} head/base`, String(r.headOverBase.requestsPerS), String(r.headOverBase.mainThreadCpuUsPerRequest), String(r.headOverBase.processCpuUsPerRequest)],
  ]);
  process.stderr.write(formatTable(['test', 'requests/s', 'main-thread us/req', 'process us/req'], rows) + '\n');
}

runMain(main);
