/**
 * A simulated client that lists keys (node/listing): now and then it pages through the live
 * keys of a prefix, each page through a random node (continuations are stateless), and
 * records the listing: its pages, and at every page boundary the keys then live on all of
 * their replicas (`stableNow`, read from the nodes' stores by the swarm).
 *
 * checkListings judges the complete ones (paper-free, Shoal's own promise, node/shoalNode.ts
 * list): keys in strictly increasing byte order with the prefix; no key listed that no put
 * had been issued for; and every key live on all of its replicas at every boundary, and
 * neither written nor deleted by anyone during the listing, listed.
 */
import { compareBytes, encodeUtf8 } from '../core/bytes.ts';
import type { Violation } from './checker.ts';
import { errorCode } from './clients.ts';
import type { OpRecord } from './history.ts';
import type { Prng } from './prng.ts';
import type { Scheduler } from './scheduler.ts';
import type { SimCluster } from './simCluster.ts';

export interface ListerDeps {
  readonly scheduler: Scheduler;
  readonly cluster: SimCluster;
  readonly random: Prng;
  /** The workload's keys (prefixes are drawn from them). */
  readonly keys: readonly string[];
  /** The nodes a client may call now. */
  readonly targets: () => readonly string[];
  /** The keys live now on every one of their replicas. */
  readonly stableNow: () => ReadonlySet<string>;
  /** A page's client-side deadline. */
  readonly deadlineMs: number;
}

export interface ListingPageRecord {
  readonly node: string;
  readonly startMs: number;
  readonly endMs: number;
  readonly keys: readonly string[];
}

export interface ListingRecord {
  readonly index: number;
  readonly prefix: string;
  readonly limit: number;
  readonly startMs: number;
  endMs: number;
  readonly pages: ListingPageRecord[];
  /** Keys live on all of their replicas at every page boundary so far. */
  stable: Set<string>;
  outcome: 'running' | 'complete' | 'abandoned';
  /** Why each failed page attempt failed. */
  readonly failures: string[];
}

export interface ListingCounts {
  readonly complete: number;
  readonly abandoned: number;
  /** Keys a complete listing had to return (stable and untouched throughout). */
  readonly stableKeysJudged: number;
}

/** Pause between listings, and between a failed page and its retry. */
const LISTING_GAP_MS = { min: 50, max: 400 } as const;
const RETRY_GAP_MS = { min: 50, max: 300 } as const;
/** Failed attempts at one page before the listing is abandoned. */
const PAGE_ATTEMPTS_MAX = 6;

export class SimLister {
  readonly listings: ListingRecord[] = [];
  private untilMs = 0;

  constructor(private readonly deps: ListerDeps) {}

  /** Starts listing; no page starts at or after `untilMs`. */
  start(untilMs: number): void {
    this.untilMs = untilMs;
    this.scheduleListing();
  }

  private scheduleListing(): void {
    const { random, scheduler } = this.deps;
    scheduler.schedule(random.between(LISTING_GAP_MS.min, LISTING_GAP_MS.max), 'lister: next listing', () => this.begin());
  }

  private begin(): void {
    const { random, scheduler, keys } = this.deps;
    if (scheduler.nowMs >= this.untilMs) return;
    const sample = random.pick(keys);
    const prefix = random.chance(0.5) ? '' : sample.slice(0, random.intBetween(1, sample.length));
    const listing: ListingRecord = {
      index: this.listings.length,
      prefix,
      limit: random.intBetween(1, 20),
      startMs: scheduler.nowMs,
      endMs: scheduler.nowMs,
      pages: [],
      stable: new Set(this.deps.stableNow()),
      outcome: 'running',
      failures: [],
    };
    this.listings.push(listing);
    this.page(listing, undefined, 0);
  }

  private page(listing: ListingRecord, after: Uint8Array | undefined, failed: number): void {
    const { random, scheduler, cluster } = this.deps;
    const targets = this.deps.targets();
    if (scheduler.nowMs >= this.untilMs || failed >= PAGE_ATTEMPTS_MAX || targets.length === 0) return this.end(listing, 'abandoned');
    const node = random.pick(targets);
    const startMs = scheduler.nowMs;
    let settled = false;
    const retry = (reason: string): void => {
      if (settled) return;
      settled = true;
      listing.failures.push(`${node}: ${reason}`);
      scheduler.schedule(random.between(RETRY_GAP_MS.min, RETRY_GAP_MS.max), 'lister: retry a page', () => this.page(listing, after, failed + 1));
    };
    const deadline = scheduler.schedule(this.deps.deadlineMs, 'lister: page deadline', () => retry('timeout'));
    cluster.call(node, (n) => n.list({ prefix: encodeUtf8(listing.prefix), after, limit: listing.limit })).then(
      (page) => {
        if (settled) return;
        settled = true;
        scheduler.cancel(deadline);
        listing.pages.push({ node, startMs, endMs: scheduler.nowMs, keys: page.keys.map((key) => Buffer.from(key).toString('utf8')) });
        intersect(listing.stable, this.deps.stableNow());
        if (page.next === undefined) this.end(listing, 'complete');
        else this.page(listing, page.next, 0);
      },
      (error: unknown) => {
        scheduler.cancel(deadline);
        retry(errorCode(error));
      },
    );
  }

  private end(listing: ListingRecord, outcome: 'complete' | 'abandoned'): void {
    listing.outcome = outcome;
    listing.endMs = this.deps.scheduler.nowMs;
    this.scheduleListing();
  }
}

function intersect(into: Set<string>, other: ReadonlySet<string>): void {
  for (const key of into) if (!other.has(key)) into.delete(key);
}

/** The violations of the complete listings against the history of puts and deletes. */
export function checkListings(listings: readonly ListingRecord[], records: readonly OpRecord[]): { violations: Violation[]; counts: ListingCounts } {
  const violations: Violation[] = [];
  let stableKeysJudged = 0;
  const writes = records.filter((record) => record.op === 'put' || record.op === 'delete');
  for (const listing of listings) {
    if (listing.outcome !== 'complete') continue;
    const listed = listing.pages.flatMap((page) => page.keys);
    violations.push(...orderViolations(listing, listed));
    violations.push(...inventedKeys(listing, writes));
    const touched = new Set(writes.filter((w) => w.startMs >= listing.startMs && w.startMs <= listing.endMs).map((w) => w.key));
    const required = [...listing.stable].filter((key) => key.startsWith(listing.prefix) && !touched.has(key));
    stableKeysJudged += required.length;
    const seen = new Set(listed);
    for (const key of required) {
      if (!seen.has(key)) violations.push(listingViolation('listing-missed', key, listing, `listing #${listing.index} (prefix ${JSON.stringify(listing.prefix)}) missed ${key}, live on all its replicas throughout and untouched`));
    }
  }
  const complete = listings.filter((l) => l.outcome === 'complete').length;
  return { violations, counts: { complete, abandoned: listings.filter((l) => l.outcome === 'abandoned').length, stableKeysJudged } };
}

function orderViolations(listing: ListingRecord, listed: readonly string[]): Violation[] {
  const out: Violation[] = [];
  listed.forEach((key, i) => {
    if (!key.startsWith(listing.prefix)) out.push(listingViolation('listing-order', key, listing, `listing #${listing.index} returned ${key}, outside prefix ${JSON.stringify(listing.prefix)}`));
    const before = listed[i - 1];
    if (before !== undefined && compareBytes(encodeUtf8(before), encodeUtf8(key)) >= 0) {
      out.push(listingViolation('listing-order', key, listing, `listing #${listing.index} returned ${key} after ${before}: not in strictly increasing order`));
    }
  });
  return out;
}

/** Keys listed before any put of them was issued: the listing made them up. */
function inventedKeys(listing: ListingRecord, writes: readonly OpRecord[]): Violation[] {
  const out: Violation[] = [];
  for (const page of listing.pages) {
    for (const key of page.keys) {
      if (!writes.some((w) => w.op === 'put' && w.key === key && w.startMs <= page.endMs)) {
        out.push(listingViolation('listing-invented', key, listing, `listing #${listing.index} returned ${key} at ${page.endMs.toFixed(3)} ms, before any put of it was issued`));
      }
    }
  }
  return out;
}

function listingViolation(kind: Violation['kind'], key: string, listing: ListingRecord, message: string): Violation {
  const pages = listing.pages.map((p) => `${p.node} ${p.startMs.toFixed(1)}-${p.endMs.toFixed(1)} ms: [${p.keys.join(', ')}]`).join('; ');
  return { kind, key, valueIds: [], message: `${message} (pages: ${pages})`, records: [] };
}
