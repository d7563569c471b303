// Idempotent producers: duplicates answered with their original offsets, sequence gaps and old
// epochs refused, and the state surviving restarts (from the WAL and from upload snapshots).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startTestBroker } from '../helpers/broker.ts';
import { RawClient } from '../helpers/raw-client.ts';
import { ApiKey } from '../../src/protocol/generated/api-table.ts';
import { ErrorCode } from '../../src/protocol/generated/errors.ts';
import { buildBatch } from '../../src/protocol/records/index.ts';

const SETTINGS = { 'upload.interval.ms': '100000' };

function idem(producerId: number, producerEpoch: number, baseSequence: number, n = 1) {
  return buildBatch({ producerId, producerEpoch, baseSequence, records: Array.from({ length: n }, (_, i) => ({ key: `k${i}`, value: `s${baseSequence + i}` })) });
}

async function produce(c: RawClient, records: Buffer) {
  const r = await c.request(ApiKey.Produce, 9, { acks: -1, timeoutMs: 5000, topicData: [{ name: 'idem', partitionData: [{ index: 0, records }] }] });
  const p = r.responses[0].partitionResponses[0];
  return { errorCode: p.errorCode as number, baseOffset: Number(p.baseOffset) };
}

async function hw(c: RawClient) {
  const r = await c.request(ApiKey.ListOffsets, 7, { replicaId: -1, topics: [{ name: 'idem', partitions: [{ partitionIndex: 0, timestamp: -1n }] }] });
  return Number(r.topics[0].partitions[0].offset);
}

test('duplicates, gaps and epochs follow Kafka rules, and survive restarts', async () => {
  const b = await startTestBroker(SETTINGS);
  let c = await RawClient.connect(b.port);
  await c.request(ApiKey.CreateTopics, 7, { topics: [{ name: 'idem', numPartitions: 1, replicationFactor: 1 }], timeoutMs: 1000 });
  const init = await c.request(ApiKey.InitProducerId, 4, { transactionalId: null, transactionTimeoutMs: 60000, producerId: -1n, producerEpoch: -1 });
  const pid = Number(init.producerId);
  assert.deepEqual(await produce(c, idem(pid, 0, 0, 3)), { errorCode: 0, baseOffset: 0 });
  assert.deepEqual(await produce(c, idem(pid, 0, 3, 2)), { errorCode: 0, baseOffset: 3 });
  assert.deepEqual(await produce(c, idem(pid, 0, 3, 2)), { errorCode: 0, baseOffset: 3 }, 'a retry gets its original offset');
  assert.deepEqual(await produce(c, idem(pid, 0, 0, 3)), { errorCode: 0, baseOffset: 0 }, 'so does an older retry among the last five');
  assert.equal(await hw(c), 5, 'duplicates append nothing');
  assert.equal((await produce(c, idem(pid, 0, 9))).errorCode, ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER);
  assert.equal((await produce(c, idem(pid, 1, 4))).errorCode, ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER, 'a new epoch starts at 0');
  assert.deepEqual(await produce(c, idem(pid, 1, 0)), { errorCode: 0, baseOffset: 5 });
  assert.equal((await produce(c, idem(pid, 0, 5))).errorCode, ErrorCode.INVALID_PRODUCER_EPOCH);
  assert.deepEqual(await produce(c, idem(pid + 1, 0, 42)), { errorCode: 0, baseOffset: 6 }, 'an unknown producer may start at any sequence');

  // Restart from the WAL alone (nothing uploaded yet).
  c.close();
  await b.stop({ keepData: true });
  const b2 = await startTestBroker({ ...SETTINGS, 'data.dir': b.dataDir });
  c = await RawClient.connect(b2.port);
  assert.deepEqual(await produce(c, idem(pid, 1, 0)), { errorCode: 0, baseOffset: 5 }, 'duplicate recognised after WAL replay');
  assert.equal((await produce(c, idem(pid, 1, 2))).errorCode, ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER);
  assert.deepEqual(await produce(c, idem(pid, 1, 1)), { errorCode: 0, baseOffset: 7 });

  // Upload everything (the producer state goes into the snapshot), then restart again.
  await b2.broker.uploader!.flush();
  c.close();
  await b2.stop({ keepData: true });
  const b3 = await startTestBroker({ ...SETTINGS, 'data.dir': b.dataDir });
  c = await RawClient.connect(b3.port);
  assert.deepEqual(await produce(c, idem(pid, 1, 1)), { errorCode: 0, baseOffset: 7 }, 'duplicate recognised from the upload snapshot');
  assert.equal((await produce(c, idem(pid, 0, 6))).errorCode, ErrorCode.INVALID_PRODUCER_EPOCH);
  assert.deepEqual(await produce(c, idem(pid, 1, 2)), { errorCode: 0, baseOffset: 8 });
  assert.equal(await hw(c), 9);
  c.close();
  await b3.stop();
});

test('pipelined batches of one producer are checked against each other before they are durable', async () => {
  const b = await startTestBroker(SETTINGS);
  const c = await RawClient.connect(b.port);
  await c.request(ApiKey.CreateTopics, 7, { topics: [{ name: 'idem', numPartitions: 1, replicationFactor: 1 }], timeoutMs: 1000 });
  const results = await Promise.all([0, 1, 2, 3, 4].map((i) => produce(c, idem(7, 0, i * 2, 2))));
  assert.deepEqual(results.map((r) => [r.errorCode, r.baseOffset]), [[0, 0], [0, 2], [0, 4], [0, 6], [0, 8]]);
  // A retry of an in-flight batch waits for the original and gets its offset.
  const [a, dup] = await Promise.all([produce(c, idem(7, 0, 10)), produce(c, idem(7, 0, 10))]);
  assert.deepEqual([a, dup], [{ errorCode: 0, baseOffset: 10 }, { errorCode: 0, baseOffset: 10 }]);
  assert.equal(await hw(c), 11);
  c.close();
  await b.stop();
});
