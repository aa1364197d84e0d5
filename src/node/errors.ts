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
  | 'REQUEST_TIMEOUT'
  | 'QUORUM_UNREACHABLE'
  | 'OVERLOADED';

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

/**
 * How many replicas one request needed and what became of them, for the client's 503
 * (`needed` is R or W; `answered` counts successful replies, the coordinator's own included).
 */
export interface ReplicaCounts {
  readonly needed: number;
  readonly answered: number;
  readonly failed: number;
  /** Replicas the request was sent to (stand-ins for failed ones included). */
  readonly targets: number;
}

/** The request did not finish within requestTimeoutMs. It may still take effect (not a rollback). */
export class RequestTimeoutError extends RequestError {
  constructor(
    readonly timeoutMs: number,
    readonly replicas?: ReplicaCounts,
  ) {
    super('REQUEST_TIMEOUT', `request did not finish within ${timeoutMs} ms${answeredText(replicas)}; a write may still take effect`);
    this.name = 'RequestTimeoutError';
  }
}

/** R or W can no longer be reached. A write may still take effect where it landed (not a rollback). */
export class QuorumUnreachableError extends RequestError {
  constructor(
    readonly operation: 'read' | 'write',
    readonly replicas: ReplicaCounts,
  ) {
    const { needed, answered, failed } = replicas;
    const mayHaveLanded = operation === 'write' && answered + failed > 0;
    const tail = mayHaveLanded ? '; the write may still take effect where it landed' : '';
    super('QUORUM_UNREACHABLE', `${operation} quorum unreachable: needed ${needed}${answeredText(replicas)}${tail}`);
    this.name = 'QuorumUnreachableError';
  }
}

/** The node coordinates requestsInFlightMax requests already. */
export class OverloadedError extends RequestError {
  constructor(readonly inFlightMax: number) {
    super('OVERLOADED', `node is coordinating ${inFlightMax} requests already (requestsInFlightMax); retry later`);
    this.name = 'OverloadedError';
  }
}

function answeredText(replicas: ReplicaCounts | undefined): string {
  if (replicas === undefined) return '';
  const { answered, failed, targets } = replicas;
  // Refused before asking anyone: too few nodes believed up.
  if (answered === 0 && failed === 0 && targets < replicas.needed) return `, only ${targets} reachable`;
  return `, ${answered} of ${targets} replicas answered (${failed} failed)`;
}

export function isRequestError(error: unknown): error is RequestError {
  return error instanceof RequestError;
}
