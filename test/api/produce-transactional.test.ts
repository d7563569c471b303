// Produce of transactional batches that no transaction coordinator checked (issue #11, defect 4):
// a transactional batch in a request without a transactional id, or one hidden behind the first
// batch of a partition, would open a transaction that nobody ever closes, pinning the last stable
// offset and stalling read_committed consumers for good. Kafka refuses both: a request whose
// partition starts with a transactional batch and that names no transactional id fails whole with
// TRANSACTIONAL_ID_AUTHORIZATION_FAILED (KafkaApis.handleProduceRequest); a partition holding more
// than one batch fails with INVALID_RECORD (ProduceRequest.validateRecords, v3+).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startTestBroker } from '../helpers/broker.ts';
import { RawClient } from '../helpers/raw-client.ts';
import { ApiKey } from '../../src/protocol/generated/api-table.ts';
import { ErrorCode } from '../../src/protocol/generated/errors.ts';
import { buildBatch } from '../../src/protocol/records/index.ts';

const E = ErrorCode;

async function setup() {
  const b = await startTestBroker({ 'upload.interval.ms': '100000' });
  const c = await RawClient.connect(b.port);
  const r = await c.request(ApiKey.CreateTopics, 7, { topics: [{ name: 't', numPartitions: 2, replicationFactor: 1 }], timeoutMs: 1000 });
  assert.equal(r.topics[0].errorCode, E.NONE);
  return { b, c };
}

async function initProducer(c: RawClient, transactionalId: string | null): Promise<{ producerId: number; epoch: number }> {
  const r = await c.request(ApiKey.InitProducerId, 4, { transactionalId, transactionTimeoutMs: 60_000, producerId: -1n, producerEpoch: -1 });
  assert.equal(r.errorCode, E.NONE);
  return { producerId: Number(r.producerId), epoch: r.producerEpoch };
}

const batch = (p: { producerId: number; epoch: number }, seq: number, values: string[], isTransactional: boolean) =>
  buildBatch({ producerId: p.producerId, producerEpoch: p.epoch, baseSequence: seq, isTransactional, records: values.map((v) => ({ key: v, value: v })) });

async function produce(c: RawClient, transactionalId: string | null, partitions: { index: number; records: Buffer }[], version = 9) {
  const r = await c.request(ApiKey.Produce, version, { acks: -1, timeoutMs: 5000, transactionalId, topicData: [{ name: 't', partitionData: partitions }] });
  return r.responses[0].partitionResponses.map((p: any) => ({ index: p.index, errorCode: p.errorCode, errorMessage: p.errorMessage }));
}

/** Last stable offset and high watermark of a partition, as a read_committed consumer sees them. */
async function offsets(c: RawClient, partition: number): Promise<{ lso: number; hw: number }> {
  const r = await c.request(ApiKey.Fetch, 12, {
    maxWaitMs: 0,
    isolationLevel: 1,
    sessionEpoch: -1,
    topics: [{ topic: 't', partitions: [{ partition, fetchOffset: 0n, partitionMaxBytes: 1 << 20, currentLeaderEpoch: -1 }] }],
  });
  const p = r.responses[0].partitions[0];
  assert.equal(p.errorCode, E.NONE);
  return { lso: Number(p.lastStableOffset), hw: Number(p.highWatermark) };
}

test('a transactional batch in a produce without a transactional id fails the whole request with TRANSACTIONAL_ID_AUTHORIZATION_FAILED', async () => {
  const { b, c } = await setup();
  try {
    const idem = await initProducer(c, null);
    // Partition 0 gets a plain idempotent batch, partition 1 a transactional one: Kafka refuses all of it.
    const answers = await produce(c, null, [
      { index: 0, records: batch(idem, 0, ['plain'], false) },
      { index: 1, records: batch(idem, 0, ['sneaky'], true) },
    ]);
    assert.deepEqual(
      answers.map((a: any) => [a.index, a.errorCode]),
      [
        [0, E.TRANSACTIONAL_ID_AUTHORIZATION_FAILED],
        [1, E.TRANSACTIONAL_ID_AUTHORIZATION_FAILED],
      ],
    );
    assert.deepEqual(await offsets(c, 0), { lso: 0, hw: 0 }, 'nothing of the refused request was appended');
    assert.deepEqual(await offsets(c, 1), { lso: 0, hw: 0 }, 'no transaction was opened');
    // The same producer goes on with plain batches (the refused ones took no sequence numbers).
    assert.deepEqual((await produce(c, null, [{ index: 1, records: batch(idem, 0, ['ok'], false) }])).map((a: any) => a.errorCode), [E.NONE]);
    assert.deepEqual(await offsets(c, 1), { lso: 1, hw: 1 });
  } finally {
    c.close();
    await b.stop();
  }
});

test('a transactional batch behind the first batch of a partition is refused with INVALID_RECORD, whether or not the request names a transactional id', async () => {
  const { b, c } = await setup();
  try {
    const idem = await initProducer(c, null);
    const other = await initProducer(c, null);
    // Without a transactional id: a plain first batch hides a transactional second one.
    let answers = await produce(c, null, [{ index: 0, records: Buffer.concat([batch(idem, 0, ['a'], false), batch(other, 0, ['hidden'], true)]) }]);
    assert.deepEqual(answers.map((a: any) => a.errorCode), [E.INVALID_RECORD]);
    assert.deepEqual(await offsets(c, 0), { lso: 0, hw: 0 });

    // With a transactional id: the first batch is the producer's and verified; the second belongs
    // to another producer id that no coordinator knows, so its transaction would never end.
    const txn = await initProducer(c, 'tx-hidden');
    const added = await c.request(ApiKey.AddPartitionsToTxn, 3, {
      v3AndBelowTransactionalId: 'tx-hidden',
      v3AndBelowProducerId: BigInt(txn.producerId),
      v3AndBelowProducerEpoch: txn.epoch,
      v3AndBelowTopics: [{ name: 't', partitions: [1] }],
    });
    assert.equal(added.resultsByTopicV3AndBelow[0].resultsByPartition[0].partitionErrorCode, E.NONE);
    answers = await produce(c, 'tx-hidden', [{ index: 1, records: Buffer.concat([batch(txn, 0, ['mine'], true), batch(other, 0, ['theirs'], true)]) }]);
    assert.deepEqual(answers.map((a: any) => a.errorCode), [E.INVALID_RECORD]);
    // The transaction itself goes on with one batch per partition and ends; nothing stays open.
    answers = await produce(c, 'tx-hidden', [{ index: 1, records: batch(txn, 0, ['mine'], true) }]);
    assert.deepEqual(answers.map((a: any) => a.errorCode), [E.NONE]);
    const ended = await c.request(ApiKey.EndTxn, 3, { transactionalId: 'tx-hidden', producerId: BigInt(txn.producerId), producerEpoch: txn.epoch, committed: true });
    assert.equal(ended.errorCode, E.NONE);
    assert.deepEqual(await offsets(c, 1), { lso: 2, hw: 2 }, 'one batch and its commit marker, and the LSO is not pinned');

    // Several plain batches in one partition stay accepted: Strait has always taken them, and they
    // open no transaction.
    answers = await produce(c, null, [{ index: 0, records: Buffer.concat([batch(idem, 0, ['p1'], false), batch(idem, 1, ['p2'], false)]) }]);
    assert.deepEqual(answers.map((a: any) => a.errorCode), [E.NONE]);
    assert.deepEqual(await offsets(c, 0), { lso: 2, hw: 2 });
  } finally {
    c.close();
    await b.stop();
  }
});
