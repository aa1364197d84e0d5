/**
 * The reachability timeline of a sim run: from the plan's partitions and slow peers, and
 * from what the run did to the nodes (when each started serving, crashed, paused and
 * resumed: SimCluster.lifeLog, since crashes and pauses are carried out by the run and a
 * node is back only once its new incarnation serves), which node could answer, and which
 * pairs of nodes could exchange messages, at every virtual time. Built once after the run,
 * pure, and asked about intervals rather than sampled (availability.ts judges each request
 * against it).
 *
 *   answers    the node serves (opened and not crashed since) and is not paused
 *   linked     messages flow both ways between the two nodes: no split between them, and no
 *              one-way window in either direction (a one-way window {from, to} blocks what
 *              `from` sends to each of `to`: a request either way then gets no answer)
 *
 * Intervals are closed (both ends count), so a fault that ends at the very time a request
 * starts still overlaps it: the judgement errs towards not judging.
 *
 * Fault classes, for the availability report: `split` and `one-way` (partition windows),
 * `slow` (a slow peer's window: it still answers, late), `pause` (a paused incarnation, as
 * carried out) and `crash` (a node down between a crash and its next incarnation serving;
 * a node that never started, or has yet to, is not answering, but is no fault).
 */
import type { PartitionWindow, SlowPeerWindow } from './faultWindows.ts';

/** What SimCluster records of each node's life. */
export interface LifeEvent {
  readonly node: string;
  readonly atMs: number;
  readonly event: 'serving' | 'crash' | 'pause' | 'resume';
}

/** A slow peer's window, as far as reachability goes (a slow peer still answers). */
export type SlowWindow = Pick<SlowPeerWindow, 'node' | 'startMs' | 'endMs'>;

/** Closed: [startMs, endMs], either end possibly infinite. */
export interface Interval {
  readonly startMs: number;
  readonly endMs: number;
}

export type FaultClass = 'one-way' | 'split' | 'pause' | 'slow' | 'crash';
export const FAULT_CLASSES: readonly FaultClass[] = ['one-way', 'split', 'pause', 'slow', 'crash'];

export interface FaultWindow extends Interval {
  readonly kind: FaultClass;
  /** The nodes it is about (every node of both sides for a split). */
  readonly nodes: readonly string[];
}

export interface TimelineInput {
  readonly partitions: readonly PartitionWindow[];
  readonly slowPeers: readonly SlowWindow[];
  readonly life: readonly LifeEvent[];
}

export function overlaps(interval: Interval, fromMs: number, toMs: number): boolean {
  return interval.startMs <= toMs && interval.endMs >= fromMs;
}

export class ReachabilityTimeline {
  /** Per node, when it served (opened and not crashed since). */
  private readonly serving = new Map<string, Interval[]>();
  /** Per node, when it was paused. */
  private readonly paused = new Map<string, Interval[]>();
  /** Per direction `a>b`, when it was blocked. */
  private readonly blocked = new Map<string, Interval[]>();
  /** Every fault window, in no particular order. */
  readonly faults: FaultWindow[] = [];

  constructor(input: TimelineInput) {
    for (const window of input.partitions) this.addPartition(window);
    for (const window of input.slowPeers) this.faults.push({ kind: 'slow', startMs: window.startMs, endMs: window.endMs, nodes: [window.node] });
    this.addLife(input.life);
  }

  /** The node answered throughout [fromMs, toMs]: serving all along, and never paused. */
  answersThroughout(node: string, fromMs: number, toMs: number): boolean {
    return this.servedThroughout(node, fromMs, toMs) && !this.pausedWithin(node, fromMs, toMs);
  }

  /**
   * One incarnation of the node served throughout [fromMs, toMs] (paused or not). A crash at
   * toMs itself counts against it: a client call ends at the crash that broke it off.
   */
  servedThroughout(node: string, fromMs: number, toMs: number): boolean {
    return (this.serving.get(node) ?? []).some((interval) => interval.startMs <= fromMs && interval.endMs > toMs);
  }

  /** The node was paused at some time within [fromMs, toMs]. */
  pausedWithin(node: string, fromMs: number, toMs: number): boolean {
    return (this.paused.get(node) ?? []).some((interval) => overlaps(interval, fromMs, toMs));
  }

  /** The node was slow (a slow peer's window) at some time within [fromMs, toMs]. */
  slowWithin(node: string, fromMs: number, toMs: number): boolean {
    return this.faults.some((fault) => fault.kind === 'slow' && fault.nodes.includes(node) && overlaps(fault, fromMs, toMs));
  }

  /** Messages flowed both ways between `a` and `b` throughout [fromMs, toMs]. */
  linkedThroughout(a: string, b: string, fromMs: number, toMs: number): boolean {
    if (a === b) return true;
    const blockedAt = (link: string): boolean => (this.blocked.get(link) ?? []).some((interval) => overlaps(interval, fromMs, toMs));
    return !blockedAt(`${a}>${b}`) && !blockedAt(`${b}>${a}`);
  }

  /**
   * The candidates `entry` could reach throughout [fromMs, toMs]: each answering all along
   * and linked both ways with `entry` all along (`entry` itself counts when it answers).
   */
  reachableFrom(entry: string, candidates: readonly string[], fromMs: number, toMs: number): string[] {
    return candidates.filter((node) => this.answersThroughout(node, fromMs, toMs) && this.linkedThroughout(entry, node, fromMs, toMs));
  }

  /** Classes of the fault windows overlapping [fromMs, toMs]. */
  classesDuring(fromMs: number, toMs: number): Set<FaultClass> {
    return new Set(this.faults.filter((fault) => overlaps(fault, fromMs, toMs)).map((fault) => fault.kind));
  }

  /** Classes of the fault windows that ended within [fromMs, toMs]. */
  classesEndedWithin(fromMs: number, toMs: number): Set<FaultClass> {
    return new Set(this.faults.filter((fault) => fault.endMs >= fromMs && fault.endMs <= toMs).map((fault) => fault.kind));
  }

  private addPartition(window: PartitionWindow): void {
    const interval = { startMs: window.startMs, endMs: window.endMs };
    const block = (from: string, to: string): void => pushInterval(this.blocked, `${from}>${to}`, interval);
    if (window.kind === 'split') {
      for (const a of window.sides[0]) {
        for (const b of window.sides[1]) {
          block(a, b);
          block(b, a);
        }
      }
      this.faults.push({ kind: 'split', ...interval, nodes: [...window.sides[0], ...window.sides[1]] });
    } else {
      for (const to of window.to) block(window.from, to);
      this.faults.push({ kind: 'one-way', ...interval, nodes: [window.from, ...window.to] });
    }
  }

  /** Serving, down and paused intervals from the life log (events in time order per node). */
  private addLife(life: readonly LifeEvent[]): void {
    const byNode = new Map<string, LifeEvent[]>();
    for (const event of life) byNode.set(event.node, [...(byNode.get(event.node) ?? []), event]);
    for (const [node, events] of byNode) {
      const sorted = [...events].sort((a, b) => a.atMs - b.atMs);
      let servingSince: number | undefined;
      let downSince: number | undefined;
      let pausedSince: number | undefined;
      const endPause = (atMs: number): void => {
        if (pausedSince === undefined) return;
        pushInterval(this.paused, node, { startMs: pausedSince, endMs: atMs });
        this.faults.push({ kind: 'pause', startMs: pausedSince, endMs: atMs, nodes: [node] });
        pausedSince = undefined;
      };
      for (const { atMs, event } of sorted) {
        switch (event) {
          case 'serving':
            servingSince ??= atMs;
            if (downSince !== undefined) this.faults.push({ kind: 'crash', startMs: downSince, endMs: atMs, nodes: [node] });
            downSince = undefined;
            break;
          case 'crash':
            // A crash while still opening (never served) is a crash all the same.
            if (servingSince !== undefined) pushInterval(this.serving, node, { startMs: servingSince, endMs: atMs });
            servingSince = undefined;
            downSince ??= atMs;
            endPause(atMs);
            break;
          case 'pause':
            pausedSince ??= atMs;
            break;
          case 'resume':
            endPause(atMs);
            break;
        }
      }
      if (servingSince !== undefined) pushInterval(this.serving, node, { startMs: servingSince, endMs: Number.POSITIVE_INFINITY });
      if (downSince !== undefined) this.faults.push({ kind: 'crash', startMs: downSince, endMs: Number.POSITIVE_INFINITY, nodes: [node] });
      endPause(Number.POSITIVE_INFINITY);
    }
  }
}

function pushInterval(map: Map<string, Interval[]>, key: string, interval: Interval): void {
  const list = map.get(key);
  if (list === undefined) map.set(key, [interval]);
  else list.push(interval);
}
