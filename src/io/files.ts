/** Small file-system helpers the io and cli modules share. */
import { unlinkSync } from 'node:fs';

/** Removes a file if it is there; one already gone (or never made) is fine. */
export function unlinkQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // already gone
  }
}

/** An error's message for a user's eyes (Node's names the code, the call and the path). */
export function reasonOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
