/**
 * An open-loop client load over plain HTTP for the real-network fault test: PUTs and GETs
 * round-robin over the nodes at a fixed rate, whatever the nodes answer (a slow node does
 * not slow the load sent to the others), each one recorded: node, operation, key, the time
 * it was sent and answered, the status (0 for no answer: a timeout or a broken connection).
 *
 * Writes and their order, so that lost writes can be told apart from superseded ones:
 * - every PUT carries a value never written before (`v<sequence>-<key>`);
 * - a key has at most one PUT in flight, and each PUT carries the context of the key's last
 *   acknowledged PUT (none before the first). So every PUT sent after an acknowledged PUT A
 *   names A's version in its context: if it lands (acknowledged or not: a 503 is not a
 *   rollback), it may supersede A, and nothing else can.
 */
import { Agent, request } from 'node:http';
import type { Socket } from 'node:net';
import type { Prng } from '../../src/sim/prng.ts';

export const CONTEXT_HEADER = 'x-shoal-context';

export type Operation = 'put' | 'get';

export interface RequestRecord {
  /** Index of the node the request was sent to. */
  readonly node: number;
  readonly operation: Operation;
  readonly key: string;
  /** PUT only. */
  readonly value: string | undefined;
  /** ms since the load's time origin. */
  readonly sentMs: number;
  answeredMs: number;
  /** HTTP status; 0 when no answer came (see `error`). */
  status: number;
  error: string | undefined;
  /**
   * How long the kept-alive connection it went out on had been idle, ms (null: a new
   * connection): tells a keep-alive reuse race from a node's own reset.
   */
  socketIdleMs: number | null;
}

export interface WriteAttempt {
  readonly value: string;
  readonly sentMs: number;
  /** undefined while in flight. */
  acknowledged: boolean | undefined;
}

interface KeyState {
  readonly key: string;
  writeInFlight: boolean;
  /** The context of the last acknowledged PUT. */
  context: string | undefined;
  /** Every PUT of the key, in the order sent (which is also the order answered). */
  readonly writes: WriteAttempt[];
}

export interface HttpAnswer {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: Buffer;
}

export interface LoadSettings {
  /** HOST:PORT of each node's HTTP API. */
  readonly nodes: readonly string[];
  readonly keyCount: number;
  readonly requestsPerNodePerS: number;
  readonly writeShare: number;
  /** A request without an answer by then is given up (status 0, error "timeout"). */
  readonly clientTimeoutMs: number;
  readonly random: Prng;
  /** performance.now() of the run's time origin. */
  readonly originMs: number;
}

/**
 * The agents' socket timeout. An Agent without one keeps idle connections forever and ignores
 * the server's `Keep-Alive: timeout=5` hint (Node 20 only lowers a timeout it has), so it
 * reuses connections the node is closing, and requests fail with ECONNRESET. With it, idle
 * connections are closed a second before the node's keep-alive timeout.
 */
const AGENT_SOCKET_TIMEOUT_MS = 60_000;

/** A keep-alive agent whose idle connections close before the server closes them. */
export function keepAliveAgent(): Agent {
  return new Agent({ keepAlive: true, maxSockets: Infinity, timeout: AGENT_SOCKET_TIMEOUT_MS });
}

/** How often the load checks whether requests are due. */
const TICK_MS = 5;
/** Attempts at picking a key without a PUT in flight before a PUT turns into a GET. */
const KEY_PICKS_MAX = 16;

/** One HTTP request with a deadline; never rejects (no answer: status 0). */
export type HttpOutcome = (HttpAnswer | { readonly status: 0; readonly error: string }) & { readonly socketIdleMs: number | null };

/** When each kept-alive connection last finished a response (performance.now()). */
const socketIdleSinceMs = new WeakMap<Socket, number>();

export function httpRequest(agent: Agent, hostPort: string, method: string, path: string, options: { body?: string; headers?: Record<string, string>; timeoutMs: number }): Promise<HttpOutcome> {
  const [host, port] = splitHostPort(hostPort);
  return new Promise((resolve) => {
    const headers: Record<string, string | number> = { ...(options.headers ?? {}) };
    if (options.body !== undefined) {
      headers['content-type'] = 'text/plain';
      headers['content-length'] = Buffer.byteLength(options.body);
    }
    let socketIdleMs: number | null = null;
    const outgoing = request({ agent, host, port, method, path, headers, signal: AbortSignal.timeout(options.timeoutMs) }, (incoming) => {
      const chunks: Buffer[] = [];
      incoming.on('data', (chunk: Buffer) => chunks.push(chunk));
      incoming.once('end', () => {
        if (outgoing.socket !== null) socketIdleSinceMs.set(outgoing.socket, performance.now());
        resolve({ status: incoming.statusCode ?? 0, headers: incoming.headers, body: Buffer.concat(chunks), socketIdleMs });
      });
      incoming.once('error', (error) => resolve({ status: 0, error: errorName(error), socketIdleMs }));
    });
    outgoing.once('socket', (socket) => {
      const sinceMs = socketIdleSinceMs.get(socket);
      socketIdleMs = sinceMs === undefined ? null : Math.round(performance.now() - sinceMs);
    });
    outgoing.once('error', (error) => resolve({ status: 0, error: errorName(error), socketIdleMs }));
    outgoing.end(options.body);
  });
}

function errorName(error: Error): string {
  if (error.name === 'AbortError' || error.name === 'TimeoutError') return 'timeout';
  return (error as NodeJS.ErrnoException).code ?? error.message;
}

function splitHostPort(hostPort: string): [string, number] {
  const colon = hostPort.lastIndexOf(':');
  return [hostPort.slice(0, colon), Number(hostPort.slice(colon + 1))];
}

export function isSuccess(record: Pick<RequestRecord, 'operation' | 'status'>): boolean {
  return record.operation === 'put' ? record.status === 204 : record.status === 200 || record.status === 300 || record.status === 404;
}

export class LoadGenerator {
  readonly records: RequestRecord[] = [];
  private readonly keys: KeyState[];
  private readonly inFlight = new Set<Promise<void>>();
  private readonly agent = keepAliveAgent();
  private timer: NodeJS.Timeout | undefined;
  private startedMs = 0;
  private sent = 0;
  private valueSequence = 0;

  constructor(private readonly settings: LoadSettings) {
    this.keys = Array.from({ length: settings.keyCount }, (_, index) => ({ key: `key-${String(index).padStart(4, '0')}`, writeInFlight: false, context: undefined, writes: [] }));
  }

  nowMs(): number {
    return performance.now() - this.settings.originMs;
  }

  start(): void {
    this.startedMs = this.nowMs();
    this.timer = setInterval(() => this.sendDue(), TICK_MS);
  }

  /** Stops sending and waits for every request in flight to be answered or given up. */
  async stop(): Promise<void> {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    while (this.inFlight.size > 0) await Promise.all([...this.inFlight]);
    this.agent.destroy();
  }

  /** Each key's PUTs, for the lost-write check. */
  writesByKey(): Map<string, readonly WriteAttempt[]> {
    return new Map(this.keys.map((state) => [state.key, state.writes]));
  }

  private sendDue(): void {
    const { nodes, requestsPerNodePerS } = this.settings;
    const due = Math.floor(((this.nowMs() - this.startedMs) * requestsPerNodePerS * nodes.length) / 1000);
    while (this.sent < due) {
      const node = this.sent % nodes.length;
      this.sent++;
      this.track(this.sendOne(node));
    }
  }

  private track(pending: Promise<void>): void {
    this.inFlight.add(pending);
    void pending.finally(() => this.inFlight.delete(pending));
  }

  private async sendOne(node: number): Promise<void> {
    const { random } = this.settings;
    const writing = random.chance(this.settings.writeShare);
    const state = writing ? this.keyWithoutWrite() : random.pick(this.keys);
    if (state === undefined || !writing) {
      await this.get(node, (state ?? random.pick(this.keys)).key);
      return;
    }
    await this.put(node, state);
  }

  private keyWithoutWrite(): KeyState | undefined {
    for (let attempt = 0; attempt < KEY_PICKS_MAX; attempt++) {
      const state = this.settings.random.pick(this.keys);
      if (!state.writeInFlight) return state;
    }
    return undefined;
  }

  private async get(node: number, key: string): Promise<void> {
    const record = this.newRecord(node, 'get', key, undefined);
    const answer = await httpRequest(this.agent, this.settings.nodes[node] as string, 'GET', `/kv/${key}`, { timeoutMs: this.settings.clientTimeoutMs });
    this.answer(record, answer);
  }

  private async put(node: number, state: KeyState): Promise<void> {
    const value = `v${++this.valueSequence}-${state.key}`;
    const record = this.newRecord(node, 'put', state.key, value);
    const attempt: WriteAttempt = { value, sentMs: record.sentMs, acknowledged: undefined };
    state.writes.push(attempt);
    state.writeInFlight = true;
    const headers: Record<string, string> = state.context === undefined ? {} : { [CONTEXT_HEADER]: state.context };
    const answer = await httpRequest(this.agent, this.settings.nodes[node] as string, 'PUT', `/kv/${state.key}`, { body: value, headers, timeoutMs: this.settings.clientTimeoutMs });
    this.answer(record, answer);
    attempt.acknowledged = record.status === 204;
    if (attempt.acknowledged && 'headers' in answer) {
      const context = answer.headers[CONTEXT_HEADER];
      if (typeof context === 'string') state.context = context;
    }
    state.writeInFlight = false;
  }

  private newRecord(node: number, operation: Operation, key: string, value: string | undefined): RequestRecord {
    const record: RequestRecord = { node, operation, key, value, sentMs: this.nowMs(), answeredMs: Number.NaN, status: 0, error: undefined, socketIdleMs: null };
    this.records.push(record);
    return record;
  }

  private answer(record: RequestRecord, answer: HttpOutcome): void {
    record.answeredMs = this.nowMs();
    record.status = answer.status;
    record.socketIdleMs = answer.socketIdleMs;
    if ('error' in answer) record.error = answer.error;
  }
}
