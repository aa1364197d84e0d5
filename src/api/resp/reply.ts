/**
 * RESP2 replies, gathered for one socket write. Small pieces (headers, short values,
 * integers) are copied into one scratch buffer; large values are kept by reference, so a
 * batch of replies is a few buffers whatever the number of commands in it.
 */

/** Scratch space for small pieces; a batch larger than this is several parts. */
const SCRATCH_BYTES = 16 * 1024;
/** Values longer than this are written by reference rather than copied. */
const COPY_BYTES_MAX = 1024;
/** The longest decimal integer with its sign and `\r\n`. */
const INTEGER_BYTES_MAX = 24;

const CR = 0x0d;
const LF = 0x0a;
const MINUS = 0x2d;
const DIGIT_0 = 0x30;
const CRLF = Buffer.from('\r\n');
const OK = Buffer.from('+OK\r\n');
const NIL = Buffer.from('$-1\r\n');
const NIL_ARRAY = Buffer.from('*-1\r\n');
const EMPTY_ARRAY = Buffer.from('*0\r\n');

type ReplyPrefix = 0x2b | 0x2d | 0x3a | 0x24 | 0x2a;
const SIMPLE: ReplyPrefix = 0x2b; // +
const ERROR: ReplyPrefix = 0x2d; // -
const INTEGER: ReplyPrefix = 0x3a; // :
const BULK: ReplyPrefix = 0x24; // $
const ARRAY: ReplyPrefix = 0x2a; // *

export class ReplyWriter {
  private scratch = Buffer.allocUnsafe(SCRATCH_BYTES);
  private used = 0;
  private parts: Buffer[] = [];
  private partsBytes = 0;

  /** Bytes written since the last take(). */
  get byteLength(): number {
    return this.partsBytes + this.used;
  }

  ok(): void {
    this.raw(OK);
  }

  /** `+text`; CR and LF in `text` become spaces (a simple string is one line). */
  simple(text: string): void {
    this.line(SIMPLE, text);
  }

  /** `-text`: the first word is the error code (ERR, TRYAGAIN…); CR and LF become spaces. */
  error(text: string): void {
    this.line(ERROR, text);
  }

  integer(value: number): void {
    this.ensure(INTEGER_BYTES_MAX);
    this.scratch[this.used++] = INTEGER;
    this.decimal(value);
  }

  bulk(value: Uint8Array): void {
    this.ensure(INTEGER_BYTES_MAX);
    this.scratch[this.used++] = BULK;
    this.decimal(value.length);
    this.raw(value);
    this.raw(CRLF);
  }

  bulkString(text: string): void {
    this.bulk(Buffer.from(text, 'utf8'));
  }

  /** The null bulk string (`$-1`): Redis's nil. */
  nil(): void {
    this.raw(NIL);
  }

  nilArray(): void {
    this.raw(NIL_ARRAY);
  }

  emptyArray(): void {
    this.raw(EMPTY_ARRAY);
  }

  /** `*count`; the caller writes the `count` elements next. */
  arrayHeader(count: number): void {
    this.ensure(INTEGER_BYTES_MAX);
    this.scratch[this.used++] = ARRAY;
    this.decimal(count);
  }

  /** Everything written since the last take(), as buffers to write in order (empty: nothing). */
  take(): Buffer[] {
    this.seal();
    const parts = this.parts;
    this.parts = [];
    this.partsBytes = 0;
    return parts;
  }

  private line(prefix: ReplyPrefix, text: string): void {
    const clean = text.includes('\r') || text.includes('\n') ? text.replace(/[\r\n]/g, ' ') : text;
    const bytes = Buffer.byteLength(clean, 'utf8');
    if (bytes + 3 > COPY_BYTES_MAX) {
      this.raw(Buffer.from(`${String.fromCharCode(prefix)}${clean}\r\n`, 'utf8'));
      return;
    }
    this.ensure(bytes + 3);
    this.scratch[this.used++] = prefix;
    this.used += this.scratch.write(clean, this.used, 'utf8');
    this.scratch[this.used++] = CR;
    this.scratch[this.used++] = LF;
  }

  private raw(bytes: Uint8Array): void {
    if (bytes.length > COPY_BYTES_MAX) {
      this.seal();
      this.parts.push(Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
      this.partsBytes += bytes.length;
      return;
    }
    this.ensure(bytes.length);
    this.scratch.set(bytes, this.used);
    this.used += bytes.length;
  }

  /** Writes a decimal integer and `\r\n` into the scratch (room checked by the caller). */
  private decimal(value: number): void {
    let rest = Math.trunc(value);
    if (rest < 0) {
      this.scratch[this.used++] = MINUS;
      rest = -rest;
    }
    let digits = 1;
    for (let scale = 10; scale <= rest; scale *= 10) digits += 1;
    for (let index = this.used + digits - 1; index >= this.used; index--) {
      this.scratch[index] = DIGIT_0 + (rest % 10);
      rest = Math.floor(rest / 10);
    }
    this.used += digits;
    this.scratch[this.used++] = CR;
    this.scratch[this.used++] = LF;
  }

  private ensure(bytes: number): void {
    if (this.used + bytes > this.scratch.length) this.seal();
  }

  /** Moves the scratch's bytes into a part of their own (the scratch is reused). */
  private seal(): void {
    if (this.used === 0) return;
    const part = Buffer.allocUnsafe(this.used);
    this.scratch.copy(part, 0, 0, this.used);
    this.parts.push(part);
    this.partsBytes += this.used;
    this.used = 0;
  }
}
