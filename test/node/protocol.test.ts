import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ACK, BadMessageError, errorReply, objectReply, parseMessage, parseReply, replicaPut, toWire } from '../../src/node/protocol.ts';

const key = new TextEncoder().encode('k');
const bytes = Uint8Array.of(1, 2, 3);

test('well-formed messages parse to themselves; absent optional fields stay absent', () => {
  assert.deepEqual(parseMessage({ type: 'ping' }), { type: 'ping' });
  const put = replicaPut(3, key, bytes, true, undefined);
  assert.deepEqual(parseMessage(put), put);
  assert.equal('hintFor' in put, false, 'an absent field is left out, never sent as undefined');
  assert.deepEqual(parseMessage({ ...put, hintFor: null }), put, 'null counts as absent');
  assert.equal((parseMessage(replicaPut(3, key, bytes, false, 'c')) as { hintFor?: string }).hintFor, 'c');
  const forward = { type: 'forward', op: 'put', key, value: bytes, contentType: 'text/plain', n: 3, r: 2, w: 2, timeoutMs: 900 };
  assert.deepEqual(parseMessage(forward), forward);
  assert.deepEqual(parseMessage({ type: 'forward', op: 'get', key, n: 3, r: 2, w: 2, timeoutMs: 5 }), { type: 'forward', op: 'get', key, n: 3, r: 2, w: 2, timeoutMs: 5 });
  assert.deepEqual(parseMessage({ type: 'hint-delivery', partition: 0, key, object: bytes }), { type: 'hint-delivery', partition: 0, key, object: bytes });
  assert.deepEqual(parseMessage({ type: 'replica-get', partition: 65535, key }), { type: 'replica-get', partition: 65535, key });
});

test('malformed messages are refused with a reason naming the problem', () => {
  const cases: [unknown, RegExp][] = [
    [null, /message must be an object, got null/],
    ['ping', /message must be an object/],
    [[1, 2], /replica-put must have 6 fields, got 1/],
    [[9, 2], /unknown message tag 9/],
    [[2, 1, 'k'], /key must be bytes, got "k"/],
    [[1, 1, key, bytes, 'yes', null, false], /durable must be a boolean/],
    [bytes, /got 3 bytes/],
    [{}, /unknown message type undefined/],
    [{ type: 'reboot' }, /unknown message type "reboot"/],
    [{ type: 'replica-get', partition: -1, key }, /partition must be an integer 0-65535, got -1/],
    [{ type: 'replica-get', partition: 1.5, key }, /partition/],
    [{ type: 'replica-get', partition: 1, key: 'k' }, /key must be bytes, got "k"/],
    [{ type: 'replica-put', partition: 1, key, object: bytes }, /durable must be a boolean/],
    [{ type: 'replica-put', partition: 1, key, object: bytes, durable: true, hintFor: '' }, /hintFor must be a string/],
    [{ type: 'replica-put', partition: 1, key, object: 'x', durable: true }, /object must be bytes/],
    [{ type: 'forward', op: 'put', key, n: 3, r: 2, w: 2, timeoutMs: 1 }, /forwarded put needs value and contentType/],
    [{ type: 'forward', op: 'merge', key, n: 3, r: 2, w: 2, timeoutMs: 1 }, /forward op must be get, put or delete/],
    [{ type: 'forward', op: 'get', key, n: 0, r: 2, w: 2, timeoutMs: 1 }, /n must be an integer 1-1024, got 0/],
    [{ type: 'forward', op: 'get', key, n: 3, r: 2, w: 2, timeoutMs: 0 }, /timeoutMs/],
  ];
  for (const [raw, reason] of cases) {
    assert.throws(() => parseMessage(raw), (error: unknown) => error instanceof BadMessageError && reason.test(error.message), JSON.stringify(String(raw)));
  }
});

test('replies are validated too', () => {
  assert.deepEqual(parseReply({ type: 'ack' }), { type: 'ack' });
  assert.deepEqual(parseReply({ type: 'object' }), { type: 'object' });
  assert.deepEqual(parseReply({ type: 'object', object: bytes }), { type: 'object', object: bytes });
  const counts = { needed: 2, answered: 1, failed: 2, targets: 3 };
  assert.deepEqual(parseReply(errorReply('QUORUM_UNREACHABLE', 'no', counts)), { type: 'error', code: 'QUORUM_UNREACHABLE', message: 'no', replicas: counts });
  assert.throws(() => parseReply({ type: 'error', code: 'NOPE', message: 'x' }), /unknown error code "NOPE"/);
  assert.throws(() => parseReply({ type: 'object', object: 5 }), /object must be bytes/);
  assert.throws(() => parseReply({ type: 'welcome' }), /unknown reply type/);
  assert.equal(errorReply('INTERNAL', 'x'.repeat(5000)).message.length, 1025, 'long reasons are cut');
});

test('the messages and replies of client requests travel as arrays, and parse back to themselves', () => {
  const messages = [replicaPut(3, key, bytes, true, undefined), replicaPut(3, key, bytes, true, undefined, true), replicaPut(0, key, bytes, false, 'c'), { type: 'replica-get', partition: 7, key } as const];
  for (const message of messages) {
    const wire = toWire(message);
    assert.ok(Array.isArray(wire), `${message.type} is an array on the wire`);
    assert.deepEqual(parseMessage(wire), message);
  }
  for (const reply of [ACK, objectReply(undefined), objectReply(bytes), objectReply(bytes, 'b')]) {
    const wire = toWire(reply);
    assert.ok(Array.isArray(wire), `${reply.type} is an array on the wire`);
    assert.deepEqual(parseReply(wire), reply);
  }
  const forward = { type: 'forward', op: 'get', key, n: 3, r: 2, w: 2, timeoutMs: 5 } as const;
  assert.equal(toWire(forward), forward, 'the other messages travel as they are');
  assert.throws(() => parseReply([4, bytes]), /object must have 2 fields, got 1/);
  assert.throws(() => parseMessage([1, 3, key, bytes, true, null, 'yes']), /groupCommit must be a boolean/);
  assert.throws(() => parseReply([7]), /unknown reply tag 7/);
});

test('a partition scan and its page are validated: limits, counts, key order, the page\'s end', () => {
  const scan = { type: 'partition-scan', partition: 3, objectsMax: 100, bytesMax: 1 << 20 };
  assert.deepEqual(parseMessage(scan), scan);
  assert.deepEqual(parseMessage({ ...scan, afterKey: key }), { ...scan, afterKey: key });
  assert.throws(() => parseMessage({ ...scan, objectsMax: 0 }), /objectsMax must be an integer 1-4096/);
  assert.throws(() => parseMessage({ ...scan, objectsMax: 5000 }), /objectsMax must be an integer 1-4096/);
  assert.throws(() => parseMessage({ ...scan, bytesMax: 64 * 1024 * 1024 }), /bytesMax must be an integer 1-8388608/);
  assert.throws(() => parseMessage({ ...scan, afterKey: 'k' }), /afterKey must be bytes/);
  const [k1, k2] = [Uint8Array.of(1), Uint8Array.of(2)];
  const page = { type: 'partition-page', keys: [k1, k2], objects: [bytes, bytes], resumeAfter: k2 };
  assert.deepEqual(parseReply(page), page);
  assert.deepEqual(parseReply({ type: 'partition-page', keys: [], objects: [] }), { type: 'partition-page', keys: [], objects: [] });
  assert.throws(() => parseReply({ ...page, objects: [bytes] }), /2 keys but 1 objects/);
  assert.throws(() => parseReply({ ...page, keys: [k2, k1] }), /keys out of order at 1/);
  assert.throws(() => parseReply({ ...page, keys: [k1, k1] }), /keys out of order at 1/);
  assert.throws(() => parseReply({ ...page, resumeAfter: k1 }), /ends before its last key/);
  assert.throws(() => parseReply({ ...page, keys: Array.from({ length: 4097 }, () => k1), objects: [] }), /at most 4096 byte strings/);
});
