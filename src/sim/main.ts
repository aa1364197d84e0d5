/**
 * `npm run sim`: the deterministic cluster simulator from the command line.
 *
 *   npm run sim -- --seeds 300            300 seeds from a random base seed (printed)
 *   npm run sim -- --seeds 300 --base 7   seeds 7 … 306
 *   npm run sim -- --seed 1234            replays one seed exactly
 *   npm run sim -- --seed 1234 --verbose  … printing every event and node log line
 *   … --strict-availability               requests that could have succeeded but failed are
 *                                          violations (availability.ts; off by default)
 *
 * Every seed prints one line with its replay command; a failing seed prints its
 * violations, and the exit code is 1 if any seed failed (2 for bad arguments). A run of
 * several seeds ends with one line `sim availability: {…}`: the availability tallies of
 * every seed summed (JSON, with the share of eligible requests that succeeded).
 */
import { randomInt } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { addCounts, availabilitySummary, emptyCounts } from './availability.ts';
import { formatViolation } from './checker.ts';
import { checkSeed, SeedError } from './prng.ts';
import { realElapsedMs } from './realTime.ts';
import { runSeed, type SeedResult } from './swarm.ts';
import { describePlan } from './swarmPlan.ts';

export interface SimArgs {
  readonly seeds: readonly number[];
  readonly base: number;
  readonly verbose: boolean;
  readonly strictAvailability: boolean;
}

export class SimArgsError extends Error {
  readonly code = 'SIM_ARGS_INVALID';
  constructor(message: string) {
    super(message);
    this.name = 'SimArgsError';
  }
}

const USAGE = 'usage: npm run sim -- [--seeds K] [--base SEED] | --seed SEED [--verbose]  [--strict-availability]';

export function parseSimArgs(argv: readonly string[], randomBase: () => number): SimArgs {
  let values;
  try {
    values = parseArgs({
      args: [...argv],
      options: {
        seeds: { type: 'string' },
        seed: { type: 'string' },
        base: { type: 'string' },
        verbose: { type: 'boolean', default: false },
        'strict-availability': { type: 'boolean', default: false },
      },
      strict: true,
      allowPositionals: false,
    }).values;
  } catch (error) {
    throw new SimArgsError(`${(error as Error).message}\n${USAGE}`);
  }
  if (values.seed !== undefined) {
    if (values.seeds !== undefined || values.base !== undefined) throw new SimArgsError(`--seed replays one seed: drop --seeds and --base\n${USAGE}`);
    const seed = integerArg('--seed', values.seed);
    return { seeds: [seed], base: seed, verbose: values.verbose === true, strictAvailability: values['strict-availability'] === true };
  }
  const count = values.seeds === undefined ? 1 : integerArg('--seeds', values.seeds);
  if (count < 1) throw new SimArgsError('--seeds must be at least 1');
  const base = values.base === undefined ? randomBase() : integerArg('--base', values.base);
  const seeds = Array.from({ length: count }, (_, i) => base + i);
  checkSeed(seeds[seeds.length - 1] as number);
  return { seeds, base, verbose: values.verbose === true, strictAvailability: values['strict-availability'] === true };
}

function integerArg(name: string, text: string): number {
  if (!/^[0-9]+$/.test(text)) throw new SimArgsError(`${name} must be a non-negative integer, got ${JSON.stringify(text)}`);
  try {
    return checkSeed(Number(text));
  } catch (error) {
    if (error instanceof SeedError) throw new SimArgsError(`${name}: ${error.message}`);
    throw error;
  }
}

export function replayCommand(seed: number, strictAvailability = false): string {
  return `npm run sim -- --seed ${seed}${strictAvailability ? ' --strict-availability' : ''}`;
}

/** One line per seed. */
export function formatResult(result: SeedResult, realMs: number, strictAvailability = false): string {
  const status = result.ok ? 'ok  ' : 'FAIL';
  const { ops } = result;
  const losses =
    (result.bufferLosses > 0 ? ` buffer-losses=${result.bufferLosses}` : '') +
    (result.removalLosses > 0 ? ` removal-losses=${result.removalLosses}` : '') +
    (result.appliedTwice > 0 ? ` applied-twice=${result.appliedTwice}` : '');
  const { changes } = result;
  const membership = `joins=${changes.joins} leaves=${changes.leaves} removes=${changes.removes}` + (changes.changeCrashes > 0 ? ` crashes-in-transfer=${changes.changeCrashes}` : '') + (result.forgedStates > 0 ? ` forged-states=${result.forgedStates}` : '');
  const { repairs } = result;
  const converged = result.convergedAfterMs === undefined ? '' : ` converged-after=${(result.convergedAfterMs / 1000).toFixed(1)}s`;
  const { availability } = result;
  const { lossy, slow } = availability.uncalm;
  const succeeded = (tally: { eligible: number; failed: number }): string => `${tally.eligible - tally.failed}/${tally.eligible}`;
  const available =
    (lossy.eligible > 0 ? ` available-lossy-network=${succeeded(lossy)}` : slow.eligible > 0 ? ` available-slow-network=${succeeded(slow)}` : ` available=${succeeded(availability)}`) +
    (result.pauseDrops > 0 ? ` pause-drops=${result.pauseDrops}` : '');
  const { listings } = result;
  const listed = ` listings=${listings.complete}${listings.abandoned > 0 ? `+${listings.abandoned}-abandoned` : ''} listing-keys-judged=${listings.stableKeysJudged}`;
  const antiEntropy = `ae-exchanges=${repairs.exchanges} ae-repaired=${repairs.keysRepaired} reaped=${repairs.tombstonesReaped}` + (repairs.markersRemoved > 0 ? ` markers-removed=${repairs.markersRemoved}` : '') + converged;
  return (
    `${status} seed=${result.seed} ops=${ops.total} (ok ${ops.ok}, failed ${ops.failed}, timed out ${ops.timedOut}) acked-writes=${result.ackedWrites}` +
    `${losses} crashes=${result.crashes} ${membership} ${antiEntropy}${available}${listed} events=${result.events} virtual=${(result.virtualMs / 1000).toFixed(1)}s real=${(realMs / 1000).toFixed(2)}s trace=${result.traceHash.slice(0, 12)}` +
    `  replay: ${replayCommand(result.seed, strictAvailability)}`
  );
}

/** The details of a failed seed: its plan, the run error or each violation, the replay command. */
export function formatFailure(result: SeedResult, strictAvailability = false): string {
  const lines = [`seed ${result.seed} failed: ${describePlan(result.plan)}`];
  if (result.error !== undefined) lines.push(`run error: ${result.error}`);
  for (const violation of result.violations) lines.push(formatViolation(violation));
  lines.push(`replay: ${replayCommand(result.seed, strictAvailability)}   (add --verbose for the event trace)`);
  return lines.join('\n');
}

export async function main(argv: readonly string[]): Promise<number> {
  let args: SimArgs;
  try {
    args = parseSimArgs(argv, () => randomInt(0, 2 ** 32));
  } catch (error) {
    if (error instanceof SimArgsError) {
      console.error(error.message);
      return 2;
    }
    throw error;
  }
  const strict = args.strictAvailability;
  const strictFlag = strict ? ' --strict-availability' : '';
  if (args.seeds.length > 1) console.log(`sim: ${args.seeds.length} seeds from base seed ${args.base} (rerun all: npm run sim -- --seeds ${args.seeds.length} --base ${args.base}${strictFlag})`);
  const print = args.verbose ? (line: string) => console.log(line) : undefined;
  const failed: number[] = [];
  let availability = emptyCounts();
  const listings = { complete: 0, abandoned: 0, stableKeysJudged: 0 };
  const startedMs = realElapsedMs();
  for (const seed of args.seeds) {
    const seedStartMs = realElapsedMs();
    const result = await runSeed(seed, { print, strictAvailability: strict });
    availability = addCounts(availability, result.availability);
    listings.complete += result.listings.complete;
    listings.abandoned += result.listings.abandoned;
    listings.stableKeysJudged += result.listings.stableKeysJudged;
    console.log(formatResult(result, realElapsedMs() - seedStartMs, strict));
    if (!result.ok) {
      failed.push(seed);
      console.log(formatFailure(result, strict));
    }
  }
  const totalS = (realElapsedMs() - startedMs) / 1000;
  if (args.seeds.length > 1) console.log(`sim listings: ${JSON.stringify(listings)}`);
  if (args.seeds.length > 1) console.log(`sim availability: ${JSON.stringify({ seeds: args.seeds.length, base: args.base, strict, ...availabilitySummary(availability) })}`);
  console.log(`sim: ${args.seeds.length - failed.length}/${args.seeds.length} seeds passed in ${totalS.toFixed(1)}s${failed.length > 0 ? `; failed: ${failed.join(' ')}` : ''}`);
  return failed.length === 0 ? 0 : 1;
}

// Run only as the entry point (tests import the helpers above).
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  // `npm run sim -- --seed S --verbose | head`: a closed pipe ends the run quietly.
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw error;
  });
  process.exitCode = await main(process.argv.slice(2));
}
