/**
 * The dashboard page's files, read once when the API is built and served from memory: the
 * page's own HTML, JavaScript and CSS (./static/, beside this module: scripts/build.js
 * copies the folder into dist/), and uPlot's script and stylesheet from the `uplot`
 * package. Nothing is fetched from anywhere but the node, so the page works offline.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

export interface Asset {
  readonly body: Buffer;
  readonly contentType: string;
  /** A strong validator of the body, for If-None-Match. */
  readonly etag: string;
}

export interface DashboardAssets {
  readonly page: Asset;
  /** The files under /dashboard/, by name. */
  readonly files: ReadonlyMap<string, Asset>;
}

const STATIC_DIR = new URL('./static/', import.meta.url);
const UPLOT_FILES: readonly (readonly [string, string])[] = [
  ['uplot.js', 'uplot/dist/uPlot.iife.min.js'],
  ['uplot.css', 'uplot/dist/uPlot.min.css'],
];
const OWN_FILES = ['dashboard.js', 'dashboard.css'];
const CONTENT_TYPES: Readonly<Record<string, string>> = {
  html: 'text/html; charset=utf-8',
  js: 'text/javascript; charset=utf-8',
  css: 'text/css; charset=utf-8',
};

/** Reads every file; throws (naming the file) when one is missing, so a broken install fails at start. */
export function loadDashboardAssets(): DashboardAssets {
  const resolve = createRequire(import.meta.url).resolve;
  const files = new Map<string, Asset>();
  for (const name of OWN_FILES) files.set(name, asset(name, fileURLToPath(new URL(name, STATIC_DIR))));
  for (const [name, modulePath] of UPLOT_FILES) files.set(name, asset(name, resolve(modulePath)));
  return { page: asset('index.html', fileURLToPath(new URL('index.html', STATIC_DIR))), files };
}

function asset(name: string, path: string): Asset {
  const body = readFileSync(path);
  const extension = name.slice(name.lastIndexOf('.') + 1);
  const contentType = CONTENT_TYPES[extension];
  if (contentType === undefined) throw new Error(`dashboard asset ${name}: no content type for .${extension}`);
  return { body, contentType, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"` };
}
