/**
 * The Redis-protocol (RESP2) front end's TCP server: binds exactly one address, serves up
 * to connectionsMax connections (past it a new one is told
 * `-ERR max number of clients reached` and closed, as Redis does), and on close stops
 * accepting, lets each connection answer the commands it has read, then closes them (any
 * left after stopGraceMs are destroyed).
 *
 * With `tls` it serves RESP over TLS (node:tls) and is otherwise the same, so a node can run
 * one plain and one TLS server side by side. With `auth` every connection must AUTH first
 * (commands.ts).
 */
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import type { Authenticator } from '../auth/authenticator.ts';
import { REFUSAL_LOG_INTERVAL_MS, RefusalLog } from '../../io/refusalLog.ts';
import { TLS_HANDSHAKE_MS_MAX, type TlsFiles } from '../tls.ts';
import type { HostPort } from '../../node/hostPort.ts';
import { formatHostPort } from '../../node/hostPort.ts';
import type { Logger } from '../../ports/logger.ts';
import { RespCommands } from './commands.ts';
import { RespConnection } from './connection.ts';
import { RespStats } from './stats.ts';
import type { RespNode, RespServerLimits } from './types.ts';

/** Connections served at once (Redis's maxclients default), at most half the process's file descriptors (see respLimitsOf). */
export const RESP_CONNECTIONS_MAX = 10_000;
/** The share of the process's open-file limit Redis connections may take: the rest is the HTTP port's, the peers' and LMDB's. */
export const RESP_FILE_DESCRIPTORS_SHARE = 0.5;
/** Commands read but not answered on one connection past which it stops reading. */
export const RESP_PIPELINE_COMMANDS_MAX = 1_024;
/** Their argument bytes past which it stops reading. */
export const RESP_PIPELINE_BYTES_MAX = 8 * 1024 * 1024;
/** The longest inline command (Redis's PROTO_INLINE_MAX_SIZE). */
export const RESP_INLINE_BYTES_MAX = 64 * 1024;
/** The most arguments in one command (MSET of 32,767 pairs). */
export const RESP_ARRAY_ELEMENTS_MAX = 65_536;
/** A bulk string may exceed valueBytesMax by this much: such a value gets the node's clear error, not a protocol error. */
export const RESP_BULK_SLACK_BYTES = 64 * 1024;
/** One command's argument bytes at least this many (MSET of many small values), at least four values in any case. */
export const RESP_COMMAND_BYTES_MIN = 8 * 1024 * 1024;
/** How long close() lets connections answer what they read before destroying them. */
export const RESP_STOP_GRACE_MS = 5_000;
/** A refused connection is destroyed after this long if the client does not close it. */
const REFUSED_LINGER_MS = 1_000;
/** TCP keep-alive probes start after this much idle time (dead clients are noticed). */
const KEEP_ALIVE_INITIAL_DELAY_MS = 60_000;
const MAX_CLIENTS_REPLY = '-ERR max number of clients reached\r\n';

/**
 * The front end's limits for a node with this value limit, idle timeout and open-file limit
 * (undefined: unknown). Redis connections never take more than half the file descriptors,
 * so idle clients cannot starve the HTTP port (issue 14: they did, under a low ulimit).
 */
export function respLimitsOf(valueBytesMax: number, idleMsMax: number, fileDescriptorsMax: number | undefined): RespServerLimits {
  const bulkBytesMax = valueBytesMax + RESP_BULK_SLACK_BYTES;
  const connectionsMax = fileDescriptorsMax === undefined ? RESP_CONNECTIONS_MAX : Math.max(1, Math.min(RESP_CONNECTIONS_MAX, Math.floor(fileDescriptorsMax * RESP_FILE_DESCRIPTORS_SHARE)));
  return {
    idleMsMax,
    bulkBytesMax,
    arrayElementsMax: RESP_ARRAY_ELEMENTS_MAX,
    inlineBytesMax: RESP_INLINE_BYTES_MAX,
    commandBytesMax: Math.max(RESP_COMMAND_BYTES_MIN, 4 * bulkBytesMax),
    connectionsMax,
    pipelineCommandsMax: RESP_PIPELINE_COMMANDS_MAX,
    pipelineBytesMax: RESP_PIPELINE_BYTES_MAX,
  };
}

export interface RespServerOptions {
  readonly node: RespNode;
  /** Where to bind: an IP address (resolved by the caller) and a port (0: a free one). */
  readonly listen: HostPort;
  readonly limits: RespServerLimits;
  readonly logger: Logger;
  readonly stats?: RespStats;
  readonly stopGraceMs?: number;
  /** The node's users: with it a connection must AUTH before anything but AUTH, HELLO and QUIT. */
  readonly auth?: Authenticator;
  /** Serve RESP over TLS with these (PEM). */
  readonly tls?: TlsFiles;
}

export interface RespServer {
  /** The bound address, `HOST:PORT`. */
  readonly address: string;
  readonly port: number;
  readonly stats: RespStats;
  /** Stops accepting, lets connections answer what they read, closes them. Idempotent. */
  close(): Promise<void>;
}

export async function startRespServer(options: RespServerOptions): Promise<RespServer> {
  const { limits, logger } = options;
  const stats = options.stats ?? new RespStats();
  let port = options.listen.port;
  const refusals = new RefusalLog(logger);
  const commands = new RespCommands({ node: options.node, stats, limits, tcpPort: () => port, auth: options.auth, refusals }, logger);
  const connections = new Set<RespConnection>();
  let nextId = 1;
  let closing = false;
  const server = createSocketServer(options, logger);
  let refusalLoggedMs = -Infinity;
  let refusedSinceLog = 0;
  // Over TLS a connection is the client's once its handshake is done.
  server.on(options.tls === undefined ? 'connection' : 'secureConnection', (socket: Socket) => {
    if (closing || connections.size >= limits.connectionsMax) {
      stats.connectionsRejected += 1;
      if (!closing) {
        refusedSinceLog += 1;
        const nowMs = Date.now();
        if (nowMs - refusalLoggedMs >= REFUSAL_LOG_INTERVAL_MS) {
          logger.warn({ connectionsMax: limits.connectionsMax, refused: refusedSinceLog, from: socket.remoteAddress }, 'refused redis connections: connectionsMax are open');
          refusalLoggedMs = nowMs;
          refusedSinceLog = 0;
        }
      }
      refuse(socket, closing ? '-ERR server is stopping\r\n' : MAX_CLIENTS_REPLY);
      return;
    }
    stats.connectionsAccepted += 1;
    stats.connectionsOpen += 1;
    const connection = new RespConnection({
      id: nextId++,
      socket,
      commands,
      limits,
      stats,
      logger,
      onClosed: (closed) => {
        connections.delete(closed);
        stats.connectionsOpen -= 1;
      },
    });
    connections.add(connection);
  });
  port = await listen(server, options.listen);
  server.on('error', (error) => logger.error({ err: error }, 'redis server error'));
  const address = formatHostPort({ host: options.listen.host, port });
  let closed: Promise<void> | undefined;
  const close = async (): Promise<void> => {
    closing = true;
    const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
    const grace = setTimeout(() => {
      for (const connection of connections) connection.destroy();
    }, options.stopGraceMs ?? RESP_STOP_GRACE_MS);
    await Promise.all([...connections].map((connection) => connection.shutdown()));
    clearTimeout(grace);
    await stopped;
  };
  return { address, port, stats, close: () => (closed ??= close()) };
}

function createSocketServer({ tls }: RespServerOptions, logger: Logger): Server {
  const socketOptions = { allowHalfOpen: true, noDelay: true, keepAlive: true, keepAliveInitialDelay: KEEP_ALIVE_INITIAL_DELAY_MS };
  if (tls === undefined) return createServer(socketOptions);
  const server = createTlsServer({ ...socketOptions, key: tls.key, cert: tls.cert, ca: tls.ca, handshakeTimeout: TLS_HANDSHAKE_MS_MAX });
  server.on('tlsClientError', (error, socket) => logger.debug({ err: error, from: socket.remoteAddress }, 'redis tls handshake failed'));
  return server;
}

function listen(server: Server, address: HostPort): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: address.host, port: address.port, exclusive: true }, () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

function refuse(socket: Socket, reply: string): void {
  socket.on('error', () => undefined);
  socket.end(reply);
  setTimeout(() => socket.destroy(), REFUSED_LINGER_MS).unref();
}
