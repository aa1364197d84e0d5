/**
 * MD5 (RFC 1321), pure. Used for ring positions (as the Dynamo paper does) and for
 * checksums and tags inside encodings. Not for security.
 */

/** Per-round left-rotation amounts. */
const SHIFTS = [
  7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22,
  5, 9, 14, 20, 5, 9, 14, 20, 5, 9, 14, 20, 5, 9, 14, 20,
  4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23,
  6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21,
];

/** K[i] = floor(|sin(i + 1)| * 2^32), as the RFC tabulates. */
const SINE_TABLE = new Int32Array([
  0xd76aa478, 0xe8c7b756, 0x242070db, 0xc1bdceee, 0xf57c0faf, 0x4787c62a, 0xa8304613, 0xfd469501,
  0x698098d8, 0x8b44f7af, 0xffff5bb1, 0x895cd7be, 0x6b901122, 0xfd987193, 0xa679438e, 0x49b40821,
  0xf61e2562, 0xc040b340, 0x265e5a51, 0xe9b6c7aa, 0xd62f105d, 0x02441453, 0xd8a1e681, 0xe7d3fbc8,
  0x21e1cde6, 0xc33707d6, 0xf4d50d87, 0x455a14ed, 0xa9e3e905, 0xfcefa3f8, 0x676f02d9, 0x8d2a4c8a,
  0xfffa3942, 0x8771f681, 0x6d9d6122, 0xfde5380c, 0xa4beea44, 0x4bdecfa9, 0xf6bb4b60, 0xbebfbc70,
  0x289b7ec6, 0xeaa127fa, 0xd4ef3085, 0x04881d05, 0xd9d4d039, 0xe6db99e5, 0x1fa27cf8, 0xc4ac5665,
  0xf4292244, 0x432aff97, 0xab9423a7, 0xfc93a039, 0x655b59c3, 0x8f0ccc92, 0xffeff47d, 0x85845dd1,
  0x6fa87e4f, 0xfe2ce6e0, 0xa3014314, 0x4e0811a1, 0xf7537e82, 0xbd3af235, 0x2ad7d2bb, 0xeb86d391,
]);

export const MD5_BYTES = 16;

/** Scratch space for one digest at a time (JavaScript runs one at a time): no allocation per block. */
const STATE = new Int32Array(4);
const WORDS = new Int32Array(16);
const TAIL = new Uint8Array(128);

/** The 16-byte MD5 digest of `data`. */
export function md5(data: Uint8Array): Uint8Array {
  STATE[0] = 0x67452301;
  STATE[1] = 0xefcdab89;
  STATE[2] = 0x98badcfe;
  STATE[3] = 0x10325476;
  const fullBlocks = Math.floor(data.length / 64);
  for (let block = 0; block < fullBlocks; block++) {
    readWords(data, block * 64, WORDS);
    compress(STATE, WORDS);
  }
  const tailBlocks = fillTail(data, fullBlocks * 64);
  for (let block = 0; block < tailBlocks; block++) {
    readWords(TAIL, block * 64, WORDS);
    compress(STATE, WORDS);
  }
  return stateBytes(STATE);
}

/** Fills TAIL with the last partial block, the padding and the bit length; returns its blocks (1 or 2). */
function fillTail(data: Uint8Array, tailStart: number): number {
  const remainder = data.length - tailStart;
  const blockCount = remainder < 56 ? 1 : 2;
  const length = blockCount * 64;
  TAIL.fill(0, 0, length);
  TAIL.set(data.subarray(tailStart), 0);
  TAIL[remainder] = 0x80;
  // Bit length as a 64-bit little-endian integer; byte lengths stay below 2^53.
  const bitLength = data.length * 8;
  const lengthOffset = length - 8;
  const low = bitLength % 2 ** 32;
  const high = Math.floor(bitLength / 2 ** 32);
  for (let i = 0; i < 4; i++) {
    TAIL[lengthOffset + i] = (low >>> (8 * i)) & 0xff;
    TAIL[lengthOffset + 4 + i] = (high >>> (8 * i)) & 0xff;
  }
  return blockCount;
}

function readWords(bytes: Uint8Array, offset: number, words: Int32Array): void {
  for (let i = 0; i < 16; i++) {
    const at = offset + i * 4;
    words[i] =
      (bytes[at] as number) |
      ((bytes[at + 1] as number) << 8) |
      ((bytes[at + 2] as number) << 16) |
      ((bytes[at + 3] as number) << 24);
  }
}

function compress(state: Int32Array, words: Int32Array): void {
  let a = state[0] as number;
  let b = state[1] as number;
  let c = state[2] as number;
  let d = state[3] as number;
  for (let i = 0; i < 64; i++) {
    let mixed: number;
    let wordIndex: number;
    if (i < 16) {
      mixed = (b & c) | (~b & d);
      wordIndex = i;
    } else if (i < 32) {
      mixed = (d & b) | (~d & c);
      wordIndex = (5 * i + 1) % 16;
    } else if (i < 48) {
      mixed = b ^ c ^ d;
      wordIndex = (3 * i + 5) % 16;
    } else {
      mixed = c ^ (b | ~d);
      wordIndex = (7 * i) % 16;
    }
    const sum = (a + mixed + (SINE_TABLE[i] as number) + (words[wordIndex] as number)) | 0;
    const shift = SHIFTS[i] as number;
    a = d;
    d = c;
    c = b;
    b = (b + ((sum << shift) | (sum >>> (32 - shift)))) | 0;
  }
  state[0] = ((state[0] as number) + a) | 0;
  state[1] = ((state[1] as number) + b) | 0;
  state[2] = ((state[2] as number) + c) | 0;
  state[3] = ((state[3] as number) + d) | 0;
}

/** The digest: the four state words, each little-endian. */
function stateBytes(state: Int32Array): Uint8Array {
  const out = new Uint8Array(MD5_BYTES);
  for (let i = 0; i < 4; i++) {
    const word = state[i] as number;
    for (let j = 0; j < 4; j++) out[i * 4 + j] = (word >>> (8 * j)) & 0xff;
  }
  return out;
}
