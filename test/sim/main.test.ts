import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseSimArgs, replayCommand, SimArgsError } from '../../src/sim/main.ts';

const base = (): number => 77;

describe('npm run sim: arguments', () => {
  it('runs K seeds from a given or random base', () => {
    assert.deepEqual(parseSimArgs(['--seeds', '3', '--base', '10'], base), { seeds: [10, 11, 12], base: 10, verbose: false, strictAvailability: false });
    assert.deepEqual(parseSimArgs(['--seeds', '2'], base).seeds, [77, 78]);
    assert.deepEqual(parseSimArgs([], base).seeds, [77]);
  });

  it('replays one seed, verbosely on request', () => {
    assert.deepEqual(parseSimArgs(['--seed', '1234', '--verbose'], base), { seeds: [1234], base: 1234, verbose: true, strictAvailability: false });
    assert.equal(replayCommand(1234), 'npm run sim -- --seed 1234');
  });

  it('judges availability strictly on request, and replays with the same option', () => {
    assert.equal(parseSimArgs(['--seed', '5', '--strict-availability'], base).strictAvailability, true);
    assert.equal(parseSimArgs(['--seeds', '2', '--strict-availability'], base).strictAvailability, true);
    assert.equal(replayCommand(5, true), 'npm run sim -- --seed 5 --strict-availability');
  });

  it('refuses bad arguments with a usage line', () => {
    for (const argv of [['--seeds', '0'], ['--seeds', 'x'], ['--seed', '-1'], ['--seed', '1', '--seeds', '2'], ['--bogus'], ['--seed', String(2 ** 53)]]) {
      assert.throws(() => parseSimArgs(argv, base), SimArgsError, argv.join(' '));
    }
  });
});
