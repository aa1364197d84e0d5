/** What a coordinator needs from its node: storage, the cluster view, peers, time, hooks. */
import type { ActorId } from '../../core/clock.ts';
import type { Clock } from '../../ports/clock.ts';
import type { Logger } from '../../ports/logger.ts';
import type { Replica } from '../../ports/replica.ts';
import type { ClusterView } from '../cluster.ts';
import type { NodeConfig } from '../config.ts';
import type { NodeEvents } from '../events.ts';
import type { FailureDetector } from '../failureDetector.ts';
import type { PeerClient } from '../peerClient.ts';

/** A get that answered and still listens for late replies (read repair). */
export interface Lingering {
  /** Ends the wait without repairing (the node is stopping). */
  stopLingering(): void;
}

/**
 * What reading and routing need: a view of the cluster, peers and time. The client library
 * (src/client/) runs the get coordinator and the forwarder on these alone: it holds no data.
 */
export interface RoutingDeps {
  readonly config: NodeConfig;
  /** The current view (membership changes replace it; read it per request). */
  readonly cluster: ClusterView;
  readonly detector: FailureDetector;
  readonly peers: PeerClient;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly events: NodeEvents;
  /** The gets lingering now; bounded by requestsInFlightMax (past it a get repairs at once). */
  readonly lingering: Set<Lingering>;
}

/** A get coordinator: a node reads its own replica too; a client has none (undefined). */
export interface GetDeps extends RoutingDeps {
  readonly replica: Replica | undefined;
}

/** What a node's coordinators need: routing, plus its own replica and the actor it issues dots under. */
export interface CoordinatorDeps extends GetDeps {
  /** This node's replica object: all of its partition data. */
  readonly replica: Replica;
  /** The actor under which this incarnation issues dots (node id + start epoch). */
  readonly actor: ActorId;
}
