/**
 * The internode wire format: length-prefixed msgpack frames.
 *
 *   frame = length (uint32, big-endian, the body's byte count, 1..frameBytesMax) + body
 *   body  = msgpack array [kind, requestId, payload]
 *
 *   kind 0 hello        requestId 0   payload [protocolVersion, clusterName, senderId, receiverId, incarnation, dialSeq]
 *   kind 1 request      requestId ≥ 1 payload: the message
 *   kind 2 reply        requestId ≥ 1 payload: the handler's value
 *   kind 3 error-reply  requestId ≥ 1 payload [code, message]
 *   kind 4 goodbye      requestId 0   payload [code, message], sent just before closing
 *
 * Requests and replies are built as an 11-byte header (length prefix, fixarray(3), kind,
 * uint32 request id) followed by the separately packed payload, so a payload is encoded
 * once, when the caller hands it over, and gets its id only when it is written to a
 * connection. The body is still one ordinary msgpack value.
 */
import { Packr, Unpackr } from 'msgpackr';

import type { PeerRole } from '../ports/transport.ts';

export const PROTOCOL_VERSION = 5;

export const FrameKind = { hello: 0, request: 1, reply: 2, errorReply: 3, goodbye: 4 } as const;
export type FrameKind = (typeof FrameKind)[keyof typeof FrameKind];

/** Length prefix bytes. */
export const PREFIX_BYTES = 4;
/** fixarray(3) + positive fixint kind + uint32 marker and id: the body bytes before the payload. */
const BODY_HEADER_BYTES = 7;
const HEADER_BYTES = PREFIX_BYTES + BODY_HEADER_BYTES;
const REQUEST_ID_MAX = 0xffff_ffff;

/** Why a goodbye frame closes a connection. */
export type GoodbyeCode = 'DUPLICATE' | 'STALE' | 'REFUSED' | 'BAD_FRAME';
/** The error codes an error-reply may carry; anything else reads as REMOTE_ERROR. */
export type ErrorReplyCode = 'REMOTE_ERROR' | 'OVERLOADED';

/** What each side states about itself in its first frame. */
export interface Hello {
  readonly protocolVersion: number;
  readonly clusterName: string;
  readonly senderId: string;
  /** Whom the sender believes it talks to (the dialler's expectation, the acceptor's echo). */
  readonly receiverId: string;
  /** Random per process start, so a restarted peer is told apart from a stale connection. */
  readonly incarnation: number;
  /** The sender's dial counter: this dial's number (dialler) or the latest one it made (acceptor). */
  readonly dialSeq: number;
  /** What the sender is: a node, or a client in client-coordinated mode. With TLS its certificate must say the same. */
  readonly role: PeerRole;
}

export type DecodedFrame =
  | { readonly kind: typeof FrameKind.hello; readonly hello: Hello }
  | { readonly kind: typeof FrameKind.request | typeof FrameKind.reply; readonly id: number; readonly payload: unknown }
  | { readonly kind: typeof FrameKind.errorReply; readonly id: number; readonly code: string; readonly message: string }
  | { readonly kind: typeof FrameKind.goodbye; readonly code: string; readonly message: string };

/** A frame that breaks the format; the connection that sent it is closed. */
export class FrameError extends Error {
  readonly code = 'BAD_MESSAGE';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'FrameError';
  }
}

/** One encoder/decoder pair per transport; plain maps, no msgpackr records. */
export interface FrameCodec {
  readonly packr: Packr;
  readonly unpackr: Unpackr;
}

export function createFrameCodec(): FrameCodec {
  return {
    packr: new Packr({ useRecords: false }),
    // copyBuffers: a decoded Uint8Array must not pin the whole socket read chunk it came in.
    unpackr: new Unpackr({ useRecords: false, copyBuffers: true }),
  };
}

/** Packs a payload; throws when msgpack cannot encode it (the caller maps that to BAD_MESSAGE). */
export function packPayload(codec: FrameCodec, payload: unknown): Buffer {
  return codec.packr.pack(payload);
}

/** The body size of a request or reply frame carrying `payload`. */
export function bodyBytesFor(payload: Uint8Array): number {
  return BODY_HEADER_BYTES + payload.length;
}

/** The 11 bytes before a packed payload in a request or reply frame. */
export function frameHeader(kind: typeof FrameKind.request | typeof FrameKind.reply | typeof FrameKind.errorReply, id: number, payloadBytes: number): Buffer {
  const header = Buffer.allocUnsafe(HEADER_BYTES);
  header.writeUInt32BE(BODY_HEADER_BYTES + payloadBytes, 0);
  header[4] = 0x93; // fixarray of 3
  header[5] = kind; // positive fixint
  header[6] = 0xce; // uint32
  header.writeUInt32BE(id, 7);
  return header;
}

/** The request id after `id`, skipping 0 (reserved for connection-level frames). */
export function nextRequestId(id: number): number {
  return id >= REQUEST_ID_MAX ? 1 : id + 1;
}

/** A whole frame (prefix included) for the rare connection-level kinds. */
function wholeFrame(codec: FrameCodec, body: unknown): Buffer {
  const packed = codec.packr.pack(body);
  const frame = Buffer.allocUnsafe(PREFIX_BYTES + packed.length);
  frame.writeUInt32BE(packed.length, 0);
  packed.copy(frame, PREFIX_BYTES);
  return frame;
}

export function encodeHello(codec: FrameCodec, hello: Hello): Buffer {
  const payload = [hello.protocolVersion, hello.clusterName, hello.senderId, hello.receiverId, hello.incarnation, hello.dialSeq, hello.role];
  return wholeFrame(codec, [FrameKind.hello, 0, payload]);
}

export function encodeGoodbye(codec: FrameCodec, code: GoodbyeCode, message: string): Buffer {
  return wholeFrame(codec, [FrameKind.goodbye, 0, [code, message]]);
}

export function encodeErrorReply(codec: FrameCodec, id: number, code: ErrorReplyCode, message: string): [header: Buffer, payload: Buffer] {
  const payload = codec.packr.pack([code, message]);
  return [frameHeader(FrameKind.errorReply, id, payload.length), payload];
}

/** Decodes and checks the shape of one frame body; throws FrameError. */
export function decodeBody(codec: FrameCodec, body: Uint8Array): DecodedFrame {
  let value: unknown;
  try {
    value = codec.unpackr.unpack(body);
  } catch (error) {
    throw new FrameError(`undecodable frame body: ${(error as Error).message}`.slice(0, 200), { cause: error });
  }
  if (!Array.isArray(value) || value.length !== 3) throw new FrameError('frame body is not [kind, requestId, payload]');
  const [kind, id, payload] = value as [unknown, unknown, unknown];
  if (typeof id !== 'number' || !Number.isInteger(id) || id < 0 || id > REQUEST_ID_MAX) throw new FrameError('frame has a bad request id');
  switch (kind) {
    case FrameKind.hello:
      return { kind, hello: helloFrom(payload) };
    case FrameKind.request:
    case FrameKind.reply:
      if (id === 0) throw new FrameError('request or reply without a request id');
      return { kind, id, payload };
    case FrameKind.errorReply: {
      if (id === 0) throw new FrameError('error-reply without a request id');
      const [code, message] = codeAndMessage(payload);
      return { kind, id, code, message };
    }
    case FrameKind.goodbye: {
      const [code, message] = codeAndMessage(payload);
      return { kind, code, message };
    }
    default:
      throw new FrameError(`unknown frame kind ${JSON.stringify(kind)}`);
  }
}

function helloFrom(payload: unknown): Hello {
  if (!Array.isArray(payload) || payload.length < 1 || typeof payload[0] !== 'number') throw new FrameError('malformed hello');
  // A peer of another version may shape the rest differently: report the version, not the shape.
  if (payload[0] !== PROTOCOL_VERSION) {
    return { protocolVersion: payload[0], clusterName: '', senderId: '', receiverId: '', incarnation: 0, dialSeq: 0, role: 'node' };
  }
  const [protocolVersion, clusterName, senderId, receiverId, incarnation, dialSeq, role] = payload as unknown[];
  if (
    payload.length !== 7 ||
    (role !== 'node' && role !== 'client') ||
    typeof clusterName !== 'string' ||
    typeof senderId !== 'string' ||
    typeof receiverId !== 'string' ||
    !Number.isSafeInteger(incarnation) ||
    !Number.isSafeInteger(dialSeq)
  ) {
    throw new FrameError('malformed hello');
  }
  return { protocolVersion: protocolVersion as number, clusterName, senderId, receiverId, incarnation: incarnation as number, dialSeq: dialSeq as number, role };
}

function codeAndMessage(payload: unknown): [string, string] {
  if (!Array.isArray(payload) || payload.length !== 2 || typeof payload[0] !== 'string' || typeof payload[1] !== 'string') {
    throw new FrameError('malformed [code, message] payload');
  }
  return [payload[0], payload[1]];
}

/**
 * Splits a byte stream into frame bodies. Chunks are kept as they arrive and joined only
 * when a frame spans several, so a large frame costs one copy, not one per chunk.
 */
export class FrameDecoder {
  private readonly chunks: Buffer[] = [];
  private bufferedBytes = 0;
  /** The current frame's body length once its prefix is read; -1 before. */
  private bodyBytes = -1;

  /** The largest frame body accepted: small until the handshake is done (tcpConnection.ts). */
  constructor(public frameBytesMax: number) {}

  push(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.bufferedBytes += chunk.length;
  }

  /** The next complete frame body, or undefined until more bytes arrive. Throws FrameError. */
  next(): Buffer | undefined {
    if (this.bodyBytes < 0) {
      if (this.bufferedBytes < PREFIX_BYTES) return undefined;
      const length = this.take(PREFIX_BYTES).readUInt32BE(0);
      if (length === 0 || length > this.frameBytesMax) {
        throw new FrameError(`frame length ${length} outside 1..${this.frameBytesMax} (frameBytesMax)`);
      }
      this.bodyBytes = length;
    }
    if (this.bufferedBytes < this.bodyBytes) return undefined;
    const body = this.take(this.bodyBytes);
    this.bodyBytes = -1;
    return body;
  }

  /** Bytes received and not yet returned as a frame. */
  get pendingBytes(): number {
    return this.bufferedBytes;
  }

  /** Drops what is buffered; returns how many bytes that was. */
  clear(): number {
    const bytes = this.bufferedBytes;
    this.chunks.length = 0;
    this.bufferedBytes = 0;
    this.bodyBytes = -1;
    return bytes;
  }

  private take(bytes: number): Buffer {
    const first = this.chunks[0] as Buffer;
    this.bufferedBytes -= bytes;
    if (first.length >= bytes) {
      if (first.length === bytes) this.chunks.shift();
      else this.chunks[0] = first.subarray(bytes);
      return first.subarray(0, bytes);
    }
    const joined = Buffer.allocUnsafe(bytes);
    let filled = 0;
    while (filled < bytes) {
      const chunk = this.chunks[0] as Buffer;
      const used = Math.min(chunk.length, bytes - filled);
      chunk.copy(joined, filled, 0, used);
      filled += used;
      if (used === chunk.length) this.chunks.shift();
      else this.chunks[0] = chunk.subarray(used);
    }
    return joined;
  }
}
