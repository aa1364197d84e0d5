/**
 * Human units for the admin commands' output: byte sizes (binary: KiB, MiB, …), counts
 * with thousands separators, rates and elapsed times. Pure, locale-independent.
 */

const BYTE_UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'] as const;
const BYTES_PER_UNIT = 1024;

/** `512 B`, `5.2 MiB`, `120 MiB`, `1.0 GiB`: one decimal below 100, none above. */
export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes) || bytes < 0) return '? B';
  let value = bytes;
  let unit = 0;
  while (unit < BYTE_UNITS.length - 1 && roundForDisplay(value) >= BYTES_PER_UNIT) {
    value /= BYTES_PER_UNIT;
    unit += 1;
  }
  const text = unit === 0 ? String(Math.round(value)) : roundedText(value);
  return `${text} ${BYTE_UNITS[unit]}`;
}

/** `1,234,567`: rounded to an integer, with comma thousands separators. */
export function formatCount(count: number): string {
  if (!Number.isFinite(count)) return '?';
  const digits = String(Math.round(Math.abs(count)));
  const grouped = digits.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  return count < 0 ? `-${grouped}` : grouped;
}

/** `5.2 MiB/s`. */
export function formatByteRate(bytesPerS: number): string {
  return `${formatBytes(bytesPerS)}/s`;
}

/** `1,204 obj/s`. */
export function formatObjectRate(objectsPerS: number): string {
  return `${formatCount(objectsPerS)} obj/s`;
}

/** `0:42`, `12:03`, `1:02:03` (whole seconds, rounded down). */
export function formatElapsed(elapsedMs: number): string {
  const totalS = Math.max(0, Math.floor(elapsedMs / 1000));
  const hours = Math.floor(totalS / 3600);
  const minutes = Math.floor((totalS % 3600) / 60);
  const seconds = String(totalS % 60).padStart(2, '0');
  if (hours === 0) return `${minutes}:${seconds}`;
  return `${hours}:${String(minutes).padStart(2, '0')}:${seconds}`;
}

/** `45 s`, `3.5 h`, `12.0 days`: a long span (an age, a retention) as people say it. */
export function formatSpan(ms: number): string {
  const seconds = Math.max(0, ms) / 1000;
  if (seconds < 120) return `${Math.round(seconds)} s`;
  const hours = seconds / 3600;
  return hours < 48 ? `${hours.toFixed(1)} h` : `${(hours / 24).toFixed(1)} days`;
}

/** `1 partition`, `3 partitions`. */
export function plural(count: number, noun: string): string {
  return `${formatCount(count)} ${noun}${count === 1 ? '' : 's'}`;
}

function roundForDisplay(value: number): number {
  return value < 100 ? Math.round(value * 10) / 10 : Math.round(value);
}

function roundedText(value: number): string {
  const rounded = roundForDisplay(value);
  return rounded < 100 ? rounded.toFixed(1) : String(Math.round(rounded));
}
