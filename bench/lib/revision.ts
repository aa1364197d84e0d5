/**
 * Another git revision of Shoal beside the working tree, for before/after benchmarks
 * (bench:revisions, bench:cost): checked out into a temporary worktree that shares this
 * checkout's node_modules, and built when it has a build step.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { UsageError } from './args.ts';
import { makeTempDir, repoRoot } from './node-process.ts';
import { log } from './report.ts';

/** How a revision's bin runs Shoal: compiled JavaScript (it has a build step) or its TypeScript through tsx. */
export type Runs = 'compiled' | 'tsx';

export interface CheckedOutRevision {
  readonly ref: string;
  readonly commit: string;
  readonly dir: string;
  readonly runs: Runs;
  /** Its `shoal` command. */
  readonly bin: string;
}

/** A detached worktree of `ref` in a temp dir, sharing this checkout's node_modules, built if it has a build step. */
export function checkOutRevision(ref: string, warnings: string[]): CheckedOutRevision {
  const git = (...args: string[]): string => execFileSync('git', args, { cwd: repoRoot, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
  let commit: string;
  try {
    commit = git('rev-parse', '--verify', `${ref}^{commit}`);
  } catch {
    throw new UsageError(`--base: ${JSON.stringify(ref)} is not a revision of this repository`);
  }
  const dir = join(makeTempDir('shoal-bench-base-'), 'tree');
  git('worktree', 'add', '--detach', dir, commit);
  symlinkSync(join(repoRoot, 'node_modules'), join(dir, 'node_modules'), 'dir');
  if (readFileSync(join(dir, 'package-lock.json'), 'utf8') !== readFileSync(join(repoRoot, 'package-lock.json'), 'utf8')) {
    warnings.push(`package-lock.json differs between ${ref} and the working tree: the base runs with the working tree's dependencies`);
  }
  const runs = runsOf(dir);
  if (runs === 'compiled') {
    log(`base ${ref}: building dist/ in its worktree`);
    execFileSync(process.execPath, [join(dir, 'scripts', 'build.js')], { cwd: dir, stdio: ['ignore', 'ignore', 'inherit'] });
  }
  log(`base ${ref} = ${commit.slice(0, 12)}, checked out in ${dir}, runs ${runs}`);
  return { ref, commit, dir, runs, bin: join(dir, 'bin', 'shoal.js') };
}

export function runsOf(dir: string): Runs {
  const scripts = (JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { scripts?: Record<string, string> }).scripts ?? {};
  return scripts.build === undefined ? 'tsx' : 'compiled';
}

/** Removes the worktree (the temp dir goes at exit anyway; `git worktree prune` forgets it then). */
export function removeWorktree(dir: string): void {
  try {
    execFileSync('git', ['worktree', 'remove', '--force', dir], { cwd: repoRoot, stdio: 'ignore' });
  } catch {
    // see above
  }
}
