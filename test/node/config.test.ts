import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadNodeConfig } from '../../src/io/configFile.ts';
import { ConfigError, envName, flagName, nodeConfigFrom, resolveNodeConfig } from '../../src/node/config.ts';
import { parseClusterMembers, parseHostPort } from '../../src/node/hostPort.ts';

function configError(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    assert.ok(error instanceof ConfigError, `expected ConfigError, got ${String(error)}`);
    return error.message;
  }
  assert.fail('expected a ConfigError');
}

test('defaults apply when no source sets a field', () => {
  const config = resolveNodeConfig({});
  assert.equal(config.id, 'node1');
  assert.equal(config.clusterName, 'shoal');
  assert.deepEqual(config.listen, { host: '127.0.0.1', port: 7070 });
  assert.deepEqual(config.http, { host: '127.0.0.1', port: 8080 });
  assert.equal(config.resp, undefined);
  assert.equal(config.data, './data');
  assert.equal(config.engine, 'lmdb');
  assert.equal(config.partitionCount, 64);
  assert.deepEqual([config.n, config.r, config.w], [3, 2, 2]);
  assert.equal(config.durableWrites, 'one');
  assert.equal(config.bufferObjectsMax, 1000);
  assert.equal(config.flushIntervalMs, 100);
  assert.equal(config.writeWaitMsMax, 1000);
  assert.equal(config.valueBytesMax, 1024 * 1024);
  assert.equal(config.keyBytesMax, 1024);
  assert.equal(config.siblingsMax, 100);
  assert.equal(config.vectorEntriesMax, 10);
  assert.equal(config.requestTimeoutMs, 2000);
  assert.equal(config.forwardTimeoutMs, 1000);
  assert.equal(config.readRepairLingerMs, 200);
  assert.equal(config.requestsInFlightMax, 10_000);
  assert.equal(config.hintsMax, 100_000);
  assert.equal(config.hintDeliveryIntervalMs, 1000);
  assert.equal(config.probeIntervalMs, 1000);
  assert.equal(config.lastWriteWins, false);
  assert.equal(config.logLevel, 'info');
});

test('flag and environment names follow the field names', () => {
  assert.equal(flagName('bufferObjectsMax'), '--buffer-objects-max');
  assert.equal(envName('bufferObjectsMax'), 'SHOAL_BUFFER_OBJECTS_MAX');
  assert.equal(flagName('n'), '--n');
  assert.equal(envName('durableWrites'), 'SHOAL_DURABLE_WRITES');
});

test('precedence: flags over environment over file over defaults', () => {
  const file = { path: 'shoal.json', contents: { bufferObjectsMax: 30, flushIntervalMs: 30, writeWaitMsMax: 30, id: 'fromfile' } };
  const env = { SHOAL_BUFFER_OBJECTS_MAX: '20', SHOAL_FLUSH_INTERVAL_MS: '20' };
  const flags = { bufferObjectsMax: '10' };
  const config = resolveNodeConfig({ flags, env, file });
  assert.equal(config.bufferObjectsMax, 10, 'flag wins');
  assert.equal(config.flushIntervalMs, 20, 'env beats file');
  assert.equal(config.writeWaitMsMax, 30, 'file beats default');
  assert.equal(config.id, 'fromfile');
  assert.equal(config.siblingsMax, 100, 'default');
});

test('a bad value names the field, its source and the value', () => {
  assert.equal(
    configError(() => resolveNodeConfig({ flags: { bufferObjectsMax: 'abc' } })),
    'invalid config: bufferObjectsMax (from --buffer-objects-max) must be an integer >= 0, got "abc"',
  );
  assert.equal(
    configError(() => resolveNodeConfig({ env: { SHOAL_DURABLE_WRITES: 'sometimes' } })),
    'invalid config: durableWrites (from SHOAL_DURABLE_WRITES) must be one of one, all, none, got "sometimes"',
  );
  const fromFile = configError(() => resolveNodeConfig({ file: { path: '/etc/shoal.json', contents: { partitionCount: 48 } } }));
  assert.match(fromFile, /^invalid config: partitionCount \(from config file \/etc\/shoal\.json\) must be a power of two/);
  assert.match(fromFile, /got 48$/);
});

test('integers are parsed strictly from text', () => {
  for (const bad of ['1.5', '1e3', ' 1', '0x10', '', '-1']) {
    const message = configError(() => resolveNodeConfig({ flags: { flushIntervalMs: bad } }));
    assert.match(message, /^invalid config: flushIntervalMs \(from --flush-interval-ms\) must be an integer >= 1/, bad);
  }
  assert.equal(resolveNodeConfig({ flags: { bufferObjectsMax: '0' } }).bufferObjectsMax, 0, '0 turns the buffer off');
});

test('booleans accept true/false/1/0 and nothing else', () => {
  assert.equal(resolveNodeConfig({ env: { SHOAL_LAST_WRITE_WINS: 'true' } }).lastWriteWins, true);
  assert.equal(resolveNodeConfig({ env: { SHOAL_LAST_WRITE_WINS: '0' } }).lastWriteWins, false);
  assert.equal(resolveNodeConfig({ flags: { lastWriteWins: true } }).lastWriteWins, true, 'a bare flag');
  assert.match(configError(() => resolveNodeConfig({ env: { SHOAL_LAST_WRITE_WINS: 'yes please' } })), /lastWriteWins .* must be true or false/);
});

test('R and W may not exceed N; N may not exceed a cluster of two or more', () => {
  assert.match(configError(() => resolveNodeConfig({ flags: { r: '4' } })), /^invalid config: r \(from --r\) must be <= n \(3\)/);
  assert.match(configError(() => resolveNodeConfig({ flags: { n: '1' } })), /^invalid config: r \(from default\) must be <= n \(1\)/);
  assert.match(configError(() => resolveNodeConfig({ flags: { w: '5', n: '4' } })), /^invalid config: w \(from --w\) must be <= n/);
  assert.match(configError(() => resolveNodeConfig({ flags: { n: '0' } })), /^invalid config: n .* must be an integer >= 1/);
  const pair = 'a@127.0.0.1:7001,b@127.0.0.1:7002';
  assert.match(
    configError(() => resolveNodeConfig({ flags: { id: 'a', cluster: pair } })),
    /^invalid config: n \(from default\) must be <= the number of cluster members \(2\)/,
  );
  assert.equal(resolveNodeConfig({ flags: { id: 'a', cluster: pair, n: '2' } }).n, 2);
  // A cluster of one keeps the defaults in its config; the node runs them as 1 (cluster.ts).
  assert.equal(resolveNodeConfig({ env: { SHOAL_N: '5' } }).n, 5);
  assert.match(
    configError(() => resolveNodeConfig({ flags: { id: 'a', cluster: pair, n: '2', partitionCount: '1' } })),
    /partitionCount .* must be >= the number of cluster members \(2\)/,
  );
});

test('HOST:PORT is parsed strictly', () => {
  assert.deepEqual(parseHostPort('127.0.0.1:8080'), { ok: true, value: { host: '127.0.0.1', port: 8080 } });
  assert.deepEqual(parseHostPort('[::1]:0'), { ok: true, value: { host: '::1', port: 0 } });
  assert.deepEqual(parseHostPort('db-1.example.com:65535'), { ok: true, value: { host: 'db-1.example.com', port: 65535 } });
  for (const bad of ['127.0.0.1', ':8080', '127.0.0.1:', '127.0.0.1:65536', '127.0.0.1:80a', '127.0.0.256:80', 'http://x:80', '::1:80', '[::1]80', '[zz]:80', 'a b:80', ' 127.0.0.1:80', '127.0.0.1:+80', '-a.com:80']) {
    assert.equal(parseHostPort(bad).ok, false, bad);
  }
  assert.match(configError(() => resolveNodeConfig({ flags: { http: 'localhost' } })), /^invalid config: http \(from --http\) must be HOST:PORT \(/);
});

test('cluster lists are ID@HOST:PORT with distinct ids that include this node', () => {
  const parsed = parseClusterMembers('a@127.0.0.1:7001,b@127.0.0.1:7002');
  assert.ok(parsed.ok);
  assert.deepEqual(parsed.value.map((m) => m.id), ['a', 'b']);
  assert.equal(parseClusterMembers('a@127.0.0.1:7001,a@127.0.0.1:7002').ok, false);
  assert.equal(parseClusterMembers('127.0.0.1:7001').ok, false);
  assert.equal(parseClusterMembers('a.b@127.0.0.1:7001').ok, false);
  const config = resolveNodeConfig({ flags: { id: 'a', cluster: 'a@127.0.0.1:7001,b@127.0.0.1:7002', n: '2' } });
  assert.equal(config.cluster?.length, 2);
  assert.match(configError(() => resolveNodeConfig({ flags: { id: 'c', cluster: 'a@127.0.0.1:7001' } })), /cluster .* must list this node's id "c"/);
  const fromArray = nodeConfigFrom({ seeds: ['127.0.0.1:7001', '127.0.0.1:7002'] });
  assert.equal(fromArray.seeds?.length, 2, 'a config file may give lists as arrays');
});

test('unknown fields in the config file are refused', () => {
  assert.match(configError(() => resolveNodeConfig({ file: { path: 'f.json', contents: { bufferObjects: 5 } } })), /unknown field "bufferObjects" \(from config file f\.json\)/);
  assert.match(configError(() => resolveNodeConfig({ file: { path: 'f.json', contents: [1] } })), /must hold a JSON object/);
});

test('the config file is named by --config or SHOAL_CONFIG', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'shoal-config-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const a = join(dir, 'a.json');
  const b = join(dir, 'b.json');
  writeFileSync(a, JSON.stringify({ id: 'from-a', siblingsMax: 7 }));
  writeFileSync(b, JSON.stringify({ id: 'from-b' }));
  assert.equal(loadNodeConfig({}, undefined, { SHOAL_CONFIG: b }).id, 'from-b');
  assert.equal(loadNodeConfig({}, a, { SHOAL_CONFIG: b }).id, 'from-a', '--config wins over SHOAL_CONFIG');
  assert.equal(loadNodeConfig({ id: 'flag' }, a, {}).id, 'flag');
  assert.equal(loadNodeConfig({}, a, { SHOAL_SIBLINGS_MAX: '9' }).siblingsMax, 9);
  assert.match(configError(() => loadNodeConfig({}, join(dir, 'missing.json'), {})), /cannot read config file/);
  writeFileSync(b, '{ not json');
  assert.match(configError(() => loadNodeConfig({}, b, {})), /is not valid JSON/);
});

test('listenGiven tells an internode address given on purpose from the default', () => {
  assert.equal(resolveNodeConfig({}).listenGiven, false);
  assert.equal(resolveNodeConfig({ flags: { listen: '127.0.0.1:7071' } }).listenGiven, true);
  assert.equal(resolveNodeConfig({ env: { SHOAL_LISTEN: '127.0.0.1:7071' } }).listenGiven, true);
  assert.equal(resolveNodeConfig({ file: { path: 'shoal.json', contents: { listen: '127.0.0.1:7071' } } }).listenGiven, true);
  assert.equal(resolveNodeConfig({ flags: { http: '127.0.0.1:8081' } }).listenGiven, false);
});
