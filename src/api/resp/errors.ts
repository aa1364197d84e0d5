/**
 * Node errors as RESP error replies: the first word is what errors.ts's table says a client
 * can act on (ERR, TRYAGAIN, BUSY), then the reason, then the error's code in parentheses
 * (the code HTTP answers and peers send for the same failure).
 */
import { translateError, type RespErrorWord } from '../../node/errors.ts';

export interface RespErrorReply {
  readonly word: RespErrorWord;
  /** The whole reply text, word first. */
  readonly text: string;
  /** Not the client's doing: worth a log line. */
  readonly unexpected: boolean;
}

export function respErrorOf(error: unknown): RespErrorReply {
  const { resp, code, message, unexpected } = translateError(error);
  return { word: resp, text: `${resp} ${message} (${code})`, unexpected };
}
