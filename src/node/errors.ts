/**
 * Typed, coded errors of the node, and the one table that says what each code becomes in
 * every protocol: an HTTP status (with the code in the JSON body), a RESP error reply's
 * first word, and an internode error reply (which carries the code itself). None of these
 * errors changes anything stored.
 */

/** The codes a client can see: wrong input, and the node's refusals and failures. */
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
  | 'PARTITION_UNREACHABLE'
  | 'LIST_TOKEN_INVALID'
  | 'OVERLOADED'
  | 'BUFFER_FULL'
  | 'HINTS_FULL'
  | 'STORAGE_ERROR'
  | 'INTERNAL';

/** Codes only nodes send each other. */
export type ProtocolErrorCode = 'BAD_MESSAGE' | 'PARTITION_NOT_HELD' | 'UNKNOWN_MEMBER' | 'EXCHANGE_REFUSED' | 'TRANSFER_UNEXPECTED' | 'NOT_PERMITTED' | 'WRITE_DUPLICATE';

export type ErrorCode = RequestErrorCode | ProtocolErrorCode;

/**
 * RESP error words: ERR (the request is wrong, or storage failed: the same request will not
 * do better), TRYAGAIN (no quorum, or not in time, or the node is stopping: retry, here or
 * elsewhere; a write may still take effect where it landed), BUSY (overloaded: retry later).
 */
export type RespErrorWord = 'ERR' | 'TRYAGAIN' | 'BUSY';

interface Translation {
  readonly httpStatus: number;
  readonly resp: RespErrorWord;
  /** Not the client's doing nor a refusal: a failure worth a log line. */
  readonly unexpected: boolean;
}

const refusal = (httpStatus: number, resp: RespErrorWord): Translation => ({ httpStatus, resp, unexpected: false });

/** Every code, in every protocol. */
export const ERROR_TRANSLATIONS: { readonly [C in ErrorCode]: Translation } = {
  KEY_EMPTY: refusal(400, 'ERR'),
  KEY_TOO_LONG: refusal(414, 'ERR'),
  VALUE_TOO_LARGE: refusal(413, 'ERR'),
  CONTENT_TYPE_INVALID: refusal(400, 'ERR'),
  CONTEXT_INVALID: refusal(400, 'ERR'),
  REQUEST_OPTION_INVALID: refusal(400, 'ERR'),
  TOO_MANY_SIBLINGS: refusal(409, 'ERR'),
  NODE_NOT_SERVING: refusal(503, 'TRYAGAIN'),
  REQUEST_TIMEOUT: refusal(503, 'TRYAGAIN'),
  QUORUM_UNREACHABLE: refusal(503, 'TRYAGAIN'),
  PARTITION_UNREACHABLE: refusal(503, 'TRYAGAIN'),
  LIST_TOKEN_INVALID: refusal(400, 'ERR'),
  OVERLOADED: refusal(503, 'BUSY'),
  BUFFER_FULL: refusal(503, 'BUSY'),
  HINTS_FULL: refusal(503, 'BUSY'),
  STORAGE_ERROR: { httpStatus: 500, resp: 'ERR', unexpected: true },
  INTERNAL: { httpStatus: 500, resp: 'ERR', unexpected: true },
  BAD_MESSAGE: refusal(400, 'ERR'),
  UNKNOWN_MEMBER: refusal(409, 'ERR'),
  PARTITION_NOT_HELD: refusal(409, 'ERR'),
  EXCHANGE_REFUSED: refusal(409, 'ERR'),
  TRANSFER_UNEXPECTED: refusal(409, 'ERR'),
  NOT_PERMITTED: refusal(403, 'ERR'),
  WRITE_DUPLICATE: refusal(409, 'ERR'),
};

export const ERROR_CODES: ReadonlySet<string> = new Set(Object.keys(ERROR_TRANSLATIONS));

/** An error a client caused or should be told about (as opposed to a bug). */
export class RequestError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
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

/** What an error becomes for a protocol: its code, status and words, and the replica counts of a missed quorum. */
export interface TranslatedError extends Translation {
  readonly code: ErrorCode;
  readonly message: string;
  readonly replicas: ReplicaCounts | undefined;
}

/** Any error as the protocols show it; anything not coded (a bug) is INTERNAL, its text kept back. */
export function translateError(error: unknown): TranslatedError {
  if (error instanceof RequestError) {
    const replicas = error instanceof QuorumUnreachableError || error instanceof RequestTimeoutError ? error.replicas : undefined;
    return { code: error.code, message: error.message, replicas, ...ERROR_TRANSLATIONS[error.code] };
  }
  return { code: 'INTERNAL', message: 'internal error', replicas: undefined, ...ERROR_TRANSLATIONS.INTERNAL };
}
