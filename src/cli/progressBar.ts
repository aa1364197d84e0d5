/**
 * The progress line of a membership change being waited for: partitions done, objects
 * and bytes sent, rates and elapsed time, with a bar when the terminal has room. Pure:
 * the clock reading and the width come in as arguments.
 */
import { formatByteRate, formatBytes, formatCount, formatElapsed, formatObjectRate, plural } from './units.ts';

export interface ProgressSnapshot {
  readonly transfersDone: number;
  readonly transfersTotal: number;
  readonly objectsSent: number;
  readonly bytesSent: number;
  readonly objectsPerS: number;
  readonly bytesPerS: number;
  /** The plan's estimate of the objects to send, when known. */
  readonly objectsEstimate?: number;
  /** Nodes that did not report their progress to the node asked. */
  readonly nodesFailing?: number;
  /** The time left, when it can be told (a backup's or a restore's). */
  readonly etaMs?: number;
}

export interface ProgressFrame {
  readonly startedMs: number;
  readonly nowMs: number;
  /** Terminal columns; undefined for a plain line without a bar (logs, pipes). */
  readonly widthColumns?: number;
}

/** The bar takes a fifth of the terminal, within these bounds; narrower still and it is left out. */
export const BAR_COLUMNS_MIN = 10;
export const BAR_COLUMNS_MAX = 30;

/** How much the text says: everything, then without the objects estimate, then without the object rate. */
export type ProgressDetail = 'full' | 'no-estimate' | 'brief';
const DETAILS: readonly ProgressDetail[] = ['full', 'no-estimate', 'brief'];

/**
 * `[=====>    ] 12/24 partitions, 3,412 objects, 5.2 MiB, 1,204 obj/s, 1.8 MiB/s, 0:42` (`, ETA 0:40`
 * when the snapshot knows it).
 * With a width the line is kept shorter than it (a full-width line wraps on some
 * terminals, which breaks redrawing with \r): the bar's width depends on the terminal's
 * only (so it does not jump as the numbers grow), and the text says less when it must.
 */
export function progressLine(snapshot: ProgressSnapshot, frame: ProgressFrame): string {
  const elapsedMs = frame.nowMs - frame.startedMs;
  if (frame.widthColumns === undefined) return progressText(snapshot, elapsedMs);
  const room = frame.widthColumns - 1;
  const barColumns = Math.min(BAR_COLUMNS_MAX, Math.floor(frame.widthColumns / 5));
  for (const detail of DETAILS) {
    const text = progressText(snapshot, elapsedMs, detail);
    if (barColumns >= BAR_COLUMNS_MIN && barColumns + 3 + text.length <= room) {
      return `${bar(snapshot.transfersDone, snapshot.transfersTotal, barColumns)} ${text}`;
    }
  }
  return truncate(progressText(snapshot, elapsedMs, 'no-estimate'), room);
}

/** The line without its bar. */
export function progressText(snapshot: ProgressSnapshot, elapsedMs: number, detail: ProgressDetail = 'full'): string {
  const parts = [
    `${formatCount(snapshot.transfersDone)}/${plural(snapshot.transfersTotal, 'partition')}`,
    objectsPart(snapshot, detail === 'full'),
    formatBytes(snapshot.bytesSent),
    detail === 'brief' ? undefined : formatObjectRate(snapshot.objectsPerS),
    formatByteRate(snapshot.bytesPerS),
    formatElapsed(elapsedMs),
    snapshot.etaMs === undefined ? undefined : `ETA ${formatElapsed(snapshot.etaMs)}`,
  ];
  const failing = snapshot.nodesFailing ?? 0;
  if (failing > 0) parts.push(`${plural(failing, 'node')} not reporting`);
  return parts.filter((part) => part !== undefined).join(', ');
}

/** `[=====>    ]` with `columns` characters between the brackets. */
export function bar(done: number, total: number, columns: number): string {
  const fraction = total <= 0 ? 1 : Math.min(1, Math.max(0, done / total));
  const filled = Math.floor(fraction * columns);
  if (filled >= columns) return `[${'='.repeat(columns)}]`;
  if (filled === 0) return `[${' '.repeat(columns)}]`;
  return `[${'='.repeat(filled - 1)}>${' '.repeat(columns - filled)}]`;
}

function objectsPart(snapshot: ProgressSnapshot, withEstimate: boolean): string {
  const sent = plural(snapshot.objectsSent, 'object');
  if (!withEstimate || snapshot.objectsEstimate === undefined) return sent;
  return `${sent} of ~${formatCount(snapshot.objectsEstimate)}`;
}

function truncate(text: string, columns: number): string {
  if (text.length <= columns) return text;
  return columns <= 1 ? text.slice(0, Math.max(0, columns)) : `${text.slice(0, columns - 1)}…`;
}
