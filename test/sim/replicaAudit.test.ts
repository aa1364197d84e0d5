import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { encodeUtf8 } from '../../src/core/bytes.ts';
import { partitionOfKey } from '../../src/core/hash.ts';
import type { StoredObject } from '../../src/core/object.ts';
import { History } from '../../src/sim/history.ts';
import { Prng } from '../../src/sim/prng.ts';
import { ReplicaAudit, disksPromised, type AuditSettings } from '../../src/sim/replicaAudit.ts';
import { Scheduler, Trace } from '../../src/sim/scheduler.ts';
import { SimCluster, type SimNode } from '../../src/sim/simCluster.ts';
import { CALM_NETWORK, SimNetwork } from '../../src/sim/simNetwork.ts';
import { configsOf } from '../../src/sim/swarm.ts';
import { planSwarm } from '../../src/sim/swarmPlan.ts';
import { HINTS_PARTITION, hintKey } from '../../src/storage/hintStore.ts';
import { encodeObject } from '../../src/storage/objectCodec.ts';

const KEY = 'k1';
const DOT = { actor: 'n1.1', counter: 1 };

function object(valueId: string): StoredObject {
  return {
    vector: [{ ...DOT, timeMs: 0 }],
    siblings: [{ value: encodeUtf8(valueId), contentType: 'text/plain', deleted: false, dot: DOT, timeMs: 0 }],
  };
}

/** A cluster whose nodes never open: the audit sees their disks only. */
function setup(settings: Partial<AuditSettings> = {}): { audit: ReplicaAudit; cluster: SimCluster; partition: number } {
  const plan = planSwarm(11);
  const scheduler = new Scheduler(new Trace());
  const network = new SimNetwork(scheduler, Prng.fromSeed(1), CALM_NETWORK);
  const neverOpens = (): Promise<SimNode> => new Promise(() => undefined);
  const cluster = new SimCluster({ scheduler, network, random: Prng.fromSeed(1), configs: configsOf(plan), skews: plan.skews, openNode: neverOpens });
  const full: AuditSettings = { partitionCount: plan.settings.partitionCount, n: plan.settings.n, durableWrites: 'one', bufferObjectsMax: 64, ...settings };
  return { audit: new ReplicaAudit(cluster, full, [KEY]), cluster, partition: partitionOfKey(encodeUtf8(KEY), full.partitionCount) };
}

function ackedPut(valueId: string, settings = { w: 2 }): ReturnType<History['begin']> {
  const history = new History();
  const record = history.begin({ client: 'c1', op: 'put', key: KEY, node: 'n1', startMs: 1, quorum: { n: 3, r: 2, w: settings.w }, valueId });
  history.succeeded(record, 2, object(valueId));
  return record;
}

describe('ReplicaAudit', () => {
  it('catches a put acknowledged before W nodes had it', async () => {
    const { audit, cluster, partition } = setup();
    await cluster.disks('n1').engine.writeBatch([{ kind: 'put', partition, key: encodeUtf8(KEY), value: encodeObject(object('c1-w1')) }], { durable: true });
    audit.putAcknowledged(ackedPut('c1-w1'));
    assert.deepEqual(audit.violations.map((v) => v.kind), ['under-replicated-ack']);
    assert.match(audit.violations[0]?.message ?? '', /W=2.*only \[n1\]/);
  });

  it('counts a fallback’s hint as a copy, and requires disks when the config promises them', async () => {
    const { audit, cluster, partition } = setup({ durableWrites: 'all' });
    await cluster.disks('n1').engine.writeBatch([{ kind: 'put', partition, key: encodeUtf8(KEY), value: encodeObject(object('c1-w1')) }], { durable: true });
    await cluster.disks('n3').hintEngine.writeBatch([{ kind: 'put', partition: HINTS_PARTITION, key: hintKey('n2', partition, encodeUtf8(KEY)), value: encodeObject(object('c1-w1')) }], { durable: true });
    audit.putAcknowledged(ackedPut('c1-w1'));
    assert.deepEqual(audit.violations, []);
  });

  it('catches a hint deleted before its owner’s disk had it, and lets a delivered one go', async () => {
    const { audit, cluster, partition } = setup();
    const entry = hintKey('n2', partition, encodeUtf8(KEY));
    await cluster.disks('n3').hintEngine.writeBatch([{ kind: 'put', partition: HINTS_PARTITION, key: entry, value: encodeObject(object('c1-w1')) }], { durable: true });
    audit.beforeHintWrite('n3', [{ kind: 'delete', partition: HINTS_PARTITION, key: entry }]);
    assert.deepEqual(audit.violations.map((v) => v.kind), ['hint-dropped']);
    await cluster.disks('n2').engine.writeBatch([{ kind: 'put', partition, key: encodeUtf8(KEY), value: encodeObject(object('c1-w1')) }], { durable: true });
    audit.beforeHintWrite('n3', [{ kind: 'delete', partition: HINTS_PARTITION, key: entry }]);
    assert.equal(audit.violations.length, 1);
  });

  it('knows how many disks each config promises', () => {
    assert.equal(disksPromised({ durableWrites: 'all', bufferObjectsMax: 64 }, { n: 3, w: 2 }), 2);
    assert.equal(disksPromised({ durableWrites: 'one', bufferObjectsMax: 0 }, { n: 3, w: 2 }), 2);
    assert.equal(disksPromised({ durableWrites: 'one', bufferObjectsMax: 64 }, { n: 3, w: 3 }), 1);
    assert.equal(disksPromised({ durableWrites: 'one', bufferObjectsMax: 64 }, { n: 2, w: 2 }), 1);
    assert.equal(disksPromised({ durableWrites: 'one', bufferObjectsMax: 64 }, { n: 3, w: 2 }), 0);
    assert.equal(disksPromised({ durableWrites: 'none', bufferObjectsMax: 64 }, { n: 3, w: 3 }), 0);
  });

  it('skips a put during which a node crashed', () => {
    const { audit, cluster } = setup();
    cluster.lastCrashMs = 1;
    audit.putAcknowledged(ackedPut('c1-w1'));
    assert.deepEqual(audit.violations, []);
    assert.equal(audit.acksChecked, 0);
  });
});
