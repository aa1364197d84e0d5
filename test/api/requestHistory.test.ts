/** The dashboard's per-second request history: counts, percentiles, idle seconds, its bounds. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { bucketOf, OTHER_ROUTE, RequestHistory } from '../../src/api/dashboard/requestHistory.ts';

const T0_MS = 1_800_000_000_000;

function near(actual: number | null | undefined, expected: number, relative: number, what: string): void {
  assert.ok(actual !== null && actual !== undefined, `${what} is missing`);
  assert.ok(Math.abs(actual - expected) <= expected * relative, `${what}: ${actual} is not within ${relative * 100}% of ${expected}`);
}

test('one second of 1..1000 ms gives its count and p50, p99, p99.9 within the buckets’ precision', () => {
  const history = new RequestHistory({ samplesMax: 10, routesMax: 4 });
  const get = history.routeIndex('GET /kv/:key');
  for (let latencyMs = 1; latencyMs <= 1000; latencyMs++) history.record(get, latencyMs, T0_MS + (latencyMs % 1000));
  const open = history.samples(T0_MS + 999);
  assert.deepEqual(open.times, [], 'the second in progress is not shown');
  const { times, routes } = history.samples(T0_MS + 1000);
  assert.deepEqual(times, [T0_MS / 1000]);
  assert.equal(routes.length, 1);
  const series = routes[0];
  assert.equal(series?.route, 'GET /kv/:key');
  assert.deepEqual(series?.perSecond, [1000]);
  near(series?.p50Ms[0], 500, 0.03, 'p50');
  near(series?.p99Ms[0], 990, 0.03, 'p99');
  near(series?.p999Ms[0], 999, 0.03, 'p99.9');
});

test('seconds without requests are zeros with no percentiles; the window keeps samplesMax seconds', () => {
  const history = new RequestHistory({ samplesMax: 5, routesMax: 4 });
  const put = history.routeIndex('PUT /kv/:key');
  history.record(put, 2, T0_MS);
  history.record(put, 4, T0_MS + 2500);
  const { times, routes } = history.samples(T0_MS + 3000);
  assert.deepEqual(times, [0, 1, 2].map((s) => T0_MS / 1000 + s));
  assert.deepEqual(routes[0]?.perSecond, [1, 0, 1]);
  assert.equal(routes[0]?.p50Ms[1], null);
  near(routes[0]?.p50Ms[2], 4, 0.03, 'p50 of the third second');
  // Ten idle minutes later: only samplesMax empty seconds, and a route with no request in them is left out.
  const later = history.samples(T0_MS + 600_000);
  assert.equal(later.times.length, 5);
  assert.equal(later.times[4], (T0_MS + 599_000) / 1000);
  assert.deepEqual(later.routes, []);
});

test('routes past routesMax are counted together as "other"; a route keeps its index', () => {
  const history = new RequestHistory({ samplesMax: 3, routesMax: 2 });
  const a = history.routeIndex('a');
  const b = history.routeIndex('b');
  const c = history.routeIndex('c');
  const d = history.routeIndex('d');
  assert.equal(history.routeIndex('a'), a);
  assert.equal(c, d, 'both past the bound');
  for (const route of [a, b, c, d, d]) history.record(route, 1, T0_MS);
  const { routes } = history.samples(T0_MS + 1000);
  assert.deepEqual(
    routes.map((r) => [r.route, r.perSecond[0]]),
    [
      ['a', 1],
      ['b', 1],
      [OTHER_ROUTE, 3],
    ],
  );
});

test('a clock that steps back counts into the current second; latencies past the range land in the last bucket', () => {
  const history = new RequestHistory({ samplesMax: 3, routesMax: 1 });
  const route = history.routeIndex('r');
  history.record(route, 1, T0_MS + 500);
  history.record(route, 1, T0_MS - 5000);
  assert.deepEqual(history.samples(T0_MS + 1000).routes[0]?.perSecond, [2]);
  assert.equal(bucketOf(0), 0);
  assert.equal(bucketOf(Number.NaN), 0);
  assert.equal(bucketOf(1e9), bucketOf(1e12));
  assert.throws(() => new RequestHistory({ samplesMax: 0, routesMax: 1 }), RangeError);
});
