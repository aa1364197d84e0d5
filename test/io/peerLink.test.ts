import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { PROTOCOL_VERSION, type Hello } from '../../src/io/frameCodec.ts';
import { backoffDelayMs, inboundVerdict, type ExistingConnection } from '../../src/io/peerLink.ts';
import { cryptoRandom } from '../../src/io/cryptoRandom.ts';
import { testSeed } from '../support/seed.ts';

function hello(senderId: string, incarnation: number, dialSeq: number): Hello {
  return { protocolVersion: PROTOCOL_VERSION, clusterName: 'c', senderId, receiverId: 'x', incarnation, dialSeq, role: 'node' };
}

const ourDialInProgress: ExistingConnection = { open: false, peerIncarnation: 0, peerDialSeq: 0 };
const open = (peerIncarnation: number, peerDialSeq: number): ExistingConnection => ({ open: true, peerIncarnation, peerDialSeq });

describe('inboundVerdict', () => {
  it('adopts a peer connection when there is none', () => {
    assert.equal(inboundVerdict('b', undefined, hello('a', 1, 1)), 'adopt');
  });

  it('lets the connection dialled by the smaller id win a simultaneous dial, on both sides', () => {
    // a < b. At b: a's dial arrives while b dials: adopt a's. At a: b's dial arrives while a dials: refuse.
    assert.equal(inboundVerdict('b', ourDialInProgress, hello('a', 1, 1)), 'adopt');
    assert.equal(inboundVerdict('a', ourDialInProgress, hello('b', 2, 1)), 'duplicate');
  });

  it('refuses a leftover dial that the peer made before settling on the open connection', () => {
    // b accepted a's dial while its own dial #5 was under way, and said "dialSeq 5" then.
    assert.equal(inboundVerdict('a', open(2, 5), hello('b', 2, 5)), 'stale');
    assert.equal(inboundVerdict('a', open(2, 5), hello('b', 2, 3)), 'stale');
  });

  it('replaces an open connection the peer has given up on, or that belongs to its previous life', () => {
    assert.equal(inboundVerdict('a', open(2, 5), hello('b', 2, 6)), 'adopt', 'dialled after settling');
    assert.equal(inboundVerdict('a', open(2, 5), hello('b', 3, 1)), 'adopt', 'restarted: new incarnation');
    assert.equal(inboundVerdict('z', open(2, 5), hello('b', 2, 6)), 'adopt', 'id order does not matter then');
  });
});

describe('backoffDelayMs', () => {
  it('starts at the minimum and doubles its ceiling up to the maximum', () => {
    assert.equal(backoffDelayMs(1, 100, 5000, 0.999), 100);
    assert.equal(backoffDelayMs(2, 100, 5000, 0), 100);
    assert.equal(backoffDelayMs(2, 100, 5000, 0.999), 200);
    assert.equal(backoffDelayMs(3, 100, 5000, 0), 200);
    assert.equal(backoffDelayMs(50, 100, 5000, 0), 2500);
    assert.equal(backoffDelayMs(1000, 100, 5000, 0.999_999), 5000);
  });

  it('stays within [min, max] and within [ceiling/2, ceiling] for any draw (seeded)', (t) => {
    const seed = testSeed(t, import.meta.url);
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 100 }), fc.integer({ min: 1, max: 10_000 }), fc.integer({ min: 0, max: 100_000 }), fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), (failures, minMs, extraMs, draw) => {
        const maxMs = minMs + extraMs;
        const delay = backoffDelayMs(failures, minMs, maxMs, draw);
        const ceiling = Math.min(maxMs, minMs * 2 ** Math.min(Math.max(failures - 1, 0), 30));
        assert.ok(delay >= minMs && delay <= maxMs, `${delay} in [${minMs}, ${maxMs}]`);
        assert.ok(delay >= Math.min(minMs, ceiling / 2) && delay <= ceiling, `${delay} under ceiling ${ceiling}`);
      }),
      { seed, numRuns: 1000 },
    );
  });
});

describe('cryptoRandom', () => {
  it('draws floats in [0, 1) and integers in range', () => {
    for (let i = 0; i < 1000; i++) {
      const f = cryptoRandom.next();
      assert.ok(f >= 0 && f < 1);
      const n = cryptoRandom.int(7);
      assert.ok(Number.isInteger(n) && n >= 0 && n < 7);
    }
    assert.equal(cryptoRandom.int(1), 0);
    assert.ok(cryptoRandom.int(2 ** 32) < 2 ** 32);
  });

  it('refuses a range it cannot draw from', () => {
    assert.throws(() => cryptoRandom.int(0), RangeError);
    assert.throws(() => cryptoRandom.int(1.5), RangeError);
    assert.throws(() => cryptoRandom.int(2 ** 49), RangeError);
  });
});
