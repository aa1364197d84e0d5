#!/usr/bin/env node
// The `shoal` command. It runs the compiled CLI in dist/; nothing is transpiled at run time.
// Plain JavaScript with no static imports, so that an old Node reaches the version check.
const NODE_MAJOR_MIN = 20;

const major = Number(process.versions.node.split('.')[0]);
if (!(major >= NODE_MAJOR_MIN)) {
  process.stderr.write(`shoal: Node.js ${NODE_MAJOR_MIN} or newer is needed; this is Node.js ${process.versions.node}\n`);
  process.exit(1);
}

const { fileURLToPath } = await import('node:url');
const { checkBuild } = await import('./buildCheck.js');
const root = fileURLToPath(new URL('..', import.meta.url));
const stale = checkBuild(root);
if (stale !== undefined) {
  if (!stale.buildable) {
    process.stderr.write(`shoal: ${stale.problem}\n`);
    process.exit(1);
  }
  // A checkout: build what the sources say, never run an older build. Output goes to stderr,
  // so stdout stays the node's JSON log.
  process.stderr.write(`shoal: ${stale.problem}; building it (npm run build)…\n`);
  const { spawnSync } = await import('node:child_process');
  const { join } = await import('node:path');
  const build = spawnSync(process.execPath, [join(root, 'scripts', 'build.js'), '--if-stale'], { stdio: ['ignore', 2, 2] });
  if (build.status !== 0) {
    process.stderr.write(`shoal: the build failed; fix what it says and run \`npm run build\` in ${root}\n`);
    process.exit(1);
  }
}
await import('../dist/cli/main.js');
