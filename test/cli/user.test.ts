/** `shoal user add | remove | list` and the users file they write; createAdminUser for `shoal dev --secure`. */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { verifyPassword } from '../../src/api/auth/passwords.ts';
import { loadUsersFile } from '../../src/api/auth/usersFile.ts';
import { createAdminUser, runUserAdd, runUserList, runUserRemove, type UserIo } from '../../src/cli/user.ts';
import { ADMIN, serveApi, testAuthenticator } from '../api/authSupport.ts';
import { startTestNode } from '../api/testNode.ts';
import { spawnSync } from 'node:child_process';
import { runShoal, SHOAL_BIN } from '../support/shoalProcess.ts';

interface TestUserIo extends UserIo {
  stdout: string;
  stderr: string;
}

function io(stdin = ''): TestUserIo {
  const recorded: TestUserIo = {
    stdout: '',
    stderr: '',
    out: (text) => void (recorded.stdout += text),
    err: (text) => void (recorded.stderr += text),
    readStdinLine: async () => stdin.split('\n')[0] ?? '',
  };
  return recorded;
}

function usersPath(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'shoal-users-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return join(dir, 'users.json');
}

function modeOf(path: string): number {
  return statSync(path).mode & 0o777;
}

test('user add: creates the file (mode 0600), prints a generated password once (stdout), stores only its hash', async (t) => {
  const path = usersPath(t);
  const added = io();
  assert.equal(await runUserAdd('alice', { role: 'readwrite', usersFile: path }, added), 0, added.stderr);
  const password = added.stdout.trim();
  assert.match(password, /^[A-Za-z0-9_-]{32}$/);
  assert.match(added.stderr, /added user alice \(role readwrite\)/);
  assert.equal(modeOf(path), 0o600);
  const [alice] = loadUsersFile(path).users;
  assert.equal(alice?.name, 'alice');
  assert.equal(alice?.role, 'readwrite');
  assert.ok(!readFileSync(path, 'utf8').includes(password), 'the password itself is not stored');
  assert.equal(await verifyPassword(password, alice?.password ?? ''), true);
});

test('user add: a duplicate name is refused unless --replace; --password-stdin takes the first line; bad input changes nothing', async (t) => {
  const path = usersPath(t);
  assert.equal(await runUserAdd('bob', { role: 'read', usersFile: path, passwordStdin: true }, io('first-password\nignored\n')), 0);
  const before = readFileSync(path, 'utf8');
  const duplicate = io();
  assert.equal(await runUserAdd('bob', { role: 'admin', usersFile: path }, duplicate), 1);
  assert.match(duplicate.stderr, /user bob already exists .*add --replace/);
  assert.equal(duplicate.stdout, '', 'no password printed for a refused add');
  const refusals: [string, Parameters<typeof runUserAdd>[1], string, RegExp][] = [
    ['bad:name', { role: 'read', usersFile: path }, '', /NAME must be 1-64 letters/],
    ['carol', { role: 'root', usersFile: path }, '', /--role must be one of read, readwrite, admin/],
    ['carol', { role: 'read', usersFile: path, passwordStdin: true }, 'short\n', /at least 8 characters/],
    ['carol', { role: 'read', usersFile: path, passwordStdin: true }, '', /at least 8 characters/],
  ];
  for (const [name, options, stdin, message] of refusals) {
    const refused = io(stdin);
    assert.equal(await runUserAdd(name, options, refused), 2, name);
    assert.match(refused.stderr, message);
  }
  assert.equal(readFileSync(path, 'utf8'), before, 'nothing changed');
  assert.equal(await verifyPassword('first-password', loadUsersFile(path).users[0]?.password ?? ''), true);

  assert.equal(await runUserAdd('bob', { role: 'admin', usersFile: path, passwordStdin: true, replace: true }, io('second-password\n')), 0);
  const [bob] = loadUsersFile(path).users;
  assert.equal(bob?.role, 'admin');
  assert.equal(await verifyPassword('second-password', bob?.password ?? ''), true);
  assert.equal(modeOf(path), 0o600);
});

test('user list and remove; an unknown user or an invalid file is an error naming it', async (t) => {
  const path = usersPath(t);
  const missing = io();
  assert.equal(runUserList({ usersFile: path }, missing), 1);
  assert.match(missing.stderr, /cannot be read: ENOENT/);
  await runUserAdd('alice', { role: 'readwrite', usersFile: path, passwordStdin: true }, io('alice-password'));
  await runUserAdd('bob', { role: 'read', usersFile: path, passwordStdin: true }, io('bob-password'));
  const listed = io();
  assert.equal(runUserList({ usersFile: path }, listed), 0);
  assert.equal(listed.stdout, 'alice  readwrite\nbob    read\n');
  const unknown = io();
  assert.equal(runUserRemove('carol', { usersFile: path }, unknown), 1);
  assert.match(unknown.stderr, /no user "carol"/);
  assert.equal(runUserRemove('alice', { usersFile: path }, io()), 0);
  assert.deepEqual(loadUsersFile(path).users.map((user) => user.name), ['bob']);
  assert.equal(modeOf(path), 0o600);
  writeFileSync(path, '{"version": 1, "users": [{"name": "x"}]}');
  const invalid = io();
  assert.equal(runUserList({ usersFile: path }, invalid), 1);
  assert.match(invalid.stderr, /users file .*users\.json: users\[0\] \("x"\): role/);
});

test('createAdminUser (shoal dev --secure): an admin with a generated password, in a new or an existing file', async (t) => {
  const path = usersPath(t);
  const password = await createAdminUser(path);
  assert.equal(modeOf(path), 0o600);
  const [admin] = loadUsersFile(path).users;
  assert.equal(admin?.name, 'admin');
  assert.equal(admin?.role, 'admin');
  assert.equal(await verifyPassword(password, admin?.password ?? ''), true);
  await runUserAdd('reader', { role: 'read', usersFile: path, passwordStdin: true }, io('reader-password'));
  const again = await createAdminUser(path);
  assert.notEqual(again, password);
  assert.deepEqual(loadUsersFile(path).users.map((user) => `${user.name}:${user.role}`), ['reader:read', 'admin:admin']);
});

test('shoal user … and shoal admin --user with SHOAL_PASSWORD, through the binary', { timeout: 180_000 }, async (t) => {
  const path = usersPath(t);
  const run = async (args: string[], env: Record<string, string> = {}) => {
    const child = runShoal(args, env);
    try {
      const { code } = await child.waitExit();
      return { code, stdout: child.stdout, stderr: child.stderr };
    } finally {
      await child.cleanup();
    }
  };
  const added = await run(['user', 'add', 'alice', '--role', 'read', '--users-file', path]);
  assert.equal(added.code, 0, added.stderr);
  assert.match(added.stdout, /^[A-Za-z0-9_-]{32}\n$/);
  const badRole = await run(['user', 'add', 'bob', '--role', 'root', '--users-file', path]);
  assert.equal(badRole.code, 2);
  assert.match(badRole.stderr, /Allowed choices are read, readwrite, admin/);
  const listed = await run(['user', 'list'], { SHOAL_USERS_FILE: path });
  assert.equal(listed.stdout, 'alice  read\n', listed.stderr);
  assert.equal((await run(['user', 'remove', 'alice', '--users-file', path])).code, 0);
  assert.deepEqual(loadUsersFile(path).users, []);
  assert.ok(existsSync(path));
  const fromStdin = spawnSync(process.execPath, [SHOAL_BIN, 'user', 'add', 'carol', '--role', 'readwrite', '--users-file', path, '--password-stdin'], {
    input: 'carol-password\r\nnot part of it\n',
    encoding: 'utf8',
    timeout: 60_000,
  });
  assert.equal(fromStdin.status, 0, fromStdin.stderr);
  assert.equal(fromStdin.stdout, '', 'a password given on stdin is not printed');
  assert.equal(await verifyPassword('carol-password', loadUsersFile(path).users[0]?.password ?? ''), true);

  const node = await startTestNode();
  t.after(() => node.stop());
  const url = await serveApi(t, node, { auth: await testAuthenticator() });
  const status = await run(['admin', 'status', '--node', url, '--user', ADMIN.name], { SHOAL_PASSWORD: ADMIN.password });
  assert.equal(status.code, 0, status.stderr);
  assert.match(status.stdout, /"state": "serving"/);
});
