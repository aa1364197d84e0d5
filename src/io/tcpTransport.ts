/**
 * The production Transport: one TCP connection per peer pair carrying length-prefixed
 * msgpack frames (frameCodec.ts for the format).
 *
 * - Connections are dialled lazily on a peer's first request and kept. If both nodes dial
 *   at once, the connection dialled by the smaller node id survives (peerLink.ts).
 * - Both sides open with a hello (protocol version, cluster name, node ids); a mismatch
 *   closes the connection with a warning and the reason reaches the waiting requests.
 * - A node of the same cluster that is not among the peers (setPeers) is served too: its
 *   connection opens but is linked to no peer. When setPeers adds it later, that open
 *   connection becomes the peer's (no second dial).
 * - requestAt(address) dials a one-off connection whose hello names the wildcard receiver
 *   ANY_RECEIVER ('*', never a node id): whoever listens there answers with its own id.
 *   The acceptor serves it as an anonymous connection, never linked to a peer; the dialler
 *   sends its one request and closes it (at most ONE_OFF_CONNECTIONS_MAX at once).
 * - Every queue is bounded: requests waiting for a connection or for the socket
 *   (outboundQueueFramesMax), unsettled requests per peer and running handlers per
 *   connection (inflightRequestsMax), frame bodies (frameBytesMax), unidentified inbound
 *   connections (inboundHandshakesMax), open connections from nodes not among the peers
 *   (UNLINKED_CONNECTIONS_MAX), one-off connections (ONE_OFF_CONNECTIONS_MAX). Past a
 *   bound a request fails fast (OVERLOADED) or the connection is refused.
 * - A failed connection puts its peer in a jittered exponential backoff; requests in it
 *   fail at once (UNREACHABLE) so a failure detector learns quickly.
 * - With `tls`, every connection is mutual TLS 1.3 against the cluster CA, and a hello's
 *   sender id must be the node id its certificate names (certificates.ts): nobody can speak
 *   for a node without its key. A certificate naming a client (client-coordinated mode) is
 *   served like a one-off dial, never linked to a peer, and its requests reach the handler
 *   with the role 'client'. Refusals are logged with the source address.
 * - Unidentified connections (in the TLS or hello handshake) share inboundHandshakesMax
 *   slots; a new one takes the slot of the oldest, so silent connections cannot lock peers
 *   out. Before the hello a frame may be HELLO_FRAME_BYTES_MAX at most; a frame must arrive
 *   whole within frameReceiveMsMax; and the bytes of unfinished frames over all
 *   connections stay under unframedBytesMax (past it the connection holding most is closed).
 * - Time and randomness come through the Clock and Random ports.
 */
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { connect as connectTls, createSecureContext, createServer as createTlsServer, type SecureContext, type TLSSocket } from 'node:tls';
import type { Clock, TimerHandle } from '../ports/clock.ts';
import { silentLogger, type Logger } from '../ports/logger.ts';
import type { Random } from '../ports/random.ts';
import { TransportError, type AddressedReply, type NodeId, type PeerAddress, type PeerRole, type RequestHandler, type RequestOptions, type Transport } from '../ports/transport.ts';
import { certificateIdentity, type CertificateIdentity } from './certificates.ts';
import { X509Certificate } from 'node:crypto';
import { cryptoRandom } from './cryptoRandom.ts';
import { RefusalLog } from './refusalLog.ts';
import { PROTOCOL_VERSION, bodyBytesFor, createFrameCodec, type FrameCodec, type Hello } from './frameCodec.ts';
import { PeerLink, backoffDelayMs, inboundVerdict, type LinkState } from './peerLink.ts';
import { systemClock } from './systemClock.ts';
export { HELLO_FRAME_BYTES_MAX } from './tcpConnection.ts';
import { Connection, type ConnectionHost, type ConnectionLimits, type ConnectionRole, type ConnectionState, type WriteBatching } from './tcpConnection.ts';
import { OutboundRequest, type InflightCounter } from './tcpRequest.ts';

const MiB = 1024 * 1024;

/** The receiverId of a one-off dial's hello: whichever node listens at the address. */
export const ANY_RECEIVER = '*';
/** One-off connections (requestAt) open at once; past it requestAt fails fast (OVERLOADED). */
export const ONE_OFF_CONNECTIONS_MAX = 16;
/**
 * Accepted connections open at once that are linked to no peer: one-off dials, and nodes
 * not (yet) among the peers. Past it such a hello is refused.
 */
export const UNLINKED_CONNECTIONS_MAX = 256;
/** How often unfinished frames are checked against frameReceiveMsMax. */
const FRAME_SWEEP_INTERVAL_MS = 1000;

export const TCP_TRANSPORT_DEFAULTS = {
  /** Well above the 1 MiB value limit, room for a reply carrying several siblings. */
  frameBytesMax: 16 * MiB,
  outboundQueueFramesMax: 1024,
  inflightRequestsMax: 2048,
  connectTimeoutMs: 2000,
  handshakeTimeoutMs: 2000,
  reconnectDelayMsMin: 100,
  reconnectDelayMsMax: 5000,
  keepAliveDelayMs: 5000,
  /**
   * A probe finds its peer's connection silent this long with requests waiting: it closes it
   * and dials afresh (see silentConnection()). At least the connect timeout: a peer slower
   * than that is as good as gone.
   */
  silentConnectionMsMax: 2000,
  inboundHandshakesMax: 64,
  /** Time for one frame to arrive whole once its first bytes did: 16 MiB at about 4.5 Mbit/s. */
  frameReceiveMsMax: 30_000,
  writeBatching: 'turn',
} as const;

/** The cluster's CA and this side's certificate and key (PEM), for mutual TLS. */
export interface TransportTls {
  readonly ca: string | Buffer;
  readonly cert: string | Buffer;
  readonly key: string | Buffer;
}

export interface TcpTransportOptions {
  readonly localId: NodeId;
  readonly clusterName: string;
  /** Where to accept peers; port 0 picks a free one (see `start()` and `address`). */
  readonly listen: PeerAddress;
  readonly peers?: ReadonlyMap<NodeId, PeerAddress>;
  readonly clock?: Clock;
  readonly random?: Random;
  readonly logger?: Logger;
  /** Largest frame body accepted or sent, bytes. */
  readonly frameBytesMax?: number;
  /** Frames per peer waiting for a connection or for the socket to drain. */
  readonly outboundQueueFramesMax?: number;
  /** Unsettled requests per peer, and handlers running per connection. */
  readonly inflightRequestsMax?: number;
  readonly connectTimeoutMs?: number;
  /** From TCP connect (or accept) until the peer's hello. */
  readonly handshakeTimeoutMs?: number;
  readonly reconnectDelayMsMin?: number;
  readonly reconnectDelayMsMax?: number;
  /** Idle time before TCP keep-alive probes start. */
  readonly keepAliveDelayMs?: number;
  /** A probe redials a connection silent this long with requests waiting. */
  readonly silentConnectionMsMax?: number;
  /** Accepted connections not yet identified (TLS handshake or hello pending). */
  readonly inboundHandshakesMax?: number;
  /** Time for a frame to arrive whole once its first bytes did. */
  readonly frameReceiveMsMax?: number;
  /** Bytes of unfinished frames over all connections (default: 4 frameBytesMax). */
  readonly unframedBytesMax?: number;
  /**
   * Mutual TLS against the cluster CA. Its certificate must name `localId` with the role
   * `role` (a node's, or a client's in client-coordinated mode).
   */
  readonly tls?: TransportTls;
  /** Whose certificate this side presents (default 'node'). */
  readonly role?: PeerRole;
  /**
   * When queued frames are written as one buffer: 'tick' (once the current tick's code and
   * promise continuations ran), 'turn' (next event-loop turn), 'off' (a write per frame).
   * bench/transport.ts compares them.
   */
  readonly writeBatching?: WriteBatching;
}

export interface TcpTransport extends Transport {
  /** Binds the listen address; resolves with the bound port. */
  start(): Promise<number>;
  /** The bound address once started. */
  readonly address: PeerAddress | undefined;
  stats(): TcpTransportStats;
}

export interface TcpTransportStats {
  readonly peers: Record<NodeId, PeerStats>;
  /** Sockets still open, including ones in handshake or closing. */
  readonly sockets: number;
  /** Connections dialled for peers since start (a churn gauge); one-off dials not included. */
  readonly dials: number;
  /** One-off connections (requestAt) open now. */
  readonly oneOffs: number;
  /** Accepted connections open now and linked to no peer (one-off dials, nodes not among the peers). */
  readonly unlinked: number;
}

export interface PeerStats {
  readonly state: LinkState;
  readonly connection: ConnectionStats | null;
  readonly waitingRequests: number;
  readonly inflightRequests: number;
  readonly failures: number;
  readonly lastFailure: string;
}

export interface ConnectionStats {
  readonly role: ConnectionRole;
  readonly state: ConnectionState;
  readonly localPort: number | undefined;
  readonly remotePort: number | undefined;
  readonly pendingRequests: number;
  readonly queuedFrames: number;
}

/** An option out of range, reported when the transport is built. */
export class TransportOptionError extends Error {
  readonly code = 'TRANSPORT_OPTION_INVALID';
  constructor(message: string) {
    super(message);
    this.name = 'TransportOptionError';
  }
}

export function createTcpTransport(options: TcpTransportOptions): TcpTransport {
  return new TcpTransportImpl(options);
}

interface Settings extends ConnectionLimits {
  readonly reconnectDelayMsMin: number;
  readonly reconnectDelayMsMax: number;
  readonly keepAliveDelayMs: number;
  readonly silentConnectionMsMax: number;
  readonly inboundHandshakesMax: number;
  readonly unframedBytesMax: number;
}

function settingsFrom(options: TcpTransportOptions): Settings {
  const positive = (name: keyof typeof TCP_TRANSPORT_DEFAULTS & keyof TcpTransportOptions): number => {
    const value = (options[name] as number | undefined) ?? (TCP_TRANSPORT_DEFAULTS[name] as number);
    if (!Number.isSafeInteger(value) || value < 1) throw new TransportOptionError(`${name} must be a positive integer, got ${value}`);
    return value;
  };
  const settings: Settings = {
    frameBytesMax: positive('frameBytesMax'),
    outboundQueueFramesMax: positive('outboundQueueFramesMax'),
    inflightRequestsMax: positive('inflightRequestsMax'),
    connectTimeoutMs: positive('connectTimeoutMs'),
    handshakeTimeoutMs: positive('handshakeTimeoutMs'),
    reconnectDelayMsMin: positive('reconnectDelayMsMin'),
    reconnectDelayMsMax: positive('reconnectDelayMsMax'),
    keepAliveDelayMs: positive('keepAliveDelayMs'),
    silentConnectionMsMax: positive('silentConnectionMsMax'),
    inboundHandshakesMax: positive('inboundHandshakesMax'),
    frameReceiveMsMax: positive('frameReceiveMsMax'),
    unframedBytesMax: 0,
    writeBatching: options.writeBatching ?? TCP_TRANSPORT_DEFAULTS.writeBatching,
  };
  if (!['tick', 'turn', 'off'].includes(settings.writeBatching)) throw new TransportOptionError(`writeBatching must be tick, turn or off, got ${String(settings.writeBatching)}`);
  if (settings.reconnectDelayMsMin > settings.reconnectDelayMsMax) throw new TransportOptionError('reconnectDelayMsMin must not exceed reconnectDelayMsMax');
  if (settings.frameBytesMax > 0xffff_ffff) throw new TransportOptionError('frameBytesMax must fit the 32-bit length prefix');
  const unframedBytesMax = options.unframedBytesMax ?? 4 * settings.frameBytesMax;
  if (!Number.isSafeInteger(unframedBytesMax) || unframedBytesMax < settings.frameBytesMax) throw new TransportOptionError(`unframedBytesMax must be an integer >= frameBytesMax, got ${unframedBytesMax}`);
  if (options.localId === '') throw new TransportOptionError('localId must not be empty');
  if (options.clusterName === '') throw new TransportOptionError('clusterName must not be empty');
  checkAddress('listen', options.listen, true);
  return { ...settings, unframedBytesMax };
}

function checkAddress(name: string, address: PeerAddress, portZeroAllowed: boolean): void {
  const portMin = portZeroAllowed ? 0 : 1;
  if (typeof address.host !== 'string' || address.host === '' || !Number.isInteger(address.port) || address.port < portMin || address.port > 65535) {
    throw new TransportOptionError(`${name} must be {host, port} with a port in ${portMin}..65535, got ${JSON.stringify(address)}`);
  }
}

class TcpTransportImpl implements TcpTransport, ConnectionHost {
  readonly localId: NodeId;
  readonly codec: FrameCodec = createFrameCodec();
  readonly clock: Clock;
  readonly logger: Logger;
  readonly limits: Settings;
  handler: RequestHandler | undefined = undefined;
  address: PeerAddress | undefined = undefined;
  private readonly clusterName: string;
  private readonly listenAddress: PeerAddress;
  private readonly random: Random;
  /** Random per process start: tells a restarted peer from a stale connection. */
  private readonly incarnation: number;
  /** Counts this transport's dials; stated in every hello (see inboundVerdict). */
  private dialSeq = 0;
  private readonly links = new Map<NodeId, PeerLink>();
  /**
   * The open accepted connection of each node not among the peers, the latest it dialled;
   * adopted by the peer's link when setPeers adds the node.
   */
  private readonly strangers = new Map<NodeId, Connection>();
  /** Open accepted connections whose hello named the wildcard receiver. */
  private readonly anonymous = new Set<Connection>();
  /** One-off connections of requestAt, each with its one request. */
  private readonly oneOffs = new Map<Connection, OutboundRequest>();
  /** Every connection whose socket is still open. */
  private readonly connections = new Set<Connection>();
  /** Accepted sockets not yet identified (TLS or hello handshake), oldest first, by remote address. */
  private readonly unidentified = new Map<string, Socket>();
  /** Bytes of unfinished frames held by all connections. */
  private unframedBytes = 0;
  /** Armed while some connection holds an unfinished frame. */
  private frameSweep: TimerHandle | undefined = undefined;
  private readonly tls: TransportTls | undefined;
  private readonly secureContext: SecureContext | undefined;
  private readonly role: PeerRole;
  private readonly refusalLog: RefusalLog;
  private server: Server | undefined = undefined;
  private closed = false;
  private closing: Promise<void> | undefined = undefined;

  constructor(options: TcpTransportOptions) {
    this.limits = settingsFrom(options);
    this.localId = options.localId;
    this.clusterName = options.clusterName;
    this.clock = options.clock ?? systemClock;
    this.random = options.random ?? cryptoRandom;
    this.logger = options.logger ?? silentLogger;
    this.incarnation = this.random.int(2 ** 32);
    this.listenAddress = { ...options.listen };
    this.role = options.role ?? 'node';
    this.refusalLog = new RefusalLog(this.logger, () => this.clock.monotonicMs());
    this.tls = options.tls;
    this.secureContext = options.tls === undefined ? undefined : secureContextFor(options.tls, this.localId, this.role);
    if (options.peers !== undefined) this.setPeers(options.peers);
  }

  async start(): Promise<number> {
    if (this.closed) throw new TransportError('CLOSED', 'transport is closed');
    if (this.server !== undefined) throw new Error('transport already started');
    const server = this.tls === undefined ? createServer(this.socketOptions(), this.onRawInbound) : this.createTlsServer(this.tls);
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.listenAddress.port, this.listenAddress.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    server.on('error', (error) => this.logger.error({ err: error.message }, 'internode listener failed'));
    const bound = server.address() as AddressInfo;
    this.address = { host: this.listenAddress.host, port: bound.port };
    return bound.port;
  }

  /** Mutual TLS: the handshake verifies the peer's certificate against the CA before anything is read. */
  private createTlsServer(tls: TransportTls): Server {
    const server = createTlsServer(
      { ...this.socketOptions(), ca: tls.ca, cert: tls.cert, key: tls.key, requestCert: true, rejectUnauthorized: true, handshakeTimeout: this.limits.handshakeTimeoutMs, minVersion: 'TLSv1.3' },
      this.onSecureInbound,
    );
    server.on('connection', this.onRawInbound);
    // The TLS socket may be destroyed already; its TCP socket (_parent) kept the address read on accept.
    server.on('tlsClientError', (error, socket) => this.refusalLog.note('tls', { remote: remoteOf((socket as { _parent?: Socket })._parent ?? socket), reason: error.message }, 'internode TLS handshake refused'));
    return server;
  }

  private socketOptions(): { noDelay: true; keepAlive: true; keepAliveInitialDelay: number } {
    return { noDelay: true, keepAlive: true, keepAliveInitialDelay: this.limits.keepAliveDelayMs };
  }

  serve(handler: RequestHandler): void {
    this.handler = handler;
  }

  setPeers(peers: ReadonlyMap<NodeId, PeerAddress>): void {
    for (const [peerId, address] of peers) {
      if (peerId === this.localId) continue;
      checkAddress(`address of peer ${peerId}`, address, false);
      const link = this.links.get(peerId);
      if (link === undefined) this.addLink(peerId, address);
      else link.address = address;
    }
    for (const [peerId, link] of this.links) {
      if (!peers.has(peerId)) {
        this.links.delete(peerId);
        this.dropLink(link, 'UNREACHABLE', 'peer removed from the membership');
      }
    }
  }

  /** A new peer's link; an open connection the node already dialled to us becomes its own. */
  private addLink(peerId: NodeId, address: PeerAddress): void {
    const link = new PeerLink(peerId, address);
    this.links.set(peerId, link);
    const adopted = this.strangers.get(peerId);
    if (adopted === undefined) return;
    this.strangers.delete(peerId);
    if (adopted.state === 'open') this.linkConnected(link, adopted);
  }

  request(to: NodeId, message: unknown, timeoutMs: number, options?: RequestOptions): Promise<unknown> {
    const invalid = this.requestError(timeoutMs);
    if (invalid !== undefined) return Promise.reject(invalid);
    const link = this.links.get(to);
    if (link === undefined) return Promise.reject(new TransportError('UNREACHABLE', `unknown peer ${JSON.stringify(to)}`));
    if (options?.probe === true) this.redialIfSilent(link);
    const refusal = this.admissionError(link, options?.probe === true);
    if (refusal !== undefined) return Promise.reject(refusal);
    const payload = this.pack(message);
    if (payload instanceof TransportError) return Promise.reject(payload);
    return new Promise((resolve, reject) => {
      const request = new OutboundRequest(to, payload, link, this.clock, resolve, reject);
      request.startTimer(timeoutMs);
      this.dispatch(link, request);
    });
  }

  requestAt(address: PeerAddress, message: unknown, timeoutMs: number): Promise<AddressedReply> {
    const invalid = this.requestError(timeoutMs);
    if (invalid !== undefined) return Promise.reject(invalid);
    const where = `${address.host}:${address.port}`;
    try {
      checkAddress('address', address, false);
    } catch (error) {
      return Promise.reject(new TransportError('UNREACHABLE', (error as Error).message));
    }
    if (this.oneOffs.size >= ONE_OFF_CONNECTIONS_MAX) {
      return Promise.reject(new TransportError('OVERLOADED', `${this.oneOffs.size} one-off requests in flight (ONE_OFF_CONNECTIONS_MAX ${ONE_OFF_CONNECTIONS_MAX})`));
    }
    const payload = this.pack(message);
    if (payload instanceof TransportError) return Promise.reject(payload);
    return new Promise((resolve, reject) => {
      const connection = new Connection(this, this.connectTo(address), 'dialled', undefined, 0);
      connection.anonymous = true;
      this.connections.add(connection);
      // Settles once: then the connection has served its purpose.
      const done = (): void => {
        this.oneOffs.delete(connection);
        connection.close('UNREACHABLE', 'one-off request settled');
      };
      const counter: InflightCounter = { inflightRequests: 0 };
      const request = new OutboundRequest(
        where,
        payload,
        counter,
        this.clock,
        (reply) => {
          const from = connection.peerId as NodeId;
          done();
          resolve({ from, reply });
        },
        (error) => {
          done();
          reject(error);
        },
      );
      this.oneOffs.set(connection, request);
      request.startTimer(timeoutMs);
    });
  }

  /** Why no request may start now, whatever its destination. */
  private requestError(timeoutMs: number): Error | undefined {
    if (this.closed) return new TransportError('CLOSED', 'transport is closed');
    if (!(timeoutMs > 0) || !Number.isFinite(timeoutMs)) return new RangeError(`timeoutMs must be a positive number, got ${timeoutMs}`);
    return undefined;
  }

  /** The message packed, or why it cannot be sent (BAD_MESSAGE). */
  private pack(message: unknown): Buffer | TransportError {
    let payload: Buffer;
    try {
      payload = this.codec.packr.pack(message);
    } catch (error) {
      return new TransportError('BAD_MESSAGE', `message not encodable: ${(error as Error).message}`, { cause: error });
    }
    if (bodyBytesFor(payload) > this.limits.frameBytesMax) {
      return new TransportError('BAD_MESSAGE', `message of ${payload.length} bytes exceeds frameBytesMax ${this.limits.frameBytesMax}`);
    }
    return payload;
  }

  /**
   * A partition that drops packets leaves TCP connections established: after the heal, the
   * kernel resends what waited only when its retransmission backoff next fires, seconds later
   * (the real-network test saw peers up again 7-8 s after a 7 s partition). A probe that
   * finds its peer's connection silent for silentConnectionMsMax with requests waiting closes
   * it (those requests fail as UNREACHABLE), so the probe dials a fresh one at once.
   */
  private redialIfSilent(link: PeerLink): void {
    if (link.state !== 'connected') return;
    const connection = link.connection as Connection;
    const silentMs = connection.silentMs(this.clock.monotonicMs());
    if (silentMs < this.limits.silentConnectionMsMax) return;
    this.logger.info({ peer: link.peerId, silentMs: Math.round(silentMs) }, 'the connection to a doubted peer is silent with requests waiting; redialling');
    connection.close('UNREACHABLE', `connection to ${link.peerId} silent for ${Math.round(silentMs)} ms with requests waiting; redialling`);
  }

  /** Why a request to `link` must fail right now, if it must: fail fast instead of queueing (a probe dials through a backoff). */
  private admissionError(link: PeerLink, probe: boolean): TransportError | undefined {
    const { inflightRequestsMax, outboundQueueFramesMax } = this.limits;
    if (link.state === 'backoff' && !probe && this.clock.monotonicMs() < link.retryAtMs) {
      const retryInMs = Math.ceil(link.retryAtMs - this.clock.monotonicMs());
      return new TransportError('UNREACHABLE', `${link.peerId} unreachable (${link.lastFailure}); next attempt in ${retryInMs} ms`);
    }
    if (link.inflightRequests >= inflightRequestsMax) {
      return new TransportError('OVERLOADED', `${link.inflightRequests} requests to ${link.peerId} in flight (inflightRequestsMax ${inflightRequestsMax})`);
    }
    const queued = link.state === 'connected' ? (link.connection as Connection).queuedFrames : link.waiting.length;
    if (queued >= outboundQueueFramesMax) {
      return new TransportError('OVERLOADED', `${queued} frames queued for ${link.peerId} (outboundQueueFramesMax ${outboundQueueFramesMax})`);
    }
    return undefined;
  }

  private dispatch(link: PeerLink, request: OutboundRequest): void {
    if (link.state === 'connected') return (link.connection as Connection).sendRequest(request);
    link.waiting.push(request);
    request.home = link;
    if (link.state === 'idle' || link.state === 'backoff') this.dial(link);
  }

  private dial(link: PeerLink): void {
    link.state = 'dialling';
    const connection = new Connection(this, this.connectTo(link.address), 'dialled', link.peerId, ++this.dialSeq);
    this.connections.add(connection);
    link.connection = connection;
  }

  /** A socket to `address`: TLS (the peer's identity is checked at its hello, not by host name) or plain. */
  private connectTo(address: PeerAddress): Socket {
    const options = { host: address.host, port: address.port, ...this.socketOptions() };
    if (this.secureContext === undefined) return connect(options);
    return connectTls({ ...options, secureContext: this.secureContext, checkServerIdentity: () => undefined, minVersion: 'TLSv1.3' });
  }

  /**
   * An accepted TCP socket. It takes an unidentified slot until its hello is accepted; when
   * they are all taken, the oldest goes, so connections that never speak cannot lock peers out.
   */
  private readonly onRawInbound = (socket: Socket): void => {
    if (this.closed) {
      socket.on('error', () => undefined);
      socket.destroy();
      return;
    }
    this.holdUnidentified(socket);
    if (this.secureContext === undefined) this.connections.add(new Connection(this, socket, 'accepted', undefined, 0));
  };

  private holdUnidentified(socket: Socket): void {
    if (this.unidentified.size >= this.limits.inboundHandshakesMax) {
      const [oldestKey, oldest] = this.unidentified.entries().next().value as [string, Socket];
      this.unidentified.delete(oldestKey);
      this.refusalLog.note('slots', { remote: oldestKey, inboundHandshakesMax: this.limits.inboundHandshakesMax }, 'unidentified internode connections fill inboundHandshakesMax: closed the oldest');
      oldest.destroy();
    }
    const key = remoteOf(socket);
    this.unidentified.set(key, socket);
    socket.once('close', () => {
      if (this.unidentified.get(key) === socket) this.unidentified.delete(key);
    });
  }

  /** A TLS connection whose certificate the CA signed: the hello says who it is (checked against the certificate). */
  private readonly onSecureInbound = (socket: TLSSocket): void => {
    if (this.closed) return void socket.destroy();
    this.connections.add(new Connection(this, socket, 'accepted', undefined, 0));
  };

  helloFor(connection: Connection): Hello {
    const dialler = connection.role === 'dialled';
    return {
      protocolVersion: PROTOCOL_VERSION,
      clusterName: this.clusterName,
      senderId: this.localId,
      // A one-off dial does not know whom it reaches; the acceptor echoes the dialler's id.
      receiverId: connection.peerId ?? ANY_RECEIVER,
      incarnation: this.incarnation,
      dialSeq: dialler ? connection.dialSeq : this.dialSeq,
      role: this.role,
    };
  }

  onHello(connection: Connection, hello: Hello): void {
    const mismatch = this.helloMismatch(connection, hello) ?? this.identityMismatch(connection, hello) ?? this.unlinkedRefusal(connection, hello);
    if (mismatch !== undefined) {
      this.logger.warn({ peer: hello.senderId, remote: connection.remote, reason: mismatch }, 'internode handshake refused');
      return connection.close('UNREACHABLE', `handshake refused: ${mismatch}`, 'REFUSED');
    }
    this.unidentified.delete(connection.remote);
    if (connection.role === 'accepted') return this.onInboundHello(connection, hello);
    if (connection.anonymous) return this.onOneOffOpen(connection, hello);
    this.onDialledOpen(connection, hello);
  }

  /** Why the peer's hello is unacceptable, or undefined. */
  private helloMismatch(connection: Connection, hello: Hello): string | undefined {
    if (hello.protocolVersion !== PROTOCOL_VERSION) return `peer speaks protocol version ${hello.protocolVersion}, this node ${PROTOCOL_VERSION}`;
    if (hello.clusterName !== this.clusterName) return `peer is in cluster ${JSON.stringify(hello.clusterName)}, this node in ${JSON.stringify(this.clusterName)}`;
    if (hello.senderId === this.localId) return `peer has this node's own id ${JSON.stringify(this.localId)} (a node dialled itself, or two nodes share an id)`;
    const wildcardAllowed = connection.role === 'accepted';
    if (hello.receiverId !== this.localId && !(wildcardAllowed && hello.receiverId === ANY_RECEIVER)) {
      return `peer expected node ${JSON.stringify(hello.receiverId)}, this is ${JSON.stringify(this.localId)}`;
    }
    if (connection.role === 'dialled' && !connection.anonymous && hello.senderId !== connection.peerId) {
      return `expected node ${JSON.stringify(connection.peerId)} at ${connection.remote}, found ${JSON.stringify(hello.senderId)}`;
    }
    return undefined;
  }

  /**
   * Why the peer's claim to be a node or a client does not hold. With TLS the certificate
   * decides: a node's must name the sender id, and the hello's role must be the
   * certificate's. Without TLS the hello is taken at its word. A client is taken only on
   * accepted connections, and marked (connection.peerRole) so it is served as a client and
   * never linked to a peer.
   */
  private identityMismatch(connection: Connection, hello: Hello): string | undefined {
    const mismatch = this.secureContext === undefined ? undefined : certificateMismatch(connection.socket as TLSSocket, hello);
    if (mismatch !== undefined) return mismatch;
    if (hello.role === 'client' && connection.role === 'dialled') return `expected a node, found client ${JSON.stringify(hello.senderId)}`;
    connection.peerRole = hello.role;
    return undefined;
  }

  /** An accepted connection that no peer link would take, past UNLINKED_CONNECTIONS_MAX. */
  private unlinkedRefusal(connection: Connection, hello: Hello): string | undefined {
    if (connection.role !== 'accepted') return undefined;
    const linkable = hello.receiverId !== ANY_RECEIVER && connection.peerRole === 'node';
    if (linkable && this.links.has(hello.senderId)) return undefined;
    if (linkable && this.strangers.has(hello.senderId)) return undefined; // replaces one
    const unlinked = this.anonymous.size + this.strangers.size;
    if (unlinked < UNLINKED_CONNECTIONS_MAX) return undefined;
    return `${unlinked} connections open from nodes not among this node's peers (UNLINKED_CONNECTIONS_MAX ${UNLINKED_CONNECTIONS_MAX})`;
  }

  /** A one-off dial reached a node of this cluster: its one request goes out. */
  private onOneOffOpen(connection: Connection, hello: Hello): void {
    const request = this.oneOffs.get(connection);
    if (request === undefined) return connection.close('UNREACHABLE', 'one-off request already settled');
    connection.open(hello.senderId, hello);
    connection.sendRequest(request);
  }

  private onDialledOpen(connection: Connection, hello: Hello): void {
    const link = this.links.get(hello.senderId);
    if (link?.connection !== connection) return connection.close('UNREACHABLE', 'dial no longer wanted');
    connection.open(hello.senderId, hello);
    this.linkConnected(link, connection);
  }

  private onInboundHello(connection: Connection, hello: Hello): void {
    if (hello.receiverId === ANY_RECEIVER || connection.peerRole === 'client') return this.onAnonymousHello(connection, hello);
    const link = this.links.get(hello.senderId);
    if (link === undefined) return this.onStrangerHello(connection, hello);
    const existing = link.connection === undefined ? undefined : { open: link.connection.state === 'open', peerIncarnation: link.connection.peerIncarnation, peerDialSeq: link.connection.peerDialSeq };
    const verdict = inboundVerdict(this.localId, existing, hello);
    if (existing !== undefined) this.logger.debug({ peer: hello.senderId, verdict, existingOpen: existing.open }, 'peer dialled while a connection exists');
    if (verdict === 'duplicate') return connection.close('UNREACHABLE', 'simultaneous dial: ours wins', 'DUPLICATE');
    if (verdict === 'stale') return connection.close('UNREACHABLE', 'stale dial: an open connection exists', 'STALE');
    const previous = link.connection;
    connection.open(hello.senderId, hello);
    connection.sendHello();
    this.linkConnected(link, connection);
    previous?.close('UNREACHABLE', 'replaced by the peer’s newer connection');
  }

  /** A one-off dial: served, never linked, never used for this node's requests. */
  private onAnonymousHello(connection: Connection, hello: Hello): void {
    connection.anonymous = true;
    connection.open(hello.senderId, hello);
    connection.sendHello();
    this.anonymous.add(connection);
    this.logger.debug({ peer: hello.senderId, remote: connection.remote }, 'one-off internode connection open');
  }

  /**
   * A node of this cluster that is not among the peers: served, not linked. Only its latest
   * dial is kept (the same rule as for a peer whose connection is open), ready to be
   * adopted if setPeers adds the node.
   */
  private onStrangerHello(connection: Connection, hello: Hello): void {
    const previous = this.strangers.get(hello.senderId);
    const existing = previous === undefined ? undefined : { open: true, peerIncarnation: previous.peerIncarnation, peerDialSeq: previous.peerDialSeq };
    if (inboundVerdict(this.localId, existing, hello) === 'stale') return connection.close('UNREACHABLE', 'stale dial: an open connection exists', 'STALE');
    connection.open(hello.senderId, hello);
    connection.sendHello();
    this.strangers.set(hello.senderId, connection);
    previous?.close('UNREACHABLE', 'replaced by the peer’s newer connection');
    this.logger.debug({ peer: hello.senderId, remote: connection.remote }, 'internode connection open from a node not among the peers');
  }

  /** `connection` becomes the peer's: requests waiting for it go out in order. */
  private linkConnected(link: PeerLink, connection: Connection): void {
    this.clearLinkTimer(link);
    link.connection = connection;
    link.state = 'connected';
    link.failures = 0;
    for (const request of link.takeWaiting()) connection.sendRequest(request);
    this.logger.debug({ peer: link.peerId, role: connection.role, remote: connection.remote }, 'internode connection open');
  }

  onRefused(connection: Connection, code: string, message: string): void {
    if (connection.anonymous) {
      this.logger.warn({ remote: connection.remote, code, reason: message }, 'node refused the one-off internode handshake');
      return;
    }
    const link = this.links.get(connection.peerId as NodeId);
    if (code === 'DUPLICATE' && link?.connection === connection) {
      // The peer's own dial wins; it is on its way. Keep the waiting requests for it.
      this.logger.debug({ peer: link.peerId }, 'simultaneous dial: waiting for the peer’s connection');
      link.connection = undefined;
      link.state = 'awaitingInbound';
      const { connectTimeoutMs, handshakeTimeoutMs } = this.limits;
      link.timer = this.clock.setTimer(connectTimeoutMs + handshakeTimeoutMs, () => this.onInboundOverdue(link));
      return;
    }
    if (code !== 'STALE') this.logger.warn({ peer: connection.peerId, code, reason: message }, 'peer refused the internode handshake');
  }

  private onInboundOverdue(link: PeerLink): void {
    link.timer = undefined;
    if (link.state === 'awaitingInbound') this.failLink(link, 'peer claimed the connection but did not dial');
  }

  onClosed(connection: Connection, reason: string): void {
    if (connection.anonymous) return this.onAnonymousClosed(connection, reason);
    if (connection.role === 'accepted' && connection.peerId !== undefined && this.strangers.get(connection.peerId) === connection) {
      this.strangers.delete(connection.peerId);
      return;
    }
    const link = connection.peerId === undefined ? undefined : this.links.get(connection.peerId);
    if (link === undefined || link.connection !== connection) return;
    link.connection = undefined;
    if (!this.closed) this.failLink(link, reason);
  }

  private onAnonymousClosed(connection: Connection, reason: string): void {
    this.anonymous.delete(connection);
    const request = this.oneOffs.get(connection);
    if (request === undefined) return;
    // Closed before its request was answered (a reply settles it first): connect or handshake failed.
    this.oneOffs.delete(connection);
    request.reject(new TransportError(this.closed ? 'CLOSED' : 'UNREACHABLE', `${request.peerId} unreachable: ${reason}`));
  }

  onSocketGone(connection: Connection): void {
    this.connections.delete(connection);
  }

  /** Counts the bytes of unfinished frames; past unframedBytesMax the connection holding most is closed. */
  noteUnframedBytes(deltaBytes: number): void {
    this.unframedBytes += deltaBytes;
    if (deltaBytes > 0 && this.frameSweep === undefined) this.frameSweep = this.clock.setTimer(FRAME_SWEEP_INTERVAL_MS, this.sweepFrames);
    if (this.unframedBytes <= this.limits.unframedBytesMax) return;
    let largest: Connection | undefined;
    for (const connection of this.connections) if (largest === undefined || connection.unframedBytes > largest.unframedBytes) largest = connection;
    if (largest === undefined) return;
    this.logger.warn({ peer: largest.peerId, remote: largest.remote, unframedBytes: largest.unframedBytes, unframedBytesMax: this.limits.unframedBytesMax }, 'unfinished internode frames exceed unframedBytesMax: closing the connection holding most');
    largest.close('UNREACHABLE', `unfinished frames exceed unframedBytesMax ${this.limits.unframedBytesMax}`, 'BAD_FRAME');
  }

  /** Closes connections whose frame has not arrived whole within frameReceiveMsMax; re-arms while any frame is unfinished. */
  private readonly sweepFrames = (): void => {
    this.frameSweep = undefined;
    const nowMs = this.clock.monotonicMs();
    let unfinished = false;
    for (const connection of this.connections) {
      if (connection.frameStartMs < 0) continue;
      if (nowMs - connection.frameStartMs <= this.limits.frameReceiveMsMax) unfinished = true;
      else {
        this.logger.warn({ peer: connection.peerId, remote: connection.remote, unframedBytes: connection.unframedBytes, frameReceiveMsMax: this.limits.frameReceiveMsMax }, 'internode frame not received whole in time: closing the connection');
        connection.close('UNREACHABLE', `frame not received whole within frameReceiveMsMax ${this.limits.frameReceiveMsMax} ms`, 'BAD_FRAME');
      }
    }
    if (unfinished && !this.closed) this.frameSweep = this.clock.setTimer(FRAME_SWEEP_INTERVAL_MS, this.sweepFrames);
  };

  /** The peer failed: back off, and fail what waits for it now rather than at its timeout. */
  private failLink(link: PeerLink, reason: string): void {
    this.clearLinkTimer(link);
    link.failures++;
    const { reconnectDelayMsMin, reconnectDelayMsMax } = this.limits;
    const delayMs = backoffDelayMs(link.failures, reconnectDelayMsMin, reconnectDelayMsMax, this.random.next());
    link.state = 'backoff';
    link.retryAtMs = this.clock.monotonicMs() + delayMs;
    link.lastFailure = reason;
    this.logger.info({ peer: link.peerId, reason, failures: link.failures, retryInMs: delayMs }, 'internode connection failed');
    for (const request of link.takeWaiting()) request.reject(new TransportError('UNREACHABLE', `${link.peerId} unreachable: ${reason}`));
  }

  private dropLink(link: PeerLink, code: 'UNREACHABLE' | 'CLOSED', reason: string): void {
    this.clearLinkTimer(link);
    const connection = link.connection;
    link.connection = undefined;
    connection?.close(code, reason);
    for (const request of link.takeWaiting()) request.reject(new TransportError(code, `request to ${link.peerId} failed: ${reason}`));
  }

  private clearLinkTimer(link: PeerLink): void {
    if (link.timer !== undefined) this.clock.clearTimer(link.timer);
    link.timer = undefined;
  }

  stats(): TcpTransportStats {
    const peers: Record<NodeId, PeerStats> = {};
    for (const [peerId, link] of this.links) {
      const c = link.connection;
      peers[peerId] = {
        state: link.state,
        connection:
          c === undefined
            ? null
            : { role: c.role, state: c.state, localPort: c.socket.localPort, remotePort: c.socket.remotePort, pendingRequests: c.pendingRequests, queuedFrames: c.queuedFrames },
        waitingRequests: link.waiting.length,
        inflightRequests: link.inflightRequests,
        failures: link.failures,
        lastFailure: link.lastFailure,
      };
    }
    return { peers, sockets: this.connections.size, dials: this.dialSeq, oneOffs: this.oneOffs.size, unlinked: this.anonymous.size + this.strangers.size };
  }

  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    this.closed = true;
    if (this.frameSweep !== undefined) this.clock.clearTimer(this.frameSweep);
    this.frameSweep = undefined;
    for (const link of this.links.values()) this.dropLink(link, 'CLOSED', 'transport closed');
    for (const request of [...this.oneOffs.values()]) request.reject(new TransportError('CLOSED', `request to ${request.peerId} failed: transport closed`));
    const gone: Promise<void>[] = [];
    for (const connection of this.connections) {
      connection.close('CLOSED', 'transport closed');
      connection.destroy();
      gone.push(connection.whenGone());
    }
    const server = this.server;
    if (server !== undefined) gone.push(new Promise<void>((resolve) => server.close(() => resolve())));
    await Promise.all(gone);
  }
}

/** `host:port` of a socket's other end. */
function remoteOf(socket: Socket): string {
  return `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`;
}

/** Why the certificate a TLS peer presented does not fit its hello, if it does not. */
function certificateMismatch(socket: TLSSocket, hello: Hello): string | undefined {
  const identity = peerIdentity(socket);
  if (identity === undefined) return 'its certificate names no shoal node or client';
  if (identity.role !== hello.role) return `its certificate is a ${identity.role}'s, its hello says ${hello.role}`;
  if (identity.role === 'node' && identity.name !== hello.senderId) return `its certificate names node ${JSON.stringify(identity.name)}, its hello ${JSON.stringify(hello.senderId)}`;
  return undefined;
}

/** Who the certificate a TLS peer presented says it is (undefined: not one of ours). */
function peerIdentity(socket: TLSSocket): CertificateIdentity | undefined {
  const certificate = socket.getPeerCertificate();
  return certificate === null || Object.keys(certificate).length === 0 ? undefined : certificateIdentity(certificate);
}

/** The TLS context of a transport whose certificate must name `localId` (a node) or a client. */
function secureContextFor(tls: TransportTls, localId: NodeId, role: PeerRole): SecureContext {
  let identity: CertificateIdentity | undefined;
  try {
    identity = certificateIdentity(new X509Certificate(tls.cert));
  } catch (error) {
    throw new TransportOptionError(`tls.cert is not a PEM certificate: ${(error as Error).message}`);
  }
  if (identity === undefined || identity.role !== role) throw new TransportOptionError(`tls.cert must be a shoal ${role} certificate (shoal cert create-${role})`);
  if (role === 'node' && identity.name !== localId) throw new TransportOptionError(`tls.cert names node ${JSON.stringify(identity.name)}, this node is ${JSON.stringify(localId)}`);
  try {
    return createSecureContext({ ca: tls.ca, cert: tls.cert, key: tls.key, minVersion: 'TLSv1.3' });
  } catch (error) {
    throw new TransportOptionError(`tls files unusable: ${(error as Error).message}`);
  }
}
