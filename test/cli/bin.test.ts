/**
 * bin/shoal.js before it runs anything: it names the Node.js version it needs, and it
 * refuses a dist/ that is missing or older than the sources beside it, saying how to build,
 * instead of running old code. Each case is a copy of bin/ in a temporary package whose
 * dist/cli/main.js only says that it ran.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { test, type TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';

const binDir = resolve(fileURLToPath(new URL('../../bin', import.meta.url)));
const RAN = 'compiled main ran';

/** A package with bin/ and a stub dist/; with `src` it looks like a git checkout. */
function fakePackage(t: TestContext, options: { dist: boolean; src: boolean; stamp?: boolean }): string {
  const root = mkdtempSync(join(tmpdir(), 'shoal-bin-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  mkdirSync(join(root, 'bin'));
  for (const file of ['shoal.js', 'buildCheck.js']) copyFileSync(join(binDir, file), join(root, 'bin', file));
  writeFileSync(join(root, 'package.json'), JSON.stringify({ type: 'module' }));
  if (options.src) {
    mkdirSync(join(root, 'src', 'core'), { recursive: true });
    writeFileSync(join(root, 'src', 'core', 'hash.ts'), 'export {};\n');
  }
  if (options.dist) {
    mkdirSync(join(root, 'dist', 'cli'), { recursive: true });
    writeFileSync(join(root, 'dist', 'cli', 'main.js'), `console.log(${JSON.stringify(RAN)});\n`);
  }
  if (options.stamp === true) writeFileSync(join(root, 'dist', '.build-complete'), 'built\n');
  return root;
}

function runBin(root: string, preload: readonly string[] = []) {
  const result = spawnSync(process.execPath, [...preload, join(root, 'bin', 'shoal.js'), '--version'], { encoding: 'utf8', timeout: 30_000 });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

function setTimes(path: string, seconds: number): void {
  utimesSync(path, seconds, seconds);
}

test('an installed package (no src/) runs its dist/', (t) => {
  const root = fakePackage(t, { dist: true, src: false });
  assert.deepEqual(runBin(root), { status: 0, stdout: `${RAN}\n`, stderr: '' });
});

test('an installed package without dist/ says it is incomplete', (t) => {
  const root = fakePackage(t, { dist: false, src: false });
  const result = runBin(root);
  assert.equal(result.status, 1);
  assert.match(result.stderr, /dist\/cli\/main\.js is missing: .*reinstall shoal/);
  assert.equal(result.stdout, '');
});

test('a checkout that was never built, or whose build did not finish, says how to build', (t) => {
  for (const dist of [false, true]) {
    const root = fakePackage(t, { dist, src: true });
    const result = runBin(root);
    assert.equal(result.status, 1);
    assert.match(result.stderr, /dist\/ has not been built from src\/: build it with `npm run build`/);
    assert.equal(result.stdout, '', 'nothing of the old build ran');
  }
});

test('a checkout whose sources changed after the build refuses to run the old code, naming the newer file', (t) => {
  const root = fakePackage(t, { dist: true, src: true, stamp: true });
  setTimes(join(root, 'dist', '.build-complete'), 1_000_000);
  setTimes(join(root, 'src', 'core', 'hash.ts'), 2_000_000);
  const stale = runBin(root);
  assert.equal(stale.status, 1);
  assert.match(stale.stderr, /dist\/ is older than src\/core\/hash\.ts: build it with `npm run build`/);
  assert.equal(stale.stdout, '');

  writeFileSync(join(root, 'tsconfig.build.json'), '{}');
  setTimes(join(root, 'src', 'core', 'hash.ts'), 500_000);
  setTimes(join(root, 'tsconfig.build.json'), 2_000_000);
  assert.match(runBin(root).stderr, /older than tsconfig\.build\.json/, 'the build config counts as a source');

  setTimes(join(root, 'tsconfig.build.json'), 500_000);
  assert.deepEqual(runBin(root), { status: 0, stdout: `${RAN}\n`, stderr: '' });
});

test('an older Node.js is told which version shoal needs', (t) => {
  const root = fakePackage(t, { dist: true, src: false });
  const pretend = join(root, 'node18.mjs');
  writeFileSync(pretend, "Object.defineProperty(process, 'versions', { value: { ...process.versions, node: '18.20.4' } });\n");
  const result = runBin(root, ['--import', pretend]);
  assert.equal(result.status, 1);
  assert.equal(result.stderr, 'shoal: Node.js 20 or newer is needed; this is Node.js 18.20.4\n');
  assert.equal(result.stdout, '');
});
