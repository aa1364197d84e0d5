/**
 * The in-memory test network (test/support/memoryTransport.ts) honours the Transport
 * port like the TCP transport: requestAt by address, strangers served.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TransportError } from '../../src/ports/transport.ts';
import { ManualClock } from '../support/manualClock.ts';
import { MemoryNetwork } from '../support/memoryTransport.ts';

async function outcome(promise: Promise<unknown>): Promise<{ ok: true; value: unknown } | { ok: false; code: string }> {
  return promise.then(
    (value) => ({ ok: true as const, value }),
    (error: unknown) => ({ ok: false as const, code: error instanceof TransportError ? error.code : String(error) }),
  );
}

describe('MemoryNetwork: addresses and requestAt', () => {
  it('gives each transport an address, kept across restarts, or the one it is given', () => {
    const network = new MemoryNetwork(new ManualClock());
    network.transport('a');
    network.transport('b');
    network.transport('c', { host: '10.0.0.3', port: 7070 });
    assert.deepEqual(network.addressOf('a'), { host: 'mem', port: 1 });
    assert.deepEqual(network.addressOf('b'), { host: 'mem', port: 2 });
    assert.deepEqual(network.addressOf('c'), { host: '10.0.0.3', port: 7070 });
    network.transport('a');
    assert.deepEqual(network.addressOf('a'), { host: 'mem', port: 1 }, 'a restarted node listens where it did');
    assert.equal(network.nodeAt({ host: '10.0.0.3', port: 7070 }), 'c');
    assert.throws(() => network.transport('d', { host: 'mem', port: 2 }), /already b's address/);
  });

  it('requestAt reaches the node at the address, which serves a requester it does not know', async () => {
    const network = new MemoryNetwork(new ManualClock());
    const joiner = network.transport('joiner');
    const seed = network.transport('seed');
    seed.setPeers(new Map());
    seed.serve(async (from, message) => ({ from, message }));
    const answer = await joiner.requestAt(network.addressOf('seed') as { host: string; port: number }, { type: 'join' }, 100);
    assert.deepEqual(answer, { from: 'seed', reply: { from: 'joiner', message: { type: 'join' } } });
    // And the seed reaches the joiner by id although neither has the other among its peers.
    joiner.serve(async () => 'welcome');
    assert.equal(await seed.request('joiner', 'hi', 100), 'welcome');
  });

  it('requestAt honours unknown addresses, modes, blocks, delays and close', async () => {
    const clock = new ManualClock();
    const network = new MemoryNetwork(clock);
    const a = network.transport('a');
    const b = network.transport('b');
    b.serve(async (_from, message) => message);
    const at = network.addressOf('b') as { host: string; port: number };
    assert.deepEqual(await outcome(a.requestAt({ host: 'mem', port: 99 }, 'x', 100)), { ok: false, code: 'UNREACHABLE' });
    network.setMode('b', 'unreachable');
    assert.deepEqual(await outcome(a.requestAt(at, 'x', 100)), { ok: false, code: 'UNREACHABLE' });
    network.setMode('b', 'dropping');
    const dropped = outcome(a.requestAt(at, 'x', 100));
    await clock.advance(100);
    assert.deepEqual(await dropped, { ok: false, code: 'TIMEOUT' });
    network.setMode('b', 'up');
    network.block('a', 'b');
    assert.deepEqual(await outcome(a.requestAt(at, 'x', 100)), { ok: false, code: 'UNREACHABLE' });
    network.unblock('a', 'b');
    network.setDelayMs('b', 50);
    const delivered = network.sent.length;
    const slow = outcome(a.requestAt(at, 'slow', 100));
    await clock.advance(49);
    assert.equal(network.sent.length, delivered, 'not delivered before the delay');
    await clock.advance(1);
    assert.equal(network.sent.length, delivered + 1);
    assert.deepEqual(await slow, { ok: true, value: { from: 'b', reply: 'slow' } });
    assert.equal(clock.pendingTimers, 0);
    await a.close();
    assert.deepEqual(await outcome(a.requestAt(at, 'x', 100)), { ok: false, code: 'CLOSED' });
  });
});
