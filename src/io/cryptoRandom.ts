/**
 * The production Random: node:crypto, so jitter and incarnation numbers are unpredictable
 * across processes. The simulator hands nodes a seeded source instead.
 */
import { randomInt } from 'node:crypto';
import type { Random } from '../ports/random.ts';

/** crypto.randomInt accepts ranges below 2^48. */
const RANGE_MAX = 2 ** 48 - 1;

export const cryptoRandom: Random = {
  next(): number {
    return randomInt(0, RANGE_MAX) / RANGE_MAX;
  },
  int(maxExclusive: number): number {
    if (!Number.isSafeInteger(maxExclusive) || maxExclusive < 1 || maxExclusive > RANGE_MAX) {
      throw new RangeError(`cryptoRandom.int: maxExclusive must be an integer in [1, ${RANGE_MAX}], got ${maxExclusive}`);
    }
    return randomInt(0, maxExclusive);
  },
};
