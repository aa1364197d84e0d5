#!/usr/bin/env node
// The `shoal` command. It runs the compiled CLI in dist/; nothing is transpiled at run time.
// Plain JavaScript with no static imports, so that an old Node reaches the version check.
const NODE_MAJOR_MIN = 20;

const major = Number(process.versions.node.split('.')[0]);
if (!(major >= NODE_MAJOR_MIN)) {
  process.stderr.write(`shoal: Node.js ${NODE_MAJOR_MIN} or newer is needed; this is Node.js ${process.versions.node}\n`);
  process.exit(1);
}

const { checkBuild } = await import('./buildCheck.js');
const problem = checkBuild(new URL('..', import.meta.url));
if (problem !== undefined) {
  process.stderr.write(`shoal: ${problem}\n`);
  process.exit(1);
}
await import('../dist/cli/main.js');
