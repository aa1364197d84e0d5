/**
 * Real `shoal start` processes on loopback, replicating over TCP: writes keep succeeding
 * while nodes are killed (`kill -9`) or frozen (`SIGSTOP`), and a fallback's hint reaches
 * the owner once it is back.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { claimRing } from '../../src/core/claim.ts';
import { keyBytes, partitionOfKey } from '../../src/core/hash.ts';
import { primaryNodes } from '../../src/core/preflist.ts';
import { freePort, http, runShoal, type ShoalProcess } from '../support/shoalProcess.ts';

const PARTITIONS = 16;
const N = 3;

interface ClusterNode {
  readonly id: string;
  readonly listen: string;
  readonly httpAddress: string;
  readonly url: string;
  readonly data: string;
  process: ShoalProcess;
}

class LocalCluster {
  readonly nodes: ClusterNode[] = [];
  private readonly root = mkdtempSync(join(tmpdir(), 'shoal-cluster-'));

  static async create(ids: readonly string[]): Promise<LocalCluster> {
    const cluster = new LocalCluster();
    for (const id of ids) {
      const listen = `127.0.0.1:${await freePort()}`;
      const httpAddress = `127.0.0.1:${await freePort()}`;
      cluster.nodes.push({ id, listen, httpAddress, url: `http://${httpAddress}`, data: join(cluster.root, id), process: undefined as never });
    }
    for (const node of cluster.nodes) cluster.launch(node);
    await Promise.all(cluster.nodes.map((node) => node.process.waitServing()));
    return cluster;
  }

  node(id: string): ClusterNode {
    const found = this.nodes.find((node) => node.id === id);
    assert.ok(found, `no node ${id}`);
    return found;
  }

  launch(node: ClusterNode): void {
    const members = this.nodes.map((member) => `${member.id}@${member.listen}`).join(',');
    node.process = runShoal([
      'start', '--id', node.id, '--cluster', members, '--listen', node.listen, '--http', node.httpAddress,
      '--data', node.data, '--partition-count', String(PARTITIONS), '--n', String(N), '--r', '2', '--w', '2',
      '--request-timeout-ms', '1500', '--probe-interval-ms', '250', '--hint-delivery-interval-ms', '250',
    ]);
  }

  async restart(id: string): Promise<void> {
    const node = this.node(id);
    this.launch(node);
    await node.process.waitServing();
  }

  async close(): Promise<void> {
    for (const node of this.nodes) {
      if (node.process.running) {
        node.process.child.kill('SIGCONT');
        node.process.child.kill('SIGKILL');
      }
    }
    await Promise.all(this.nodes.map((node) => node.process.cleanup()));
    rmSync(this.root, { recursive: true, force: true });
  }

  /** The key's top-N owners, computed the way every node computes them. */
  primariesOf(key: string): string[] {
    const ring = claimRing(this.nodes.map((node) => node.id), PARTITIONS, N);
    return primaryNodes(ring, partitionOfKey(keyBytes(key), PARTITIONS), N);
  }
}

function put(url: string, key: string, value: string): Promise<{ status: number; text: string }> {
  return http(`${url}/kv/${encodeURIComponent(key)}`, { method: 'PUT', body: value, headers: { 'content-type': 'text/plain' } });
}

async function localValues(url: string, key: string): Promise<string[]> {
  const response = await http(`${url}/admin/local/${encodeURIComponent(key)}`);
  if (response.status === 404) return [];
  assert.equal(response.status, 200, response.text);
  const body = JSON.parse(response.text) as { siblings: { value: string }[] };
  return body.siblings.map((sibling) => Buffer.from(sibling.value, 'base64').toString());
}

/** Polls `check` until it holds, failing after `timeoutMs` with the last observation. */
async function eventually<T>(what: string, timeoutMs: number, observe: () => Promise<T>, check: (value: T) => boolean): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T = await observe();
  while (!check(last)) {
    if (Date.now() > deadline) assert.fail(`${what}: still ${JSON.stringify(last)} after ${timeoutMs} ms`);
    await new Promise((done) => setTimeout(done, 200));
    last = await observe();
  }
  return last;
}

test('a W=2 write succeeds with one of three nodes killed, and every replica converges', { timeout: 120_000 }, async (t) => {
  const cluster = await LocalCluster.create(['a', 'b', 'c']);
  t.after(() => cluster.close());
  const first = await put(cluster.node('a').url, 'k1', 'before');
  assert.equal(first.status, 204, first.text);

  cluster.node('c').process.child.kill('SIGKILL');
  await cluster.node('c').process.exited;
  for (let index = 0; index < 10; index++) {
    const written = await put(cluster.node(index % 2 === 0 ? 'a' : 'b').url, `after-${index}`, `v${index}`);
    assert.equal(written.status, 204, `write ${index} with c down: ${written.text}`);
  }
  const read = await http(`${cluster.node('b').url}/kv/after-3`);
  assert.equal(read.status, 200);
  assert.equal(read.text, 'v3');

  await cluster.restart('c');
  // With three nodes and N = 3 there is no stand-in, so c missed these writes; a read at
  // R = 3 sees c's missing version and read repair sends it the reconciled object.
  for (let index = 0; index < 10; index++) {
    await eventually(`after-${index} on c`, 30_000, async () => {
      const read = await http(`${cluster.node('a').url}/kv/after-${index}?r=3`);
      return { status: read.status, local: await localValues(cluster.node('c').url, `after-${index}`) };
    }, (seen) => seen.local.includes(`v${index}`));
  }
});

test('with four nodes and N=3, a stopped owner gets its writes back from a fallback\'s hints', { timeout: 120_000 }, async (t) => {
  const cluster = await LocalCluster.create(['n1', 'n2', 'n3', 'n4']);
  t.after(() => cluster.close());
  const keys = Array.from({ length: 200 }, (_, index) => `key-${index}`).filter((key) => cluster.primariesOf(key).includes('n4')).slice(0, 5);
  assert.equal(keys.length, 5);

  cluster.node('n4').process.child.kill('SIGKILL');
  await cluster.node('n4').process.exited;
  for (const key of keys) {
    const coordinator = cluster.primariesOf(key).find((id) => id !== 'n4') ?? 'n1';
    const written = await put(cluster.node(coordinator).url, key, `value-of-${key}`);
    assert.equal(written.status, 204, `${key}: ${written.text}`);
  }
  // The fallback (the one node outside the key's top three) holds each write as a hint
  // (written as the fallback acknowledges, which may come after the W-th acknowledgement).
  const hintsForN4 = async () => {
    const statuses = await Promise.all(['n1', 'n2', 'n3'].map(async (id) => JSON.parse((await http(`${cluster.node(id).url}/admin/status`)).text) as { hints: { byTarget: Record<string, number> } }));
    return statuses.reduce((sum, status) => sum + (status.hints.byTarget.n4 ?? 0), 0);
  };
  await eventually('hints held for n4', 30_000, hintsForN4, (count) => count >= keys.length);

  await cluster.restart('n4');
  for (const key of keys) {
    await eventually(`${key} on n4`, 30_000, () => localValues(cluster.node('n4').url, key), (values) => values.includes(`value-of-${key}`));
  }
});

test('a SIGSTOPped node slows requests down only up to the request timeout', { timeout: 120_000 }, async (t) => {
  const cluster = await LocalCluster.create(['a', 'b', 'c']);
  t.after(() => cluster.close());
  const frozen = cluster.node('c').process.child;
  frozen.kill('SIGSTOP');
  t.after(() => frozen.kill('SIGCONT'));
  for (let index = 0; index < 5; index++) {
    const written = await put(cluster.node('a').url, `frozen-${index}`, `v${index}`);
    assert.equal(written.status, 204, `write ${index} with c frozen: ${written.text}`);
    const read = await http(`${cluster.node('b').url}/kv/frozen-${index}`);
    assert.equal(read.status, 200, `read ${index} with c frozen: ${read.text}`);
    assert.equal(read.text, `v${index}`);
  }
  frozen.kill('SIGCONT');
  await eventually('c answers again', 30_000, async () => (await http(`${cluster.node('c').url}/admin/status`)).status, (status) => status === 200);
});
