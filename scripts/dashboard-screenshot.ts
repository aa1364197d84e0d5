/**
 * Makes docs/dashboard.png: the dashboard of a live cluster under load, in the middle of a
 * node's join. Three real nodes take a mixed GET/PUT load; once the charts have a few
 * seconds of it, a fourth node joins (transfers throttled, so the change lasts a while), and
 * headless Chromium (Debian's, through playwright-core) photographs node n1's page while
 * transfers are moving. Every process and temp directory is removed at the end.
 *
 *   node --import tsx scripts/dashboard-screenshot.ts [--out docs/dashboard.png]
 */
import { parseArgs } from 'node:util';
import { resolve } from 'node:path';
import type { Page } from 'playwright-core';
import { launchCluster } from '../bench/lib/cluster.ts';
import { mixedKvOperation } from '../bench/lib/dashboard.ts';
import { KvClient } from '../bench/lib/http-client.ts';
import { PhasedOpenLoop } from '../bench/lib/load.ts';
import { launchNode, repoRoot, stopAllNodes } from '../bench/lib/node-process.ts';
import { keyName } from '../bench/lib/values.ts';
import { chromiumPath, launchChromium } from '../test/support/browser.ts';

const KEYS = 3000;
const RATE_PER_S = 150;
const WAIT_MS_MAX = 120_000;
/** Slow transfers, so the photograph finds them moving. */
const NODE_ARGS = ['--transfer-batch-objects-max', '8', '--transfer-pause-ms', '400', '--transfer-concurrency', '2', '--gossip-interval-ms', '500'];

/** The little of the DOM the page predicates use (they run in the page). */
declare const document: { querySelector(selector: string): { getAttribute(name: string): string | null } | null; querySelectorAll(selector: string): ArrayLike<unknown> };

function say(line: string): void {
  process.stderr.write(`[screenshot] ${line}\n`);
}

async function waitInPage(page: Page, what: string, predicate: () => boolean): Promise<void> {
  say(`waiting for ${what}`);
  await page.waitForFunction(predicate, undefined, { polling: 250, timeout: WAIT_MS_MAX });
}

async function preload(url: string): Promise<void> {
  const client = new KvClient(url, { maxSockets: 16 });
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < KEYS) {
      const i = next++;
      await client.put(keyName('dash-', i), Buffer.from(`value ${i} `.repeat(8)));
    }
  };
  await Promise.all(Array.from({ length: 16 }, worker));
  client.close();
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { out: { type: 'string', default: 'docs/dashboard.png' } } });
  const out = resolve(repoRoot, values.out ?? 'docs/dashboard.png');
  const executable = chromiumPath();
  if (executable === undefined) throw new Error('no Chromium found: apt-get install -y chromium, or set SHOAL_CHROMIUM');
  say('starting 3 nodes');
  const cluster = await launchCluster({ size: 3, n: 3, r: 2, w: 2, args: NODE_ARGS });
  const browser = await launchChromium(executable);
  try {
    await cluster.waitPeersUp(3);
    // Through n3: the page shows n1's requests, so the preload's burst stays off its charts.
    await preload(cluster.httpUrls[2] as string);
    const load = mixedKvOperation(cluster.httpUrls, KEYS, 100, 16);
    const loop = new PhasedOpenLoop({ ratePerS: RATE_PER_S, concurrency: 16, op: load.op }, 'load');
    const page = await browser.newPage({ viewport: { width: 1366, height: 768 } });
    await page.goto(`${cluster.httpUrls[0] as string}/`);
    await waitInPage(page, 'forty seconds of charts', () => Number(document.querySelector('#chart-latency')?.getAttribute('data-points')) >= 40);
    const joiner = await launchNode({ id: 'n4', args: NODE_ARGS });
    const seed = cluster.nodes[0]?.listenAddress as string;
    const join = await fetch(`${joiner.node.httpUrl}/admin/join`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ seed, dryRun: false }) });
    if (join.status !== 200) throw new Error(`join answered ${join.status}: ${await join.text()}`);
    await waitInPage(
      page,
      'transfers under way, some done',
      () =>
        document.querySelector('#change-summary')?.getAttribute('data-settled') === 'false' &&
        document.querySelectorAll('#transfers-list tr[data-state="done"]').length >= 8 &&
        document.querySelectorAll('#transfers-list tr[data-state="pending"]').length >= 8,
    );
    await page.screenshot({ path: out, fullPage: true });
    say(`wrote ${out}`);
    await loop.stop();
    load.close();
  } finally {
    await browser.close();
    await cluster.stop();
    await stopAllNodes();
  }
}

main().catch(async (error: unknown) => {
  say(`failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  await stopAllNodes();
  process.exitCode = 1;
});
