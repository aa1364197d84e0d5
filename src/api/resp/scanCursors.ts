/**
 * SCAN cursors as Redis clients expect them: unsigned 64-bit decimal numbers (redis-cli
 * parses the cursor with strtoull and stops at 0; redis-py converts it to an int). A
 * listing's continuation is a key, so the server keeps each cursor's key in a bounded
 * table, oldest forgotten first; a forgotten or unknown cursor is refused, never guessed.
 * Cursor numbers start at a random point, so a cursor from before a restart names nothing.
 */
import { randomInt } from 'node:crypto';

/** Cursors remembered per server at most: a forgotten one must start its SCAN again. */
export const SCAN_CURSORS_MAX = 10_000;

export class ScanCursors {
  private readonly positions = new Map<string, Uint8Array>();
  private next: number;

  constructor(
    private readonly cursorsMax = SCAN_CURSORS_MAX,
    first = randomInt(1, 2 ** 47),
  ) {
    this.next = first;
  }

  /** A new cursor for the listing's continuation. */
  remember(after: Uint8Array): string {
    const cursor = String(this.next++);
    this.positions.set(cursor, after);
    for (const oldest of this.positions.keys()) {
      if (this.positions.size <= this.cursorsMax) break;
      this.positions.delete(oldest);
    }
    return cursor;
  }

  /** The continuation a cursor stands for; undefined when it is unknown or forgotten. */
  positionOf(cursor: string): Uint8Array | undefined {
    return this.positions.get(cursor);
  }
}
