/**
 * Which nodes one request goes to (paper 4.5, 4.6), as pure functions of the key's
 * preference list (every member, in ring order: computed once per partition at start, see
 * cluster.ts), the nodes believed up, N and the coordinator's id.
 *
 * - primaries: the key's first N distinct owners clockwise (riak_core_apl's primaries).
 * - targets: the first N up nodes of the preference list (sloppy quorum): the up primaries,
 *   then fallbacks standing in for the down ones, each fallback told which primary it
 *   stands in for (`hintFor`), in ring order.
 * - spares: the up nodes after the targets, in ring order; when a target fails, the next
 *   spare replaces it (standing in for the primary the failed target was or stood in for),
 *   so a write succeeds as long as any W nodes of the whole list can be reached.
 * - A node coordinating a write is always a target: it issues the new version's dot on its
 *   own copy (core/object.ts), so when it coordinates for a key it is not a primary of (all
 *   primaries unreachable), it takes the place of the last target and stands in for that
 *   one's primary. A read issues no dot: its coordinator is a target only where the list
 *   puts it (`placeSelf` false), else a spare in its place in the list (always up for
 *   itself), and reads the targets like a client coordinating a get (src/client/), which
 *   holds no copy at all: `self` undefined, no placement.
 */

export interface Target {
  readonly node: string;
  /** Set when the node is a fallback: the primary whose copy it holds as a hint. */
  readonly hintFor: string | undefined;
}

export interface TargetPlan {
  readonly primaries: readonly string[];
  readonly targets: readonly Target[];
  /** Up nodes not (yet) asked, in preference-list order. */
  readonly spares: readonly string[];
}

/**
 * Targets and spares for a request coordinated by `self` (see the file comment); `order`
 * is the key's whole preference list, so its first n entries are the primaries.
 */
export function planTargets(order: readonly string[], up: ReadonlySet<string>, n: number, self: string | undefined, placeSelf = true): TargetPlan {
  const primaries = order.slice(0, n);
  // Up primaries first, then up fallbacks, each in ring order (core/preflist.ts's order).
  // Loops rather than filters and closures: this runs for every request.
  const listed: string[] = [];
  const downPrimaries: string[] = [];
  for (const node of primaries) (node === self || up.has(node) ? listed : downPrimaries).push(node);
  const upPrimaries = listed.length;
  for (let i = n; i < order.length; i++) {
    const node = order[i] as string;
    if (node === self || up.has(node)) listed.push(node);
  }
  const targets: Target[] = [];
  for (let i = 0; i < listed.length && i < n; i++) {
    targets.push({ node: listed[i] as string, hintFor: i < upPrimaries ? undefined : downPrimaries[i - upPrimaries] });
  }
  const spares = listed.slice(n);
  if (placeSelf && self !== undefined && !targets.some((target) => target.node === self)) placeSelfAsTarget(targets, spares, primaries, self);
  return { primaries, targets, spares };
}

/** Replaces the last target with `self`; the displaced node becomes the first spare. */
function placeSelfAsTarget(targets: Target[], spares: string[], primaries: readonly string[], self: string): void {
  const displaced = targets.pop();
  const selfIndex = spares.indexOf(self);
  if (selfIndex >= 0) spares.splice(selfIndex, 1);
  if (displaced === undefined) {
    // No other node is up. A coordinator outside the ring (a joiner whose change has not
    // settled yet) is not in `order` at all: it still stands in for a primary, or its copy
    // would sit in a partition nobody reads.
    targets.push({ node: self, hintFor: primaries.includes(self) ? undefined : primaries[0] });
    return;
  }
  const hintFor = displaced.hintFor ?? (primaries.includes(displaced.node) ? displaced.node : undefined);
  targets.push({ node: self, hintFor: primaries.includes(self) ? undefined : hintFor });
  spares.unshift(displaced.node);
}

/**
 * The stand-in for a failed target: the first spare, holding a hint for the primary the
 * failed target was (or stood in for), unless the spare is a primary itself. Returns the
 * new target and the spares left, or undefined when no spare is left.
 */
export function replacementFor(
  failed: Target,
  spares: readonly string[],
  primaries: readonly string[],
): { target: Target; spares: readonly string[] } | undefined {
  const [next, ...rest] = spares;
  if (next === undefined) return undefined;
  const owner = failed.hintFor ?? (primaries.includes(failed.node) ? failed.node : undefined);
  return { target: { node: next, hintFor: primaries.includes(next) ? undefined : owner }, spares: rest };
}
