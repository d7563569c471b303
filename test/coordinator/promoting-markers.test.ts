// A topic left 'promoting' by a crash may already have taken local transactions: it opens to local
// writes before it is saved as promoted. A transaction of this broker decided before the crash must
// get its COMMIT marker there at the next start (else the promotion, finished at start, could not
// tell it from the source's and its records would stay uncommitted), while partitions of the topic
// that hold nothing of it are left alone, as the mirror they were. Found in review of issue #11.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { startTestBroker } from '../helpers/broker.ts';
import { RawClient } from '../helpers/raw-client.ts';
import { ApiKey } from '../../src/protocol/generated/api-table.ts';
import { ErrorCode } from '../../src/protocol/generated/errors.ts';
import { buildBatch } from '../../src/protocol/records/index.ts';
import { SqliteMetadataStore } from '../../src/metadata/index.ts';

test('a transaction decided before a crash gets its marker in a topic left promoting; partitions without its data get none', async () => {
  const b = await startTestBroker({ 'upload.interval.ms': '100000' });
  let c = await RawClient.connect(b.port);
  try {
    await c.request(ApiKey.CreateTopics, 7, { topics: [{ name: 'pt', numPartitions: 2, replicationFactor: 1 }], timeoutMs: 1000 });
    const topicId = (await c.request(ApiKey.Metadata, 12, { topics: [{ name: 'pt' }] })).topics[0].topicId;
    const init = await c.request(ApiKey.InitProducerId, 4, { transactionalId: 'local-tx', transactionTimeoutMs: 60_000, producerId: -1n, producerEpoch: -1 });
    assert.equal(init.errorCode, ErrorCode.NONE);
    const producerId = Number(init.producerId);
    const producerEpoch = init.producerEpoch as number;
    // The topic had opened: a local transactional write in partition 0 (partition 1 holds none of it).
    const log0 = b.broker.logs!.get(topicId, 0)!;
    const w = await log0.append(buildBatch({ producerId, producerEpoch, baseSequence: 0, isTransactional: true, records: [{ value: 'local' }] }), Date.now());
    assert.equal(w.errorCode, ErrorCode.NONE);
    assert.equal(log0.lastStableOffset, 0, 'the transaction is open');
    c.close();
    await b.broker.stop();

    // What the crash left: the topic still 'promoting', the transaction decided (PrepareCommit).
    const store = new SqliteMetadataStore(join(b.dataDir, 'metadata.sqlite'));
    await store.open();
    await store.saveMirror({ topicId, linkName: 'gone', sourceTopic: 'pt', state: 'promoting', lastPromotion: null, reverse: null, updatedAtMs: Date.now() });
    const rec = (await store.transactions()).find((t) => t.transactionalId === 'local-tx')!;
    await store.saveTransaction({ ...rec, state: 'PrepareCommit', partitions: [{ topic: 'pt', partition: 0 }, { topic: 'pt', partition: 1 }], startTimestampMs: Date.now(), lastUpdateTimestampMs: Date.now() });
    await store.close();

    await b.broker.start();
    c = await RawClient.connect(b.broker.bound[0]!.port);
    const state = (await c.request(ApiKey.DescribeTransactions, 0, { transactionalIds: ['local-tx'] })).transactionStates[0].transactionState;
    assert.equal(state, 'CompleteCommit');
    const p0 = b.broker.logs!.get(topicId, 0)!;
    const p1 = b.broker.logs!.get(topicId, 1)!;
    assert.equal(p0.highWatermark, 2, 'the COMMIT marker follows the local write');
    assert.equal(p0.lastStableOffset, 2, 'and the transaction is closed');
    assert.equal(p1.highWatermark, 0, 'nothing was written into the partition without its data');
  } finally {
    c.close();
    await b.stop();
  }
});
