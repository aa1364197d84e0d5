/** The replay line a randomised test prints runs that test, and only it, with its seed. */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { resolve } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { namePattern } from './seed.ts';
import { TRICKY_NAME } from './fixtures/trickyName.ts';

const repoRoot = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const fixture = fileURLToPath(new URL('./fixtures/seededTests.ts', import.meta.url));

test('a name pattern matches its test name exactly, whatever characters the name holds', () => {
  for (const name of [TRICKY_NAME, 'plain', 'a (b)', 'x.y', '^$', 'dots... and (random)']) {
    const pattern = new RegExp(namePattern(name));
    assert.ok(pattern.test(name), name);
    assert.ok(!pattern.test(`${name} too`), `${name}: not a longer name`);
    assert.ok(!pattern.test(`before ${name}`), `${name}: not a name it ends`);
  }
});

test('the printed replay command, run by a shell, reruns only that test with the same seed', () => {
  // Without the runner's NODE_TEST_CONTEXT the children report as a user's run would.
  const { NODE_TEST_CONTEXT: _runner, ...userEnv } = process.env;
  const env = { ...userEnv, SHOAL_SEED: '' };
  const first = execFileSync(process.execPath, ['--import', 'tsx', '--test', fixture], { cwd: repoRoot, env, encoding: 'utf8' });
  const printed = /\[seed\] .*: seed=(\d+) replay: (.*)$/m.exec(first);
  assert.ok(printed !== null, `no replay line in:\n${first}`);
  const [, seed, command] = printed as unknown as [string, string, string];
  assert.match(first, /the other test ran/, 'the whole file ran the first time');
  const replayed = execFileSync('sh', ['-c', command], { cwd: repoRoot, env: userEnv, encoding: 'utf8' });
  assert.match(replayed, new RegExp(`tricky ran with seed=${seed}\\b`));
  assert.doesNotMatch(replayed, /the other test ran/);
});
