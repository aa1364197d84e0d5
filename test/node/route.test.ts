/** coordinator/route.ts: who coordinates a request, for a node and for the client's direct mode alike. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { routeRequest } from '../../src/node/coordinator/route.ts';

const primaries = ['a', 'b', 'c'];
const allUp = (): boolean => true;
const downs = (...down: string[]) => (node: string): boolean => !down.includes(node);

test('a primary coordinates a request itself unless its context names another primary that is up', () => {
  assert.deepEqual(routeRequest({ primaries, preferred: undefined, isUp: allUp, self: 'b' }), { coordinateHere: true, candidates: [] });
  assert.deepEqual(routeRequest({ primaries, preferred: 'b', isUp: allUp, self: 'b' }), { coordinateHere: true, candidates: [] });
  assert.deepEqual(routeRequest({ primaries, preferred: 'c', isUp: allUp, self: 'b' }), { coordinateHere: false, candidates: ['c'] }, 'the named primary, then (the host\'s fallback) itself');
  assert.deepEqual(routeRequest({ primaries, preferred: 'c', isUp: downs('c'), self: 'b' }), { coordinateHere: true, candidates: [] }, 'a named primary believed down is passed over');
  assert.deepEqual(routeRequest({ primaries, preferred: 'z', isUp: allUp, self: 'b' }), { coordinateHere: true, candidates: [] }, 'a named node that is no primary is passed over');
});

test('a node outside the primaries and a client forward to the primaries in order, the named one first', () => {
  for (const self of ['x', undefined]) {
    assert.deepEqual(routeRequest({ primaries, preferred: undefined, isUp: allUp, self }), { coordinateHere: false, candidates: ['a', 'b', 'c'] });
    assert.deepEqual(routeRequest({ primaries, preferred: 'c', isUp: allUp, self }), { coordinateHere: false, candidates: ['c', 'a', 'b'] });
    assert.deepEqual(routeRequest({ primaries, preferred: 'c', isUp: downs('c'), self }), { coordinateHere: false, candidates: ['a', 'b', 'c'] });
  }
});
