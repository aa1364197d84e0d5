/**
 * Test helpers for the Redis front end: a RESP2 reply decoder (independent of the server's
 * writer), a raw socket client that reads replies with a timeout, and a command encoder.
 */
import { connect, type Socket } from 'node:net';
import { connect as connectTls } from 'node:tls';

export type RespValue = string | number | Buffer | null | RespError | RespValue[];

/** An error reply (`-CODE message`). */
export class RespError {
  constructor(readonly text: string) {}
  get code(): string {
    return this.text.split(' ')[0] ?? '';
  }
}

/** Decodes one reply from `bytes` at `offset`: the value and where the next begins, or undefined when incomplete. */
export function decodeReply(bytes: Buffer, offset = 0): { value: RespValue; next: number } | undefined {
  const lineEnd = bytes.indexOf('\r\n', offset);
  if (lineEnd === -1) return undefined;
  const line = bytes.toString('latin1', offset + 1, lineEnd);
  const after = lineEnd + 2;
  switch (String.fromCharCode(bytes[offset] ?? 0)) {
    case '+':
      return { value: line, next: after };
    case '-':
      return { value: new RespError(Buffer.from(line, 'latin1').toString('utf8')), next: after };
    case ':':
      return { value: Number(line), next: after };
    case '$': {
      const length = Number(line);
      if (length < 0) return { value: null, next: after };
      if (bytes.length < after + length + 2) return undefined;
      return { value: Buffer.from(bytes.subarray(after, after + length)), next: after + length + 2 };
    }
    case '*': {
      const count = Number(line);
      if (count < 0) return { value: null, next: after };
      const items: RespValue[] = [];
      let next = after;
      for (let index = 0; index < count; index++) {
        const item = decodeReply(bytes, next);
        if (item === undefined) return undefined;
        items.push(item.value);
        next = item.next;
      }
      return { value: items, next };
    }
    default:
      throw new Error(`not a RESP reply at ${offset}: ${JSON.stringify(bytes.toString('latin1', offset, offset + 20))}`);
  }
}

export function encodeCommand(args: readonly (string | Uint8Array)[]): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)];
  for (const arg of args) {
    const bytes = typeof arg === 'string' ? Buffer.from(arg) : Buffer.from(arg);
    parts.push(Buffer.from(`$${bytes.length}\r\n`), bytes, Buffer.from('\r\n'));
  }
  return Buffer.concat(parts);
}

/** A raw TCP client: send bytes, then wait for replies or for the server to close. */
export class RawClient {
  /** Replies decoded so far, and the bytes of the next one, not complete yet. */
  private readonly values: RespValue[] = [];
  private pending: Buffer = Buffer.alloc(0);
  private ended = false;
  private waiters: (() => void)[] = [];

  private constructor(readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
      this.decodeAvailable();
      this.wake();
    });
    socket.on('close', () => {
      this.ended = true;
      this.wake();
    });
    socket.on('error', () => undefined);
  }

  static open(port: number): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host: '127.0.0.1', port }, () => resolve(new RawClient(socket)));
      socket.once('error', reject);
    });
  }

  /** Over TLS, trusting `ca`. */
  static openTls(port: number, ca: Buffer): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const socket = connectTls({ host: '127.0.0.1', port, ca }, () => resolve(new RawClient(socket)));
      socket.once('error', reject);
    });
  }

  send(bytes: Buffer | string): void {
    this.socket.write(bytes);
  }

  /** Waits for `count` replies (all replies so far, decoded); fails after `timeoutMs`. */
  async replies(count: number, timeoutMs = 10_000): Promise<RespValue[]> {
    await this.until(() => this.values.length >= count || this.ended, timeoutMs, `${count} replies`);
    if (this.values.length < count) throw new Error(`connection closed after ${this.values.length} of ${count} replies`);
    return [...this.values];
  }

  /** Waits until the server closed the connection; the replies it sent before. */
  async closed(timeoutMs = 10_000): Promise<RespValue[]> {
    await this.until(() => this.ended, timeoutMs, 'the server to close the connection');
    return [...this.values];
  }

  get isClosed(): boolean {
    return this.ended;
  }

  close(): void {
    this.socket.destroy();
  }

  private async until(done: () => boolean, timeoutMs: number, what: string): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!done()) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${what}; ${this.values.length} replies, then ${JSON.stringify(this.pending.toString('latin1', 0, 200))}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  private decodeAvailable(): void {
    let offset = 0;
    for (;;) {
      const decoded = decodeReply(this.pending, offset);
      if (decoded === undefined) break;
      this.values.push(decoded.value);
      offset = decoded.next;
    }
    if (offset > 0) this.pending = this.pending.subarray(offset);
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const waiter of waiters) waiter();
  }
}
