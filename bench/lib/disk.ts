/** Disk usage of a directory tree. */
import { lstatSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

export interface DirSize {
  /** Sum of file sizes (what `du --apparent-size` reports). */
  apparentBytes: number;
  /** Blocks actually allocated (what `du` reports; smaller for sparse files). */
  allocatedBytes: number;
  files: number;
}

export function dirSize(path: string): DirSize {
  const total: DirSize = { apparentBytes: 0, allocatedBytes: 0, files: 0 };
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const full = join(dir, entry.name);
      if (entry.isDirectory()) {
        walk(full);
      } else {
        const st = lstatSync(full);
        total.apparentBytes += st.size;
        total.allocatedBytes += st.blocks * 512;
        total.files++;
      }
    }
  };
  walk(path);
  return total;
}
