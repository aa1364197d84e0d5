/**
 * An exclusive claim on a node's data directory: a lock file holding the owner's pid,
 * created with O_EXCL, so that a second node started on the same directory refuses to
 * start instead of serving the same data beside the first (issue 14; LMDB itself lets
 * several processes share an environment). A lock file whose process is gone (a crash, a
 * kill -9) is taken over.
 *
 * The directory is created when missing; one that cannot be created or written gets an
 * error naming it, before anything else touches it.
 */
import { closeSync, mkdirSync, openSync, readFileSync, statSync, writeSync } from 'node:fs';
import { join, parse, resolve, sep } from 'node:path';
import { reasonOf, unlinkQuietly } from './files.ts';

export const LOCK_FILE = 'shoal.lock';

/** Lock files this process holds (a pid in a lock file may also be an earlier process's, reused). */
const heldHere = new Set<string>();

export class DataDirectoryError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'DataDirectoryError';
  }
}

export interface DataDirLock {
  /** Removes the lock file (once; later calls do nothing). */
  release(): void;
}

/** Creates `dir` when missing and claims it for this process; throws DataDirectoryError. */
export function lockDataDirectory(dir: string): DataDirLock {
  try {
    makeDirectories(dir);
  } catch (error) {
    throw new DataDirectoryError(`cannot create the data directory ${dir}: ${reasonOf(error)}`, { cause: error });
  }
  const path = join(dir, LOCK_FILE);
  if (heldHere.has(path)) throw inUse(dir, path, process.pid);
  for (let attempt = 0; ; attempt++) {
    try {
      const fd = openSync(path, 'wx', 0o600);
      try {
        writeSync(fd, `${process.pid}\n`);
      } finally {
        closeSync(fd);
      }
      heldHere.add(path);
      return releaser(path);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') {
        throw new DataDirectoryError(`cannot write to the data directory ${dir}: ${reasonOf(error)}`, { cause: error });
      }
      const owner = ownerOf(path);
      if (owner !== undefined && owner !== process.pid && isAlive(owner)) {
        throw inUse(dir, path, owner);
      }
      if (attempt > 0) throw new DataDirectoryError(`cannot take over the stale lock ${path}`);
      unlinkQuietly(path); // its process is gone
    }
  }
}

function inUse(dir: string, path: string, pid: number): DataDirectoryError {
  return new DataDirectoryError(`the data directory ${dir} is in use by process ${pid} (${path}); stop that node first, or give this one another --data`);
}

/**
 * mkdir -p, one level at a time. Node's own `recursive: true` never returns for a path
 * under /proc (it retries the ENOENT forever at 100% CPU: Node 20).
 */
export function makeDirectories(dir: string): void {
  const absolute = resolve(dir);
  const parts = absolute.split(sep).filter((part) => part.length > 0);
  let path = parse(absolute).root;
  for (const part of parts) {
    path = join(path, part);
    try {
      mkdirSync(path);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      if (!statSync(path).isDirectory()) throw Object.assign(new Error(`${path} is not a directory`), { code: 'ENOTDIR' });
    }
  }
}

function releaser(path: string): DataDirLock {
  let released = false;
  return {
    release() {
      if (released) return;
      released = true;
      heldHere.delete(path);
      unlinkQuietly(path);
    },
  };
}

function ownerOf(path: string): number | undefined {
  try {
    const pid = Number(readFileSync(path, 'utf8').trim());
    return Number.isSafeInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'; // alive, someone else's
  }
}


