/**
 * Anti-entropy on real `shoal start` processes (issue 5, "Done when"): three nodes (N = 3,
 * R = W = 2, Q = 16) take 3,000 keys; a few hundred are deleted with their read contexts,
 * some long enough ago that every replica reaped their tombstones to markers, others just
 * before the wipe (still tombstones). Then, twice — a clean stop (SIGTERM) of one node and
 * a `kill -9` of another — the node's data directory is deleted and the node restarted
 * with the same id and addresses. Without a single client read through the cluster, the
 * wiped node must come to hold every live key with the same version as the others
 * (checked with `GET /admin/local/:key`, which asks no one else and repairs nothing), and
 * no deleted key may come back there. Only at the end are the deleted keys read through
 * the cluster: every one answers 404.
 *
 * Nothing here depends on timing: every wait polls with a bound, and the figures (times,
 * counters) are printed for the record.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, rmSync } from 'node:fs';
import type { Random } from '../../src/ports/random.ts';
import { Prng } from '../../src/sim/prng.ts';
import { ProcessCluster, type ClusterNode } from '../support/processCluster.ts';
import { testSeed } from '../support/seed.ts';
import { http } from '../support/shoalProcess.ts';
import { inPool } from './kvHistory.ts';

const Q = 16;
const KEYS = 3000;
/** Deleted long before the first wipe: reaped to markers on every node before it. */
const EARLY_DELETES = 200;
/** Deleted just before each wipe: half while the node to be wiped still runs, half once it is down. */
const LATE_DELETES = 150;
const TOMBSTONE_GRACE_MS = 3000;
const CONCURRENCY = 16;
/** Bound on every wait for the cluster (reaping, a rebuild). */
const WAIT_MS_MAX = 120_000;
const IDS = ['ae1', 'ae2', 'ae3'] as const;

const COMMON_ARGS = [
  '--partition-count', String(Q), '--n', '3', '--r', '2', '--w', '2',
  '--anti-entropy-interval-ms', '100', '--tombstone-grace-ms', String(TOMBSTONE_GRACE_MS),
  '--gossip-interval-ms', '200', '--probe-interval-ms', '250', '--hint-delivery-interval-ms', '250',
  '--request-timeout-ms', '2000',
  // Debug logs say what anti-entropy repaired and what failed: kept for SHOAL_TEST_LOG_DIR.
  '--log-level', 'debug',
];


// ---- what one node holds locally ---------------------------------------------------------

interface LocalObject {
  readonly vector: readonly { actor: string; counter: number; timeMs: number }[];
  readonly siblings: readonly { value: string; contentType: string; deleted: boolean; dot: { actor: string; counter: number }; timeMs?: number }[];
}

type LocalKind = 'absent' | 'marker' | 'tombstone' | 'live';

interface Local {
  readonly kind: LocalKind;
  /** A canonical text of the version (vector and siblings, sorted): equal texts, same version. */
  readonly version: string;
  /** The live values, decoded. */
  readonly values: readonly string[];
}

async function localOf(url: string, key: string): Promise<Local> {
  const answer = await http(`${url}/admin/local/${encodeURIComponent(key)}`);
  if (answer.status === 404) return { kind: 'absent', version: '', values: [] };
  assert.equal(answer.status, 200, `GET /admin/local/${key}: ${answer.text}`);
  const object = JSON.parse(answer.text) as LocalObject;
  const vector = [...object.vector].sort((x, y) => (x.actor < y.actor ? -1 : x.actor > y.actor ? 1 : 0));
  const siblings = [...object.siblings].sort((x, y) => (x.dot.actor < y.dot.actor ? -1 : x.dot.actor > y.dot.actor ? 1 : x.dot.counter - y.dot.counter));
  const version = JSON.stringify({ vector, siblings });
  const live = object.siblings.filter((s) => !s.deleted);
  const kind: LocalKind = object.siblings.length === 0 ? 'marker' : live.length === 0 ? 'tombstone' : 'live';
  return { kind, version, values: live.map((s) => Buffer.from(s.value, 'base64').toString()) };
}

async function localsOf(url: string, keys: readonly string[]): Promise<Map<string, Local>> {
  const found = new Map<string, Local>();
  await inPool(keys, CONCURRENCY, async (key) => {
    found.set(key, await localOf(url, key));
  });
  return found;
}

function countKinds(locals: Iterable<Local>): Record<LocalKind, number> {
  const counts: Record<LocalKind, number> = { absent: 0, marker: 0, tombstone: 0, live: 0 };
  for (const local of locals) counts[local.kind]++;
  return counts;
}

// ---- status counters ---------------------------------------------------------------------

interface AntiEntropyCounters {
  readonly exchanges: number;
  readonly inSync: number;
  readonly failed: number;
  readonly segmentsCompared: number;
  readonly keysRepaired: number;
  readonly bytes: number;
  readonly tombstonesReaped: number;
  readonly markersRemoved: number;
  readonly trees: { readonly trusted: number; readonly rebuilds: number; readonly rebuildFailures: number };
}

interface Repair {
  readonly antiEntropy: AntiEntropyCounters;
  readonly admission: { readonly share: number; readonly throttles: number; readonly foregroundP99Ms: number };
}

async function repairOf(url: string): Promise<Repair> {
  const answer = await http(`${url}/admin/status`);
  assert.equal(answer.status, 200, `GET /admin/status: ${answer.text}`);
  return (JSON.parse(answer.text) as { repair: Repair }).repair;
}

async function repairsOf(cluster: ProcessCluster, ids: readonly string[]): Promise<Record<string, Repair>> {
  return Object.fromEntries(await Promise.all(ids.map(async (id) => [id, await repairOf(cluster.node(id).url)] as const)));
}

function sum(repairs: Record<string, Repair>, field: 'keysRepaired' | 'tombstonesReaped' | 'exchanges' | 'bytes' | 'failed'): number {
  return Object.values(repairs).reduce((total, repair) => total + repair.antiEntropy[field], 0);
}

function describe(repairs: Record<string, Repair>): string {
  return Object.entries(repairs)
    .map(([id, { antiEntropy: ae, admission }]) =>
      `${id}: exchanges ${ae.exchanges} (in sync ${ae.inSync}, failed ${ae.failed}), segments ${ae.segmentsCompared}, keys repaired ${ae.keysRepaired}, ` +
      `bytes ${ae.bytes}, tombstones reaped ${ae.tombstonesReaped}, markers removed ${ae.markersRemoved}, trees trusted ${ae.trees.trusted} rebuilt ${ae.trees.rebuilds}; ` +
      `admission share ${admission.share.toFixed(2)} throttles ${admission.throttles}`,
    )
    .join('\n  ');
}

/** Anti-entropy's progress as the counters show it, sampled every 250 ms (for the record, and to time the checks). */
interface RepairWatch {
  /** Resolves once the cluster's keysRepaired has not grown for `quietMs` (or at `deadlineMs`). */
  quiet(quietMs: number, deadlineMs: number): Promise<void>;
  /** Stops sampling: when (ms after the start) keysRepaired last grew, and when every node first trusted all its trees. */
  stop(): Promise<{ lastRepairMs?: number; treesTrustedMs?: number }>;
}

/** Samples every node's counters until stopped; `repairedBefore` is the cluster's keysRepaired at `sinceMs`. */
function watchRepairs(cluster: ProcessCluster, sinceMs: number, repairedBefore: number): RepairWatch {
  let stopped = false;
  let lastRepaired = repairedBefore;
  let lastChangeAt = sinceMs;
  let lastRepairMs: number | undefined;
  let treesTrustedMs: number | undefined;
  const running = (async () => {
    while (!stopped) {
      try {
        const repairs = await repairsOf(cluster, IDS);
        const repaired = sum(repairs, 'keysRepaired');
        if (repaired !== lastRepaired) {
          lastChangeAt = Date.now();
          lastRepairMs = lastChangeAt - sinceMs;
          lastRepaired = repaired;
        }
        if (treesTrustedMs === undefined && Object.values(repairs).every((r) => r.antiEntropy.trees.trusted === Q)) treesTrustedMs = Date.now() - sinceMs;
      } catch {
        // A failed poll is only a missing sample.
      }
      await sleep(250);
    }
  })();
  return {
    quiet: async (quietMs, deadlineMs) => {
      while (Date.now() < deadlineMs && (treesTrustedMs === undefined || Date.now() - lastChangeAt < quietMs)) await sleep(100);
    },
    stop: async () => {
      stopped = true;
      await running;
      return { lastRepairMs, treesTrustedMs };
    },
  };
}

// ---- client writes and deletes (before the wipes only) ---------------------------------

/** Writes a key through `url`, retrying a 503 (a retried write may leave siblings: the test compares versions, not values). */
async function put(url: string, key: string, value: string): Promise<void> {
  let last = '';
  for (let attempt = 1; attempt <= 5; attempt++) {
    try {
      const answer = await http(`${url}/kv/${encodeURIComponent(key)}`, { method: 'PUT', body: value, headers: { 'content-type': 'text/plain' } });
      if (answer.status === 204) return;
      last = `${answer.status} ${answer.text}`;
    } catch (error) {
      last = String(error);
    }
  }
  assert.fail(`PUT ${key} failed 5 times, last: ${last}`);
}

/** Reads the key through `url` for its context, then deletes it with that context. */
async function deleteWithContext(url: string, key: string): Promise<void> {
  let last = '';
  for (let attempt = 1; attempt <= 5; attempt++) {
    try {
      const read = await http(`${url}/kv/${encodeURIComponent(key)}`);
      const context = read.headers.get('x-shoal-context') ?? (JSON.parse(read.text) as { context?: string }).context;
      assert.ok(context !== undefined && context !== '', `read of ${key} gave no context: ${read.status} ${read.text}`);
      const deleted = await http(`${url}/kv/${encodeURIComponent(key)}`, { method: 'DELETE', headers: { 'x-shoal-context': context } });
      if (deleted.status === 204) return;
      last = `${deleted.status} ${deleted.text}`;
    } catch (error) {
      if (error instanceof assert.AssertionError) throw error;
      last = String(error);
    }
  }
  assert.fail(`DELETE ${key} failed 5 times, last: ${last}`);
}

function pick<T>(items: readonly T[], random: Random): T {
  return items[random.int(items.length)] as T;
}

/** `count` distinct items taken out of `pool` (which loses them). */
function takeRandom(pool: string[], count: number, random: Random): string[] {
  const taken: string[] = [];
  while (taken.length < count && pool.length > 0) taken.push(pool.splice(random.int(pool.length), 1)[0] as string);
  return taken;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

const TEST_NAME = 'a node whose data directory was wiped is rebuilt by anti-entropy alone, and no deleted key comes back';

test(TEST_NAME, { timeout: 600_000 }, async (t) => {
  const started = Date.now();
  const log = (what: string) => console.log(`[anti-entropy] ${seconds(Date.now() - started)}: ${what}`);
  const random = Prng.fromSeed(testSeed(t, import.meta.url));
  const cluster = new ProcessCluster(t, COMMON_ARGS, 'anti-entropy');
  await cluster.found(IDS);
  log('3 nodes serving');

  // 3,000 keys, through the nodes at random.
  const keys = Array.from({ length: KEYS }, (_, i) => `ae-${String(i).padStart(5, '0')}`);
  const writeStarted = Date.now();
  await inPool(keys, CONCURRENCY, (key) => put(pick(cluster.urls(IDS), random), key, `${key}=${random.int(1e9)}`));
  log(`${KEYS} keys written in ${seconds(Date.now() - writeStarted)}`);

  const pool = [...keys];
  const deleted = new Set<string>();
  const deleteAll = async (chosen: readonly string[], through: readonly string[]) => {
    await inPool(chosen, CONCURRENCY, (key) => deleteWithContext(pick(cluster.urls(through), random), key));
    for (const key of chosen) deleted.add(key);
  };

  // Early deletes: past the grace period, every node turns them into markers.
  const early = takeRandom(pool, EARLY_DELETES, random);
  const earlyStarted = Date.now();
  await deleteAll(early, IDS);
  const earlyDeletedAt = Date.now();
  log(`${early.length} keys deleted in ${seconds(earlyDeletedAt - earlyStarted)}; waiting for their tombstones to be reaped (grace ${TOMBSTONE_GRACE_MS} ms)`);
  let notYet = [...early];
  const reapDeadline = Date.now() + WAIT_MS_MAX;
  while (notYet.length > 0) {
    const still: string[] = [];
    for (const id of IDS) {
      const locals = await localsOf(cluster.node(id).url, notYet);
      for (const [key, local] of locals) {
        assert.notEqual(local.kind, 'live', `${key}, deleted, holds a live value on ${id}: ${local.version}`);
        if (local.kind !== 'marker' && !still.includes(key)) still.push(key);
      }
    }
    notYet = still;
    if (notYet.length === 0) break;
    if (Date.now() > reapDeadline) assert.fail(`${notYet.length} of ${early.length} early-deleted keys not reaped to markers on every node after ${WAIT_MS_MAX} ms, e.g. ${notYet.slice(0, 5).join(', ')}`);
    await sleep(500);
  }
  const afterReaping = await repairsOf(cluster, IDS);
  log(`every node holds the ${early.length} early-deleted keys as markers, ${seconds(Date.now() - earlyDeletedAt)} after the deletes; tombstones reaped (sum of the nodes' counters): ${sum(afterReaping, 'tombstonesReaped')}`);
  // Each key's reaping is counted by the node that ran it (its peers take the step on its request).
  assert.ok(sum(afterReaping, 'tombstonesReaped') >= early.length, `tombstonesReaped ${sum(afterReaping, 'tombstonesReaped')} < ${early.length}:\n  ${describe(afterReaping)}`);

  const rounds = [
    { victim: 'ae3', signal: 'SIGTERM' as const },
    { victim: 'ae2', signal: 'SIGKILL' as const },
  ];
  const figures: string[] = [];
  for (const { victim, signal } of rounds) {
    const survivors = IDS.filter((id) => id !== victim);
    const late = takeRandom(pool, LATE_DELETES, random);
    const lateUp = late.slice(0, LATE_DELETES / 2);
    const lateDown = late.slice(LATE_DELETES / 2);

    // Half deleted with the victim up, the other half once it is down (through the others).
    await deleteAll(lateUp, IDS);
    const stopStarted = Date.now();
    await cluster.stop(victim, signal);
    log(`${victim} stopped (${signal}) in ${seconds(Date.now() - stopStarted)}, ${lateUp.length} keys deleted just before`);
    await deleteAll(lateDown, survivors);
    log(`${lateDown.length} keys deleted with ${victim} down`);

    // With the victim down, nothing is reaped: the survivors hold the late deletes as tombstones (or, for the first half, maybe markers).
    for (const id of survivors) {
      const locals = await localsOf(cluster.node(id).url, late);
      const downKinds = countKinds(lateDown.map((key) => locals.get(key) as Local));
      const upKinds = countKinds(lateUp.map((key) => locals.get(key) as Local));
      assert.equal(downKinds.tombstone, lateDown.length, `${id} holds the keys deleted with ${victim} down as tombstones: ${JSON.stringify(downKinds)}`);
      assert.equal(upKinds.tombstone + upKinds.marker, lateUp.length, `${id} holds the keys deleted just before the stop as tombstones or markers: ${JSON.stringify(upKinds)}`);
      log(`${id} holds the ${late.length} late-deleted keys as: ${JSON.stringify(countKinds(locals.values()))}`);
    }

    const liveKeys = keys.filter((key) => !deleted.has(key));
    const deletedKeys = [...deleted];
    // What the survivors hold (they agree, and nothing writes any more): the versions the victim must get.
    const reference = new Map<string, Local>();
    const survivorsAgree = Date.now() + WAIT_MS_MAX;
    let disagreeing = liveKeys;
    while (disagreeing.length > 0) {
      const [first, second] = await Promise.all(survivors.map((id) => localsOf(cluster.node(id).url, disagreeing)));
      const next: string[] = [];
      for (const key of disagreeing) {
        const a = first?.get(key) as Local;
        const b = second?.get(key) as Local;
        assert.equal(a.kind, 'live', `${key} is live on ${survivors[0]}: ${a.version}`);
        if (a.version === b.version) reference.set(key, a);
        else next.push(key);
      }
      disagreeing = next;
      if (disagreeing.length > 0 && Date.now() > survivorsAgree) assert.fail(`${disagreeing.length} live keys differ between ${survivors.join(' and ')}, e.g. ${disagreeing[0]}`);
      if (disagreeing.length > 0) await sleep(500);
    }

    const before = await repairsOf(cluster, survivors);
    rmSync(cluster.node(victim).data, { recursive: true, force: true });
    assert.ok(!existsSync(cluster.node(victim).data));
    const restartStarted = Date.now();
    await cluster.restart(victim);
    const servingAt = Date.now();
    log(`${victim}'s data directory deleted; restarted, serving after ${seconds(servingAt - restartStarted)}`);

    // No client reads from here on: only what the victim holds locally, polled until it holds
    // everything (and, for the record, the counters, to see when the last key was repaired).
    const url = cluster.node(victim).url;
    const watch = watchRepairs(cluster, servingAt, sum(before, 'keysRepaired'));
    let pendingLive = liveKeys;
    let pendingDeleted = deletedKeys;
    const deadline = Date.now() + WAIT_MS_MAX;
    let polls = 0;
    for (;;) {
      // Checking thousands of keys costs CPU the rebuild needs: check once the repairs pause.
      await watch.quiet(1500, deadline);
      polls++;
      const locals = await localsOf(url, [...pendingLive, ...pendingDeleted]);
      const back = pendingDeleted.filter((key) => (locals.get(key) as Local).kind === 'live');
      assert.deepEqual(back, [], `deleted keys came back on ${victim}: ${back.slice(0, 5).map((key) => `${key} ${(locals.get(key) as Local).version}`).join('; ')}`);
      pendingLive = pendingLive.filter((key) => (locals.get(key) as Local).version !== (reference.get(key) as Local).version);
      pendingDeleted = pendingDeleted.filter((key) => !['tombstone', 'marker'].includes((locals.get(key) as Local).kind));
      if (pendingLive.length === 0 && pendingDeleted.length === 0) break;
      if (Date.now() > deadline) {
        const repairs = await repairsOf(cluster, IDS);
        const example = pendingLive[0] ?? pendingDeleted[0] ?? '';
        assert.fail(
          `${victim} not rebuilt after ${WAIT_MS_MAX} ms: ${pendingLive.length} live keys missing or different, ${pendingDeleted.length} deleted keys neither tombstone nor marker; ` +
            `e.g. ${example}: ${victim} ${(locals.get(example) as Local).version}, others ${reference.get(example)?.version ?? '(deleted)'}\n  ${describe(repairs)}`,
        );
      }
      await sleep(250);
    }
    const rebuiltMs = Date.now() - servingAt;
    const { lastRepairMs, treesTrustedMs } = await watch.stop();
    const after = await repairsOf(cluster, IDS);
    const repaired = sum(after, 'keysRepaired') - sum(before, 'keysRepaired');
    const onVictim = countKinds((await localsOf(url, deletedKeys)).values());
    const figure =
      `${victim} (${signal}, data directory deleted) seen rebuilt ${seconds(rebuiltMs)} after serving (${polls} polls of /admin/local; ` +
      `its ${Q} trees trusted after ${treesTrustedMs === undefined ? '?' : seconds(treesTrustedMs)}, last key repaired after ${lastRepairMs === undefined ? '?' : seconds(lastRepairMs)}): ` +
      `${liveKeys.length} live keys with the others' versions, ${deletedKeys.length} deleted keys held as ${JSON.stringify(onVictim)}; ` +
      `cluster-wide since the stop: keys repaired ${repaired}, exchanges ${sum(after, 'exchanges') - sum(before, 'exchanges')}, ` +
      `bytes ${sum(after, 'bytes') - sum(before, 'bytes')}, failed exchanges ${sum(after, 'failed') - sum(before, 'failed')}`;
    figures.push(figure);
    log(`${figure}\n  ${describe(after)}`);
    assert.ok(repaired >= liveKeys.length, `keys repaired ${repaired} >= the ${liveKeys.length} live keys ${victim} needed`);
    assert.equal(after[victim]?.antiEntropy.trees.trusted, Q, `${victim} trusts its ${Q} trees`);
  }

  // Only now, reads through the cluster: every deleted key is gone; a sample of live keys reads back as the nodes hold it.
  const reads = { notFound: 0, other: [] as string[] };
  await inPool([...deleted], CONCURRENCY, async (key) => {
    const read = await http(`${pick(cluster.urls(IDS), random)}/kv/${encodeURIComponent(key)}`);
    if (read.status === 404) reads.notFound++;
    else reads.other.push(`${key}: ${read.status} ${read.text.slice(0, 200)}`);
  });
  assert.deepEqual(reads.other, [], `deleted keys read back through the cluster`);
  const sample = takeRandom(keys.filter((key) => !deleted.has(key)), 100, random);
  const expected = await localsOf(cluster.node('ae1').url, sample);
  await inPool(sample, CONCURRENCY, async (key) => {
    const read = await http(`${pick(cluster.urls(IDS), random)}/kv/${encodeURIComponent(key)}`);
    const values = (expected.get(key) as Local).values;
    if (values.length === 1) assert.deepEqual({ key, status: read.status, text: read.text }, { key, status: 200, text: values[0] });
    else assert.equal(read.status, 300, `${key}: ${read.status} ${read.text}`);
  });
  log(`all ${deleted.size} deleted keys read 404 through the cluster; ${sample.length} live keys read back; total ${seconds(Date.now() - started)}`);
  for (const figure of figures) console.log(`[anti-entropy] ${figure}`);
});

test('a node whose data directory was lost comes back as a new actor: a write through it never reuses a dot of its earlier life', { timeout: 300_000 }, async (t) => {
  const cluster = new ProcessCluster(t, COMMON_ARGS, 'anti-entropy');
  await cluster.found(IDS);
  const victim = cluster.node('ae3');
  const actorOf = (node: ClusterNode) => node.process.logLines().find((line) => line.msg === 'node opened')?.actor as string;
  const before = actorOf(victim);
  // N = 3 of 3 nodes: ae3 is a primary of every key, so it coordinates the write itself.
  await put(victim.url, 'k', 'first');
  await cluster.stop('ae3', 'SIGTERM');
  rmSync(victim.data, { recursive: true, force: true });
  // Anti-entropy off on the restarted node: it writes before anything has refilled its copy,
  // which is when reusing the old actor would issue the dot of "first" again.
  await cluster.restart('ae3', ['--anti-entropy-interval-ms', '0']);
  const after = actorOf(victim);
  assert.notEqual(after, before, 'a new actor after the data directory was lost');
  await put(victim.url, 'k', 'second');
  const deadline = Date.now() + WAIT_MS_MAX;
  let held: readonly string[] = [];
  while (Date.now() < deadline) {
    held = [...(await localOf(cluster.node('ae1').url, 'k')).values].sort();
    if (held.length === 2) break;
    await sleep(100);
  }
  assert.deepEqual(held, ['first', 'second'], `ae1 holds both writes as siblings (actors ${before} then ${after})`);
});
