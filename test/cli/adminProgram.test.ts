// The commander wiring of `shoal admin join | leave | remove | ring`, through the real binary.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runShoal } from '../support/shoalProcess.ts';
import { changeRoute, joinPlan, ok, ringView, startFakeNode } from './fakeAdminNode.ts';

async function shoal(args: readonly string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = runShoal(args);
  try {
    const { code } = await child.waitExit();
    return { code, stdout: child.stdout, stderr: child.stderr };
  } finally {
    await child.cleanup();
  }
}

test('shoal admin: flags reach the commands; exit codes come back', { timeout: 120_000 }, async (t) => {
  const node = await startFakeNode(t, {
    'POST /admin/remove': changeRoute(joinPlan({ kind: 'remove', member: 'n3' })),
    'POST /admin/leave': changeRoute(joinPlan({ kind: 'leave', member: 'n3' })),
    'GET /admin/ring': () => ok(ringView()),
  });
  const [removed, unconfirmed, missingId, ring] = await Promise.all([
    shoal(['admin', 'remove', 'n3', '--node', node.url, '--force', '--yes', '--no-wait']),
    shoal(['admin', 'leave', '--node', node.url]),
    shoal(['admin', 'remove', '--node', node.url, '--yes']),
    shoal(['admin', 'ring', '--node', node.url]),
  ]);
  assert.equal(removed.code, 0, removed.stderr);
  assert.match(removed.stdout, /applied: remove n3 at ring version 8/);
  assert.equal(unconfirmed.code, 2);
  assert.match(unconfirmed.stderr, /add --yes/);
  assert.equal(missingId.code, 2);
  assert.match(missingId.stderr, /missing required argument 'id'/);
  assert.equal(ring.code, 0, ring.stderr);
  assert.match(ring.stdout, /^cluster shoal: N=3, Q=64, ring version 8\n/);
  assert.deepEqual(
    node.changes().map((r) => `${r.path} ${JSON.stringify(r.body)}`).sort(),
    [
      '/admin/leave {"dryRun":true}',
      '/admin/remove {"id":"n3","force":true,"dryRun":false,"expectRingVersion":8}',
      '/admin/remove {"id":"n3","force":true,"dryRun":true}',
    ],
  );
});
