// Transactional batches that no coordinator checked, sent as raw Produce requests to Apache Kafka
// 4.3.1 and to Strait (issue #11, defect 4): both refuse them with the same codes, and nothing
// of them is appended. Kafka's answers are checked too, so the comparison cannot pass on a broken
// request.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startApacheKafka, type KafkaHandle } from './harness.ts';
import { startTestBroker, type TestBroker } from '../helpers/broker.ts';
import { RawClient } from '../helpers/raw-client.ts';
import { ApiKey } from '../../src/protocol/generated/api-table.ts';
import { ErrorCode } from '../../src/protocol/generated/errors.ts';
import { buildBatch } from '../../src/protocol/records/index.ts';

const E = ErrorCode;
let kafka: KafkaHandle;
let strait: TestBroker;

before(async () => {
  [kafka, strait] = await Promise.all([startApacheKafka(), startTestBroker()]);
});

after(async () => {
  await strait?.stop();
  await kafka?.stop();
});

async function answers(port: number) {
  const c = await RawClient.connect(port);
  try {
    const created = await c.request(ApiKey.CreateTopics, 7, { topics: [{ name: 't', numPartitions: 2, replicationFactor: 1, assignments: [], configs: [] }], timeoutMs: 10_000, validateOnly: false });
    assert.equal(created.topics[0].errorCode, E.NONE);
    const init = async (transactionalId: string | null) => {
      for (let i = 0; ; i++) {
        if (transactionalId !== null) await c.request(ApiKey.FindCoordinator, 4, { keyType: 1, coordinatorKeys: [transactionalId] });
        const r = await c.request(ApiKey.InitProducerId, 4, { transactionalId, transactionTimeoutMs: 60_000, producerId: -1n, producerEpoch: -1 });
        // Kafka answers retriable errors while its transaction log is being created.
        if (r.errorCode === E.NONE) return { producerId: Number(r.producerId), epoch: r.producerEpoch as number };
        if (i > 50) assert.fail(`InitProducerId: ${r.errorCode}`);
        await new Promise((res) => setTimeout(res, 200));
      }
    };
    const batch = (p: { producerId: number; epoch: number }, values: string[], isTransactional: boolean) =>
      buildBatch({ producerId: p.producerId, producerEpoch: p.epoch, baseSequence: 0, isTransactional, records: values.map((v) => ({ value: v })) });
    const produce = async (transactionalId: string | null, parts: { index: number; records: Buffer }[]) => {
      const r = await c.request(ApiKey.Produce, 9, { acks: -1, timeoutMs: 5000, transactionalId, topicData: [{ name: 't', partitionData: parts }] });
      return r.responses[0].partitionResponses.map((p: any) => p.errorCode).join(',');
    };
    const idem = await init(null);
    const other = await init(null);
    const noId = await produce(null, [
      { index: 0, records: batch(idem, ['plain'], false) },
      { index: 1, records: batch(idem, ['txn'], true) },
    ]);
    const hidden = await produce(null, [{ index: 0, records: Buffer.concat([batch(idem, ['plain'], false), batch(other, ['txn'], true)]) }]);
    const txn = await init('tx');
    const add = await c.request(ApiKey.AddPartitionsToTxn, 3, { v3AndBelowTransactionalId: 'tx', v3AndBelowProducerId: BigInt(txn.producerId), v3AndBelowProducerEpoch: txn.epoch, v3AndBelowTopics: [{ name: 't', partitions: [1] }] });
    assert.equal(add.resultsByTopicV3AndBelow[0].resultsByPartition[0].partitionErrorCode, E.NONE);
    const twoInTxn = await produce('tx', [{ index: 1, records: Buffer.concat([batch(txn, ['mine'], true), batch(other, ['theirs'], true)]) }]);
    const ends = await c.request(ApiKey.ListOffsets, 7, { replicaId: -1, isolationLevel: 0, topics: [{ name: 't', partitions: [0, 1].map((partitionIndex) => ({ partitionIndex, timestamp: -1n })) }] });
    return { noId, hidden, twoInTxn, ends: ends.topics[0].partitions.map((p: any) => Number(p.offset)) };
  } finally {
    c.close();
  }
}

test('transactional batches without a transactional id, or sharing a partition with another batch: Strait answers as Kafka 4.3.1 and appends nothing', async () => {
  const onKafka = await answers(kafka.port);
  assert.deepEqual(onKafka, {
    noId: `${E.TRANSACTIONAL_ID_AUTHORIZATION_FAILED},${E.TRANSACTIONAL_ID_AUTHORIZATION_FAILED}`,
    hidden: `${E.INVALID_RECORD}`,
    twoInTxn: `${E.INVALID_RECORD}`,
    ends: [0, 0],
  });
  assert.deepEqual(await answers(strait.port), onKafka);
});
