import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SoloTransport, startNodeRuntime, usesTcp } from '../../src/io/runtime.ts';
import { createTcpTransport } from '../../src/io/tcpTransport.ts';
import { nodeConfigFrom, resolveNodeConfig } from '../../src/node/config.ts';
import { parseHostPort } from '../../src/node/hostPort.ts';
import { silentLogger } from '../../src/ports/logger.ts';
import { TransportError } from '../../src/ports/transport.ts';
import { MemoryEngine, MemoryMetaStore } from '../../src/storage/memoryEngine.ts';

const T = { timeout: 20_000 };

test('a node gets TCP with two or more members, with seeds, or with an internode address given on purpose', () => {
  assert.equal(usesTcp(resolveNodeConfig({})), false, 'shoal start alone: a cluster of one, no internode port');
  assert.equal(usesTcp(resolveNodeConfig({ flags: { cluster: 'node1@127.0.0.1:7070' } })), false, 'a cluster of one listed');
  assert.equal(usesTcp(resolveNodeConfig({ flags: { id: 'a', cluster: 'a@127.0.0.1:7070,b@127.0.0.1:7071', n: '2', r: '1', w: '1' } })), true);
  assert.equal(usesTcp(resolveNodeConfig({ flags: { seeds: '127.0.0.1:7070' } })), true);
  assert.equal(usesTcp(resolveNodeConfig({ flags: { listen: '127.0.0.1:7071' } })), true);
  assert.equal(usesTcp(resolveNodeConfig({ env: { SHOAL_LISTEN: '127.0.0.1:7071' } })), true);
  assert.equal(usesTcp(resolveNodeConfig({ file: { path: 'shoal.json', contents: { listen: '127.0.0.1:7071' } } })), true);
});

test('the transport of a cluster of one reaches no address, and says why', async () => {
  const solo = new SoloTransport('a');
  await assert.rejects(solo.requestAt({ host: '10.0.0.1', port: 7070 }, { type: 'join' }, 1000), (error: unknown) => {
    assert.ok(error instanceof TransportError);
    assert.equal(error.code, 'UNREACHABLE');
    assert.match(error.message, /10\.0\.0\.1:7070/);
    assert.match(error.message, /--listen/);
    return true;
  });
});

test('a node given --listen alone binds it and answers a node that does not know it', T, async () => {
  const config = nodeConfigFrom({ id: 'lone', engine: 'memory', http: '127.0.0.1:0', listen: '127.0.0.1:0', logLevel: 'silent' });
  const runtime = await startNodeRuntime({ config, logger: silentLogger, storage: { engine: new MemoryEngine(), meta: new MemoryMetaStore() } });
  const client = createTcpTransport({ localId: 'newcomer', clusterName: config.clusterName, listen: { host: '127.0.0.1', port: 0 } });
  try {
    assert.ok(runtime.listenAddress !== undefined, 'an internode port is bound');
    const parsed = parseHostPort(runtime.listenAddress);
    assert.ok(parsed.ok);
    try {
      const answer = await client.requestAt(parsed.value, { type: 'ping' }, 5000);
      assert.equal(answer.from, 'lone');
    } catch (error) {
      // The node's handler may refuse a stranger's ping; the transport still carried it.
      assert.ok(error instanceof TransportError && error.code === 'REMOTE_ERROR', `served, got ${String(error)}`);
    }
  } finally {
    await client.close();
    await runtime.stop();
  }
});

test('a node without --listen, --seeds or --cluster binds no internode port', T, async () => {
  const config = nodeConfigFrom({ engine: 'memory', http: '127.0.0.1:0', logLevel: 'silent' });
  const runtime = await startNodeRuntime({ config, logger: silentLogger, storage: { engine: new MemoryEngine(), meta: new MemoryMetaStore() } });
  try {
    assert.equal(runtime.listenAddress, undefined);
  } finally {
    await runtime.stop();
  }
});
