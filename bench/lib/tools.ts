/** External programs the comparisons need (redis-server, redis-benchmark, etcd): found in PATH, or skipped with an install hint. */
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { TargetUnavailable } from './targets.ts';

/** Debian installs daemons like redis-server in /usr/sbin, which a user's PATH may lack. */
const EXTRA_DIRS = ['/usr/sbin', '/usr/local/sbin', '/sbin'];

/** The executable's path, or undefined when it is not installed. */
export function findExecutable(name: string): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), ...EXTRA_DIRS].filter((d) => d !== '');
  for (const dir of dirs) {
    const path = join(dir, name);
    try {
      accessSync(path, constants.X_OK);
      return path;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** The executable's path; throws TargetUnavailable (the comparison is skipped) saying how to install it. */
export function requireExecutable(name: string, debianPackage: string): string {
  const path = findExecutable(name);
  if (path === undefined) {
    throw new TargetUnavailable(`${name} is not installed`, `apt-get install -y ${debianPackage}`);
  }
  return path;
}
