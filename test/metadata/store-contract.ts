// The contract every MetadataStore engine must pass, run against the real engine.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { AclBindingRecord, MetadataStore } from '../../src/metadata/store.ts';
import { randomKafkaUuid } from '../../src/metadata/ids.ts';

export function metadataStoreContract(engine: string, open: () => Promise<{ store: MetadataStore; reopen(): Promise<MetadataStore>; cleanup(): Promise<void> }>): void {
  test(`${engine}: cluster id is created once and kept`, async () => {
    const h = await open();
    const id = await h.store.clusterId();
    assert.equal(id.length, 22);
    assert.equal(await h.store.clusterId(), id);
    const again = await h.reopen();
    assert.equal(await again.clusterId(), id);
    await h.cleanup();
  });

  test(`${engine}: topics are created with partitions and configs, found by name and id, deleted`, async () => {
    const h = await open();
    const s = h.store;
    const topicId = randomKafkaUuid();
    const t = await s.createTopic({ name: 'orders', topicId, partitionCount: 3, replicationFactor: 1, configs: { 'retention.ms': '5' }, leaderId: 1 });
    assert.ok(t);
    assert.equal(await s.createTopic({ name: 'orders', topicId: randomKafkaUuid(), partitionCount: 1, replicationFactor: 1, configs: {}, leaderId: 1 }), null);
    assert.deepEqual((await s.topicByName('orders'))!.configs, { 'retention.ms': '5' });
    assert.equal((await s.topicById(topicId))!.name, 'orders');
    assert.deepEqual((await s.partitions(topicId)).map((p) => p.partitionIndex), [0, 1, 2]);
    assert.equal(await s.deleteTopic(topicId), true);
    assert.equal(await s.deleteTopic(topicId), false);
    assert.equal(await s.topicByName('orders'), null);
    assert.deepEqual(await s.partitions(topicId), [], 'partitions go with their topic');
    await h.cleanup();
  });

  test(`${engine}: brokers register and re-register`, async () => {
    const h = await open();
    await h.store.registerBroker({ nodeId: 2, host: 'a', port: 1, rack: null });
    await h.store.registerBroker({ nodeId: 2, host: 'b', port: 2, rack: 'r1' });
    assert.deepEqual(await h.store.brokers(), [{ nodeId: 2, host: 'b', port: 2, rack: 'r1' }]);
    await h.cleanup();
  });

  test(`${engine}: migrations are applied once and reopening keeps data`, async () => {
    const h = await open();
    const v = await h.store.schemaVersion();
    assert.ok(v >= 1);
    await h.store.createTopic({ name: 'kept', topicId: randomKafkaUuid(), partitionCount: 1, replicationFactor: 1, configs: {}, leaderId: 1 });
    const again = await h.reopen();
    assert.equal(await again.schemaVersion(), v);
    assert.ok(await again.topicByName('kept'));
    await h.cleanup();
  });
  test(`${engine}: transaction state and pending transactional offsets are saved, finished and deleted`, async () => {
    const h = await open();
    const s = h.store;
    const txn = {
      transactionalId: 'tx-a',
      producerId: 7000,
      previousProducerId: -1,
      producerEpoch: 3,
      lastProducerEpoch: 2,
      timeoutMs: 60000,
      state: 'Ongoing',
      partitions: [
        { topic: 'orders', partition: 0 },
        { topic: 'orders', partition: 2 },
      ],
      groups: ['g1'],
      startTimestampMs: 1000,
      lastUpdateTimestampMs: 1500,
    };
    await s.saveTransaction(txn);
    await s.saveTransaction({ ...txn, transactionalId: 'tx-b', producerId: 7001, state: 'Empty', partitions: [], groups: [], startTimestampMs: -1 });
    assert.deepEqual(await s.transactions(), [txn, { ...txn, transactionalId: 'tx-b', producerId: 7001, state: 'Empty', partitions: [], groups: [], startTimestampMs: -1 }]);

    const offset = (transactionalId: string, partitionIndex: number, committedOffset: number) => ({
      transactionalId,
      producerId: 7000,
      groupId: 'g1',
      topic: 'orders',
      partitionIndex,
      committedOffset,
      leaderEpoch: -1,
      metadata: partitionIndex === 0 ? null : 'm',
      commitTimestampMs: 2000,
      expireTimestampMs: null,
    });
    await s.saveTxnOffsets([offset('tx-a', 0, 5), offset('tx-a', 1, 9), offset('tx-b', 0, 1)]);
    await s.saveTxnOffsets([offset('tx-a', 0, 6)]);
    assert.deepEqual(await s.txnOffsets(), [offset('tx-a', 0, 6), offset('tx-a', 1, 9), offset('tx-b', 0, 1)], 'a later offset of the same transaction replaces the earlier one');

    const done = { ...txn, state: 'CompleteCommit', partitions: [], groups: [], lastUpdateTimestampMs: 3000 };
    await s.finishTransaction(done);
    assert.deepEqual(await s.txnOffsets(), [offset('tx-b', 0, 1)], 'finishing removes only that transaction\'s pending offsets');
    const again = await h.reopen();
    assert.deepEqual((await again.transactions())[0], done, 'state survives reopening');
    assert.equal(await again.deleteTransaction('tx-b'), true);
    assert.equal(await again.deleteTransaction('tx-b'), false);
    assert.deepEqual(await again.txnOffsets(), [], 'deleting a transactional id deletes its pending offsets');
    assert.deepEqual((await again.transactions()).map((t) => t.transactionalId), ['tx-a']);
    await h.cleanup();
  });

  test(`${engine}: consumer groups and committed offsets are saved, replaced, listed and deleted`, async () => {
    const h = await open();
    const s = h.store;
    const offset = (groupId: string, topic: string, partitionIndex: number, committedOffset: number) => ({
      groupId,
      topic,
      partitionIndex,
      committedOffset,
      leaderEpoch: 3,
      metadata: partitionIndex === 0 ? null : `m${partitionIndex}`,
      commitTimestampMs: 1000 + committedOffset,
      expireTimestampMs: partitionIndex === 2 ? 99 : null,
    });
    await s.saveGroup({ groupId: 'g1', groupType: 'classic', state: '{"generationId":1}', updatedAtMs: 5 });
    await s.saveGroup({ groupId: 'g2', groupType: 'consumer', state: '{}', updatedAtMs: 6 });
    await s.saveGroup({ groupId: 'g1', groupType: 'classic', state: '{"generationId":2}', updatedAtMs: 7 });
    assert.deepEqual(await s.groups(), [
      { groupId: 'g1', groupType: 'classic', state: '{"generationId":2}', updatedAtMs: 7 },
      { groupId: 'g2', groupType: 'consumer', state: '{}', updatedAtMs: 6 },
    ]);
    await s.commitOffsets([offset('g1', 'a', 0, 10), offset('g1', 'a', 1, 11), offset('g1', 'b', 2, 12), offset('g3', 'a', 0, 13)]);
    await s.commitOffsets([offset('g1', 'a', 0, 20)]);
    await s.commitOffsets([]);
    assert.deepEqual(await s.committedOffsets('g1'), [offset('g1', 'a', 0, 20), offset('g1', 'a', 1, 11), offset('g1', 'b', 2, 12)], 'a later commit replaces the earlier one');
    assert.deepEqual((await s.committedOffsets()).map((o) => o.groupId), ['g1', 'g1', 'g1', 'g3']);
    assert.equal(await s.deleteOffsets('g1', [{ topic: 'a', partitionIndex: 1 }, { topic: 'a', partitionIndex: 7 }]), 1);
    assert.equal(await s.deleteTopicOffsets('a'), 2, 'a deleted topic takes its offsets from every group');
    assert.deepEqual(await s.committedOffsets(), [offset('g1', 'b', 2, 12)]);
    const again = await h.reopen();
    assert.deepEqual(await again.committedOffsets('g1'), [offset('g1', 'b', 2, 12)], 'offsets survive reopening');
    assert.equal((await again.groups()).length, 2, 'groups survive reopening');
    assert.equal(await again.deleteGroup('g1'), true);
    assert.equal(await again.deleteGroup('g1'), false);
    assert.deepEqual(await again.committedOffsets(), [], 'deleting a group deletes its offsets');
    assert.deepEqual((await again.groups()).map((g) => g.groupId), ['g2']);
    await h.cleanup();
  });

  test(`${engine}: ACL bindings are replaced per source, listed in order, and deleted per source`, async () => {
    const h = await open();
    const s = h.store;
    const acl = (resourceName: string, operation: number, extra: Partial<AclBindingRecord> = {}): AclBindingRecord => ({
      resourceType: 2,
      resourceName,
      patternType: 3,
      principal: 'User:alice',
      host: '*',
      operation,
      permissionType: 3,
      ...extra,
    });
    const read = acl('orders', 3);
    const write = acl('orders', 4);
    const prefixed = acl('orders', 3, { patternType: 4 });
    const deny = acl('orders', 3, { permissionType: 2, host: '10.0.0.1' });
    const group = acl('g1', 3, { resourceType: 3 });
    assert.deepEqual(await s.acls(), []);
    assert.deepEqual(await s.replaceAcls('link:a', [read, write, group, read]), { added: 3, removed: 0 }, 'a duplicate binding counts once');
    assert.deepEqual(await s.replaceAcls('link:b', [read, prefixed]), { added: 2, removed: 0 });
    assert.deepEqual(await s.replaceAcls('link:a', [read, deny, group]), { added: 1, removed: 1 }, 'only the difference changes');
    assert.deepEqual(await s.replaceAcls('link:a', [group, deny, read]), { added: 0, removed: 0 }, 'order does not matter');
    // Ordered by resource type, name, pattern type, principal, host ('*' before '1'), operation,
    // permission type, then source.
    const all = [
      { source: 'link:a', ...read },
      { source: 'link:b', ...read },
      { source: 'link:a', ...deny },
      { source: 'link:b', ...prefixed },
      { source: 'link:a', ...group },
    ];
    assert.deepEqual(await s.acls(), all);
    const again = await h.reopen();
    assert.deepEqual(await again.acls(), all, 'ACLs survive reopening');
    assert.equal(await again.deleteAcls('link:a'), 3);
    assert.equal(await again.deleteAcls('link:a'), 0);
    assert.deepEqual(await again.acls(), [{ source: 'link:b', ...read }, { source: 'link:b', ...prefixed }], 'other sources keep theirs');
    assert.deepEqual(await again.replaceAcls('link:b', []), { added: 0, removed: 2 }, 'an empty set empties the source');
    assert.deepEqual(await again.acls(), []);
    await h.cleanup();
  });

  test(`${engine}: mirror topics keep their state, last promotion and reverse copy across reopening`, async () => {
    const h = await open();
    const s = h.store;
    const m = { topicId: randomKafkaUuid(), linkName: 'east', sourceTopic: 'orders', state: 'mirroring', lastPromotion: null, reverse: null, updatedAtMs: 1 };
    await s.saveMirror(m);
    assert.deepEqual(await s.mirrors(), [m]);
    const promoted = { ...m, state: 'promoted', lastPromotion: '{"topic":"orders"}', reverse: '{"fromOffsets":{"0":12}}', updatedAtMs: 2 };
    await s.saveMirror(promoted);
    const again = await h.reopen();
    assert.deepEqual(await again.mirrors(), [promoted], 'the update replaced the row and survived reopening');
    await again.saveMirror({ ...promoted, reverse: null });
    assert.equal((await again.mirrors())[0]!.reverse, null, 'a stopped reverse copy is cleared');
    await again.deleteMirror(m.topicId);
    assert.deepEqual(await again.mirrors(), []);
    await h.cleanup();
  });

  test(`${engine}: leader-epoch histories are replaced whole per partition, survive reopening, and go with their topic`, async () => {
    const h = await open();
    const s = h.store;
    const topicId = randomKafkaUuid();
    await s.createTopic({ name: 'epochs', topicId, partitionCount: 2, replicationFactor: 1, configs: {}, leaderId: 1 });
    assert.deepEqual(await s.leaderEpochHistories(), [], 'a new partition has no saved history');
    await s.saveLeaderEpochs({ topicId, partitionIndex: 0, entries: [{ epoch: 0, startOffset: 0 }, { epoch: 3, startOffset: 40 }] });
    await s.saveLeaderEpochs({ topicId, partitionIndex: 1, entries: [] });
    await s.saveLeaderEpochs({ topicId, partitionIndex: 0, entries: [{ epoch: 0, startOffset: 0 }, { epoch: 5, startOffset: 35 }] });
    const want = [
      { topicId, partitionIndex: 0, entries: [{ epoch: 0, startOffset: 0 }, { epoch: 5, startOffset: 35 }] },
      { topicId, partitionIndex: 1, entries: [] },
    ];
    assert.deepEqual(await s.leaderEpochHistories(), want, 'the second save replaced the first; an empty history is kept as saved');
    const again = await h.reopen();
    assert.deepEqual(await again.leaderEpochHistories(), want, 'histories survive reopening');
    await again.deleteTopic(topicId);
    assert.deepEqual(await again.leaderEpochHistories(), [], 'histories go with their topic');
    await again.saveLeaderEpochs({ topicId, partitionIndex: 0, entries: [{ epoch: 7, startOffset: 1 }] });
    assert.deepEqual(await again.leaderEpochHistories(), [], 'a save for a deleted topic is ignored');
    await h.cleanup();
  });

  test(`${engine}: WAL objects commit only while their partitions keep leader and epoch, replay in commit order, and go once uploaded`, async () => {
    const h = await open();
    const s = h.store;
    const topicId = randomKafkaUuid();
    await s.createTopic({ name: 'wal', topicId, partitionCount: 2, replicationFactor: 1, configs: {}, leaderId: 1 });
    const part = (p: number, base: number, end: number, position: number, epoch = 0) => ({ topicId, partitionIndex: p, baseOffset: base, endOffset: end, position, sizeBytes: (end - base) * 10, leaderEpoch: epoch });
    const a = await s.commitWalObject('wal/a', 50, { nodeId: 1, incarnation: 0 }, [part(0, 0, 3, 0), part(1, 0, 2, 30)]);
    assert.ok(a.objectId !== null && a.fenced === null);
    assert.deepEqual(await s.commitWalObject('wal/a', 50, { nodeId: 1, incarnation: 0 }, [part(0, 0, 3, 0), part(1, 0, 2, 30)]), a, 'a retried commit of the same key answers the same object and writes nothing');
    const b = await s.commitWalObject('wal/b', 20, { nodeId: 1, incarnation: 0 }, [part(0, 3, 5, 0)]);
    assert.ok(b.objectId !== null && b.objectId > a.objectId!);
    assert.deepEqual(await s.commitWalObject('wal/c', 10, { nodeId: 2, incarnation: 0 }, [part(0, 5, 6, 0)]), { objectId: null, fenced: [{ topicId, partitionIndex: 0 }] }, 'another node id is fenced');
    await s.setLeaderEpoch(topicId, 1, 2);
    assert.deepEqual(
      await s.commitWalObject('wal/d', 10, { nodeId: 1, incarnation: 0 }, [part(1, 2, 3, 0, 1), part(0, 5, 6, 0)]),
      { objectId: null, fenced: [{ topicId, partitionIndex: 1 }] },
      'data written at an epoch older than the partition\'s is fenced; nothing of the commit is written',
    );
    assert.deepEqual(await s.commitWalObject('wal/e', 10, { nodeId: 1, incarnation: 7 }, [part(0, 5, 6, 0)]), { objectId: null, fenced: [{ topicId, partitionIndex: 0 }] }, 'another incarnation of the same node id is fenced');
    let wal = await s.walObjects();
    assert.deepEqual(wal.map((w) => [w.key, w.nodeId, w.sizeBytes, w.ranges.map((r) => [r.partitionIndex, r.baseOffset, r.endOffset, r.position])]), [
      ['wal/a', 1, 50, [[0, 0, 3, 0], [1, 0, 2, 30]]],
      ['wal/b', 1, 20, [[0, 3, 5, 0]]],
    ]);
    assert.equal(await s.hasObject('wal/a'), true);
    assert.equal(await s.hasObject('wal/d'), false);
    // Uploading partition 0 up to offset 3 makes its part of wal/a obsolete; wal/a stays for partition 1.
    await s.commitObject('data/1', 30, [{ topicId, partitionIndex: 0, baseOffset: 0, endOffset: 3, position: 0, sizeBytes: 30, maxTimestamp: 1 }]);
    wal = await s.walObjects();
    assert.deepEqual(wal.map((w) => [w.key, w.ranges.map((r) => r.partitionIndex)]), [['wal/a', [1]], ['wal/b', [0]]]);
    assert.deepEqual(await s.unreferencedObjects(1000, 0), [], 'a WAL object with a part not uploaded is referenced');
    await s.commitObject('data/2', 40, [
      { topicId, partitionIndex: 0, baseOffset: 3, endOffset: 5, position: 0, sizeBytes: 20, maxTimestamp: 1 },
      { topicId, partitionIndex: 1, baseOffset: 0, endOffset: 2, position: 20, sizeBytes: 20, maxTimestamp: 1 },
    ]);
    assert.deepEqual(await s.walObjects(), [], 'every part uploaded');
    const gone = (await s.unreferencedObjects(2000, 0)).map((o) => o.key).sort();
    assert.deepEqual(gone, ['wal/a', 'wal/b'], 'WAL objects with every part uploaded become garbage');
    await h.cleanup();
  });

  test(`${engine}: fenced object commits write nothing; truncation, reset and topic deletion drop WAL parts`, async () => {
    const h = await open();
    const s = h.store;
    const topicId = randomKafkaUuid();
    await s.createTopic({ name: 'fence', topicId, partitionCount: 2, replicationFactor: 1, configs: {}, leaderId: 1 });
    const range = { topicId, partitionIndex: 0, baseOffset: 0, endOffset: 4, position: 0, sizeBytes: 40, maxTimestamp: 1 };
    await assert.rejects(
      s.commitObject('data/x', 40, [range], [], { nodeId: 1, incarnation: 3, leaderEpochs: [{ topicId, partitionIndex: 0, leaderEpoch: 0 }] }),
      (err: Error & { code?: string; partitions?: unknown; kafkaError?: number }) => err.code === 'STRAIT_FENCED' && JSON.stringify(err.partitions) === JSON.stringify([{ topicId, partitionIndex: 0 }]),
    );
    assert.deepEqual(await s.objectRanges(topicId, 0), [], 'nothing of a fenced commit is written');
    assert.equal(await s.hasObject('data/x'), false);
    await s.commitObject('data/y', 40, [range], [], { nodeId: 1, incarnation: 0, leaderEpochs: [{ topicId, partitionIndex: 0, leaderEpoch: 0 }] });
    assert.equal((await s.objectRanges(topicId, 0)).length, 1, 'a commit at the current leader and epoch stands');
    const part = (p: number, base: number, end: number) => ({ topicId, partitionIndex: p, baseOffset: base, endOffset: end, position: 0, sizeBytes: end - base, leaderEpoch: 0 });
    await s.commitWalObject('wal/1', 1, { nodeId: 1, incarnation: 0 }, [part(0, 4, 6)]);
    await s.commitWalObject('wal/2', 1, { nodeId: 1, incarnation: 0 }, [part(0, 6, 9)]);
    await s.commitWalObject('wal/3', 1, { nodeId: 1, incarnation: 0 }, [part(1, 0, 5)]);
    await s.truncateRanges(topicId, 0, 6, null);
    assert.deepEqual((await s.walObjects()).map((w) => w.key), ['wal/1', 'wal/3'], 'a truncation drops WAL parts ending past the cut');
    await s.resetPartition(topicId, 0, 50);
    assert.deepEqual((await s.walObjects()).map((w) => w.key), ['wal/3'], 'a reset drops every WAL part of the partition');
    await s.deleteTopic(topicId);
    assert.deepEqual(await s.walObjects(), [], 'WAL parts go with their topic');
    await h.cleanup();
  });

  test(`${engine}: a broker claims partitions led by others, bumping their epoch (not a mirror's), and the old leader is fenced`, async () => {
    const h = await open();
    const s = h.store;
    const local = randomKafkaUuid();
    const mirror = randomKafkaUuid();
    await s.createTopic({ name: 'local', topicId: local, partitionCount: 2, replicationFactor: 1, configs: {}, leaderId: 1 });
    await s.createTopic({ name: 'mirror', topicId: mirror, partitionCount: 1, replicationFactor: 1, configs: {}, leaderId: 1 });
    await s.setLeaderEpoch(mirror, 0, 7);
    await s.saveLink({ name: 'l', linkId: 'id', spec: '{}', state: 'active', createdAtMs: 1, updatedAtMs: 1 });
    await s.saveMirror({ topicId: mirror, linkName: 'l', sourceTopic: 'mirror', state: 'mirroring', lastPromotion: null, reverse: null, updatedAtMs: 1 });
    assert.deepEqual(await s.claimPartitions({ nodeId: 1, incarnation: 0 }), [], 'nothing to claim from oneself');
    const claimed = await s.claimPartitions({ nodeId: 2, incarnation: 0 });
    const byKey = (xs: { topicId: string; partitionIndex: number; leaderEpoch: number; leaderId: number }[]) =>
      xs.map((p) => `${p.topicId === local ? 'local' : 'mirror'}-${p.partitionIndex}:${p.leaderId}@${p.leaderEpoch}`).sort();
    assert.deepEqual(byKey(claimed), ['local-0:2@1', 'local-1:2@1', 'mirror-0:2@7']);
    assert.deepEqual(claimed.map((c) => c.previousLeaderId), [1, 1, 1]);
    assert.deepEqual(byKey(await s.allPartitions()), ['local-0:2@1', 'local-1:2@1', 'mirror-0:2@7'], 'the claim is stored');
    const wal = (node: number, epoch: number) => s.commitWalObject(`wal/${node}-${epoch}`, 1, { nodeId: node, incarnation: 0 }, [{ topicId: local, partitionIndex: 0, baseOffset: 0, endOffset: 1, position: 0, sizeBytes: 1, leaderEpoch: epoch }]);
    assert.deepEqual((await wal(1, 0)).fenced, [{ topicId: local, partitionIndex: 0 }], 'the old leader is fenced');
    assert.ok((await wal(2, 1)).objectId !== null, 'the new leader commits');
    const back = await s.claimPartitions({ nodeId: 1, incarnation: 0 });
    assert.deepEqual(byKey(back), ['local-0:1@2', 'local-1:1@2', 'mirror-0:1@7'], 'a claim back bumps again');
    const at = (epoch: number) => [{ topicId: local, partitionIndex: 0, baseOffset: 1, endOffset: 2, position: 0, sizeBytes: 1, leaderEpoch: epoch }];
    assert.ok((await s.commitWalObject('wal/newer', 1, { nodeId: 1, incarnation: 0 }, at(5))).objectId !== null, 'data at a newer epoch than recorded stands (the log moved first)');
    assert.ok((await s.commitWalObject('wal/older', 1, { nodeId: 1, incarnation: 0 }, at(1))).fenced !== null, 'data at an older epoch is fenced');
    const again = await s.claimPartitions({ nodeId: 1, incarnation: 9 });
    assert.deepEqual(byKey(again), ['local-0:1@2', 'local-1:1@2', 'mirror-0:1@7'], 'a new incarnation of the same node id claims everything, epochs kept');
    assert.ok((await s.commitWalObject('wal/stale', 1, { nodeId: 1, incarnation: 0 }, at(5))).fenced !== null, 'the earlier incarnation is fenced');
    await h.cleanup();
  });
}
