/**
 * What a YCSB-style benchmark drives: one small interface, KvTarget (read, update with an
 * optional context, close), implemented for Shoal over HTTP, any Redis-protocol server
 * through ioredis (Shoal's RESP front end and Redis itself), etcd's v3 JSON gateway, and
 * Shoal's TypeScript client (src/client) in either coordination mode.
 *
 * A KvTarget is one connection used by one client at a time (a closed-loop client, or one
 * open-loop slot), so nothing is pipelined: a client's next request waits for its answer.
 * A BenchTarget is the system under test: it opens connections and knows its processes
 * (whose CPU is charged to it) and the facts printed with its results.
 */
import { Redis } from 'ioredis';
import { createClient, ShoalClientError } from '../../src/client/index.ts';
import { KvClient, type KvResult, type SecureAccess } from './http-client.ts';
import type { OpOutcome } from './load.ts';
import type { ManagedProcess } from './node-process.ts';

export interface ReadOutcome extends OpOutcome {
  /** Versions the read returned: 0 when the key is absent, more than 1 for siblings. */
  versions: number;
  /** The opaque context to write back with (Shoal), when there is one. */
  context: string | undefined;
}

export interface WriteOutcome extends OpOutcome {
  context: string | undefined;
}

export interface KvTarget {
  read(key: string): Promise<ReadOutcome>;
  /** Writes `value`; `ctx` is the context of a previous read (Shoal; other systems ignore it). */
  update(key: string, value: Buffer, ctx?: string): Promise<WriteOutcome>;
  close(): Promise<void>;
}

export interface BenchTarget {
  /** Short name used in results and ratios, e.g. 'redis', 'shoal-resp'. */
  readonly name: string;
  readonly description: string;
  /** The processes serving it (their CPU is reported as the target's). */
  readonly processes: readonly ManagedProcess[];
  /** Versions, command lines, settings: printed with the results. */
  readonly facts: Record<string, unknown>;
  /** Where a Redis-protocol tool (redis-benchmark) can reach it, when it speaks RESP. */
  readonly resp?: { host: string; port: number };
  /** A new connection for one client (one request at a time). */
  connect(): Promise<KvTarget>;
  /** Stops what the target started (processes, temp dirs). Idempotent. */
  stop(): Promise<void>;
}

/** A target that cannot run here (a missing binary, a feature not built yet): the comparison is skipped and says why. */
export class TargetUnavailable extends Error {
  override readonly name = 'TargetUnavailable';
  constructor(message: string, readonly install?: string) {
    super(message);
  }
}

/** What the JSON records for a skipped target or comparison. */
export interface SkipRecord {
  skipped: true;
  reason: string;
  install?: string;
}

export function skipRecord(error: TargetUnavailable): SkipRecord {
  return error.install === undefined ? { skipped: true, reason: error.message } : { skipped: true, reason: error.message, install: error.install };
}

/** Runs `start`; a TargetUnavailable becomes a SkipRecord (anything else is thrown). */
export async function startOrSkip<T>(start: () => Promise<T>): Promise<T | SkipRecord> {
  try {
    return await start();
  } catch (error) {
    if (error instanceof TargetUnavailable) return skipRecord(error);
    throw error;
  }
}

export function isSkip(value: unknown): value is SkipRecord {
  return typeof value === 'object' && value !== null && (value as { skipped?: unknown }).skipped === true;
}

/** The parts of a BenchTarget that the system's launcher provides. */
export interface TargetBase {
  name: string;
  description: string;
  processes: readonly ManagedProcess[];
  facts: Record<string, unknown>;
  stop: () => Promise<void>;
}

/**
 * How a Shoal target chooses a write's context when the caller gives none:
 * - 'last-seen': the last context this target saw for the key (from any of its
 *   connections, reads and writes), so an update overwrites what the client knew, as a
 *   Redis SET does, and keys do not pile up siblings. Memory: one context per key.
 * - 'explicit': none; an update without a context is a blind write (it supersedes nothing).
 */
export type ContextPolicy = 'last-seen' | 'explicit';

export interface ShoalHttpOptions extends TargetBase {
  httpUrls: readonly string[];
  contexts: ContextPolicy;
  /** The node (index into httpUrls) that gets a request for `key`; default: round robin per connection. */
  route?: (key: string) => number;
  timeoutMs?: number;
  /** The nodes are secure (https:// URLs): the CA and the credentials. */
  secure?: SecureAccess | undefined;
}

/** Shoal's HTTP API: GET /kv/:key (200, 300 siblings, 404) and PUT /kv/:key with X-Shoal-Context. */
export function shoalHttpTarget(options: ShoalHttpOptions): BenchTarget {
  const lastContexts = new Map<string, string>();
  const remember = (key: string, context: string | undefined): void => {
    if (options.contexts === 'last-seen' && context !== undefined) lastContexts.set(key, context);
  };
  return {
    ...baseOf(options),
    async connect(): Promise<KvTarget> {
      const clients = options.httpUrls.map((url) => new KvClient(url, { maxSockets: 1, timeoutMs: options.timeoutMs ?? 10_000, secure: options.secure }));
      let turn = 0;
      const client = (key: string): KvClient => {
        const index = options.route === undefined ? turn++ % clients.length : options.route(key);
        return clients[index] as KvClient;
      };
      return {
        async read(key) {
          const res = await client(key).get(key);
          remember(key, res.context);
          return shoalRead(res);
        },
        async update(key, value, ctx) {
          const res = await client(key).put(key, value, ctx ?? (options.contexts === 'last-seen' ? lastContexts.get(key) : undefined));
          remember(key, res.context);
          return { ok: res.status === 204, label: httpLabel(res), context: res.context };
        },
        async close() {
          for (const c of clients) c.close();
        },
      };
    },
  };
}

function shoalRead(res: KvResult): ReadOutcome {
  const label = httpLabel(res);
  if (res.status === 200) return { ok: true, label, versions: 1, context: res.context };
  if (res.status === 404) return { ok: true, label, versions: 0, context: res.context };
  if (res.status === 300) return { ok: true, label, versions: siblingCount(res.body), context: res.context };
  return { ok: false, label, versions: 0, context: undefined };
}

/** The number of siblings in a 300 body (`{context, siblings: [...]}`); tombstones count, as versions. */
export function siblingCount(body: Buffer | undefined): number {
  try {
    const parsed = JSON.parse(body?.toString('utf8') ?? '') as { siblings?: unknown };
    return Array.isArray(parsed.siblings) ? parsed.siblings.length : 0;
  } catch {
    return 0;
  }
}

function httpLabel(res: KvResult): string {
  return res.status === 0 ? (res.error ?? 'error') : String(res.status);
}

export interface RespOptions extends TargetBase {
  host: string;
  port: number;
  timeoutMs?: number;
}

/**
 * Any Redis-protocol server through ioredis, one connection per client, no pipelining
 * (each client awaits its answer): GET and SET. A context is not sent (SET over Shoal's
 * RESP front end supersedes the versions its coordinator has seen).
 */
export function respTarget(options: RespOptions): BenchTarget {
  return {
    ...baseOf(options),
    resp: { host: options.host, port: options.port },
    async connect(): Promise<KvTarget> {
      const redis = new Redis({
        host: options.host,
        port: options.port,
        lazyConnect: true,
        enableAutoPipelining: false,
        enableOfflineQueue: false,
        maxRetriesPerRequest: 0,
        retryStrategy: () => null,
        commandTimeout: options.timeoutMs ?? 10_000,
      });
      redis.on('error', () => undefined); // failures surface as rejected commands
      await redis.connect();
      return {
        async read(key) {
          try {
            const value = await redis.getBuffer(key);
            return { ok: true, label: value === null ? 'nil' : 'value', versions: value === null ? 0 : 1, context: undefined };
          } catch (error) {
            return { ok: false, label: errorLabel(error), versions: 0, context: undefined };
          }
        },
        async update(key, value) {
          try {
            const answer = await redis.set(key, value);
            return { ok: answer === 'OK', label: String(answer), context: undefined };
          } catch (error) {
            return { ok: false, label: errorLabel(error), context: undefined };
          }
        },
        async close() {
          redis.disconnect();
        },
      };
    },
  };
}

export interface EtcdOptions extends TargetBase {
  clientUrls: readonly string[];
  timeoutMs?: number;
}

/**
 * etcd's v3 JSON gateway: POST /v3/kv/range and /v3/kv/put with base64 keys and values,
 * round robin over the members, request by request. Ranges are etcd's default
 * (linearizable) reads. A context is ignored: F is a range, then a put.
 */
export function etcdTarget(options: EtcdOptions): BenchTarget {
  return {
    ...baseOf(options),
    async connect(): Promise<KvTarget> {
      const clients = options.clientUrls.map((url) => new KvClient(url, { maxSockets: 1, timeoutMs: options.timeoutMs ?? 10_000 }));
      let turn = 0;
      const post = (path: string, body: object): Promise<KvResult> => {
        const json = Buffer.from(JSON.stringify(body));
        const client = clients[turn++ % clients.length] as KvClient;
        return client.request('POST', path, { 'content-type': 'application/json', 'content-length': json.length }, json, true);
      };
      return {
        async read(key) {
          const res = await post('/v3/kv/range', { key: Buffer.from(key).toString('base64') });
          if (res.status !== 200) return { ok: false, label: httpLabel(res), versions: 0, context: undefined };
          const found = rangeCount(res.body);
          return { ok: true, label: found > 0 ? 'value' : 'absent', versions: found, context: undefined };
        },
        async update(key, value) {
          const res = await post('/v3/kv/put', { key: Buffer.from(key).toString('base64'), value: value.toString('base64') });
          return { ok: res.status === 200, label: httpLabel(res), context: undefined };
        },
        async close() {
          for (const c of clients) c.close();
        },
      };
    },
  };
}

function rangeCount(body: Buffer | undefined): number {
  try {
    const parsed = JSON.parse(body?.toString('utf8') ?? '') as { kvs?: unknown };
    return Array.isArray(parsed.kvs) ? parsed.kvs.length : 0;
  } catch {
    return 0;
  }
}

/** Coordination modes of Shoal's TypeScript client (paper 6.4). */
export type ClientMode = 'server-driven' | 'client-driven';

/**
 * Shoal's TypeScript client (src/client) as a target, in either mode (paper 6.4). One
 * client instance serves every connection of the target, as one application process
 * would use one client: in client-driven mode it keeps one ring and one connection per
 * node. Updates without a context use the last one seen for the key (as shoalHttpTarget
 * with 'last-seen'), so keys do not pile up siblings.
 */
export async function shoalClientTarget(mode: ClientMode, httpUrls: readonly string[], base: TargetBase): Promise<BenchTarget> {
  const client = createClient({ nodes: httpUrls, mode: mode === 'client-driven' ? 'client' : 'server', timeoutMs: 10_000 });
  const lastContexts = new Map<string, string>();
  const failed = (error: unknown): { ok: false; label: string } => ({ ok: false, label: error instanceof ShoalClientError ? error.code : errorLabel(error) });
  const connection: KvTarget = {
    async read(key) {
      try {
        const read = await client.get(key);
        lastContexts.set(key, read.context);
        const versions = read.kind === 'absent' ? 0 : read.kind === 'value' ? 1 : read.siblings.length;
        return { ok: true, label: read.kind, versions, context: read.context };
      } catch (error) {
        return { ...failed(error), versions: 0, context: undefined };
      }
    },
    async update(key, value, ctx) {
      try {
        const written = await client.put(key, value, { context: ctx ?? lastContexts.get(key) });
        lastContexts.set(key, written.context);
        return { ok: true, label: 'written', context: written.context };
      } catch (error) {
        return { ...failed(error), context: undefined };
      }
    },
    async close() {},
  };
  return {
    ...baseOf(base),
    facts: { ...base.facts, client: `src/client, mode ${mode === 'client-driven' ? 'client' : 'server'}` },
    async connect() {
      return connection;
    },
    async stop() {
      await client.close();
      await base.stop();
    },
  };
}

function baseOf(options: TargetBase): Omit<BenchTarget, 'connect'> {
  return { name: options.name, description: options.description, processes: options.processes, facts: options.facts, stop: options.stop };
}

/** An error as a short, bounded label (error texts can carry keys or values). */
function errorLabel(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return text.slice(0, 60);
}
