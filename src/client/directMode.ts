/**
 * Client-driven coordination (paper 6.4): the client fetches the membership and the ring
 * from a node (`GET /admin/cluster`), refreshes them every refreshIntervalMs and soon after
 * a request fails, and coordinates requests itself with the node's own code over the
 * internode protocol (TCP, msgpack frames), saving the hop through a coordinating node:
 *
 * - a get runs the get coordinator (node/coordinator/getCoordinator.ts) with no local
 *   replica: it asks the key's first N up nodes, answers after R, repairs stale replicas;
 * - a put or delete is handed to one replica as a `forward` (node/coordinator/forwarder.ts):
 *   the replica the context names (the read's fastest, paper 4.5) when it is a primary
 *   believed up, else the first primary up, then the next ones, then the fallbacks. That
 *   replica coordinates it: the new version's dot is issued on a replica's own copy, as
 *   dotted version vectors require (a client issuing dots would add an actor per client
 *   to every vector).
 *
 * The client takes an id of its own (`client-<random>`): nodes serve it as a stranger of
 * their cluster (io/tcpTransport.ts), up to the transport's bound on such connections.
 */
import { encodeContext, decodeContext } from '../core/context.ts';
import { partitionOfKey } from '../core/hash.ts';
import type { StoredObject } from '../core/object.ts';
import { createTcpTransport, type TcpTransport } from '../io/tcpTransport.ts';
import { viewOfState, preferenceOf, type ClusterView } from '../node/cluster.ts';
import { decodeClusterSnapshot, type DecodedSnapshot } from '../node/clusterSnapshot.ts';
import { nodeConfigFrom, type NodeConfig } from '../node/config.ts';
import type { GetDeps, Lingering } from '../node/coordinator/deps.ts';
import { forwardRequest } from '../node/coordinator/forwarder.ts';
import { routeRequest } from '../node/coordinator/route.ts';
import { coordinateGet } from '../node/coordinator/getCoordinator.ts';
import { QuorumUnreachableError, RequestError } from '../node/errors.ts';
import { FailureDetector } from '../node/failureDetector.ts';
import { PeerClient } from '../node/peerClient.ts';
import { Prober } from '../node/prober.ts';
import type { ForwardMessage } from '../node/protocol.ts';
import { readOutcome } from '../node/readOutcome.ts';
import { checkContentType, checkKey, checkValue, resolveQuorum } from '../node/request.ts';
import type { Clock, TimerHandle } from '../ports/clock.ts';
import type { Logger } from '../ports/logger.ts';
import type { Random } from '../ports/random.ts';
import type { Backend, CallPlan, ListCall, WriteCall } from './backend.ts';
import { HttpAttemptError, NodeConnection } from './httpRequest.ts';
import type { ResolvedOptions } from './options.ts';
import { ShoalClientError, type GetResult, type ListPage, type WriteResult } from './results.ts';
import { encodeListToken } from '../core/listing.ts';
import { checkListInput, listTokenAfter } from '../node/listing/listInput.ts';
import { encodeUtf8 } from '../core/bytes.ts';
import { coordinateListPage } from '../node/listing/listCoordinator.ts';

/** Refreshes asked for by failing requests come at most this often. */
const REFRESH_ON_ERROR_MS_MIN = 1000;
/** How often peers marked down are probed again. */
const PROBE_INTERVAL_MS = 1000;

export interface DirectModeDeps {
  readonly clock: Clock;
  readonly random: Random;
  readonly logger: Logger;
}

/** What routing needs once a snapshot is in: the view and the coordinator deps built on it. */
interface Routing {
  readonly snapshot: DecodedSnapshot;
  readonly view: ClusterView;
}

export class DirectMode implements Backend {
  private readonly id: string;
  private readonly connections: readonly NodeConnection[];
  private routing: Routing | undefined;
  private transport: TcpTransport | undefined;
  private detector: FailureDetector | undefined;
  private coordinatorDeps: GetDeps | undefined;
  private prober: Prober | undefined;
  private first: Promise<Routing> | undefined;
  private refreshTimer: TimerHandle | undefined;
  private lastRefreshMs = -Infinity;
  private nextNode = 0;
  /** Writes sent so far: the counter of their write ids (a coordinator applies each once). */
  private writesSent = 0;
  private closed = false;
  private readonly lingering = new Set<Lingering>();

  constructor(
    private readonly options: ResolvedOptions,
    private readonly deps: DirectModeDeps,
  ) {
    this.id = `client-${Math.floor(deps.random.next() * 2 ** 48).toString(16).padStart(12, '0')}`;
    this.connections = options.nodes.map((url) => new NodeConnection(url, options.access));
  }

  async get(plan: CallPlan): Promise<GetResult> {
    const routing = await this.ready(plan);
    const { snapshot, view } = routing;
    const deps = this.coordinatorDeps as GetDeps;
    const { partition, quorum } = this.checked(plan, routing);
    try {
      const { object, fastest } = await coordinateGet(deps, { partition, key: plan.keyBytes, quorum, timeoutMs: Math.max(1, plan.deadline.remainingMs()) });
      return resultOf(object, encodeContext(object?.vector ?? [], snapshot.clusterName, fastest === undefined ? {} : { coordinator: fastest }));
    } catch (error) {
      throw this.failed(error, view);
    }
  }

  async write(plan: CallPlan, write: WriteCall): Promise<WriteResult> {
    const routing = await this.ready(plan);
    const { snapshot, view } = routing;
    const { partition, quorum } = this.checked(plan, routing);
    let preferred: string | undefined;
    if (write.context !== undefined) {
      const decoded = decodeContext(write.context, snapshot.clusterName);
      if (!decoded.ok) throw new ShoalClientError('CONTEXT_INVALID', `bad context: ${decoded.reason}`);
      preferred = decoded.coordinator;
    }
    if (write.op === 'put') this.guard(() => (checkValue(write.value, snapshot.valueBytesMax), checkContentType(write.contentType)));
    const order = preferenceOf(view, partition);
    const { candidates: primaries } = routeRequest({ primaries: order.slice(0, quorum.n), preferred, isUp: (node) => this.detector?.isUp(node) === true, self: undefined });
    // The client holds no data: when no primary takes the write, the next nodes of the list coordinate it with stand-ins.
    const candidates = [...primaries, ...order.filter((node) => !primaries.includes(node))];
    const message: Omit<ForwardMessage, 'timeoutMs'> = {
      type: 'forward',
      op: write.op,
      key: plan.keyBytes,
      n: quorum.n,
      r: quorum.r,
      w: quorum.w,
      ...(write.op === 'put' ? { value: write.value, contentType: write.contentType } : {}),
      ...(write.context === undefined ? {} : { context: write.context }),
      writeId: `${this.id}/${++this.writesSent}`,
    };
    try {
      const { object, nextCoordinator } = await forwardRequest(this.coordinatorDeps as GetDeps, {
        candidates,
        message,
        deadline: plan.deadline,
        coordinateLocally: () => Promise.reject(new QuorumUnreachableError('write', { needed: quorum.w, answered: 0, failed: candidates.length, targets: candidates.length })),
      });
      if (object === undefined) throw new ShoalClientError('BAD_ANSWER', 'a coordinator answered a write without the object it wrote');
      return { context: encodeContext(object.vector, snapshot.clusterName, nextCoordinator === undefined ? {} : { coordinator: nextCoordinator }) };
    } catch (error) {
      throw this.failed(error, view);
    }
  }

  async listPage(call: ListCall): Promise<ListPage> {
    const routing = await this.ready(call);
    const { snapshot, view } = routing;
    const input = { prefix: encodeUtf8(call.prefix), after: this.guard(() => listTokenAfter(call.after, snapshot.keyBytesMax)), limit: call.limit };
    this.guard(() => checkListInput(input, snapshot.keyBytesMax));
    try {
      const page = await coordinateListPage({ ...(this.coordinatorDeps as GetDeps), serveLocal: undefined }, { ...input, deadline: call.deadline });
      return { keys: page.keys.map(decodeKey), next: page.next === undefined ? undefined : encodeListToken(page.next) };
    } catch (error) {
      throw this.failed(error, view);
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.refreshTimer !== undefined) this.deps.clock.clearTimer(this.refreshTimer);
    this.prober?.stop();
    for (const get of [...this.lingering]) get.stopLingering();
    for (const connection of this.connections) connection.close();
    await this.transport?.close();
  }

  /** The current routing; the first call waits for the first snapshot (within the request's deadline). */
  private async ready(plan: Pick<CallPlan, 'deadline'>): Promise<Routing> {
    if (this.closed) throw new ShoalClientError('UNAVAILABLE', 'the client is closed');
    if (this.routing !== undefined) return this.routing;
    this.first ??= this.bootstrap(plan.deadline.remainingMs());
    return this.first;
  }

  private async bootstrap(timeoutMs: number): Promise<Routing> {
    try {
      const snapshot = await this.fetchSnapshot(timeoutMs);
      const routing = this.adopt(snapshot);
      this.scheduleRefresh();
      return routing;
    } catch (error) {
      this.first = undefined; // the next request tries again
      throw error;
    }
  }

  /** A snapshot from the first node that gives a valid one, trying them in turn. */
  private async fetchSnapshot(timeoutMs: number): Promise<DecodedSnapshot> {
    const failures: string[] = [];
    const endMs = this.deps.clock.monotonicMs() + timeoutMs;
    for (let i = 0; i < this.connections.length; i++) {
      const node = this.connections[(this.nextNode + i) % this.connections.length] as NodeConnection;
      const remainingMs = endMs - this.deps.clock.monotonicMs();
      if (remainingMs <= 0) break;
      try {
        const answer = await node.send('GET', '/admin/cluster', {}, undefined, Math.max(1, Math.min(this.options.attemptTimeoutMs, remainingMs)));
        if (answer.status !== 200) throw new Error(`HTTP ${answer.status}`);
        this.nextNode = (this.nextNode + i + 1) % this.connections.length;
        return decodeClusterSnapshot(JSON.parse(answer.body.toString('utf8')));
      } catch (error) {
        failures.push(`${node.url.host}: ${error instanceof HttpAttemptError || error instanceof Error ? error.message : String(error)}`);
      }
    }
    throw new ShoalClientError('UNAVAILABLE', `no node gave the cluster's membership and ring: ${failures.join('; ') || 'no time left'}`, failures);
  }

  /** Routes by `snapshot` from now on (the transport is made for the cluster of the first one). */
  private adopt(snapshot: DecodedSnapshot): Routing {
    const current = this.routing;
    if (current !== undefined && snapshot.clusterName !== current.snapshot.clusterName) {
      throw new ShoalClientError('BAD_ANSWER', `a node of cluster ${JSON.stringify(snapshot.clusterName)} answered for cluster ${JSON.stringify(current.snapshot.clusterName)}`);
    }
    if (current !== undefined && snapshot.state.ringVersion < current.snapshot.state.ringVersion) return current;
    const view = viewOfState(this.id, snapshot.state, snapshot);
    const routing: Routing = { snapshot, view };
    if (this.transport === undefined) this.connect(snapshot, view);
    this.transport?.setPeers(view.peers);
    this.detector?.setPeers(view.members);
    this.routing = routing;
    return routing;
  }

  private connect(snapshot: DecodedSnapshot, view: ClusterView): void {
    const { clock, random, logger } = this.deps;
    const tls = this.options.internodeTls;
    const transport = createTcpTransport({
      localId: this.id,
      role: 'client',
      clusterName: snapshot.clusterName,
      listen: { host: '127.0.0.1', port: 0 },
      peers: view.peers,
      clock,
      random,
      logger,
      ...(tls === undefined ? {} : { tls }),
    });
    const detector = new FailureDetector(this.id, view.members, clock);
    const peers = new PeerClient(transport, detector, logger);
    const currentView = (): ClusterView => (this.routing as Routing).view;
    this.coordinatorDeps = {
      config: this.configFor(snapshot),
      get cluster() {
        return currentView();
      },
      replica: undefined,
      detector,
      peers,
      clock,
      logger,
      events: {},
      lingering: this.lingering,
    };
    this.prober = new Prober({ detector, peers, clock, random, intervalMs: PROBE_INTERVAL_MS, timeoutMs: Math.min(PROBE_INTERVAL_MS, this.options.attemptTimeoutMs) });
    this.prober.start();
    this.transport = transport;
    this.detector = detector;
  }

  /** The coordinators' settings: the cluster's shape, this client's time budgets. */
  private configFor(snapshot: DecodedSnapshot): NodeConfig {
    return nodeConfigFrom({
      id: this.id,
      clusterName: snapshot.clusterName,
      partitionCount: snapshot.state.ring.partitionCount,
      n: snapshot.state.replicas,
      r: Math.min(snapshot.r, snapshot.state.replicas),
      w: Math.min(snapshot.w, snapshot.state.replicas),
      requestTimeoutMs: this.options.timeoutMs,
      // One coordinator gets the whole budget unless it fails fast: a write that timed out is never tried elsewhere.
      forwardTimeoutMs: this.options.timeoutMs,
      keyBytesMax: snapshot.keyBytesMax,
      valueBytesMax: snapshot.valueBytesMax,
    });
  }

  private scheduleRefresh(): void {
    if (this.closed) return;
    this.refreshTimer = this.deps.clock.setTimer(this.options.refreshIntervalMs, () => {
      this.refresh().finally(() => this.scheduleRefresh());
    });
  }

  private async refresh(): Promise<void> {
    this.lastRefreshMs = this.deps.clock.monotonicMs();
    try {
      this.adopt(await this.fetchSnapshot(this.options.attemptTimeoutMs));
    } catch (error) {
      this.deps.logger.debug({ reason: error instanceof Error ? error.message : String(error) }, 'refreshing the ring failed; routing by the last one');
    }
  }

  /** A request failed: the ring may have moved on, so fetch it again soon (rate-limited). */
  private failed(error: unknown, view: ClusterView): unknown {
    if (!this.closed && this.routing?.view === view && this.deps.clock.monotonicMs() - this.lastRefreshMs >= REFRESH_ON_ERROR_MS_MIN) void this.refresh();
    if (error instanceof ShoalClientError) return error;
    if (error instanceof RequestError) return new ShoalClientError(error.code, error.message);
    return error;
  }

  private checked(plan: CallPlan, routing: Routing): { partition: number; quorum: ReturnType<typeof resolveQuorum> } {
    this.guard(() => checkKey(plan.keyBytes, routing.snapshot.keyBytesMax));
    const quorum = this.guard(() => resolveQuorum(routing.view.quorum, plan.quorum));
    return { partition: partitionOfKey(plan.keyBytes, routing.view.ring.partitionCount), quorum };
  }

  /** Runs a check of the node's request rules; its RequestError becomes the client's error. */
  private guard<T>(check: () => T): T {
    try {
      return check();
    } catch (error) {
      if (error instanceof RequestError) throw new ShoalClientError(error.code, error.message);
      throw error;
    }
  }
}

function resultOf(object: StoredObject | undefined, context: string): GetResult {
  const outcome = readOutcome(object);
  switch (outcome.kind) {
    case 'absent':
    case 'deleted':
      return { kind: 'absent', context };
    case 'value':
      return { kind: 'value', value: outcome.sibling.value, contentType: outcome.sibling.contentType, context };
    case 'siblings':
      return { kind: 'siblings', siblings: outcome.siblings.map((s) => ({ value: s.value, contentType: s.contentType, deleted: s.deleted })), context };
  }
}

/** A listed key as the client's string keys are: UTF-8 text. */
function decodeKey(key: Uint8Array): string {
  return Buffer.from(key).toString('utf8');
}
