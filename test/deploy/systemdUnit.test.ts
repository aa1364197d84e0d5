/**
 * deploy/: the systemd unit and its example environment. The environment the unit gives a
 * node must be a valid config, naming only real fields; and where systemd-analyze is
 * installed (`.ci/run` installs it), the unit must verify and keep its hardening.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { CONFIG_FIELDS, envName, resolveNodeConfig } from '../../src/node/config.ts';

const deployDir = resolve(fileURLToPath(new URL('../../deploy', import.meta.url)));
const unitText = readFileSync(join(deployDir, 'shoal.service'), 'utf8');

/** `Key=value` lines of a unit section (comments and blank lines skipped), in order. */
function directives(text: string, section: string): [string, string][] {
  const lines = text.split('\n');
  const start = lines.indexOf(`[${section}]`);
  assert.ok(start >= 0, `the unit has no [${section}] section`);
  const out: [string, string][] = [];
  for (const line of lines.slice(start + 1)) {
    if (line.startsWith('[')) break;
    const match = /^([A-Za-z]+)=(.*)$/.exec(line);
    if (match !== null) out.push([match[1] as string, match[2] as string]);
  }
  return out;
}

/** `NAME=value` lines of an environment file. */
function environmentFile(text: string): Record<string, string> {
  return Object.fromEntries(
    text.split('\n').filter((line) => /^[A-Z_]+=/.test(line)).map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]),
  );
}

test('the environment the unit gives a node is a valid config of real fields', () => {
  const service = directives(unitText, 'Service');
  const fromUnit = Object.fromEntries(service.filter(([key]) => key === 'Environment').map(([, value]) => value.split('=', 2) as [string, string]));
  const env = { ...environmentFile(readFileSync(join(deployDir, 'shoal.env'), 'utf8')), ...fromUnit };
  const known = new Set(Object.keys(CONFIG_FIELDS).map((field) => envName(field as keyof typeof CONFIG_FIELDS)));
  for (const name of Object.keys(env)) assert.ok(known.has(name), `${name} is not a shoal start setting`);
  const config = resolveNodeConfig({ flags: {}, env });
  assert.equal(config.data, '/var/lib/shoal');
  assert.equal(config.id, 'a');
  assert.equal(config.cluster?.length, 3);
  // The data directory it names is the one systemd makes for the unit.
  assert.ok(service.some(([key, value]) => key === 'StateDirectory' && `/var/lib/${value}` === config.data));
});

test('the unit runs as its own user, stops with SIGTERM, and sets its limits and hardening', () => {
  const service = new Map(directives(unitText, 'Service'));
  assert.equal(service.get('User'), 'shoal');
  assert.equal(service.get('KillSignal'), 'SIGTERM');
  assert.match(service.get('ExecStart') ?? '', /^\/\S+\/shoal start$/);
  assert.ok(Number(service.get('LimitNOFILE')) >= 65536);
  for (const [key, value] of [['NoNewPrivileges', 'yes'], ['ProtectSystem', 'strict'], ['ProtectHome', 'yes'], ['PrivateTmp', 'yes'], ['CapabilityBoundingSet', '']] as const) {
    assert.equal(service.get(key), value, `${key}=${value}`);
  }
  const sysusers = readFileSync(join(deployDir, 'shoal.sysusers'), 'utf8');
  assert.match(sysusers, /^u shoal - /m);
});

const analyze = spawnSync('systemd-analyze', ['--version'], { encoding: 'utf8' });
const haveAnalyze = analyze.status === 0;
if (!haveAnalyze && process.env.SHOAL_REQUIRE_SYSTEMD_ANALYZE === '1') throw new Error('systemd-analyze not found: install systemd (apt-get install -y systemd)');

test('systemd-analyze verifies the unit and rates its exposure OK', { skip: haveAnalyze ? false : 'systemd-analyze not found (apt-get install -y systemd)' }, (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'shoal-unit-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  // verify checks that ExecStart's program exists; this machine has no installed shoal.
  const unit = join(dir, 'shoal.service');
  writeFileSync(unit, unitText.replace(/^ExecStart=\S+/m, `ExecStart=${process.execPath}`));
  execFileSync('systemd-analyze', ['verify', unit], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  const security = execFileSync('systemd-analyze', ['security', '--offline=true', unit], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  const exposure = /Overall exposure level for \S+: ([\d.]+) (\w+)/.exec(security);
  assert.ok(exposure !== null, `no exposure level in:\n${security.slice(-500)}`);
  assert.ok(Number(exposure[1]) <= 2, `exposure ${exposure[1]} ${exposure[2]}: the hardening was weakened`);
});
