/**
 * Warnings about refused clients and peers (wrong passwords, cross-origin requests, failed
 * TLS handshakes, connection limits…), at most one line per kind every
 * REFUSAL_LOG_INTERVAL_MS with the count since the last one, so a flood of bad requests
 * cannot flood the log. Each line carries the latest refusal's fields (its source address
 * and user name — never a password).
 */
import type { Logger } from '../ports/logger.ts';

/** A kind of refusal is logged at most this often. */
export const REFUSAL_LOG_INTERVAL_MS = 10_000;

interface KindState {
  loggedMs: number;
  /** Refusals since the last line, the one that will be logged included. */
  count: number;
}

export class RefusalLog {
  /** One entry per kind; callers pass a fixed set of kinds (error codes), so it stays small. */
  private readonly kinds = new Map<string, KindState>();

  constructor(
    private readonly logger: Logger,
    private readonly nowMs: () => number = Date.now,
    private readonly intervalMs = REFUSAL_LOG_INTERVAL_MS,
  ) {}

  /** Counts a refusal of `kind`; logs it (with the count) when the last line of that kind is old enough. */
  note(kind: string, fields: Readonly<Record<string, unknown>>, message: string): void {
    let state = this.kinds.get(kind);
    if (state === undefined) {
      state = { loggedMs: -Infinity, count: 0 };
      this.kinds.set(kind, state);
    }
    state.count += 1;
    const nowMs = this.nowMs();
    if (nowMs - state.loggedMs < this.intervalMs) return;
    this.logger.warn({ ...fields, kind, refused: state.count, intervalMs: this.intervalMs }, message);
    state.loggedMs = nowMs;
    state.count = 0;
  }
}
