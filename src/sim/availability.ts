/**
 * Availability under faults, gray ones included (checker.ts `unavailable`): a client request
 * that could have succeeded did succeed. Dynamo's promise (DESIGN.md 1) is that a request
 * succeeds while enough nodes can be reached; this judges each request of the safety
 * phase against the reachability timeline (reachability.ts) from its entry node's point of
 * view, which is where the coordinator's choices are made.
 *
 * A request is eligible when, throughout [startMs - recoveryGraceMs, endMs] (endMs: its
 * answer, or the client's deadline; the window starts no earlier than 0, when every founder
 * opened with its failure detector believing every peer up):
 * - no membership change was under way (from the action's time to when it took effect or
 *   was given up, plus CHANGE_SPREAD_GOSSIP_ROUNDS gossip rounds for the other members to
 *   learn the end). Requests overlapping a change are not judged: the preference list moves
 *   under them and whose ring counts is not well defined, so no sound judgement is cheap;
 * - the entry node was not paused, and it served from the request's start to its end: it
 *   is one of its own W (R) and coordinates when no one else will (coordinator/route.ts).
 *   One paused within the grace is not judged, as its failure detector still holds the
 *   verdicts it formed on waking (every request it had sent timed out); one that restarted
 *   just before is, as a new incarnation believes every peer up. Nor was it slow: a slow
 *   peer's own requests all take most of the timeout, so no choice of replicas helps a
 *   request that entered through it;
 * - at least W (puts and deletes) or R (gets; the request's own when it overrides them)
 *   members of the entry node's ring (taken when the request started: OpRecord.entryMembers)
 *   were reachable from it: answering, with messages flowing both ways between it and the
 *   entry node. Any W members will do: the quorum is sloppy (stand-ins take what primaries
 *   cannot), so every member in the key's preference list counts. A slow peer counts as
 *   reachable: it answers, late, and the coordinator is expected to hedge around it;
 * - it was not shed by a named limit (SHED_CODES): a refusal the node owes nobody an
 *   apology for;
 * - and the seed's network is calm (networkCondition): it loses no message, and its
 *   largest delay lets a forwarded request's four one-way trips (entry to coordinator,
 *   coordinator to replica and back, back to the entry) fit in forwardTimeoutMs. On a lossy
 *   network a request fails when its messages are lost, reachable or not, and on one slower
 *   than the seed's own timeouts it fails for want of time; both are measured (`uncalm`)
 *   with the same rules, but never enforced.
 * An eligible request that failed or timed out at the client is unavailable.
 *
 * recoveryGraceMs: after a fault ends, the entry node still holds what its failure
 * detector concluded during it (the peer suspect or down) until a probe is answered. The
 * prober pings doubted peers every probeIntervalMs jittered up to 1.5 times, with at most
 * one probe in flight per peer, so a probe sent just before the heal may still wait out its
 * timeout (at most requestTimeoutMs) before the next one goes, and that one needs a round
 * trip (twice the network's largest delay). A peer must have been reachable that long
 * before the request for the entry node to know.
 *
 * Besides the verdicts, requests are tallied by the fault classes in effect: during one
 * (some fault window overlapped the request) or after a heal (none overlapped it, but one
 * ended within AFTER_HEAL_MS before it started), else `none`. A request counts once in
 * every class in effect.
 */
import type { OpRecord } from './history.ts';
import { FAULT_CLASSES, overlaps, type FaultClass, type Interval, type ReachabilityTimeline } from './reachability.ts';

/** A request that starts this long after a fault ended counts as `after heal` of that fault's class. */
export const AFTER_HEAL_MS = 5000;
/** Gossip rounds for every member to learn that a membership change ended (each round contacts one random peer). */
export const CHANGE_SPREAD_GOSSIP_ROUNDS = 4;
/** Refusals by a named limit (node/errors.ts): the node sheds load there on purpose. */
export const SHED_CODES: ReadonlySet<string> = new Set(['OVERLOADED', 'BUFFER_FULL', 'HINTS_FULL', 'TOO_MANY_SIBLINGS']);

export function recoveryGraceMs(settings: { readonly probeIntervalMs: number; readonly requestTimeoutMs: number }, delayMaxMs: number): number {
  return 1.5 * settings.probeIntervalMs + settings.requestTimeoutMs + 2 * delayMaxMs;
}

/** Whether a seed's network lets reachability alone decide (see the file comment). */
export type NetworkCondition = 'calm' | 'lossy' | 'slow';

/** One-way trips of a forwarded request: entry to coordinator, coordinator to replica, and back twice. */
const FORWARDED_TRIPS = 4;

export function networkCondition(faults: { readonly dropRate: number; readonly delayMaxMs: number }, settings: { readonly forwardTimeoutMs: number }): NetworkCondition {
  if (faults.dropRate > 0) return 'lossy';
  return FORWARDED_TRIPS * faults.delayMaxMs > settings.forwardTimeoutMs ? 'slow' : 'calm';
}

/** Why a request was not judged. */
export type Exclusion = 'membership-change' | 'entry-not-answering' | 'entry-slow' | 'too-few-reachable' | 'shed' | 'lossy-network' | 'slow-network';
export const EXCLUSIONS: readonly Exclusion[] = ['membership-change', 'entry-not-answering', 'entry-slow', 'too-few-reachable', 'shed', 'lossy-network', 'slow-network'];

export interface Tally {
  eligible: number;
  failed: number;
}

export interface PhaseTally {
  during: Tally;
  afterHeal: Tally;
}

export interface AvailabilityCounts {
  /** Client requests of the safety phase (the simulator's own final reads not included). */
  requests: number;
  excluded: Record<Exclusion, number>;
  eligible: number;
  failed: number;
  byClass: Record<FaultClass, PhaseTally>;
  /** Eligible requests with no fault during them nor within AFTER_HEAL_MS before. */
  none: Tally;
  /** The eligible failures by error code (`timeout`: the client's deadline passed). */
  failedByCode: Record<string, number>;
  /** Requests of seeds whose network is not calm that the same rules would have made eligible: measured, never enforced. */
  uncalm: { lossy: Tally; slow: Tally };
}

export interface AvailabilityInput {
  readonly records: readonly OpRecord[];
  readonly timeline: ReachabilityTimeline;
  readonly recoveryGraceMs: number;
  /** When membership changes were under way (MembershipDriver.changeWindows). */
  readonly changes: readonly Interval[];
  /** How long after a change ended its end is still spreading (CHANGE_SPREAD_GOSSIP_ROUNDS rounds). */
  readonly changeSpreadMs: number;
  readonly network: NetworkCondition;
}

/** An eligible request that failed, with what made it eligible. */
export interface Unavailable {
  readonly record: OpRecord;
  readonly needed: number;
  readonly reachable: readonly string[];
  readonly fromMs: number;
}

export interface AvailabilityJudgement {
  readonly counts: AvailabilityCounts;
  readonly unavailable: readonly Unavailable[];
}

export function emptyCounts(): AvailabilityCounts {
  const byClass = Object.fromEntries(FAULT_CLASSES.map((kind) => [kind, { during: emptyTally(), afterHeal: emptyTally() }])) as Record<FaultClass, PhaseTally>;
  const excluded = Object.fromEntries(EXCLUSIONS.map((reason) => [reason, 0])) as Record<Exclusion, number>;
  return { requests: 0, excluded, eligible: 0, failed: 0, byClass, none: emptyTally(), failedByCode: {}, uncalm: { lossy: emptyTally(), slow: emptyTally() } };
}

function emptyTally(): Tally {
  return { eligible: 0, failed: 0 };
}

export function judgeAvailability(input: AvailabilityInput): AvailabilityJudgement {
  const { timeline } = input;
  const counts = emptyCounts();
  const unavailable: Unavailable[] = [];
  for (const record of input.records) {
    if (record.client === 'final' || record.endMs === undefined) continue;
    counts.requests++;
    const fromMs = Math.max(0, record.startMs - input.recoveryGraceMs);
    const toMs = record.endMs;
    const exclusion = excluded(input, record, fromMs, toMs);
    if (exclusion !== undefined) {
      counts.excluded[exclusion]++;
      continue;
    }
    const failed = record.outcome !== 'ok';
    if (input.network !== 'calm') {
      counts.excluded[input.network === 'lossy' ? 'lossy-network' : 'slow-network']++;
      const tally = counts.uncalm[input.network];
      tally.eligible++;
      if (failed) tally.failed++;
      continue;
    }
    counts.eligible++;
    if (failed) {
      counts.failed++;
      const code = record.outcome === 'timeout' ? 'timeout' : (record.error ?? 'unknown');
      counts.failedByCode[code] = (counts.failedByCode[code] ?? 0) + 1;
      const needed = neededOf(record);
      unavailable.push({ record, needed, reachable: reachableMembers(timeline, record, fromMs, toMs), fromMs });
    }
    const count = (tally: Tally): void => {
      tally.eligible++;
      if (failed) tally.failed++;
    };
    const during = timeline.classesDuring(record.startMs, toMs);
    const after = during.size > 0 ? new Set<FaultClass>() : timeline.classesEndedWithin(record.startMs - AFTER_HEAL_MS, record.startMs);
    for (const kind of during) count(counts.byClass[kind].during);
    for (const kind of after) count(counts.byClass[kind].afterHeal);
    if (during.size === 0 && after.size === 0) count(counts.none);
  }
  return { counts, unavailable };
}

/**
 * The members of the entry node's ring it could reach throughout [fromMs, toMs]: itself
 * when it is a member (its own conditions are the eligibility's), and each other member
 * that answered and was linked with it all along.
 */
function reachableMembers(timeline: ReachabilityTimeline, record: OpRecord, fromMs: number, toMs: number): string[] {
  const members = record.entryMembers ?? [];
  const others = new Set(timeline.reachableFrom(record.node, members.filter((id) => id !== record.node), fromMs, toMs));
  return members.filter((id) => id === record.node || others.has(id));
}

/** R for a get, W for a write (the request's own quorum: overrides included). */
function neededOf(record: OpRecord): number {
  return record.op === 'get' ? record.quorum.r : record.quorum.w;
}

function excluded(input: AvailabilityInput, record: OpRecord, fromMs: number, toMs: number): Exclusion | undefined {
  if (input.changes.some((change) => overlaps({ startMs: change.startMs, endMs: change.endMs + input.changeSpreadMs }, fromMs, toMs))) return 'membership-change';
  if (!input.timeline.servedThroughout(record.node, record.startMs, toMs) || input.timeline.pausedWithin(record.node, fromMs, toMs)) return 'entry-not-answering';
  if (input.timeline.slowWithin(record.node, record.startMs, toMs)) return 'entry-slow';
  if (reachableMembers(input.timeline, record, fromMs, toMs).length < neededOf(record)) return 'too-few-reachable';
  if (record.outcome === 'failed' && SHED_CODES.has(record.error ?? '')) return 'shed';
  return undefined;
}

/** Sums the counts of several seeds. */
export function addCounts(a: AvailabilityCounts, b: AvailabilityCounts): AvailabilityCounts {
  const sum = emptyCounts();
  const add = (into: Tally, x: Tally, y: Tally): void => {
    into.eligible = x.eligible + y.eligible;
    into.failed = x.failed + y.failed;
  };
  sum.requests = a.requests + b.requests;
  for (const reason of EXCLUSIONS) sum.excluded[reason] = a.excluded[reason] + b.excluded[reason];
  sum.eligible = a.eligible + b.eligible;
  sum.failed = a.failed + b.failed;
  for (const kind of FAULT_CLASSES) {
    add(sum.byClass[kind].during, a.byClass[kind].during, b.byClass[kind].during);
    add(sum.byClass[kind].afterHeal, a.byClass[kind].afterHeal, b.byClass[kind].afterHeal);
  }
  add(sum.none, a.none, b.none);
  add(sum.uncalm.lossy, a.uncalm.lossy, b.uncalm.lossy);
  add(sum.uncalm.slow, a.uncalm.slow, b.uncalm.slow);
  for (const [code, n] of [...Object.entries(a.failedByCode), ...Object.entries(b.failedByCode)]) sum.failedByCode[code] = (sum.failedByCode[code] ?? 0) + n;
  return sum;
}

/** Share of the eligible requests that succeeded (1 when none was eligible), to 4 places. */
export function successShare(tally: Tally): number {
  return tally.eligible === 0 ? 1 : Math.round((1 - tally.failed / tally.eligible) * 10_000) / 10_000;
}

/** The counts with a success share beside every tally, for the JSON summary line. */
export function availabilitySummary(counts: AvailabilityCounts): object {
  const shown = (tally: Tally): object => ({ eligible: tally.eligible, failed: tally.failed, successShare: successShare(tally) });
  const byClass = Object.fromEntries(FAULT_CLASSES.map((kind) => [kind, { during: shown(counts.byClass[kind].during), afterHeal: shown(counts.byClass[kind].afterHeal) }]));
  const failedByCode = Object.fromEntries(Object.entries(counts.failedByCode).sort(([, x], [, y]) => y - x));
  const uncalm = { lossy: shown(counts.uncalm.lossy), slow: shown(counts.uncalm.slow) };
  return { requests: counts.requests, excluded: counts.excluded, ...shown(counts), byClass, none: shown(counts.none), failedByCode, uncalm };
}
