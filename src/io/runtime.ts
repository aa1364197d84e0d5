/**
 * The runtime of one node process: opens storage (objects, hints, metadata), creates and
 * binds the internode transport, opens the node (openNode: start epoch, stores, background
 * tasks), builds its HTTP API, and binds exactly the configured addresses.
 *
 * A node talks to others over TCP (io/tcpTransport.ts), listening on `--listen`, when it
 * may have peers: a cluster of two or more members (`--cluster`, its initial peers), seeds
 * to join a cluster through (`--seeds`), or an internode address given on purpose (flag,
 * SHOAL_LISTEN or the config file: a node others will join). Without `--cluster` it starts
 * with no peers. A node with none of these is a cluster of one for good: it binds no
 * internode port at all (`shoal start` alone binds only its HTTP address) and gets a
 * transport that reaches nobody. `--listen HOST:0` binds a free port, which the node then
 * advertises as its address.
 *
 * With `--resp HOST:PORT` it also serves the Redis protocol (api/resp/) on exactly that
 * address, bound after the HTTP API; with `--resp-tls HOST:PORT`, the Redis protocol over
 * TLS there too.
 *
 * With the TLS files (tlsCa, tlsCert, tlsKey) every port speaks TLS: mutual TLS between the
 * nodes, HTTPS, and the Redis TLS port. With a users file every client authenticates
 * (api/auth/). Both are read once, at start; a file that cannot be read or parsed is a
 * config error.
 *
 * `stop()` undoes it in reverse: stop accepting HTTP and Redis requests and let in-flight
 * ones finish, stop the node (background tasks, flush, close the stores), close the
 * transport.
 */
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { buildHttpApi } from '../api/http.ts';
import { NodeMetrics } from '../api/metrics.ts';
import { Authenticator } from '../api/auth/authenticator.ts';
import { loadUsersFile } from '../api/auth/usersFile.ts';
import { respLimitsOf, startRespServer, type RespServer } from '../api/resp/server.ts';
import { RespStats } from '../api/resp/stats.ts';
import type { TlsFiles } from '../api/tls.ts';
import { ConfigError, securityStatus, tlsConfigured, type NodeConfig } from '../node/config.ts';
import { formatHostPort, type HostPort } from '../node/hostPort.ts';
import { openNode } from '../node/openNode.ts';
import type { ShoalNode } from '../node/shoalNode.ts';
import type { Clock } from '../ports/clock.ts';
import type { Logger } from '../ports/logger.ts';
import type { Random } from '../ports/random.ts';
import type { MetaStore, StorageEngine } from '../ports/storage.ts';
import { TransportError, type AddressedReply, type NodeId, type PeerAddress, type RequestHandler, type Transport } from '../ports/transport.ts';
import { readFileSync } from 'node:fs';
import { lockDataDirectory, type DataDirLock } from './dataDirLock.ts';
import { openLmdbEngine } from '../storage/lmdbEngine.ts';
import { MemoryEngine, MemoryMetaStore } from '../storage/memoryEngine.ts';
import { cryptoRandom } from './cryptoRandom.ts';
import { systemClock } from './systemClock.ts';
import { createTcpTransport, TCP_TRANSPORT_DEFAULTS, type TransportTls } from './tcpTransport.ts';

/** The LMDB environment's directory inside the data directory. */
export const LMDB_DIRECTORY = 'lmdb';

export interface NodeStorage {
  readonly engine: StorageEngine;
  readonly meta: MetaStore;
  /** The hint store's engine; a fresh MemoryEngine when left out (tests). */
  readonly hintEngine?: StorageEngine;
  /** The claim on the data directory, released once the stores are closed. */
  readonly lock?: DataDirLock;
}

export interface NodeRuntimeOptions {
  readonly config: NodeConfig;
  readonly logger: Logger;
  readonly clock?: Clock;
  readonly random?: Random;
  /** Storage to use instead of the configured engine (tests: a MemoryEngine with failure injection). */
  readonly storage?: NodeStorage;
  /** A transport to use instead of TCP (tests: an in-memory network). Created for config.id; closed by stop(). */
  readonly transport?: Transport;
}

export interface NodeRuntime {
  readonly node: ShoalNode;
  readonly http: FastifyInstance;
  readonly metrics: NodeMetrics;
  /** The bound HTTP address as a URL (`http://127.0.0.1:8080`). */
  readonly httpUrl: string;
  /** The bound internode address (`127.0.0.1:7001`), or undefined without a TCP transport (see the file comment). */
  readonly listenAddress: string | undefined;
  /** The Redis-protocol server, when `config.resp` is set. */
  readonly resp: RespServer | undefined;
  /** Its bound address (`127.0.0.1:6379`), or undefined without `config.resp`. */
  readonly respAddress: string | undefined;
  /** The Redis-protocol server over TLS, when `config.respTls` is set. */
  readonly respTls: RespServer | undefined;
  /** Stops serving, flushes and closes. Idempotent. */
  stop(): Promise<void>;
}

export async function startNodeRuntime(options: NodeRuntimeOptions): Promise<NodeRuntime> {
  const { logger } = options;
  let config = options.config;
  const clock = options.clock ?? systemClock;
  const random = options.random ?? cryptoRandom;
  const tls = readTlsFiles(config);
  const auth = authenticatorOf(config);
  const warning = securityStatus(config).warning;
  if (warning !== null) logger.error({ insecure: true }, warning);
  const storage = options.storage ?? (await openStorage(config));
  const hintEngine = storage.hintEngine ?? new MemoryEngine();
  let transport: Transport | undefined = options.transport;
  let node: ShoalNode | undefined;
  let http: FastifyInstance | undefined;
  try {
    const bound = transport === undefined ? await startTransport(config, tls, clock, random, logger) : { transport, listenAddress: undefined, port: undefined };
    transport = bound.transport;
    // `--listen HOST:0` picks a free port: the node advertises the one bound.
    if (bound.port !== undefined && config.listen.port === 0) config = { ...config, listen: { host: config.listen.host, port: bound.port } };
    const metrics = new NodeMetrics({ defaultLabels: { node: config.id } });
    node = await openNode({ config, engine: storage.engine, hintEngine, meta: storage.meta, clock, random, transport, logger, events: metrics.nodeEvents });
    watchNode(metrics, node);
    http = buildHttpApi({ node, config, metrics, logger, ...(auth === undefined ? {} : { auth }), ...(tls === undefined ? {} : { tls }) });
    const httpUrl = await listen(http, config.http, tls === undefined ? 'http' : 'https');
    // The plain and the TLS Redis ports count into the same statistics.
    const respStats = new RespStats();
    metrics.watchResp(respStats);
    const resp = config.resp === undefined ? undefined : await startResp({ node, config, address: config.resp, stats: respStats, logger, auth, tls: undefined });
    const respTls = config.respTls === undefined ? undefined : await startResp({ node, config, address: config.respTls, stats: respStats, logger, auth, tls });
    logger.info({ actor: node.actor, startEpoch: node.status().startEpoch, engine: storage.engine.name, listen: bound.listenAddress, tls: tls !== undefined, authentication: auth !== undefined }, 'node started');
    const running = { node, transport, http, resp: [resp, respTls], logger, lock: storage.lock };
    return { node, http, metrics, httpUrl, listenAddress: bound.listenAddress, resp, respAddress: resp?.address, respTls, stop: once(() => stopRuntime(running)) };
  } catch (error) {
    await http?.close().catch(() => undefined);
    await closeAfterFailure(node, storage, hintEngine, transport);
    throw error;
  }
}

async function openStorage(config: NodeConfig): Promise<NodeStorage> {
  if (config.engine === 'memory') return { engine: new MemoryEngine(), meta: new MemoryMetaStore(), hintEngine: new MemoryEngine() };
  const lock = lockDataDirectory(config.data);
  try {
    const engine = openLmdbEngine({ path: join(config.data, LMDB_DIRECTORY) });
    return { engine, meta: engine.meta, hintEngine: engine.hints, lock };
  } catch (error) {
    lock.release();
    throw error;
  }
}

/** The CA, certificate and key named by the config, read once at start (a file that cannot be read is a config error). */
export function readTlsFiles(config: NodeConfig): TransportTls | undefined {
  if (!tlsConfigured(config)) return undefined;
  const read = (field: 'tlsCa' | 'tlsCert' | 'tlsKey'): Buffer => {
    const path = config[field] as string;
    try {
      return readFileSync(path);
    } catch (error) {
      throw new ConfigError(`invalid config: ${field} ${JSON.stringify(path)} cannot be read (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
    }
  };
  return { ca: read('tlsCa'), cert: read('tlsCert'), key: read('tlsKey') };
}

/** The process's soft limit on open files (/proc/self/limits), or undefined when it cannot be read or is unlimited. */
function openFilesMax(): number | undefined {
  try {
    const line = readFileSync('/proc/self/limits', 'utf8').split('\n').find((l) => l.startsWith('Max open files'));
    const soft = Number(line?.split(/\s{2,}/)[1]);
    return Number.isSafeInteger(soft) && soft > 0 ? soft : undefined;
  } catch {
    return undefined;
  }
}

/** Whether the node may have peers, and so needs TCP (see the file comment). */
export function usesTcp(config: NodeConfig): boolean {
  return (config.cluster?.length ?? 0) >= 2 || config.seeds !== undefined || config.listenGiven === true;
}

/** TCP when the node may have peers (bound before the node serves), a transport reaching nobody otherwise. */
async function startTransport(
  config: NodeConfig,
  tls: TransportTls | undefined,
  clock: Clock,
  random: Random,
  logger: Logger,
): Promise<{ transport: Transport; listenAddress: string | undefined; port: number | undefined }> {
  if (!usesTcp(config)) return { transport: new SoloTransport(config.id), listenAddress: undefined, port: undefined };
  const members = config.cluster ?? [];
  const peers = new Map<NodeId, PeerAddress>();
  for (const member of members) if (member.id !== config.id) peers.set(member.id, member.address);
  const host = await resolveHost(config.listen.host);
  const transport = createTcpTransport({
    localId: config.id,
    clusterName: config.clusterName,
    listen: { host, port: config.listen.port },
    peers,
    clock,
    random,
    logger,
    // A replica's reply may carry several siblings of the largest value.
    frameBytesMax: Math.max(TCP_TRANSPORT_DEFAULTS.frameBytesMax, 2 * config.valueBytesMax + 1024 * 1024),
    ...(tls === undefined ? {} : { tls }),
  });
  try {
    const port = await transport.start();
    return { transport, listenAddress: formatHostPort({ host, port }), port };
  } catch (error) {
    await transport.close().catch(() => undefined);
    throw error;
  }
}

/** Keeps the metrics' gauges (buffer, hints, peers) reading the node. */
function watchNode(metrics: NodeMetrics, node: ShoalNode): void {
  metrics.watchStore(() => node.bufferStats());
  metrics.watchCluster(() => {
    const hints = node.localHints();
    const peers = node.peers();
    const count = (status: string): number => peers.filter((peer) => peer.status === status).length;
    return { hints: hints.total, hintsMax: hints.hintsMax, peersUp: count('up'), peersSuspect: count('suspect'), peersDown: count('down'), peerViews: peers, membership: node.membershipGauges(), repair: node.repairStatus(), cache: node.cacheStats() };
  });
}

interface RespSetup {
  readonly node: ShoalNode;
  readonly config: NodeConfig;
  readonly address: HostPort;
  readonly stats: RespStats;
  readonly logger: Logger;
  readonly auth: Authenticator | undefined;
  readonly tls: TlsFiles | undefined;
}

/** A Redis front end on exactly `address` (a host name resolved to its first address). */
async function startResp({ node, config, address, stats, logger, auth, tls }: RespSetup): Promise<RespServer> {
  const host = await resolveHost(address.host);
  return startRespServer({
    node,
    stats,
    listen: { host, port: address.port },
    limits: respLimitsOf(config.valueBytesMax, config.respIdleTimeoutMs, openFilesMax()),
    logger,
    ...(auth === undefined ? {} : { auth }),
    ...(tls === undefined ? {} : { tls }),
  });
}

/** The users file's authenticator, or undefined when clients need not authenticate. */
function authenticatorOf(config: NodeConfig): Authenticator | undefined {
  if (config.usersFile === undefined) return undefined;
  try {
    return new Authenticator(loadUsersFile(config.usersFile));
  } catch (error) {
    throw new ConfigError(`invalid config: usersFile: ${(error as Error).message}`);
  }
}

/** Binds exactly one address: a host name is resolved to its first address, never to all. */
async function listen(http: FastifyInstance, address: HostPort, scheme: 'http' | 'https'): Promise<string> {
  const host = await resolveHost(address.host);
  await http.listen({ host, port: address.port, listenTextResolver: () => '' });
  const bound = http.server.address();
  if (bound === null || typeof bound === 'string') throw new Error('HTTP server has no TCP address');
  return `${scheme}://${formatHostPort({ host: bound.address, port: bound.port })}`;
}

async function resolveHost(host: string): Promise<string> {
  return isIP(host) !== 0 ? host : (await lookup(host)).address;
}

interface Running {
  readonly node: ShoalNode;
  readonly transport: Transport;
  readonly http: FastifyInstance;
  readonly resp: readonly (RespServer | undefined)[];
  readonly logger: Logger;
  readonly lock: DataDirLock | undefined;
}

async function stopRuntime({ node, transport, http, resp, logger, lock }: Running): Promise<void> {
  await Promise.all([http.close(), ...resp.map((server) => server?.close())]);
  await node.stop();
  await transport.close();
  lock?.release();
  logger.info({}, 'storage flushed and closed');
}

async function closeAfterFailure(
  node: ShoalNode | undefined,
  storage: NodeStorage,
  hintEngine: StorageEngine,
  transport: Transport | undefined,
): Promise<void> {
  const quietly = (work: () => Promise<void>): Promise<void> => work().catch(() => undefined);
  if (node !== undefined) await quietly(() => node.stop());
  else {
    await quietly(() => hintEngine.close());
    await quietly(() => storage.engine.close());
  }
  if (transport !== undefined) await quietly(() => transport.close());
  storage.lock?.release();
}

function once(fn: () => Promise<void>): () => Promise<void> {
  let running: Promise<void> | undefined;
  return () => (running ??= fn());
}

/** The transport of a cluster of one: it has no peer to reach, and no peer reaches it. */
export class SoloTransport implements Transport {
  constructor(readonly localId: NodeId) {}

  request(to: NodeId): Promise<unknown> {
    return Promise.reject(new TransportError('UNREACHABLE', `a cluster of one has no peer ${JSON.stringify(to)}`));
  }

  requestAt(address: PeerAddress, _message?: unknown, _timeoutMs?: number): Promise<AddressedReply> {
    return Promise.reject(
      new TransportError(
        'UNREACHABLE',
        `cannot reach ${formatHostPort(address)}: this node has no internode transport (a cluster of one; give it --listen, --seeds or --cluster)`,
      ),
    );
  }

  serve(_handler: RequestHandler): void {}

  setPeers(): void {}

  async close(): Promise<void> {}
}
