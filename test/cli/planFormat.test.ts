import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatPlan, formatRing, formatTable, groupMoves, planSummary } from '../../src/cli/planFormat.ts';
import { joinPlan, ringView } from './fakeAdminNode.ts';

test('planSummary: kind, member, transfers and the estimate', () => {
  assert.equal(planSummary(joinPlan()), 'join n4: 24 partition transfers, ~12,345 objects, ~5.2 MiB (ring version 8)');
  const empty = joinPlan({ kind: 'leave', transfers: [], transfersTotal: 0 });
  assert.equal(planSummary(empty), 'leave n4: no partition transfers (ring version 8)');
});

test('groupMoves counts transfers per sender and receiver, ids in natural order', () => {
  const transfers = [
    { partition: 1, from: 'n10', to: 'n4', done: false },
    { partition: 2, from: 'n2', to: 'n4', done: false },
    { partition: 3, from: 'n2', to: 'n4', done: true },
    { partition: 3, from: 'n2', to: 'n3', done: false },
  ];
  assert.deepEqual(groupMoves({ transfers }), [
    { from: 'n2', to: 'n3', count: 1 },
    { from: 'n2', to: 'n4', count: 2 },
    { from: 'n10', to: 'n4', count: 1 },
  ]);
});

test('formatPlan: summary, moves, owned partitions before and after', () => {
  assert.deepEqual(formatPlan(joinPlan()), [
    'join n4: 24 partition transfers, ~12,345 objects, ~5.2 MiB (ring version 8)',
    'transfers (from → to):',
    '  n1 → n4  8 partitions',
    '  n2 → n4  8 partitions',
    '  n3 → n4  8 partitions',
    'partitions owned (before → after):',
    '  n1  22  →  16  (-6)',
    '  n2  21  →  16  (-5)',
    '  n3  21  →  16  (-5)',
    '  n4   0  →  16  (+16)',
  ]);
});

test('formatRing: header, member table, change line', () => {
  const settledLines = formatRing(ringView());
  assert.deepEqual(settledLines, [
    'cluster shoal: N=3, Q=64, ring version 8',
    '  member  status   address         partitions',
    '  n1      valid    127.0.0.1:7070          22',
    '  n2      valid    127.0.0.1:7071          21',
    '  n3      valid    127.0.0.1:7072          21',
    '  n4      joining  127.0.0.1:7073           0',
    'no membership change',
  ]);
  const moving = formatRing(ringView({ plan: joinPlan({ transfersDone: 10 }) }));
  assert.equal(moving.at(-1), 'change: join n4 at ring version 8, in progress: 10/24 transfers done');
  const settled = formatRing(ringView({ plan: joinPlan({ transfersDone: 24 }) }));
  assert.equal(settled.at(-1), 'change: join n4 at ring version 8, settled: 24/24 transfers done');
});

test('formatTable pads columns and trims trailing space', () => {
  assert.deepEqual(formatTable([['a', 'bb', ''], ['ccc', 'd', 'e']], [false, true]), ['a    bb', 'ccc   d  e']);
});
