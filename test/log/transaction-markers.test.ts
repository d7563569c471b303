// The log side of transactions: open transactions hold back the last stable offset, markers close
// them, and read_committed fetches stop at the LSO and list aborted transactions.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startTestBroker } from '../helpers/broker.ts';
import { RawClient } from '../helpers/raw-client.ts';
import { ApiKey } from '../../src/protocol/generated/api-table.ts';
import { buildBatch, readBatches } from '../../src/protocol/records/index.ts';

function txn(producerId: number, baseSequence: number, values: string[]) {
  return buildBatch({ producerId, producerEpoch: 0, baseSequence, isTransactional: true, records: values.map((v) => ({ key: v, value: v })) });
}

test('last stable offset, markers, read_committed fetch and aborted transactions, across a restart', async () => {
  const b = await startTestBroker({ 'upload.interval.ms': '100000' });
  let c = await RawClient.connect(b.port);
  await c.request(ApiKey.CreateTopics, 7, { topics: [{ name: 'tx', numPartitions: 1, replicationFactor: 1 }], timeoutMs: 1000 });
  // Straight into the log: Produce refuses transactional batches without a transactional id (as
  // Kafka does), and this test is about what the log makes of them, with no coordinator involved.
  const produce = async (records: Buffer) => {
    const log = b.broker.logs!.get(b.broker.logs!.all().next().value!.topicId, 0)!;
    return (await log.append(records, Date.now())).baseOffset;
  };
  const fetch = async (isolationLevel: number) => {
    const r = await c.request(ApiKey.Fetch, 12, {
      maxWaitMs: 0,
      isolationLevel,
      sessionEpoch: -1,
      topics: [{ topic: 'tx', partitions: [{ partition: 0, fetchOffset: 0n, partitionMaxBytes: 1 << 20, currentLeaderEpoch: -1 }] }],
    });
    const p = r.responses[0].partitions[0];
    const values = [...readBatches(Buffer.from(p.records))].flatMap((d) => (d.isControl ? [`<${d.records[0] ? 'marker' : ''}>`] : d.records.map((x) => x.value!.toString())));
    return { lso: Number(p.lastStableOffset), hw: Number(p.highWatermark), values, aborted: p.abortedTransactions?.map((a: any) => [Number(a.producerId), Number(a.firstOffset)]) ?? null };
  };
  const latest = async (isolationLevel: number) =>
    Number((await c.request(ApiKey.ListOffsets, 7, { replicaId: -1, isolationLevel, topics: [{ name: 'tx', partitions: [{ partitionIndex: 0, timestamp: -1n }] }] })).topics[0].partitions[0].offset);

  assert.equal(await produce(buildBatch({ records: [{ value: 'plain' }] })), 0);
  assert.equal(await produce(txn(100, 0, ['a1', 'a2'])), 1); // producer 100 opens a transaction at 1
  assert.equal(await produce(txn(200, 0, ['b1'])), 3); // producer 200 opens one at 3
  let f = await fetch(1);
  assert.deepEqual([f.lso, f.hw], [1, 4]);
  assert.deepEqual(f.values, ['plain'], 'read_committed stops at the first open transaction');
  assert.deepEqual(await Promise.all([latest(1), latest(0)]), [1, 4]);
  assert.deepEqual((await fetch(0)).values, ['plain', 'a1', 'a2', 'b1'], 'read_uncommitted sees everything');

  const log = b.broker.logs!.get(b.broker.logs!.all().next().value!.topicId, 0)!;
  assert.equal((await log.appendMarker(100, 0, 0, false, Date.now())).baseOffset, 4); // abort producer 100
  f = await fetch(1);
  assert.equal(f.lso, 3, 'producer 200 still holds the LSO');
  assert.deepEqual(f.aborted, [[100, 1]]);
  await log.appendMarker(200, 0, 0, true, Date.now()); // commit producer 200
  f = await fetch(1);
  assert.deepEqual([f.lso, f.hw], [6, 6]);
  assert.deepEqual(f.values, ['plain', 'a1', 'a2', 'b1', '<marker>', '<marker>']);
  assert.deepEqual(f.aborted, [[100, 1]]);

  // After a restart (WAL replay) and after an upload and restart (snapshot), the same answers.
  for (const upload of [false, true]) {
    if (upload) await b.broker.uploader!.flush();
    c.close();
    await b.broker.stop();
    await b.broker.start();
    c = await RawClient.connect(b.broker.bound[0]!.port);
    f = await fetch(1);
    assert.deepEqual([f.lso, f.hw, f.aborted], [6, 6, [[100, 1]]], upload ? 'after upload' : 'after WAL replay');
  }
  assert.equal(await produce(txn(300, 0, ['c1'])), 6);
  assert.equal((await fetch(1)).lso, 6);
  c.close();
  await b.stop();
});
