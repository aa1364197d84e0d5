/**
 * CRC-32 (IEEE 802.3, reflected, polynomial 0xEDB88320). Chosen for contexts because it
 * detects every burst error of up to 32 bits with certainty, so a single corrupted byte or
 * base64 character is always caught, where a truncated hash would miss one in 2^32.
 */
const TABLE = buildTable();

function buildTable(): Uint32Array {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let bit = 0; bit < 8; bit++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
}

/** The CRC-32 of `data`; with `previous` (the CRC of what came before it), the CRC of both: crc32(b, crc32(a)) = crc32(a ‖ b). */
export function crc32(data: Uint8Array, previous = 0): number {
  let crc = (previous ^ 0xffffffff) >>> 0;
  for (let i = 0; i < data.length; i++) crc = TABLE[(crc ^ data[i]!) & 0xff]! ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

/** The CRC-32 as 4 big-endian bytes. */
export function crc32Bytes(data: Uint8Array): Uint8Array {
  const value = crc32(data);
  return new Uint8Array([value >>> 24, (value >>> 16) & 0xff, (value >>> 8) & 0xff, value & 0xff]);
}
