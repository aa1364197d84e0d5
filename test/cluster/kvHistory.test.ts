/**
 * The final-read check of the multi-process membership test (kvHistory.ts), on its own:
 * what a key's history of acknowledged and unacknowledged writes allows a read to return.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { judgeRead } from './kvHistory.ts';

const acked = (value: string, seq: number) => ({ value, seq });
const ok = (...values: string[]) => ({ status: values.length === 1 ? 200 : values.length === 0 ? 404 : 300, values, deleted: 0 });

test('with every write acknowledged, only the last acknowledged value, alone, is right', () => {
  const history = { acked: acked('k@3', 3), uncertain: [] };
  assert.equal(judgeRead(history, ok('k@3')), undefined);
  assert.match(judgeRead(history, ok('k@2')) ?? '', /expected 200 "k@3"/);
  assert.match(judgeRead(history, ok('k@3', 'k@2')) ?? '', /expected 200/, 'siblings without an unacknowledged write');
  assert.match(judgeRead(history, ok()) ?? '', /expected 200/);
  assert.match(judgeRead(history, { status: 503, values: ['(timeout)'], deleted: 0 }) ?? '', /expected 200/);
  assert.match(judgeRead(history, { status: 300, values: ['k@3'], deleted: 1 }) ?? '', /tombstones/);
});

test('an unacknowledged write made from the same context may show up as a sibling, never instead of the acknowledged value', () => {
  // Write 2 got a 503; write 3 (acknowledged) was made with the context of write 1, like write 2.
  const history = { acked: acked('k@3', 3), uncertain: [acked('k@2', 2)] };
  assert.equal(judgeRead(history, ok('k@3')), undefined);
  assert.equal(judgeRead(history, ok('k@2', 'k@3')), undefined);
  assert.match(judgeRead(history, ok('k@2')) ?? '', /acknowledged value is lost/);
  assert.match(judgeRead(history, ok('k@1', 'k@3')) ?? '', /"k@1"\] never written or superseded/);
  assert.match(judgeRead(history, ok()) ?? '', /lost/);
});

test('an unacknowledged write made after the acknowledged one may have superseded it', () => {
  const history = { acked: acked('k@3', 3), uncertain: [acked('k@4', 4)] };
  assert.equal(judgeRead(history, ok('k@4')), undefined);
  assert.equal(judgeRead(history, ok('k@3')), undefined);
  assert.match(judgeRead(history, ok()) ?? '', /absent/);
});

test('a key whose only writes were unacknowledged may be absent', () => {
  const history = { acked: undefined, uncertain: [acked('k@1', 1)] };
  assert.equal(judgeRead(history, ok()), undefined);
  assert.equal(judgeRead(history, ok('k@1')), undefined);
  assert.match(judgeRead(history, ok('k@9')) ?? '', /never written/);
});
