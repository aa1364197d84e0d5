/**
 * What a read of one key means for a client, independent of the front end:
 * absent, deleted (one tombstone), one live value, or conflicting siblings.
 */
import type { Sibling, StoredObject } from '../core/object.ts';

export type ReadOutcome =
  | { readonly kind: 'absent' }
  | { readonly kind: 'deleted' }
  | { readonly kind: 'value'; readonly sibling: Sibling }
  | { readonly kind: 'siblings'; readonly siblings: readonly Sibling[] };

const ABSENT: ReadOutcome = { kind: 'absent' };
const DELETED: ReadOutcome = { kind: 'deleted' };

/**
 * One sibling: its value, or `deleted` when it is a tombstone. Several siblings: all of
 * them, tombstones included (a client resolving the conflict must see the deletes too).
 */
export function readOutcome(object: StoredObject | undefined): ReadOutcome {
  if (object === undefined || object.siblings.length === 0) return ABSENT;
  if (object.siblings.length > 1) return { kind: 'siblings', siblings: object.siblings };
  const sibling = object.siblings[0] as Sibling;
  return sibling.deleted ? DELETED : { kind: 'value', sibling };
}
