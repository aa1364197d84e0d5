/**
 * The dashboard in a real browser (headless Chromium through playwright-core) against a
 * live cluster of real `shoal start` processes, looking at node1's page:
 *
 * - it loads with no console error and shows three members;
 * - under PUT/GET traffic its request and latency charts fill with points;
 * - a fourth node's join shows as a change in progress with its transfers, and ends with
 *   the new ring of four owners;
 * - a member killed with SIGKILL turns down on the page.
 *
 * The join comes before the kill: a join's transfers come from the old owners, so one killed
 * first would hold the change in progress until it returned. Every wait is a bounded poll for
 * a condition, never a timing assertion; the transfers are throttled (small batches, a pause
 * between them) so the change in progress lasts several of the page's one-second updates.
 *
 * Without a browser the test is skipped with the reason, unless SHOAL_REQUIRE_BROWSER=1
 * (CI sets it once it installed Debian's chromium), which makes it a failure.
 */
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { ProcessCluster } from '../support/processCluster.ts';
import { http } from '../support/shoalProcess.ts';
import { browserRequired, chromiumPath, launchChromium } from '../support/browser.ts';

const Q = 16;
const COMMON_ARGS = [
  '--partition-count', String(Q), '--n', '3', '--r', '2', '--w', '2',
  '--gossip-interval-ms', '300', '--probe-interval-ms', '300', '--drop-delay-ms', '1000',
  // Slow transfers: 4 objects a batch, a second apart, two streams per sender.
  '--transfer-batch-objects-max', '4', '--transfer-pause-ms', '1000', '--transfer-concurrency', '2',
];
const KEYS = 400;
const WAIT_MS_MAX = 90_000;
const POLL_MS = 200;
/** Requests the background load sends at most (it is stopped long before). */
const LOAD_REQUESTS_MAX = 50_000;
const LOAD_WORKERS = 4;

/** The little of the DOM the page predicates use: they run in the page (this typecheck has no DOM library). */
interface PageElement {
  readonly textContent: string | null;
  getAttribute(name: string): string | null;
}
declare const document: {
  querySelector(selector: string): PageElement | null;
  querySelectorAll(selector: string): ArrayLike<PageElement> & Iterable<PageElement>;
};

interface Problems {
  readonly console: string[];
}

/** Chromium's path, or undefined after skipping (or failing, when the browser is required). */
function browserOrSkip(t: TestContext): string | undefined {
  const path = chromiumPath();
  if (path !== undefined) return path;
  if (browserRequired()) assert.fail('no Chromium found: install Debian\'s chromium (apt-get install -y chromium) or set SHOAL_CHROMIUM');
  t.skip('no Chromium found (apt-get install -y chromium, or set SHOAL_CHROMIUM, to run this test)');
  return undefined;
}

/** Opens `url`, recording every console error and uncaught page error. */
async function openDashboard(browser: Browser, url: string): Promise<{ page: Page; problems: Problems }> {
  const page = await browser.newPage({ viewport: { width: 1366, height: 768 } });
  const problems: Problems = { console: [] };
  page.on('console', (message) => {
    if (message.type() === 'error') problems.console.push(`console error: ${message.text()}`);
  });
  page.on('pageerror', (error) => problems.console.push(`page error: ${error.message}`));
  page.on('requestfailed', (request) => problems.console.push(`request failed: ${request.url()} ${request.failure()?.errorText ?? ''}`));
  const response = await page.goto(url);
  assert.equal(response?.status(), 200, `GET ${url}`);
  return { page, problems };
}

/** Waits (a bounded poll in the page) until `predicate(arg)` is true there. */
async function waitInPage(page: Page, what: string, predicate: (arg: number) => boolean, arg = 0): Promise<void> {
  try {
    await page.waitForFunction(predicate, arg, { polling: POLL_MS, timeout: WAIT_MS_MAX });
  } catch (error) {
    const shown = await page.locator('main').innerText().catch((cause: unknown) => `(unreadable: ${String(cause)})`);
    const connection = await page.locator('#connection').textContent();
    assert.fail(`the page did not show ${what} within ${WAIT_MS_MAX} ms (connection: ${connection}): ${String(error)}\nThe page shows:\n${shown}`);
  }
}

/** PUTs and GETs through `urls` until stopped (bounded by LOAD_REQUESTS_MAX). */
function startLoad(urls: readonly string[]): { stop(): Promise<number> } {
  let running = true;
  let sent = 0;
  const worker = async (w: number): Promise<void> => {
    while (running && sent < LOAD_REQUESTS_MAX) {
      const i = sent++;
      const url = `${urls[Math.floor(i / 2) % urls.length]}/kv/key-${(i * 7 + w) % KEYS}`;
      try {
        await (i % 2 === 0 ? http(url, { method: 'PUT', body: `value ${i}` }) : http(url));
      } catch {
        // A request to a node being killed may fail; the load only has to exist.
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  };
  const workers = Array.from({ length: LOAD_WORKERS }, (_, w) => worker(w));
  return {
    async stop() {
      running = false;
      await Promise.all(workers);
      return sent;
    },
  };
}

async function postJson(url: string, body: unknown): Promise<{ status: number; text: string }> {
  return http(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
}

test('the dashboard in Chromium: three members, charts under load, a join with its transfers, a killed node down', { timeout: 300_000 }, async (t) => {
  const executable = browserOrSkip(t);
  if (executable === undefined) return;
  const cluster = new ProcessCluster(t, COMMON_ARGS, 'dashboard');
  await cluster.found(['node1', 'node2', 'node3']);
  const browser = await launchChromium(executable);
  t.after(() => browser.close());
  const node1 = cluster.node('node1');
  for (let i = 0; i < KEYS; i++) assert.equal((await http(`${node1.url}/kv/key-${i}`, { method: 'PUT', body: `first ${i}` })).status, 204);

  const { page, problems } = await openDashboard(browser, `${node1.url}/`);
  await waitInPage(page, 'three members', (count) => document.querySelectorAll('#members tbody tr[data-member]').length === count, 3);
  assert.equal(await page.locator('#node-id').textContent(), 'node1');
  assert.equal(await page.locator('#members tr[data-member="node1"]').getAttribute('data-seen'), 'self');

  const load = startLoad(cluster.urls(['node1', 'node2']));
  t.after(() => load.stop());
  await waitInPage(
    page,
    'request and latency charts with points for PUT and GET',
    () => {
      const legend = document.querySelector('#chart-rps .u-legend')?.textContent ?? '';
      const latencyPoints = Number(document.querySelector('#chart-latency')?.getAttribute('data-points'));
      return legend.includes('PUT /kv/:key') && legend.includes('GET /kv/:key') && latencyPoints >= 3 && document.querySelector('#chart-latency canvas') !== null;
    },
  );

  const node4 = await cluster.startAlone('node4');
  const join = await postJson(`${node4.url}/admin/join`, { seed: node1.listen, dryRun: false });
  assert.equal(join.status, 200, join.text);
  await waitInPage(
    page,
    'the join in progress with transfers to node4 moving',
    () =>
      document.querySelector('#change-summary')?.getAttribute('data-settled') === 'false' &&
      (document.querySelector('#change-summary')?.textContent ?? '').startsWith('join of node4') &&
      document.querySelectorAll('#transfers-list tr[data-to="node4"][data-state="pending"]').length > 0 &&
      document.querySelectorAll('#ring-target path.moving').length > 0,
  );
  await waitInPage(
    page,
    'the join settled, with four owners on the ring',
    (owners) => {
      const rows = [...document.querySelectorAll('#ring-table tbody tr')];
      return (
        document.querySelector('#change-summary')?.getAttribute('data-settled') === 'true' &&
        new Set(rows.map((row) => row.getAttribute('data-owner'))).size === owners &&
        document.querySelectorAll('#members tbody tr[data-member]').length === owners
      );
    },
    4,
  );
  assert.equal(await page.locator('#transfers-list tr[data-state="pending"]').count(), 0, 'every transfer is done');

  await cluster.kill('node3');
  await waitInPage(page, 'node3 down', () => document.querySelector('#members tr[data-member="node3"]')?.getAttribute('data-seen') === 'down');
  assert.ok((await load.stop()) > 0);
  assert.deepEqual(problems.console, [], 'no console errors, page errors or failed requests');
});
