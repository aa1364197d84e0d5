/**
 * Just enough DER (ITU-T X.690) to write X.509 certificates (io/certificates.ts), and to
 * read back the few fields of an issuer's certificate that a certificate it signs repeats.
 *
 * Writing: definite lengths in their shortest form, integers in their fewest octets, one
 * octet tags (tag numbers below 31). Reading: the same subset, and anything else (an
 * indefinite length, a length past the end, a multi-octet tag) is refused, not guessed at.
 */

export const DER_TAG = {
  boolean: 0x01,
  integer: 0x02,
  bitString: 0x03,
  octetString: 0x04,
  oid: 0x06,
  utf8String: 0x0c,
  utcTime: 0x17,
  generalizedTime: 0x18,
  sequence: 0x30,
  set: 0x31,
} as const;

const CONTEXT_SPECIFIC = 0x80;
const CONSTRUCTED = 0x20;
/** Four length octets describe up to 4 GiB, far past anything read or written here. */
const LENGTH_OCTETS_MAX = 4;

export class DerError extends Error {
  readonly code = 'DER_INVALID';
  constructor(message: string) {
    super(message);
    this.name = 'DerError';
  }
}

// ---- writing ----

/** One element: tag, length, content. */
export function tlv(tag: number, content: Uint8Array): Buffer {
  return Buffer.concat([Buffer.of(tag), encodeLength(content.length), content]);
}

function encodeLength(length: number): Buffer {
  if (length < 0x80) return Buffer.of(length);
  const octets: number[] = [];
  for (let rest = length; rest > 0; rest = Math.floor(rest / 256)) octets.unshift(rest % 256);
  return Buffer.of(0x80 | octets.length, ...octets);
}

export function sequence(...items: readonly Uint8Array[]): Buffer {
  return tlv(DER_TAG.sequence, Buffer.concat(items));
}

/** A SET OF with one member (DER sorts the members of a larger set; nothing here needs one). */
export function setOfOne(item: Uint8Array): Buffer {
  return tlv(DER_TAG.set, item);
}

/** A non-negative INTEGER from its big-endian magnitude: leading zeros dropped, a 0x00 added when the top bit is set. */
export function unsignedInteger(magnitude: Uint8Array): Buffer {
  let first = 0;
  while (first < magnitude.length - 1 && magnitude[first] === 0) first++;
  const digits = magnitude.subarray(first);
  if (digits.length === 0) return tlv(DER_TAG.integer, Buffer.of(0));
  const needsPad = (digits[0] as number) & 0x80;
  return tlv(DER_TAG.integer, needsPad ? Buffer.concat([Buffer.of(0), digits]) : digits);
}

export function smallInteger(value: number): Buffer {
  if (!Number.isSafeInteger(value) || value < 0) throw new DerError(`smallInteger: expected a non-negative safe integer, got ${value}`);
  const octets: number[] = [];
  for (let rest = value; rest > 0; rest = Math.floor(rest / 256)) octets.unshift(rest % 256);
  return unsignedInteger(Uint8Array.from(octets));
}

export function boolean(value: boolean): Buffer {
  return tlv(DER_TAG.boolean, Buffer.of(value ? 0xff : 0x00));
}

/** An OBJECT IDENTIFIER from its dotted form, e.g. "2.5.4.3". */
export function oid(dotted: string): Buffer {
  const arcs = /^[0-9]+(\.[0-9]+)+$/.test(dotted) ? dotted.split('.').map(Number) : [];
  const [first, second] = arcs;
  if (first === undefined || second === undefined || !arcs.every(Number.isSafeInteger) || first > 2 || (first < 2 && second >= 40)) {
    throw new DerError(`not an object identifier: "${dotted}"`);
  }
  const octets = [first * 40 + second, ...arcs.slice(2)].flatMap(base128);
  return tlv(DER_TAG.oid, Uint8Array.from(octets));
}

/** An arc in base 128, most significant group first, every group but the last with its top bit set. */
function base128(arc: number): number[] {
  const groups = [arc % 128];
  for (let rest = Math.floor(arc / 128); rest > 0; rest = Math.floor(rest / 128)) groups.unshift(0x80 | (rest % 128));
  return groups;
}

/** A BIT STRING of whole octets (keys, signatures). */
export function bitString(bytes: Uint8Array): Buffer {
  return tlv(DER_TAG.bitString, Buffer.concat([Buffer.of(0), bytes]));
}

/**
 * A BIT STRING of named bits (bit 0 is the first octet's top bit), as DER wants it: the
 * trailing zero bits are left out and counted as unused.
 */
export function namedBits(bitNumbers: readonly number[]): Buffer {
  if (bitNumbers.length === 0) return tlv(DER_TAG.bitString, Buffer.of(0));
  const highest = Math.max(...bitNumbers);
  const bytes = Buffer.alloc(Math.floor(highest / 8) + 1);
  for (const bit of bitNumbers) bytes[bit >> 3] = (bytes[bit >> 3] as number) | (0x80 >> (bit & 7));
  const unusedBits = 7 - (highest & 7);
  return tlv(DER_TAG.bitString, Buffer.concat([Buffer.of(unusedBits), bytes]));
}

export function octetString(bytes: Uint8Array): Buffer {
  return tlv(DER_TAG.octetString, bytes);
}

export function utf8String(text: string): Buffer {
  return tlv(DER_TAG.utf8String, Buffer.from(text, 'utf8'));
}

/**
 * A certificate's time as RFC 5280 (4.1.2.5) wants it: UTCTime for the years 1950-2049,
 * GeneralizedTime otherwise; whole seconds, in UTC (`Z`).
 */
export function certificateTime(date: Date): Buffer {
  const year = date.getUTCFullYear();
  if (!Number.isFinite(date.getTime()) || year < 0 || year > 9999) throw new DerError(`not a certificate time: ${String(date)}`);
  const two = (value: number) => String(value).padStart(2, '0');
  const rest = `${two(date.getUTCMonth() + 1)}${two(date.getUTCDate())}${two(date.getUTCHours())}${two(date.getUTCMinutes())}${two(date.getUTCSeconds())}Z`;
  if (year >= 1950 && year < 2050) return tlv(DER_TAG.utcTime, Buffer.from(`${two(year % 100)}${rest}`, 'ascii'));
  return tlv(DER_TAG.generalizedTime, Buffer.from(`${String(year).padStart(4, '0')}${rest}`, 'ascii'));
}

/** [n] EXPLICIT: a constructed context-specific element wrapping one whole element. */
export function explicit(tagNumber: number, element: Uint8Array): Buffer {
  return tlv(CONTEXT_SPECIFIC | CONSTRUCTED | checkTagNumber(tagNumber), element);
}

/** [n] IMPLICIT over a primitive type: the content alone, under the context-specific tag. */
export function implicit(tagNumber: number, content: Uint8Array): Buffer {
  return tlv(CONTEXT_SPECIFIC | checkTagNumber(tagNumber), content);
}

/** The tag of `[n] EXPLICIT` (or of `[n] IMPLICIT` over a constructed type). */
export function explicitTag(tagNumber: number): number {
  return CONTEXT_SPECIFIC | CONSTRUCTED | checkTagNumber(tagNumber);
}

function checkTagNumber(tagNumber: number): number {
  if (!Number.isInteger(tagNumber) || tagNumber < 0 || tagNumber > 30) throw new DerError(`tag numbers 0-30 only, got ${tagNumber}`);
  return tagNumber;
}

// ---- reading ----

/** Where one element sits in its buffer: its tag, where its header starts, where its content starts and ends. */
export interface DerElement {
  readonly tag: number;
  readonly headerStart: number;
  readonly contentStart: number;
  readonly end: number;
}

/** Reads the element that starts at `offset` and must end by `limit`. */
export function readElement(der: Uint8Array, offset: number, limit: number = der.length): DerElement {
  if (offset + 2 > limit) throw new DerError(`truncated element at offset ${offset}`);
  const tag = der[offset] as number;
  if ((tag & 0x1f) === 0x1f) throw new DerError(`multi-octet tag at offset ${offset}`);
  const first = der[offset + 1] as number;
  let length = first;
  let contentStart = offset + 2;
  if (first & 0x80) {
    const octets = first & 0x7f;
    if (octets === 0) throw new DerError(`indefinite length at offset ${offset}`);
    if (octets > LENGTH_OCTETS_MAX || contentStart + octets > limit) throw new DerError(`bad length at offset ${offset}`);
    length = 0;
    for (let index = 0; index < octets; index++) length = length * 256 + (der[contentStart + index] as number);
    contentStart += octets;
  }
  const end = contentStart + length;
  if (end > limit) throw new DerError(`element at offset ${offset} runs past its end (${end} > ${limit})`);
  return { tag, headerStart: offset, contentStart, end };
}

/** The elements inside a constructed element, in order. */
export function childrenOf(der: Uint8Array, parent: DerElement): DerElement[] {
  const children: DerElement[] = [];
  for (let offset = parent.contentStart; offset < parent.end; ) {
    const child = readElement(der, offset, parent.end);
    children.push(child);
    offset = child.end;
  }
  return children;
}

/** The element's content octets (a view, not a copy). */
export function contentOf(der: Uint8Array, element: DerElement): Buffer {
  return Buffer.from(der.buffer, der.byteOffset + element.contentStart, element.end - element.contentStart);
}

/** The whole element, header included (a view, not a copy). */
export function encodingOf(der: Uint8Array, element: DerElement): Buffer {
  return Buffer.from(der.buffer, der.byteOffset + element.headerStart, element.end - element.headerStart);
}
