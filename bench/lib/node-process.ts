/**
 * Launches real Shoal node processes (`node bin/shoal.js start …`) for benchmarks, waits
 * until `GET /admin/status` answers 200, and guarantees they are stopped and their
 * temporary data directories removed: on stop(), on normal exit, on an uncaught error,
 * and on SIGINT/SIGTERM of the benchmark.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePorts } from './free-port.ts';
import { getOnce, type SecureAccess } from './http-client.ts';

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const shoalBin = join(repoRoot, 'bin', 'shoal.js');

export interface LaunchOptions {
  /** Node id (`--id`). */
  id: string;
  /**
   * The script to run instead of bin/shoal.js (for testing the harness against a stub);
   * it receives the same `start …` arguments. Default: bin/shoal.js, or SHOAL_BENCH_BIN.
   */
  script?: string;
  /** Extra `shoal start` flags, e.g. ['--buffer-objects-max', '0']. */
  args?: readonly string[];
  /** Flags for node itself, before the script, e.g. ['--cpu-prof', '--cpu-prof-dir', DIR]. */
  nodeArgs?: readonly string[];
  /** Extra environment variables for the child. */
  env?: Readonly<Record<string, string>>;
  /** Bind host for HTTP and internode ports. */
  host?: string;
  /** Data directory; a fresh temp dir (removed on stop) when omitted. */
  dataDir?: string;
  /**
   * Ports to use instead of fresh ones (a cluster's members must know each other's
   * addresses before any starts; see cluster.ts). Default: free ports from the kernel.
   */
  httpPort?: number;
  listenPort?: number;
  /** `--log-level`; default 'warn'. */
  logLevel?: string;
  /** How long to wait for `/admin/status` to answer 200. */
  readyTimeoutMs?: number;
  /** How often to ask `/admin/status` until it answers 200; default 100 ms (5 ms to time a start-up). */
  readyPollMs?: number;
  /** How long SIGTERM gets before SIGKILL on stop. */
  stopTimeoutMs?: number;
  /**
   * The node serves HTTPS and wants credentials (`args` carry its --tls-* and --users-file
   * flags): how to reach it. Its httpUrl is then https://.
   */
  secure?: SecureAccess | undefined;
}

export interface MemorySample {
  /** VmRSS, bytes. */
  rssBytes: number;
  /** RssAnon (heap, buffers), bytes. */
  rssAnonBytes: number;
  /** RssFile (mapped files, e.g. LMDB pages), bytes. */
  rssFileBytes: number;
  /** VmHWM (peak RSS), bytes. */
  peakRssBytes: number;
}

/** Pino's numeric levels, for counting a node's log lines. */
const PINO_LEVELS: Readonly<Record<string, string>> = { 10: 'trace', 20: 'debug', 30: 'info', 40: 'warn', 50: 'error', 60: 'fatal' };

/** What a node logged at warn level or above, for reports. */
export interface LogSummary {
  /** Lines per pino level name ('warn', 'error', 'fatal', …); 'other' for non-JSON lines. */
  byLevel: Record<string, number>;
  /** Up to 20 distinct warn+ messages (`level: msg`), each with how often it appeared. */
  messages: { level: string; msg: string; count: number; firstAtMs: number }[];
}

/** Last lines of the child's output, kept for error reports, and counts of its log lines by level. */
class OutputTail {
  private readonly lines: string[] = [];
  private partial = '';
  private readonly byLevel: Record<string, number> = {};
  private readonly messages = new Map<string, { level: string; msg: string; count: number; firstAtMs: number }>();
  private readonly started = Date.now();
  constructor(private readonly max: number) {}
  push(chunk: Buffer): void {
    const parts = (this.partial + chunk.toString('utf8')).split('\n');
    this.partial = parts.pop() ?? '';
    for (const line of parts) {
      this.count(line);
      this.lines.push(line);
      if (this.lines.length > this.max) this.lines.shift();
    }
  }
  text(): string {
    return [...this.lines, this.partial].filter((l) => l !== '').join('\n');
  }
  summary(): LogSummary {
    return { byLevel: { ...this.byLevel }, messages: [...this.messages.values()].map((m) => ({ ...m })) };
  }
  private count(line: string): void {
    if (line.trim() === '') return;
    const levelNumber = /"level":(\d+)/.exec(line)?.[1];
    const level = levelNumber === undefined ? 'other' : (PINO_LEVELS[levelNumber] ?? `level${levelNumber}`);
    this.byLevel[level] = (this.byLevel[level] ?? 0) + 1;
    if (levelNumber !== undefined && Number(levelNumber) < 40) return;
    const msg = /"msg":"((?:[^"\\]|\\.)*)"/.exec(line)?.[1] ?? line.slice(0, 200);
    const id = `${level}: ${msg}`;
    const seen = this.messages.get(id);
    if (seen !== undefined) seen.count++;
    else if (this.messages.size < 20) this.messages.set(id, { level, msg, count: 1, firstAtMs: Date.now() - this.started });
  }
}

/** What a managed child process is launched with (see spawnManaged()). */
export interface ManagedProcessOptions {
  /** How reports and errors name it, e.g. 'redis-server' or 'etcd m1'. */
  label: string;
  /** The executable (a path, or a name looked up in PATH). */
  command: string;
  args: readonly string[];
  env?: Readonly<Record<string, string>>;
  cwd?: string;
  /** How long SIGTERM gets before SIGKILL on stop; default 10 s. */
  stopTimeoutMs?: number;
  /** Output lines kept for error reports; default 60. */
  tailLines?: number;
  /** Also copy the child's stderr to this process's stderr as it comes (progress of a child benchmark). */
  echoStderr?: boolean;
}

/**
 * A child process this benchmark started (a Shoal node, redis-server, etcd …): its output
 * tail and log-level counts, CPU and memory from /proc, and stop() (SIGTERM, then SIGKILL).
 * Every one is registered so that it is killed on exit, error and SIGINT/SIGTERM.
 */
export class ManagedProcess {
  private exitInfo: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  private readonly exited: Promise<void>;
  private stopping: Promise<void> | undefined;

  constructor(
    readonly label: string,
    private readonly child: ChildProcess,
    /** The exact command that started it. */
    readonly command: readonly string[],
    private readonly tail: OutputTail,
    private readonly stopTimeoutMs: number,
  ) {
    this.exited = new Promise((resolveExit) => {
      child.once('exit', (code, signal) => {
        this.exitInfo = { code, signal };
        resolveExit();
      });
    });
  }

  get pid(): number {
    if (this.child.pid === undefined) throw new Error(`${this.label}: no pid`);
    return this.child.pid;
  }

  get running(): boolean {
    return this.exitInfo === undefined;
  }

  /** The child's recent stdout/stderr. */
  output(): string {
    return this.tail.text();
  }

  /**
   * Counts of the process's log lines by level, and its distinct warn/error messages (with
   * `firstAtMs`, ms after launch), since it started.
   */
  logSummary(): LogSummary {
    return this.tail.summary();
  }

  /** Throws, with the exit status and the last output, if the process has exited. */
  assertRunning(doing: string): void {
    if (!this.running) throw new Error(`${this.label} ${this.describeExit()} (found while ${doing}); its last output:\n${this.output()}`);
  }

  describeExit(): string {
    if (this.exitInfo === undefined) return 'running';
    return this.exitInfo.signal !== null ? `killed by ${this.exitInfo.signal}` : `exited with code ${this.exitInfo.code}`;
  }

  /** Resident memory of the process, from /proc/<pid>/status (Linux only). */
  memory(): MemorySample {
    this.assertRunning('reading its memory');
    const status = readFileSync(`/proc/${this.pid}/status`, 'utf8');
    const kb = (field: string): number => {
      const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status);
      return match?.[1] !== undefined ? Number(match[1]) * 1024 : NaN;
    };
    return { rssBytes: kb('VmRSS'), rssAnonBytes: kb('RssAnon'), rssFileBytes: kb('RssFile'), peakRssBytes: kb('VmHWM') };
  }

  /** CPU time (user + system) the process has used so far, seconds, from /proc/<pid>/stat. */
  cpuSeconds(): number {
    this.assertRunning('reading its CPU time');
    return ticksOf(readFileSync(`/proc/${this.pid}/stat`, 'utf8')) / clockTicksPerSecond;
  }

  /**
   * CPU time of the process's main thread alone (its JavaScript: the event loop), seconds,
   * from /proc/<pid>/task/<pid>/stat; LMDB's writer and libuv's pool are other threads.
   */
  mainThreadCpuSeconds(): number {
    this.assertRunning('reading its CPU time');
    return ticksOf(readFileSync(`/proc/${this.pid}/task/${this.pid}/stat`, 'utf8')) / clockTicksPerSecond;
  }

  /** SIGTERM, then SIGKILL after the stop timeout; resolves once the process has exited. Idempotent. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      if (this.running) {
        this.child.kill('SIGTERM');
        const timer = setTimeout(() => {
          if (this.running) this.child.kill('SIGKILL');
        }, this.stopTimeoutMs);
        await this.exited;
        clearTimeout(timer);
      }
      live.delete(this);
    })();
    return this.stopping;
  }

  /** Resolves when the process has exited (by itself or stopped), with its exit status. */
  async waitExit(): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    await this.exited;
    live.delete(this);
    return this.exitInfo ?? { code: null, signal: null };
  }

  /** Synchronous last resort for process exit handlers. */
  killNow(): void {
    if (this.running) this.child.kill('SIGKILL');
  }
}

/** Spawns a child process, registered for cleanup, once it has started (rejects when the executable is missing). */
export async function spawnManaged(options: ManagedProcessOptions): Promise<ManagedProcess> {
  installCleanupHandlers();
  const { child, tail, started } = startChild(options.command, options.args, options.env, options.cwd, options.tailLines);
  if (options.echoStderr === true) child.stderr?.on('data', (chunk: Buffer) => process.stderr.write(chunk));
  await started;
  const managed = new ManagedProcess(options.label, child, [options.command, ...options.args], tail, options.stopTimeoutMs ?? 10_000);
  live.add(managed);
  return managed;
}

/** Spawns with piped output kept in a tail; `started` settles on 'spawn' or 'error' (e.g. ENOENT). */
function startChild(
  command: string,
  args: readonly string[],
  env: Readonly<Record<string, string>> | undefined,
  cwd: string | undefined,
  tailLines = 60,
): { child: ChildProcess; tail: OutputTail; started: Promise<void> } {
  const child = spawn(command, [...args], { cwd: cwd ?? repoRoot, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const tail = new OutputTail(tailLines);
  child.stdout?.on('data', (chunk: Buffer) => tail.push(chunk));
  child.stderr?.on('data', (chunk: Buffer) => tail.push(chunk));
  const started = new Promise<void>((resolveSpawn, rejectSpawn) => {
    child.once('spawn', resolveSpawn);
    child.once('error', rejectSpawn);
  });
  return { child, tail, started };
}

/** A Shoal node process: its addresses and data dir, and readiness through `/admin/status`. */
export class ShoalNodeProcess extends ManagedProcess {
  constructor(
    readonly id: string,
    child: ChildProcess,
    readonly httpUrl: string,
    readonly listenAddress: string,
    readonly dataDir: string,
    private readonly ownsDataDir: boolean,
    command: readonly string[],
    tail: OutputTail,
    stopTimeoutMs: number,
    /** How to reach a secure node (HTTPS, credentials); undefined for a plain one. */
    readonly secure: SecureAccess | undefined,
  ) {
    super(`node ${id}`, child, command, tail, stopTimeoutMs);
  }

  /** Polls `GET /admin/status` until it answers 200; fails fast if the process exits. */
  async waitReady(timeoutMs: number, pollMs = 100): Promise<unknown> {
    const deadline = Date.now() + timeoutMs;
    let lastError = 'no answer yet';
    while (Date.now() < deadline) {
      if (!this.running) throw new Error(`node ${this.id} ${this.describeExit()} before it was ready.\n${this.output()}`);
      try {
        const { status, body } = await getOnce(`${this.httpUrl}/admin/status`, 1000, this.secure);
        if (status === 200) {
          try {
            return JSON.parse(body) as unknown;
          } catch {
            return body;
          }
        }
        lastError = `status ${status}: ${body.slice(0, 200)}`;
      } catch (error) {
        lastError = error instanceof Error ? error.message : String(error);
      }
      await new Promise((r) => setTimeout(r, pollMs));
    }
    throw new Error(`node ${this.id} not ready after ${timeoutMs} ms (${lastError}).\n${this.output()}`);
  }

  /**
   * SIGTERM (the node flushes and exits), then SIGKILL after the stop timeout. Removes an
   * owned temp data dir unless `keepData` (then call discardData() later; the dir is still
   * removed when the benchmark process exits). Idempotent.
   */
  override stop(options: { keepData?: boolean } = {}): Promise<void> {
    return super.stop().then(() => {
      if (options.keepData !== true) this.discardData();
    });
  }

  /** Removes the data dir if this launcher created it. */
  discardData(): void {
    if (this.ownsDataDir) {
      rmSync(this.dataDir, { recursive: true, force: true });
      ownedDirs.delete(this.dataDir);
    }
  }
}

/** USER_HZ; 100 on every Linux platform Node supports. */
const clockTicksPerSecond = 100;

/** utime + stime of a /proc stat line (fields 14 and 15, counted after the parenthesised command name). */
function ticksOf(stat: string): number {
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]);
}

const live = new Set<ManagedProcess>();
const ownedDirs = new Set<string>();
let handlersInstalled = false;

function installCleanupHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  process.on('exit', () => {
    for (const node of live) node.killNow();
    for (const dir of ownedDirs) rmSync(dir, { recursive: true, force: true });
  });
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => {
      process.stderr.write(`\n[bench] ${signal}: stopping ${live.size} process(es)…\n`);
      void stopAllNodes().finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
    });
  }
}

/**
 * A fresh temp directory that is removed when the benchmark process exits (also on error
 * and SIGINT), unless removed earlier with removeTempDir().
 */
export function makeTempDir(prefix: string): string {
  installCleanupHandlers();
  const dir = mkdtempSync(join(tmpdir(), prefix));
  ownedDirs.add(dir);
  return dir;
}

export function removeTempDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
  ownedDirs.delete(dir);
}

/** Stops every process launched by this benchmark (Shoal nodes, redis-server, etcd …). */
export async function stopAllNodes(): Promise<void> {
  await Promise.all([...live].map((node) => node.stop()));
}

/** Starts `node bin/shoal.js start …` with fresh ports and waits until it serves requests. */
export async function launchNode(options: LaunchOptions): Promise<{ node: ShoalNodeProcess; status: unknown }> {
  installCleanupHandlers();
  const host = options.host ?? '127.0.0.1';
  const fresh = options.httpPort === undefined || options.listenPort === undefined ? await freePorts(2, host) : [];
  const httpPort = options.httpPort ?? fresh[0];
  const listenPort = options.listenPort ?? fresh[1];
  const ownsDataDir = options.dataDir === undefined;
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), `shoal-bench-${options.id}-`));
  if (ownsDataDir) ownedDirs.add(dataDir);
  const httpAddress = `${host}:${httpPort}`;
  const listenAddress = `${host}:${listenPort}`;
  const args = [
    ...(options.nodeArgs ?? []),
    options.script ?? process.env.SHOAL_BENCH_BIN ?? shoalBin, 'start',
    '--id', options.id,
    '--http', httpAddress,
    '--listen', listenAddress,
    '--data', dataDir,
    '--log-level', options.logLevel ?? 'warn',
    ...(options.args ?? []),
  ];
  const { child, tail, started } = startChild(process.execPath, args, options.env, repoRoot);
  const node = new ShoalNodeProcess(
    options.id, child, `${options.secure === undefined ? 'http' : 'https'}://${httpAddress}`, listenAddress, dataDir, ownsDataDir,
    [process.execPath, ...args], tail, options.stopTimeoutMs ?? 10_000, options.secure,
  );
  live.add(node);
  await started;
  try {
    const status = await node.waitReady(options.readyTimeoutMs ?? 30_000, options.readyPollMs);
    return { node, status };
  } catch (error) {
    await node.stop();
    throw error;
  }
}

/** A shell-quoted rendering of a command line. */
export function shellQuote(argv: readonly string[]): string {
  return argv.map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`)).join(' ');
}
