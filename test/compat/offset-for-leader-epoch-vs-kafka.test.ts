// OffsetForLeaderEpoch compared with Apache Kafka 4.3.1 for the same epoch sequence: a single-node
// Kafka whose partition leader epoch rises with each restart holds batches in several epochs; Strait
// gets the same batches byte for byte (as a mirror does) and must answer every requested epoch as
// Kafka does, before and after the log start moves into a later epoch (DeleteRecords).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startKafkaNode } from '../link/kafka-node.ts';
import { startTestBroker } from '../helpers/broker.ts';
import { RawClient } from '../helpers/raw-client.ts';
import { ApiKey } from '../../src/protocol/generated/api-table.ts';
import { buildBatch, batchPartitionLeaderEpoch, batchSizeAt, RECORD_BATCH_OVERHEAD } from '../../src/protocol/records/index.ts';

const topic = 'epochs-vs-kafka';

async function withClient<T>(port: number, fn: (c: RawClient) => Promise<T>): Promise<T> {
  const c = await RawClient.connect(port);
  try {
    return await fn(c);
  } finally {
    c.close();
  }
}

const createTopic = (port: number) => withClient(port, (c) => c.request(ApiKey.CreateTopics, 7, { topics: [{ name: topic, numPartitions: 1, replicationFactor: 1 }], timeoutMs: 10_000 }));

async function produce(port: number, values: string[]): Promise<number> {
  for (let attempt = 0; ; attempt++) {
    const r = await withClient(port, (c) =>
      c.request(ApiKey.Produce, 9, { transactionalId: null, acks: -1, timeoutMs: 10_000, topicData: [{ name: topic, partitionData: [{ index: 0, records: buildBatch({ records: values.map((value) => ({ value })) }) }] }] }),
    );
    const p = r.responses[0].partitionResponses[0];
    if (p.errorCode === 0) return Number(p.baseOffset);
    // Right after a restart the partition may still be without a leader.
    if (attempt > 100) throw new Error(`produce failed with error ${p.errorCode}`);
    await new Promise((res) => setTimeout(res, 200));
  }
}

async function fetchAll(port: number): Promise<Buffer> {
  const r = await withClient(port, (c) =>
    c.request(ApiKey.Fetch, 12, { maxWaitMs: 0, isolationLevel: 0, sessionEpoch: -1, topics: [{ topic, partitions: [{ partition: 0, fetchOffset: 0n, partitionMaxBytes: 1 << 20, currentLeaderEpoch: -1 }] }] }),
  );
  return Buffer.from(r.responses[0].partitions[0].records);
}

async function ask(port: number, epochs: number[]): Promise<[number, number, number][]> {
  const r = await withClient(port, (c) =>
    c.request(ApiKey.OffsetForLeaderEpoch, 4, { replicaId: -1, topics: [{ topic, partitions: epochs.map((leaderEpoch) => ({ partition: 0, currentLeaderEpoch: -1, leaderEpoch })) }] }),
  );
  return r.topics[0].partitions.map((p: any) => [p.leaderEpoch, Number(p.endOffset), p.errorCode]);
}

const deleteRecords = (port: number, offset: number) =>
  withClient(port, (c) => c.request(ApiKey.DeleteRecords, 2, { topics: [{ name: topic, partitions: [{ partitionIndex: 0, offset: BigInt(offset) }] }], timeoutMs: 10_000 }));

test('OffsetForLeaderEpoch answers as Apache Kafka 4.3.1 does for the same epochs, also after the log start moves', { timeout: 300_000 }, async (t) => {
  const kafka = await startKafkaNode();
  let strait: Awaited<ReturnType<typeof startTestBroker>> | null = null;
  try {
    await createTopic(kafka.port);
    // Three rounds of writes, a restart (a new leader epoch) between rounds.
    let next = 0;
    for (let round = 0; round < 3; round++) {
      if (round > 0) {
        await kafka.stop();
        await kafka.start();
      }
      for (let i = 0; i < 2; i++) next = (await produce(kafka.port, [`r${round}-${i}-a`, `r${round}-${i}-b`])) + 2;
    }
    const batches = await fetchAll(kafka.port);
    const epochs: number[] = [];
    for (let pos = 0; pos + RECORD_BATCH_OVERHEAD <= batches.length; pos += batchSizeAt(batches, pos)) epochs.push(batchPartitionLeaderEpoch(batches, pos));
    assert.equal(epochs.length, 6);
    assert.ok(new Set(epochs).size >= 3, `each restart gave a new leader epoch (batch epochs ${epochs})`);
    const maxEpoch = Math.max(...epochs);
    const requested = Array.from({ length: maxEpoch + 3 }, (_, i) => i - 1);

    strait = await startTestBroker();
    await createTopic(strait.port);
    const topicId = (await withClient(strait.port, (c) => c.request(ApiKey.Metadata, 12, { topics: [{ name: topic }] }))).topics[0].topicId;
    const log = strait.broker.logs!.get(topicId, 0)!;
    assert.equal((await log.appendAtOffsets(batches, Date.now())).errorCode, 0);
    assert.equal(log.highWatermark, next);

    const kafkaAnswers = await ask(kafka.port, requested);
    assert.ok(kafkaAnswers.some(([e, off]) => e >= 0 && off > 0 && off < next), `Kafka ends an earlier epoch inside the log: ${JSON.stringify(kafkaAnswers)}`);
    assert.deepEqual(await ask(strait.port, requested), kafkaAnswers, `epochs ${requested}`);

    // The log start moves into the middle of the second epoch's data on both.
    const secondEpochStart = epochs.indexOf(epochs[2]!) * 2;
    const cut = secondEpochStart + 1;
    await deleteRecords(kafka.port, cut);
    await deleteRecords(strait.port, cut);
    assert.equal(log.logStartOffset, cut);
    const kafkaAfter = await ask(kafka.port, requested);
    assert.notDeepEqual(kafkaAfter, kafkaAnswers, 'moving the log start changed Kafka\'s answers');
    assert.deepEqual(await ask(strait.port, requested), kafkaAfter, `after DeleteRecords to ${cut}`);
    t.diagnostic(`batch epochs ${epochs}; requested ${requested}; Kafka ${JSON.stringify(kafkaAnswers)}; after DeleteRecords to ${cut} ${JSON.stringify(kafkaAfter)}`);
  } finally {
    await strait?.stop();
    await kafka.destroy();
  }
});
