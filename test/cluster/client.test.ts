/**
 * The TypeScript client against a live 3-node cluster (real `shoal start` processes), one
 * suite run in both coordination modes: server-driven (HTTP to any node) and client-driven
 * (the client coordinates over the internode protocol). Values and content types, contexts
 * and siblings, the resolve callback, per-request quorums, the write coordinator named by a
 * read (paper 4.5), bad input, nodes that answer garbage or nothing, and a killed node.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createTcpServer, type Server as TcpServer, type Socket } from 'node:net';
import { contextCoordinator } from '../../src/core/context.ts';
import { ClientConfigError, createClient, ShoalClientError, type ClientOptions, type CoordinationMode, type GetResult, type ShoalClient } from '../../src/client/index.ts';
import { ProcessCluster } from '../support/processCluster.ts';
import { http } from '../support/shoalProcess.ts';

const IDS = ['c1', 'c2', 'c3'] as const;
const COMMON_ARGS = ['--partition-count', '16', '--n', '3', '--r', '2', '--w', '2', '--probe-interval-ms', '250', '--request-timeout-ms', '1500'];
const MODES: readonly CoordinationMode[] = ['server', 'client'];
const dec = new TextDecoder();

const text = (read: GetResult): string => {
  assert.equal(read.kind, 'value', `expected one value, got ${JSON.stringify(read)}`);
  return read.kind === 'value' ? dec.decode(read.value) : '';
};

const siblingTexts = (read: GetResult): string[] => {
  assert.equal(read.kind, 'siblings', `expected siblings, got ${read.kind}`);
  return read.kind === 'siblings' ? read.siblings.map((s) => (s.deleted ? '(deleted)' : dec.decode(s.value))).sort() : [];
};

async function rejectsWithCode(promise: Promise<unknown>, code: string): Promise<ShoalClientError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof ShoalClientError, `expected a ShoalClientError, got ${String(error)}`);
    assert.equal(error.code, code, error.message);
    return error;
  }
  assert.fail(`expected a ${code} error`);
}

/** The actor of the one version a node holds for `key` (its dot names the coordinator that wrote it). */
async function actorHeldBy(url: string, key: string): Promise<string> {
  const answer = await http(`${url}/admin/local/${encodeURIComponent(key)}`);
  assert.equal(answer.status, 200, answer.text);
  const local = JSON.parse(answer.text) as { siblings: { dot: { actor: string } }[] };
  assert.equal(local.siblings.length, 1);
  return local.siblings[0]?.dot.actor ?? '';
}

/** An HTTP server that answers every request 200 with bytes that are not Shoal's. */
async function garbageServer(t: TestContext): Promise<string> {
  const server: Server = createHttpServer((_request, response) => response.end('<html>not shoal</html>'));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => server.close());
  const address = server.address() as { port: number };
  return `http://127.0.0.1:${address.port}`;
}

/** A TCP server that accepts connections and never answers. */
async function silentServer(t: TestContext): Promise<string> {
  const sockets = new Set<Socket>();
  const server: TcpServer = createTcpServer((socket) => sockets.add(socket));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => {
    for (const socket of sockets) socket.destroy();
    server.close();
  });
  return `http://127.0.0.1:${(server.address() as { port: number }).port}`;
}

test('the client passes the same suite in both modes against a live 3-node cluster', { timeout: 300_000 }, async (t) => {
  const cluster = new ProcessCluster(t, COMMON_ARGS, 'client');
  await cluster.found(IDS);
  const urls = cluster.urls(IDS);
  const clients: ShoalClient[] = [];
  t.after(() => Promise.all(clients.map((c) => c.close())));
  const connect = (mode: CoordinationMode, extra: Partial<ClientOptions> = {}): ShoalClient => {
    const client = createClient({ nodes: urls, mode, timeoutMs: 4000, ...extra });
    clients.push(client);
    return client;
  };

  for (const mode of MODES) {
    await t.test(`${mode}: values, content types, absent keys and deletes`, async () => {
      const shoal = connect(mode);
      const absent = await shoal.get(`${mode}-nothing`);
      assert.equal(absent.kind, 'absent');
      assert.ok(absent.context.length > 0, 'an absent key still has a context');
      const written = await shoal.put(`${mode}-text`, 'apples');
      assert.ok(written.context.length > 0);
      const read = await shoal.get(`${mode}-text`);
      assert.equal(text(read), 'apples');
      assert.equal(read.kind === 'value' ? read.contentType : '', 'text/plain; charset=utf-8');
      await shoal.put(`${mode}-bytes`, Uint8Array.of(0, 255, 7), { contentType: 'application/x-test' });
      const bytes = await shoal.get(`${mode}-bytes`);
      assert.deepEqual(bytes.kind === 'value' ? [...bytes.value] : [], [0, 255, 7]);
      assert.equal(bytes.kind === 'value' ? bytes.contentType : '', 'application/x-test');
      await shoal.delete(`${mode}-text`, { context: read.context });
      assert.equal((await shoal.get(`${mode}-text`)).kind, 'absent');
    });

    await t.test(`${mode}: writes without a context stay siblings; a context supersedes them; resolve reconciles`, async () => {
      const shoal = connect(mode);
      const key = `${mode}-basket`;
      await Promise.all([shoal.put(key, 'apples'), shoal.put(key, 'pears')]);
      const both = await shoal.get(key, { r: 3 });
      assert.deepEqual(siblingTexts(both), ['apples', 'pears']);
      await shoal.put(key, 'apples,pears', { context: both.context });
      assert.equal(text(await shoal.get(key, { r: 3 })), 'apples,pears');

      const resolving = connect(mode, { resolve: (siblings) => siblings.map((s) => dec.decode(s.value)).sort().join('+') });
      const other = `${mode}-merged`;
      await Promise.all([resolving.put(other, 'a'), resolving.put(other, 'b')]);
      const resolved = await resolving.get(other, { r: 3 });
      assert.equal(text(resolved), 'a+b', 'the read answers the resolved value');
      assert.equal(text(await shoal.get(other, { r: 3 })), 'a+b', 'and wrote it over the siblings');
      assert.equal((await resolving.get(other, { resolve: null })).kind, 'value');
    });

    await t.test(`${mode}: list() iterates the live keys of a prefix in byte order, page by page; bad options are refused`, async () => {
      const shoal = connect(mode);
      const prefix = `${mode}-listed/`;
      const keys = Array.from({ length: 25 }, (_, i) => `${prefix}${String(i).padStart(2, '0')}`);
      await Promise.all(keys.map((key) => shoal.put(key, 'v', { w: 3 })));
      const gone = await shoal.get(keys[3] as string, { r: 3 });
      await shoal.delete(keys[3] as string, { context: gone.context, w: 3 });
      const listed: string[] = [];
      for await (const key of shoal.list({ prefix, pageKeys: 4 })) listed.push(key);
      assert.deepEqual(listed, keys.filter((_, i) => i !== 3));
      const first = await shoal.listPage({ prefix, pageKeys: 10 });
      assert.equal(first.keys.length, 10);
      assert.ok(first.next !== undefined);
      const second = await shoal.listPage({ prefix, pageKeys: 10, after: first.next });
      assert.equal(second.keys[0], keys[11]);
      await rejectsWithCode(shoal.listPage({ prefix, after: 'garbage!' }), 'LIST_TOKEN_INVALID');
      assert.throws(() => shoal.listPage({ pageKeys: 0 }), RangeError);
      assert.throws(() => shoal.listPage({ pageKeys: 1001 }), RangeError);
    });

    await t.test(`${mode}: per-request quorums, checked against N`, async () => {
      const shoal = connect(mode);
      await shoal.put(`${mode}-q`, 'v', { w: 3 });
      assert.equal(text(await shoal.get(`${mode}-q`, { r: 3 })), 'v');
      assert.equal(text(await shoal.get(`${mode}-q`, { n: 1, r: 1 })), 'v');
      await rejectsWithCode(shoal.get(`${mode}-q`, { r: 4 }), 'REQUEST_OPTION_INVALID');
      await rejectsWithCode(shoal.put(`${mode}-q`, 'v', { n: 5 }), 'REQUEST_OPTION_INVALID');
    });

    await t.test(`${mode}: a write carrying a read's context is coordinated by the replica that answered the read fastest`, async () => {
      const shoal = connect(mode);
      for (let i = 0; i < 6; i++) {
        const key = `${mode}-coordinated-${i}`;
        await shoal.put(key, 'first', { w: 3 });
        const read = await shoal.get(key);
        const named = contextCoordinator(read.context);
        assert.ok(named !== undefined && (IDS as readonly string[]).includes(named), `the context names a replica: ${named}`);
        await shoal.put(key, 'second', { context: read.context, w: 3 });
        const actor = await actorHeldBy(cluster.node(named).url, key);
        assert.ok(actor.startsWith(`${named}.`), `written by ${actor}, the context named ${named}`);
      }
    });

    await t.test(`${mode}: bad input gets the node's error, and changes nothing`, async () => {
      const shoal = connect(mode);
      await rejectsWithCode(shoal.put('x'.repeat(1025), 'v'), 'KEY_TOO_LONG');
      await rejectsWithCode(shoal.put(`${mode}-big`, new Uint8Array(1024 * 1024 + 1)), 'VALUE_TOO_LARGE');
      await rejectsWithCode(shoal.put(`${mode}-ctx`, 'v', { context: 'not-a-context' }), 'CONTEXT_INVALID');
      await rejectsWithCode(shoal.get(''), 'KEY_EMPTY');
      assert.equal((await shoal.get(`${mode}-big`)).kind, 'absent');
      assert.equal((await shoal.get(`${mode}-ctx`)).kind, 'absent');
    });

    await t.test(`${mode}: nodes that answer garbage or nothing are skipped within the deadline`, async (st) => {
      const garbage = await garbageServer(st);
      const silent = await silentServer(st);
      const shoal = connect(mode, { nodes: [garbage, silent, ...urls], attemptTimeoutMs: 500, attemptsMax: 4 });
      for (let i = 0; i < 6; i++) {
        await shoal.put(`${mode}-skip-${i}`, `v${i}`);
        assert.equal(text(await shoal.get(`${mode}-skip-${i}`)), `v${i}`);
      }
      const nowhere = connect(mode, { nodes: [garbage, silent], attemptTimeoutMs: 300, timeoutMs: 1000 });
      const error = await rejectsWithCode(nowhere.get('k'), 'UNAVAILABLE');
      assert.ok(error.attempts.length >= 2, `every node tried: ${error.attempts.join('; ')}`);
    });
  }

  await t.test('both modes: a killed node costs nothing but time (W = R = 2 of 3)', async () => {
    const before = MODES.map((mode) => connect(mode, { attemptTimeoutMs: 1000 }));
    await cluster.kill('c3');
    for (const [i, shoal] of before.entries()) {
      for (let k = 0; k < 10; k++) {
        const key = `${MODES[i]}-after-kill-${k}`;
        await shoal.put(key, 'v');
        assert.equal(text(await shoal.get(key)), 'v');
      }
    }
  });
});

test('a misconfigured client fails at construction, naming the option', () => {
  const bad: [ClientOptions, RegExp][] = [
    [{ nodes: [] }, /nodes: give at least one node address/],
    [{ nodes: ['localhost:8080'] }, /nodes\.0: .*http:\/\/HOST:PORT/],
    [{ nodes: ['http://127.0.0.1:8080/kv'] }, /nodes\.0/],
    [{ nodes: ['http://127.0.0.1:8080'], mode: 'peer' as CoordinationMode }, /mode: .*got "peer"/],
    [{ nodes: ['http://127.0.0.1:8080'], timeoutMs: 0 }, /timeoutMs: .*got 0/],
    [{ nodes: ['http://127.0.0.1:8080'], r: 1.5 }, /r: .*got 1\.5/],
    [{ nodes: ['http://127.0.0.1:8080'], retries: 3 } as unknown as ClientOptions, /unrecognized key.*retries/i],
  ];
  for (const [options, message] of bad) assert.throws(() => createClient(options), (error: unknown) => error instanceof ClientConfigError && message.test(error.message), JSON.stringify(options));
});
