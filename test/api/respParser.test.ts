import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { PROTOCOL_ERRORS, RespParser, splitInline, type RespLimits } from '../../src/api/resp/parser.ts';
import { ReplyWriter } from '../../src/api/resp/reply.ts';
import { testSeed } from '../support/seed.ts';

const LIMITS: RespLimits = { bulkBytesMax: 1024, arrayElementsMax: 16, inlineBytesMax: 256, commandBytesMax: 4096 };

interface Parsed {
  readonly commands: string[][];
  readonly error: string | undefined;
}

/** Feeds `chunks` in order; commands as latin1 strings (byte-exact). */
function parse(chunks: readonly (Buffer | string)[], limits: RespLimits = LIMITS): Parsed {
  const parser = new RespParser(limits);
  const commands: string[][] = [];
  let error: string | undefined;
  for (const chunk of chunks) {
    error = parser.feed(typeof chunk === 'string' ? Buffer.from(chunk, 'latin1') : chunk, (args, bytes) => {
      assert.equal(bytes, args.reduce((sum, arg) => sum + arg.length, 0), 'the byte count is the arguments summed');
      commands.push(args.map((arg) => arg.toString('latin1')));
    });
  }
  return { commands, error };
}

function encodeCommand(args: readonly Uint8Array[]): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)];
  for (const arg of args) parts.push(Buffer.from(`$${arg.length}\r\n`), Buffer.from(arg), Buffer.from('\r\n'));
  return Buffer.concat(parts);
}

function splitAt(bytes: Buffer, cuts: readonly number[]): Buffer[] {
  const points = [...new Set(cuts.map((cut) => cut % (bytes.length + 1)))].sort((a, b) => a - b);
  const chunks: Buffer[] = [];
  let start = 0;
  for (const point of points) {
    chunks.push(bytes.subarray(start, point));
    start = point;
  }
  chunks.push(bytes.subarray(start));
  return chunks;
}

test('arrays of bulk strings parse byte-exact, CR and LF inside values included', () => {
  const value = 'a\r\nb\x00\xff';
  const stream = `*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$${value.length}\r\n${value}\r\n*1\r\n$4\r\nPING\r\n`;
  const { commands, error } = parse([stream]);
  assert.equal(error, undefined);
  assert.deepEqual(commands, [['SET', 'k', value], ['PING']]);
});

test('empty arrays and null arrays are no command; an empty bulk string is an empty argument', () => {
  const { commands, error } = parse(['*0\r\n*-1\r\n*2\r\n$4\r\nECHO\r\n$0\r\n\r\n']);
  assert.equal(error, undefined);
  assert.deepEqual(commands, [['ECHO', '']]);
});

test('inline commands split like redis-cli would type them', () => {
  const { commands, error } = parse(['PING\r\nSET k "a b\\n\\x41" \r\n\r\n  get   \'it\\\'s\'\nECHO a"b c"\r\n']);
  assert.equal(error, undefined);
  assert.deepEqual(commands, [['PING'], ['SET', 'k', 'a b\nA'], ['get', "it's"], ['ECHO', 'ab c']]);
  assert.equal(splitInline(Buffer.from('SET "unclosed')), undefined);
  assert.equal(splitInline(Buffer.from('SET "a"b')), undefined, 'a closing quote must end the argument');
  assert.deepEqual(splitInline(Buffer.from("'a\\b'"))?.map(String), ['a\\b'], 'single quotes keep other backslashes');
});

test('each malformed header is a protocol error, after the commands before it', () => {
  const cases: readonly [string, string][] = [
    ['*1\r\n$999999999999\r\n', PROTOCOL_ERRORS.bulkLength],
    ['*1\r\n$-1\r\n', PROTOCOL_ERRORS.bulkLength],
    ['*1\r\n$abc\r\n', PROTOCOL_ERRORS.bulkLength],
    ['*1\r\n$\r\n', PROTOCOL_ERRORS.bulkLength],
    ['*1\r\n$1025\r\n', PROTOCOL_ERRORS.bulkLength],
    ['*x\r\n', PROTOCOL_ERRORS.arrayLength],
    ['*17\r\n', PROTOCOL_ERRORS.arrayLength],
    ['*1\n', PROTOCOL_ERRORS.headerUnterminated],
    ['*1\r\nGET\r\n', "ERR Protocol error: expected '$', got 'G'"],
    ['*1\r\n$3\r\nGETxx', PROTOCOL_ERRORS.bulkUnterminated],
    [`*1\r\n$${'1'.repeat(40)}`, PROTOCOL_ERRORS.bulkHeaderTooLong],
    [`*${'1'.repeat(40)}`, PROTOCOL_ERRORS.arrayHeaderTooLong],
    [`GET ${'x'.repeat(300)}`, PROTOCOL_ERRORS.inlineTooLong],
    ['GET "k\r\n', PROTOCOL_ERRORS.unbalancedQuotes],
    ['*4\r\n$1000\r\n' + 'x'.repeat(1000) + '\r\n$1000\r\n' + 'x'.repeat(1000) + '\r\n$1000\r\n' + 'x'.repeat(1000) + '\r\n$1000\r\n', 'ERR Protocol error: command too large'],
  ];
  for (const [input, expected] of cases) {
    const { commands, error } = parse([`PING\r\n${input}`], { ...LIMITS, commandBytesMax: 3500 });
    assert.equal(error, expected, JSON.stringify(input));
    assert.deepEqual(commands, [['PING']], `the command before ${JSON.stringify(input)} was delivered`);
  }
});

test('a failed parser stays failed: further input delivers nothing', () => {
  const parser = new RespParser(LIMITS);
  const seen: string[] = [];
  const sink = (args: Buffer[]) => void seen.push(String(args[0]));
  assert.equal(parser.feed(Buffer.from('*1\r\n$-5\r\n'), sink), PROTOCOL_ERRORS.bulkLength);
  assert.equal(parser.feed(Buffer.from('*1\r\n$4\r\nPING\r\n'), sink), PROTOCOL_ERRORS.bulkLength);
  assert.deepEqual(seen, []);
  assert.equal(parser.heldBytes, 0, 'a failed parser holds nothing');
});

test('an unterminated inline line longer than the limit fails even when it arrives a byte at a time', () => {
  const parser = new RespParser(LIMITS);
  let error: string | undefined;
  for (let index = 0; index <= LIMITS.inlineBytesMax && error === undefined; index++) {
    error = parser.feed(Buffer.from('x'), () => assert.fail('no command'));
    assert.ok(parser.heldBytes <= LIMITS.inlineBytesMax);
  }
  assert.equal(error, PROTOCOL_ERRORS.inlineTooLong);
});

test('property: any split of a valid stream parses to the same commands', (t) => {
  const seed = testSeed(t, import.meta.url);
  const arg = fc.uint8Array({ maxLength: 40 });
  const command = fc.array(arg, { minLength: 1, maxLength: 6 });
  const inline = fc.array(fc.stringMatching(/^[a-z0-9]{1,8}$/), { minLength: 1, maxLength: 4 });
  const item = fc.oneof(
    command.map((args) => ({ bytes: encodeCommand(args), args: args.map((a) => Buffer.from(a).toString('latin1')) })),
    inline.map((words) => ({ bytes: Buffer.from(`${words.join(' ')}\r\n`), args: words })),
  );
  fc.assert(
    fc.property(fc.array(item, { maxLength: 12 }), fc.array(fc.nat(), { maxLength: 20 }), (items, cuts) => {
      const stream = Buffer.concat(items.map((entry) => entry.bytes));
      const whole = parse([stream]);
      const split = parse(splitAt(stream, cuts));
      assert.equal(whole.error, undefined);
      assert.deepEqual(whole.commands, items.map((entry) => entry.args));
      assert.deepEqual(split, whole);
    }),
    { seed, numRuns: 400 },
  );
});

test('property: random garbage never throws, never holds more than the limits, and fails the same however split', (t) => {
  const seed = testSeed(t, import.meta.url);
  const heldMax = LIMITS.inlineBytesMax + LIMITS.bulkBytesMax + 2 + LIMITS.commandBytesMax;
  const byte = fc.oneof(fc.integer({ min: 0, max: 255 }), fc.constantFrom(0x2a, 0x24, 0x0d, 0x0a, 0x2d, 0x30, 0x31, 0x39, 0x22));
  const garbage = fc.array(byte, { maxLength: 600 }).map((bytes) => Buffer.from(bytes));
  fc.assert(
    fc.property(garbage, fc.array(fc.nat(), { maxLength: 10 }), (bytes, cuts) => {
      const parser = new RespParser(LIMITS);
      const commands: string[][] = [];
      let error: string | undefined;
      for (const chunk of splitAt(bytes, cuts)) {
        error = parser.feed(chunk, (args) => void commands.push(args.map(String)));
        assert.ok(parser.heldBytes <= heldMax, `held ${parser.heldBytes} bytes`);
      }
      assert.ok(error === undefined || error.startsWith('ERR Protocol error: '), String(error));
      const whole = parse([bytes]);
      assert.equal(error, whole.error);
      assert.equal(commands.length, whole.commands.length);
    }),
    { seed, numRuns: 1000 },
  );
});

test('replies: simple strings, errors (one line), integers, bulk strings small and large, arrays', () => {
  const writer = new ReplyWriter();
  const large = Buffer.alloc(5000, 0x61);
  writer.ok();
  writer.simple('PONG');
  writer.error('ERR bad\r\nthing');
  writer.integer(0);
  writer.integer(-42);
  writer.integer(1234567890123);
  writer.bulk(Buffer.from('a\r\nb'));
  writer.bulk(large);
  writer.nil();
  writer.arrayHeader(2);
  writer.bulkString('é');
  writer.emptyArray();
  const expected = Buffer.concat([
    Buffer.from('+OK\r\n+PONG\r\n-ERR bad  thing\r\n:0\r\n:-42\r\n:1234567890123\r\n$4\r\na\r\nb\r\n$5000\r\n'),
    large,
    Buffer.from('\r\n$-1\r\n*2\r\n$2\r\n\xc3\xa9\r\n*0\r\n', 'latin1'),
  ]);
  assert.equal(writer.byteLength, expected.length);
  const parts = writer.take();
  assert.ok(parts.includes(large), 'a large value is written by reference');
  assert.deepEqual(Buffer.concat(parts), expected);
  assert.deepEqual(writer.take(), [], 'take() empties the writer');
});

test('replies: more small pieces than the scratch holds come out whole and in order', () => {
  const writer = new ReplyWriter();
  const expected: string[] = [];
  for (let index = 0; index < 5000; index++) {
    writer.bulkString(`value-${index}`);
    expected.push(`$${`value-${index}`.length}\r\nvalue-${index}\r\n`);
  }
  assert.equal(Buffer.concat(writer.take()).toString(), expected.join(''));
});
