// `npm run build`: compiles src/ into a clean dist/ with tsc (tsconfig.build.json), then writes
// the stamp that bin/shoal.js compares with the sources' times. A failed build leaves no stamp,
// so the bin refuses to run what is left.
import { execFileSync } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BUILD_STAMP } from '../bin/buildCheck.js';

const root = fileURLToPath(new URL('..', import.meta.url));
rmSync(join(root, 'dist'), { recursive: true, force: true });
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
try {
  execFileSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.build.json')], { cwd: root, stdio: 'inherit' });
} catch {
  process.exitCode = 1;
}
if (process.exitCode !== 1) writeFileSync(join(root, BUILD_STAMP), `${new Date().toISOString()}\n`);
