import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runAdminJoin, runAdminLeave, runAdminRemove } from '../../src/cli/adminMembership.ts';
import { changeRoute, FAST, joinPlan, ok, ringView, startFakeNode, testIo, transfersView, type Route, type TestIo } from './fakeAdminNode.ts';

const SEED = '127.0.0.1:7070';

/** Transfers at 0, 12, then 24 of 24; the ring settled. */
function progressingRoutes(): Record<string, Route> {
  const steps = [0, 12, 24];
  return {
    'POST /admin/join': changeRoute(),
    'GET /admin/transfers': (_, n) => ok(transfersView(steps[Math.min(n, steps.length - 1)] ?? 24)),
    'GET /admin/ring': () => ok(ringView({ plan: joinPlan({ transfersDone: 24 }) })),
  };
}

test('join --yes: dry run, then apply at the plan\'s ring version, then wait until settled', async (t) => {
  const node = await startFakeNode(t, progressingRoutes());
  const io = testIo();
  const code = await runAdminJoin({ node: node.url, seed: SEED, yes: true }, io, FAST);
  assert.equal(code, 0, io.stderr);
  assert.deepEqual(node.changes(), [
    { method: 'POST', path: '/admin/join', body: { seed: SEED, dryRun: true } },
    { method: 'POST', path: '/admin/join', body: { seed: SEED, dryRun: false, expectRingVersion: 8 } },
  ]);
  const polls = node.requests.slice(2).map((r) => `${r.method} ${r.path}`);
  assert.deepEqual(polls, ['GET /admin/transfers', 'GET /admin/transfers', 'GET /admin/transfers', 'GET /admin/ring']);
  assert.match(io.stdout, /^join n4: 24 partition transfers, ~12,345 objects, ~5\.2 MiB \(ring version 8\)\n/);
  assert.match(io.stdout, /n1 → n4 {2}8 partitions/);
  assert.match(io.stdout, /n4 {3}0 {2}→ {2}16/);
  assert.match(io.stdout, /applied: join n4 at ring version 8\n/);
  assert.match(io.stdout, /done: join n4 settled at ring version 8 \(24\/24 transfers, 12,000 objects, 5\.0 MiB sent in 0:0\d\)\n$/);
  assert.equal(io.questions.length, 0, '--yes asks nothing');
  assert.match(io.stderr, /^0\/24 partitions, 0 objects of ~12,345/, 'a plain progress line without a terminal');
  assert.match(io.stderr, /24\/24 partitions, 12,000 objects of ~12,345, 5\.0 MiB, 1,200 obj\/s, 1\.9 MiB\/s/);
  assert.doesNotMatch(io.stderr, /\r/);
});

test('on a terminal the progress is one line redrawn with \\r, ended by a newline', async (t) => {
  const node = await startFakeNode(t, progressingRoutes());
  const io = testIo({ stderrTty: true, columns: 120 });
  assert.equal(await runAdminJoin({ node: node.url, seed: SEED, yes: true }, io, FAST), 0, io.stderr);
  const frames = io.stderr.split('\r').filter((frame) => frame !== '');
  assert.ok(frames.length >= 3);
  assert.match(frames[0] ?? '', /^\[ +\] 0\/24 partitions/);
  const last = frames.at(-1) ?? '';
  assert.match(last, /^\[=+\] 24\/24 partitions/);
  assert.ok(last.endsWith('\x1b[K\n'), 'cleared to the end of the line, then a newline');
  for (const frame of frames) assert.ok(frame.replace('\x1b[K', '').trimEnd().length < 120, frame);
});

test('without a terminal and without --yes: the plan is shown, nothing is applied, exit 2', async (t) => {
  const node = await startFakeNode(t, { 'POST /admin/leave': changeRoute(joinPlan({ kind: 'leave', member: 'n3' })) });
  const io = testIo();
  assert.equal(await runAdminLeave({ node: node.url }, io, FAST), 2);
  assert.deepEqual(node.changes(), [{ method: 'POST', path: '/admin/leave', body: { dryRun: true } }]);
  assert.match(io.stdout, /^leave n3: 24 partition transfers/);
  assert.match(io.stderr, /error: not applied: stdin is not a terminal.*add --yes/);
});

test('on a terminal the plan is applied only after y or yes', async (t) => {
  const node = await startFakeNode(t, { 'POST /admin/join': changeRoute() });
  const declined = testIo({ stdinTty: true, answers: ['n'] });
  assert.equal(await runAdminJoin({ node: node.url, seed: SEED }, declined, FAST), 1);
  assert.deepEqual(declined.questions, ['Apply this plan? [y/N] ']);
  assert.match(declined.stderr, /not applied/);
  assert.equal(node.changes().length, 1, 'only the dry run');

  const empty = testIo({ stdinTty: true, answers: [''] });
  assert.equal(await runAdminJoin({ node: node.url, seed: SEED }, empty, FAST), 1, 'the default is no');
  assert.equal(node.changes().length, 2);

  const accepted = testIo({ stdinTty: true, answers: [' YES '] });
  assert.equal(await runAdminJoin({ node: node.url, seed: SEED, wait: false }, accepted, FAST), 0, accepted.stderr);
  assert.deepEqual(node.changes().at(-1)?.body, { seed: SEED, dryRun: false, expectRingVersion: 8 });
  assert.match(accepted.stderr, /not waiting \(--no-wait\)/);
  assert.equal(node.requests.filter((r) => r.method === 'GET').length, 0, '--no-wait polls nothing');
});

test('a refusal prints the error and its code, exit 1, and applies nothing', async (t) => {
  const node = await startFakeNode(t, {
    'POST /admin/remove': () => ({ status: 409, body: { error: 'n3 still answers', code: 'live-member' } }),
  });
  const io = testIo();
  assert.equal(await runAdminRemove('n3', { node: node.url, yes: true }, io, FAST), 1);
  assert.deepEqual(node.changes(), [{ method: 'POST', path: '/admin/remove', body: { id: 'n3', force: false, dryRun: true } }]);
  assert.match(io.stderr, /^error: n3 still answers \(live-member\)\nhint: .*--force/);
  assert.equal(io.stdout, '');
});

test('remove --force sends force; a plan-changed refusal of the apply exits 1 with a hint', async (t) => {
  const plan = joinPlan({ kind: 'remove', member: 'n3' });
  const node = await startFakeNode(t, {
    'POST /admin/remove': (request) =>
      (request.body as { dryRun: boolean }).dryRun
        ? ok({ applied: false, plan })
        : { status: 409, body: { error: 'the ring is at version 9, not 8', code: 'plan-changed' } },
  });
  const io = testIo();
  assert.equal(await runAdminRemove('n3', { node: node.url, force: true, yes: true }, io, FAST), 1);
  assert.deepEqual(
    node.changes().map((r) => r.body),
    [
      { id: 'n3', force: true, dryRun: true },
      { id: 'n3', force: true, dryRun: false, expectRingVersion: 8 },
    ],
  );
  assert.match(io.stderr, /error: the ring is at version 9, not 8 \(plan-changed\)\nhint: .*run the command again/);
});

test('bad arguments exit 2 naming the value, before any request', async (t) => {
  const node = await startFakeNode(t, {});
  const cases: [(io: TestIo) => Promise<number>, RegExp][] = [
    [(io) => runAdminJoin({ node: 'localhost:8080', seed: SEED, yes: true }, io), /--node must be .*"localhost:8080"/],
    [(io) => runAdminJoin({ node: 'ftp://x', seed: SEED, yes: true }, io), /--node must be an http:\/\/ or https:\/\/ URL, got "ftp:\/\/x"/],
    [(io) => runAdminJoin({ node: node.url, seed: '127.0.0.1', yes: true }, io), /--seed must be HOST:PORT .*"127\.0\.0\.1"/],
    [(io) => runAdminJoin({ node: node.url, seed: 'example.com:99999', yes: true }, io), /--seed must be HOST:PORT .*"example\.com:99999"/],
    [(io) => runAdminJoin({ node: node.url, yes: true }, io), /--seed HOST:PORT is required/],
    [(io) => runAdminRemove('n3!', { node: node.url, yes: true }, io), /ID must be .*"n3!"/],
    [(io) => runAdminRemove(undefined, { node: node.url, yes: true }, io), /needs the ID/],
    [(io) => runAdminLeave({ node: node.url, yes: true, waitTimeout: 'soon' }, io), /--wait-timeout must be .*"soon"/],
    [(io) => runAdminLeave({ node: node.url, yes: true, waitTimeout: '0' }, io), /--wait-timeout must be .*"0"/],
  ];
  for (const [index, [run, message]] of cases.entries()) {
    const io = testIo();
    assert.equal(await run(io), 2, `case ${index}`);
    assert.match(io.stderr, message);
  }
  assert.equal(node.requests.length, 0);
});

test('an unreachable node exits 1 naming its origin', async () => {
  const io = testIo();
  assert.equal(await runAdminLeave({ node: 'http://127.0.0.1:1', yes: true }, io, FAST), 1);
  assert.match(io.stderr, /^cannot reach http:\/\/127\.0\.0\.1:1: /);
});

test('failed polls are shown and polling goes on', async (t) => {
  const node = await startFakeNode(t, {
    'POST /admin/join': changeRoute(),
    'GET /admin/transfers': (_, n) => (n < 2 ? { status: 503, body: { error: 'busy', code: 'overloaded' } } : ok(transfersView(24))),
    'GET /admin/ring': (_, n) => (n === 0 ? 'hang-up' : ok(ringView())),
  });
  const io = testIo();
  const timing = { ...FAST, plainLineIntervalMs: 60_000 };
  assert.equal(await runAdminJoin({ node: node.url, seed: SEED, yes: true }, io, timing), 0, io.stderr);
  assert.equal(io.stderr.match(/error: busy \(overloaded\); still waiting/g)?.length, 1, 'the same error is shown once per interval');
  assert.match(io.stderr, /cannot reach .*; still waiting/);
  assert.match(io.stdout, /done: join n4 settled/);
});

test('the ring at a later change: ours has settled, the new one is reported', async (t) => {
  const next = joinPlan({ kind: 'leave', member: 'n2', ringVersion: 9 });
  const node = await startFakeNode(t, {
    'POST /admin/join': changeRoute(),
    'GET /admin/transfers': () => ok(transfersView(null)),
    'GET /admin/ring': () => ok(ringView({ ringVersion: 9, plan: next })),
  });
  const io = testIo();
  assert.equal(await runAdminJoin({ node: node.url, seed: SEED, yes: true }, io, FAST), 0, io.stderr);
  assert.match(io.stdout, /done: join n4 settled at ring version 8/);
  assert.match(io.stdout, /the ring has moved on since: leave n2 at ring version 9/);
});

test('a ring still at the change with transfers pending keeps the wait going', async (t) => {
  const node = await startFakeNode(t, {
    'POST /admin/join': changeRoute(),
    'GET /admin/transfers': () => ok(transfersView(24)),
    'GET /admin/ring': (_, n) => ok(ringView({ plan: joinPlan({ transfersDone: n < 2 ? 23 : 24 }) })),
  });
  const io = testIo();
  assert.equal(await runAdminJoin({ node: node.url, seed: SEED, yes: true }, io, FAST), 0, io.stderr);
  assert.equal(node.requests.filter((r) => r.path === '/admin/ring').length, 3);
});

test('a leaving node that stops answering after its last transfer has left', async (t) => {
  const plan = joinPlan({ kind: 'leave', member: 'n3' });
  const node = await startFakeNode(t, {
    'POST /admin/leave': changeRoute(plan),
    'GET /admin/transfers': (_, n) => (n === 0 ? ok(transfersView(24, { plan: { ...plan, transfersDone: 24 } })) : 'hang-up'),
    'GET /admin/ring': () => 'hang-up',
  });
  const io = testIo();
  assert.equal(await runAdminLeave({ node: node.url, yes: true }, io, FAST), 0, io.stderr);
  assert.match(io.stdout, /done: every transfer of leave n3 finished and .* no longer answers: it has left the cluster/);
});

test('--wait-timeout: gives up with exit 1, saying the change goes on', async (t) => {
  const node = await startFakeNode(t, {
    'POST /admin/join': changeRoute(),
    'GET /admin/transfers': () => ok(transfersView(3)),
  });
  const io = testIo();
  assert.equal(await runAdminJoin({ node: node.url, seed: SEED, yes: true, waitTimeout: '0.1' }, io, FAST), 1);
  assert.match(io.stderr, /error: gave up waiting after 0\.1 s \(--wait-timeout\); the join of n4 goes on in the cluster: follow it with `shoal admin ring --node http:\/\/127\.0\.0\.1:\d+`/);
  assert.match(io.stderr, /3\/24 partitions/);
});

test('Ctrl-C while waiting stops waiting (exit 130), not the change', async (t) => {
  const io = testIo();
  const node = await startFakeNode(t, {
    'POST /admin/join': changeRoute(),
    'GET /admin/transfers': (_, n) => {
      if (n === 2) setImmediate(() => io.interrupt());
      return ok(transfersView(5));
    },
  });
  assert.equal(await runAdminJoin({ node: node.url, seed: SEED, yes: true }, io, FAST), 130);
  assert.match(io.stderr, /stopped waiting \(Ctrl-C\); the join of n4 goes on in the cluster/);
  assert.ok(node.requests.filter((r) => r.path === '/admin/transfers').length <= 4);
});
