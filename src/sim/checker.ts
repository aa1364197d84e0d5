/**
 * The invariants of a sim run, judged from the clients' history and the final state.
 *
 * Safety:
 * - lost-write: every acknowledged put is in the final read of its key (at R = N, after
 *   healing) unless some write covered it: a write whose context's vector covers the
 *   put's dot, and that was acknowledged, or is itself present at the end, or is itself
 *   covered in the same sense (a 503 is not a rollback, but a failed write that left no
 *   trace cannot have removed anything: replicas drop a version only when they store one
 *   that supersedes it, and every version a disk holds is kept until superseded). Deletes
 *   leave tombstones that carry no value id, so any delete that covered a put excuses it.
 *   A put lost while no disk ever held it (only buffers, then crashes) is reported as a
 *   lost-write only when the run's config promises durability for every acknowledged
 *   write (durableWrites `all`, W = N or no buffer); otherwise it is counted as a
 *   buffer loss, which durableWrites `one` with W < N allows (paper 6.1).
 *   A put that only a node crashed for good (and removed) had seen when it crashed is
 *   counted as a removal loss: a permanent failure loses what only the failed node held.
 * - phantom: every value any read returned was written, to that key, by a put that had
 *   started before the read ended.
 * - dot-conflict: one dot of a key always names the same value (a reused dot silently
 *   merges two writes into one). One value may carry two dots: a put applied twice (a
 *   duplicated request, or a forward hedged or retried elsewhere) is one write whose copies
 *   share a write id, at-least-once, never a loss; they are counted, not failed. Superseding
 *   either copy supersedes the write (lost-write and resurrected judge it so).
 * - applied-as-siblings: no read shows one client write as two live siblings at once: two
 *   versions carrying the same value id side by side in any operation's returned versions
 *   (a get's answer, the coordinator's copy after a write), in a final read, or in a
 *   replica's copy at the end (after read repair, and once anti-entropy converged them).
 *   A write applied twice may leave two dots for a while (counted above), but the node
 *   must collapse them: a client that reads two siblings of one write would resolve a
 *   conflict that never happened.
 * - node-anomaly: no node refuses a peer's message as malformed (all peers run the same
 *   code, so the sender is at fault) and no live node logs an error.
 * Liveness, after the faults healed:
 * - final-read-failed: the read at R = N of every key succeeds.
 * - hints-left: every hint was handed back to its owner.
 * - divergence: the key's N replicas under the final ring (the settled cluster state)
 *   hold the same versions (after the final reads' read repair), and they are the
 *   versions the final read returned.
 * - not-converged: after healing and settling, with no client call at all (no read, so no
 *   read repair), within the convergence budget (swarm.ts), every key's N replicas under
 *   the final ring hold the same version in their main stores: the same objectDigest
 *   (core/antiEntropy/hashTree.ts: vector and dots, times left out), or all hold nothing.
 *   Anti-entropy is what must bring them there.
 * - resurrected: a version superseded by an acknowledged write never comes back. A sibling
 *   whose dot (or the dot of another copy of its write: a put applied twice is one version,
 *   core/object.ts) an acknowledged delete's (or put's) context covered is in no final read, and
 *   not in the replicas' copy once they converged (replicas that did not converge are
 *   reported as not-converged: one that missed a delete is stale), unless that write itself was
 *   lost as an acknowledged put may be (from buffers only, with no durability promised, or
 *   with a node removed after a permanent crash). Deletes are reaped to markers during the
 *   run in most seeds (swarmPlan.ts), so this is what shows a tombstone reaped or removed
 *   too early: the deleted value returns through anti-entropy, a hint or a transfer.
 *   (deadVersions.ts adds the same kind for versions superseded by any write, acknowledged
 *   or not: one that no node held any more, and that every replica had superseded on disk,
 *   is in no final copy or read.)
 * - unavailable (enforced per request only with the strict-availability option; always
 *   measured and reported, and the test suite holds the share of such requests that succeed
 *   to 99.9%, test/sim/swarm.test.ts): a client request whose
 *   entry node could reach W (for a write) or R (for a read) members of its ring
 *   throughout the request and a recovery grace before it succeeded, unless a named limit
 *   shed it; see availability.ts for the exact eligibility and reachability.ts for the
 *   timeline it is judged against.
 * - membership-diverged: every live member (not removed, not a spare that never joined)
 *   holds the same member table and ring, with no change pending; the members it lists
 *   (not removed) are exactly the live members (a node crashed for good was removed, a
 *   node that left is removed); the membership changes under way took effect.
 */
import { objectDigest } from '../core/antiEntropy/hashTree.ts';
import { encodeUtf8 } from '../core/bytes.ts';
import { covers, dotsEqual, type Dot } from '../core/clock.ts';
import { pushTo } from '../core/collections.ts';
import type { ClusterState } from '../core/membership/state.ts';
import { objectDescends, oneSiblingPerWrite, type StoredObject } from '../core/object.ts';
import { judgeAvailability, type AvailabilityCounts, type AvailabilityInput, type Unavailable } from './availability.ts';
import { formatDot, formatRecord, versionsOf, type OpRecord, type SeenVersion } from './history.ts';

export type ViolationKind =
  | 'lost-write'
  | 'phantom'
  | 'dot-conflict'
  | 'node-anomaly'
  | 'final-read-failed'
  | 'hints-left'
  | 'divergence'
  | 'not-converged'
  | 'resurrected'
  | 'membership-diverged'
  | 'applied-as-siblings'
  | 'unavailable'
  // found while the run goes, by replicaAudit.ts
  | 'under-replicated-ack'
  | 'hint-dropped'
  | 'copy-dropped'
  | 'redundancy-lost'
  // found in the listings by lister.ts
  | 'listing-missed'
  | 'listing-invented'
  | 'listing-order';

export interface Violation {
  readonly kind: ViolationKind;
  readonly key: string | undefined;
  readonly valueIds: readonly string[];
  readonly message: string;
  /** The history lines that show it. */
  readonly records: readonly OpRecord[];
}

export interface ReplicaCopy {
  readonly node: string;
  readonly object: StoredObject | undefined;
}

/** The convergence phase (swarm.ts): how long it waited, and what the replicas held at its end. */
export interface Convergence {
  readonly waitedMs: number;
  readonly budgetMs: number;
  readonly converged: boolean;
  /** Per key, what each of its replicas under the final ring held when the phase ended. */
  readonly copies: ReadonlyMap<string, readonly ReplicaCopy[]>;
  /** Client calls made while it ran (none may be). */
  readonly clientCalls: number;
}

export interface FinalState {
  /** Per key, the final read at R = N (a history record of client `final`). */
  readonly reads: ReadonlyMap<string, OpRecord>;
  /** Per key, what each of its N primaries holds after read repair. */
  readonly primaries: ReadonlyMap<string, readonly ReplicaCopy[]>;
  /** Hints each node still holds. */
  readonly hintsLeft: ReadonlyMap<string, number>;
  /** Per node, whom its hints left are for (for the report). */
  readonly hintTargets?: ReadonlyMap<string, string>;
  /** Value ids some node's disk (objects or hints) ever held. */
  readonly persisted: ReadonlySet<string>;
  /** True when the config promises that this put, once acknowledged, is on some disk. */
  readonly durabilityPromised: (put: OpRecord) => boolean;
  /**
   * Puts only a node crashed for good had seen when it crashed (their loss is a removal
   * loss), by value id; deletes likewise, as `delete#<record index>`.
   */
  readonly removalExposed?: ReadonlySet<string>;
  /** Tombstones some node's disk (objects or hints) ever held, as `key|actor:counter`. */
  readonly persistedTombstones?: ReadonlySet<string>;
  /** The convergence phase, before the final reads (absent: not judged). */
  readonly convergence?: Convergence;
  /** The membership at the end (absent: a static cluster, nothing to check). */
  readonly membership?: MembershipSnapshot;
  /**
   * What no correct node does, seen during the run: a peer's message refused as malformed
   * (every peer runs the same code, so the sender is wrong), an error logged by a live node.
   */
  readonly anomalies: readonly string[];
  /** The availability check's inputs (absent: not measured); `strict` makes its failures violations. */
  readonly availability?: AvailabilityInput & { readonly strict: boolean };
}

export interface MembershipSnapshot {
  /** Live nodes that are members as they see it (see swarm.ts). */
  readonly members: readonly string[];
  /** Each live node's view of the membership (JSON of its RingView). */
  readonly views: ReadonlyMap<string, string>;
  /** The final cluster state (its serving ring places the keys). */
  readonly finalState: ClusterState;
  /** Nodes crashed for good. */
  readonly retired: readonly string[];
  /** Membership changes still under way at the end (described). */
  readonly busy: readonly string[];
}

export interface CheckReport {
  readonly violations: Violation[];
  readonly ackedWrites: number;
  /** Acknowledged puts lost from buffers only, which the config allows (see the file comment). */
  readonly bufferLosses: readonly string[];
  /** Acknowledged puts lost with a node removed after a permanent crash (see the file comment). */
  readonly removalLosses: readonly string[];
  /** Puts applied twice (two dots for one value): duplicated or failed-over forwards. */
  readonly appliedTwice: readonly string[];
  /** The availability tallies (undefined when not measured). */
  readonly availability: AvailabilityCounts | undefined;
}

const RECORDS_SHOWN_MAX = 24;
/** `unavailable` violations listed one by one; the rest are summed up in one more. */
const UNAVAILABLE_SHOWN_MAX = 10;

export function checkRun(history: readonly OpRecord[], final: FinalState): CheckReport {
  const index = new HistoryIndex(history, final);
  const violations: Violation[] = [];
  checkPhantoms(index, violations);
  checkDots(index, violations);
  const { ackedWrites, bufferLosses, removalLosses } = checkLostWrites(index, final, violations);
  for (const anomaly of final.anomalies) violations.push({ kind: 'node-anomaly', key: undefined, valueIds: [], message: anomaly, records: [] });
  checkLiveness(index, final, violations);
  if (final.convergence !== undefined) checkConvergence(index, final.convergence, violations);
  checkResurrected(index, final, violations);
  if (final.membership !== undefined) checkMembership(final.membership, violations);
  checkAppliedAsSiblings(index, final, violations);
  const appliedTwice = [...index.dotsOf].filter(([, dots]) => dots.length > 1).map(([valueId]) => valueId);
  let availability: AvailabilityCounts | undefined;
  if (final.availability !== undefined) {
    const judged = judgeAvailability(final.availability);
    availability = judged.counts;
    if (final.availability.strict) reportUnavailable(judged.unavailable, violations);
  }
  return { violations, ackedWrites, bufferLosses, removalLosses, appliedTwice, availability };
}

/** Two live siblings with one value id, in any answer or final copy (see the file comment). */
function checkAppliedAsSiblings(index: HistoryIndex, final: FinalState, violations: Violation[]): void {
  const reported = new Set<string>();
  const judge = (key: string, versions: readonly SeenVersion[], where: string, shown: readonly OpRecord[]): void => {
    const seen = new Map<string, SeenVersion>();
    for (const version of versions) {
      if (version.deleted) continue;
      const other = seen.get(version.valueId);
      seen.set(version.valueId, version);
      if (other === undefined || reported.has(`${key}|${version.valueId}`)) continue;
      reported.add(`${key}|${version.valueId}`);
      const lines = index.linesAbout(key, [version.valueId]);
      violations.push({
        kind: 'applied-as-siblings',
        key,
        valueIds: [version.valueId],
        message: `${where} shows ${version.valueId} twice, as siblings ${formatDot(other.dot)} and ${formatDot(version.dot)}: one write visible as two versions`,
        records: [...shown.filter((r) => !lines.includes(r)), ...lines],
      });
    }
  };
  for (const record of index.records) judge(record.key, record.versions ?? [], `#${record.index} (${record.client} ${record.op} @${record.node})`, [record]);
  // A copy is judged as a client is shown it: one sibling per write id (core/object.ts keeps
  // both dots of a write two coordinators applied, and shows one).
  const shownOf = (object: StoredObject | undefined): readonly SeenVersion[] => versionsOf(object === undefined ? undefined : oneSiblingPerWrite(object));
  for (const [key, copies] of final.primaries) for (const copy of copies) judge(key, shownOf(copy.object), `the copy of ${copy.node} after the final reads`, []);
  for (const [key, copies] of final.convergence?.copies ?? []) for (const copy of copies) judge(key, shownOf(copy.object), `the copy of ${copy.node} once anti-entropy ran`, []);
}

function reportUnavailable(unavailable: readonly Unavailable[], violations: Violation[]): void {
  for (const { record, needed, reachable, fromMs } of unavailable.slice(0, UNAVAILABLE_SHOWN_MAX)) {
    const what = record.outcome === 'timeout' ? `timed out at the client (${record.endMs?.toFixed(1) ?? '?'} ms)` : `failed (${record.error ?? '?'})`;
    violations.push({
      kind: 'unavailable',
      key: record.key,
      valueIds: [],
      message: `#${record.index} ${record.op} ${what}, though ${reachable.length} member(s) (${reachable.join(' ')}) were reachable from ${record.node} from ${fromMs.toFixed(1)} ms on and it needed ${needed}`,
      records: [record],
    });
  }
  const rest = unavailable.length - UNAVAILABLE_SHOWN_MAX;
  if (rest > 0) violations.push({ kind: 'unavailable', key: undefined, valueIds: [], message: `and ${rest} more request(s) likewise`, records: [] });
}

/** Lookups over the history, built once. */
class HistoryIndex {
  /** Every put, by value id. */
  readonly puts = new Map<string, OpRecord>();
  /** Puts and deletes per key. */
  readonly writesByKey = new Map<string, OpRecord[]>();
  /**
   * Each value's dots, from every observation (replies, reads, the final copies). Usually
   * one; two when the put was applied twice (a duplicated or failed-over forward: the
   * coordinator that got it second issued a second dot for the same value).
   */
  readonly dotsOf = new Map<string, Dot[]>();
  /** Records that saw each value. */
  readonly seenIn = new Map<string, OpRecord[]>();

  constructor(
    readonly records: readonly OpRecord[],
    final: FinalState,
  ) {
    for (const record of records) {
      if (record.op === 'put' && record.valueId !== undefined) this.puts.set(record.valueId, record);
      if (record.op !== 'get') pushTo(this.writesByKey, record.key, record);
      for (const version of record.versions ?? []) {
        if (version.deleted) continue;
        pushTo(this.seenIn, version.valueId, record);
        this.addDot(version.valueId, version.dot);
      }
    }
    for (const copies of final.primaries.values()) {
      for (const copy of copies) {
        for (const version of versionsOf(copy.object)) {
          if (!version.deleted) this.addDot(version.valueId, version.dot);
        }
      }
    }
  }

  private addDot(valueId: string, dot: Dot): void {
    const dots = this.dotsOf.get(valueId);
    if (dots === undefined) this.dotsOf.set(valueId, [dot]);
    else if (!dots.some((known) => dotsEqual(known, dot))) dots.push(dot);
  }

  dotsText(valueId: string): string {
    return (this.dotsOf.get(valueId) ?? []).map(formatDot).join(',') || '-';
  }

  /** The history lines about `valueIds` on `key`: their puts, reads of them, writes over them. */
  linesAbout(key: string, valueIds: readonly string[]): OpRecord[] {
    const ids = new Set(valueIds);
    const dots = valueIds.flatMap((id) => this.dotsOf.get(id) ?? []);
    const related = this.records.filter(
      (record) =>
        record.key === key &&
        ((record.valueId !== undefined && ids.has(record.valueId)) ||
          (record.versions ?? []).some((v) => ids.has(v.valueId)) ||
          (record.context !== undefined && dots.some((dot) => covers(record.context ?? [], dot)))),
    );
    return related.length <= RECORDS_SHOWN_MAX ? related : [...related.slice(0, RECORDS_SHOWN_MAX / 2), ...related.slice(-RECORDS_SHOWN_MAX / 2)];
  }
}

function checkPhantoms(index: HistoryIndex, violations: Violation[]): void {
  const reported = new Set<string>();
  for (const record of index.records) {
    for (const version of record.versions ?? []) {
      if (version.deleted || reported.has(`${record.key}|${version.valueId}`)) continue;
      const put = index.puts.get(version.valueId);
      const seenAtMs = record.answeredMs ?? Number.POSITIVE_INFINITY;
      let problem: string | undefined;
      if (put === undefined) problem = `value ${version.valueId} was never written by any client`;
      else if (put.key !== record.key) problem = `value ${version.valueId} was written to key ${put.key}, not ${record.key}`;
      else if (put.startMs > seenAtMs) problem = `value ${version.valueId} was read at ${seenAtMs.toFixed(1)} ms, before its put started (${put.startMs.toFixed(1)} ms)`;
      if (problem === undefined) continue;
      reported.add(`${record.key}|${version.valueId}`);
      violations.push({ kind: 'phantom', key: record.key, valueIds: [version.valueId], message: problem, records: [record, ...(put === undefined ? [] : [put])] });
    }
  }
}

function checkDots(index: HistoryIndex, violations: Violation[]): void {
  const valueOfDot = new Map<string, string>();
  const reported = new Set<string>();
  for (const record of index.records) {
    for (const version of record.versions ?? []) {
      // Counters are per key: the same dot on two keys names two different writes.
      const dotKey = formatDot(version.dot);
      const known = valueOfDot.get(`${record.key}|${dotKey}`);
      if (known === undefined) valueOfDot.set(`${record.key}|${dotKey}`, version.valueId);
      if (known === undefined || known === version.valueId) continue;
      const problem = `dot ${dotKey} names both ${known} and ${version.valueId}`;
      if (reported.has(problem)) continue;
      reported.add(problem);
      const ids = [version.valueId, known].filter((id) => id !== '(tombstone)');
      const lines = index.linesAbout(record.key, ids);
      violations.push({ kind: 'dot-conflict', key: record.key, valueIds: ids, message: problem, records: lines.includes(record) ? lines : [record, ...lines] });
    }
  }
}

function checkLostWrites(index: HistoryIndex, final: FinalState, violations: Violation[]): { ackedWrites: number; bufferLosses: string[]; removalLosses: string[] } {
  const presentByKey = new Map<string, Set<string>>();
  for (const [key, read] of final.reads) {
    if (read.outcome === 'ok') presentByKey.set(key, new Set((read.versions ?? []).filter((v) => !v.deleted).map((v) => v.valueId)));
  }
  const excuse = new Excuses(index, presentByKey);
  let ackedWrites = 0;
  const bufferLosses: string[] = [];
  const removalLosses: string[] = [];
  for (const put of index.puts.values()) {
    if (!acknowledged(put) || put.valueId === undefined) continue;
    ackedWrites++;
    const present = presentByKey.get(put.key);
    if (present === undefined || present.has(put.valueId) || excuse.covered(put.valueId)) continue;
    if (final.removalExposed?.has(put.valueId) === true) {
      removalLosses.push(put.valueId);
      continue;
    }
    if (!final.persisted.has(put.valueId) && !final.durabilityPromised(put)) {
      bufferLosses.push(put.valueId);
      continue;
    }
    const where = final.persisted.has(put.valueId) ? 'a disk held it' : 'no disk ever held it, though the config promises durability';
    violations.push({
      kind: 'lost-write',
      key: put.key,
      valueIds: [put.valueId],
      message: `acknowledged put ${put.valueId} (dot ${index.dotsText(put.valueId)}) is missing from the final read of ${put.key} and no write covered it (${where})`,
      records: [...index.linesAbout(put.key, [put.valueId]), ...[final.reads.get(put.key)].filter((r): r is OpRecord => r !== undefined)],
    });
  }
  return { ackedWrites, bufferLosses, removalLosses };
}

/** Whether a value's absence is explained by a write that covered it (see the file comment). */
class Excuses {
  private readonly memo = new Map<string, boolean>();

  constructor(
    private readonly index: HistoryIndex,
    private readonly presentByKey: ReadonlyMap<string, ReadonlySet<string>>,
  ) {}

  covered(valueId: string): boolean {
    const known = this.memo.get(valueId);
    if (known !== undefined) return known;
    this.memo.set(valueId, false); // a cycle cannot excuse anything
    const result = this.coveredNow(valueId);
    this.memo.set(valueId, result);
    return result;
  }

  /**
   * A known dot of the value was covered. A put applied twice has two, and superseding
   * either supersedes the write: its copies share a write id, which the node remembers
   * (core/object.ts supersededWrites).
   */
  private coveredNow(valueId: string): boolean {
    const put = this.index.puts.get(valueId);
    const dots = this.index.dotsOf.get(valueId);
    if (put === undefined || dots === undefined) return false;
    return dots.some((dot) => this.dotCovered(put, dot));
  }

  private dotCovered(put: OpRecord, dot: Dot): boolean {
    for (const write of this.index.writesByKey.get(put.key) ?? []) {
      if (write === put || write.context === undefined || !covers(write.context, dot)) continue;
      if (write.op === 'delete' || acknowledged(write)) return true;
      if (write.valueId === undefined) continue;
      if (this.presentByKey.get(put.key)?.has(write.valueId) === true || this.covered(write.valueId)) return true;
    }
    return false;
  }
}

function acknowledged(record: OpRecord): boolean {
  return record.outcome === 'ok' || record.lateOutcome === 'ok';
}

function checkLiveness(index: HistoryIndex, final: FinalState, violations: Violation[]): void {
  for (const [key, read] of final.reads) {
    if (read.outcome !== 'ok') {
      violations.push({ kind: 'final-read-failed', key, valueIds: [], message: `the read of ${key} at R = N after healing ended ${read.outcome} (${read.error ?? ''})`, records: [read] });
    }
  }
  for (const [node, hints] of final.hintsLeft) {
    if (hints > 0) {
      const targets = final.hintTargets?.get(node);
      violations.push({ kind: 'hints-left', key: undefined, valueIds: [], message: `node ${node} still holds ${hints} hint(s) after healing${targets === undefined ? '' : ` (${targets})`}`, records: [] });
    }
  }
  for (const [key, copies] of final.primaries) checkConverged(index, key, copies, final.reads.get(key), violations);
}

function checkConverged(index: HistoryIndex, key: string, copies: readonly ReplicaCopy[], read: OpRecord | undefined, violations: Violation[]): void {
  const first = copies[0];
  if (first === undefined) return;
  const describeCopies = copies.map((copy) => `${copy.node}: [${describeObject(copy.object)}]`).join('; ');
  const differing = copies.find((copy) => !sameVersions(copy.object, first.object));
  if (differing !== undefined) {
    const ids = idsOf(first.object, differing.object);
    violations.push({ kind: 'divergence', key, valueIds: ids, message: `primaries of ${key} differ after healing: ${describeCopies}`, records: index.linesAbout(key, ids) });
    return;
  }
  if (read === undefined || read.outcome !== 'ok') return;
  // The read shows one sibling per write id (core/object.ts); the copies may hold both dots of a write applied twice.
  const held = versionsOf(first.object === undefined ? undefined : oneSiblingPerWrite(first.object)).filter((v) => !v.deleted).map((v) => v.valueId).sort();
  const returned = (read.versions ?? []).filter((v) => !v.deleted).map((v) => v.valueId).sort();
  if (held.join(' ') !== returned.join(' ')) {
    const ids = [...new Set([...held, ...returned])];
    violations.push({
      kind: 'divergence',
      key,
      valueIds: ids,
      message: `the final read of ${key} returned [${returned.join(' ')}] but its primaries hold [${held.join(' ')}]`,
      records: [read],
    });
  }
}

/** True when every key's copies have one digest (or are all absent). */
export function convergedCopies(copies: ReadonlyMap<string, readonly ReplicaCopy[]>): boolean {
  for (const [key, list] of copies) if (new Set(list.map((copy) => digestText(key, copy.object))).size > 1) return false;
  return true;
}

/** The object's digest in hex (8 digits), or `none`. */
export function digestText(key: string, object: StoredObject | undefined): string {
  return object === undefined ? 'none' : Buffer.from(objectDigest(encodeUtf8(key), object)).toString('hex').slice(0, 8);
}

function checkConvergence(index: HistoryIndex, convergence: Convergence, violations: Violation[]): void {
  const seconds = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;
  if (convergence.clientCalls > 0) {
    violations.push({
      kind: 'not-converged',
      key: undefined,
      valueIds: [],
      message: `the simulator itself made ${convergence.clientCalls} client call(s) while waiting for anti-entropy to converge the replicas`,
      records: [],
    });
  }
  for (const [key, copies] of convergence.copies) {
    if (new Set(copies.map((copy) => digestText(key, copy.object))).size <= 1) continue;
    const held = copies.map((copy) => `${copy.node}: [${describeObject(copy.object)}] digest ${digestText(key, copy.object)}`).join('; ');
    const ids = [...new Set(copies.flatMap((copy) => versionsOf(copy.object)).filter((v) => !v.deleted).map((v) => v.valueId))];
    violations.push({
      kind: 'not-converged',
      key,
      valueIds: ids,
      message: `after ${seconds(convergence.waitedMs)} of anti-entropy with no client call (budget ${seconds(convergence.budgetMs)}), the replicas of ${key} under the final ring still differ: ${held}`,
      records: index.linesAbout(key, ids),
    });
  }
}

/**
 * A sibling in a final copy or read whose dot an acknowledged write's context covered,
 * unless that write was lost (see the file comment).
 */
function checkResurrected(index: HistoryIndex, final: FinalState, violations: Violation[]): void {
  const superseding = index.records.filter((r) => r.op !== 'get' && r.client !== 'final' && r.context !== undefined && acknowledged(r) && !writeLost(r, final));
  const reported = new Set<string>();
  const judge = (key: string, valueId: string, dot: Dot, where: string, shownRecords: readonly OpRecord[]): void => {
    // Any copy's dot: a put applied twice is superseded with either copy (core/object.ts supersededWrites).
    const dots = index.dotsOf.get(valueId) ?? [dot];
    const cover = superseding.find((w) => w.key === key && w.valueId !== valueId && dots.some((copy) => covers(w.context ?? [], copy)));
    if (cover === undefined || reported.has(`${key}|${formatDot(dot)}`)) return;
    reported.add(`${key}|${formatDot(dot)}`);
    const what = cover.op === 'delete' ? `acknowledged delete #${cover.index} (tombstone ${formatDot(cover.dot)})` : `acknowledged put #${cover.index} of ${cover.valueId ?? '?'}`;
    violations.push({
      kind: 'resurrected',
      key,
      valueIds: [valueId],
      message: `${valueId} (dot ${formatDot(dot)}) is ${where}, though ${what} had superseded it: its context covered ${coveredCopy(cover, dots, dot)}`,
      records: [...index.linesAbout(key, [valueId]), ...shownRecords.filter((r) => !index.linesAbout(key, [valueId]).includes(r))],
    });
  };
  for (const [key, copies] of final.convergence?.copies ?? []) {
    // Replicas that still differ are reported as not-converged: one that never got the write is stale, not resurrected.
    if (new Set(copies.map((copy) => digestText(key, copy.object))).size > 1) continue;
    for (const version of versionsOf(copies[0]?.object)) {
      if (!version.deleted) judge(key, version.valueId, version.dot, `held by every replica (${copies.map((c) => c.node).join(' ')}) once anti-entropy converged them`, []);
    }
  }
  for (const [key, read] of final.reads) {
    for (const version of read.versions ?? []) if (!version.deleted) judge(key, version.valueId, version.dot, `in the final read #${read.index}`, [read]);
  }
}

/** Which of a value's dots a superseding write's context covered, in words. */
function coveredCopy(cover: OpRecord, dots: readonly Dot[], shown: Dot): string {
  const covered = dots.find((dot) => covers(cover.context ?? [], dot)) ?? shown;
  return dotsEqual(covered, shown) ? 'that dot' : `its other copy's dot ${formatDot(covered)} (one write applied twice)`;
}

/** An acknowledged write lost as checkLostWrites allows a put to be (see the file comment). */
function writeLost(write: OpRecord, final: FinalState): boolean {
  if (write.op === 'put') {
    const valueId = write.valueId ?? '';
    return final.removalExposed?.has(valueId) === true || (!final.persisted.has(valueId) && !final.durabilityPromised(write));
  }
  if (final.removalExposed?.has(`delete#${write.index}`) === true) return true;
  if (final.durabilityPromised(write)) return false;
  // A tombstone whose dot the reply did not tell (concurrent deletes) counts as possibly lost.
  return write.dot === undefined || final.persistedTombstones?.has(`${write.key}|${formatDot(write.dot)}`) !== true;
}

function checkMembership(snapshot: MembershipSnapshot, violations: Violation[]): void {
  const problems: string[] = [];
  if (snapshot.busy.length > 0) problems.push(`membership changes still under way: ${snapshot.busy.join(', ')}`);
  const views = snapshot.members.map((id) => [id, snapshot.views.get(id)] as const).filter((entry): entry is readonly [string, string] => entry[1] !== undefined);
  const distinct = new Set(views.map(([, view]) => view));
  if (distinct.size > 1) {
    problems.push(`members disagree on the membership: ${views.map(([id, view]) => `${id}: ${summarizeView(view)}`).join('; ')}`);
  }
  const first = views[0];
  if (first !== undefined) {
    const view = JSON.parse(first[1]) as { plan: unknown; members: { id: string; status: string }[] };
    if (view.plan !== null) problems.push(`a change is still pending after healing: ${summarizeView(first[1])}`);
    const listed = view.members.filter((m) => m.status !== 'removed').map((m) => m.id).sort();
    const live = [...snapshot.members].sort();
    if (listed.join(' ') !== live.join(' ')) {
      problems.push(`the member table lists [${listed.join(' ')}] (not removed) but the live members are [${live.join(' ')}] (crashed for good: [${snapshot.retired.join(' ')}])`);
    }
  }
  for (const problem of problems) violations.push({ kind: 'membership-diverged', key: undefined, valueIds: [], message: problem, records: [] });
}

function summarizeView(text: string): string {
  const view = JSON.parse(text) as { ringVersion: number; plan: { kind: string; member: string; transfersDone: number; transfersTotal: number } | null; members: { id: string; status: string; version: number }[] };
  const plan = view.plan === null ? 'settled' : `${view.plan.kind} ${view.plan.member} ${view.plan.transfersDone}/${view.plan.transfersTotal}`;
  return `v${view.ringVersion} ${plan} [${view.members.map((m) => `${m.id}:${m.status}/${m.version}`).join(' ')}]`;
}

/** The same versions: each object reflects everything in the other (undefined = empty). */
export function sameVersions(a: StoredObject | undefined, b: StoredObject | undefined): boolean {
  return objectDescends(a, b) && objectDescends(b, a);
}

function describeObject(object: StoredObject | undefined): string {
  if (object === undefined) return 'nothing';
  const siblings = versionsOf(object).map((v) => (v.deleted ? `tomb@${formatDot(v.dot)}` : `${v.valueId}@${formatDot(v.dot)}`));
  const vector = object.vector.map((entry) => `${entry.actor}:${entry.counter}`).join(',');
  return `${siblings.join(' ')} | {${vector}}`;
}

function idsOf(a: StoredObject | undefined, b: StoredObject | undefined): string[] {
  return [...new Set([...versionsOf(a), ...versionsOf(b)].filter((v) => !v.deleted).map((v) => v.valueId))];
}

/** A violation as printed: what, where, and the history lines that show it. */
export function formatViolation(violation: Violation): string {
  const lines = [`${violation.kind}${violation.key === undefined ? '' : ` on ${violation.key}`}: ${violation.message}`];
  for (const record of violation.records) lines.push(`    ${formatRecord(record)}`);
  return lines.join('\n');
}
