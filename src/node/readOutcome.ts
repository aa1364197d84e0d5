/**
 * What a read of one key means for a client, independent of the front end:
 * absent, deleted (one tombstone), one live value, or conflicting siblings.
 */
import { oneSiblingPerWrite, type Sibling, type StoredObject } from '../core/object.ts';

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
export function readOutcome(stored: StoredObject | undefined): ReadOutcome {
  if (stored === undefined || stored.siblings.length === 0) return ABSENT;
  // A write applied by two coordinators is one version (a client-coordinated read sees raw copies).
  const object = oneSiblingPerWrite(stored);
  if (object.siblings.length > 1) return { kind: 'siblings', siblings: object.siblings };
  const sibling = object.siblings[0] as Sibling;
  return sibling.deleted ? DELETED : { kind: 'value', sibling };
}
