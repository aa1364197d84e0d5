/**
 * The hint store (paper 4.6): versions a fallback holds for a primary that was down, kept
 * apart from the node's own objects, on their own StorageEngine (LMDB: the "hints" named
 * database), until they are handed back to that primary.
 *
 * Layout: everything in engine partition 0, keyed
 *   [target id length: 1 byte][target id: UTF-8][key's partition: 2 bytes big-endian][key]
 * so the hints of one target are one contiguous key range (delivery scans it page by page),
 * and a target's hints for one key are one entry: a second hint for the key is merged into
 * it with syncObjects (it never piles up, and a stale hint never erases a newer version).
 *
 * Writes go straight to the engine (no buffer: a hint exists only because the write could
 * not reach its owner, so it should not sit in memory). Read-modify-write is atomic per
 * entry: the newest value of an entry whose write is still in flight is kept in `pending`
 * and read from there, and engines apply batches in order, so the last write carries
 * every merge. Bounded: at most `hintsMax` entries; a hint for a new entry past it is
 * refused with HintsFullError (the coordinator then counts that replica as failed).
 */
import { objectsEqual, syncObjects, type StoredObject } from '../core/object.ts';
import type { Hint, HintCounts } from '../ports/replica.ts';
import type { StorageEngine } from '../ports/storage.ts';
import { StorageError } from '../ports/storage.ts';
import { KEY_BYTES_MAX, keyString } from './keys.ts';
import { decodeObject, encodeObject } from './objectCodec.ts';

/** The engine partition that holds every hint. */
export const HINTS_PARTITION = 0;
/** Entries read per engine scan when counting at open. */
const OPEN_SCAN_PAGE = 1000;
const TARGET_ID_BYTES_MAX = 255;

/** The store holds hintsMax entries: this node cannot stand in for another one right now. */
export class HintsFullError extends Error {
  readonly code = 'HINTS_FULL';
  constructor(hintsMax: number) {
    super(`hint store full (hintsMax ${hintsMax})`);
    this.name = 'HintsFullError';
  }
}

export interface HintStoreOptions {
  /** Entries (target, key) kept at most. 0: never hold hints. */
  readonly hintsMax: number;
}

interface Pending {
  /** The entry's newest value; undefined = being removed. */
  object: StoredObject | undefined;
  version: number;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

export class HintStore {
  private readonly pending = new Map<string, Pending>();
  private readonly perTarget = new Map<string, number>();
  private total = 0;
  private closed = false;

  /** Opens the store over `engine`, counting the hints it already holds (per target). */
  constructor(
    private readonly engine: StorageEngine,
    private readonly options: HintStoreOptions,
  ) {
    if (!Number.isSafeInteger(options.hintsMax) || options.hintsMax < 0) {
      throw new RangeError(`hintsMax must be a non-negative integer, got ${options.hintsMax}`);
    }
    this.countExisting();
  }

  /** The hinted versions of the key held for `target`, or undefined. */
  get(target: string, partition: number, key: Uint8Array): StoredObject | undefined {
    return this.current(hintKey(target, partition, key));
  }

  /** The hinted versions of the key for any of `targets`, merged (reads at a fallback see them). */
  getForAny(targets: Iterable<string>, partition: number, key: Uint8Array): StoredObject | undefined {
    if (this.total === 0) return undefined;
    let merged: StoredObject | undefined;
    for (const target of targets) merged = syncObjects(merged, this.get(target, partition, key));
    return merged;
  }

  /**
   * Merges `object` into the hint of (target, key). Resolves with the merged hint once the
   * engine has it (fsynced when `durable`). Throws HintsFullError for a new entry past
   * hintsMax, StorageError when the engine fails.
   */
  put(target: string, partition: number, key: Uint8Array, object: StoredObject, options: { durable: boolean }): Promise<StoredObject> {
    try {
      this.checkOpen();
      const k = hintKey(target, partition, key);
      const current = this.current(k);
      if (current === undefined && this.total >= this.options.hintsMax) throw new HintsFullError(this.options.hintsMax);
      const merged = syncObjects(current, object);
      return this.write(k, target, current, merged, options.durable).then(() => merged);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /**
   * Removes the hint of (target, key) if it still equals `delivered` (a hint that changed
   * after it was sent holds something the owner has not acknowledged, so it stays).
   * Resolves true when removed.
   */
  removeIfUnchanged(hint: Pick<Hint, 'target' | 'partition' | 'key'>, delivered: StoredObject): Promise<boolean> {
    try {
      this.checkOpen();
      const k = hintKey(hint.target, hint.partition, hint.key);
      const current = this.current(k);
      if (current === undefined || !objectsEqual(current, delivered)) return Promise.resolve(false);
      return this.write(k, hint.target, current, undefined, false).then(() => true);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** Up to `limit` hints of `target` in key order, after `cursor` (a Hint's) when given. */
  scan(target: string, limit: number, cursor?: Uint8Array): Hint[] {
    this.checkOpen();
    const prefix = targetPrefix(target);
    const entries = this.engine.scanPartition(HINTS_PARTITION, { afterKey: cursor ?? prefix, limit });
    const hints: Hint[] = [];
    for (const entry of entries) {
      if (!hasPrefix(entry.key, prefix)) break;
      const object = this.current(entry.key);
      if (object === undefined) continue; // removal in flight
      const { partition, key } = splitKey(entry.key, prefix.length);
      hints.push({ target, partition, key, object, cursor: entry.key });
    }
    return hints;
  }

  counts(): HintCounts {
    return { total: this.total, byTarget: new Map(this.perTarget) };
  }

  /** Targets that have hints, in id order. */
  targets(): string[] {
    return [...this.perTarget.keys()].sort();
  }

  /** Waits for in-flight writes, then closes the engine. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.engine.close();
  }

  private current(k: Uint8Array): StoredObject | undefined {
    const pending = this.pending.get(keyString(k));
    if (pending !== undefined) return pending.object;
    const bytes = this.engine.get(HINTS_PARTITION, k);
    return bytes === undefined ? undefined : decodeObject(bytes);
  }

  /** Records the new value (undefined = remove) at once, then writes it. */
  private write(k: Uint8Array, target: string, before: StoredObject | undefined, after: StoredObject | undefined, durable: boolean): Promise<void> {
    const id = keyString(k);
    const op =
      after === undefined
        ? ({ kind: 'delete', partition: HINTS_PARTITION, key: k } as const)
        : ({ kind: 'put', partition: HINTS_PARTITION, key: k, value: encodeObject(after) } as const);
    const entry = this.pending.get(id) ?? { object: before, version: 0 };
    entry.object = after;
    const version = ++entry.version;
    this.pending.set(id, entry);
    this.adjustCount(target, before, after);
    let written: Promise<void>;
    try {
      written = this.engine.writeBatch([op], { durable });
    } catch (error) {
      written = Promise.reject(error);
    }
    return written.then(
      () => this.settle(id, version),
      (error: unknown) => {
        this.rollBack(id, k, target, version);
        throw error instanceof StorageError ? error : new StorageError('hint store write failed', { cause: error });
      },
    );
  }

  /** The write of `version` is in the engine: drop the pending value unless a newer write follows. */
  private settle(id: string, version: number): void {
    if (this.pending.get(id)?.version === version) this.pending.delete(id);
  }

  /** The write failed: unless a newer write follows, read the entry from the engine again. */
  private rollBack(id: string, k: Uint8Array, target: string, version: number): void {
    const entry = this.pending.get(id);
    if (entry === undefined || entry.version !== version) return;
    this.pending.delete(id);
    if (this.closed) return;
    const stored = this.engine.get(HINTS_PARTITION, k);
    this.adjustCount(target, entry.object, stored === undefined ? undefined : decodeObject(stored));
  }

  private adjustCount(target: string, before: StoredObject | undefined, after: StoredObject | undefined): void {
    const delta = (after === undefined ? 0 : 1) - (before === undefined ? 0 : 1);
    if (delta === 0) return;
    this.total += delta;
    const count = (this.perTarget.get(target) ?? 0) + delta;
    if (count > 0) this.perTarget.set(target, count);
    else this.perTarget.delete(target);
  }

  private countExisting(): void {
    let afterKey: Uint8Array | undefined;
    for (;;) {
      const page = this.engine.scanPartition(HINTS_PARTITION, { afterKey, limit: OPEN_SCAN_PAGE });
      for (const entry of page) {
        const target = targetOf(entry.key);
        this.perTarget.set(target, (this.perTarget.get(target) ?? 0) + 1);
        this.total++;
      }
      if (page.length < OPEN_SCAN_PAGE) return;
      afterKey = (page[page.length - 1] as { key: Uint8Array }).key;
    }
  }

  private checkOpen(): void {
    if (this.closed) throw new StorageError('hint store is closed');
  }
}

/** The engine key of (target, partition, key). Throws StorageError when it cannot be stored. */
export function hintKey(target: string, partition: number, key: Uint8Array): Uint8Array {
  const prefix = targetPrefix(target);
  const out = new Uint8Array(prefix.length + 2 + key.length);
  if (out.length > KEY_BYTES_MAX) {
    throw new StorageError(`a hint key is ${out.length} bytes, more than the engine's ${KEY_BYTES_MAX}: the key is too long to hint`);
  }
  out.set(prefix, 0);
  out[prefix.length] = partition >> 8;
  out[prefix.length + 1] = partition & 0xff;
  out.set(key, prefix.length + 2);
  return out;
}

function targetPrefix(target: string): Uint8Array {
  const id = encoder.encode(target);
  if (id.length === 0 || id.length > TARGET_ID_BYTES_MAX) throw new StorageError(`hint target id must be 1-${TARGET_ID_BYTES_MAX} bytes`);
  const prefix = new Uint8Array(id.length + 1);
  prefix[0] = id.length;
  prefix.set(id, 1);
  return prefix;
}

function targetOf(k: Uint8Array): string {
  const length = k[0] ?? 0;
  if (length === 0 || k.length < 1 + length + 2) throw new StorageError('malformed hint key in the hint store');
  return decoder.decode(k.subarray(1, 1 + length));
}

function splitKey(k: Uint8Array, prefixLength: number): { partition: number; key: Uint8Array } {
  const partition = ((k[prefixLength] as number) << 8) | (k[prefixLength + 1] as number);
  return { partition, key: k.slice(prefixLength + 2) };
}

function hasPrefix(bytes: Uint8Array, prefix: Uint8Array): boolean {
  if (bytes.length < prefix.length) return false;
  for (let i = 0; i < prefix.length; i++) if (bytes[i] !== prefix[i]) return false;
  return true;
}
