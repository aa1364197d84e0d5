/**
 * `shoal restore --node URL --in FILE [--resume] [--allow-old]`: writes a backup's objects
 * back through the node at URL (POST /admin/restore), which merges each into W or more owners
 * of its partition. A merge joins versions: it never supersedes a newer version, so what was
 * written since the backup stays.
 *
 * - The whole file is checked first (backupFile.ts: format version, every block's checksum
 *   and objects, the trailer): a truncated, corrupted or foreign file is refused before
 *   anything is sent.
 * - A backup older than the cluster's markerRetentionMs (less a margin) is refused without
 *   --allow-old: a key deleted after it was taken may have had its tombstone reaped by now,
 *   and the backup's version of it would come back.
 * - Progress is kept in FILE.restore-progress (the blocks acknowledged); `--resume` skips
 *   them. It is removed once the restore is done. Sending a block again is harmless.
 *
 * Exit codes: 0 done, 1 the node refused or could not be reached (or the backup is too old),
 * 2 usage or a file that is not an intact backup (nothing restored), 130 Ctrl-C.
 */
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { z } from 'zod';
import { encodedEntryBytes, encodeEntries, type KeyedBytes } from '../core/backup/entries.ts';
import { RESTORE_OBJECTS_MAX, RESTORE_PATH } from '../api/backupContract.ts';
import { EXIT_FAILURE, EXIT_OK, EXIT_USAGE, failure, parseNodeTarget, usageError, type NodeOptions, type NodeTarget } from './admin.ts';
import { adminBytesRequest } from './adminHttp.ts';
import type { AdminIo } from './adminIo.ts';
import { EXIT_INTERRUPTED, PLAIN_LINE_INTERVAL_MS, ProgressDisplay } from './adminWait.ts';
import { nodeFacts, BACKUP_REQUEST_MS_MAX, GaveUpError, withRetries, type NodeFacts } from './backup.ts';
import { BackupFileError, readBackup, type BackupBlock, type VerifiedBackup } from './backupFile.ts';
import { reasonOf, unlinkQuietly } from '../io/files.ts';
import type { ProgressSnapshot } from './progressBar.ts';
import { formatBytes, formatElapsed, formatSpan, plural } from './units.ts';

/** Objects are sent in requests of about this many bytes (well under the node's RESTORE_BODY_BYTES_MAX). */
export const RESTORE_REQUEST_BYTES_TARGET = 1024 * 1024;
/** The share of markerRetentionMs kept as a margin (clocks, the restore's own duration). */
export const RETENTION_MARGIN_FRACTION = 0.1;
export const PROGRESS_SUFFIX = '.restore-progress';

export interface RestoreOptions extends NodeOptions {
  readonly in: string;
  readonly resume?: boolean;
  readonly allowOld?: boolean;
}

/** The sidecar: which file (its size and checksum) and how many of its blocks are acknowledged. */
const progressSchema = z.object({ fileBytes: z.number(), blocks: z.number(), objects: z.number(), blocksDone: z.number().int().nonnegative() });
type SavedProgress = z.infer<typeof progressSchema>;

export async function runRestore(options: RestoreOptions, io: AdminIo): Promise<number> {
  const target = parseNodeTarget(options);
  if (!target.ok) return usageError(io, target.message);
  const verified = await verify(options.in, io);
  if (verified === undefined) return EXIT_USAGE;
  const facts = await nodeFacts(target.value, io);
  if (facts === undefined) return EXIT_FAILURE;
  const refusal = ageRefusal(verified, facts, io.nowMs(), options.allowOld === true);
  if (refusal !== undefined) return failure(io, refusal);
  const skip = options.resume === true ? blocksDone(options.in, verified, io) : 0;
  return restore(io, { target: target.value, path: options.in, verified, skip });
}

/** The whole file checked, or undefined after saying what is wrong with it. */
async function verify(path: string, io: AdminIo): Promise<VerifiedBackup | undefined> {
  try {
    return await readBackup(path);
  } catch (error) {
    const reason = error instanceof BackupFileError ? error.message : reasonOf(error);
    io.err(`error: ${path}: ${reason}; nothing was restored\n`);
    return undefined;
  }
}

/** Why the backup is too old to restore safely into a live cluster, if it is. */
export function ageRefusal(verified: VerifiedBackup, facts: NodeFacts, nowMs: number, allowOld: boolean): string | undefined {
  const retentionMs = facts.config.markerRetentionMs;
  const ageMs = nowMs - verified.meta.startedAtMs;
  if (allowOld || ageMs < retentionMs * (1 - RETENTION_MARGIN_FRACTION)) return undefined;
  return (
    `error: the backup is ${formatSpan(ageMs)} old, too close to the cluster's markerRetentionMs (${formatSpan(retentionMs)}): ` +
    'a key deleted since it was taken may have had its tombstone reaped, and would come back from it. ' +
    'Restore it with --allow-old into an empty cluster (or one where that does not matter); nothing was restored'
  );
}

/** Blocks already acknowledged by an earlier run on this same file (0 when none, or another file's). */
function blocksDone(path: string, verified: VerifiedBackup, io: AdminIo): number {
  let saved: SavedProgress;
  try {
    saved = progressSchema.parse(JSON.parse(readFileSync(progressPath(path), 'utf8')));
  } catch {
    io.err(`no progress of an earlier restore of ${path} (${progressPath(path)}): restoring it all\n`);
    return 0;
  }
  const { fileBytes, blocks, objects } = verified.totals;
  if (saved.fileBytes !== fileBytes || saved.blocks !== blocks || saved.objects !== objects || saved.blocksDone > blocks) {
    io.err(`${progressPath(path)} is of another backup file: restoring it all\n`);
    return 0;
  }
  io.err(`resuming: ${plural(saved.blocksDone, 'block')} of ${blocks} restored already\n`);
  return saved.blocksDone;
}

interface Run {
  readonly target: NodeTarget;
  readonly path: string;
  readonly verified: VerifiedBackup;
  readonly skip: number;
}

async function restore(io: AdminIo, run: Run): Promise<number> {
  const interrupt = new AbortController();
  const stopListening = io.onInterrupt(() => interrupt.abort());
  const progress = new RestoreProgress(io, run.verified);
  let index = 0;
  try {
    await readBackup(run.path, async (block) => {
      if (index >= run.skip) await restoreBlock(io, run, block, progress, interrupt.signal);
      index += 1;
      progress.blockDone(block);
      if (index > run.skip) saveProgress(run, index);
    });
    progress.finish();
    unlinkQuietly(progressPath(run.path));
    const { objects, rawBytes } = run.verified.totals;
    io.out(`restore done: ${plural(objects, 'object')} (${formatBytes(rawBytes)}) from ${run.path} in ${formatElapsed(progress.elapsedMs())}\n`);
    return EXIT_OK;
  } catch (error) {
    progress.finish();
    return stopped(io, run, index, error);
  } finally {
    stopListening();
  }
}

function stopped(io: AdminIo, run: Run, index: number, error: unknown): number {
  const resume = `continue with \`shoal restore --resume --in ${run.path} …\``;
  if (error instanceof GaveUpError) {
    io.err(`${error.message}\n${plural(index, 'block')} of ${run.verified.totals.blocks} restored: ${resume}\n`);
    return error.interrupted ? EXIT_INTERRUPTED : EXIT_FAILURE;
  }
  // The file changed since it was checked (or cannot be read any more).
  io.err(`error: ${run.path}: ${error instanceof Error ? error.message : String(error)}; ${plural(index, 'block')} restored\n`);
  return EXIT_FAILURE;
}

/** A block's objects, in requests of about RESTORE_REQUEST_BYTES_TARGET, each acknowledged (or failed for good). */
async function restoreBlock(io: AdminIo, run: Run, block: BackupBlock, progress: RestoreProgress, signal: AbortSignal): Promise<void> {
  const url = new URL(RESTORE_PATH, run.target.base);
  for (const chunk of requestChunks(block.entries)) {
    const bytes = encodeEntries(chunk);
    await withRetries<true>(io, signal, progress, `restoring partition ${block.partition}`, async () => {
      const answer = await adminBytesRequest(url, { method: 'POST', access: run.target.access, bytes, signal, timeoutMs: BACKUP_REQUEST_MS_MAX });
      return answer.kind === 'ok' ? { value: true } : { failure: answer, url };
    });
    progress.sent(chunk.length, bytes.length);
  }
}

function requestChunks(entries: readonly KeyedBytes[]): KeyedBytes[][] {
  const chunks: KeyedBytes[][] = [];
  let chunk: KeyedBytes[] = [];
  let bytes = 0;
  for (const entry of entries) {
    const size = encodedEntryBytes(entry);
    if (chunk.length > 0 && (bytes + size > RESTORE_REQUEST_BYTES_TARGET || chunk.length >= RESTORE_OBJECTS_MAX)) {
      chunks.push(chunk);
      chunk = [];
      bytes = 0;
    }
    chunk.push(entry);
    bytes += size;
  }
  if (chunk.length > 0) chunks.push(chunk);
  return chunks;
}

function progressPath(path: string): string {
  return `${path}${PROGRESS_SUFFIX}`;
}

/** Written to a temporary file and renamed, so a crash leaves the old progress or the new. */
function saveProgress(run: Run, blocksDone: number): void {
  const { fileBytes, blocks, objects } = run.verified.totals;
  const saved: SavedProgress = { fileBytes, blocks, objects, blocksDone };
  const path = progressPath(run.path);
  writeFileSync(`${path}.tmp`, JSON.stringify(saved));
  renameSync(`${path}.tmp`, path);
}

/** The progress line of a restore: partitions, objects and bytes sent, rates, and the time left by file bytes. */
class RestoreProgress {
  private readonly display: ProgressDisplay;
  private readonly startedMs: number;
  private partitionsDone = 0;
  /** Of the blocks done (skipped ones included), and sent of the block in progress. */
  private objects = 0;
  private objectsInBlock = 0;
  private rawBytes = 0;
  private fileOffset = 0;
  /** Sent by this run, for the rates. */
  private sentObjects = 0;
  private sentBytes = 0;
  /** Where this run began sending (past the blocks a resume skipped), for the time left. */
  private firstSentOffset: number | undefined;

  constructor(
    private readonly io: AdminIo,
    private readonly verified: VerifiedBackup,
  ) {
    this.startedMs = io.nowMs();
    this.display = new ProgressDisplay(io, this.startedMs, PLAIN_LINE_INTERVAL_MS);
  }

  elapsedMs(): number {
    return this.io.nowMs() - this.startedMs;
  }

  sent(objects: number, bytes: number): void {
    this.firstSentOffset ??= this.fileOffset;
    this.sentObjects += objects;
    this.sentBytes += bytes;
    this.objectsInBlock += objects;
    this.display.show(this.snapshot());
  }

  blockDone(block: BackupBlock): void {
    this.objects += block.entries.length;
    this.objectsInBlock = 0;
    this.rawBytes += block.rawBytes;
    this.fileOffset = block.endOffset;
    if (block.cursor === undefined) this.partitionsDone += 1;
  }

  message(text: string): void {
    this.display.message(text);
  }

  finish(): void {
    this.display.finish(this.snapshot());
  }

  private snapshot(): ProgressSnapshot {
    const elapsedS = Math.max(0.001, this.elapsedMs() / 1000);
    const { totals, meta } = this.verified;
    const base = {
      transfersDone: this.partitionsDone,
      transfersTotal: meta.partitionCount,
      objectsSent: this.objects + this.objectsInBlock,
      bytesSent: this.rawBytes,
      objectsPerS: this.sentObjects / elapsedS,
      bytesPerS: this.sentBytes / elapsedS,
      objectsEstimate: totals.objects,
    };
    const doneBytes = this.fileOffset - (this.firstSentOffset ?? this.fileOffset);
    return doneBytes > 0 ? { ...base, etaMs: (elapsedS * 1000 * (totals.fileBytes - this.fileOffset)) / doneBytes } : base;
  }
}
