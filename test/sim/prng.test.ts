import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Prng, SeedError } from '../../src/sim/prng.ts';

function draw(prng: Prng, count: number): number[] {
  return Array.from({ length: count }, () => prng.nextUint32());
}

describe('Prng', () => {
  it('gives the same sequence for the same seed, and another one for another seed', () => {
    assert.deepEqual(draw(Prng.fromSeed(42), 100), draw(Prng.fromSeed(42), 100));
    assert.notDeepEqual(draw(Prng.fromSeed(42), 100), draw(Prng.fromSeed(43), 100));
  });

  it('takes seeds above 2^32 apart from their low bits', () => {
    assert.notDeepEqual(draw(Prng.fromSeed(7), 10), draw(Prng.fromSeed(7 + 2 ** 32), 10));
  });

  it('refuses seeds that cannot be printed and typed back', () => {
    for (const bad of [-1, 1.5, Number.NaN, 2 ** 53]) assert.throws(() => Prng.fromSeed(bad), SeedError);
  });

  it('forks by label, independent of how much the parent drew', () => {
    const a = Prng.fromSeed(9);
    const b = Prng.fromSeed(9);
    draw(b, 1000);
    assert.deepEqual(draw(a.fork('network'), 50), draw(b.fork('network'), 50));
    assert.notDeepEqual(draw(a.fork('network'), 50), draw(a.fork('clients'), 50));
    assert.notDeepEqual(draw(a.fork('network'), 50), draw(Prng.fromSeed(9), 50));
  });

  it('keeps next() in [0, 1) and int() in range, roughly uniform', () => {
    const prng = Prng.fromSeed(1);
    const buckets = new Array<number>(10).fill(0);
    for (let i = 0; i < 100_000; i++) {
      const x = prng.next();
      assert.ok(x >= 0 && x < 1);
      const k = prng.int(10);
      assert.ok(Number.isInteger(k) && k >= 0 && k < 10);
      buckets[k] = (buckets[k] as number) + 1;
    }
    for (const count of buckets) assert.ok(count > 9_000 && count < 11_000, `bucket count ${count}`);
  });

  it('has helpers: intBetween, between, chance, pick, shuffle', () => {
    const prng = Prng.fromSeed(5);
    for (let i = 0; i < 1000; i++) {
      const n = prng.intBetween(3, 6);
      assert.ok(n >= 3 && n <= 6);
      const x = prng.between(-2, 2);
      assert.ok(x >= -2 && x < 2);
    }
    assert.equal(prng.chance(0), false);
    assert.equal(prng.chance(1), true);
    assert.ok(['a', 'b'].includes(prng.pick(['a', 'b'])));
    assert.throws(() => prng.pick([]), RangeError);
    const items = Array.from({ length: 20 }, (_, i) => i);
    const shuffled = prng.shuffle(items);
    assert.deepEqual([...shuffled].sort((a, b) => a - b), items);
    assert.notDeepEqual(shuffled, items);
    assert.throws(() => prng.int(0), RangeError);
  });
});
