/**
 * Gray failures on a real network: five `shoal start` processes, each in its own Linux
 * network namespace on a bridge (see netns.ts), under a steady client load from this
 * process (load.ts), through four faults made with iptables and signals:
 *
 *   one-way     one node hears nothing from the other nodes (its INPUT drops their packets)
 *               but can still send to them
 *   split-2-3   two nodes and three nodes, each side dropping the other side's packets
 *   isolated    one node neither sends to nor hears from the other nodes
 *   paused      one node process SIGSTOPped for PAUSE_MS, then SIGCONTed
 *
 * The client (the root namespace's address on the test subnet) is never blocked: every
 * node keeps answering the client, so the requests sent to a faulty node are counted, not
 * lost to the network. Each fault has a healthy baseline before it and an after-heal window
 * after it; a baseline starts only once every node sees every peer up again after the
 * previous fault (how long that took after the heal is reported as peersUpAfterHealMs).
 * Requests are classified by the time they were sent; those sent while rules are being added
 * or removed (a few ms), or while waiting for the peers to be up, belong to no window.
 *
 * Reachability rule. Two nodes can talk when packets flow both ways between them (TCP needs
 * both: a node that only sends never completes a handshake nor gets an acknowledgement). A
 * node reaches itself and every node it can talk to that is not paused. A request sent to a
 * node is counted (`eligible`) when the node is not paused and reaches at least W nodes
 * for a PUT, R nodes for a GET (with sloppy quorum any nodes will do, stand-ins included).
 * With 5 nodes, N=3, R=W=2: during one-way and isolated the faulty node reaches only itself
 * (its requests are excluded) and the other four reach four; on each side of a 2/3 split
 * every node reaches 2 or 3 (all counted); a paused node answers nothing (its requests are
 * excluded), the others reach four. Excluded requests are still reported (`excluded`,
 * `excludedOk`). Success: a PUT answered 204, a GET answered 200, 300 or 404 (a GET's
 * success says the node answered, not that the answer was fresh).
 *
 * Asserted: no acknowledged write is lost (after healing and a settle period every key is
 * read at R=3, and its last acknowledged value must be among the siblings, or superseded by
 * a PUT sent after it, which carried its context; see load.ts), the cluster served requests
 * in every healthy baseline, and no node process died. The success shares and latencies are
 * measured, printed as one JSON line, and never asserted.
 *
 * Skipped (with the reason) when not root, without `ip` or `iptables`, or when namespaces
 * cannot be made; SHOAL_REQUIRE_REALNET=1 (set by .ci/run when it could install them and
 * make a namespace) turns the skip into a failure. The seed picks the faulty nodes and the
 * load's keys and operations; real timing decides the rest, so a seed does not replay a run
 * exactly. SHOAL_TEST_LOG_DIR=dir keeps every node's log, every request (realnet-requests.jsonl,
 * times in ms since the nodes were started) and the phases' windows (realnet-phases.json).
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, copyFileSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Agent } from 'node:http';
import { Prng } from '../../src/sim/prng.ts';
import { testSeed } from '../support/seed.ts';
import { SHOAL_BIN } from '../support/shoalProcess.ts';
import { createNet, destroyNet, dropFrom, dropTo, flushRules, missingPrerequisite, netTools, removeLeftovers, TEMP_DIRECTORY_PREFIX, type NetResources, type TestNet } from './netns.ts';
import { httpRequest, keepAliveAgent, LoadGenerator, type Operation } from './load.ts';
import { keyVerdict, windowStats, type KeyVerdict, type Window, type WindowStats } from './stats.ts';

const NODE_COUNT = 5;
const N = 3;
const R = 2;
const W = 2;
const HTTP_PORT = 8080;
const LISTEN_PORT = 7070;

const BASELINE_MS = 5000;
const FAULT_MS = 7000;
const PAUSE_MS = 2000;
const AFTER_HEAL_MS = 5000;

const REQUESTS_PER_NODE_PER_S = 30;
const KEY_COUNT = 400;
const WRITE_SHARE = 0.5;
/** Longer than any node-side timeout: a request without an answer by then counts as a timeout. */
const CLIENT_TIMEOUT_MS = 10_000;

/** The first build of dist/ in a fresh checkout takes about 20 s on this machine. */
const BUILD_MS_MAX = 180_000;
const FORM_MS_MAX = 60_000;
/** After the last fault: until no node holds hints and every node sees every peer up. */
const SETTLE_MS_MAX = 30_000;
/** After each heal, the next baseline waits (this long at most) until every node sees every peer up. */
const RECOVERY_MS_MAX = 30_000;
/** Rereads of keys whose check failed, for writes still on their way (read repair, hints). */
const VERIFY_MS_MAX = 30_000;
const POLL_MS = 250;
const READS_IN_PARALLEL = 8;
const EXIT_MS_MAX = 10_000;
const TEST_MS_MAX = 300_000;

type Fault =
  | { readonly kind: 'one-way'; readonly node: number }
  | { readonly kind: 'split-2-3'; readonly minority: readonly number[]; readonly majority: readonly number[] }
  | { readonly kind: 'isolated'; readonly node: number }
  | { readonly kind: 'paused'; readonly node: number };

interface PhaseWindows {
  readonly fault: Fault;
  readonly baseline: Window;
  readonly faulty: Window;
  readonly afterHeal: Window;
  /** From the heal until every node saw every peer up again (null: not within RECOVERY_MS_MAX). */
  readonly peersUpAfterHealMs: number | null;
}

interface RunningNode {
  readonly id: string;
  readonly namespace: string;
  readonly address: string;
  readonly httpAddress: string;
  readonly logFile: string;
  readonly child: ChildProcess;
  exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const nodeId = (index: number): string => `n${index + 1}`;
const indices = Array.from({ length: NODE_COUNT }, (_, index) => index);

/** Packets flow both ways between nodes a and b during the fault. */
function canTalk(fault: Fault, a: number, b: number): boolean {
  switch (fault.kind) {
    case 'one-way':
    case 'isolated':
      return a !== fault.node && b !== fault.node;
    case 'split-2-3':
      return fault.minority.includes(a) === fault.minority.includes(b);
    case 'paused':
      return true;
  }
}

function isPaused(fault: Fault, node: number): boolean {
  return fault.kind === 'paused' && fault.node === node;
}

/** The reachability rule of the file comment, during `fault`. */
function eligibleDuring(fault: Fault): (node: number, operation: Operation) => boolean {
  return (node, operation) => {
    if (isPaused(fault, node)) return false;
    const reached = 1 + indices.filter((other) => other !== node && canTalk(fault, node, other) && !isPaused(fault, other)).length;
    return reached >= (operation === 'put' ? W : R);
  };
}

const healthy = (): boolean => true;

function faultedNodes(fault: Fault): number[] {
  return fault.kind === 'split-2-3' ? [...fault.minority] : [fault.node];
}

function describeFault(fault: Fault): Record<string, unknown> {
  const name = (list: readonly number[]) => list.map(nodeId);
  switch (fault.kind) {
    case 'split-2-3':
      return { phase: fault.kind, minority: name(fault.minority), majority: name(fault.majority), faultMs: FAULT_MS };
    case 'paused':
      return { phase: fault.kind, node: nodeId(fault.node), faultMs: PAUSE_MS };
    default:
      return { phase: fault.kind, node: nodeId(fault.node), faultMs: FAULT_MS };
  }
}

/** The faults, with their nodes picked by the seed. */
function planFaults(random: Prng): Fault[] {
  const order = [...indices];
  for (let index = order.length - 1; index > 0; index--) {
    const other = random.int(index + 1);
    [order[index], order[other]] = [order[other] as number, order[index] as number];
  }
  const [oneWay, minorityA, minorityB, isolated, paused] = order as [number, number, number, number, number];
  const minority = [minorityA, minorityB].sort();
  return [
    { kind: 'one-way', node: oneWay },
    { kind: 'split-2-3', minority, majority: indices.filter((index) => !minority.includes(index)) },
    { kind: 'isolated', node: isolated },
    { kind: 'paused', node: paused },
  ];
}

class RealNetRun {
  readonly resources: NetResources;
  readonly nodes: RunningNode[] = [];
  readonly root = mkdtempSync(join(tmpdir(), TEMP_DIRECTORY_PREFIX));
  private closed = false;
  private readonly onExit = () => this.destroyNow();
  private readonly onSignal = (signal: NodeJS.Signals) => {
    this.destroyNow();
    process.exit(signal === 'SIGINT' ? 130 : 143);
  };

  constructor() {
    this.resources = { tools: netTools(), namespaces: [], rootLink: undefined };
    process.once('exit', this.onExit);
    process.once('SIGINT', this.onSignal);
    process.once('SIGTERM', this.onSignal);
  }

  /** Best effort, synchronous: for the process 'exit' and signal hooks, and the end of close(). */
  destroyNow(): void {
    for (const node of this.nodes) {
      if (node.exit !== undefined) continue;
      node.child.kill('SIGCONT');
      node.child.kill('SIGKILL');
    }
    destroyNet(this.resources);
    rmSync(this.root, { recursive: true, force: true });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const node of this.nodes) {
      if (node.exit !== undefined) continue;
      node.child.kill('SIGCONT');
      node.child.kill('SIGKILL');
    }
    await Promise.race([Promise.all(this.nodes.map((node) => exited(node))), sleep(EXIT_MS_MAX)]);
    const logDir = process.env.SHOAL_TEST_LOG_DIR;
    if (logDir !== undefined && logDir !== '') {
      mkdirSync(logDir, { recursive: true });
      for (const node of this.nodes) copyFileSync(node.logFile, join(logDir, `realnet-${node.id}.log`));
    }
    this.destroyNow();
    process.removeListener('exit', this.onExit);
    process.removeListener('SIGINT', this.onSignal);
    process.removeListener('SIGTERM', this.onSignal);
  }

  startNodes(net: TestNet): void {
    const members = indices.map((index) => `${nodeId(index)}@${net.nodeAddresses[index]}:${LISTEN_PORT}`).join(',');
    // The node processes get none of the test runner's SHOAL_* variables.
    const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('SHOAL_')));
    for (const index of indices) {
      const id = nodeId(index);
      const address = net.nodeAddresses[index] as string;
      const namespace = net.nodeNamespaces[index] as string;
      const logFile = join(this.root, `${id}.log`);
      const log = openSync(logFile, 'a');
      // `ip netns exec` execs the command: the child's pid is the node's (SIGSTOP reaches it).
      const child = spawn(net.tools.ip, [
        'netns', 'exec', namespace, process.execPath, SHOAL_BIN, 'start',
        '--id', id, '--listen', `${address}:${LISTEN_PORT}`, '--http', `${address}:${HTTP_PORT}`, '--cluster', members,
        '--data', join(this.root, id), '--n', String(N), '--r', String(R), '--w', String(W), '--insecure',
      ], { env, stdio: ['ignore', log, log] });
      closeSync(log);
      const node: RunningNode = { id, namespace, address, httpAddress: `${address}:${HTTP_PORT}`, logFile, child, exit: undefined };
      child.once('exit', (code, signal) => (node.exit = { code, signal }));
      this.nodes.push(node);
    }
  }

  logTail(node: RunningNode, lines = 20): string {
    return readFileSync(node.logFile, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  }
}

function exited(node: RunningNode): Promise<void> {
  if (node.exit !== undefined) return Promise.resolve();
  return new Promise((resolve) => node.child.once('exit', () => resolve()));
}

interface NodeStatus {
  readonly cluster: { readonly members: readonly string[] };
  readonly peers: readonly { readonly id: string; readonly status: string }[];
  readonly hints: { readonly total: number };
}

async function nodeStatus(agent: Agent, node: RunningNode): Promise<NodeStatus | undefined> {
  const answer = await httpRequest(agent, node.httpAddress, 'GET', '/admin/status', { timeoutMs: 2000 });
  if (answer.status !== 200 || !('body' in answer)) return undefined;
  return JSON.parse(answer.body.toString()) as NodeStatus;
}

/** Every node serving with all five members and every peer up, then a W=3 write through each node. */
async function waitFormed(run: RealNetRun, agent: Agent): Promise<void> {
  const deadline = Date.now() + FORM_MS_MAX;
  const pending = new Set(run.nodes);
  let last = '';
  while (pending.size > 0) {
    for (const node of [...pending]) {
      if (node.exit !== undefined) assert.fail(`${node.id} exited (${JSON.stringify(node.exit)}) before the cluster formed:\n${run.logTail(node)}`);
      const status = await nodeStatus(agent, node);
      const formed = status !== undefined && status.cluster.members.length === NODE_COUNT && status.peers.every((peer) => peer.status === 'up');
      const written = formed ? await httpRequest(agent, node.httpAddress, 'PUT', `/kv/formed-${node.id}?w=${N}`, { body: 'formed', timeoutMs: 5000 }) : undefined;
      if (written?.status === 204) pending.delete(node);
      else last = `${node.id}: ${status === undefined ? 'no status' : written === undefined ? 'not formed' : `write answered ${written.status}`}`;
    }
    if (pending.size === 0) break;
    if (Date.now() > deadline) assert.fail(`the cluster did not form within ${FORM_MS_MAX} ms (last: ${last})`);
    await sleep(POLL_MS);
  }
}

async function applyFault(run: RealNetRun, net: TestNet, fault: Fault): Promise<void> {
  const addressesOf = (list: readonly number[]) => list.map((index) => net.nodeAddresses[index] as string);
  const others = (node: number) => addressesOf(indices.filter((index) => index !== node));
  switch (fault.kind) {
    case 'one-way':
      await dropFrom(net, net.nodeNamespaces[fault.node] as string, others(fault.node));
      return;
    case 'split-2-3':
      await Promise.all([
        ...fault.minority.map((index) => dropFrom(net, net.nodeNamespaces[index] as string, addressesOf(fault.majority))),
        ...fault.majority.map((index) => dropFrom(net, net.nodeNamespaces[index] as string, addressesOf(fault.minority))),
      ]);
      return;
    case 'isolated': {
      const namespace = net.nodeNamespaces[fault.node] as string;
      await Promise.all([dropFrom(net, namespace, others(fault.node)), dropTo(net, namespace, others(fault.node))]);
      return;
    }
    case 'paused':
      (run.nodes[fault.node] as RunningNode).child.kill('SIGSTOP');
      return;
  }
}

async function healFault(run: RealNetRun, net: TestNet, fault: Fault): Promise<void> {
  if (fault.kind === 'paused') {
    (run.nodes[fault.node] as RunningNode).child.kill('SIGCONT');
    return;
  }
  const touched = fault.kind === 'split-2-3' ? indices : [fault.node];
  await Promise.all(touched.map((index) => flushRules(net, net.nodeNamespaces[index] as string)));
}

/** ms from `fromMs` (the load's time) until every node sees every peer up; null past RECOVERY_MS_MAX. */
async function peersUpAfter(run: RealNetRun, agent: Agent, load: LoadGenerator, fromMs: number): Promise<number | null> {
  for (;;) {
    const statuses = await Promise.all(run.nodes.map((node) => nodeStatus(agent, node)));
    const elapsedMs = load.nowMs() - fromMs;
    if (statuses.every((status) => status !== undefined && status.peers.every((peer) => peer.status === 'up'))) return Math.round(elapsedMs);
    if (elapsedMs > RECOVERY_MS_MAX) return null;
    await sleep(POLL_MS);
  }
}

/** Until no node holds hints and every node sees every peer up (or SETTLE_MS_MAX). */
async function settle(run: RealNetRun, agent: Agent): Promise<{ settled: boolean; settleMs: number; hintsLeft: number }> {
  const started = Date.now();
  for (;;) {
    const statuses = await Promise.all(run.nodes.map((node) => nodeStatus(agent, node)));
    const hintsLeft = statuses.reduce((sum, status) => sum + (status?.hints.total ?? 0), 0);
    const allUp = statuses.every((status) => status !== undefined && status.peers.every((peer) => peer.status === 'up'));
    if ((allUp && hintsLeft === 0) || Date.now() - started > SETTLE_MS_MAX) return { settled: allUp && hintsLeft === 0, settleMs: Date.now() - started, hintsLeft };
    await sleep(POLL_MS);
  }
}

/** The values a read at R=N returns (undefined: the read failed). */
async function readAll(agent: Agent, node: RunningNode, key: string): Promise<string[] | undefined> {
  const answer = await httpRequest(agent, node.httpAddress, 'GET', `/kv/${key}?r=${N}`, { timeoutMs: CLIENT_TIMEOUT_MS });
  if (!('body' in answer)) return undefined;
  switch (answer.status) {
    case 200:
      return [answer.body.toString()];
    case 300: {
      const body = JSON.parse(answer.body.toString()) as { siblings: { value: string; deleted: boolean }[] };
      return body.siblings.filter((sibling) => !sibling.deleted).map((sibling) => Buffer.from(sibling.value, 'base64').toString());
    }
    case 404:
      return [];
    default:
      return undefined;
  }
}

interface WriteCheck {
  readonly acknowledgedWrites: number;
  readonly keysChecked: number;
  readonly verdicts: Record<KeyVerdict, number>;
  /** Keys whose first read failed or missed the value, and that were read again. */
  readonly rereadKeys: number;
  /** Values in the final reads that no PUT of that key ever sent (reported, not asserted). */
  readonly valuesNobodyWrote: number;
  readonly lost: { key: string; lastAcknowledged: string; read: string[] | 'read failed' }[];
}

async function checkWrites(run: RealNetRun, agent: Agent, load: LoadGenerator): Promise<WriteCheck> {
  const writes = load.writesByKey();
  const verdicts: Record<KeyVerdict, number> = { 'last-acknowledged-found': 0, 'superseded-by-later-put': 0, missing: 0 };
  let acknowledgedWrites = 0;
  for (const attempts of writes.values()) acknowledgedWrites += attempts.filter((write) => write.acknowledged === true).length;
  let pending = [...writes.keys()].filter((key) => (writes.get(key) ?? []).some((write) => write.acknowledged === true));
  const keysChecked = pending.length;
  const lastReads = new Map<string, string[] | undefined>();
  const reread = new Set<string>();
  const deadline = Date.now() + VERIFY_MS_MAX;
  let round = 0;
  while (pending.length > 0) {
    const failed: string[] = [];
    for (let start = 0; start < pending.length; start += READS_IN_PARALLEL) {
      const batch = pending.slice(start, start + READS_IN_PARALLEL);
      await Promise.all(batch.map(async (key, offset) => {
        const node = run.nodes[(start + offset + round) % NODE_COUNT] as RunningNode;
        const values = await readAll(agent, node, key);
        lastReads.set(key, values);
        const verdict = values === undefined ? 'missing' : keyVerdict(writes.get(key) ?? [], values);
        if (verdict === 'missing') failed.push(key);
        else if (verdict !== undefined) verdicts[verdict]++;
      }));
    }
    for (const key of failed) reread.add(key);
    pending = failed;
    round++;
    if (pending.length === 0 || Date.now() > deadline) break;
    await sleep(1000);
  }
  verdicts.missing = pending.length;
  let valuesNobodyWrote = 0;
  for (const [key, values] of lastReads) {
    const sent = new Set((writes.get(key) ?? []).map((write) => write.value));
    valuesNobodyWrote += (values ?? []).filter((value) => !sent.has(value)).length;
  }
  const lost = pending.map((key) => {
    const attempts = writes.get(key) ?? [];
    const acknowledged = attempts.filter((write) => write.acknowledged === true);
    return { key, lastAcknowledged: acknowledged[acknowledged.length - 1]?.value ?? '', read: lastReads.get(key) ?? ('read failed' as const) };
  });
  return { acknowledgedWrites, keysChecked, verdicts, rereadKeys: reread.size, valuesNobodyWrote, lost };
}

function skipOrFail(t: TestContext, reason: string): void {
  if (process.env.SHOAL_REQUIRE_REALNET === '1') assert.fail(`${reason} (SHOAL_REQUIRE_REALNET=1 requires this test to run)`);
  t.skip(reason);
}

test('gray failures on a real network: availability per phase, and no acknowledged write lost', { timeout: TEST_MS_MAX }, async (t) => {
  const missing = missingPrerequisite();
  if (missing !== undefined) {
    skipOrFail(t, missing);
    return;
  }
  const seed = testSeed(t, import.meta.url);
  const random = Prng.fromSeed(seed);
  const faults = planFaults(random.fork('faults'));

  // Build dist/ once here if it is stale, rather than in five node processes at once.
  const build = spawnSync(process.execPath, [SHOAL_BIN, '--version'], { encoding: 'utf8', timeout: BUILD_MS_MAX });
  assert.equal(build.status, 0, `shoal --version failed:\n${build.stdout}\n${build.stderr}`);

  const run = new RealNetRun();
  t.after(() => run.close());
  const removed = removeLeftovers(run.resources.tools);
  if (removed.length > 0) t.diagnostic(`removed leftovers of earlier runs: ${removed.join(', ')}`);

  let net: TestNet;
  try {
    net = await createNet(run.resources.tools, NODE_COUNT, run.resources);
    await Promise.all(net.nodeNamespaces.map((namespace) => flushRules(net, namespace)));
  } catch (error) {
    destroyNet(run.resources);
    skipOrFail(t, `cannot make the test network (namespaces, veths, iptables): ${error instanceof Error ? error.message : String(error)}`);
    return;
  }
  const startedMs = performance.now();
  run.startNodes(net);
  const agent = keepAliveAgent();
  t.after(() => agent.destroy());
  await waitFormed(run, agent);
  const formedMs = performance.now() - startedMs;

  const load = new LoadGenerator({
    nodes: run.nodes.map((node) => node.httpAddress),
    keyCount: KEY_COUNT,
    requestsPerNodePerS: REQUESTS_PER_NODE_PER_S,
    writeShare: WRITE_SHARE,
    clientTimeoutMs: CLIENT_TIMEOUT_MS,
    random: random.fork('load'),
    originMs: startedMs,
  });
  load.start();
  const phases: PhaseWindows[] = [];
  try {
    for (const fault of faults) {
      const baselineStart = load.nowMs();
      await sleep(BASELINE_MS);
      const baselineEnd = load.nowMs();
      await applyFault(run, net, fault);
      const faultStart = load.nowMs();
      await sleep(fault.kind === 'paused' ? PAUSE_MS : FAULT_MS);
      const faultEnd = load.nowMs();
      await healFault(run, net, fault);
      const healed = load.nowMs();
      const recovery = peersUpAfter(run, agent, load, healed);
      await sleep(AFTER_HEAL_MS);
      const afterHealEnd = load.nowMs();
      // The next baseline starts on a cluster whose nodes all see each other again.
      const peersUpAfterHealMs = await recovery;
      phases.push({ fault, baseline: { startMs: baselineStart, endMs: baselineEnd }, faulty: { startMs: faultStart, endMs: faultEnd }, afterHeal: { startMs: healed, endMs: afterHealEnd }, peersUpAfterHealMs });
    }
  } finally {
    await load.stop();
  }
  const loadMs = performance.now() - startedMs - formedMs;

  const settled = await settle(run, agent);
  const writes = await checkWrites(run, agent, load);

  const records = load.records;
  const ids = indices.map(nodeId);
  const logDir = process.env.SHOAL_TEST_LOG_DIR;
  if (logDir !== undefined && logDir !== '') {
    mkdirSync(logDir, { recursive: true });
    const lines = records.map((record) => JSON.stringify({ ...record, node: nodeId(record.node) }));
    writeFileSync(join(logDir, 'realnet-requests.jsonl'), `${lines.join('\n')}\n`);
    writeFileSync(join(logDir, 'realnet-phases.json'), JSON.stringify(phases));
  }
  const inSomeWindow = (sentMs: number) => phases.some((phase) => [phase.baseline, phase.faulty, phase.afterHeal].some((window) => sentMs >= window.startMs && sentMs < window.endMs));
  const report = {
    test: 'realnet-gray-failures',
    seed,
    nodes: NODE_COUNT,
    n: N,
    r: R,
    w: W,
    requestsPerNodePerS: REQUESTS_PER_NODE_PER_S,
    writeShare: WRITE_SHARE,
    keys: KEY_COUNT,
    phases: phases.map((phase) => ({
      ...describeFault(phase.fault),
      baseline: windowStats(records, phase.baseline, healthy, ids),
      fault: windowStats(records, phase.faulty, eligibleDuring(phase.fault), ids),
      afterHeal: windowStats(records, phase.afterHeal, healthy, ids),
      peersUpAfterHealMs: phase.peersUpAfterHealMs,
    })),
    requestsSent: records.length,
    requestsOutsideWindows: records.filter((record) => !inSomeWindow(record.sentMs)).length,
    settle: settled,
    writes: { ...writes, lost: writes.lost.length },
    nodeExits: run.nodes.filter((node) => node.exit !== undefined).map((node) => ({ node: node.id, ...node.exit })),
    formedMs: Math.round(formedMs),
    loadMs: Math.round(loadMs),
    durationMs: Math.round(performance.now() - startedMs),
  };
  const line = JSON.stringify(report);
  console.log(line);
  t.diagnostic(line);

  for (const [index, phase] of report.phases.entries()) {
    const baseline: WindowStats = phase.baseline;
    assert.ok(baseline.ok > 0, `the cluster served nothing in the healthy baseline before ${(phases[index] as PhaseWindows).fault.kind}: ${JSON.stringify(baseline)}`);
  }
  for (const node of run.nodes) {
    assert.equal(node.exit, undefined, `${node.id} exited during the run (${JSON.stringify(node.exit)}):\n${run.logTail(node)}`);
  }
  assert.deepEqual(writes.lost.slice(0, 10), [], `${writes.lost.length} acknowledged writes lost (the first 10 shown), faulted nodes ${faults.map((fault) => faultedNodes(fault).map(nodeId).join('+')).join(', ')}`);
});
