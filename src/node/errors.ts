/**
 * Typed, coded errors of the node's request path. The API layers (HTTP, later RESP) map
 * each code to their own status; none of these errors changes anything stored.
 */

export type RequestErrorCode =
  | 'KEY_EMPTY'
  | 'KEY_TOO_LONG'
  | 'VALUE_TOO_LARGE'
  | 'CONTENT_TYPE_INVALID'
  | 'CONTEXT_INVALID'
  | 'REQUEST_OPTION_INVALID'
  | 'TOO_MANY_SIBLINGS'
  | 'NODE_NOT_SERVING'
  | 'REQUEST_TIMEOUT';

/** An error a client caused or should be told about (as opposed to a bug). */
export class RequestError extends Error {
  constructor(
    readonly code: RequestErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'RequestError';
  }
}

/** A write refused because the key already holds `siblingCount` siblings (the limit). */
export class TooManySiblingsError extends RequestError {
  constructor(
    readonly siblingCount: number,
    readonly siblingsMax: number,
  ) {
    super('TOO_MANY_SIBLINGS', `key has ${siblingCount} siblings (siblingsMax ${siblingsMax}): read it and write with its context to resolve them`);
    this.name = 'TooManySiblingsError';
  }
}

/** The request did not finish within requestTimeoutMs. It may still take effect (not a rollback). */
export class RequestTimeoutError extends RequestError {
  constructor(readonly timeoutMs: number) {
    super('REQUEST_TIMEOUT', `request did not finish within ${timeoutMs} ms; a write may still take effect`);
    this.name = 'RequestTimeoutError';
  }
}

export function isRequestError(error: unknown): error is RequestError {
  return error instanceof RequestError;
}
