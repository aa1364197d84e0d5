/**
 * One client connection of the Redis front end.
 *
 * Bytes go through the parser into a queue of commands; the commands run one after the
 * other, in order (a SET then a GET of the same key in one pipeline sees the SET), and
 * their replies gather in one ReplyWriter that is written when the queue runs dry (or
 * past REPLY_FLUSH_BYTES), so a pipeline read in one chunk is answered in one write.
 *
 * Bounded: past pipelineCommandsMax queued commands or pipelineBytesMax queued bytes, or
 * while the socket's write buffer is full, the connection stops reading (TCP pushes back
 * on the client) and resumes below them.
 *
 * States:
 *   open      reading and answering
 *   draining  reading no more (the client ended its side, QUIT, a protocol error, or the
 *             server is stopping): the commands already read are answered, then closing
 *   closing   the last reply is written and our side ended; input is read and dropped
 *             until the socket closes (at most CLOSE_LINGER_MS after the replies left)
 *   closed
 */
import type { Socket } from 'node:net';
import type { Logger } from '../../ports/logger.ts';
import type { RespCommands } from './commands.ts';
import { RespParser } from './parser.ts';
import { ReplyWriter } from './reply.ts';
import type { RespStats } from './stats.ts';
import type { RespServerLimits, RespSession, SessionUser } from './types.ts';

type ConnectionState = 'open' | 'draining' | 'closing' | 'closed';

/** Replies gathered past this many bytes are written before the pipeline ends. */
const REPLY_FLUSH_BYTES = 64 * 1024;
/** How long a closing connection waits for the client to close before it is destroyed. */
const CLOSE_LINGER_MS = 2_000;
/** Answered commands are dropped from the queue's front once this many accumulate. */
const QUEUE_COMPACT_COMMANDS = 1_024;

export interface ConnectionOptions {
  readonly id: number;
  readonly socket: Socket;
  readonly commands: RespCommands;
  readonly limits: RespServerLimits;
  readonly stats: RespStats;
  readonly logger: Logger;
  readonly onClosed: (connection: RespConnection) => void;
}

export class RespConnection implements RespSession {
  readonly id: number;
  readonly remoteAddress: string | undefined;
  name: string | undefined;
  user: SessionUser | undefined;
  /** Settles once the socket is closed. */
  readonly closed: Promise<void>;
  private state: ConnectionState = 'open';
  private readonly socket: Socket;
  private readonly parser: RespParser;
  private readonly reply = new ReplyWriter();
  private queue: (readonly Buffer[])[] = [];
  private queueHead = 0;
  private queuedBytes = 0;
  private running = false;
  private readsPaused = false;
  private writeBlocked = false;
  private quitAfterReply = false;
  /** The protocol error to answer last, before closing. */
  private finalError: string | undefined;
  private wakeWriter: (() => void) | undefined;
  private lingerTimer: NodeJS.Timeout | undefined;
  private resolveClosed: () => void = () => undefined;

  constructor(private readonly options: ConnectionOptions) {
    this.id = options.id;
    this.socket = options.socket;
    this.remoteAddress = options.socket.remoteAddress;
    this.parser = new RespParser(options.limits);
    this.closed = new Promise((resolve) => (this.resolveClosed = resolve));
    this.socket.on('data', (chunk: Buffer) => this.onData(chunk));
    this.socket.on('end', () => this.drain());
    this.socket.on('drain', () => this.onWritable());
    this.socket.on('error', (error) => options.logger.debug({ err: error, connection: this.id }, 'redis connection error'));
    this.socket.on('close', () => this.onClose());
    if (options.limits.idleMsMax > 0) {
      this.socket.setTimeout(options.limits.idleMsMax);
      this.socket.on('timeout', () => this.onIdle());
    }
  }

  closeAfterReply(): void {
    this.quitAfterReply = true;
  }

  /** The server is stopping: answer what was read, then close. Settles once closed. */
  shutdown(): Promise<void> {
    this.drain();
    return this.closed;
  }

  /** Closes at once, replies unsent (the server's stop grace ran out). */
  destroy(): void {
    this.socket.destroy();
  }

  /** No byte either way for idleMsMax: a connection with nothing left to answer is closed (Redis's `timeout`). */
  private onIdle(): void {
    if (this.state !== 'open' || this.running || this.queueHead < this.queue.length) return;
    this.options.stats.connectionsIdleClosed += 1;
    this.options.logger.debug({ connection: this.id, idleMs: this.options.limits.idleMsMax }, 'closed an idle redis connection');
    this.drain();
  }

  private onData(chunk: Buffer): void {
    if (this.state !== 'open') return;
    const error = this.parser.feed(chunk, this.enqueue);
    if (error !== undefined) {
      this.options.stats.protocolErrors += 1;
      this.finalError = error;
      this.drain();
    }
    this.throttleReads();
    if (!this.running) void this.run();
  }

  private readonly enqueue = (args: Buffer[], bytes: number): void => {
    this.queue.push(args);
    this.queuedBytes += bytes;
  };

  private async run(): Promise<void> {
    this.running = true;
    const { commands } = this.options;
    while (this.queueHead < this.queue.length && !this.quitAfterReply && this.state !== 'closed') {
      if (this.writeBlocked) await this.writable();
      const args = this.takeCommand();
      const pending = commands.execute(args, this.reply, this);
      if (pending !== undefined) await pending;
      if (this.reply.byteLength >= REPLY_FLUSH_BYTES) this.flush();
      this.throttleReads();
    }
    this.queue = [];
    this.queueHead = 0;
    this.queuedBytes = 0;
    this.running = false;
    this.flush();
    if (this.quitAfterReply || this.state === 'draining') this.finish();
    else this.throttleReads();
  }

  private takeCommand(): readonly Buffer[] {
    const args = this.queue[this.queueHead] as readonly Buffer[];
    this.queueHead += 1;
    for (const arg of args) this.queuedBytes -= arg.length;
    if (this.queueHead >= QUEUE_COMPACT_COMMANDS) {
      this.queue = this.queue.slice(this.queueHead);
      this.queueHead = 0;
    }
    return args;
  }

  private flush(): void {
    const parts = this.reply.take();
    if (parts.length === 0 || this.state === 'closing' || this.state === 'closed') return;
    let accepted = true;
    if (parts.length === 1) {
      accepted = this.socket.write(parts[0] as Buffer);
    } else {
      this.socket.cork();
      for (const part of parts) accepted = this.socket.write(part);
      this.socket.uncork();
    }
    if (!accepted) {
      this.writeBlocked = true;
      this.throttleReads();
    }
  }

  /** Settles when the socket's write buffer has drained (or the socket closed). */
  private writable(): Promise<void> {
    return new Promise((resolve) => (this.wakeWriter = resolve));
  }

  private onWritable(): void {
    this.writeBlocked = false;
    this.wakeWriter?.();
    this.wakeWriter = undefined;
    this.throttleReads();
  }

  /** Stops reading past the pipeline bounds or while writes are blocked; resumes below them. */
  private throttleReads(): void {
    if (this.state !== 'open') return;
    const { pipelineCommandsMax, pipelineBytesMax } = this.options.limits;
    const over = this.writeBlocked || this.queue.length - this.queueHead >= pipelineCommandsMax || this.queuedBytes >= pipelineBytesMax;
    if (over === this.readsPaused) return;
    this.readsPaused = over;
    if (over) this.socket.pause();
    else this.socket.resume();
  }

  private drain(): void {
    if (this.state !== 'open') return;
    this.state = 'draining';
    this.socket.pause();
    if (!this.running && this.queueHead >= this.queue.length) this.finish();
  }

  /** Writes the last replies (and the protocol error, if any) and ends our side. */
  private finish(): void {
    if (this.state === 'closing' || this.state === 'closed') return;
    if (this.finalError !== undefined) {
      this.options.stats.countError('ERR');
      this.reply.error(this.finalError);
    }
    this.flush();
    this.state = 'closing';
    // Once the replies are all handed to the kernel, the client has CLOSE_LINGER_MS to close.
    this.socket.end(() => {
      this.lingerTimer = setTimeout(() => this.socket.destroy(), CLOSE_LINGER_MS);
      this.lingerTimer.unref();
    });
    // Read and drop what the client still sends: unread input would make the kernel reset
    // the connection, and the client could lose the last reply.
    this.socket.resume();
  }

  private onClose(): void {
    this.state = 'closed';
    if (this.lingerTimer !== undefined) clearTimeout(this.lingerTimer);
    this.queue = [];
    this.queueHead = 0;
    this.queuedBytes = 0;
    this.onWritable();
    this.options.onClosed(this);
    this.resolveClosed();
  }
}
