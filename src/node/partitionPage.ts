/**
 * A bounded page of the objects this node stores for a partition, as a partition transfer
 * sends them and a backup reads them: at most `objectsMax` objects and about `bytesMax`
 * bytes (the first object always, however large), in key order, encoded.
 */
import type { PartitionEntry, Replica } from '../ports/replica.ts';

export interface BoundedPage {
  readonly entries: PartitionEntry[];
  /** Where the next page starts; undefined once this page reached the partition's end. */
  readonly resumeAfter: Uint8Array | undefined;
}

export function readBoundedPage(
  replica: Pick<Replica, 'scanPartition'>,
  partition: number,
  afterKey: Uint8Array | undefined,
  objectsMax: number,
  bytesMax: number,
): BoundedPage {
  const page = replica.scanPartition(partition, afterKey, objectsMax);
  let bytes = 0;
  let count = 0;
  while (count < page.entries.length && count < objectsMax && (count === 0 || bytes + entryBytes(page.entries[count] as PartitionEntry) <= bytesMax)) {
    bytes += entryBytes(page.entries[count] as PartitionEntry);
    count++;
  }
  if (count < page.entries.length) {
    const entries = page.entries.slice(0, count);
    return { entries, resumeAfter: (entries[count - 1] as PartitionEntry).key };
  }
  // The whole page: the next one starts past its range (the buffer may have hidden all of it).
  return { entries: page.entries, resumeAfter: page.resumeAfter };
}

/** Key and object bytes of an entry. */
export function entryBytes(entry: PartitionEntry): number {
  return entry.key.length + entry.bytes.length;
}
