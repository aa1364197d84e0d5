import { test } from 'node:test';
import assert from 'node:assert/strict';
import { crc32 } from '../../src/core/crc32.ts';

test('crc32 matches the standard check values', () => {
  const ascii = (text: string) => new TextEncoder().encode(text);
  assert.equal(crc32(ascii('123456789')), 0xcbf43926);
  assert.equal(crc32(new Uint8Array(0)), 0);
  assert.equal(crc32(ascii('The quick brown fox jumps over the lazy dog')), 0x414fa339);
});

test('crc32 continues a CRC: crc32(b, crc32(a)) is the CRC of a then b', () => {
  const ascii = (text: string) => new TextEncoder().encode(text);
  assert.equal(crc32(ascii('56789'), crc32(ascii('1234'))), 0xcbf43926);
  assert.equal(crc32(new Uint8Array(0), 0xcbf43926), 0xcbf43926);
});
