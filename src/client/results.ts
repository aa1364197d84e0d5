/** What the client's calls answer, and how it fails: the same in both coordination modes. */
import type { ErrorCode } from '../node/errors.ts';

/** One version of a key, as a read that found several shows it. */
export interface ClientSibling {
  readonly value: Uint8Array;
  readonly contentType: string;
  /** A delete's tombstone (its value is empty). */
  readonly deleted: boolean;
}

/**
 * A read: no live version (never written, or deleted), one value, or conflicting versions
 * (tombstones included) for the caller to reconcile. `context` goes with the next write of
 * the key: a write that carries it supersedes exactly the versions this read saw.
 */
export type GetResult =
  | { readonly kind: 'absent'; readonly context: string }
  | { readonly kind: 'value'; readonly value: Uint8Array; readonly contentType: string; readonly context: string }
  | { readonly kind: 'siblings'; readonly siblings: readonly ClientSibling[]; readonly context: string };

export interface WriteResult {
  /** Names the version just written (and the replica that coordinated it). */
  readonly context: string;
}

/** What a `resolve` callback returns: the value to write over the siblings, or a delete. */
export type Resolution = Uint8Array | string | { readonly value: Uint8Array | string; readonly contentType?: string } | { readonly deleted: true };

/**
 * Codes: the node's (KEY_TOO_LONG, QUORUM_UNREACHABLE, REQUEST_TIMEOUT, TOO_MANY_SIBLINGS,
 * …), and the client's own: UNAVAILABLE (no node could be reached or gave a usable
 * answer within the deadline), BAD_ANSWER (a node answered something that is not Shoal's
 * protocol, and no other did better); and the node's refusals of the client itself:
 * UNAUTHENTICATED (no or wrong `auth`), FORBIDDEN (the user's role is too low).
 */
/** A page of a key listing: the keys in byte order, and the token of the next page (none once complete). */
export interface ListPage {
  readonly keys: string[];
  readonly next: string | undefined;
}

export type ClientErrorCode = ErrorCode | 'UNAVAILABLE' | 'BAD_ANSWER' | 'UNAUTHENTICATED' | 'FORBIDDEN' | 'AUTH_BUSY';

export class ShoalClientError extends Error {
  override readonly name = 'ShoalClientError';

  constructor(
    readonly code: ClientErrorCode,
    message: string,
    /** What each attempt met, in order (node and reason). */
    readonly attempts: readonly string[] = [],
    /** The HTTP status of the answer the error came from (server mode). */
    readonly status?: number,
  ) {
    super(message);
  }

  /** True when a write that failed so may still take effect (it reached a coordinator). */
  get mayHaveLanded(): boolean {
    return this.code === 'QUORUM_UNREACHABLE' || this.code === 'REQUEST_TIMEOUT' || this.code === 'UNAVAILABLE';
  }
}
