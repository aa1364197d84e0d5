/** Facts about the machine and the invocation, printed with every benchmark's results. */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { arch, cpus, freemem, loadavg, platform, release, totalmem } from 'node:os';
import { shellQuote, repoRoot, type ManagedProcess } from './node-process.ts';

export interface MachineFacts {
  cpuCount: number;
  cpuModel: string;
  nodeVersion: string;
  platform: string;
  arch: string;
  kernel: string;
  totalMemBytes: number;
  freeMemBytes: number;
  loadAvg1m: number;
  /** Share of the last 60 s in which some runnable task waited for a CPU (Linux PSI), 0..1. */
  cpuPressureSome60s: number | undefined;
  gitCommit: string | undefined;
  gitDirty: boolean | undefined;
}

export function machineFacts(): MachineFacts {
  const cpuList = cpus();
  let gitCommit: string | undefined;
  let gitDirty: boolean | undefined;
  try {
    gitCommit = execFileSync('git', ['rev-parse', 'HEAD'], { cwd: repoRoot, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    gitDirty = execFileSync('git', ['status', '--porcelain'], { cwd: repoRoot, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim() !== '';
  } catch {
    // not a git checkout
  }
  return {
    cpuCount: cpuList.length,
    cpuModel: cpuList[0]?.model ?? 'unknown',
    nodeVersion: process.version,
    platform: platform(),
    arch: arch(),
    kernel: release(),
    totalMemBytes: totalmem(),
    freeMemBytes: freemem(),
    loadAvg1m: Math.round((loadavg()[0] ?? 0) * 100) / 100,
    cpuPressureSome60s: cpuPressure()?.avg60,
    gitCommit,
    gitDirty,
  };
}

/** The exact command line of this process (node, its flags, the script and its arguments). */
export function commandLine(): string {
  return shellQuote([process.execPath, ...process.execArgv, ...process.argv.slice(1)]);
}

/**
 * Linux pressure-stall information for CPU (/proc/pressure/cpu, "some" line): the share of
 * time in which at least one runnable task waited for a CPU. `totalUs` is cumulative, so
 * the difference over an interval, divided by its length, is the contention during it.
 * Undefined where PSI is not available.
 */
export function cpuPressure(): { avg10: number; avg60: number; totalUs: number } | undefined {
  try {
    const some = readFileSync('/proc/pressure/cpu', 'utf8').split('\n').find((l) => l.startsWith('some '));
    const field = (name: string): number => Number(new RegExp(`${name}=([\\d.]+)`).exec(some ?? '')?.[1]);
    const result = { avg10: Math.round(field('avg10') * 10) / 1000, avg60: Math.round(field('avg60') * 10) / 1000, totalUs: field('total') };
    return Number.isFinite(result.totalUs) ? result : undefined;
  } catch {
    return undefined;
  }
}

/** Cumulative CPU time of the whole machine from /proc/stat, seconds (Linux only; undefined elsewhere). */
export interface MachineCpuTimes {
  /** user + nice + system + irq + softirq, all CPUs. */
  busyS: number;
  /** Time the hypervisor ran something else while a vCPU wanted to run. */
  stealS: number;
  idleS: number;
}

export function machineCpuTimes(): MachineCpuTimes | undefined {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n').find((l) => l.startsWith('cpu '));
    if (line === undefined) return undefined;
    // cpu  user nice system idle iowait irq softirq steal guest guest_nice (USER_HZ ticks)
    const f = line.trim().split(/\s+/).slice(1).map(Number);
    const t = (i: number): number => (f[i] ?? 0) / 100;
    return { busyS: t(0) + t(1) + t(2) + t(5) + t(6), stealS: t(7), idleS: t(3) + t(4) };
  } catch {
    return undefined;
  }
}

/**
 * Where the machine's CPU went over an interval, in cores (1 = one CPU busy all the time):
 * the benchmark's nodes, this load generator, everything else on the machine, and
 * hypervisor steal; and the CPU pressure (share of the time some task waited for a CPU).
 */
export interface CpuShare {
  machineBusyCores: number | null;
  nodesCores: number;
  clientCores: number;
  otherCores: number | null;
  stealCores: number | null;
  cpuPressureSome: number | null;
}

/** Cumulative CPU counters at one moment; two of them give a CpuShare. */
export interface CpuSample {
  atMs: number;
  /** CPU seconds of each node given, in order (0 for one not running). */
  perNodeS: number[];
  nodesS: number;
  clientS: number;
  machineBusyS: number | undefined;
  stealS: number | undefined;
  pressureUs: number | undefined;
}

export function sampleCpu(nodes: readonly ManagedProcess[]): CpuSample {
  const usage = process.cpuUsage();
  const machine = machineCpuTimes();
  const perNodeS = nodes.map((node) => (node.running ? node.cpuSeconds() : 0));
  return {
    atMs: performance.now(),
    perNodeS,
    nodesS: perNodeS.reduce((sum, s) => sum + s, 0),
    clientS: (usage.user + usage.system) / 1e6,
    machineBusyS: machine?.busyS,
    stealS: machine?.stealS,
    pressureUs: cpuPressure()?.totalUs,
  };
}

export function cpuShare(a: CpuSample, b: CpuSample): CpuShare {
  const s = (b.atMs - a.atMs) / 1000;
  const r = (x: number): number => Math.round((x / s) * 100) / 100;
  const busy = a.machineBusyS === undefined || b.machineBusyS === undefined ? null : r(b.machineBusyS - a.machineBusyS);
  const nodesCores = r(b.nodesS - a.nodesS);
  const clientCores = r(b.clientS - a.clientS);
  return {
    machineBusyCores: busy,
    nodesCores,
    clientCores,
    otherCores: busy === null ? null : Math.round(Math.max(0, busy - nodesCores - clientCores) * 100) / 100,
    stealCores: a.stealS === undefined || b.stealS === undefined ? null : r(b.stealS - a.stealS),
    cpuPressureSome: a.pressureUs === undefined || b.pressureUs === undefined ? null : Math.round(((b.pressureUs - a.pressureUs) / 1e6 / s) * 1000) / 1000,
  };
}

/** CPU each node used between two samples, in cores. */
export function nodeCores(a: CpuSample, b: CpuSample): number[] {
  const s = (b.atMs - a.atMs) / 1000;
  return b.perNodeS.map((x, i) => Math.round(((x - (a.perNodeS[i] ?? 0)) / s) * 100) / 100);
}
