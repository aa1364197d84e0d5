/**
 * Loopback transports for tests: start several on 127.0.0.1 port 0, introduce them to each
 * other, record their logs, and close everything at the end.
 */
import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';
import type { Logger } from '../../src/ports/logger.ts';
import type { NodeId, PeerAddress } from '../../src/ports/transport.ts';
import { TransportError } from '../../src/ports/transport.ts';
import { createTcpTransport, type TcpTransport, type TcpTransportOptions } from '../../src/io/tcpTransport.ts';

export const CLUSTER = 'test-cluster';

export interface LogLine {
  readonly level: 'debug' | 'info' | 'warn' | 'error';
  readonly message: string;
  readonly fields: Record<string, unknown>;
}

export class RecordingLogger implements Logger {
  readonly lines: LogLine[] = [];
  debug(fields: object, message: string): void {
    this.lines.push({ level: 'debug', message, fields: fields as Record<string, unknown> });
  }
  info(fields: object, message: string): void {
    this.lines.push({ level: 'info', message, fields: fields as Record<string, unknown> });
  }
  warn(fields: object, message: string): void {
    this.lines.push({ level: 'warn', message, fields: fields as Record<string, unknown> });
  }
  error(fields: object, message: string): void {
    this.lines.push({ level: 'error', message, fields: fields as Record<string, unknown> });
  }
  warnings(): LogLine[] {
    return this.lines.filter((line) => line.level === 'warn');
  }
}

export interface Node {
  readonly id: NodeId;
  readonly transport: TcpTransport;
  readonly logger: RecordingLogger;
  readonly address: PeerAddress;
}

type Overrides = Partial<Omit<TcpTransportOptions, 'localId' | 'listen' | 'peers'>>;

/** Fast-failing settings so a broken test fails in seconds, not minutes. */
const TEST_DEFAULTS: Overrides = { connectTimeoutMs: 2000, handshakeTimeoutMs: 2000, reconnectDelayMsMin: 20, reconnectDelayMsMax: 200 };

/** Every transport and server a test made, closed by `closeAll`. */
export class Harness {
  readonly nodes = new Map<NodeId, Node>();
  private readonly servers: Server[] = [];
  private readonly sockets: Socket[] = [];

  async start(id: NodeId, overrides: Overrides = {}, port = 0): Promise<Node> {
    const logger = new RecordingLogger();
    const transport = createTcpTransport({ ...TEST_DEFAULTS, clusterName: CLUSTER, logger, ...overrides, localId: id, listen: { host: '127.0.0.1', port } });
    const boundPort = await transport.start();
    const node: Node = { id, transport, logger, address: { host: '127.0.0.1', port: boundPort } };
    this.nodes.set(id, node);
    return node;
  }

  /** Starts the nodes and gives each all the others' addresses. */
  async cluster(ids: readonly NodeId[], overrides: Overrides = {}): Promise<Node[]> {
    const nodes: Node[] = [];
    for (const id of ids) nodes.push(await this.start(id, overrides));
    this.introduce(nodes);
    return nodes;
  }

  introduce(nodes: readonly Node[]): void {
    const peers = new Map(nodes.map((n) => [n.id, n.address] as const));
    for (const node of nodes) node.transport.setPeers(peers);
  }

  /** A plain TCP server on loopback (a fake peer); closed by closeAll. */
  async rawServer(onSocket: (socket: Socket) => void): Promise<PeerAddress> {
    const server = createServer((socket) => {
      this.sockets.push(socket);
      socket.on('error', () => undefined);
      onSocket(socket);
    });
    this.servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    assert.ok(address !== null && typeof address === 'object');
    return { host: '127.0.0.1', port: address.port };
  }

  /** A raw client socket: read and discarded (so its end is seen), destroyed by closeAll. */
  track(socket: Socket): Socket {
    this.sockets.push(socket);
    socket.on('error', () => undefined);
    socket.resume();
    return socket;
  }

  async closeAll(): Promise<void> {
    await Promise.all([...this.nodes.values()].map((n) => n.transport.close()));
    for (const socket of this.sockets) socket.destroy();
    await Promise.all(this.servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  }
}

/** Echoes the message back. */
export const echo = async (_from: NodeId, message: unknown): Promise<unknown> => message;

/** Rejects with the TransportError a promise rejects with; fails when it resolves. */
export async function transportError(promise: Promise<unknown>): Promise<TransportError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof TransportError, `expected a TransportError, got ${String(error)}`);
    return error;
  }
  assert.fail('expected the request to fail');
}

/** Polls `condition` every few ms until it holds; fails after `limitMs` (a hang guard, not a timing assertion). */
export async function eventually(condition: () => boolean, what: string, limitMs = 5000): Promise<void> {
  const start = Date.now();
  while (!condition()) {
    if (Date.now() - start > limitMs) assert.fail(`gave up waiting for: ${what}`);
    await sleep(5);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A promise that never settles, for handlers that must hang. */
export function never(): Promise<never> {
  return new Promise<never>(() => undefined);
}
