/**
 * The operator of a sim run: carries out the plan's membership changes (swarmPlan.ts)
 * through the nodes' own membership service, the way `shoal admin` would, and keeps at
 * each until it took effect, was refused for good, or had to be given up.
 *
 *   join    the spare starts (alone, empty) at startMs; at atMs it asks a random founder's
 *           address to plan its join; refusals that pass (transfers pending, seed
 *           unreachable, plan raced) are retried until the joiner is a valid member.
 *   leave   the node asks to leave; retried while another change is pending, until the
 *           heal; a refusal for good (too few members, not a member) ends it.
 *   remove  the node crashes for good (SimCluster.retire) once the cluster is settled and
 *           has more than N ring members; detectMs later a random live member is asked to
 *           remove it (with or without --force). Given up, and the node restarted, when
 *           the removal cannot go through: it sends or receives a transfer of a pending
 *           change (that change cannot finish without it, and no other change can be
 *           planned before it does), the core refuses it for good, or the heal came first.
 *
 * A change applied by one planner can still lose a race with another planner's (the
 * higher canonical ring wins, state.ts): each action watches the state until its change
 * settled, and plans it again when it vanished. Some changes crash one of their transfer
 * senders (or the receiver) while the transfers run (plan.crash), to show transfers resume.
 *
 * Everything is decided by the run's PRNG and virtual time, so it replays from the seed.
 */
import type { ChangeOutcome } from '../node/membership/membershipService.ts';
import type { RingView } from '../node/membership/planView.ts';
import { errorCode } from './clients.ts';
import type { Prng } from './prng.ts';
import type { Scheduler } from './scheduler.ts';
import type { SimCluster, SimMembership } from './simCluster.ts';
import type { ChangeCrash, MembershipAction } from './swarmPlan.ts';

export interface ChangeCounts {
  /** Changes that took effect (the joiner valid, the leaver and the removed node removed). */
  joins: number;
  leaves: number;
  removes: number;
  /** Attempts the core refused (retried or final). */
  refusals: number;
  /** Actions given up (a remove that could not go through, a leave still refused at the heal). */
  abandoned: number;
  /** Crashes of transfer senders / receivers while a change ran. */
  changeCrashes: number;
}

export interface MembershipDriverOptions {
  readonly scheduler: Scheduler;
  readonly cluster: SimCluster;
  readonly random: Prng;
  readonly actions: readonly MembershipAction[];
  /** The cluster's N. */
  readonly replicas: number;
  /** Called just before a node crashes for good (the replica audit notes what only it had seen). */
  readonly beforeRetire?: (node: string) => void;
  /** Something no correct node does (a refusal the run cannot explain). */
  readonly anomaly: (text: string) => void;
}

type Phase = 'waiting' | 'asking' | 'applied' | 'done' | 'abandoned';

interface ActionRun {
  readonly action: MembershipAction;
  phase: Phase;
  /** When it took effect, was refused for good or given up (undefined while under way). */
  endedMs: number | undefined;
  inFlight: boolean;
  /** The crash while transfers run was scheduled already. */
  crashed: boolean;
}

/** Between two attempts (or checks) of one action. */
const RETRY_MS_MIN = 100;
const RETRY_MS_MAX = 300;
/** Refusals that pass: the action is tried again. */
const PASSING: ReadonlySet<string> = new Set(['transfers-pending', 'unreachable', 'plan-changed', 'live-member', 'not-a-member']);

export class MembershipDriver {
  readonly counts: ChangeCounts = { joins: 0, leaves: 0, removes: 0, refusals: 0, abandoned: 0, changeCrashes: 0 };
  private readonly runs: ActionRun[];
  /** Leavers and removed nodes, from the moment their change was applied (clients stop using them). */
  private readonly departed = new Set<string>();
  /** Spares seen holding the cluster's state (clients may use them). */
  private readonly joined = new Set<string>();
  private healed = false;

  constructor(private readonly options: MembershipDriverOptions) {
    this.runs = options.actions.map((action) => ({ action, phase: 'waiting', endedMs: undefined, inFlight: false, crashed: false }));
  }

  start(): void {
    const { scheduler, cluster } = this.options;
    for (const run of this.runs) {
      const { action } = run;
      if (action.kind === 'join') scheduler.schedule(action.startMs, `start spare ${action.node}`, () => cluster.start(action.node));
      scheduler.schedule(action.atMs, `${action.kind} ${action.node}`, () => this.step(run));
    }
  }

  /** Faults are over: leaves and removes not applied yet are given up; the rest finish. */
  heal(): void {
    this.healed = true;
  }

  /** Actions still under way (the liveness phase waits for them). */
  busy(): boolean {
    return this.runs.some(underWay);
  }

  /** The actions still under way, described. */
  pendingActions(): string[] {
    return this.runs.filter(underWay).map((run) => `${run.action.kind} ${run.action.node} (${run.phase})`);
  }

  /** Nodes a client may call: started, not retired, members (a spare once it joined), not departing. */
  clientTargets(): string[] {
    const { cluster } = this.options;
    return cluster.ids.filter((id) => {
      if (!cluster.started(id) || cluster.isRetired(id) || this.departed.has(id)) return false;
      if (cluster.founders.includes(id) || this.joined.has(id)) return true;
      const view = this.viewOf(id);
      if (view === undefined || view.members.length < 2) return false;
      this.joined.add(id);
      return true;
    });
  }

  /**
   * When each action was under way: from its atMs (for a join, the spare started earlier
   * but was no member yet) to when it took effect, was refused for good or given up
   * (Infinity while still under way). Other members may learn of the end later, by gossip.
   */
  changeWindows(): { readonly startMs: number; readonly endMs: number }[] {
    return this.runs.map((run) => ({ startMs: run.action.atMs, endMs: run.endedMs ?? Number.POSITIVE_INFINITY }));
  }

  /** One line for the run's report. */
  describe(): string {
    const c = this.counts;
    return `joins=${c.joins} leaves=${c.leaves} removes=${c.removes}`;
  }

  // --- the actions --------------------------------------------------------------------------

  private step(run: ActionRun): void {
    if (!underWay(run) || run.inFlight) return;
    const { cluster } = this.options;
    const sample = cluster.founders.map((id) => cluster.node(id)).find((node) => node !== undefined);
    if (sample !== undefined && sample.membership === undefined) return this.abandon(run, 'the nodes have no membership service');
    switch (run.action.kind) {
      case 'join':
        this.stepJoin(run, run.action.node);
        break;
      case 'leave':
        this.stepLeave(run, run.action.node);
        break;
      case 'remove':
        this.stepRemove(run, run.action.node, run.action.force);
        break;
    }
    if (underWay(run) && !run.inFlight) this.again(run);
  }

  private again(run: ActionRun): void {
    const { scheduler, random } = this.options;
    scheduler.schedule(random.between(RETRY_MS_MIN, RETRY_MS_MAX), `${run.action.kind} ${run.action.node} (check)`, () => this.step(run));
  }

  private stepJoin(run: ActionRun, node: string): void {
    if (this.options.cluster.isRetired(node)) {
      // Crashed for good by a later remove: the join counts if the cluster took it in.
      const status = statusIn(this.anyMemberView(node) ?? this.emptyView(), node);
      return status === 'valid' || status === 'removed' ? this.finish(run, 'joins') : this.abandon(run, `${node} crashed for good`);
    }
    const view = this.viewOf(node);
    if (view === undefined) return; // down, or still opening
    const own = statusIn(view, node);
    if (view.members.length > 1) {
      this.joined.add(node);
      if (own === 'valid' && (view.plan === null || view.plan.member !== node)) return this.finish(run, 'joins');
      // Left already (a later leave of the same node): it had joined, or it could not have left.
      if (own === 'removed' || own === 'leaving') return this.finish(run, 'joins');
      if (view.plan !== null && view.plan.kind === 'join' && view.plan.member === node) return this.crashDuring(run, view);
      // The joiner holds the cluster's state but its join is not there (yet, or it lost a race).
    }
    const { cluster, random } = this.options;
    const seed = random.pick(cluster.founders);
    this.ask(run, node, `join via ${seed}`, (m) => m.join(cluster.addressOf(seed), false), (outcome) => {
      if (outcome.ok) return;
      // Applied, but the answer was lost (or overtaken by a duplicate's refusal): gossip
      // brings the state; meanwhile the joiner already receives its transfers.
      if (outcome.code === 'already-member' || outcome.code === 'not-empty') return;
      if (!PASSING.has(outcome.code)) this.options.anomaly(`the join of ${node} was refused: ${outcome.code}: ${outcome.reason}`);
    });
  }

  private stepLeave(run: ActionRun, node: string): void {
    const { cluster } = this.options;
    if (run.phase === 'applied') {
      const view = this.viewOf(node);
      if (view === undefined) return;
      const own = statusIn(view, node);
      if (own === 'removed' && view.plan === null) return this.finish(run, 'leaves');
      if (view.plan !== null && view.plan.kind === 'leave' && view.plan.member === node) return this.crashDuring(run, view);
      if (own !== 'removed' && (view.plan === null || view.plan.member !== node)) {
        run.phase = 'asking'; // lost a race with another change: plan it again
        this.departed.delete(node);
      } else return;
    }
    if (this.healed || cluster.isRetired(node)) return this.abandon(run, 'the heal came first');
    if (this.viewOf(node) === undefined) return;
    run.phase = 'asking';
    this.ask(run, node, 'leave', (m) => m.leave(false), (outcome) => {
      if (outcome.ok) {
        this.departed.add(node);
        return;
      }
      if (!PASSING.has(outcome.code)) this.finishRefused(run, outcome);
    });
  }

  private stepRemove(run: ActionRun, node: string, force: boolean): void {
    const { cluster, replicas } = this.options;
    if (run.phase === 'waiting') {
      if (this.healed) return this.abandon(run, 'the heal came first');
      const view = this.anyMemberView(node);
      if (view === undefined || view.plan !== null) return; // wait for a settled cluster
      if (statusIn(view, node) !== 'valid' || cluster.isRetired(node)) return this.abandon(run, `${node} is not a valid member`);
      if (new Set(view.owners).size <= replicas) return this.abandon(run, `removing ${node} would leave fewer than N members`);
      this.options.beforeRetire?.(node);
      cluster.retire(node);
      this.departed.add(node);
      run.phase = 'asking';
      const detectMs = run.action.kind === 'remove' ? run.action.detectMs : 0;
      run.inFlight = true; // no step until the detection delay passed
      this.options.scheduler.schedule(detectMs, `remove ${node} (ask)`, () => {
        run.inFlight = false;
        this.step(run);
      });
      return;
    }
    const view = this.agreedView(node);
    if (run.phase === 'applied') {
      // Judged only on a state every live member holds: a remove settled in one view can
      // still lose a race with another change of the same ring version in the merge.
      if (view === undefined) return;
      const own = statusIn(view, node);
      if (own === 'removed' && (view.plan === null || view.plan.member !== node)) return this.finish(run, 'removes');
      if (view.plan !== null && view.plan.kind === 'remove' && view.plan.member === node) return this.crashDuring(run, view);
      if (own === 'removed') return;
      run.phase = 'asking'; // lost a race with another change: plan it again
    }
    if (this.healed && this.removalSeen(node)) {
      run.phase = 'applied';
      return;
    }
    if (this.healed) return this.giveBack(run, node, 'the heal came first');
    if (view !== undefined && view.plan !== null && view.plan.transfers.some((t) => !t.done && (t.from === node || t.to === node))) {
      return this.giveBack(run, node, `${node} must send or receive a transfer of the pending change`);
    }
    const planner = this.randomMember(node);
    if (planner === undefined) return;
    this.ask(run, planner, `remove ${node}${force ? ' --force' : ''}`, (m) => m.remove(node, force, false), (outcome) => {
      if (outcome.ok) return;
      if (!PASSING.has(outcome.code)) this.giveBack(run, node, `refused: ${outcome.code}`);
    });
  }

  /** Calls the membership service of `node`; an applied change moves the action to `applied`. */
  private ask(run: ActionRun, node: string, what: string, call: (membership: SimMembership) => Promise<ChangeOutcome>, refused: (outcome: ChangeOutcome) => void): void {
    const { cluster, scheduler } = this.options;
    run.inFlight = true;
    scheduler.trace.note(scheduler.nowMs, `operator: ${what} (on ${node})`);
    cluster
      .call(node, (target) => {
        if (target.membership === undefined) throw new Error(`node ${node} has no membership service`);
        return call(target.membership);
      })
      .then(
        (outcome) => {
          scheduler.trace.note(scheduler.nowMs, `operator: ${what}: ${outcome.ok ? (outcome.applied ? 'applied' : 'not applied') : `refused ${outcome.code}`}`);
          if (outcome.ok && outcome.applied) run.phase = 'applied';
          if (!outcome.ok) this.counts.refusals++;
          refused(outcome);
        },
        (error: unknown) => scheduler.trace.note(scheduler.nowMs, `operator: ${what}: ${errorCode(error)}`),
      )
      .finally(() => {
        run.inFlight = false;
        if (underWay(run)) this.again(run);
      });
  }

  /**
   * Once per action: afterMs into its transfers, crash one of the senders still sending (or
   * the receiver) for downMs.
   */
  private crashDuring(run: ActionRun, view: RingView): void {
    const crash: ChangeCrash | undefined = run.action.crash;
    if (crash === undefined || run.crashed || view.plan === null) return;
    run.crashed = true;
    const { scheduler, cluster, random } = this.options;
    scheduler.schedule(crash.afterMs, `crash during ${run.action.kind} ${run.action.node}`, () => {
      const current = this.anyMemberView(undefined) ?? view;
      const pending = current.plan?.transfers.filter((t) => !t.done) ?? [];
      const candidates = [...new Set(pending.map((t) => (crash.target === 'sender' ? t.from : t.to)))].filter((id) => cluster.isServing(id)).sort();
      if (candidates.length === 0) return;
      const victim = random.pick(candidates);
      this.counts.changeCrashes++;
      cluster.crash(victim);
      scheduler.schedule(crash.downMs, `restart ${victim}`, () => cluster.restart(victim));
    });
  }

  private finish(run: ActionRun, kind: 'joins' | 'leaves' | 'removes'): void {
    run.phase = 'done';
    run.endedMs = this.options.scheduler.nowMs;
    this.counts[kind]++;
    if (kind === 'leaves' || kind === 'removes') this.departed.add(run.action.node);
    this.note(`${run.action.kind} ${run.action.node} took effect`);
  }

  private finishRefused(run: ActionRun, outcome: Extract<ChangeOutcome, { ok: false }>): void {
    run.phase = 'done';
    run.endedMs = this.options.scheduler.nowMs;
    this.note(`${run.action.kind} ${run.action.node} refused for good: ${outcome.code}`);
  }

  private abandon(run: ActionRun, why: string): void {
    run.phase = 'abandoned';
    run.endedMs = this.options.scheduler.nowMs;
    this.counts.abandoned++;
    this.departed.delete(run.action.node);
    this.note(`${run.action.kind} ${run.action.node} given up: ${why}`);
  }

  /** Gives a remove up and brings the crashed node back. */
  private giveBack(run: ActionRun, node: string, why: string): void {
    const { cluster } = this.options;
    this.abandon(run, why);
    cluster.unretire(node);
    cluster.restart(node);
  }

  /** Some live node's state already has the node removed (a planner that crashed after persisting it). */
  private removalSeen(node: string): boolean {
    return this.options.cluster.ids.some((id) => {
      const view = this.viewOf(id);
      return view !== undefined && id !== node && statusIn(view, node) === 'removed';
    });
  }

  private note(text: string): void {
    const { scheduler } = this.options;
    scheduler.trace.note(scheduler.nowMs, `operator: ${text}`);
  }

  private emptyView(): RingView {
    return { clusterName: '', replicas: 0, partitionCount: 0, ringVersion: 0, members: [], owners: [], plan: null };
  }

  private viewOf(id: string): RingView | undefined {
    return this.options.cluster.node(id)?.membership?.ring();
  }

  /** The state as a random live member other than `except` sees it (the first in id order when there is no choice to make). */
  private anyMemberView(except: string | undefined): RingView | undefined {
    const id = this.members(except)[0];
    return id === undefined ? undefined : this.viewOf(id);
  }

  /**
   * The state every live member other than `except` holds, when they all hold the same ring
   * version; undefined while it spreads. A leaving or joining member counts: the change it
   * holds may win the merge (seed 436518499: a leave of the same ring version, held only by
   * the leaver, undid a remove the valid members all held).
   */
  private agreedView(except: string): RingView | undefined {
    const views = this.members(except, true).map((id) => this.viewOf(id));
    const first = views[0];
    if (first === undefined || views.some((view) => view === undefined || view.ringVersion !== first.ringVersion || (view.plan === null) !== (first.plan === null))) return undefined;
    return first;
  }

  private randomMember(except: string): string | undefined {
    const members = this.members(except);
    return members.length === 0 ? undefined : this.options.random.pick(members);
  }

  /** Serving nodes that hold the cluster's state and are valid members in it (or, with `inChange`, also joining or leaving). */
  private members(except: string | undefined, inChange = false): string[] {
    return this.options.cluster.ids.filter((id) => {
      if (id === except) return false;
      const view = this.viewOf(id);
      if (view === undefined || view.members.length <= 1) return false;
      const status = statusIn(view, id);
      return status === 'valid' || (inChange && (status === 'leaving' || status === 'joining'));
    });
  }
}

function underWay(run: ActionRun): boolean {
  return run.phase !== 'done' && run.phase !== 'abandoned';
}

function statusIn(view: RingView, id: string): string | undefined {
  return view.members.find((m) => m.id === id)?.status;
}
