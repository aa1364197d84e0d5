/**
 * A Shoal node: it owns the local ObjectStore and serves get / put / delete.
 *
 * This is the single-node version (N = R = W = 1): the coordinator's own write is the
 * whole quorum. A put runs `putObject` inside `store.update`, so the read-modify-write of
 * the key's siblings is atomic. The replication issue replaces the bodies of get/put with
 * quorum state machines (core/quorum) that send to the preference list; the request
 * surface (keys, contexts, options, errors) stays as it is.
 */
import { decodeContext, encodeContext } from '../core/context.ts';
import type { ActorId, VersionVector } from '../core/clock.ts';
import { partitionOfKey } from '../core/hash.ts';
import { putObject, type StoredObject } from '../core/object.ts';
import type { Clock, TimerHandle } from '../ports/clock.ts';
import type { Logger } from '../ports/logger.ts';
import type { ObjectStore, ObjectStoreStats } from '../storage/objectStore.ts';
import { configSummary, type ConfigSummary, type NodeConfig } from './config.ts';
import { RequestError, RequestTimeoutError, TooManySiblingsError } from './errors.ts';
import { checkContentType, checkKey, checkValue, resolveQuorum, type Quorum, type RequestOptions } from './request.ts';
import { actorIdOf } from './startEpoch.ts';

export interface ShoalNodeOptions {
  readonly config: NodeConfig;
  readonly store: ObjectStore;
  readonly clock: Clock;
  readonly logger: Logger;
  /** This start's epoch (see startEpoch.ts): the actor id is `${config.id}.${startEpoch}`. */
  readonly startEpoch: number;
}

export type NodeState = 'serving' | 'stopping' | 'stopped';

export interface ReadResult {
  /** Every version found (undefined: the key was never written, or was removed). */
  readonly object: StoredObject | undefined;
  /** The opaque context to hand back with the next write of this key. */
  readonly context: string;
}

export interface WriteResult {
  /** The context of the object after the write (it names the new version). */
  readonly context: string;
  readonly object: StoredObject;
}

export interface PutInput {
  readonly value: Uint8Array;
  readonly contentType: string;
  /** From a previous read; absent = supersede nothing (the value joins the siblings). */
  readonly context?: string;
}

/** The versions this node holds for a key, for operators (`GET /admin/local/:key`). */
export interface LocalVersions {
  readonly partition: number;
  readonly object: StoredObject;
}

export interface NodeStatus {
  readonly nodeId: string;
  readonly clusterName: string;
  readonly state: NodeState;
  readonly actor: ActorId;
  readonly startEpoch: number;
  readonly uptimeMs: number;
  readonly config: ConfigSummary;
  readonly buffer: ObjectStoreStats;
}

const EMPTY_VECTOR: VersionVector = [];

export class ShoalNode {
  readonly actor: ActorId;
  private state: NodeState = 'serving';
  private stopPromise: Promise<void> | undefined;
  private readonly config: NodeConfig;
  private readonly store: ObjectStore;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly startedAtMs: number;
  private readonly durable: boolean;
  private readonly limits: { readonly siblingsMax: number; readonly vectorEntriesMax: number };
  private readonly summary: ConfigSummary;

  constructor(private readonly options: ShoalNodeOptions) {
    this.config = options.config;
    this.store = options.store;
    this.clock = options.clock;
    this.logger = options.logger;
    this.actor = actorIdOf(options.config.id, options.startEpoch);
    this.startedAtMs = options.clock.monotonicMs();
    // With N = 1 the coordinator is the one replica: `one` and `all` both make it durable.
    this.durable = options.config.durableWrites !== 'none';
    this.limits = { siblingsMax: options.config.siblingsMax, vectorEntriesMax: options.config.vectorEntriesMax };
    this.summary = configSummary(options.config);
  }

  get currentState(): NodeState {
    return this.state;
  }

  /** Every version of the key (R = 1: the local replica), with its context. */
  async get(key: Uint8Array, options?: RequestOptions): Promise<ReadResult> {
    this.checkServing();
    checkKey(key, this.config.keyBytesMax);
    resolveQuorum(this.config, options);
    const object = this.store.get(this.partitionOf(key), key);
    return { object, context: this.contextOf(object) };
  }

  /** Writes a value that supersedes the versions named by `input.context`. */
  async put(key: Uint8Array, input: PutInput, options?: RequestOptions): Promise<WriteResult> {
    this.checkServing();
    checkKey(key, this.config.keyBytesMax);
    checkValue(input.value, this.config.valueBytesMax);
    checkContentType(input.contentType);
    return this.write(key, input.value, input.contentType, false, input.context, resolveQuorum(this.config, options));
  }

  /** Writes a tombstone that supersedes the versions named by `context`. */
  async delete(key: Uint8Array, context?: string, options?: RequestOptions): Promise<WriteResult> {
    this.checkServing();
    checkKey(key, this.config.keyBytesMax);
    return this.write(key, EMPTY_VALUE, TOMBSTONE_CONTENT_TYPE, true, context, resolveQuorum(this.config, options));
  }

  /** The versions this node itself holds for the key, asking no other node. */
  localVersions(key: Uint8Array): LocalVersions | undefined {
    checkKey(key, this.config.keyBytesMax);
    const partition = this.partitionOf(key);
    const object = this.store.get(partition, key);
    return object === undefined ? undefined : { partition, object };
  }

  status(): NodeStatus {
    return {
      nodeId: this.config.id,
      clusterName: this.config.clusterName,
      state: this.state,
      actor: this.actor,
      startEpoch: this.options.startEpoch,
      uptimeMs: Math.round(this.clock.monotonicMs() - this.startedAtMs),
      config: this.summary,
      buffer: this.store.stats(),
    };
  }

  /** Refuses new requests, flushes the buffer and closes the engine. Idempotent. */
  stop(): Promise<void> {
    if (this.stopPromise === undefined) {
      this.state = 'stopping';
      this.logger.info({ buffer: this.store.stats() }, 'flushing the buffer and closing storage');
      this.stopPromise = this.store.close().then(() => {
        this.state = 'stopped';
      });
    }
    return this.stopPromise;
  }

  private async write(
    key: Uint8Array,
    value: Uint8Array,
    contentType: string,
    deleted: boolean,
    contextText: string | undefined,
    _quorum: Quorum,
  ): Promise<WriteResult> {
    const context = contextText === undefined ? EMPTY_VECTOR : this.decode(contextText);
    const request = {
      context,
      actor: this.actor,
      value,
      contentType,
      deleted,
      nowMs: this.clock.nowMs(),
      lastWriteWins: this.config.lastWriteWins,
    };
    const limits = this.limits;
    const change = (current: StoredObject | undefined): StoredObject => {
      const result = putObject(current, request, limits);
      if (!result.ok) throw new TooManySiblingsError(result.siblingCount, limits.siblingsMax);
      return result.object;
    };
    const written = await this.withDeadline(this.store.update(this.partitionOf(key), key, change, { durable: this.durable }));
    if (written === undefined) throw new Error('invariant: a put left no object');
    return { context: this.contextOf(written), object: written };
  }

  private decode(text: string): VersionVector {
    const decoded = decodeContext(text, this.config.clusterName);
    if (!decoded.ok) throw new RequestError('CONTEXT_INVALID', `bad context: ${decoded.reason}`);
    return decoded.vector;
  }

  private contextOf(object: StoredObject | undefined): string {
    return encodeContext(object === undefined ? EMPTY_VECTOR : object.vector, this.config.clusterName);
  }

  private partitionOf(key: Uint8Array): number {
    return partitionOfKey(key, this.config.partitionCount);
  }

  private checkServing(): void {
    if (this.state !== 'serving') throw new RequestError('NODE_NOT_SERVING', `node is ${this.state}`);
  }

  /** Settles like `work`, or rejects with RequestTimeoutError after requestTimeoutMs. */
  private withDeadline<T>(work: Promise<T>): Promise<T> {
    const timeoutMs = this.config.requestTimeoutMs;
    const clock = this.clock;
    return new Promise<T>((resolve, reject) => {
      const timer: TimerHandle = clock.setTimer(timeoutMs, () => reject(new RequestTimeoutError(timeoutMs)));
      work.then(
        (value) => {
          clock.clearTimer(timer);
          resolve(value);
        },
        (error: unknown) => {
          clock.clearTimer(timer);
          reject(error);
        },
      );
    });
  }
}

const EMPTY_VALUE = new Uint8Array(0);
/** Tombstones carry no value; their content type is never shown as a value's. */
const TOMBSTONE_CONTENT_TYPE = 'application/octet-stream';
