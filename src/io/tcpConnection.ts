/**
 * One internode TCP connection: framing, the handshake gate, the write queue, the table of
 * pending request ids, and the peer's requests to this node's handler.
 *
 * Which connection a peer uses, and what a hello means, is the transport's decision
 * (ConnectionHost); this class only enforces the order of frames: nothing but a hello (or,
 * for the dialler, a goodbye) before the handshake completes, and no hello after it.
 *
 * Writes are batched: frames queue up and are written as a single buffer at the end of the
 * event loop's turn (setImmediate, the default: the frames of every request and reply this
 * node made while handling one round of I/O, from all its clients and peers, go out
 * together, about 5 frames a write in a 3-node cluster under load against 1.5 when
 * flushed per tick, for 5-7% less CPU per request: `npm run bench:cost`), or once the
 * current tick's code and promise continuations have run (process.nextTick), or one write
 * per frame; and at once when WRITE_BATCH_BYTES_MAX is queued. While the socket's own buffer is above its
 * high-water mark (writableNeedDrain), frames stay queued until 'drain'; the queue is
 * bounded by the transport (outboundQueueFramesMax).
 */
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { Clock, TimerHandle } from '../ports/clock.ts';
import type { Logger } from '../ports/logger.ts';
import type { NodeId, PeerRole, RequestHandler, TransportErrorCode } from '../ports/transport.ts';
import { TransportError } from '../ports/transport.ts';
import {
  FrameDecoder,
  FrameError,
  FrameKind,
  bodyBytesFor,
  decodeBody,
  encodeErrorReply,
  encodeGoodbye,
  encodeHello,
  frameHeader,
  nextRequestId,
  type DecodedFrame,
  type ErrorReplyCode,
  type FrameCodec,
  type GoodbyeCode,
  type Hello,
} from './frameCodec.ts';
import type { OutboundRequest, RequestHome } from './tcpRequest.ts';

/** Queued bytes past which a batch is written at once instead of at the end of the turn. */
const WRITE_BATCH_BYTES_MAX = 256 * 1024;
/** The largest frame read before the handshake completes: a hello is a few hundred bytes. */
export const HELLO_FRAME_BYTES_MAX = 4096;
/** Longest error text an error-reply carries. */
const ERROR_MESSAGE_CHARS_MAX = 1000;

export type ConnectionRole = 'dialled' | 'accepted';
export type ConnectionState = 'connecting' | 'handshaking' | 'open' | 'closed';
/** When queued frames are written: end of tick, next loop turn, or each at once. */
export type WriteBatching = 'tick' | 'turn' | 'off';

export interface ConnectionLimits {
  readonly frameBytesMax: number;
  readonly outboundQueueFramesMax: number;
  readonly inflightRequestsMax: number;
  readonly connectTimeoutMs: number;
  readonly handshakeTimeoutMs: number;
  /** Time for a frame to arrive whole once its first bytes did (the transport enforces it). */
  readonly frameReceiveMsMax: number;
  readonly writeBatching: WriteBatching;
}

/** What a connection needs from its transport. */
export interface ConnectionHost {
  readonly codec: FrameCodec;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly limits: ConnectionLimits;
  readonly handler: RequestHandler | undefined;
  /** This side's hello for `connection`. */
  helloFor(connection: Connection): Hello;
  /** The peer's hello arrived; the host opens, or closes, the connection. */
  onHello(connection: Connection, hello: Hello): void;
  /** A dialled connection got a goodbye instead of a hello. */
  onRefused(connection: Connection, code: string, message: string): void;
  /** The connection closed (once); its pending requests are already rejected. */
  onClosed(connection: Connection, reason: string): void;
  /** The socket is gone for good. */
  onSocketGone(connection: Connection): void;
  /** The bytes of unfinished frames this connection holds grew (or shrank) by `deltaBytes`. */
  noteUnframedBytes(deltaBytes: number): void;
}

export class Connection implements RequestHome {
  state: ConnectionState;
  /** The peer: expected (dialled) or as its hello claims once accepted. */
  peerId: NodeId | undefined;
  /** From the peer's hello: its process incarnation and its dial counter then. */
  peerIncarnation = 0;
  peerDialSeq = 0;
  /**
   * Not a peer link's connection, and never becomes one: a one-off request to an address
   * (requestAt, dialled with the wildcard receiver) or a peer's such dial (accepted).
   */
  anonymous = false;
  /** What the peer proved to be (with TLS, its certificate); its requests reach the handler so. */
  peerRole: PeerRole = 'node';
  /** Monotonic time the unfinished frame began arriving; -1 when none is. */
  frameStartMs = -1;
  /** The unfinished-frame bytes last reported to the host. */
  private unframedNoted = 0;
  handlersRunning = 0;
  private readonly decoder: FrameDecoder;
  private readonly pending = new Map<number, OutboundRequest>();
  private lastRequestId = 0;
  /** Monotonic ms since which requests have waited with nothing received (-1: none waits). */
  private awaitingSinceMs = -1;
  private queue: Buffer[] = [];
  private queuedFramesCount = 0;
  private queuedBytes = 0;
  private flushScheduled = false;
  private gone = false;
  /** Connect, handshake, or (after close) linger timer; one at a time. */
  private timer: TimerHandle | undefined;

  constructor(
    private readonly host: ConnectionHost,
    readonly socket: Socket,
    readonly role: ConnectionRole,
    peerId: NodeId | undefined,
    /** This side's dial counter for a dialled connection (0 for accepted ones). */
    readonly dialSeq: number,
  ) {
    this.peerId = peerId;
    this.decoder = new FrameDecoder(HELLO_FRAME_BYTES_MAX);
    this.state = role === 'dialled' ? 'connecting' : 'handshaking';
    socket.on('data', this.onData);
    socket.on('drain', this.flush);
    socket.on('error', this.onSocketError);
    socket.on('end', this.onSocketEnd);
    socket.on('close', this.onSocketClose);
    if (role === 'dialled') {
      // TLS: the hello goes out once the peer's certificate has been verified.
      socket.once((socket as TLSSocket).encrypted === true ? 'secureConnect' : 'connect', this.onConnect);
      this.armTimer(host.limits.connectTimeoutMs, 'connect timed out');
    } else {
      this.armTimer(host.limits.handshakeTimeoutMs, 'handshake timed out');
    }
  }

  get queuedFrames(): number {
    return this.queuedFramesCount;
  }

  get pendingRequests(): number {
    return this.pending.size;
  }

  /** Bytes received that do not make a whole frame yet. */
  get unframedBytes(): number {
    return this.decoder.pendingBytes;
  }

  /** `host:port` of the other end, for logs. */
  get remote(): string {
    return `${this.socket.remoteAddress ?? '?'}:${this.socket.remotePort ?? '?'}`;
  }

  sendHello(): void {
    this.socket.write(encodeHello(this.host.codec, this.host.helloFor(this)));
  }

  /** The handshake passed: requests may flow. */
  open(peerId: NodeId, hello: Hello): void {
    this.clearTimer();
    this.peerId = peerId;
    this.peerIncarnation = hello.incarnation;
    this.peerDialSeq = hello.dialSeq;
    this.state = 'open';
    this.decoder.frameBytesMax = this.host.limits.frameBytesMax;
  }

  sendRequest(request: OutboundRequest): void {
    if (this.awaitingSinceMs < 0) this.awaitingSinceMs = this.host.clock.monotonicMs();
    this.lastRequestId = nextRequestId(this.lastRequestId);
    request.id = this.lastRequestId;
    request.home = this;
    this.pending.set(request.id, request);
    this.enqueue(frameHeader(FrameKind.request, request.id, request.payload.length), request.payload);
  }

  forget(request: OutboundRequest): void {
    if (this.pending.get(request.id) === request) this.pending.delete(request.id);
  }

  /**
   * Closes the connection: rejects its pending requests with `code`, tells the host, and
   * ends the socket, after a goodbye frame telling the peer why when one is given.
   */
  close(code: TransportErrorCode, reason: string, goodbye?: GoodbyeCode): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.clearTimer();
    this.decoder.clear();
    this.host.noteUnframedBytes(-this.unframedNoted);
    this.unframedNoted = 0;
    this.frameStartMs = -1;
    this.queue = [];
    this.queuedFramesCount = 0;
    this.queuedBytes = 0;
    const pending = [...this.pending.values()];
    this.pending.clear();
    // Sent (or about to be): the peer may have handled them.
    for (const request of pending) request.reject(new TransportError(code, `connection to ${this.peerId ?? this.remote} closed: ${reason}`, { mayHaveArrived: true }));
    this.endSocket(goodbye, reason);
    this.host.onClosed(this, reason);
  }

  /** Drops the socket now (transport shutdown). */
  destroy(): void {
    this.clearTimer();
    this.socket.destroy();
  }

  /** Resolves once the socket has closed. */
  whenGone(): Promise<void> {
    if (this.gone) return Promise.resolve();
    return new Promise((resolve) => this.socket.once('close', () => resolve()));
  }

  private endSocket(goodbye: GoodbyeCode | undefined, reason: string): void {
    if (goodbye === undefined || this.socket.destroyed || !this.socket.writable) {
      this.socket.destroy();
      return;
    }
    this.socket.end(encodeGoodbye(this.host.codec, goodbye, reason.slice(0, ERROR_MESSAGE_CHARS_MAX)));
    // A peer that never reads or never closes must not keep the socket forever.
    this.timer = this.host.clock.setTimer(this.host.limits.handshakeTimeoutMs, () => this.destroy());
  }

  private readonly onConnect = (): void => {
    if (this.state !== 'connecting') return;
    this.clearTimer();
    this.state = 'handshaking';
    this.sendHello();
    this.armTimer(this.host.limits.handshakeTimeoutMs, 'handshake timed out');
  };

  /** How long requests sent here have waited with nothing at all received, ms (0 when none waits). */
  silentMs(nowMs: number): number {
    return this.awaitingSinceMs < 0 ? 0 : nowMs - this.awaitingSinceMs;
  }

  private readonly onData = (chunk: Buffer): void => {
    if (this.state === 'closed') return;
    // Anything received shows the path works: requests still waiting wait from now on.
    if (this.awaitingSinceMs >= 0) this.awaitingSinceMs = this.pending.size > 0 ? this.host.clock.monotonicMs() : -1;
    let frames = 0;
    try {
      this.decoder.push(chunk);
      for (let body = this.decoder.next(); body !== undefined; body = this.isClosed() ? undefined : this.decoder.next()) {
        frames++;
        this.onFrame(decodeBody(this.host.codec, body));
      }
    } catch (error) {
      this.onBadInput(error);
    }
    if (!this.isClosed()) this.noteUnframed(frames);
  };

  /** Keeps the transport's count of unfinished-frame bytes, and when the current frame began. */
  private noteUnframed(frames: number): void {
    const bytes = this.decoder.pendingBytes;
    if (bytes === 0) this.frameStartMs = -1;
    else if (frames > 0 || this.frameStartMs < 0) this.frameStartMs = this.host.clock.monotonicMs();
    if (bytes === this.unframedNoted) return;
    const deltaBytes = bytes - this.unframedNoted;
    this.unframedNoted = bytes;
    this.host.noteUnframedBytes(deltaBytes);
  }

  /** A method, not a property test, so a check after a callback is not narrowed away. */
  private isClosed(): boolean {
    return this.state === 'closed';
  }

  private onBadInput(error: unknown): void {
    const isFrameError = error instanceof FrameError;
    const reason = isFrameError ? error.message : `internal error while reading: ${(error as Error)?.message ?? String(error)}`;
    this.host.logger.warn({ peer: this.peerId, remote: this.remote, reason }, 'closing internode connection: bad input');
    this.close('UNREACHABLE', reason, 'BAD_FRAME');
  }

  private onFrame(frame: DecodedFrame): void {
    if (this.state === 'open') return this.onOpenFrame(frame);
    if (frame.kind === FrameKind.hello) return this.host.onHello(this, frame.hello);
    if (frame.kind === FrameKind.goodbye && this.role === 'dialled') {
      this.host.onRefused(this, frame.code, frame.message);
      return this.close('UNREACHABLE', `refused by ${this.peerId ?? this.remote}: ${frame.message}`);
    }
    throw new FrameError(`frame of kind ${frame.kind} before the handshake`);
  }

  private onOpenFrame(frame: DecodedFrame): void {
    switch (frame.kind) {
      case FrameKind.request:
        return this.onRequest(frame.id, frame.payload);
      case FrameKind.reply:
        return this.settle(frame.id)?.resolve(frame.payload);
      case FrameKind.errorReply:
        return this.settle(frame.id)?.reject(remoteError(this.peerId, frame.code, frame.message));
      case FrameKind.goodbye:
        this.host.logger.info({ peer: this.peerId, code: frame.code, reason: frame.message }, 'peer closed the internode connection');
        return this.close('UNREACHABLE', `peer closed the connection (${frame.code}): ${frame.message}`);
      case FrameKind.hello:
        throw new FrameError('second hello on an open connection');
    }
  }

  private settle(id: number): OutboundRequest | undefined {
    const request = this.pending.get(id);
    if (request === undefined) {
      this.host.logger.debug({ peer: this.peerId, requestId: id }, 'reply for an unknown or expired request dropped');
      return undefined;
    }
    this.pending.delete(id);
    return request;
  }

  private onRequest(id: number, payload: unknown): void {
    const handler = this.host.handler;
    if (handler === undefined) return this.sendErrorReply(id, 'REMOTE_ERROR', 'the peer serves no requests yet');
    if (this.handlersRunning >= this.host.limits.inflightRequestsMax) {
      return this.sendErrorReply(id, 'OVERLOADED', `more than ${this.host.limits.inflightRequestsMax} requests in flight (inflightRequestsMax)`);
    }
    this.handlersRunning++;
    let result: Promise<unknown>;
    try {
      result = Promise.resolve(handler(this.peerId as NodeId, payload, this.peerRole));
    } catch (error) {
      result = Promise.reject(error);
    }
    result.then(
      (value) => this.onHandlerDone(id, value),
      (error: unknown) => this.onHandlerFailed(id, error),
    );
  }

  private onHandlerDone(id: number, value: unknown): void {
    this.handlersRunning--;
    if (this.state !== 'open') return;
    let payload: Buffer;
    try {
      payload = this.host.codec.packr.pack(value);
    } catch (error) {
      return this.sendErrorReply(id, 'REMOTE_ERROR', `reply not encodable: ${errorText(error)}`);
    }
    if (bodyBytesFor(payload) > this.host.limits.frameBytesMax) {
      return this.sendErrorReply(id, 'REMOTE_ERROR', `reply of ${payload.length} bytes exceeds frameBytesMax ${this.host.limits.frameBytesMax}`);
    }
    if (this.replyQueueFull(id)) return;
    this.enqueue(frameHeader(FrameKind.reply, id, payload.length), payload);
  }

  private onHandlerFailed(id: number, error: unknown): void {
    this.handlersRunning--;
    if (this.state === 'open') this.sendErrorReply(id, 'REMOTE_ERROR', errorText(error));
  }

  private sendErrorReply(id: number, code: ErrorReplyCode, message: string): void {
    if (this.replyQueueFull(id)) return;
    const [header, payload] = encodeErrorReply(this.host.codec, id, code, message.slice(0, ERROR_MESSAGE_CHARS_MAX));
    this.enqueue(header, payload);
  }

  /**
   * Replies may use inflightRequestsMax slots beyond the requests' share of the queue, so
   * our own requests cannot starve them; past that the peer is not reading and the reply is
   * dropped (its caller times out) rather than held in memory.
   */
  private replyQueueFull(id: number): boolean {
    const { outboundQueueFramesMax, inflightRequestsMax } = this.host.limits;
    if (this.queuedFramesCount < outboundQueueFramesMax + inflightRequestsMax) return false;
    this.host.logger.warn({ peer: this.peerId, requestId: id, queuedFrames: this.queuedFramesCount }, 'outbound queue full: reply dropped');
    return true;
  }

  private enqueue(header: Buffer, payload: Buffer): void {
    this.queue.push(header, payload);
    this.queuedFramesCount++;
    this.queuedBytes += header.length + payload.length;
    const batching = this.host.limits.writeBatching;
    if (batching === 'off' || this.queuedBytes >= WRITE_BATCH_BYTES_MAX) {
      this.flush();
    } else if (!this.flushScheduled) {
      this.flushScheduled = true;
      if (batching === 'tick') process.nextTick(this.onFlushTurn);
      else setImmediate(this.onFlushTurn);
    }
  }

  private readonly onFlushTurn = (): void => {
    this.flushScheduled = false;
    this.flush();
  };

  /** Writes the queue as one buffer unless the socket asks to wait for 'drain'. */
  private readonly flush = (): void => {
    if (this.state !== 'open' || this.queuedFramesCount === 0 || this.socket.writableNeedDrain) return;
    const data = this.queue.length === 1 ? (this.queue[0] as Buffer) : Buffer.concat(this.queue, this.queuedBytes);
    this.queue = [];
    this.queuedFramesCount = 0;
    this.queuedBytes = 0;
    this.socket.write(data);
  };

  private readonly onSocketError = (error: Error): void => {
    this.close('UNREACHABLE', error.message);
  };

  private readonly onSocketEnd = (): void => {
    this.close('UNREACHABLE', 'peer closed the connection');
  };

  private readonly onSocketClose = (): void => {
    this.gone = true;
    this.close('UNREACHABLE', 'connection closed');
    this.clearTimer();
    this.host.onSocketGone(this);
  };

  private armTimer(delayMs: number, reason: string): void {
    this.clearTimer();
    this.timer = this.host.clock.setTimer(delayMs, () => {
      this.timer = undefined;
      if (this.role === 'accepted') this.host.logger.warn({ remote: this.remote, reason }, 'closing internode connection');
      this.close('UNREACHABLE', reason);
    });
  }

  private clearTimer(): void {
    if (this.timer !== undefined) this.host.clock.clearTimer(this.timer);
    this.timer = undefined;
  }
}

function remoteError(peerId: NodeId | undefined, code: string, message: string): TransportError {
  if (code === 'OVERLOADED') return new TransportError('OVERLOADED', `${peerId} is overloaded: ${message}`);
  return new TransportError('REMOTE_ERROR', message);
}

/** The text of a handler's failure: its message, never its stack. */
function errorText(error: unknown): string {
  if (error instanceof Error) return error.message;
  return typeof error === 'string' ? error : 'handler failed';
}
