// `npm run build`: compiles src/ into a clean dist/ with tsc (tsconfig.build.json), copies the
// static files of STATIC_DIRS beside the compiled modules that serve them, then writes
// the stamp bin/shoal.js compares with the sources' times (a failed build leaves none).
// `--if-stale` (how bin/shoal.js calls it) builds only when dist/ is missing or older than the
// sources. One build at a time per checkout: others wait for it, then find dist/ fresh.
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BUILD_STAMP, checkBuild } from '../bin/buildCheck.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const LOCK = join(root, '.build-lock');
/** A lock older than this was left by a build that died; it is taken over. */
const LOCK_STALE_MS = 5 * 60_000;
const LOCK_POLL_MS = 100;
/** Folders of src/ that hold files tsc does not emit (the dashboard page), copied as they are. */
const STATIC_DIRS = ['api/dashboard/static'];

function tscPath() {
  try {
    return createRequire(join(root, 'package.json')).resolve('typescript/bin/tsc');
  } catch {
    return undefined;
  }
}

function sleepMs(ms) {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

function acquireLock() {
  for (;;) {
    try {
      mkdirSync(LOCK);
      return;
    } catch (error) {
      if (error.code !== 'EEXIST') throw error;
    }
    let ageMs;
    try {
      ageMs = Date.now() - statSync(LOCK).mtimeMs;
    } catch {
      continue; // released meanwhile
    }
    if (ageMs > LOCK_STALE_MS) rmSync(LOCK, { recursive: true, force: true });
    else sleepMs(LOCK_POLL_MS);
  }
}

function build() {
  const tsc = tscPath();
  if (tsc === undefined) {
    process.stderr.write(`build: typescript is not installed; run \`npm ci\` in ${root} (it installs the development dependencies)\n`);
    return 1;
  }
  rmSync(join(root, 'dist'), { recursive: true, force: true });
  try {
    execFileSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.build.json')], { cwd: root, stdio: ['ignore', 2, 2] });
  } catch {
    return 1;
  }
  for (const dir of STATIC_DIRS) {
    // Absent only in a stand-in checkout (test/cli/bin.test.ts); a real one that lost it fails at the node's start.
    if (existsSync(join(root, 'src', dir))) cpSync(join(root, 'src', dir), join(root, 'dist', dir), { recursive: true });
  }
  writeFileSync(join(root, BUILD_STAMP), `${new Date().toISOString()}\n`);
  return 0;
}

acquireLock();
try {
  const onlyIfStale = process.argv.includes('--if-stale');
  process.exitCode = onlyIfStale && checkBuild(root) === undefined ? 0 : build();
} finally {
  rmSync(LOCK, { recursive: true, force: true });
}
