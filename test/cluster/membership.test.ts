/**
 * Membership changes on real `shoal start` processes (LMDB data directories, TCP on
 * loopback): three nodes take 10,000 keys, a fourth joins through the CLI and a fifth
 * through the HTTP API while clients keep writing, one member leaves, another is killed
 * (`kill -9`) and removed; then every key reads back with its last acknowledged value,
 * every member reports the same ring, and the ring is balanced. A second test kills a
 * sender in the middle of a partition transfer and checks that it resumes from its saved
 * cursor after a restart.
 *
 * Clients keep an honest history (kvHistory.ts): a write answered 204 is acknowledged; any
 * other outcome (503, a timeout, a connection reset) may or may not have happened, so its
 * value becomes allowed in the final read, never required.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { keyBytes, partitionOfKey } from '../../src/core/hash.ts';
import { Prng } from '../../src/sim/prng.ts';
import { ProcessCluster } from '../support/processCluster.ts';
import { testSeed } from '../support/seed.ts';
import { http, runShoal } from '../support/shoalProcess.ts';
import { KvHistory, keyNames, type Verdict } from './kvHistory.ts';

/** Q: small, so transfers are quick. */
const Q = 16;
const SETTLE_MS_MAX = 120_000;
const CONCURRENCY = 32;
/** Keys written again between two changes. */
const OVERWRITES = 500;

const COMMON_ARGS = [
  '--partition-count', String(Q), '--n', '3', '--r', '2', '--w', '2',
  '--gossip-interval-ms', '200', '--probe-interval-ms', '250', '--hint-delivery-interval-ms', '250',
  '--drop-delay-ms', '1000', '--request-timeout-ms', '2000',
  // Debug logs only say what failed (forwards, replica writes, gossip): kept for SHOAL_TEST_LOG_DIR.
  '--log-level', 'debug',
];

interface RingMember {
  readonly id: string;
  readonly status: string;
  readonly partitions: number;
}

interface Ring {
  readonly ringVersion: number;
  readonly members: readonly RingMember[];
  readonly owners: readonly string[];
  readonly plan: null | { readonly kind: string; readonly member: string; readonly ringVersion: number; readonly transfersDone: number; readonly transfersTotal: number; readonly transfers: readonly { from: string; to: string; done: boolean }[] };
}

interface NodeStats {
  readonly objectsSent: number;
  readonly active: number;
  readonly pending: number;
  readonly finished: number;
}


async function getJson<T>(url: string): Promise<T> {
  const answer = await http(url);
  assert.equal(answer.status, 200, `GET ${url}: ${answer.status} ${answer.text}`);
  return JSON.parse(answer.text) as T;
}

async function postJson(url: string, body: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
  const answer = await http(url, { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
  return { status: answer.status, body: JSON.parse(answer.text) as Record<string, unknown> };
}

/** Applies a change through the HTTP API; returns the ring version it was applied as. */
async function apply(url: string, path: string, body: Record<string, unknown>): Promise<number> {
  const answer = await postJson(`${url}${path}`, { ...body, dryRun: false });
  assert.equal(answer.status, 200, `POST ${path}: ${JSON.stringify(answer.body)}`);
  assert.equal(answer.body.applied, true);
  return (answer.body.plan as { ringVersion: number }).ringVersion;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function summary(id: string, ring: Ring | string): string {
  if (typeof ring === 'string') return `${id}: ${ring}`;
  const plan = ring.plan === null ? 'settled' : `${ring.plan.kind} ${ring.plan.member} ${ring.plan.transfersDone}/${ring.plan.transfersTotal}`;
  return `${id}: v${ring.ringVersion} ${plan} [${ring.members.map((m) => `${m.id} ${m.status} ${m.partitions}`).join(', ')}]`;
}

/**
 * Polls /admin/ring on every node in `ids` until all answer the same JSON, settled (plan
 * null) at `ringVersion` or later; fails after SETTLE_MS_MAX with each node's summary.
 */
async function waitSettled(cluster: ProcessCluster, ids: readonly string[], ringVersion: number): Promise<Ring> {
  const deadline = Date.now() + SETTLE_MS_MAX;
  for (;;) {
    const answers = await Promise.all(
      ids.map(async (id) => {
        try {
          const answer = await http(`${cluster.node(id).url}/admin/ring`);
          return answer.status === 200 ? answer.text : `HTTP ${answer.status} ${answer.text}`;
        } catch (error) {
          return `unreachable: ${String(error)}`;
        }
      }),
    );
    const rings = answers.map((text) => (text.startsWith('{') ? (JSON.parse(text) as Ring) : text));
    const first = rings[0];
    const same = answers.every((text) => text === answers[0]);
    if (same && typeof first === 'object' && first !== undefined && first.plan === null && first.ringVersion >= ringVersion) return first;
    if (Date.now() > deadline) {
      assert.fail(`the cluster did not settle at ring version >= ${ringVersion} within ${SETTLE_MS_MAX} ms:\n${ids.map((id, i) => summary(id, rings[i] as Ring | string)).join('\n')}`);
    }
    await sleep(250);
  }
}

/** Waits until no node in `ids` holds hints for a node in `ids` (hand-offs done). */
async function waitHintsDelivered(cluster: ProcessCluster, ids: readonly string[]): Promise<void> {
  const deadline = Date.now() + SETTLE_MS_MAX;
  for (;;) {
    const held = await Promise.all(
      ids.map(async (id) => {
        const status = await getJson<{ hints: { byTarget: Record<string, number> } }>(`${cluster.node(id).url}/admin/status`);
        return Object.entries(status.hints.byTarget).filter(([target, count]) => ids.includes(target) && count > 0).map(([target, count]) => `${id}→${target}: ${count}`);
      }),
    );
    if (held.flat().length === 0) return;
    if (Date.now() > deadline) assert.fail(`hints still held after ${SETTLE_MS_MAX} ms: ${held.flat().join(', ')}`);
    await sleep(250);
  }
}

/** Every member owns at most ceil(Q/S) partitions, S being the members that own any. */
function assertBalanced(ring: Ring, expectedOwners: readonly string[]): void {
  const owning = ring.members.filter((m) => m.partitions > 0);
  assert.deepEqual(owning.map((m) => m.id).sort(), [...expectedOwners].sort(), `owners: ${summary('ring', ring)}`);
  assert.deepEqual([...new Set(ring.owners)].sort(), [...expectedOwners].sort());
  const most = Math.ceil(Q / owning.length);
  for (const member of owning) assert.ok(member.partitions <= most, `${member.id} owns ${member.partitions} > ceil(${Q}/${owning.length}) partitions`);
  assert.equal(owning.reduce((sum, m) => sum + m.partitions, 0), Q);
}

/** Fails when a key read back wrong, with what every node holds of the first few such keys (their dots). */
async function assertReadBack(cluster: ProcessCluster, ids: readonly string[], history: KvHistory, verdict: Verdict): Promise<void> {
  if (verdict.failures.length === 0) return;
  const details = await Promise.all(
    verdict.failedKeys.slice(0, 5).map(async (key) => {
      const held = await Promise.all(ids.map(async (id) => `  ${id}: ${(await http(`${cluster.node(id).url}/admin/local/${encodeURIComponent(key)}`)).text}`));
      return `${key} (${history.historyOf(key)}):\n${held.join('\n')}`;
    }),
  );
  assert.fail(`${verdict.failures.length} keys read back wrong (${verdict.summary}); first ones:\n${verdict.failures.slice(0, 20).join('\n')}\nwhat the nodes hold:\n${details.join('\n')}`);
}

/** Polls until `observe` satisfies `check`; fails after `timeoutMs` with the last observation. */
async function eventually<T>(what: string, timeoutMs: number, observe: () => Promise<T>, check: (value: T) => boolean, intervalMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await observe();
    if (check(value)) return value;
    if (Date.now() > deadline) assert.fail(`${what}: still ${JSON.stringify(value)} after ${timeoutMs} ms`);
    await sleep(intervalMs);
  }
}

const MAIN_TEST = '3 nodes take 10,000 keys; two join, one leaves, a killed one is removed: every key reads back, every member reports one balanced ring';

/** Logs `what` with the seconds since the test started (a diagnostic, shown after the test). */
function stepper(t: TestContext): (what: string) => void {
  const started = Date.now();
  return (what) => t.diagnostic(`${((Date.now() - started) / 1000).toFixed(1)} s: ${what}`);
}

test(MAIN_TEST, { timeout: 600_000 }, async (t) => {
  const step = stepper(t);
  const random = Prng.fromSeed(testSeed(t, import.meta.url));
  const cluster = new ProcessCluster(t, COMMON_ARGS, 'membership');
  const history = new KvHistory();
  t.after(() => history.stopBackground());
  const keys = keyNames(10_000);

  await cluster.found(['n1', 'n2', 'n3']);
  step('3 nodes serving');
  await history.writeAll(keys, cluster.urls(['n1', 'n2', 'n3']), CONCURRENCY);
  step(`10,000 keys written (${history.describe()})`);

  // n4 joins through the CLI while clients keep writing through the members.
  const n4 = await cluster.startAlone('n4');
  let background = history.writeInBackground(() => cluster.urls(['n1', 'n2', 'n3']), keys, random);
  const cli = runShoal(['admin', 'join', '--node', n4.url, '--seed', cluster.node('n1').listen, '--yes', '--wait-timeout', String(SETTLE_MS_MAX / 1000)]);
  t.after(() => cli.cleanup());
  const cliExit = await cli.exited;
  const duringJoin4 = await background.stop();
  assert.equal(cliExit.code, 0, `shoal admin join: ${cliExit.code}\n${cli.stdout}\n${cli.stderr}`);
  assert.match(cli.stdout, /applied: join n4 at ring version (\d+)/);
  const version4 = Number(/applied: join n4 at ring version (\d+)/.exec(cli.stdout)?.[1]);
  let ring = await waitSettled(cluster, ['n1', 'n2', 'n3', 'n4'], version4);
  assertBalanced(ring, ['n1', 'n2', 'n3', 'n4']);
  step(`n4 joined (CLI), ring v${ring.ringVersion}; ${duringJoin4} writes during the join`);
  assert.ok(duringJoin4 > 0, 'clients wrote while n4 joined');

  await history.overwrite(history.sample(keys, OVERWRITES, random), cluster.urls(['n1', 'n2', 'n3', 'n4']), CONCURRENCY);

  // n5 joins through the HTTP API, asking n2 to be its seed, while clients keep writing.
  const n5 = await cluster.startAlone('n5');
  background = history.writeInBackground(() => cluster.urls(['n1', 'n2', 'n3', 'n4']), keys, random);
  const version5 = await apply(n5.url, '/admin/join', { seed: cluster.node('n2').listen });
  ring = await waitSettled(cluster, ['n1', 'n2', 'n3', 'n4', 'n5'], version5);
  const duringJoin5 = await background.stop();
  assertBalanced(ring, ['n1', 'n2', 'n3', 'n4', 'n5']);
  step(`n5 joined (HTTP), ring v${ring.ringVersion}; ${duringJoin5} writes during the join`);

  await history.overwrite(history.sample(keys, OVERWRITES, random), cluster.urls(['n1', 'n2', 'n3', 'n4', 'n5']), CONCURRENCY);

  // n2 leaves, clients writing through every member (the leaver too) meanwhile.
  background = history.writeInBackground(() => cluster.urls(['n1', 'n2', 'n3', 'n4', 'n5']), keys, random);
  const versionLeave = await apply(cluster.node('n2').url, '/admin/leave', {});
  ring = await waitSettled(cluster, ['n1', 'n2', 'n3', 'n4', 'n5'], versionLeave);
  const duringLeave = await background.stop();
  assertBalanced(ring, ['n1', 'n3', 'n4', 'n5']);
  assert.equal(ring.members.find((m) => m.id === 'n2')?.status, 'removed');
  // Whatever n2 still holds for others (hints of writes it coordinated) is handed over before it stops.
  await waitHintsDelivered(cluster, ['n1', 'n2', 'n3', 'n4', 'n5']);
  cluster.node('n2').process.child.kill('SIGTERM');
  assert.deepEqual(await cluster.node('n2').process.waitExit(), { code: 0, signal: null });
  step(`n2 left and stopped, ring v${ring.ringVersion}; ${duringLeave} writes during the leave`);

  await history.overwrite(history.sample(keys, OVERWRITES, random), cluster.urls(['n1', 'n3', 'n4', 'n5']), CONCURRENCY);

  // n3 is killed; removing it is refused while it is up, and works once n4 sees it down.
  // (Polled: on a loaded machine one timed-out request may make n4 take n3 for down a moment.)
  const removeN3 = { id: 'n3', force: false, dryRun: true };
  await eventually('remove n3 refused while it is up', 30_000, () => postJson(`${cluster.node('n4').url}/admin/remove`, removeN3), (answer) => answer.status === 409 && answer.body.code === 'live-member');
  background = history.writeInBackground(() => cluster.urls(['n1', 'n4', 'n5']), keys, random);
  await cluster.kill('n3');
  await eventually('n4 sees n3 down', 30_000, async () => (await postJson(`${cluster.node('n4').url}/admin/remove`, removeN3)).status, (status) => status === 200);
  const versionRemove = await apply(cluster.node('n4').url, '/admin/remove', { id: 'n3', force: false });
  ring = await waitSettled(cluster, ['n1', 'n4', 'n5'], versionRemove);
  const duringRemove = await background.stop();
  assertBalanced(ring, ['n1', 'n4', 'n5']);
  assert.equal(ring.members.find((m) => m.id === 'n3')?.status, 'removed');
  step(`n3 killed and removed, ring v${ring.ringVersion}; ${duringRemove} writes during the removal`);

  await history.overwrite(history.sample(keys, OVERWRITES, random), cluster.urls(['n1', 'n4', 'n5']), CONCURRENCY);
  await waitHintsDelivered(cluster, ['n1', 'n4', 'n5']);
  const live = ['n1', 'n4', 'n5'];
  const final = await waitSettled(cluster, live, versionRemove);
  assertBalanced(final, live);
  step(`writes done (${history.describe()}); reading every key back`);

  const verdict = await history.verify(cluster.urls(live), CONCURRENCY);
  step(`read back: ${verdict.summary}`);
  await assertReadBack(cluster, live, history, verdict);
  assert.deepEqual(history.unexpected, [], 'writes answered with neither 204 nor 503');
});

test('a node killed in the middle of a transfer resumes it from its saved cursor on restart', { timeout: 300_000 }, async (t) => {
  const step = stepper(t);
  const cluster = new ProcessCluster(t, COMMON_ARGS, 'membership');
  const history = new KvHistory();
  const keys = keyNames(2000);
  // Slow transfers in small batches (about 13 per partition); r1's the slowest, so it is
  // still in its first transfers when the others have finished some.
  const pause = (id: string) => ['--transfer-batch-objects-max', '10', '--transfer-concurrency', '2', '--transfer-pause-ms', id === 'r1' ? '500' : '100'];
  await cluster.found(['r1', 'r2', 'r3'], pause);
  await history.writeAll(keys, cluster.urls(['r1', 'r2', 'r3']), CONCURRENCY);
  step(`3 nodes serving, 2,000 keys written (${history.describe()})`);

  const r4 = await cluster.startAlone('r4');
  const dry = await postJson(`${r4.url}/admin/join`, { seed: cluster.node('r2').listen, dryRun: true });
  assert.equal(dry.status, 200, JSON.stringify(dry.body));
  const planned = (dry.body.plan as { transfers: { partition: number; from: string }[] }).transfers;
  const senders = new Set(planned.map((transfer) => transfer.from));
  assert.ok(senders.has('r1') && senders.size > 1, `r1 and another node send partitions to r4: ${[...senders].join(', ')}`);
  const r1Partitions = new Set(planned.filter((transfer) => transfer.from === 'r1').map((transfer) => transfer.partition));
  const r1Objects = keys.filter((key) => r1Partitions.has(partitionOfKey(keyBytes(key), Q))).length;
  const version = await apply(r4.url, '/admin/join', { seed: cluster.node('r2').listen });

  // Mid-transfer: some transfers done, not all; r1 has had at least three batches
  // acknowledged and finished none of its transfers (it streams two at once), so one of
  // them has had two, and r1 saved the cursor of the first before sending the second.
  const observe = async () => {
    const [ring, transfers] = await Promise.all([
      getJson<Ring>(`${cluster.node('r2').url}/admin/ring`),
      getJson<{ nodes: Record<string, NodeStats | { error: string }> }>(`${cluster.node('r2').url}/admin/transfers`),
    ]);
    return { done: ring.plan?.transfersDone ?? -1, total: ring.plan?.transfersTotal ?? -1, r1: transfers.nodes.r1 };
  };
  await eventually('r1 in the middle of its first transfers while others are done', 60_000, observe, ({ done, total, r1 }) =>
    0 < done && done < total && r1 !== undefined && !('error' in r1) && r1.finished === 0 && r1.pending > 0 && r1.objectsSent >= 30,
  );
  await cluster.kill('r1');
  step('r1 killed in the middle of its transfers');
  // Restarted without the throttle: the rest of its transfers goes at full speed.
  const restarted = await cluster.restart('r1', ['--transfer-pause-ms', '0']);
  const ring = await waitSettled(cluster, ['r1', 'r2', 'r3', 'r4'], version);
  assertBalanced(ring, ['r1', 'r2', 'r3', 'r4']);
  assert.ok(
    restarted.logLines().some((line) => line.msg === 'resuming a partition transfer from its saved cursor'),
    `the restarted r1 resumed from a saved cursor:\n${restarted.stdout}`,
  );
  // It did not start over: after the restart it sent fewer objects than its partitions hold.
  const sentAfterRestart = (await getJson<{ nodes: Record<string, NodeStats | undefined> }>(`${cluster.node('r1').url}/admin/transfers`)).nodes.r1?.objectsSent;
  assert.ok(sentAfterRestart !== undefined && sentAfterRestart < r1Objects, `r1 sent ${sentAfterRestart} objects after its restart, its ${r1Partitions.size} partitions hold ${r1Objects}`);
  step(`r1 restarted; the join settled at ring v${ring.ringVersion}`);
  await waitHintsDelivered(cluster, ['r1', 'r2', 'r3', 'r4']);
  const verdict = await history.verify(cluster.urls(['r1', 'r2', 'r3', 'r4']), CONCURRENCY);
  step(`read back: ${verdict.summary}`);
  await assertReadBack(cluster, ['r1', 'r2', 'r3', 'r4'], history, verdict);
  assert.deepEqual(history.unexpected, []);
});
