/**
 * Member entries and the member table (paper 4.8.1). Every entry carries a version that
 * whoever changes the entry bumps, so gossip can merge tables without coordination: per
 * member, the entry with the higher version wins.
 */
import { compareStrings } from '../bytes.ts';

export type MemberStatus = 'joining' | 'valid' | 'leaving' | 'down' | 'removed';

export interface MemberAddress {
  readonly host: string;
  readonly port: number;
}

export interface Member {
  readonly id: string;
  readonly address: MemberAddress;
  readonly status: MemberStatus;
  /** Bumped on every change to this entry; the higher version wins a merge. */
  readonly version: number;
}

/** Members sorted by id, ids distinct. Removed members stay as tombstones so gossip cannot revive them. */
export type MemberTable = readonly Member[];

export class MembershipError extends Error {
  override readonly name = 'MembershipError';
  constructor(
    readonly code: 'duplicate-member' | 'invalid-member' | 'cluster-mismatch' | 'invalid-state',
    message: string,
  ) {
    super(message);
  }
}

// Only breaks ties between entries of equal version (which honest nodes do not produce,
// but a merge must still be a total order to commute): the later lifecycle stage wins.
const statusRank: Readonly<Record<MemberStatus, number>> = { joining: 0, valid: 1, leaving: 2, down: 3, removed: 4 };

/** A total order on entries of one member: version, then status, then address. */
export function compareMemberEntries(a: Member, b: Member): number {
  return (
    Math.sign(a.version - b.version) ||
    Math.sign(statusRank[a.status] - statusRank[b.status]) ||
    compareStrings(a.address.host, b.address.host) ||
    Math.sign(a.address.port - b.address.port)
  );
}

/** A validated, frozen table sorted by id; throws MembershipError on duplicate or bad entries. */
export function makeMemberTable(entries: readonly Member[]): MemberTable {
  const sorted = [...entries].sort((a, b) => compareStrings(a.id, b.id));
  sorted.forEach((entry, i) => {
    validateMember(entry);
    if (i > 0 && entry.id === (sorted[i - 1] as Member).id) {
      throw new MembershipError('duplicate-member', `member ${JSON.stringify(entry.id)} is listed twice`);
    }
  });
  return Object.freeze(sorted.map(freezeMember));
}

export function findMember(table: MemberTable, id: string): Member | undefined {
  return table.find((member) => member.id === id);
}

/** The entry with the higher version (see compareMemberEntries for ties). */
export function newerEntry(a: Member, b: Member): Member {
  return compareMemberEntries(a, b) >= 0 ? a : b;
}

/** Merges two tables: per id, the newer entry. Commutative, associative, idempotent. */
export function mergeMemberTables(a: MemberTable, b: MemberTable): MemberTable {
  const byId = new Map<string, Member>();
  for (const entry of [...a, ...b]) {
    const known = byId.get(entry.id);
    byId.set(entry.id, known === undefined ? entry : newerEntry(known, entry));
  }
  return makeMemberTable([...byId.values()]);
}

/** The table with `entry` replacing the one of the same id (or added). */
export function withMember(table: MemberTable, entry: Member): MemberTable {
  return makeMemberTable([...table.filter((m) => m.id !== entry.id), entry]);
}

function validateMember(entry: Member): void {
  const { id, address, version } = entry;
  const ok =
    typeof id === 'string' &&
    id !== '' &&
    typeof address.host === 'string' &&
    address.host !== '' &&
    Number.isInteger(address.port) &&
    address.port > 0 &&
    address.port < 65536 &&
    statusRank[entry.status] !== undefined &&
    Number.isSafeInteger(version) &&
    version >= 0;
  if (!ok) throw new MembershipError('invalid-member', `invalid member entry ${JSON.stringify(entry)}`);
}

function freezeMember(entry: Member): Member {
  return Object.freeze({
    id: entry.id,
    address: Object.freeze({ host: entry.address.host, port: entry.address.port }),
    status: entry.status,
    version: entry.version,
  });
}
