/**
 * Runs `node bin/shoal.js …` as a child process for tests: waits for the "serving" log
 * line (with a timeout), collects output, and kills the child on cleanup.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const SHOAL_BIN = join(repoRoot, 'bin', 'shoal.js');
/** Generous: a cold start on a loaded CI machine. */
export const START_MS_MAX = 30_000;
export const EXIT_MS_MAX = 30_000;

export interface Exit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

export class ShoalProcess {
  stdout = '';
  stderr = '';
  readonly exited: Promise<Exit>;
  private exitInfo: Exit | undefined;

  constructor(readonly child: ChildProcess) {
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => (this.stdout += chunk));
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (this.stderr += chunk));
    this.exited = new Promise((resolveExit) =>
      child.once('exit', (code, signal) => {
        this.exitInfo = { code, signal };
        resolveExit(this.exitInfo);
      }),
    );
  }

  get running(): boolean {
    return this.exitInfo === undefined;
  }

  /** The JSON log lines written so far. */
  logLines(): Record<string, unknown>[] {
    return this.stdout
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as Record<string, unknown>);
  }

  /** Resolves with the HTTP URL from the "serving" line; fails if the process exits first. */
  async waitServing(): Promise<string> {
    const deadline = Date.now() + START_MS_MAX;
    while (Date.now() < deadline) {
      const serving = this.logLines().find((line) => line.msg === 'serving');
      if (serving !== undefined) return serving.http as string;
      if (!this.running) throw new Error(`shoal exited before serving:\n${this.stdout}\n${this.stderr}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`shoal not serving after ${START_MS_MAX} ms:\n${this.stdout}\n${this.stderr}`);
  }

  /** Waits for the exit, killing the process if it takes longer than EXIT_MS_MAX. */
  async waitExit(): Promise<Exit> {
    const timer = setTimeout(() => this.child.kill('SIGKILL'), EXIT_MS_MAX);
    const exit = await this.exited;
    clearTimeout(timer);
    return exit;
  }

  /** For t.after: SIGKILL if still running, and wait for it. */
  async cleanup(): Promise<void> {
    if (this.running) this.child.kill('SIGKILL');
    await this.exited;
  }
}

/** Starts `node bin/shoal.js <args>` with SHOAL_* variables of the test runner removed. */
export function runShoal(args: readonly string[], env: Record<string, string> = {}): ShoalProcess {
  const cleanEnv = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('SHOAL_')));
  const child = spawn(process.execPath, [SHOAL_BIN, ...args], {
    cwd: repoRoot,
    env: { ...cleanEnv, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return new ShoalProcess(child);
}

/** A port that was free a moment ago on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address !== null ? resolvePort(address.port) : reject(new Error('no port'))));
    });
  });
}

/** fetch with a timeout, so a test never hangs on a node. */
export async function http(url: string, init: RequestInit = {}): Promise<{ status: number; text: string; headers: Headers }> {
  const response = await fetch(url, { ...init, signal: AbortSignal.timeout(10_000) });
  return { status: response.status, text: await response.text(), headers: response.headers };
}
