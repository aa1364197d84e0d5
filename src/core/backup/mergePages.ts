/**
 * A backup reads a partition from each of its reachable owners a page at a time, every page
 * in key order, and merges them: a k-way merge of the owners' sorted pages, the copies of
 * one key combined (the caller joins their versions), so the backup holds every version any
 * of them holds.
 *
 * Each owner's page ends somewhere else; an owner whose page stopped early may hold keys
 * past its end that the others' pages already show. So the merged page stops at the
 * earliest end among the owners whose partition goes on (the frontier): up to it, every
 * owner has shown every key it holds. Keys past it are read again with the next page.
 */
import { compareBytes } from '../bytes.ts';
import type { KeyedBytes } from './entries.ts';

export interface OwnerPage {
  /** In strictly increasing key order. */
  readonly entries: readonly KeyedBytes[];
  /** Where the owner's next page starts; undefined once its page reached the partition's end. */
  readonly resumeAfter: Uint8Array | undefined;
}

export interface MergedPage {
  readonly entries: KeyedBytes[];
  /** Where the next merged page starts; undefined once every owner reached the partition's end. */
  readonly resumeAfter: Uint8Array | undefined;
}

/** Joins the copies of one key (two or more, as their owners sent them) into one encoding. */
export type CombineCopies = (key: Uint8Array, copies: readonly Uint8Array[]) => Uint8Array;

export function mergeOwnerPages(pages: readonly OwnerPage[], combine: CombineCopies): MergedPage {
  const frontier = earliestEnd(pages);
  const heads = pages.map(() => 0);
  const entries: KeyedBytes[] = [];
  for (;;) {
    const key = leastHead(pages, heads, frontier);
    if (key === undefined) return { entries, resumeAfter: frontier };
    const copies: Uint8Array[] = [];
    for (let owner = 0; owner < pages.length; owner++) {
      const entry = (pages[owner] as OwnerPage).entries[heads[owner] as number];
      if (entry === undefined || compareBytes(entry.key, key) !== 0) continue;
      copies.push(entry.bytes);
      heads[owner]! += 1;
    }
    entries.push({ key, bytes: copies.length === 1 ? (copies[0] as Uint8Array) : combine(key, copies) });
  }
}

/** The least key among the owners' next entries, up to `frontier`; undefined when none is left. */
function leastHead(pages: readonly OwnerPage[], heads: readonly number[], frontier: Uint8Array | undefined): Uint8Array | undefined {
  let least: Uint8Array | undefined;
  for (let owner = 0; owner < pages.length; owner++) {
    const entry = (pages[owner] as OwnerPage).entries[heads[owner] as number];
    if (entry === undefined || (frontier !== undefined && compareBytes(entry.key, frontier) > 0)) continue;
    if (least === undefined || compareBytes(entry.key, least) < 0) least = entry.key;
  }
  return least;
}

/** The earliest end among the pages that did not reach the partition's end; undefined when all did. */
function earliestEnd(pages: readonly OwnerPage[]): Uint8Array | undefined {
  let earliest: Uint8Array | undefined;
  for (const page of pages) {
    const end = page.resumeAfter;
    if (end !== undefined && (earliest === undefined || compareBytes(end, earliest) < 0)) earliest = end;
  }
  return earliest;
}
