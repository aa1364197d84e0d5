/**
 * The runtime of one node process: opens storage, advances the start epoch, builds the
 * object store, the node and its HTTP API, and binds exactly the configured address.
 * `stop()` undoes it in reverse: stop accepting requests, let in-flight ones finish, flush
 * the buffer, close the engine.
 */
import { lookup } from 'node:dns/promises';
import { mkdir } from 'node:fs/promises';
import { isIP } from 'node:net';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { buildHttpApi } from '../api/http.ts';
import { NodeMetrics } from '../api/metrics.ts';
import type { NodeConfig } from '../node/config.ts';
import { formatHostPort, type HostPort } from '../node/hostPort.ts';
import { ShoalNode } from '../node/shoalNode.ts';
import { advanceStartEpoch } from '../node/startEpoch.ts';
import type { Clock } from '../ports/clock.ts';
import type { Logger } from '../ports/logger.ts';
import type { MetaStore, StorageEngine } from '../ports/storage.ts';
import { openLmdbEngine } from '../storage/lmdbEngine.ts';
import { MemoryEngine, MemoryMetaStore } from '../storage/memoryEngine.ts';
import { ObjectStore } from '../storage/objectStore.ts';
import { systemClock } from './systemClock.ts';

/** The LMDB environment's directory inside the data directory. */
export const LMDB_DIRECTORY = 'lmdb';

export interface NodeRuntimeOptions {
  readonly config: NodeConfig;
  readonly logger: Logger;
  readonly clock?: Clock;
  /** Storage to use instead of the configured engine (tests: a MemoryEngine with failure injection). */
  readonly storage?: { readonly engine: StorageEngine; readonly meta: MetaStore };
}

export interface NodeRuntime {
  readonly node: ShoalNode;
  readonly http: FastifyInstance;
  readonly metrics: NodeMetrics;
  /** The bound HTTP address as a URL (`http://127.0.0.1:8080`). */
  readonly httpUrl: string;
  /** Stops serving, flushes and closes. Idempotent. */
  stop(): Promise<void>;
}

export async function startNodeRuntime(options: NodeRuntimeOptions): Promise<NodeRuntime> {
  const { config, logger } = options;
  const clock = options.clock ?? systemClock;
  const storage = options.storage ?? (await openStorage(config));
  let store: ObjectStore | undefined;
  try {
    const startEpoch = await advanceStartEpoch(storage.meta);
    const metrics = new NodeMetrics({ defaultLabels: { node: config.id } });
    store = new ObjectStore(storage.engine, clock, {
      bufferObjectsMax: config.bufferObjectsMax,
      flushIntervalMs: config.flushIntervalMs,
      writeWaitMsMax: config.writeWaitMsMax,
      events: metrics.storeEvents,
    });
    const storeStats = store.stats.bind(store);
    metrics.watchStore(storeStats);
    const node = new ShoalNode({ config, store, clock, logger, startEpoch });
    const http = buildHttpApi({ node, config, metrics, logger });
    const httpUrl = await listen(http, config.http);
    logger.info({ actor: node.actor, startEpoch, engine: storage.engine.name }, 'node started');
    return { node, http, metrics, httpUrl, stop: once(() => stopRuntime(http, node, logger)) };
  } catch (error) {
    await (store !== undefined ? store.close() : storage.engine.close()).catch(() => undefined);
    throw error;
  }
}

async function openStorage(config: NodeConfig): Promise<{ engine: StorageEngine; meta: MetaStore }> {
  if (config.engine === 'memory') return { engine: new MemoryEngine(), meta: new MemoryMetaStore() };
  await mkdir(config.data, { recursive: true });
  const engine = openLmdbEngine({ path: join(config.data, LMDB_DIRECTORY) });
  return { engine, meta: engine.meta };
}

/** Binds exactly one address: a host name is resolved to its first address, never to all. */
async function listen(http: FastifyInstance, address: HostPort): Promise<string> {
  const host = isIP(address.host) !== 0 ? address.host : (await lookup(address.host)).address;
  await http.listen({ host, port: address.port, listenTextResolver: () => '' });
  const bound = http.server.address();
  if (bound === null || typeof bound === 'string') throw new Error('HTTP server has no TCP address');
  return `http://${formatHostPort({ host: bound.address, port: bound.port })}`;
}

async function stopRuntime(http: FastifyInstance, node: ShoalNode, logger: Logger): Promise<void> {
  await http.close();
  await node.stop();
  logger.info({}, 'storage flushed and closed');
}

function once(fn: () => Promise<void>): () => Promise<void> {
  let running: Promise<void> | undefined;
  return () => (running ??= fn());
}
