// Is dist/ there and built from the sources beside it? Shared by bin/shoal.js (which never runs
// old code) and scripts/build.js (which writes the stamp this compares against).
// Plain JavaScript: it runs before anything compiled exists.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

/** Written by scripts/build.js once tsc has finished, so a half-finished build counts as none. */
export const BUILD_STAMP = join('dist', '.build-complete');
/** What the compiled output depends on, besides src/. */
const BUILD_INPUTS = ['tsconfig.json', 'tsconfig.build.json'];

/**
 * undefined when dist/ can run; otherwise `{ problem, buildable }`. An installed package has
 * no src/: its dist/ is only checked for presence, and cannot be rebuilt. A checkout's dist/
 * must be newer than every source.
 */
export function checkBuild(root) {
  if (!existsSync(join(root, 'src'))) {
    const main = join(root, 'dist', 'cli', 'main.js');
    return existsSync(main) ? undefined : { problem: `${main} is missing: this copy of the package is incomplete; reinstall shoal`, buildable: false };
  }
  const stamp = statOrUndefined(join(root, BUILD_STAMP));
  if (stamp === undefined) return { problem: 'dist/ has not been built from src/', buildable: true };
  const newest = newestInput(root);
  if (newest.mtimeMs > stamp.mtimeMs) return { problem: `dist/ is older than ${newest.path}`, buildable: true };
  return undefined;
}

/** The most recently modified of src/** and the build's config files. */
function newestInput(root) {
  let newest = { path: '', mtimeMs: -Infinity };
  const consider = (path) => {
    const mtimeMs = statSync(path).mtimeMs;
    if (mtimeMs > newest.mtimeMs) newest = { path: relative(root, path), mtimeMs };
  };
  for (const entry of readdirSync(join(root, 'src'), { recursive: true, withFileTypes: true })) {
    if (entry.isFile()) consider(join(entry.parentPath ?? entry.path, entry.name));
  }
  for (const file of BUILD_INPUTS) if (existsSync(join(root, file))) consider(join(root, file));
  return newest;
}

function statOrUndefined(path) {
  try {
    return statSync(path);
  } catch {
    return undefined;
  }
}
