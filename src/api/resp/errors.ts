/**
 * Node errors as RESP error replies. The first word is the code a client can act on:
 *
 *   ERR       the request is wrong (key, value, context, too many siblings) or storage
 *             failed; retrying the same request does not help
 *   TRYAGAIN  the quorum was not reached, or not in time, or the node is stopping: retry,
 *             on this node or another; a write may still take effect where it landed
 *   BUSY      the node is overloaded (requests in flight, a full write buffer): retry later
 */
import { StorageError } from '../../ports/storage.ts';
import { CorruptObjectError } from '../../storage/objectCodec.ts';
import { BufferFullError, StoreClosedError } from '../../storage/objectStore.ts';
import { RequestError, type RequestErrorCode } from '../../node/errors.ts';

export type RespErrorCode = 'ERR' | 'TRYAGAIN' | 'BUSY';

const CODE_OF_REQUEST_ERROR: Readonly<Record<RequestErrorCode, RespErrorCode>> = {
  KEY_EMPTY: 'ERR',
  KEY_TOO_LONG: 'ERR',
  VALUE_TOO_LARGE: 'ERR',
  CONTENT_TYPE_INVALID: 'ERR',
  CONTEXT_INVALID: 'ERR',
  REQUEST_OPTION_INVALID: 'ERR',
  TOO_MANY_SIBLINGS: 'ERR',
  NODE_NOT_SERVING: 'TRYAGAIN',
  REQUEST_TIMEOUT: 'TRYAGAIN',
  QUORUM_UNREACHABLE: 'TRYAGAIN',
  OVERLOADED: 'BUSY',
};

export interface RespErrorReply {
  readonly code: RespErrorCode;
  /** The whole reply text, code first. */
  readonly text: string;
  /** Not the client's doing: worth a log line. */
  readonly unexpected: boolean;
}

export function respErrorOf(error: unknown): RespErrorReply {
  if (error instanceof RequestError) return reply(CODE_OF_REQUEST_ERROR[error.code], error.message);
  if (error instanceof BufferFullError) return reply('BUSY', `overloaded: ${error.message}`);
  if (error instanceof StoreClosedError) return reply('TRYAGAIN', 'node is stopping');
  if (error instanceof StorageError || error instanceof CorruptObjectError) {
    return { ...reply('ERR', `storage engine failure: ${error.message}`), unexpected: true };
  }
  return { code: 'ERR', text: 'ERR internal error', unexpected: true };
}

function reply(code: RespErrorCode, message: string): RespErrorReply {
  return { code, text: `${code} ${message}`, unexpected: false };
}
