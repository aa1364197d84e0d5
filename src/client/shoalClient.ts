/**
 * The TypeScript client: get, put and delete with contexts, per-request N/R/W and
 * timeouts, in either coordination mode (options.ts), and an optional `resolve` callback
 * that turns a read of conflicting versions into a write that supersedes them.
 *
 *   const shoal = createClient({ nodes: ['http://127.0.0.1:8080'], mode: 'client' });
 *   const read = await shoal.get('cart');
 *   await shoal.put('cart', 'apples', { context: read.context });
 *   await shoal.close();
 */
import { keyBytes } from '../core/hash.ts';
import { encodeUtf8 } from '../core/bytes.ts';
import { LIST_PAGE_KEYS_DEFAULT, LIST_PAGE_KEYS_MAX } from '../core/listing.ts';
import { cryptoRandom } from '../io/cryptoRandom.ts';
import { systemClock } from '../io/systemClock.ts';
import { Deadline } from '../node/deadline.ts';
import type { RequestOptions } from '../node/request.ts';
import { silentLogger, type Logger } from '../ports/logger.ts';
import type { Backend, CallPlan, WriteCall } from './backend.ts';
import { DirectMode } from './directMode.ts';
import { HttpMode } from './httpMode.ts';
import { resolveOptions, type ClientOptions, type CoordinationMode, type ResolvedOptions } from './options.ts';
import type { GetResult, ListPage, Resolution, WriteResult } from './results.ts';

export type ClientValue = Uint8Array | string;

export interface CallOptions {
  readonly n?: number;
  readonly r?: number;
  readonly w?: number;
  /** This call's whole budget, ms (default: the client's timeoutMs). */
  readonly timeoutMs?: number;
}

export interface PutOptions extends CallOptions {
  /** From a previous read of the key: the write supersedes exactly the versions it saw. */
  readonly context?: string;
  /** Default: text/plain; charset=utf-8 for a string value, application/octet-stream for bytes. */
  readonly contentType?: string;
}

export interface DeleteOptions extends CallOptions {
  readonly context?: string;
}

export interface ListOptions {
  /** Only keys that start with this text (default: every key). */
  readonly prefix?: string;
  /** Keys fetched per request, 1-1000 (default 100). */
  readonly pageKeys?: number;
  /** Each page's budget, ms (default: the client's timeoutMs). */
  readonly timeoutMs?: number;
}

export interface ListPageOptions extends ListOptions {
  /** The previous page's `next`; absent for the first page. */
  readonly after?: string;
}

export interface GetOptions extends CallOptions {
  /** Overrides the client's resolve callback for this read (null: none). */
  readonly resolve?: ClientOptions['resolve'] | null;
}

const TEXT_CONTENT_TYPE = 'text/plain; charset=utf-8';
const BYTES_CONTENT_TYPE = 'application/octet-stream';
const EMPTY_VALUE = new Uint8Array(0);

export interface ClientDeps {
  /** Where the client-driven mode's internode traffic logs (default: nowhere). */
  readonly logger?: Logger;
}

export class ShoalClient {
  readonly mode: CoordinationMode;
  private readonly options: ResolvedOptions;
  private readonly backend: Backend;

  constructor(options: ClientOptions, deps: ClientDeps = {}) {
    this.options = resolveOptions(options);
    this.mode = this.options.mode;
    this.backend =
      this.options.mode === 'server'
        ? new HttpMode(this.options)
        : new DirectMode(this.options, { clock: systemClock, random: cryptoRandom, logger: deps.logger ?? silentLogger });
  }

  /** Every version of the key a read quorum found, with the context for the next write. */
  async get(key: string, options: GetOptions = {}): Promise<GetResult> {
    const plan = this.plan(key, options);
    const read = await this.backend.get(plan);
    const resolve = options.resolve === undefined ? this.options.resolve : (options.resolve ?? undefined);
    if (read.kind !== 'siblings' || resolve === undefined) return read;
    const resolution = resolve(read.siblings, key);
    if (resolution === undefined) return read;
    return this.writeResolution(plan, resolution, read.context);
  }

  /** Writes a value that supersedes the versions the context names (none without one: it joins them as a sibling). */
  async put(key: string, value: ClientValue, options: PutOptions = {}): Promise<WriteResult> {
    const plan = this.plan(key, options);
    const bytes = typeof value === 'string' ? encodeUtf8(value) : checkedBytes(value);
    const contentType = options.contentType ?? (typeof value === 'string' ? TEXT_CONTENT_TYPE : BYTES_CONTENT_TYPE);
    return this.backend.write(plan, { op: 'put', value: bytes, contentType, context: options.context });
  }

  /** Writes a tombstone that supersedes the versions the context names. */
  async delete(key: string, options: DeleteOptions = {}): Promise<WriteResult> {
    return this.backend.write(this.plan(key, options), { op: 'delete', value: EMPTY_VALUE, contentType: BYTES_CONTENT_TYPE, context: options.context });
  }

  /**
   * Every live key (with the prefix), in byte order, fetched a page at a time. A key that
   * is on all of its replicas for the whole listing is listed exactly once; keys written
   * or deleted meanwhile may or may not be. Throws ShoalClientError when a page fails.
   *
   *   for await (const key of shoal.list({ prefix: 'user:' })) console.log(key);
   */
  async *list(options: ListOptions = {}): AsyncGenerator<string, void, undefined> {
    let after: string | undefined;
    do {
      const page = await this.listPage({ ...options, ...(after === undefined ? {} : { after }) });
      yield* page.keys;
      after = page.next;
    } while (after !== undefined);
  }

  /** One page of a listing: up to `pageKeys` keys, and the `next` token to pass as `after` (undefined once complete). */
  listPage(options: ListPageOptions = {}): Promise<ListPage> {
    const prefix = options.prefix ?? '';
    if (typeof prefix !== 'string') throw new TypeError(`prefix must be a string, got ${typeof prefix}`);
    const limit = options.pageKeys ?? LIST_PAGE_KEYS_DEFAULT;
    if (!Number.isInteger(limit) || limit < 1 || limit > LIST_PAGE_KEYS_MAX) throw new RangeError(`pageKeys must be an integer from 1 to ${LIST_PAGE_KEYS_MAX}, got ${String(limit)}`);
    const timeoutMs = options.timeoutMs ?? this.options.timeoutMs;
    if (!Number.isInteger(timeoutMs) || timeoutMs < 1) throw new RangeError(`timeoutMs must be a positive integer, got ${String(timeoutMs)}`);
    return this.backend.listPage({ prefix, after: options.after, limit, deadline: new Deadline(systemClock, timeoutMs) });
  }

  /** Closes connections and stops the ring refresh; calls made after it fail. */
  close(): Promise<void> {
    return this.backend.close();
  }

  private plan(key: string, options: CallOptions): CallPlan {
    if (typeof key !== 'string') throw new TypeError(`key must be a string, got ${typeof key}`);
    const timeoutMs = options.timeoutMs ?? this.options.timeoutMs;
    if (!Number.isInteger(timeoutMs) || timeoutMs < 1) throw new RangeError(`timeoutMs must be a positive integer, got ${String(timeoutMs)}`);
    const quorum: RequestOptions = { n: options.n ?? this.options.quorum.n, r: options.r ?? this.options.quorum.r, w: options.w ?? this.options.quorum.w };
    return { key, keyBytes: keyBytes(key), quorum, deadline: new Deadline(systemClock, timeoutMs) };
  }

  /** The resolved value written over the siblings; the read then answers it. */
  private async writeResolution(plan: CallPlan, resolution: Resolution, context: string): Promise<GetResult> {
    const write = writeOf(resolution, context);
    const written = await this.backend.write(plan, write);
    if (write.op === 'delete') return { kind: 'absent', context: written.context };
    return { kind: 'value', value: write.value, contentType: write.contentType, context: written.context };
  }
}

/** A client; throws ClientConfigError naming a bad option. */
export function createClient(options: ClientOptions, deps?: ClientDeps): ShoalClient {
  return new ShoalClient(options, deps);
}

function writeOf(resolution: Resolution, context: string): WriteCall {
  if (typeof resolution === 'string') return { op: 'put', value: encodeUtf8(resolution), contentType: TEXT_CONTENT_TYPE, context };
  if (resolution instanceof Uint8Array) return { op: 'put', value: resolution, contentType: BYTES_CONTENT_TYPE, context };
  if ('deleted' in resolution) return { op: 'delete', value: EMPTY_VALUE, contentType: BYTES_CONTENT_TYPE, context };
  const { value } = resolution;
  const bytes = typeof value === 'string' ? encodeUtf8(value) : checkedBytes(value);
  return { op: 'put', value: bytes, contentType: resolution.contentType ?? (typeof value === 'string' ? TEXT_CONTENT_TYPE : BYTES_CONTENT_TYPE), context };
}

function checkedBytes(value: unknown): Uint8Array {
  if (!(value instanceof Uint8Array)) throw new TypeError('a value must be a string or a Uint8Array');
  return value;
}
