/**
 * The backup file of `shoal backup` and `shoal restore`, format version 1. Integers are
 * big-endian.
 *
 *   header  = "SHOALBAK" | u16 formatVersion | u32 metaBytes | meta (JSON, UTF-8) | u32 crc
 *   block   = u8 kind (1) | u8 compression (0 none, 1 raw deflate) | u16 partition | u32 objects
 *             | u32 rawBytes | u32 storedBytes | u16 cursorBytes | cursor | stored | u32 crc
 *   trailer = u8 kind (2) | u32 partitionCount | u32 blocks | u64 objects | u64 rawBytes | u32 fileCrc
 *
 * - A block's raw bytes are its objects with their keys, in key order (core/backup/entries.ts),
 *   as the node's object codec encodes them: every version, vector and sibling, tombstones
 *   and reaped markers included. `stored` is that, compressed.
 * - Partitions come in order, 0 to partitionCount - 1, each in one or more blocks. A block's
 *   cursor is the key its partition goes on after in the next block; an empty cursor ends
 *   the partition (an empty partition is one block of 0 objects). So a backup interrupted
 *   after any block can go on from there (`--resume`).
 * - Every header and block ends with the CRC-32 of its own bytes before it; the trailer's
 *   fileCrc is the CRC-32 of every byte of the file before it, and its totals must match the
 *   blocks'. Nothing follows the trailer. A file without one is incomplete.
 */
import { open, type FileHandle } from 'node:fs/promises';
import { promisify } from 'node:util';
import { deflateRaw, inflateRawSync } from 'node:zlib';
import { z } from 'zod';
import { crc32 } from '../core/crc32.ts';
import { decodeEntries, encodeEntries, type KeyedBytes } from '../core/backup/entries.ts';

export const BACKUP_MAGIC = 'SHOALBAK';
export const BACKUP_FORMAT_VERSION = 1;
/** A block is written once its objects reach this many raw bytes (or its partition ends). */
export const BLOCK_RAW_BYTES_TARGET = 1024 * 1024;
/** What a reader accepts: a block of one page of the largest objects fits. */
export const BLOCK_RAW_BYTES_MAX = 256 * 1024 * 1024;
export const BLOCK_OBJECTS_MAX = 1 << 20;
const META_BYTES_MAX = 64 * 1024;
/** Deflate may grow incompressible data a little. */
const BLOCK_STORED_BYTES_MAX = BLOCK_RAW_BYTES_MAX + 1024 * 1024;
/** The longest key a backup holds (a block's cursor has a u16 length; nodes take far shorter keys). */
export const BACKUP_KEY_BYTES_MAX = 0xffff;

const KIND_BLOCK = 1;
const KIND_TRAILER = 2;
const COMPRESSION_NONE = 0;
const COMPRESSION_DEFLATE = 1;
const HEADER_FIXED_BYTES = BACKUP_MAGIC.length + 2 + 4;
const BLOCK_FIXED_BYTES = 1 + 1 + 2 + 4 + 4 + 4 + 2;
const TRAILER_BYTES = 1 + 4 + 4 + 8 + 8 + 4;
const CRC_BYTES = 4;

const compress = promisify(deflateRaw);

/** What the header says about the backup. */
export const backupMetaSchema = z.object({
  clusterName: z.string(),
  partitionCount: z.number().int().min(1).max(65_536),
  /** Wall-clock ms when the backup began: every version in it is at least this old. */
  startedAtMs: z.number().int().nonnegative(),
  /** The node it was taken through. */
  node: z.string(),
});
export type BackupMeta = z.infer<typeof backupMetaSchema>;

export interface BackupTotals {
  readonly blocks: number;
  readonly objects: number;
  readonly rawBytes: number;
  /** File bytes so far. */
  readonly fileBytes: number;
}

export interface BackupBlock {
  readonly partition: number;
  readonly entries: KeyedBytes[];
  /** Where the partition goes on in the next block; undefined: it ends with this one. */
  readonly cursor: Uint8Array | undefined;
  readonly rawBytes: number;
  /** Where the block ends in the file. */
  readonly endOffset: number;
}

export type BackupProblem = 'not-a-backup' | 'version' | 'truncated' | 'corrupt';

/** A file that is not a complete, intact backup: `problem` says how, the message where. */
export class BackupFileError extends Error {
  constructor(
    readonly problem: BackupProblem,
    message: string,
  ) {
    super(message);
    this.name = 'BackupFileError';
  }
}

// --- writing -------------------------------------------------------------------------------

/** Appends blocks to a backup file, then its trailer. */
export class BackupWriter {
  private constructor(
    private readonly handle: FileHandle,
    private readonly partitionCount: number,
    private totals: BackupTotals,
    private fileCrc: number,
  ) {}

  /** A new file with its header; refuses to overwrite one. */
  static async create(path: string, meta: BackupMeta): Promise<BackupWriter> {
    const handle = await open(path, 'wx');
    const writer = new BackupWriter(handle, meta.partitionCount, { blocks: 0, objects: 0, rawBytes: 0, fileBytes: 0 }, 0);
    await writer.append(encodeHeader(meta));
    return writer;
  }

  /** Goes on with an interrupted file from its last complete block (what follows it is cut off). */
  static async resume(path: string, from: Salvaged): Promise<BackupWriter> {
    const handle = await open(path, 'r+');
    await handle.truncate(from.totals.fileBytes);
    return new BackupWriter(handle, from.meta.partitionCount, from.totals, from.fileCrc);
  }

  get written(): BackupTotals {
    return this.totals;
  }

  async writeBlock(partition: number, entries: readonly KeyedBytes[], cursor: Uint8Array | undefined): Promise<void> {
    const raw = encodeEntries(entries);
    const stored = await compress(raw);
    const key = cursor ?? new Uint8Array(0);
    if (key.length > BACKUP_KEY_BYTES_MAX) throw new RangeError(`a key of ${key.length} bytes cannot be a cursor`);
    const head = new Uint8Array(BLOCK_FIXED_BYTES);
    const view = new DataView(head.buffer);
    head[0] = KIND_BLOCK;
    head[1] = COMPRESSION_DEFLATE;
    view.setUint16(2, partition);
    view.setUint32(4, entries.length);
    view.setUint32(8, raw.length);
    view.setUint32(12, stored.length);
    view.setUint16(16, key.length);
    const crc = crc32(stored, crc32(key, crc32(head)));
    await this.append(head, key, stored, u32(crc));
    const { blocks, objects, rawBytes } = this.totals;
    this.totals = { ...this.totals, blocks: blocks + 1, objects: objects + entries.length, rawBytes: rawBytes + raw.length };
  }

  /** The trailer, then the file is flushed to disk and closed. */
  async finish(): Promise<BackupTotals> {
    const trailer = new Uint8Array(TRAILER_BYTES - CRC_BYTES);
    const view = new DataView(trailer.buffer);
    trailer[0] = KIND_TRAILER;
    view.setUint32(1, this.partitionCount);
    view.setUint32(5, this.totals.blocks);
    view.setBigUint64(9, BigInt(this.totals.objects));
    view.setBigUint64(17, BigInt(this.totals.rawBytes));
    await this.append(trailer);
    await this.append(u32(this.fileCrc));
    await this.handle.sync();
    await this.handle.close();
    return this.totals;
  }

  /** Closes the file as it is (incomplete, to be resumed). */
  close(): Promise<void> {
    return this.handle.close();
  }

  private async append(...parts: Uint8Array[]): Promise<void> {
    for (const part of parts) {
      await this.handle.write(part, 0, part.length, this.totals.fileBytes);
      this.fileCrc = crc32(part, this.fileCrc);
      this.totals = { ...this.totals, fileBytes: this.totals.fileBytes + part.length };
    }
  }
}

function encodeHeader(meta: BackupMeta): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(meta));
  const head = new Uint8Array(HEADER_FIXED_BYTES + json.length);
  const view = new DataView(head.buffer);
  head.set(new TextEncoder().encode(BACKUP_MAGIC), 0);
  view.setUint16(BACKUP_MAGIC.length, BACKUP_FORMAT_VERSION);
  view.setUint32(BACKUP_MAGIC.length + 2, json.length);
  head.set(json, HEADER_FIXED_BYTES);
  const out = new Uint8Array(head.length + CRC_BYTES);
  out.set(head, 0);
  out.set(u32(crc32(head)), head.length);
  return out;
}

function u32(value: number): Uint8Array {
  const out = new Uint8Array(4);
  new DataView(out.buffer).setUint32(0, value);
  return out;
}

// --- reading -------------------------------------------------------------------------------

/**
 * Reads a backup file block by block, checking everything as it goes (the header, each
 * block's checksum, compression and objects, the order of partitions, the trailer), and
 * throws a BackupFileError at the first problem.
 */
export class BackupReader {
  private offset = 0;
  private fileCrc = 0;
  private nextPartition = 0;
  private totals: BackupTotals = { blocks: 0, objects: 0, rawBytes: 0, fileBytes: 0 };
  private trailerRead = false;

  private constructor(
    private readonly handle: FileHandle,
    readonly size: number,
    readonly meta: BackupMeta,
  ) {}

  /** Opens the file and checks its header. */
  static async open(path: string): Promise<BackupReader> {
    const handle = await open(path, 'r');
    try {
      const size = (await handle.stat()).size;
      const { meta, bytes, crc } = await readHeader(handle, size);
      const reader = new BackupReader(handle, size, meta);
      reader.offset = bytes;
      reader.fileCrc = crc;
      reader.totals = { ...reader.totals, fileBytes: bytes };
      return reader;
    } catch (error) {
      await handle.close();
      throw error;
    }
  }

  /** The blocks and the fileCrc read so far: where a resumed backup goes on. */
  get state(): { readonly totals: BackupTotals; readonly fileCrc: number; readonly nextPartition: number } {
    return { totals: this.totals, fileCrc: this.fileCrc, nextPartition: this.nextPartition };
  }

  /** The next block, or undefined once the trailer was read and checked. */
  async next(): Promise<BackupBlock | undefined> {
    if (this.trailerRead) return undefined;
    const kindByte = await this.read(1, 'the next block');
    const kind = kindByte[0];
    if (kind === KIND_TRAILER) {
      await this.readTrailer(kindByte);
      this.trailerRead = true;
      return undefined;
    }
    if (kind !== KIND_BLOCK) throw this.corrupt(`unknown block kind ${kind} at byte ${this.offset - 1}`);
    return this.readBlock(kindByte);
  }

  close(): Promise<void> {
    return this.handle.close();
  }

  private async readBlock(kindByte: Uint8Array): Promise<BackupBlock> {
    const startOffset = this.offset - 1;
    const index = this.totals.blocks;
    const rest = await this.read(BLOCK_FIXED_BYTES - 1, `block ${index}`);
    const head = new Uint8Array(BLOCK_FIXED_BYTES);
    head.set(kindByte, 0);
    head.set(rest, 1);
    const view = new DataView(head.buffer);
    const compression = head[1] as number;
    const partition = view.getUint16(2);
    const objects = view.getUint32(4);
    const rawBytes = view.getUint32(8);
    const storedBytes = view.getUint32(12);
    const cursorBytes = view.getUint16(16);
    const where = `block ${index} (partition ${partition}, byte ${startOffset})`;
    if (storedBytes > BLOCK_STORED_BYTES_MAX || rawBytes > BLOCK_RAW_BYTES_MAX) throw this.corrupt(`${where} claims ${storedBytes} stored and ${rawBytes} raw bytes, more than a block holds`);
    const cursor = await this.read(cursorBytes, where);
    const stored = await this.read(storedBytes, where);
    const crc = (await this.read(CRC_BYTES, where)).readUInt32BE(0);
    if (crc !== crc32(stored, crc32(cursor, crc32(head)))) throw this.corrupt(`${where} fails its checksum: the file is corrupted`);
    if (partition !== this.nextPartition) throw this.corrupt(`${where}: partition ${this.nextPartition} was expected next`);
    const entries = decodeBlock(where, compression, stored, rawBytes, objects);
    this.nextPartition += cursorBytes === 0 ? 1 : 0;
    this.totals = { blocks: index + 1, objects: this.totals.objects + objects, rawBytes: this.totals.rawBytes + rawBytes, fileBytes: this.offset };
    return { partition, entries, cursor: cursorBytes === 0 ? undefined : cursor, rawBytes, endOffset: this.offset };
  }

  private async readTrailer(kindByte: Uint8Array): Promise<void> {
    const at = this.offset - 1;
    const rest = await this.read(TRAILER_BYTES - CRC_BYTES - 1, 'the trailer');
    const expectedCrc = this.fileCrc;
    const stored = (await this.read(CRC_BYTES, 'the trailer')).readUInt32BE(0);
    const trailer = new Uint8Array(TRAILER_BYTES - CRC_BYTES);
    trailer.set(kindByte, 0);
    trailer.set(rest, 1);
    const view = new DataView(trailer.buffer);
    if (stored !== expectedCrc) throw this.corrupt(`the trailer (byte ${at}): the file's checksum does not match: the file is corrupted`);
    const counts = { partitions: view.getUint32(1), blocks: view.getUint32(5), objects: Number(view.getBigUint64(9)), rawBytes: Number(view.getBigUint64(17)) };
    const { blocks, objects, rawBytes } = this.totals;
    if (counts.partitions !== this.meta.partitionCount || this.nextPartition !== this.meta.partitionCount || counts.blocks !== blocks || counts.objects !== objects || counts.rawBytes !== rawBytes) {
      throw this.corrupt(`the trailer counts ${counts.partitions} partitions, ${counts.blocks} blocks, ${counts.objects} objects; the file holds ${this.nextPartition}, ${blocks}, ${objects}`);
    }
    if (this.offset !== this.size) throw this.corrupt(`${this.size - this.offset} bytes follow the trailer`);
    this.totals = { ...this.totals, fileBytes: this.offset };
  }

  /** Exactly `bytes` bytes at the current offset (added to the file's checksum); a file that ends first is truncated. */
  private async read(bytes: number, what: string): Promise<Buffer> {
    if (this.offset + bytes > this.size) {
      throw new BackupFileError('truncated', `the file ends inside ${what} (byte ${this.size} of a ${bytes}-byte read at ${this.offset}): it is truncated or its backup never finished (no trailer)`);
    }
    const out = Buffer.alloc(bytes);
    if (bytes > 0) await this.handle.read(out, 0, bytes, this.offset);
    this.offset += bytes;
    this.fileCrc = crc32(out, this.fileCrc);
    return out;
  }

  private corrupt(message: string): BackupFileError {
    return new BackupFileError('corrupt', message);
  }
}

async function readHeader(handle: FileHandle, size: number): Promise<{ meta: BackupMeta; bytes: number; crc: number }> {
  const fixed = Buffer.alloc(HEADER_FIXED_BYTES);
  if (size < HEADER_FIXED_BYTES) throw new BackupFileError('not-a-backup', `the file has ${size} bytes: too short for a backup header`);
  await handle.read(fixed, 0, HEADER_FIXED_BYTES, 0);
  if (fixed.subarray(0, BACKUP_MAGIC.length).toString('latin1') !== BACKUP_MAGIC) throw new BackupFileError('not-a-backup', `not a Shoal backup file (it does not start with ${BACKUP_MAGIC})`);
  const version = fixed.readUInt16BE(BACKUP_MAGIC.length);
  if (version !== BACKUP_FORMAT_VERSION) {
    throw new BackupFileError('version', `backup format version ${version}: this shoal reads version ${BACKUP_FORMAT_VERSION} only`);
  }
  const metaBytes = fixed.readUInt32BE(BACKUP_MAGIC.length + 2);
  if (metaBytes > META_BYTES_MAX) throw new BackupFileError('corrupt', `the header claims ${metaBytes} bytes of metadata (at most ${META_BYTES_MAX})`);
  const total = HEADER_FIXED_BYTES + metaBytes + CRC_BYTES;
  if (size < total) throw new BackupFileError('truncated', 'the file ends inside its header: it is truncated');
  const header = Buffer.alloc(total);
  await handle.read(header, 0, total, 0);
  const body = header.subarray(0, total - CRC_BYTES);
  if (header.readUInt32BE(total - CRC_BYTES) !== crc32(body)) throw new BackupFileError('corrupt', 'the header fails its checksum: the file is corrupted');
  const meta = backupMetaSchema.safeParse(parseJson(body.subarray(HEADER_FIXED_BYTES).toString('utf8')));
  if (!meta.success) throw new BackupFileError('corrupt', `the header's metadata is not valid: ${meta.error.issues[0]?.message ?? 'malformed'}`);
  return { meta: meta.data, bytes: total, crc: crc32(header) };
}

function decodeBlock(where: string, compression: number, stored: Uint8Array, rawBytes: number, objects: number): KeyedBytes[] {
  let raw: Uint8Array;
  if (compression === COMPRESSION_NONE) raw = stored;
  else if (compression !== COMPRESSION_DEFLATE) throw new BackupFileError('corrupt', `${where}: unknown compression ${compression}`);
  else {
    try {
      raw = inflateRawSync(stored, { maxOutputLength: Math.max(1, rawBytes) });
    } catch (error) {
      throw new BackupFileError('corrupt', `${where} does not decompress: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  if (raw.length !== rawBytes) throw new BackupFileError('corrupt', `${where} decompresses to ${raw.length} bytes, not ${rawBytes}`);
  const decoded = decodeEntries(raw, { objectsMax: BLOCK_OBJECTS_MAX, keyBytesMax: BACKUP_KEY_BYTES_MAX });
  if (!decoded.ok) throw new BackupFileError('corrupt', `${where}: ${decoded.reason}`);
  if (decoded.entries.length !== objects) throw new BackupFileError('corrupt', `${where} holds ${decoded.entries.length} objects, its header says ${objects}`);
  return decoded.entries;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

// --- whole files ---------------------------------------------------------------------------

export interface VerifiedBackup {
  readonly meta: BackupMeta;
  readonly totals: BackupTotals;
}

/** Reads the whole file, checking all of it; `visit` sees each block (after its checks). Throws BackupFileError. */
export async function readBackup(path: string, visit: (block: BackupBlock) => Promise<void> | void = () => {}): Promise<VerifiedBackup> {
  const reader = await BackupReader.open(path);
  try {
    for (let block = await reader.next(); block !== undefined; block = await reader.next()) await visit(block);
    return { meta: reader.meta, totals: reader.state.totals };
  } finally {
    await reader.close();
  }
}

/** What an interrupted backup file holds up to its last complete block: where `--resume` goes on. */
export interface Salvaged {
  readonly meta: BackupMeta;
  readonly totals: BackupTotals;
  readonly fileCrc: number;
  /** The partition of the next block, and the key it goes on after (undefined: from its start). */
  readonly partition: number;
  readonly cursor: Uint8Array | undefined;
  /** The file is complete (its trailer checked): nothing to resume. */
  readonly complete: boolean;
  /** Why the blocks after `totals.fileBytes` are not kept (a partial or damaged block), if any. */
  readonly dropped: string | undefined;
}

/** Reads an interrupted file up to its first incomplete or damaged block; a damaged header throws. */
export async function salvageBackup(path: string): Promise<Salvaged> {
  const reader = await BackupReader.open(path);
  let kept = { ...reader.state, cursor: undefined as Uint8Array | undefined };
  let dropped: string | undefined;
  let complete = false;
  try {
    for (;;) {
      const block = await reader.next();
      if (block === undefined) {
        complete = true;
        break;
      }
      kept = { ...reader.state, cursor: block.cursor };
    }
  } catch (error) {
    if (!(error instanceof BackupFileError)) throw error;
    dropped = error.message;
  } finally {
    await reader.close();
  }
  return { meta: reader.meta, totals: kept.totals, fileCrc: kept.fileCrc, partition: kept.nextPartition, cursor: kept.cursor, complete, dropped };
}
