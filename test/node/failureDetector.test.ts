import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PeerTraffic } from '../../src/node/peerTraffic.ts';
import { FailureDetector, initialPeerState, peerAnswered, peerFailed, type PeerState } from '../../src/node/failureDetector.ts';

const timeout = { code: 'TIMEOUT', message: 'timed out' } as const;
const unreachable = { code: 'UNREACHABLE', message: 'connection refused' } as const;

test('a peer starts up, is suspect after a timeout, down after a second failure or a failed connection, and up on any answer', () => {
  const start = initialPeerState(100);
  assert.deepEqual(start, { status: 'up', sinceMs: 100, lastError: undefined, failures: 0 });
  const suspect = peerFailed(start, 150, timeout);
  assert.deepEqual(suspect, { status: 'suspect', sinceMs: 150, lastError: 'TIMEOUT: timed out', failures: 1 });
  assert.equal(peerAnswered(suspect, 160).status, 'up', 'one answer clears the suspicion');
  const down = peerFailed(suspect, 200, timeout);
  assert.deepEqual(down, { status: 'down', sinceMs: 200, lastError: 'TIMEOUT: timed out', failures: 2 });
  assert.equal(peerFailed(start, 200, unreachable).status, 'down', 'a refused connection is down at once');
  const stillDown = peerFailed(down, 300, unreachable);
  assert.equal(stillDown.status, 'down');
  assert.equal(stillDown.sinceMs, 200, 'down since the second failure');
  assert.equal(stillDown.failures, 3);
  assert.equal(stillDown.lastError, 'UNREACHABLE: connection refused');
  const up = peerAnswered(stillDown, 400);
  assert.deepEqual(up, { status: 'up', sinceMs: 400, lastError: 'UNREACHABLE: connection refused', failures: 0 });
  assert.equal(peerAnswered(up, 500), up, 'an answer to an up peer changes nothing');
});

test('failures that are not the peer going away leave its status alone', () => {
  const start: PeerState = initialPeerState(0);
  for (const code of ['OVERLOADED', 'CLOSED', 'REMOTE_ERROR', 'BAD_MESSAGE'] as const) {
    assert.equal(peerFailed(start, 10, { code, message: 'x' }), start, code);
  }
});

test('the detector keeps the up set and tells its listener about each change once', () => {
  let now = 0;
  const changes: string[] = [];
  const detector = new FailureDetector('a', ['a', 'b', 'c'], { nowMs: () => now, monotonicMs: () => now }, (peer, state) => changes.push(`${peer}:${state.status}`));
  assert.deepEqual([...detector.up].sort(), ['a', 'b', 'c']);
  now = 5;
  detector.failed('b', timeout);
  detector.failed('b', timeout);
  assert.equal(detector.isUp('b'), false);
  assert.deepEqual(detector.downPeers(), ['b']);
  detector.failed('a', timeout);
  assert.equal(detector.isUp('a'), true, 'a node never marks itself down');
  detector.failed('stranger', timeout);
  assert.equal(detector.view().length, 2, 'strangers are not tracked');
  now = 9;
  detector.answered('b');
  assert.equal(detector.isUp('b'), true);
  assert.deepEqual(changes, ['b:suspect', 'b:down', 'b:up']);
  assert.deepEqual(
    detector.view().map((peer) => [peer.id, peer.status, peer.sinceMs]),
    [
      ['b', 'up', 9],
      ['c', 'up', 0],
    ],
  );
  detector.failed('c', timeout);
  assert.equal(detector.isUp('c'), false, 'a suspect peer is skipped');
  assert.deepEqual(detector.doubtedPeers(), ['c'], 'and probed');
});

test('the detector follows the membership: new peers start up, departed ones are forgotten', () => {
  const detector = new FailureDetector('a', ['a', 'b'], { nowMs: () => 0, monotonicMs: () => 0 });
  detector.failed('b', unreachable);
  detector.setPeers(['b', 'c']);
  assert.deepEqual(detector.view().map((p) => [p.id, p.status]), [['b', 'down'], ['c', 'up']]);
  detector.setPeers(['c']);
  assert.deepEqual([...detector.up].sort(), ['a', 'c']);
});

test('round trips feed an RFC 6298 estimate; silence counts from the last answer or the first request after it', () => {
  const traffic = new PeerTraffic();
  assert.equal(traffic.expectedReplyMs(200), 200, 'no answer yet: the fallback');
  traffic.sent(0);
  traffic.answered(10, 10);
  assert.equal(traffic.expectedReplyMs(200), 10 + 4 * 5, 'first sample: srtt = rtt, rttvar = rtt / 2');
  traffic.sent(20);
  traffic.answered(22, 2);
  // rttvar = 5 + (|10 - 2| - 5) / 4 = 5.75; srtt = 10 + (2 - 10) / 8 = 9
  assert.equal(traffic.expectedReplyMs(200), 9 + 4 * 5.75);
  assert.equal(traffic.silentMs(100), 0, 'nothing waits: no silence');
  traffic.sent(100);
  traffic.sent(150);
  assert.equal(traffic.silentMs(300), 200, 'from the first request still waiting');
  traffic.unanswered();
  assert.equal(traffic.silentMs(300), 200, 'a failure is no answer: the silence goes on');
  assert.equal(traffic.suspicion(300, 1), 200 / (9 + 4 * 5.75));
  traffic.answered(310, 210);
  assert.equal(traffic.silentMs(400), 0);
  assert.deepEqual(traffic.evidence(400, 1).inFlight, 0);
});

test('silence with requests waiting makes an up peer suspect past the threshold, not before', () => {
  let now = 0;
  const clock = { nowMs: () => now, monotonicMs: () => now };
  const changes: string[] = [];
  const detector = new FailureDetector('a', ['a', 'b'], clock, (peer, state) => changes.push(`${peer}:${state.status}:${state.lastError ?? ''}`), { silenceMsMin: 100, threshold: 8 });
  detector.answered('b', detector.sent('b')); // a 0 ms round trip: the floor (100 / 8 ms) applies
  detector.sent('b');
  now = 99;
  assert.equal(detector.checkSilence('b'), true, 'under silenceMsMin');
  now = 100;
  assert.equal(detector.checkSilence('b'), false);
  assert.equal(detector.isUp('b'), false);
  assert.match(changes[0] ?? '', /^b:suspect:SILENT: no answer for 100 ms with 1 requests waiting \(suspicion 8\.0\)$/);
  detector.answered('b');
  assert.equal(detector.isUp('b'), true, 'an answer clears it');
  assert.equal(detector.checkSilence('b'), true, 'a peer with nothing waiting is never suspected');
});
