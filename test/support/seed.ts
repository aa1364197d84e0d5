/**
 * Seeds for randomised tests. Every randomised test takes its seed from here, prints it
 * with a one-line replay command, and so can be replayed exactly.
 */
import { randomInt } from 'node:crypto';
import { relative } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The running test, as node:test's context gives it: its own name, never retyped. */
export interface RunningTest {
  readonly name: string;
}

/**
 * The seed for a randomised test: SHOAL_SEED when set, otherwise a fresh random one.
 * Prints `seed=… replay: …` so a failure can be rerun with the same inputs.
 */
export function testSeed(test: RunningTest, testFileUrl: string): number {
  const fromEnv = process.env.SHOAL_SEED;
  const seed = fromEnv !== undefined && fromEnv !== '' ? Number(fromEnv) : randomInt(0, 2 ** 31 - 1);
  if (!Number.isSafeInteger(seed)) throw new Error(`SHOAL_SEED must be an integer, got ${JSON.stringify(fromEnv)}`);
  console.log(`[seed] ${test.name}: seed=${seed} replay: ${replayCommand(test.name, seed, testFileUrl)}`);
  return seed;
}

/** The command that runs exactly this test of the file again with the seed. */
export function replayCommand(testName: string, seed: number, testFileUrl: string): string {
  const file = relative(process.cwd(), fileURLToPath(testFileUrl));
  return `SHOAL_SEED=${seed} npx tsx --test --test-name-pattern=${shellQuote(namePattern(testName))} ${file}`;
}

/**
 * --test-name-pattern is a regular expression: this one matches the name and (nearly)
 * nothing else. It holds no backslash and no quote, so it survives the TAP reporter (which
 * doubles backslashes in what a test prints) and single quotes in a shell: a special
 * character becomes a one-character class (`[(]`), and the few that would need a backslash
 * there, or a quote, match any character (`.`).
 */
export function namePattern(testName: string): string {
  return `^${testName.replace(/[.*+?${}()|[/\]\\^'#]/g, (c) => (/[\]\\^'#]/.test(c) ? '.' : `[${c}]`))}$`;
}

function shellQuote(text: string): string {
  return `'${text}'`;
}
