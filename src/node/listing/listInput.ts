/**
 * A listing page as a client asks for it, and the checks every entry to a listing makes
 * (a node's API, the client's client-driven mode): coded errors, nothing listed.
 */
import { decodeListToken, LIST_PAGE_KEYS_MAX } from '../../core/listing.ts';
import { RequestError } from '../errors.ts';

/** One page of a key listing, as a client asks for it. */
export interface ListInput {
  /** Only keys that start with these bytes (empty: every key). */
  readonly prefix: Uint8Array;
  /** The previous page's continuation: the page starts after this key. */
  readonly after: Uint8Array | undefined;
  /** Keys on the page at most (1 to LIST_PAGE_KEYS_MAX). */
  readonly limit: number;
}

export function checkListInput(input: ListInput, keyBytesMax: number): void {
  if (input.prefix.length > keyBytesMax) {
    throw new RequestError('REQUEST_OPTION_INVALID', `prefix is ${input.prefix.length} bytes, longer than keyBytesMax (${keyBytesMax})`);
  }
  if (!Number.isInteger(input.limit) || input.limit < 1 || input.limit > LIST_PAGE_KEYS_MAX) {
    throw new RequestError('REQUEST_OPTION_INVALID', `limit must be an integer from 1 to ${LIST_PAGE_KEYS_MAX}, got ${String(input.limit)}`);
  }
  const after = input.after;
  if (after !== undefined && (after.length === 0 || after.length > keyBytesMax)) {
    throw new RequestError('LIST_TOKEN_INVALID', `the continuation names a key of ${after.length} bytes; keys are 1-${keyBytesMax} bytes`);
  }
}

/** The key a client's continuation token names (none without one); LIST_TOKEN_INVALID for a malformed token. */
export function listTokenAfter(token: string | undefined, keyBytesMax: number): Uint8Array | undefined {
  if (token === undefined || token === '') return undefined;
  const decoded = decodeListToken(token, keyBytesMax);
  if ('reason' in decoded) throw new RequestError('LIST_TOKEN_INVALID', `after is not a continuation token of a listing: ${decoded.reason}`);
  return decoded.after;
}
