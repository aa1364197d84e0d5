/**
 * `shoal backup --node URL --out FILE [--resume]`: every object of the cluster, partition by
 * partition, into one file (backupFile.ts). The node at URL gathers each page from every
 * reachable owner of the partition (GET /admin/backup/:partition); a page it cannot gather
 * (503, no answer) is asked again a few times, then the command stops with the complete
 * blocks written: `--resume` goes on from the last of them. So does Ctrl-C (exit 130).
 *
 * Exit codes: 0 done, 1 the node refused or could not be reached (the file kept for
 * --resume), 2 usage (a bad flag, a file that cannot be resumed), 130 Ctrl-C.
 */
import { existsSync } from 'node:fs';
import { z } from 'zod';
import { decodeBase64Url, encodeBase64Url } from '../core/base64url.ts';
import { decodeEntries, encodedEntryBytes, type KeyedBytes } from '../core/backup/entries.ts';
import { BACKUP_NEXT_HEADER, BACKUP_PAGE_OBJECTS_DEFAULT, BACKUP_PAGE_OBJECTS_MAX, BACKUP_PATH } from '../api/backupContract.ts';
import { EXIT_FAILURE, EXIT_OK, failure, parseNodeTarget, usageError, type NodeOptions, type NodeTarget } from './admin.ts';
import { adminBytesRequest, adminRequest, describeFailure, type AdminFailure } from './adminHttp.ts';
import type { AdminIo } from './adminIo.ts';
import { EXIT_INTERRUPTED, PLAIN_LINE_INTERVAL_MS, ProgressDisplay } from './adminWait.ts';
import { BACKUP_KEY_BYTES_MAX, BackupFileError, BackupWriter, BLOCK_RAW_BYTES_TARGET, salvageBackup, type BackupMeta, type BackupTotals } from './backupFile.ts';
import { reasonOf } from '../io/files.ts';
import type { ProgressSnapshot } from './progressBar.ts';
import { formatBytes, formatElapsed, plural } from './units.ts';

/** A page that failed with a 503 or no answer is asked for this many times in all. */
export const PAGE_ATTEMPTS_MAX = 6;
/** The wait before the second attempt; it doubles with each one after. */
export const RETRY_DELAY_MS = 500;
/** How long one page or one restore request may take: the node asks the owners, each may rest first. */
export const BACKUP_REQUEST_MS_MAX = 60_000;

export interface BackupOptions extends NodeOptions {
  readonly out: string;
  readonly resume?: boolean;
  readonly pageObjects?: string;
}

/** What the commands need from `GET /admin/status`. */
export const statusSchema = z.object({
  state: z.literal('serving'),
  clusterName: z.string(),
  cluster: z.object({ partitionCount: z.number().int().positive() }),
  config: z.object({ markerRetentionMs: z.number().int().nonnegative() }),
});
export type NodeFacts = z.infer<typeof statusSchema>;

interface Page {
  readonly entries: KeyedBytes[];
  readonly rawBytes: number;
  readonly next: Uint8Array | undefined;
}

/** Where the backup starts: a new file, or an interrupted one's last complete block. */
interface Start {
  readonly writer: BackupWriter;
  readonly partition: number;
  readonly cursor: Uint8Array | undefined;
}

/** Stops the command with an exit code after saying why. */
class Stop extends Error {
  constructor(readonly exitCode: number) {
    super(`exit ${exitCode}`);
  }
}

export async function runBackup(options: BackupOptions, io: AdminIo): Promise<number> {
  const target = parseNodeTarget(options);
  if (!target.ok) return usageError(io, target.message);
  const pageObjects = parsePageObjects(options.pageObjects);
  if (!pageObjects.ok) return usageError(io, pageObjects.message);
  const facts = await nodeFacts(target.value, io);
  if (facts === undefined) return EXIT_FAILURE;
  const startedMs = io.nowMs();
  try {
    const start = await openOutput(options, facts, target.value, io);
    return await backUp(io, { target: target.value, pageObjects: pageObjects.value, partitionCount: facts.cluster.partitionCount, out: options.out, startedMs }, start);
  } catch (error) {
    if (error instanceof Stop) return error.exitCode;
    throw error;
  }
}

/** The node's status, or undefined after saying why it could not be had. */
export async function nodeFacts(target: NodeTarget, io: AdminIo): Promise<NodeFacts | undefined> {
  const url = new URL('/admin/status', target.base);
  const answer = await adminRequest(url, statusSchema, { access: target.access });
  if (answer.kind === 'ok') return answer.value;
  failure(io, describeFailure(url, answer));
  return undefined;
}

async function openOutput(options: BackupOptions, facts: NodeFacts, target: NodeTarget, io: AdminIo): Promise<Start> {
  const path = options.out;
  if (options.resume === true && existsSync(path)) return resumeOutput(path, facts, io);
  if (options.resume === true) io.err(`${path} does not exist yet: starting a new backup\n`);
  const meta: BackupMeta = { clusterName: facts.clusterName, partitionCount: facts.cluster.partitionCount, startedAtMs: io.nowMs(), node: target.base.origin };
  try {
    return { writer: await BackupWriter.create(path, meta), partition: 0, cursor: undefined };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') throw stop(io, EXIT_FAILURE, `error: ${path} exists: --resume goes on with it, or remove it to start over`);
    throw stop(io, EXIT_FAILURE, `error: cannot create ${path}: ${reasonOf(error)}`);
  }
}

async function resumeOutput(path: string, facts: NodeFacts, io: AdminIo): Promise<Start> {
  let salvaged;
  try {
    salvaged = await salvageBackup(path);
  } catch (error) {
    if (error instanceof BackupFileError) throw stop(io, 2, `error: cannot resume ${path}: ${error.message}`);
    throw stop(io, EXIT_FAILURE, `error: cannot read ${path}: ${reasonOf(error)}`);
  }
  if (salvaged.complete) throw stop(io, EXIT_OK, `${path} is a complete backup already (${plural(salvaged.totals.objects, 'object')}): nothing to resume`);
  const { meta } = salvaged;
  if (meta.partitionCount !== facts.cluster.partitionCount || meta.clusterName !== facts.clusterName) {
    throw stop(io, EXIT_FAILURE, `error: ${path} is a backup of cluster ${meta.clusterName} with ${meta.partitionCount} partitions; the node is in ${facts.clusterName} with ${facts.cluster.partitionCount}: start a new backup`);
  }
  if (salvaged.dropped !== undefined) io.err(`resuming after block ${salvaged.totals.blocks}: the rest is cut off (${salvaged.dropped})\n`);
  io.err(`resuming ${path} at partition ${salvaged.partition} (${plural(salvaged.totals.objects, 'object')} kept)\n`);
  return { writer: await BackupWriter.resume(path, salvaged), partition: salvaged.partition, cursor: salvaged.cursor };
}

interface Run {
  readonly target: NodeTarget;
  readonly pageObjects: number;
  readonly partitionCount: number;
  readonly out: string;
  readonly startedMs: number;
}

async function backUp(io: AdminIo, run: Run, start: Start): Promise<number> {
  const interrupt = new AbortController();
  const stopListening = io.onInterrupt(() => interrupt.abort());
  const progress = new BackupProgress(io, run, start);
  try {
    for (let partition = start.partition; partition < run.partitionCount; partition++) {
      await backUpPartition(io, run, start.writer, partition, partition === start.partition ? start.cursor : undefined, progress, interrupt.signal);
      progress.partitionDone(partition);
    }
    const totals = await start.writer.finish();
    progress.finish();
    io.out(`backup done: ${run.out}, ${plural(totals.objects, 'object')} in ${plural(run.partitionCount, 'partition')}, ${formatBytes(totals.fileBytes)} (${formatBytes(totals.rawBytes)} before compression) in ${formatElapsed(io.nowMs() - run.startedMs)}\n`);
    return EXIT_OK;
  } catch (error) {
    progress.finish();
    await start.writer.close().catch(() => undefined);
    const reason = error instanceof GaveUpError ? error.message : `error: writing ${run.out}: ${reasonOf(error)}`;
    io.err(`${reason}\n${plural(start.writer.written.blocks, 'complete block')} kept in ${run.out}: continue with \`shoal backup --resume --out ${run.out} …\`\n`);
    return error instanceof GaveUpError && error.interrupted ? EXIT_INTERRUPTED : EXIT_FAILURE;
  } finally {
    stopListening();
  }
}

/**
 * One partition, page by page, in blocks of about BLOCK_RAW_BYTES_TARGET; the last block ends
 * the partition. The next page is asked for while this one is written.
 */
async function backUpPartition(io: AdminIo, run: Run, writer: BackupWriter, partition: number, from: Uint8Array | undefined, progress: BackupProgress, signal: AbortSignal): Promise<void> {
  let pending: KeyedBytes[] = [];
  let pendingBytes = 0;
  let cursor = from;
  let upcoming = fetchPage(io, run, partition, cursor, progress, signal);
  for (;;) {
    const page = await upcoming;
    if (page.next !== undefined) {
      upcoming = fetchPage(io, run, partition, page.next, progress, signal);
      upcoming.catch(() => undefined); // awaited next turn, unless writing failed first
    }
    if (pending.length > 0 && pendingBytes + page.rawBytes > BLOCK_RAW_BYTES_TARGET) {
      await writer.writeBlock(partition, pending, cursor);
      pending = [];
      pendingBytes = 0;
    }
    pending = pending.concat(page.entries);
    pendingBytes += page.rawBytes;
    progress.received(page);
    cursor = page.next;
    if (cursor === undefined) return writer.writeBlock(partition, pending, undefined);
    if (pendingBytes >= BLOCK_RAW_BYTES_TARGET) {
      await writer.writeBlock(partition, pending, cursor);
      pending = [];
      pendingBytes = 0;
    }
  }
}

/** A page or a restore request could not be done (after retries), or Ctrl-C. */
export class GaveUpError extends Error {
  constructor(
    message: string,
    readonly interrupted: boolean,
  ) {
    super(message);
  }
}

async function fetchPage(io: AdminIo, run: Run, partition: number, after: Uint8Array | undefined, progress: BackupProgress, signal: AbortSignal): Promise<Page> {
  const url = new URL(`${BACKUP_PATH}/${partition}`, run.target.base);
  url.searchParams.set('limit', String(run.pageObjects));
  if (after !== undefined) url.searchParams.set('after', encodeBase64Url(after));
  return withRetries<Page>(io, signal, progress, `partition ${partition}`, async () => {
    const answer = await adminBytesRequest(url, { access: run.target.access, signal, timeoutMs: BACKUP_REQUEST_MS_MAX });
    if (answer.kind !== 'ok') return { failure: answer, url };
    const next = answer.headers[BACKUP_NEXT_HEADER];
    const decoded = decodeEntries(answer.body, { objectsMax: run.pageObjects, keyBytesMax: BACKUP_KEY_BYTES_MAX });
    const nextKey = typeof next === 'string' ? decodeBase64Url(next) : undefined;
    if (!decoded.ok || (next !== undefined && (nextKey === undefined || nextKey.length === 0))) {
      return { failure: { kind: 'malformed', message: `${url.origin} answered a page of partition ${partition} that does not decode${decoded.ok ? '' : `: ${decoded.reason}`}` }, url };
    }
    const rawBytes = decoded.entries.reduce((sum, entry) => sum + encodedEntryBytes(entry), 0);
    return { value: { entries: decoded.entries, rawBytes, next: nextKey } };
  });
}

export type Attempt<T> = { readonly value: T } | { readonly failure: AdminFailure; readonly url: URL };

/** Whether a failed request is worth asking again: no answer, or a 503 (no owner reachable, not in time). */
function retryable(failure: AdminFailure): boolean {
  return failure.kind === 'unreachable' || (failure.kind === 'refused' && failure.status === 503);
}

/** Runs `attempt` until it succeeds, fails for good, PAGE_ATTEMPTS_MAX have failed, or Ctrl-C. */
export async function withRetries<T>(io: AdminIo, signal: AbortSignal, display: { message(text: string): void }, what: string, attempt: () => Promise<Attempt<T>>): Promise<T> {
  let delayMs = RETRY_DELAY_MS;
  for (let round = 1; ; round++) {
    if (signal.aborted) throw new GaveUpError('interrupted (Ctrl-C)', true);
    const outcome = await attempt();
    if ('value' in outcome) return outcome.value;
    if (signal.aborted) throw new GaveUpError('interrupted (Ctrl-C)', true);
    const reason = describeFailure(outcome.url, outcome.failure);
    if (!retryable(outcome.failure) || round >= PAGE_ATTEMPTS_MAX) throw new GaveUpError(`${what} failed${round > 1 ? ` ${round} times` : ''}: ${reason}`, false);
    display.message(`${what}: ${reason}; trying again in ${delayMs} ms`);
    await io.sleep(delayMs, signal);
    delayMs *= 2;
  }
}

function parsePageObjects(text: string | undefined): { ok: true; value: number } | { ok: false; message: string } {
  if (text === undefined) return { ok: true, value: BACKUP_PAGE_OBJECTS_DEFAULT };
  const value = /^\d+$/.test(text) ? Number(text) : Number.NaN;
  if (value >= 1 && value <= BACKUP_PAGE_OBJECTS_MAX) return { ok: true, value };
  return { ok: false, message: `--page-objects must be an integer 1-${BACKUP_PAGE_OBJECTS_MAX}, got ${JSON.stringify(text)}` };
}

function stop(io: AdminIo, exitCode: number, message: string): Stop {
  (exitCode === EXIT_OK ? io.out : io.err)(`${message}\n`);
  return new Stop(exitCode);
}

/** The progress line of a backup: partitions, objects and bytes received, rates, and the time left by partitions. */
class BackupProgress {
  private readonly display: ProgressDisplay;
  private readonly startedMs: number;
  private readonly firstPartition: number;
  private partitionsDone: number;
  private objects: number;
  private bytes: number;
  private readonly objectsBefore: number;
  private readonly bytesBefore: number;

  constructor(
    private readonly io: AdminIo,
    private readonly run: Run,
    start: Start,
  ) {
    this.startedMs = io.nowMs();
    this.display = new ProgressDisplay(io, this.startedMs, PLAIN_LINE_INTERVAL_MS);
    const kept: BackupTotals = start.writer.written;
    this.firstPartition = start.partition;
    this.partitionsDone = start.partition;
    this.objects = this.objectsBefore = kept.objects;
    this.bytes = this.bytesBefore = kept.rawBytes;
  }

  received(page: Page): void {
    this.objects += page.entries.length;
    this.bytes += page.rawBytes;
    this.display.show(this.snapshot());
  }

  partitionDone(partition: number): void {
    this.partitionsDone = partition + 1;
    this.display.show(this.snapshot());
  }

  message(text: string): void {
    this.display.message(text);
  }

  finish(): void {
    this.display.finish(this.snapshot());
  }

  private snapshot(): ProgressSnapshot {
    const elapsedS = Math.max(0.001, (this.io.nowMs() - this.startedMs) / 1000);
    const done = this.partitionsDone - this.firstPartition;
    const left = this.run.partitionCount - this.partitionsDone;
    const base = {
      transfersDone: this.partitionsDone,
      transfersTotal: this.run.partitionCount,
      objectsSent: this.objects,
      bytesSent: this.bytes,
      objectsPerS: (this.objects - this.objectsBefore) / elapsedS,
      bytesPerS: (this.bytes - this.bytesBefore) / elapsedS,
    };
    return done > 0 ? { ...base, etaMs: (elapsedS * 1000 * left) / done } : base;
  }
}
