/**
 * Where a node's busy time goes, from the `.cpuprofile` files `node --cpu-prof` wrote
 * (`npm run bench:cost -- --profile-dir DIR` runs a cluster's nodes so): every sample is
 * charged to one activity, by its leaf (garbage collection, socket writes, LMDB) or else by
 * the outermost frame of its stack that names one (an HTTP request, frames arriving from a
 * peer, frames written to a peer, a buffer flush, timers, promise continuations); then the
 * functions with the most self time. Samples are wall time on the sampled thread, so on a
 * busy machine time spent waiting for a CPU is charged to whatever was running: shares, not
 * microseconds.
 *
 *   npm run bench:profile -- --dir DIR [--top 25]   (--help)
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseFlags, usage, UsageError, type FlagSpec } from './lib/args.ts';
import { formatTable, log, runMain } from './lib/report.ts';

const flagSpec = {
  numbers: {
    top: { default: 25, min: 1, integer: true, help: 'functions listed by self time' },
  },
  strings: {
    dir: { help: 'the directory of .cpuprofile files (required)' },
  },
} satisfies FlagSpec;

interface CallFrame {
  readonly functionName: string;
  readonly url: string;
  readonly lineNumber: number;
}

interface ProfileNode {
  readonly id: number;
  readonly callFrame: CallFrame;
  readonly children?: readonly number[];
}

interface CpuProfile {
  readonly nodes: readonly ProfileNode[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

/** Activities a leaf names, whatever called it. */
const LEAF_ACTIVITIES: readonly [string, (frame: CallFrame) => boolean][] = [
  ['garbage collection', (f) => f.functionName === '(garbage collector)'],
  ['socket writes (syscalls)', (f) => f.url === '' && /^(writeBuffer|writev|writeLatin1String|writeUtf8String)$/.test(f.functionName)],
  ['LMDB', (f) => f.url.includes('/node_modules/lmdb/')],
  ['msgpack', (f) => f.url.includes('/node_modules/msgpackr/')],
];

/** Activities named by the outermost matching frame of the stack; the generic ones only when no specific one matches. */
const STACK_ACTIVITIES: readonly [string, (frame: CallFrame) => boolean][] = [
  ['an HTTP request (parse, route, coordinate, answer)', (f) => /(_http_server|_http_common|kvRoute)/.test(f.url) && /^(parserOnIncoming|parserOnHeadersComplete|serve|send)$/.test(f.functionName)],
  ['frames from peers (decode, serve, reply)', (f) => f.url.includes('/io/tcpConnection') && f.functionName === 'onData'],
  ['frames to peers (write)', (f) => f.url.includes('/io/tcpConnection') && /^(flush|onFlushTurn)$/.test(f.functionName)],
  ['buffer flush', (f) => /^(startFlush|flushDone|writeEngine)$/.test(f.functionName)],
];
const GENERIC_ACTIVITIES: readonly [string, (frame: CallFrame) => boolean][] = [
  ['other promise continuations (coordinators, replies)', (f) => /^(processTicksAndRejections|runMicrotasks)$/.test(f.functionName)],
  ['other timers', (f) => /^(listOnTimeout|processTimers|processImmediate)$/.test(f.functionName)],
];

async function main(): Promise<void> {
  const flags = parseFlags(process.argv.slice(2), flagSpec);
  if (flags.help) {
    process.stderr.write(usage('bench/profile-summary.ts', flagSpec) + '\n');
    return;
  }
  const dir = flags.strings.dir;
  if (dir === undefined) throw new UsageError('--dir: name the directory of .cpuprofile files');
  const files = readdirSync(dir).filter((name) => name.endsWith('.cpuprofile')).map((name) => join(dir, name));
  if (files.length === 0) throw new UsageError(`${dir} holds no .cpuprofile file`);
  const activities = new Map<string, number>();
  const selfTime = new Map<string, number>();
  let busyUs = 0;
  let idleUs = 0;
  for (const file of files) {
    const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
    const byId = new Map(profile.nodes.map((node) => [node.id, node]));
    const parentOf = new Map<number, number>();
    for (const node of profile.nodes) for (const child of node.children ?? []) parentOf.set(child, node.id);
    profile.samples.forEach((sample, i) => {
      const us = profile.timeDeltas[i] ?? 0;
      const leaf = (byId.get(sample) as ProfileNode).callFrame;
      if (leaf.functionName === '(idle)') {
        idleUs += us;
        return;
      }
      busyUs += us;
      add(activities, activityOf(leaf, sample, byId, parentOf), us);
      add(selfTime, `${shortUrl(leaf.url)} ${leaf.functionName || '(anonymous)'}:${leaf.lineNumber + 1}`, us);
    });
  }
  const share = (us: number): number => Math.round((us / busyUs) * 1000) / 10;
  const output = {
    benchmark: 'profile-summary',
    files,
    busyS: Math.round(busyUs / 1e5) / 10,
    idleS: Math.round(idleUs / 1e5) / 10,
    activities: [...activities].sort((a, b) => b[1] - a[1]).map(([activity, us]) => ({ activity, sharePct: share(us) })),
    selfTime: [...selfTime].sort((a, b) => b[1] - a[1]).slice(0, flags.numbers.top as number).map(([fn, us]) => ({ function: fn, sharePct: share(us) })),
  };
  process.stderr.write(formatTable(['activity', '% of busy time'], output.activities.map((a) => [a.activity, String(a.sharePct)])) + '\n\n');
  process.stderr.write(formatTable(['function (self time)', '% of busy time'], output.selfTime.map((f) => [f.function, String(f.sharePct)])) + '\n');
  log(`${files.length} profiles, ${output.busyS} s busy, ${output.idleS} s idle`);
  process.stdout.write(JSON.stringify(output, null, 2) + '\n');
}

function activityOf(leaf: CallFrame, sample: number, byId: ReadonlyMap<number, ProfileNode>, parentOf: ReadonlyMap<number, number>): string {
  const byLeaf = LEAF_ACTIVITIES.find(([, matches]) => matches(leaf));
  if (byLeaf !== undefined) return byLeaf[0];
  const stack: CallFrame[] = [];
  for (let id: number | undefined = sample; id !== undefined; id = parentOf.get(id)) stack.push((byId.get(id) as ProfileNode).callFrame);
  stack.reverse();
  for (const activities of [STACK_ACTIVITIES, GENERIC_ACTIVITIES]) {
    for (const frame of stack) {
      const named = activities.find(([, matches]) => matches(frame));
      if (named !== undefined) return named[0];
    }
  }
  return leaf.functionName === '(program)' ? 'V8 and Node internals ((program))' : 'other (start-up, background work)';
}

function shortUrl(url: string): string {
  if (url === '') return '(native)';
  const inPackage = /\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url);
  if (inPackage !== null) return inPackage[1] as string;
  const ownFile = /\/dist\/(.*)$/.exec(url);
  return ownFile !== null ? (ownFile[1] as string) : url.replace(/^node:internal\//, 'node:');
}

function add(totals: Map<string, number>, name: string, us: number): void {
  totals.set(name, (totals.get(name) ?? 0) + us);
}

runMain(main);
