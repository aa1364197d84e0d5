/**
 * Shoal as a user's project gets it: `npm pack`, the tarball installed into an empty
 * folder, then the installed `shoal` command, a plain `.mjs` program importing
 * `shoal/client` for a put and a get against a one-node `npx shoal start` (whose dashboard
 * page and files are served from the installed package), and a TypeScript file using the
 * client, type-checked by `tsc --noEmit` under `strict`.
 *
 * It installs through npm from its cache (`--prefer-offline`): the repository's own
 * `npm ci` has already fetched every package the tarball needs.
 */
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { freePort, ShoalProcess } from '../support/shoalProcess.ts';

const repoRoot = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const run = promisify(execFile);
const INSTALL_TIMEOUT_MS = 300_000;
const packageJson = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { devDependencies: Record<string, string> };

/** npm with the test runner's npm_* variables removed, so the child sees a user's environment. */
async function npm(args: readonly string[], cwd: string): Promise<{ stdout: string; stderr: string }> {
  const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('npm_') && !name.startsWith('SHOAL_')));
  return run('npm', [...args], { cwd, env, timeout: INSTALL_TIMEOUT_MS, maxBuffer: 64 * 1024 * 1024 });
}

interface PackedFile {
  readonly path: string;
}

test('the packed tarball installs into an empty project: bin, ESM import with a put and a get, strict types', { timeout: INSTALL_TIMEOUT_MS * 2 }, async (t) => {
  const work = mkdtempSync(join(tmpdir(), 'shoal-package-'));
  t.after(() => rmSync(work, { recursive: true, force: true }));

  // dist/ is built by `npm test` (and by `prepare`); the bin refuses a stale one, so this packs what runs.
  const packed = JSON.parse((await npm(['pack', '--ignore-scripts', '--json', '--pack-destination', work], repoRoot)).stdout) as { filename: string; files: PackedFile[] }[];
  const tarball = packed[0];
  assert.ok(tarball !== undefined, 'npm pack printed no tarball');
  const paths = tarball.files.map((file) => file.path);
  assert.deepEqual(paths.filter((path) => /^(src|test|bench|scripts)\//.test(path) || (/\.ts$/.test(path) && !/\.d\.ts$/.test(path))), [], 'the tarball holds source-only, test or bench files');
  for (const required of ['bin/shoal.js', 'dist/api/dashboard/static/index.html', 'dist/api/dashboard/static/dashboard.js', 'dist/cli/main.js', 'dist/client/index.js', 'dist/client/index.d.ts', 'dist/index.d.ts', 'README.md', 'LICENSE', 'package.json']) {
    assert.ok(paths.includes(required), `the tarball lacks ${required}`);
  }

  const project = join(work, 'project');
  mkdirSync(project);
  // A user's project: ESM, and npm's install-script policy approving the two native addons.
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'uses-shoal', version: '1.0.0', private: true, type: 'module', allowScripts: { lmdb: true, 'msgpackr-extract': true } }, null, 2));
  const installed = await npm(
    ['install', '--no-audit', '--no-fund', '--prefer-offline', join(work, tarball.filename), `typescript@${packageJson.devDependencies.typescript}`, `@types/node@${packageJson.devDependencies['@types/node']}`],
    project,
  );
  // On Node 20 every dependency's engines must accept it, and shoal itself has no install script to approve.
  assert.doesNotMatch(installed.stderr, /EBADENGINE|install-scripts/, `npm install warned:\n${installed.stderr}`);

  const help = await run('npx', ['--no-install', 'shoal', '--help'], { cwd: project, timeout: 60_000 });
  assert.match(help.stdout, /start \[options\]/, 'shoal --help lists the start command');

  const httpPort = await freePort();
  const listenPort = await freePort();
  const node = new ShoalProcess(
    spawn('npx', ['--no-install', 'shoal', 'start', '--id', 'solo', '--http', `127.0.0.1:${httpPort}`, '--listen', `127.0.0.1:${listenPort}`, '--data', join(work, 'data')], {
      cwd: project,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    }),
  );
  t.after(async () => {
    if (node.running && node.child.pid !== undefined) process.kill(-node.child.pid, 'SIGKILL');
    await node.exited;
  });
  const httpUrl = await node.waitServing();

  // The dashboard's page and files come from the installed package (its own and uPlot's).
  for (const path of ['/', '/dashboard/dashboard.js', '/dashboard/dashboard.css', '/dashboard/uplot.js', '/dashboard/uplot.css', '/admin/dashboard']) {
    const response = await fetch(`${httpUrl}${path}`, { signal: AbortSignal.timeout(10_000) });
    assert.equal(response.status, 200, `GET ${path} from the installed package`);
    assert.ok((await response.arrayBuffer()).byteLength > 0, `GET ${path} has a body`);
  }

  writeFileSync(join(project, 'trace.mjs'), TRACE_HOOKS);
  writeFileSync(join(project, 'use-client.mjs'), USE_CLIENT);
  const used = await run(process.execPath, ['--import', './trace.mjs', 'use-client.mjs', httpUrl], { cwd: project, timeout: 60_000 });
  const answer = JSON.parse(used.stdout) as { value: string; kind: string; serverOnly: string[]; shoalFiles: number };
  assert.deepEqual({ kind: answer.kind, value: answer.value }, { kind: 'value', value: 'installed and answering' });
  assert.deepEqual(answer.serverOnly, [], 'importing shoal/client loaded a server-only package');
  assert.ok(answer.shoalFiles > 0, 'the trace saw none of shoal/client’s own files');

  writeFileSync(join(project, 'tsconfig.json'), JSON.stringify({ compilerOptions: { strict: true, module: 'nodenext', moduleResolution: 'nodenext', target: 'es2022', noEmit: true, skipLibCheck: false, types: ['node'] }, files: ['uses-client.ts'] }));
  writeFileSync(join(project, 'uses-client.ts'), TYPED_CLIENT);
  await run(process.execPath, [join(project, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json'], { cwd: project, timeout: 120_000 }).catch((error: { stdout?: string }) => {
    assert.fail(`tsc --noEmit on a strict project using shoal/client failed:\n${error.stdout ?? String(error)}`);
  });
  // And the checker does check: a misuse of the client's types is an error.
  writeFileSync(join(project, 'uses-client.ts'), `${TYPED_CLIENT}\nconst wrong: number = (await createClient({ nodes: [] }).get('k')).context;\n`);
  await assert.rejects(run(process.execPath, [join(project, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json'], { cwd: project, timeout: 120_000 }), (error: { stdout?: string }) => /error TS2322/.test(error.stdout ?? ''));
});

/** Records every module URL the program loads, so the client's import can be inspected. */
const TRACE_HOOKS = `import { register } from 'node:module';
globalThis.__loaded = [];
const { port1, port2 } = new MessageChannel();
port1.on('message', (url) => globalThis.__loaded.push(url));
port1.unref();
register('data:text/javascript,' + encodeURIComponent(\`
  let port;
  export function initialize(data) { port = data.port; }
  export async function load(url, context, next) { port.postMessage(url); return next(url, context); }
\`), { data: { port: port2 }, transferList: [port2] });
`;

/** A plain ESM program, as a user writes one. */
const USE_CLIENT = `import { createClient } from 'shoal/client';
const shoal = createClient({ nodes: [process.argv[2]] });
await shoal.put('greeting', 'installed and answering');
const read = await shoal.get('greeting');
await shoal.close();
await new Promise((r) => setTimeout(r, 50));
const loaded = globalThis.__loaded;
const serverOnly = ['fastify', 'lmdb', 'pino'].filter((name) => loaded.some((url) => url.includes('/node_modules/' + name + '/')));
const shoalFiles = loaded.filter((url) => url.includes('/node_modules/shoal/dist/')).length;
console.log(JSON.stringify({ kind: read.kind, value: read.kind === 'value' ? new TextDecoder().decode(read.value) : null, serverOnly, shoalFiles }));
`;

/** TypeScript a user writes against the client's declarations. */
const TYPED_CLIENT = `import { createClient, ShoalClientError, type GetResult, type ClientOptions } from 'shoal/client';
const options: ClientOptions = { nodes: ['http://127.0.0.1:8080'], mode: 'server', timeoutMs: 1000 };
const shoal = createClient(options);
async function readText(key: string): Promise<string | undefined> {
  const read: GetResult = await shoal.get(key);
  switch (read.kind) {
    case 'value': return new TextDecoder().decode(read.value);
    case 'siblings': return read.siblings.map((s) => new TextDecoder().decode(s.value)).join(',');
    case 'absent': return undefined;
  }
}
try {
  const written = await shoal.put('k', 'v', { w: 2 });
  const context: string = written.context;
  void context;
  void (await readText('k'));
} catch (error) {
  if (error instanceof ShoalClientError && error.mayHaveLanded) console.log(error.code);
} finally {
  await shoal.close();
}
`;
