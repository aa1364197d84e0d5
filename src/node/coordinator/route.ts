/**
 * Who coordinates a write of a key (paper 4.5), the one policy of the node and of the
 * client's direct mode (a read is coordinated wherever it enters: it issues no dot, see
 * shoalNode.ts): a node among the key's N primaries coordinates it; a write whose
 * context names a primary believed up goes to that primary first (the replica that answered
 * the read fastest coordinates the write); anyone else forwards to the primaries in
 * preference-list order. What happens when no candidate takes the request is the host's
 * own fallback: a node coordinates it itself with stand-ins; a client, holding no data,
 * hands it to the next nodes of the preference list.
 */
export interface Route {
  /** `self` coordinates the request now. */
  readonly coordinateHere: boolean;
  /** Otherwise, the nodes to hand it to, in order (never `self`). */
  readonly candidates: readonly string[];
}

export interface RouteQuery {
  /** The key's N primaries, in preference-list order. */
  readonly primaries: readonly string[];
  /** The replica the request's context names (writes only), if any. */
  readonly preferred: string | undefined;
  readonly isUp: (node: string) => boolean;
  /** The node routing the request; undefined for a client. */
  readonly self: string | undefined;
}

export function routeRequest({ primaries, preferred, isUp, self }: RouteQuery): Route {
  const usable = preferred !== undefined && primaries.includes(preferred) && (preferred === self || isUp(preferred)) ? preferred : undefined;
  const isPrimary = self !== undefined && primaries.includes(self);
  if (self !== undefined && (usable === self || (usable === undefined && isPrimary))) return { coordinateHere: true, candidates: [] };
  // A primary sends a write to the primary its context names and, failing that, coordinates it itself.
  const others = isPrimary ? [] : primaries.filter((node) => node !== usable);
  return { coordinateHere: false, candidates: usable === undefined ? others : [usable, ...others] };
}
