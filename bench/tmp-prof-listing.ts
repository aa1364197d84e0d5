import { launchCluster } from './lib/cluster.ts';
import { preloadStores } from './lib/preload.ts';
const dir = '/tmp/listprof';
const c = await launchCluster({ size: 3, n: 3, r: 2, w: 2, args: ['--partition-count', '64'], nodeArgs: ['--cpu-prof', '--cpu-prof-dir', dir], prepare: async (members) => { await preloadStores({ members, keys: 200000, key: (i) => `user${String(i).padStart(8, '0')}`, value: () => Buffer.alloc(100, 118), contentType: 'x', n: 3, partitionCount: 64 }); } });
try {
  await c.waitPeersUp(3);
  let after: string | null = null;
  const t = performance.now();
  for (let i = 0; i < 400; i++) {
    const r = await fetch(`${c.httpUrls[0]}/kv?limit=100${after === null ? '' : `&after=${after}`}`);
    const p = await r.json() as { next: string | null };
    after = p.next;
  }
  console.log(((performance.now() - t) / 400).toFixed(2), 'ms/page');
} finally { await c.stop(); }
export {};
