/**
 * Validation of what a client hands the node: keys, values, content types and per-request
 * quorum overrides. Shared by every front end (HTTP now, RESP later).
 */
import { RequestError } from './errors.ts';

/** Per-request overrides of the cluster's N, R and W. */
export interface RequestOptions {
  readonly n?: number;
  readonly r?: number;
  readonly w?: number;
}

/** The N, R and W one request runs with. */
export interface Quorum {
  readonly n: number;
  readonly r: number;
  readonly w: number;
}

/** Longest content type kept with a value (characters). */
export const CONTENT_TYPE_LENGTH_MAX = 255;
export const CONTENT_TYPE_DEFAULT = 'application/octet-stream';

const NO_OPTIONS: RequestOptions = {};

/**
 * The request's N, R, W: each an integer, 1 <= n <= the cluster's N, 1 <= r, w <= n.
 * An n below the cluster's lowers the defaults of r and w to at most n.
 */
export function resolveQuorum(cluster: Quorum, options: RequestOptions = NO_OPTIONS): Quorum {
  if (options.n === undefined && options.r === undefined && options.w === undefined) return cluster;
  const n = options.n ?? cluster.n;
  checkOption('n', n, cluster.n);
  const r = options.r ?? Math.min(cluster.r, n);
  checkOption('r', r, n);
  const w = options.w ?? Math.min(cluster.w, n);
  checkOption('w', w, n);
  return { n, r, w };
}

function checkOption(name: 'n' | 'r' | 'w', value: number, max: number): void {
  if (!Number.isInteger(value) || value < 1 || value > max) {
    throw new RequestError('REQUEST_OPTION_INVALID', `${name} must be an integer 1-${max}, got ${value}`);
  }
}

export function checkKey(key: Uint8Array, keyBytesMax: number): void {
  if (key.length === 0) throw new RequestError('KEY_EMPTY', 'key must not be empty');
  if (key.length > keyBytesMax) {
    throw new RequestError('KEY_TOO_LONG', `key is ${key.length} bytes, more than keyBytesMax (${keyBytesMax})`);
  }
}

export function checkValue(value: Uint8Array, valueBytesMax: number): void {
  if (value.length > valueBytesMax) {
    throw new RequestError('VALUE_TOO_LARGE', `value is ${value.length} bytes, more than valueBytesMax (${valueBytesMax})`);
  }
}

/** Printable ASCII only, bounded: it is echoed back in a response header. */
const CONTENT_TYPE_PATTERN = /^[\x20-\x7e]+$/;

export function checkContentType(contentType: string): void {
  if (contentType.length > CONTENT_TYPE_LENGTH_MAX || !CONTENT_TYPE_PATTERN.test(contentType)) {
    throw new RequestError(
      'CONTENT_TYPE_INVALID',
      `content type must be 1-${CONTENT_TYPE_LENGTH_MAX} printable ASCII characters`,
    );
  }
}
