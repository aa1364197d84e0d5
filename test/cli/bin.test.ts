/**
 * bin/shoal.js before it runs anything: it names the Node.js version it needs; in an
 * installed package it runs dist/ or says the package is incomplete; in a checkout it never
 * runs a dist/ older than the sources, but builds it first (scripts/build.js, one build at a
 * time) or says why it cannot. Each case is a temporary package with a copy of bin/ and
 * scripts/, whose dist/cli/main.js only says which build it is, and whose `typescript`, when
 * there is one, is a stand-in that writes such a dist/ (or fails like tsc on a broken source).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { test, type TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';

const repoRoot = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const OLD_BUILD = 'the old build ran';
const NEW_BUILD = 'the new build ran';

/** A stand-in for typescript/bin/tsc: writes a dist/ that prints NEW_BUILD, or fails when src/ holds broken.ts. */
const FAKE_TSC = `const { existsSync, mkdirSync, writeFileSync } = require('node:fs');
if (existsSync('src/core/broken.ts')) { console.log("src/core/broken.ts(1,1): error TS1005: ';' expected."); process.exit(2); }
mkdirSync('dist/cli', { recursive: true });
writeFileSync('dist/cli/main.js', ${JSON.stringify(`console.log(${JSON.stringify(NEW_BUILD)});`)});
console.log('fake tsc wrote dist/');
`;

interface PackageShape {
  /** A dist/ from an earlier build. */
  readonly dist: boolean;
  /** src/ and scripts/: a git checkout rather than an installed package. */
  readonly checkout: boolean;
  /** The stamp of a finished build. */
  readonly stamp?: boolean;
  /** A (stand-in) typescript in node_modules. */
  readonly typescript?: boolean;
}

function fakePackage(t: TestContext, shape: PackageShape): string {
  const root = mkdtempSync(join(tmpdir(), 'shoal-bin-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  writeFileSync(join(root, 'package.json'), JSON.stringify({ type: 'module' }));
  copyDir(join(repoRoot, 'bin'), join(root, 'bin'));
  if (shape.checkout) {
    copyDir(join(repoRoot, 'scripts'), join(root, 'scripts'));
    mkdirSync(join(root, 'src', 'core'), { recursive: true });
    writeFileSync(join(root, 'src', 'core', 'hash.ts'), 'export {};\n');
  }
  if (shape.dist) {
    mkdirSync(join(root, 'dist', 'cli'), { recursive: true });
    writeFileSync(join(root, 'dist', 'cli', 'main.js'), `console.log(${JSON.stringify(OLD_BUILD)});\n`);
  }
  if (shape.stamp === true) writeFileSync(join(root, 'dist', '.build-complete'), 'built\n');
  if (shape.typescript === true) {
    const tsc = join(root, 'node_modules', 'typescript', 'bin');
    mkdirSync(tsc, { recursive: true });
    writeFileSync(join(root, 'node_modules', 'typescript', 'package.json'), JSON.stringify({ name: 'typescript' }));
    writeFileSync(join(tsc, 'tsc'), FAKE_TSC);
  }
  return root;
}

function copyDir(from: string, to: string): void {
  mkdirSync(to, { recursive: true });
  for (const file of readdirSync(from)) copyFileSync(join(from, file), join(to, file));
}

function runBin(root: string, preload: readonly string[] = []) {
  const result = spawnSync(process.execPath, [...preload, join(root, 'bin', 'shoal.js'), '--version'], { encoding: 'utf8', timeout: 60_000 });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** Sources newer than the build: the stamp at t = 1,000,000 s, src/core/hash.ts at 2,000,000 s. */
function makeStale(root: string): void {
  utimesSync(join(root, 'dist', '.build-complete'), 1_000_000, 1_000_000);
  utimesSync(join(root, 'src', 'core', 'hash.ts'), 2_000_000, 2_000_000);
}

test('an installed package (no src/) runs its dist/', (t) => {
  const root = fakePackage(t, { dist: true, checkout: false });
  assert.deepEqual(runBin(root), { status: 0, stdout: `${OLD_BUILD}\n`, stderr: '' });
});

test('an installed package without dist/ says it is incomplete', (t) => {
  const root = fakePackage(t, { dist: false, checkout: false });
  const result = runBin(root);
  assert.equal(result.status, 1);
  assert.match(result.stderr, /dist\/cli\/main\.js is missing: .*reinstall shoal/);
  assert.equal(result.stdout, '');
});

test('a checkout whose sources are newer than dist/ builds it first, then runs the new build; a fresh one runs as it is', (t) => {
  const root = fakePackage(t, { dist: true, checkout: true, stamp: true, typescript: true });
  makeStale(root);
  const rebuilt = runBin(root);
  assert.equal(rebuilt.status, 0);
  assert.equal(rebuilt.stdout, `${NEW_BUILD}\n`, 'stdout holds only what the new build printed');
  assert.match(rebuilt.stderr, /dist\/ is older than src\/core\/hash\.ts; building it/);
  assert.match(rebuilt.stderr, /fake tsc wrote dist\//, "the build's output goes to stderr");
  assert.deepEqual(runBin(root), { status: 0, stdout: `${NEW_BUILD}\n`, stderr: '' }, 'no second build');

  writeFileSync(join(root, 'tsconfig.build.json'), '{}');
  utimesSync(join(root, 'tsconfig.build.json'), Date.now() / 1000 + 60, Date.now() / 1000 + 60);
  assert.match(runBin(root).stderr, /older than tsconfig\.build\.json; building it/, 'the build config counts as a source');
});

test('a checkout that was never built, or whose last build did not finish, is built', (t) => {
  for (const dist of [false, true]) {
    const root = fakePackage(t, { dist, checkout: true, typescript: true });
    const result = runBin(root);
    assert.equal(result.status, 0);
    assert.equal(result.stdout, `${NEW_BUILD}\n`);
    assert.match(result.stderr, /dist\/ has not been built from src\/; building it/);
  }
});

test('a failed build runs nothing and says so; without typescript it says to run npm ci', (t) => {
  const broken = fakePackage(t, { dist: true, checkout: true, stamp: true, typescript: true });
  makeStale(broken);
  writeFileSync(join(broken, 'src', 'core', 'broken.ts'), 'let x = \n');
  const failed = runBin(broken);
  assert.equal(failed.status, 1);
  assert.equal(failed.stdout, '', 'the old build did not run');
  assert.match(failed.stderr, /error TS1005/);
  assert.match(failed.stderr, /the build failed; fix what it says and run `npm run build`/);
  assert.equal(runBin(broken).status, 1, 'and the next start does not run the half-built dist/ either');

  const noTypescript = fakePackage(t, { dist: true, checkout: true, stamp: true });
  makeStale(noTypescript);
  const missing = runBin(noTypescript);
  assert.equal(missing.status, 1);
  assert.equal(missing.stdout, '');
  assert.match(missing.stderr, /typescript is not installed; run `npm ci`/);
});

test('starts racing to build a stale checkout build it once between them, and each runs the new build', async (t) => {
  const root = fakePackage(t, { dist: true, checkout: true, stamp: true, typescript: true });
  makeStale(root);
  const { spawn } = await import('node:child_process');
  const runs = await Promise.all(
    [1, 2, 3].map(
      () =>
        new Promise<{ status: number | null; stdout: string; stderr: string }>((done) => {
          const child = spawn(process.execPath, [join(root, 'bin', 'shoal.js'), '--version']);
          let stdout = '';
          let stderr = '';
          child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
          child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
          child.on('close', (status) => done({ status, stdout, stderr }));
        }),
    ),
  );
  for (const run of runs) assert.deepEqual({ status: run.status, stdout: run.stdout }, { status: 0, stdout: `${NEW_BUILD}\n` });
  const builds = runs.filter((run) => run.stderr.includes('fake tsc wrote dist/')).length;
  assert.equal(builds, 1, `${builds} builds ran: ${runs.map((run) => run.stderr).join(' | ')}`);
});

test('an older Node.js is told which version shoal needs', (t) => {
  const root = fakePackage(t, { dist: true, checkout: false });
  const pretend = join(root, 'node18.mjs');
  writeFileSync(pretend, "Object.defineProperty(process, 'versions', { value: { ...process.versions, node: '18.20.4' } });\n");
  const result = runBin(root, ['--import', pretend]);
  assert.equal(result.status, 1);
  assert.equal(result.stderr, 'shoal: Node.js 20 or newer is needed; this is Node.js 18.20.4\n');
  assert.equal(result.stdout, '');
});
