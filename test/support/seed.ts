/**
 * Seeds for randomised tests. Every randomised test takes its seed from here, prints it
 * with a one-line replay command, and so can be replayed exactly.
 */
import { randomInt } from 'node:crypto';
import { relative } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The seed for a randomised test: SHOAL_SEED when set, otherwise a fresh random one.
 * Prints `seed=… replay: …` so a failure can be rerun with the same inputs.
 */
export function testSeed(testName: string, testFileUrl: string): number {
  const fromEnv = process.env.SHOAL_SEED;
  const seed = fromEnv !== undefined && fromEnv !== '' ? Number(fromEnv) : randomInt(0, 2 ** 31 - 1);
  if (!Number.isSafeInteger(seed)) throw new Error(`SHOAL_SEED must be an integer, got ${JSON.stringify(fromEnv)}`);
  const file = relative(process.cwd(), fileURLToPath(testFileUrl));
  console.log(
    `[seed] ${testName}: seed=${seed} replay: SHOAL_SEED=${seed} npx tsx --test --test-name-pattern=${JSON.stringify(testName)} ${file}`,
  );
  return seed;
}
