// Transactions of Strait's own coordinator and mirror topics, against a real Apache Kafka 4.3.1
// source (issue #11, defect 3). A mirror's offsets are the source's: a local transactional producer
// that added a mirror partition to its transaction and ended it would write a COMMIT marker into the
// mirror, which then no longer matches its source and stalls. Strait refuses such partitions in
// AddPartitionsToTxn (POLICY_VIOLATION, the error its Produce gives a mirror) and in transactional
// Produce, and its coordinator writes no marker into a mirror, also for a transaction decided
// before a restart. Transactional ids forwarded to the source are not affected (txn-forwarding
// test in test/link).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { startApacheKafka, type KafkaHandle } from './harness.ts';
import { startTestBroker, type TestBroker } from '../helpers/broker.ts';
import { RawClient } from '../helpers/raw-client.ts';
import { KafkaClient, ApiKey as LinkApiKey } from '../../src/link/client/index.ts';
import { ApiKey } from '../../src/protocol/generated/api-table.ts';
import { ErrorCode } from '../../src/protocol/generated/errors.ts';
import { buildBatch, readBatches } from '../../src/protocol/records/index.ts';
import { SqliteMetadataStore } from '../../src/metadata/index.ts';

const E = ErrorCode;
let kafka: KafkaHandle;
let strait: TestBroker;
let source: KafkaClient;

before(async () => {
  [kafka, strait] = await Promise.all([startApacheKafka({ config: { 'auto.create.topics.enable': 'false' } }), startTestBroker({ 'upload.interval.ms': '200' })]);
  source = new KafkaClient({ bootstrap: kafka.bootstrap });
  const { response } = await source.sendRequest<any>('controller', LinkApiKey.CreateTopics, () => ({
    topics: [{ name: 'm', numPartitions: 1, replicationFactor: 1, assignments: [], configs: [] }],
    timeoutMs: 30_000,
    validateOnly: false,
  }));
  assert.equal(response.topics[0].errorCode, E.NONE);
  await source.metadata({ topics: ['m'] });
  await produceAtSource(['s0', 's1', 's2']);
  // With write forwarding, so a mirror partition has a forwarder, and with one forwarded id pattern.
  const d = await strait.broker.links!.create({ name: 'l', bootstrap: kafka.bootstrap, topics: { include: ['m'], exclude: [] }, writeForwarding: true, forwardTransactionalIds: ['fwd-.*'], metadataSyncIntervalMs: 300, groupSyncIntervalMs: 300 });
  assert.equal(d.state, 'active');
  await waitMirrored();
});

after(async () => {
  await source?.close();
  await strait?.stop();
  await kafka?.stop();
});

async function produceAtSource(values: string[]): Promise<void> {
  const out = await source.produce([{ topic: 'm', partition: 0, records: buildBatch({ records: values.map((v) => ({ value: v })) }) }], { acks: -1 });
  assert.equal(out[0]!.error, null, String(out[0]!.error));
}

async function sourceEnd(): Promise<number> {
  return (await source.listOffsets([{ topic: 'm', partition: 0, spec: 'latest' }]))[0]!.offset;
}

/** Waits until the mirror has the source's end offset, and returns it. */
async function waitMirrored(timeoutMs = 30_000): Promise<number> {
  const end = await sourceEnd();
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const d = await strait.broker.links!.describe('l');
    const p = d.mirrors.find((x) => x.topic === 'm')?.partitions[0];
    if (p?.mirroredEndOffset === end) return end;
    if (Date.now() > deadline) assert.fail(`mirror did not follow its source to ${end}: ${JSON.stringify(d.mirrors)}`);
    await sleep(100);
  }
}

/** Offsets and values of every batch of a partition, as read_uncommitted sees them (markers as <marker>). */
async function readAll(c: RawClient, topic: string): Promise<{ hw: number; entries: string[] }> {
  const r = await c.request(ApiKey.Fetch, 12, {
    maxWaitMs: 0,
    isolationLevel: 0,
    sessionEpoch: -1,
    topics: [{ topic, partitions: [{ partition: 0, fetchOffset: 0n, partitionMaxBytes: 1 << 20, currentLeaderEpoch: -1 }] }],
  });
  const p = r.responses[0].partitions[0];
  assert.equal(p.errorCode, E.NONE);
  const entries = [...readBatches(Buffer.from(p.records ?? Buffer.alloc(0)))].flatMap((d) => (d.isControl ? [`${d.header.baseOffset}:<marker>`] : d.records.map((x) => `${d.header.baseOffset + x.offsetDelta}:${x.value}`)));
  return { hw: Number(p.highWatermark), entries };
}

async function init(c: RawClient, transactionalId: string) {
  const r = await c.request(ApiKey.InitProducerId, 4, { transactionalId, transactionTimeoutMs: 60_000, producerId: -1n, producerEpoch: -1 });
  assert.equal(r.errorCode, E.NONE);
  return { producerId: Number(r.producerId), epoch: r.producerEpoch as number };
}

async function addPartitions(c: RawClient, transactionalId: string, p: { producerId: number; epoch: number }, topics: Record<string, number[]>, version = 3): Promise<Record<string, number[]>> {
  const list = Object.entries(topics).map(([name, partitions]) => ({ name, partitions }));
  const r =
    version < 4
      ? await c.request(ApiKey.AddPartitionsToTxn, version, { v3AndBelowTransactionalId: transactionalId, v3AndBelowProducerId: BigInt(p.producerId), v3AndBelowProducerEpoch: p.epoch, v3AndBelowTopics: list })
      : await c.request(ApiKey.AddPartitionsToTxn, version, { transactions: [{ transactionalId, producerId: BigInt(p.producerId), producerEpoch: p.epoch, verifyOnly: false, topics: list }] });
  const results = version < 4 ? r.resultsByTopicV3AndBelow : r.resultsByTransaction[0].topicResults;
  return Object.fromEntries(results.map((t: any) => [t.name, t.resultsByPartition.map((x: any) => x.partitionErrorCode)]));
}

async function produceTxn(c: RawClient, transactionalId: string, p: { producerId: number; epoch: number }, topic: string, seq: number, values: string[]) {
  const records = buildBatch({ producerId: p.producerId, producerEpoch: p.epoch, baseSequence: seq, isTransactional: true, records: values.map((v) => ({ value: v })) });
  const r = await c.request(ApiKey.Produce, 9, { acks: -1, timeoutMs: 5000, transactionalId, topicData: [{ name: topic, partitionData: [{ index: 0, records }] }] });
  return r.responses[0].partitionResponses[0] as { errorCode: number; errorMessage: string | null };
}

test('a local transaction cannot take in a mirror partition nor end with a marker in it: the mirror stays equal to its source', async () => {
  const c = await RawClient.connect(strait.port);
  try {
    const created = await c.request(ApiKey.CreateTopics, 7, { topics: [{ name: 'local', numPartitions: 1, replicationFactor: 1 }], timeoutMs: 1000 });
    assert.equal(created.topics[0].errorCode, E.NONE);
    const before = await readAll(c, 'm');
    assert.equal(before.hw, 3);

    const p = await init(c, 'local-tx');
    // The mirror partition is refused; the other partition of the request is not attempted, as for
    // an unknown partition (Kafka's clients then abort the transaction, an abortable error).
    assert.deepEqual(await addPartitions(c, 'local-tx', p, { m: [0], local: [0] }), { m: [E.POLICY_VIOLATION], local: [E.OPERATION_NOT_ATTEMPTED] });
    assert.deepEqual(await addPartitions(c, 'local-tx', p, { m: [0] }, 4), { m: [E.POLICY_VIOLATION] }, 'AddPartitionsToTxn v4+ too');
    const described = await c.request(ApiKey.DescribeTransactions, 0, { transactionalIds: ['local-tx'] });
    assert.equal(described.transactionStates[0].transactionState, 'Empty', 'no transaction began');

    // A transaction on the local topic goes on; its Produce to the mirror is refused with the reason.
    assert.deepEqual(await addPartitions(c, 'local-tx', p, { local: [0] }), { local: [E.NONE] });
    const refused = await produceTxn(c, 'local-tx', p, 'm', 0, ['no']);
    assert.equal(refused.errorCode, E.POLICY_VIOLATION);
    assert.match(String(refused.errorMessage), /mirror/);
    assert.equal((await produceTxn(c, 'local-tx', p, 'local', 0, ['yes'])).errorCode, E.NONE);
    const ended = await c.request(ApiKey.EndTxn, 3, { transactionalId: 'local-tx', producerId: BigInt(p.producerId), producerEpoch: p.epoch, committed: true });
    assert.equal(ended.errorCode, E.NONE);
    assert.deepEqual((await readAll(c, 'local')).entries, ['0:yes', '1:<marker>']);

    // The mirror holds the source's records only, and keeps following it.
    assert.deepEqual((await readAll(c, 'm')).entries, before.entries);
    await produceAtSource(['s3', 's4']);
    assert.equal(await waitMirrored(), 5);
    assert.deepEqual((await readAll(c, 'm')).entries, ['0:s0', '1:s1', '2:s2', '3:s3', '4:s4']);
  } finally {
    c.close();
  }
});

test('a transaction decided before a restart writes no marker into a partition that is a mirror: it completes, and the mirror goes on following its source', async () => {
  // A transaction of an older Strait (or one that raced the creation of a mirror partition) may hold
  // a mirror partition; its recovery must neither write into the mirror nor retry for ever.
  const c = await RawClient.connect(strait.port);
  const p = await init(c, 'old-tx');
  c.close();
  await strait.broker.stop();
  const store = new SqliteMetadataStore(join(strait.dataDir, 'metadata.sqlite'));
  await store.open();
  const rec = (await store.transactions()).find((t) => t.transactionalId === 'old-tx')!;
  assert.equal(rec.producerId, p.producerId);
  await store.saveTransaction({ ...rec, state: 'PrepareCommit', partitions: [{ topic: 'm', partition: 0 }], startTimestampMs: Date.now(), lastUpdateTimestampMs: Date.now() });
  await store.close();
  await strait.broker.start();
  strait.port = strait.broker.bound[0]!.port;
  const c2 = await RawClient.connect(strait.port);
  try {
    const deadline = Date.now() + 10_000;
    let state = '';
    while (Date.now() < deadline) {
      state = (await c2.request(ApiKey.DescribeTransactions, 0, { transactionalIds: ['old-tx'] })).transactionStates[0].transactionState;
      if (state === 'CompleteCommit') break;
      await sleep(100);
    }
    assert.equal(state, 'CompleteCommit');
    const end = await sourceEnd();
    assert.deepEqual((await readAll(c2, 'm')).entries.map((e) => e.split(':')[1]), ['s0', 's1', 's2', 's3', 's4'].slice(0, end), 'no marker in the mirror');
    await produceAtSource(['s5']);
    assert.equal(await waitMirrored(), end + 1);
    assert.equal((await readAll(c2, 'm')).entries.at(-1), `${end}:s5`);
  } finally {
    c2.close();
  }
});
