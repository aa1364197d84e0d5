/** How many versions reads return (paper 6.3: the share of reads that see 1, 2, 3, 4+ versions). */

/** Version counts above this are pooled, so the counter stays bounded whatever a server answers. */
const EXACT_VERSIONS_MAX = 1000;

export interface VersionSummary {
  /** Reads counted (absent keys included). */
  reads: number;
  /** Reads that found no version (404 / nil). */
  absent: number;
  /** Reads by exact version count ("1", "2", …; `${EXACT_VERSIONS_MAX}+` pools the rest). */
  byVersions: Record<string, number>;
  /** Shares of the reads that found the key (absent ones left out), as the paper reports them. */
  shares: { one: number; two: number; three: number; fourOrMore: number };
  /** Largest version count seen. */
  max: number;
}

export class VersionCounter {
  private readonly counts = new Map<number, number>();
  private reads = 0;
  private max = 0;

  record(versions: number): void {
    const bucket = Math.min(Math.max(0, Math.floor(versions)), EXACT_VERSIONS_MAX);
    this.counts.set(bucket, (this.counts.get(bucket) ?? 0) + 1);
    this.reads++;
    this.max = Math.max(this.max, versions);
  }

  merge(other: VersionCounter): void {
    for (const [versions, count] of other.counts) this.counts.set(versions, (this.counts.get(versions) ?? 0) + count);
    this.reads += other.reads;
    this.max = Math.max(this.max, other.max);
  }

  summary(): VersionSummary {
    return versionSummary(this.counts, this.max);
  }
}

/** The summary of exact counts (version count → reads); pure, for tests and reports. */
export function versionSummary(counts: ReadonlyMap<number, number>, max = Math.max(0, ...counts.keys())): VersionSummary {
  const at = (v: number): number => counts.get(v) ?? 0;
  let reads = 0;
  let fourOrMore = 0;
  const byVersions: Record<string, number> = {};
  for (const [versions, count] of [...counts].sort(([a], [b]) => a - b)) {
    reads += count;
    if (versions >= 4) fourOrMore += count;
    if (versions > 0) byVersions[versions >= EXACT_VERSIONS_MAX ? `${EXACT_VERSIONS_MAX}+` : String(versions)] = count;
  }
  const found = reads - at(0);
  const share = (n: number): number => (found === 0 ? 0 : Math.round((n / found) * 1e6) / 1e6);
  return {
    reads,
    absent: at(0),
    byVersions,
    shares: { one: share(at(1)), two: share(at(2)), three: share(at(3)), fourOrMore: share(fourOrMore) },
    max,
  };
}
