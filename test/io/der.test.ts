// The DER writer and reader under the certificates (src/io/der.ts), against encodings worked out by hand from X.690.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  bitString, boolean, certificateTime, childrenOf, contentOf, DerError, encodingOf, explicit, implicit, namedBits, octetString, oid,
  readElement, sequence, setOfOne, smallInteger, tlv, unsignedInteger, utf8String,
} from '../../src/io/der.ts';

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex');

test('lengths take the short form below 128 and the fewest octets above', () => {
  assert.equal(hex(tlv(0x04, Buffer.alloc(127))).slice(0, 4), '047f');
  assert.equal(hex(tlv(0x04, Buffer.alloc(128))).slice(0, 6), '048180');
  assert.equal(hex(tlv(0x04, Buffer.alloc(255))).slice(0, 6), '0481ff');
  assert.equal(hex(tlv(0x04, Buffer.alloc(300))).slice(0, 8), '0482012c');
  assert.equal(hex(tlv(0x04, Buffer.alloc(70_000))).slice(0, 10), '0483011170');
});

test('integers: fewest octets, a 0x00 in front of a set top bit, zero as one octet', () => {
  assert.equal(hex(smallInteger(0)), '020100');
  assert.equal(hex(smallInteger(2)), '020102');
  assert.equal(hex(smallInteger(127)), '02017f');
  assert.equal(hex(smallInteger(128)), '02020080');
  assert.equal(hex(smallInteger(256)), '02020100');
  assert.equal(hex(unsignedInteger(Buffer.from('000000ff', 'hex'))), '020200ff');
  assert.equal(hex(unsignedInteger(Buffer.from('00007f01', 'hex'))), '02027f01');
  assert.equal(hex(unsignedInteger(Buffer.alloc(3))), '020100');
  assert.throws(() => smallInteger(-1), DerError);
});

test('object identifiers: the first two arcs in one octet, the rest in base 128', () => {
  assert.equal(hex(oid('2.5.4.3')), '0603550403');
  assert.equal(hex(oid('1.2.840.10045.4.3.2')), '06082a8648ce3d040302');
  assert.equal(hex(oid('1.3.6.1.5.5.7.3.1')), '06082b06010505070301');
  assert.equal(hex(oid('2.999.3')), '0603883703');
  for (const bad of ['1', '3.1', '1.40', '1.2.x', '1..2', '1.2.', '']) assert.throws(() => oid(bad), /not an object identifier/, bad);
});

test('named bits leave out trailing zero bits and count them as unused', () => {
  assert.equal(hex(namedBits([0])), '03020780', 'digitalSignature');
  assert.equal(hex(namedBits([5, 6])), '03020106', 'keyCertSign and cRLSign');
  assert.equal(hex(namedBits([7])), '03020001');
  assert.equal(hex(namedBits([0, 8])), '0303078080');
  assert.equal(hex(namedBits([])), '030100');
  assert.equal(hex(bitString(Buffer.from('abcd', 'hex'))), '030300abcd');
});

test('the other primitives and the context-specific tags', () => {
  assert.equal(hex(boolean(true)), '0101ff');
  assert.equal(hex(octetString(Buffer.from('01', 'hex'))), '040101');
  assert.equal(hex(utf8String('é')), '0c02c3a9');
  assert.equal(hex(sequence()), '3000');
  assert.equal(hex(setOfOne(sequence())), '31023000');
  assert.equal(hex(explicit(0, smallInteger(2))), 'a003020102');
  assert.equal(hex(implicit(7, Buffer.from([127, 0, 0, 1]))), '87047f000001');
});

test('certificate times: UTCTime before 2050, GeneralizedTime from 2050, whole seconds in UTC', () => {
  assert.equal(certificateTime(new Date('2049-12-31T23:59:59.999Z')).toString('latin1').slice(2), '491231235959Z');
  assert.equal(certificateTime(new Date('2049-12-31T23:59:59Z'))[0], 0x17);
  const generalized = certificateTime(new Date('2050-01-01T00:00:00Z'));
  assert.equal(generalized[0], 0x18);
  assert.equal(generalized.toString('latin1').slice(2), '20500101000000Z');
  assert.equal(certificateTime(new Date('1949-06-01T12:00:00Z')).toString('latin1').slice(2), '19490601120000Z');
  assert.throws(() => certificateTime(new Date(Number.NaN)), /not a certificate time/);
});

test('the reader walks what the writer wrote, and refuses malformed input', () => {
  const der = sequence(smallInteger(5), sequence(octetString(Buffer.alloc(200))), boolean(false));
  const outer = readElement(der, 0);
  assert.equal(outer.end, der.length);
  const [integer, inner, flag] = childrenOf(der, outer);
  assert.ok(integer !== undefined && inner !== undefined && flag !== undefined);
  assert.equal(hex(contentOf(der, integer)), '05');
  assert.equal(hex(encodingOf(der, flag)), '010100');
  const [octets] = childrenOf(der, inner);
  assert.equal(octets?.contentStart, (octets?.headerStart ?? 0) + 3, 'a long-form length of one octet');
  assert.equal(contentOf(der, octets!).length, 200);

  assert.throws(() => readElement(Buffer.from('3080', 'hex'), 0), /indefinite length/);
  assert.throws(() => readElement(Buffer.from('3005020101', 'hex'), 0), /runs past its end/);
  assert.throws(() => readElement(Buffer.from('30', 'hex'), 0), /truncated/);
  assert.throws(() => readElement(Buffer.from('1f0100', 'hex'), 0), /multi-octet tag/);
  assert.throws(() => readElement(Buffer.from('3085010000000000', 'hex'), 0), /bad length/);
  const childTooLong = Buffer.from('30020201', 'hex');
  assert.throws(() => childrenOf(childTooLong, readElement(childTooLong, 0)), /runs past its end/);
});
