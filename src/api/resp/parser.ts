/**
 * A streaming parser of RESP2 requests: arrays of bulk strings (`*2\r\n$3\r\nGET\r\n$1\r\nk\r\n`)
 * and inline commands (`GET k\r\n`, split like Redis's sdssplitargs). Pure: it sees bytes
 * only, as they arrive, in chunks split anywhere.
 *
 * Bounded: a bulk string, the elements and the total bytes of one command, and an inline
 * line each have a limit; past one the parser fails for good with a Redis-style protocol
 * error (the connection answers it and closes, as Redis does). It holds at most one
 * command's bytes plus one unfinished line.
 *
 * Arguments are views into the chunks fed (no copy) unless a bulk string spans chunks; a
 * caller that keeps one past the command must copy it.
 */

export interface RespLimits {
  /** The longest bulk string (an argument), bytes. */
  readonly bulkBytesMax: number;
  /** The most arguments in one command. */
  readonly arrayElementsMax: number;
  /** The longest inline command line, bytes. */
  readonly inlineBytesMax: number;
  /** The most argument bytes in one command, summed. */
  readonly commandBytesMax: number;
}

/** Receives each complete command: its arguments and their total length in bytes. */
export type CommandSink = (args: Buffer[], bytes: number) => void;

type ParserState =
  | 'command-start' // between commands: the next byte says array (`*`) or inline
  | 'array-length' // reading `*<count>\r\n`
  | 'bulk-length' // reading `$<length>\r\n`
  | 'bulk-body' // reading <length> bytes and `\r\n`
  | 'inline' // reading an inline command up to `\n`
  | 'failed';

const CR = 0x0d;
const LF = 0x0a;
const STAR = 0x2a;
const DOLLAR = 0x24;
const MINUS = 0x2d;
const DIGIT_0 = 0x30;
const DIGIT_9 = 0x39;

/** Longest `*<count>` or `$<length>` line, `\r` included (Redis allows 32 characters too). */
const HEADER_BYTES_MAX = 32;
/** Digits past this could lose precision; any such length is over every limit anyway. */
const LENGTH_DIGITS_MAX = 15;
const NEED_MORE = -1;
const TOO_LONG = -2;

export const PROTOCOL_ERRORS = {
  arrayLength: 'ERR Protocol error: invalid multibulk length',
  arrayHeaderTooLong: 'ERR Protocol error: too big mbulk count string',
  bulkLength: 'ERR Protocol error: invalid bulk length',
  bulkHeaderTooLong: 'ERR Protocol error: too big bulk count string',
  bulkUnterminated: 'ERR Protocol error: bulk string not terminated by CRLF',
  headerUnterminated: 'ERR Protocol error: length not terminated by CRLF',
  inlineTooLong: 'ERR Protocol error: too big inline request',
  unbalancedQuotes: 'ERR Protocol error: unbalanced quotes in request',
  commandTooLarge: 'ERR Protocol error: command too large',
} as const;

export class RespParser {
  private state: ParserState = 'command-start';
  private failure: string | undefined;
  /** The unfinished line carried over from earlier chunks (copies, at most a line's limit). */
  private carry: Buffer[] = [];
  private carryBytes = 0;
  /** The last complete line readLine found, without its `\n`: bytes start..end of lineBytes (no copy, no view). */
  private lineBytes: Buffer = Buffer.alloc(0);
  private lineStart = 0;
  private lineEnd = 0;
  /** The command being read. */
  private args: Buffer[] = [];
  private argsLeft = 0;
  private commandBytes = 0;
  /** The bulk string being read: its length and the parts received (with the `\r\n`). */
  private bulkLength = 0;
  private bulkParts: Buffer[] = [];
  private bulkPartsBytes = 0;

  constructor(private readonly limits: RespLimits) {}

  /** The protocol error the parser failed with, if it did (it then ignores further input). */
  get error(): string | undefined {
    return this.failure;
  }

  /** Bytes held between calls: the unfinished line, the unfinished bulk, the command so far. */
  get heldBytes(): number {
    return this.carryBytes + this.bulkPartsBytes + this.commandBytes;
  }

  /**
   * Parses `chunk`, handing each complete command to `sink` in order; returns the protocol
   * error when the input broke the protocol (commands before it were delivered).
   */
  feed(chunk: Buffer, sink: CommandSink): string | undefined {
    let offset = 0;
    while (offset < chunk.length && this.state !== 'failed') {
      switch (this.state) {
        case 'command-start':
          if (chunk[offset] === STAR) {
            this.state = 'array-length';
            offset += 1;
          } else {
            this.state = 'inline';
          }
          break;
        case 'array-length':
          offset = this.readArrayLength(chunk, offset);
          break;
        case 'bulk-length':
          offset = this.readBulkLength(chunk, offset);
          break;
        case 'bulk-body':
          offset = this.readBulkBody(chunk, offset, sink);
          break;
        case 'inline':
          offset = this.readInline(chunk, offset, sink);
          break;
      }
    }
    return this.failure;
  }

  private readArrayLength(chunk: Buffer, offset: number): number {
    const next = this.readLine(chunk, offset, HEADER_BYTES_MAX);
    if (next === NEED_MORE) return chunk.length;
    if (next === TOO_LONG) return this.fail(PROTOCOL_ERRORS.arrayHeaderTooLong);
    const count = headerNumber(this.lineBytes, this.lineStart, this.lineEnd);
    if (count === undefined) return this.fail(PROTOCOL_ERRORS.headerUnterminated);
    if (Number.isNaN(count) || count > this.limits.arrayElementsMax) return this.fail(PROTOCOL_ERRORS.arrayLength);
    if (count <= 0) {
      // `*0` and `*-1` are empty commands: nothing to run (as Redis).
      this.state = 'command-start';
      return next;
    }
    this.argsLeft = count;
    this.state = 'bulk-length';
    return next;
  }

  private readBulkLength(chunk: Buffer, offset: number): number {
    if (this.carryBytes === 0 && chunk[offset] !== DOLLAR) {
      return this.fail(`ERR Protocol error: expected '$', got '${printable(chunk[offset] ?? 0)}'`);
    }
    const next = this.readLine(chunk, offset, HEADER_BYTES_MAX);
    if (next === NEED_MORE) return chunk.length;
    if (next === TOO_LONG) return this.fail(PROTOCOL_ERRORS.bulkHeaderTooLong);
    const length = headerNumber(this.lineBytes, this.lineStart + 1, this.lineEnd);
    if (length === undefined) return this.fail(PROTOCOL_ERRORS.headerUnterminated);
    if (Number.isNaN(length) || length < 0 || length > this.limits.bulkBytesMax) return this.fail(PROTOCOL_ERRORS.bulkLength);
    if (this.commandBytes + length > this.limits.commandBytesMax) return this.fail(PROTOCOL_ERRORS.commandTooLarge);
    this.bulkLength = length;
    this.state = 'bulk-body';
    return next;
  }

  private readBulkBody(chunk: Buffer, offset: number, sink: CommandSink): number {
    const needed = this.bulkLength + 2 - this.bulkPartsBytes;
    const available = chunk.length - offset;
    if (this.bulkPartsBytes === 0 && available >= needed) {
      // The whole bulk string is in this chunk: a view, no copy.
      const end = offset + this.bulkLength;
      if (chunk[end] !== CR || chunk[end + 1] !== LF) return this.fail(PROTOCOL_ERRORS.bulkUnterminated);
      this.addArg(chunk.subarray(offset, end), sink);
      return end + 2;
    }
    const taken = Math.min(needed, available);
    this.bulkParts.push(chunk.subarray(offset, offset + taken));
    this.bulkPartsBytes += taken;
    if (taken < needed) return chunk.length;
    const whole = Buffer.concat(this.bulkParts, this.bulkPartsBytes);
    this.bulkParts = [];
    this.bulkPartsBytes = 0;
    if (whole[this.bulkLength] !== CR || whole[this.bulkLength + 1] !== LF) return this.fail(PROTOCOL_ERRORS.bulkUnterminated);
    this.addArg(whole.subarray(0, this.bulkLength), sink);
    return offset + taken;
  }

  private addArg(arg: Buffer, sink: CommandSink): void {
    this.args.push(arg);
    this.commandBytes += arg.length;
    this.argsLeft -= 1;
    if (this.argsLeft > 0) {
      this.state = 'bulk-length';
      return;
    }
    const args = this.args;
    const bytes = this.commandBytes;
    this.args = [];
    this.commandBytes = 0;
    this.state = 'command-start';
    sink(args, bytes);
  }

  private readInline(chunk: Buffer, offset: number, sink: CommandSink): number {
    const next = this.readLine(chunk, offset, this.limits.inlineBytesMax);
    if (next === NEED_MORE) return chunk.length;
    if (next === TOO_LONG) return this.fail(PROTOCOL_ERRORS.inlineTooLong);
    this.state = 'command-start';
    const args = splitInline(this.lineBytes.subarray(this.lineStart, this.lineEnd));
    if (args === undefined) return this.fail(PROTOCOL_ERRORS.unbalancedQuotes);
    if (args.length === 0) return next;
    if (args.length > this.limits.arrayElementsMax) return this.fail(PROTOCOL_ERRORS.arrayLength);
    let bytes = 0;
    for (const arg of args) bytes += arg.length;
    sink(args, bytes);
    return next;
  }

  /**
   * Finds the end of the line that starts at `offset` (after the part carried over): sets
   * the line's bytes (without the `\n`) and returns the offset after the `\n`; NEED_MORE when
   * the chunk ends first (the part is carried); TOO_LONG past `lineBytesMax`.
   */
  private readLine(chunk: Buffer, offset: number, lineBytesMax: number): number {
    const newline = findNewline(chunk, offset, lineBytesMax);
    if (newline === -1) {
      const rest = chunk.length - offset;
      if (this.carryBytes + rest > lineBytesMax) return TOO_LONG;
      this.carry.push(Buffer.from(chunk.subarray(offset)));
      this.carryBytes += rest;
      return NEED_MORE;
    }
    if (this.carryBytes + newline - offset > lineBytesMax) return TOO_LONG;
    if (this.carryBytes === 0) {
      this.setLine(chunk, offset, newline);
    } else {
      this.carry.push(chunk.subarray(offset, newline));
      const joined = Buffer.concat(this.carry);
      this.setLine(joined, 0, joined.length);
      this.carry = [];
      this.carryBytes = 0;
    }
    return newline + 1;
  }

  private setLine(bytes: Buffer, start: number, end: number): void {
    this.lineBytes = bytes;
    this.lineStart = start;
    this.lineEnd = end;
  }

  /** Fails for good; the offset it returns ends feed's loop. */
  private fail(message: string): number {
    this.state = 'failed';
    this.failure = message;
    this.carry = [];
    this.carryBytes = 0;
    this.bulkParts = [];
    this.bulkPartsBytes = 0;
    this.args = [];
    this.commandBytes = 0;
    return Number.MAX_SAFE_INTEGER;
  }
}

/**
 * The index of the first `\n` from `offset`, or -1. A header line is short: a loop over
 * at most its limit beats a native indexOf call; an inline line may be long.
 */
function findNewline(chunk: Buffer, offset: number, lineBytesMax: number): number {
  if (lineBytesMax > HEADER_BYTES_MAX) return chunk.indexOf(LF, offset);
  const end = Math.min(chunk.length, offset + lineBytesMax + 1);
  for (let index = offset; index < end; index++) if (chunk[index] === LF) return index;
  return -1;
}

/**
 * The integer of a header line (`*3\r` or `$5\r` in bytes[start..lineEnd), its digits
 * from `start`, `\r` last): NaN when it is not an integer, undefined without the `\r`.
 */
function headerNumber(line: Buffer, start: number, lineEnd: number): number | undefined {
  const end = lineEnd - 1;
  if (end < start || line[end] !== CR) return undefined;
  let index = start;
  const negative = line[index] === MINUS;
  if (negative) index += 1;
  if (index === end || end - index > LENGTH_DIGITS_MAX) return Number.NaN;
  let value = 0;
  for (; index < end; index++) {
    const byte = line[index] as number;
    if (byte < DIGIT_0 || byte > DIGIT_9) return Number.NaN;
    value = value * 10 + (byte - DIGIT_0);
  }
  return negative ? -value : value;
}

function printable(byte: number): string {
  return byte >= 0x20 && byte < 0x7f ? String.fromCharCode(byte) : `\\x${byte.toString(16).padStart(2, '0')}`;
}

const SPACE = 0x20;
const TAB = 0x09;
const VTAB = 0x0b;
const FORM_FEED = 0x0c;
const DOUBLE_QUOTE = 0x22;
const SINGLE_QUOTE = 0x27;
const BACKSLASH = 0x5c;
const LETTER_X = 0x78;
const HEX_PAIR = /^[0-9a-fA-F]{2}$/;
const ESCAPES: Readonly<Record<number, number>> = { 0x6e: LF, 0x72: CR, 0x74: TAB, 0x62: 0x08, 0x61: 0x07 };

function isSpace(byte: number | undefined): boolean {
  return byte === SPACE || byte === TAB || byte === LF || byte === CR || byte === VTAB || byte === FORM_FEED;
}

/**
 * Splits an inline command line as Redis's sdssplitargs does: whitespace separates
 * arguments; "double quotes" take \n \r \t \b \a \xHH and \<char> escapes; 'single quotes'
 * take \'; a closing quote must end the argument. Undefined for unbalanced quotes.
 */
export function splitInline(line: Buffer): Buffer[] | undefined {
  const args: Buffer[] = [];
  let index = 0;
  for (;;) {
    while (index < line.length && isSpace(line[index])) index += 1;
    if (index >= line.length) return args;
    const token = readToken(line, index);
    if (token === undefined) return undefined;
    args.push(token.arg);
    index = token.next;
  }
}

function readToken(line: Buffer, start: number): { arg: Buffer; next: number } | undefined {
  const bytes: number[] = [];
  let quote: number | undefined;
  let index = start;
  while (index < line.length) {
    const byte = line[index] as number;
    if (quote === undefined) {
      if (isSpace(byte)) break;
      if (byte === DOUBLE_QUOTE || byte === SINGLE_QUOTE) quote = byte;
      else bytes.push(byte);
      index += 1;
    } else if (byte === quote) {
      // A closing quote must end the argument.
      if (index + 1 < line.length && !isSpace(line[index + 1])) return undefined;
      return { arg: Buffer.from(bytes), next: index + 1 };
    } else if (byte === BACKSLASH && index + 1 < line.length) {
      index = readEscape(line, index + 1, quote, bytes);
    } else {
      bytes.push(byte);
      index += 1;
    }
  }
  return quote === undefined ? { arg: Buffer.from(bytes), next: index } : undefined;
}

/** The escape after a backslash at `index - 1`, inside `quote`: pushes its byte, returns the next index. */
function readEscape(line: Buffer, index: number, quote: number, bytes: number[]): number {
  const code = line[index] as number;
  if (quote === SINGLE_QUOTE) {
    // Only \' is an escape in single quotes; the backslash is kept otherwise.
    if (code === SINGLE_QUOTE) bytes.push(SINGLE_QUOTE);
    else bytes.push(BACKSLASH, code);
    return index + 1;
  }
  const hex = line.toString('latin1', index + 1, index + 3);
  if (code === LETTER_X && HEX_PAIR.test(hex)) {
    bytes.push(Number.parseInt(hex, 16));
    return index + 3;
  }
  bytes.push(ESCAPES[code] ?? code);
  return index + 1;
}
